"""Guards, caches, edge cases, determinism, the distributed backend, and fuzzing."""
import os
import string
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import einsumgrad as eg
from oracles import exact_jacobian

J = eg.jacobian("ij,j->i", wrt=0, names="W,x")


# -- memory guard --------------------------------------------------------------
def test_dense_results_above_the_limit_raise_and_suggest_vjp():
    W, x = np.ones((300, 300)), np.ones(300)
    assert J.nbytes(W.shape, x.shape) == 300**3 * 8
    with pytest.raises(eg.MemoryLimitError, match=r"shape \(300, 300, 300\): 206 MiB, over the limit of 1 MiB"
                                                  r"(.|\n)*Use vjp/jvp/grad"):
        J(W, x, memory_limit=1 << 20)
    try:
        eg.configure(memory_limit=1 << 20)
        with pytest.raises(eg.MemoryLimitError):
            J(W, x)
        np.testing.assert_array_equal(J.vjp(np.ones(300), W, x), np.ones((300, 300)))  # vjp is fine
    finally:
        assert eg.configure(memory_limit="auto")["memory_limit"] is None
    from einsumgrad.compile import memory_limit

    assert 0 < memory_limit() <= 2 << 30


# -- caches and threads --------------------------------------------------------
def test_plan_cache_is_bounded():
    from einsumgrad.compile import SETTINGS

    size = SETTINGS["plan_cache_size"]
    W = eg.tensor("W", 2)
    f = eg.compile(eg.sum(W * W))
    try:
        eg.configure(plan_cache_size=2)
        for n in (2, 3, 4, 5):
            f(W=np.ones((n, n)))
        assert f.plan_cache_size == 2
        assert f(W=np.ones((5, 5))) == 25.0
    finally:
        eg.configure(plan_cache_size=size)


def test_one_compiled_function_from_eight_threads():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    L = eg.sum(eg.tanh(W @ x))
    f = eg.compile(L, eg.grad(L, W))
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((k % 3 + 2, 4)), rng.standard_normal(4)) for k in range(8)]
    results: dict[int, tuple] = {}
    barrier = threading.Barrier(8)

    def work(k):
        barrier.wait()
        for _ in range(50):
            results[k] = f(W=data[k][0], x=data[k][1])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, (W0, x0) in enumerate(data):
        value, grad = results[k]
        assert np.isclose(value, np.tanh(W0 @ x0).sum())
        np.testing.assert_allclose(grad, np.outer(1 - np.tanh(W0 @ x0) ** 2, x0))


# -- edge cases -----------------------------------------------------------------
@pytest.mark.parametrize("W_shape", [(0, 3), (2, 0), (1, 1), (0, 0)])
def test_size_zero_and_one_dimensions(W_shape):
    W, x = np.ones(W_shape), np.ones(W_shape[1])
    np.testing.assert_array_equal(J(W, x), exact_jacobian("ij,j->i", [W, x], 0))
    assert J.vjp(np.ones(W_shape[0]), W, x).shape == W_shape
    assert J.jvp(W, W, x).shape == (W_shape[0],)


def test_zero_dimensional_tensors():
    a, b = eg.tensor("a", 0), eg.tensor("b", ())
    assert eg.evaluate(eg.grad(a * b + eg.sin(a), a), a=np.float64(0.5), b=2.0) == pytest.approx(2 + np.cos(0.5))
    assert eg.jacobian(",->", wrt=1)(np.array(3.0), np.array(4.0)) == 3.0


def test_nan_and_inf_propagate_as_numpy_does():
    W = np.array([[np.nan, 1.0], [np.inf, 2.0]])
    x = np.array([1.0, np.inf])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(J.jvp(W, W, x), np.einsum("ij,j->i", W, x))
        np.testing.assert_array_equal(J.vjp(np.ones(2), W, x), np.outer(np.ones(2), x))
        Wt, xt = eg.tensor("W", 2), eg.tensor("x", 1)
        g = eg.evaluate(eg.grad(eg.sum(eg.sqrt(Wt @ xt)), xt), W=np.array([[-1.0, 0.0]]), x=np.array([1.0, 1.0]))
    assert np.isnan(g).all()


def test_float32_within_float32_tolerance():
    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((20, 30)).astype(np.float32), rng.standard_normal(30).astype(np.float32)
    Wt, xt = eg.tensor("W", 2), eg.tensor("x", 1)
    g = eg.evaluate(eg.grad(eg.sum(eg.tanh(Wt @ xt)), Wt), W=W, x=x)
    assert g.dtype == np.float32
    W64, x64 = W.astype(np.float64), x.astype(np.float64)
    np.testing.assert_allclose(g, np.outer(1 - np.tanh(W64 @ x64) ** 2, x64), rtol=1e-5, atol=1e-6)


