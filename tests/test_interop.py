"""eg.compile with backend="jax" traces under jit, vmap and grad; backend="torch" keeps tensors
(and their device); the NumPy backend never silently converts another library's arrays."""
import importlib.util

import numpy as np
import pytest

import einsumgrad as eg
from closed_forms import CASES, arrays_for


def tanh_layer():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    L = eg.sum(eg.tanh(W @ x))
    return W, x, L


@pytest.mark.slow
def test_jax_backend_under_jit_vmap_and_grad(rng):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    W, x, L = tanh_layer()
    W0, x0 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    f = eg.compile(L, eg.grad(L, W), backend="jax")
    value, grad = jax.jit(f)(W=jnp.asarray(W0), x=jnp.asarray(x0))
    np.testing.assert_allclose(np.asarray(grad), eg.evaluate(eg.grad(L, W), W=W0, x=x0), rtol=1e-12)
    loss = eg.compile(L, backend="jax")
    np.testing.assert_allclose(np.asarray(jax.grad(lambda w: loss(W=w, x=jnp.asarray(x0)))(jnp.asarray(W0))),
                               np.asarray(grad), rtol=1e-12)
    batch = rng.standard_normal((5, 3))
    values = jax.vmap(lambda v: loss(W=jnp.asarray(W0), x=v))(jnp.asarray(batch))
    np.testing.assert_allclose(np.asarray(values), np.tanh(batch @ W0.T).sum(axis=1), rtol=1e-12)
    J = eg.compile(eg.jacobian(W @ x, W), backend="jax")
    np.testing.assert_allclose(np.asarray(jax.jit(J)(W=jnp.asarray(W0), x=jnp.asarray(x0))),
                               np.einsum("ij,k->ijk", np.eye(4), x0))


def test_torch_backend_keeps_tensors_and_works_under_no_grad(rng):
    torch = pytest.importorskip("torch")
    W, x, L = tanh_layer()
    W0, x0 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    f = eg.compile(eg.grad(L, W), eg.hessian(L, x), backend="torch")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.no_grad():
        grad, hess = f(W=torch.tensor(W0, device=device), x=torch.tensor(x0, device=device))
    assert isinstance(grad, torch.Tensor) and grad.device.type == device and hess.device.type == device
    np.testing.assert_allclose(grad.cpu().numpy(), eg.evaluate(eg.grad(L, W), W=W0, x=x0), rtol=1e-12)
    np.testing.assert_allclose(hess.cpu().numpy(), eg.evaluate(eg.hessian(L, x), W=W0, x=x0), rtol=1e-12)
    assert "backend='torch'" in repr(f)


@pytest.mark.parametrize("library,make", [
    ("jax", lambda a: __import__("jax").numpy.asarray(a)),
    ("torch", lambda a: __import__("torch").from_numpy(a)),
])
def test_numpy_backend_refuses_other_arrays(library, make, rng):
    pytest.importorskip(library)
    W, x, L = tanh_layer()
    W0 = make(rng.standard_normal((2, 3)))
    with pytest.raises(eg.EinsumgradError, match=f"array 'W' is a {library} array; pass backend='{library}'"):
        eg.compile(L)(W=W0, x=rng.standard_normal(3))
    with pytest.raises(eg.EinsumgradError, match=f"array 'W' is a {library} array; eg.evaluate computes with NumPy"
                                                 f".*eg.compile\\(expr, backend='{library}'\\)"):  # evaluate takes none
        eg.evaluate(L, W=W0, x=rng.standard_normal(3))


@pytest.mark.slow
@pytest.mark.parametrize("case", [build for _, build in CASES], ids=[name for name, _ in CASES])
def test_every_closed_form_case_under_jax_jit_and_on_torch_tensors(case, rng):
    exprs, arrays = case(rng)
    arrays = arrays_for(exprs, arrays)
    want = eg.compile(*exprs)(**arrays)
    want = want if isinstance(want, tuple) else (want,)
    runs = []
    if importlib.util.find_spec("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)
        runs.append(lambda: jax.jit(eg.compile(*exprs, backend="jax"))(**arrays))
    if importlib.util.find_spec("torch"):
        import torch

        runs.append(lambda: eg.compile(*exprs, backend="torch")(**{n: torch.from_numpy(a) for n, a in arrays.items()}))
    for run in runs:
        got = run()
        for g, w in zip(got if isinstance(got, tuple) else (got,), want, strict=True):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-10, atol=1e-12)
