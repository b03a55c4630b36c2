"""Other array backends through the same plans: dask on a local cluster."""
import numpy as np
import pytest

import einsumgrad as eg

J = eg.jacobian("ij,j->i", wrt=0, names="W,x")


@pytest.mark.slow
def test_dask_backend_on_a_local_cluster():
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("dask.distributed")
    X, w, W, x = eg.tensor("X", 2), eg.tensor("w", 1), eg.tensor("W", 2), eg.tensor("x", 1)
    H = eg.hessian(eg.sum(eg.log(1 + eg.exp(X @ w))), w)
    g = eg.grad(eg.sum(eg.tanh(W @ x)), W)
    rng = np.random.default_rng(3)
    X0, w0, W0, x0 = rng.standard_normal((4000, 6)), rng.standard_normal(6), rng.standard_normal((5, 4)), \
        rng.standard_normal(4)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=":0") as cluster, distributed.Client(cluster):
        lazy = eg.compile(H, backend="dask")(X=da.from_array(X0, chunks=(500, 6)), w=w0)
        assert isinstance(lazy, da.Array)
        np.testing.assert_allclose(lazy.compute(), eg.evaluate(H, X=X0, w=w0))
        lazy = eg.compile(g, backend="dask")(W=da.from_array(W0, chunks=(2, 2)), x=da.from_array(x0, chunks=2))
        np.testing.assert_allclose(lazy.compute(), eg.evaluate(g, W=W0, x=x0))
        dense = eg.compile(J.expression(W0, x0), backend="dask")(W=W0, x=da.from_array(x0, chunks=2))
        np.testing.assert_array_equal(dense.compute(), J(W0, x0))