def test_integer_inputs_promote_to_float64():
    assert J(np.ones((2, 2), dtype=int), np.arange(2)).dtype == np.float64
    assert eg.evaluate(eg.tensor("a", 1) ** 0.5, a=np.array([4, 9])).tolist() == [2.0, 3.0]


def test_complex_einsums_are_holomorphic_and_the_rest_is_refused():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    x = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    np.testing.assert_allclose(J(W, x), exact_jacobian("ij,j->i", [W, x], 0))
    g = np.array([1.0 + 2j, -1j])
    np.testing.assert_allclose(J.vjp(g, W, x), np.outer(g, x))  # no conjugation: the derivative is g xᵀ
    z = eg.tensor("z", 1)
    np.testing.assert_allclose(eg.evaluate(eg.grad(eg.sum(eg.exp(z)), z), z=x), np.exp(x))
    with pytest.raises(eg.EinsumgradError, match="(abs|sign) is not holomorphic"):
        eg.evaluate(eg.grad(eg.sum(eg.abs(z)), z), z=x)


def test_very_long_specs_plan():
    letters = string.ascii_letters  # 52 distinct indices, 51 operands in a chain
    spec = ",".join(letters[k] + letters[k + 1] for k in range(51)) + "->" + letters[0] + letters[51]
    rng = np.random.default_rng(2)
    ops = [rng.standard_normal((2, 2)) / 2 for _ in range(51)]
    J_long = eg.jacobian(spec, wrt=25)
    g = rng.standard_normal((2, 2))
    left = np.linalg.multi_dot(ops[:25])
    right = np.linalg.multi_dot(ops[26:])
    np.testing.assert_allclose(J_long.vjp(g, *ops), left.T @ g @ right.T)
    assert len(J_long.names) == 51


def test_the_same_array_for_two_operands():
    A = np.arange(4.0).reshape(2, 2)
    for wrt in (0, 1):
        np.testing.assert_array_equal(eg.jacobian("ij,jk->ik", wrt=wrt)(A, A), exact_jacobian("ij,jk->ik", [A, A], wrt))
    X = eg.tensor("X", 2)
    np.testing.assert_allclose(eg.evaluate(eg.grad(eg.trace(X @ X), X), X=A), 2 * A.T)


# -- determinism ---------------------------------------------------------------
DETERMINISM_SCRIPT = """
import numpy as np, einsumgrad as eg
X, w, W, x, P = eg.tensor("X", 2), eg.tensor("w", 1), eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("P", 3)
exprs = [eg.hessian(eg.sum(eg.log(1 + eg.exp(X @ w))), w), eg.grad(eg.sum(eg.tanh(W @ x)), W),
         eg.grad(eg.sum(eg.abs(eg.einsum("iaj,iak->ijk", P, P) - 1)), P)]
for e in exprs:
    print(e, e.matrix_notation(), e.einsum_terms())
f = eg.compile(*exprs)
f(X=np.ones((3, 2)), w=np.ones(2), W=np.ones((2, 2)), x=np.ones(2), P=np.ones((2, 2, 2)))
print(repr(f))
print(eg.jacobian("fdf,cdd,ccd,afe->ae", wrt=2).explain())
"""


def test_output_and_plans_do_not_depend_on_the_hash_seed():
    outputs = set()
    for seed in ("1", "2", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        r = subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT], capture_output=True, text=True, env=env,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        outputs.add(r.stdout)
    assert len(outputs) == 1


# -- distributed backend -----------------------------------------------------------
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


# -- every string entry point, fuzzed ---------------------------------------------
TEXT = st.text(alphabet=string.ascii_letters[:6] + ",->.()'*+ %_=1\n", max_size=16)


@settings(max_examples=500, deadline=None)
@given(TEXT, TEXT)
def test_fuzz_string_entry_points(a, b):
    from einsumgrad.language import parse_expression

    A = eg.tensor("A", 2)
    for call in (lambda: eg.jacobian(a, names=b or None), lambda: eg.einsum(a, A), lambda: eg.tensor(a, 1),
                 lambda: parse_expression(a), lambda: eg.jacobian("ij->", names=a),
                 lambda: eg.compile(A, optimize=a), lambda: eg.compile(A, backend=a)):
        try:
            call()
        except eg.EinsumgradError:
            pass


def test_inputs_that_need_converting_reuse_the_cached_plan():
    W = eg.tensor("W", 2)
    f = eg.compile(eg.sum(W * 2))
    assert f(W=[[1, 2], [3, 4]]) == 20.0  # a list of ints: converted on every call (the slow path)
    plan = f._last
    assert f(W=[[0, 0], [0, 1]]) == 2.0
    assert f._last is plan and f.plan_cache_size == 1


def test_ellipsis_when_all_52_letters_are_taken():
    spec = "..." + string.ascii_letters + "->..."
    A = np.arange(2.0).reshape((2,) + (1,) * 52)
    assert eg.jacobian(spec)(A).shape == (2, 2) + (1,) * 52
    np.testing.assert_array_equal(eg.jacobian(spec).vjp(np.array([1.0, 2.0]), A).ravel(), [1.0, 2.0])


def test_a_wrong_rank_is_reported_even_when_another_shape_refers_to_it():
    with pytest.raises(eg.ShapeError, match=r"operand 1 \(x\) has rank 0, but its subscripts 'j'"):
        J.vjp(np.ones(2), np.ones((2, 3)), np.float64(1.0))
    g = eg.tensor("g", 1)
    with pytest.raises(eg.ShapeError, match=r"tensor 'g' has rank 1, but its array has shape \(2, 2\)"):
        eg.evaluate(eg.tensor("W", 2) @ g, W=np.ones((2, 2)), g=np.ones((2, 2)))
    W = eg.tensor("W", 2)
    g = eg.grad(eg.sum(W), W)  # its shape refers to W's axes, its terms do not read W
    with pytest.raises(eg.ShapeError, match=r"tensor 'W' has rank 2, but its array has shape \(3,\)"):
        eg.evaluate(g, W=np.ones(3))


def _fuzz_expressions():
    W, x, A = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("A", (3, 3))
    L = eg.sum(eg.tanh(W @ x))
    return [L, eg.grad(L, W), eg.grad(eg.sum(W), W), eg.hessian(x @ A @ x, x), eg.inv(A) @ x, eg.det(W),
            eg.jacobian(W @ x, W), W * x + 1, eg.einsum("ii->i", W), eg.sum(W, axis=0) / x]


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 9), st.dictionaries(st.sampled_from(["W", "x", "A", "y"]),
                                          st.lists(st.integers(0, 3), max_size=3), min_size=0, max_size=4))
def test_fuzz_evaluate_with_arrays_of_any_shape(which, shapes):
    expr = _fuzz_expressions()[which]
    arrays = {n: np.ones(s) for n, s in shapes.items()}
    try:
        with np.errstate(all="ignore"):
            eg.evaluate(expr, **arrays)
    except eg.EinsumgradError as err:
        assert str(err)
    except np.linalg.LinAlgError:
        pass  # a singular matrix for inv: NumPy's own verdict on the numbers, not on the input's form


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["ij,j->i", "ii->", "...ij,...j->...i", "i,i", "ij,jk,kl->il", ",i->i"]),
       st.lists(st.lists(st.integers(0, 3), max_size=4), min_size=0, max_size=4), st.integers(0, 3))
def test_fuzz_jacobian_calls_with_arrays_of_any_shape(spec, shapes, wrt):
    try:
        J_fuzz = eg.jacobian(spec, wrt=wrt)
        ops = [np.ones(s) for s in shapes]
        J_fuzz(*ops)
        J_fuzz.vjp(np.ones(np.einsum(spec, *ops).shape), *ops)
        J_fuzz.jvp(np.ones(ops[J_fuzz.wrt].shape), *ops)
    except eg.EinsumgradError as err:
        assert str(err)


def test_more_bad_input_gets_our_errors():
    W = eg.tensor("W", 2)
    with pytest.raises(eg.DerivativeError, match="grad needs an expression built with eg.tensor / eg.einsum, got float"):
        eg.grad(3.0, W)
    with pytest.raises(eg.ShapeError, match="a rank cannot be negative, got -1"):
        eg.tensor("W", -1)
    with pytest.raises(eg.EinsumgradError, match="array 'W' is not a rectangular array of numbers"):
        eg.evaluate(W, W=[[1, 2], [3]])
    with pytest.raises(eg.EinsumgradError, match="plan_cache_size must be a whole number >= 0; got .x."):
        eg.configure(plan_cache_size="x")
    J2 = eg.jacobian("ij,j->i", names="W,x")
    with pytest.raises(eg.EinsumgradError, match="array 'x' is not a rectangular array of numbers"):
        J2(np.ones((2, 2)), [[1], [1, 2]])
    with pytest.raises(eg.EinsumgradError, match="array 'g' is not a rectangular array of numbers"):
        J2.vjp([[1], [1, 2]], np.ones((2, 2)), np.ones(2))
    np.testing.assert_array_equal(J2.vjp([1, 2], [[1, 1], [1, 1]], [3, 4]), [[3, 4], [6, 8]])
