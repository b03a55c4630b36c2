"""Result buffers (``out=``), the workspace of intermediates, and the kernels chosen per step:
results written into the caller's arrays equal fresh ones, nothing returned aliases what a later
call writes, and shared subexpressions give the same values as apart."""
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

import einsumgrad as eg
from einsumgrad.compiler.plan import contraction


def mlp(depth=2, width=5, seed=0):
    rng = np.random.default_rng(seed)
    x, y = eg.tensor("x", (width,)), eg.tensor("y", (width,))
    arrays = {"x": rng.standard_normal(width), "y": rng.standard_normal(width)}
    params, h = [], x
    for k in range(depth):
        W, b = eg.tensor(f"W{k}", (width, width)), eg.tensor(f"b{k}", (width,))
        arrays[f"W{k}"], arrays[f"b{k}"] = rng.standard_normal((width, width)), rng.standard_normal(width)
        params += [W, b]
        h = eg.tanh(W @ h + b)
    return 0.5 * eg.sum((y - h) ** 2), params, arrays


def layer_norm(n=6, m=4, seed=1):
    rng = np.random.default_rng(seed)
    X, W, C = eg.tensor("X", (n, m)), eg.tensor("W", (m, m)), eg.tensor("C", (n, m))
    Z = X @ W
    D = Z - eg.sum(Z, axis=1, keepdims=True) / m
    L = eg.sum(C * eg.tanh(D / eg.sqrt(eg.sum(D ** 2, axis=1, keepdims=True) / m + 1e-5)))
    return L, W, {"X": rng.standard_normal((n, m)), "W": rng.standard_normal((m, m)), "C": rng.standard_normal((n, m))}


def cases():
    L, params, arrays = mlp()
    yield "mlp grads", [eg.grad(L, p) for p in params], arrays
    yield "mlp hessian", [eg.hessian(L, params[1])], arrays
    L, W, arrays = layer_norm()
    yield "layer norm", [eg.grad(L, W)], arrays
    x, A = eg.tensor("x", 1), eg.tensor("A", 2)
    rng = np.random.default_rng(2)
    yield "quadratic", [eg.hessian(eg.einsum("i,ij,j->", x, A, x), x), eg.grad(eg.einsum("i,ij,j->", x, A, x), x)], \
        {"x": rng.standard_normal(7), "A": rng.standard_normal((7, 7))}
    W, v = eg.tensor("W", (3, 4)), eg.tensor("v", (6,))
    yield "dense jacobian (a diagonal)", [eg.jacobian(W @ x, W)], {"W": rng.standard_normal((3, 4)),
                                                                    "x": rng.standard_normal(4)}
    yield "selection", [v[1:4] * 2, eg.grad(eg.sum(eg.tanh(v[1:4])), v)], {"v": rng.standard_normal(6)}


@pytest.mark.parametrize("name, exprs, arrays", list(cases()), ids=[c[0] for c in cases()])
def test_out_equals_fresh_and_is_written_into(name, exprs, arrays):
    f = eg.compile(*exprs)
    fresh = f(**arrays)
    fresh = fresh if isinstance(fresh, tuple) else (fresh,)
    kept = [np.copy(r) for r in fresh]
    buffers = tuple(np.full_like(r, np.nan) for r in fresh)
    got = f(**arrays, out=buffers if len(buffers) > 1 else buffers[0])
    got = got if isinstance(got, tuple) else (got,)
    for g, b, r in zip(got, buffers, kept):
        assert g is b
        np.testing.assert_array_equal(g, r)  # the same operations: the same bits
    for r, k in zip(fresh, kept):  # the first results are untouched by the second call
        np.testing.assert_array_equal(r, k)


@pytest.mark.parametrize("name, exprs, arrays", list(cases()), ids=[c[0] for c in cases()])
def test_results_never_alias_the_workspace(name, exprs, arrays):
    f = eg.compile(*exprs)
    first = f(**arrays)
    first = first if isinstance(first, tuple) else (first,)
    kept = [np.copy(r) for r in first]
    other = {n: a * 1.5 + 0.25 for n, a in arrays.items()}
    second = f(**other)
    second = second if isinstance(second, tuple) else (second,)
    for r, k in zip(first, kept):
        np.testing.assert_array_equal(r, k)
    want = [eg.evaluate(e, **other) for e in exprs]
    for s, w in zip(second, want):
        np.testing.assert_allclose(s, w, rtol=1e-10, atol=1e-12)
    for s in second:  # nothing returned shares memory with the workspace
        for workspace in f._last._workspaces:
            assert not any(b is not None and np.may_share_memory(s, b) for b in workspace)


def test_a_previous_result_as_out_for_several_outputs():
    L, params, arrays = mlp(depth=3, width=4)
    f = eg.compile(*(eg.grad(L, p) for p in params))
    r = f(**arrays)
    again = f(**{**arrays, "x": arrays["x"] + 1}, out=r)
    assert all(a is b for a, b in zip(again, r))
    want = f(**{**arrays, "x": arrays["x"] + 1})
    for a, w in zip(again, want):
        np.testing.assert_array_equal(a, w)


def test_non_contiguous_out_is_copied_into():
    x, A = eg.tensor("x", 1), eg.tensor("A", 2)
    f = eg.compile(eg.einsum("ij,j->i", A, x) * 3)
    A0, x0 = np.arange(12.0).reshape(4, 3), np.arange(3.0)
    big = np.zeros(8)
    out = big[::2]
    assert f(A=A0, x=x0, out=out) is out
    np.testing.assert_array_equal(big[::2], 3 * A0 @ x0)
    np.testing.assert_array_equal(big[1::2], 0)


def test_out_refusals():
    x, A = eg.tensor("x", 1), eg.tensor("A", 2)
    f = eg.compile(eg.einsum("ij,j->i", A, x), eg.sum(x))
    A0, x0 = np.ones((2, 3)), np.ones(3)
    with pytest.raises(eg.EinsumgradError, match="tuple of 2 arrays"):
        f(A=A0, x=x0, out=np.zeros(2))
    with pytest.raises(eg.EinsumgradError, match=r"out\[0\] must be an array of shape \(2,\) and dtype float64"):
        f(A=A0, x=x0, out=(np.zeros(3), np.zeros(())))
    with pytest.raises(eg.EinsumgradError, match="dtype float64"):
        f(A=A0, x=x0, out=(np.zeros(2, np.float32), np.zeros(())))
    shared = np.zeros(4)
    with pytest.raises(eg.EinsumgradError, match="overlaps another"):
        f(A=A0, x=x0, out=(shared[:2], shared[:2].reshape(2)[0:1].reshape(())))
    g = eg.compile(eg.einsum("ij,j->i", A, x))
    y = np.ones(2)
    with pytest.raises(eg.EinsumgradError, match="overlaps the input 'x'"):
        g(A=np.ones((2, 2)), x=y, out=y)
    read_only = np.zeros(2)
    read_only.flags.writeable = False
    with pytest.raises(eg.EinsumgradError, match="read-only"):
        g(A=A0, x=x0, out=read_only)


def test_a_tensor_named_out_keeps_its_name():
    o, x = eg.tensor("out", 1), eg.tensor("x", 1)
    f = eg.compile(o * x)
    np.testing.assert_array_equal(f(out=np.array([2.0, 3.0]), x=np.array([4.0, 5.0])), [8.0, 15.0])


def test_jax_refuses_and_torch_copies():
    jnp = pytest.importorskip("jax.numpy")
    x, A = eg.tensor("x", 1), eg.tensor("A", 2)
    e = eg.grad(eg.einsum("i,ij,j->", x, A, x), x)
    A0, x0 = np.arange(9.0).reshape(3, 3), np.arange(3.0)
    fj = eg.compile(e, backend="jax")
    with pytest.raises(eg.EinsumgradError, match="jax"):
        fj(A=jnp.asarray(A0), x=jnp.asarray(x0), out=jnp.zeros(3))
    torch = pytest.importorskip("torch")
    ft = eg.compile(e, backend="torch")
    buffer = torch.zeros(3, dtype=torch.float64)
    got = ft(A=torch.from_numpy(A0), x=torch.from_numpy(x0), out=buffer)
    assert got is buffer
    np.testing.assert_allclose(buffer.numpy(), (A0 + A0.T) @ x0)


def test_concurrent_calls_use_their_own_workspaces():
    L, W, arrays = layer_norm(n=40, m=16)
    f = eg.compile(eg.grad(L, W))
    inputs = [{**arrays, "X": arrays["X"] * (1 + k / 10)} for k in range(4)]
    want = [f(**a) for a in inputs]
    got = [None] * 4

    def work(k):
        for _ in range(20):
            got[k] = f(**inputs[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_two_outputs_sharing_a_subexpression():
    X, w, y = eg.tensor("X", 2), eg.tensor("w", 1), eg.tensor("y", 1)
    p = eg.sigmoid(X @ w)
    L = -eg.sum(y * eg.log(p) + (1 - y) * eg.log(1 - p))
    rng = np.random.default_rng(3)
    arrays = {"X": rng.standard_normal((9, 4)), "w": rng.standard_normal(4), "y": (rng.random(9) < 0.5) * 1.0}
    together = eg.compile(L, eg.grad(L, w), eg.hessian(L, w))(**arrays)
    for e, v in zip((L, eg.grad(L, w), eg.hessian(L, w)), together):
        np.testing.assert_allclose(v, eg.compile(e)(**arrays), rtol=1e-12, atol=1e-14)


def test_a_lone_index_is_summed_before_the_matmul():
    c = contraction("ab,ca->c", ((5, 6), (7, 5)), "greedy")
    (step,) = c.steps
    assert step.presum is not None and step.presum[2].matmul is not None
    rng = np.random.default_rng(4)
    W, X = rng.standard_normal((5, 6)), rng.standard_normal((7, 5))
    x, w = eg.tensor("X", 2), eg.tensor("W", 2)
    f = eg.compile(eg.einsum("ab,ca->c", w, x), optimize="greedy")
    np.testing.assert_allclose(f(W=W, X=X), np.einsum("ab,ca->c", W, X), rtol=1e-12)


EQUATIONS = ["ab,ca->c", "ab,ac->b", "abc,cd->ad", "ab,bc,cd->a", "abc,c->", "ab,cb->ac", "ab,ab->a", "a,b->ab"]


@settings(max_examples=examples(40), deadline=None)
@given(st.sampled_from(EQUATIONS), st.lists(st.integers(1, 4), min_size=4, max_size=4),
       st.sampled_from(["greedy", "optimal", "auto"]), st.integers(0, 2 ** 16))
def test_planned_contractions_match_one_einsum(equation, lengths, optimize, seed):
    """Every kernel a step may become (a presummed matmul, a batched one, an einsum), with and
    without out=, gives what one np.einsum call gives."""
    letters = sorted(set(equation) - set(",->"))
    size = dict(zip(letters, lengths))
    rng = np.random.default_rng(seed)
    terms = equation.split("->")[0].split(",")
    names = [f"T{k}" for k in range(len(terms))]
    arrays = {n: rng.standard_normal([size[c] for c in t]) for n, t in zip(names, terms)}
    tensors = [eg.tensor(n, len(t)) for n, t in zip(names, terms)]
    f = eg.compile(eg.einsum(equation, *tensors) * 2, optimize=optimize)
    want = 2 * np.einsum(equation, *arrays.values())
    fresh = f(**arrays)
    np.testing.assert_allclose(fresh, want, rtol=1e-10, atol=1e-12)
    out = np.empty_like(np.asarray(fresh))
    np.testing.assert_array_equal(f(**arrays, out=out), fresh)


GRAMS = [("ab,ac,a->bc", (40, 70), (40,)), ("ab,ac,a->cb", (40, 70), (40,)), ("stk,stl,s->kl", (5, 6, 65), (5,)),
         ("stk,stl,ts->kl", (5, 6, 65), (6, 5)), ("sk,sl,s->kl", (30, 64), (30,)), ("ska,slb,s->kalb", (9, 8, 9), (9,))]


@pytest.mark.parametrize("equation, x_shape, w_shape", GRAMS)
@pytest.mark.parametrize("signs", ["positive", "negative", "mixed"])
def test_weighted_gram_matrices_as_symmetric_updates(equation, x_shape, w_shape, signs):
    """Xᵀ diag(w) X runs as (√|w| X)ᵀ(√|w| X) (a symmetric rank-k update), whatever the weights' signs."""
    rng = np.random.default_rng(len(equation))
    X0 = rng.standard_normal(x_shape)
    w0 = {"positive": 1, "negative": -1, "mixed": np.sign(rng.standard_normal(w_shape))}[signs] * rng.random(w_shape)
    X, w = eg.tensor("X", len(x_shape)), eg.tensor("w", len(w_shape))
    e = 3 * eg.einsum(equation, X, X, w)
    f = eg.compile(e)
    want = 3 * np.einsum(equation, X0, X0, w0)
    got = f(X=X0, w=w0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(f(X=X0, w=w0, out=np.empty_like(got)), got)
    if equation.startswith("ab,ac,a"):
        assert f._last.kernels[-1][0].into is not None
        np.testing.assert_allclose(eg.compile(e, backend="torch")(X=X0, w=w0).numpy() if _has("torch") else want,
                                   want, rtol=1e-10, atol=1e-10)


def test_a_complex_gram_matrix_runs_the_general_product():
    rng = np.random.default_rng(5)
    X0 = rng.standard_normal((20, 64)) + 1j * rng.standard_normal((20, 64))
    w0 = rng.standard_normal(20)
    X, w = eg.tensor("X", 2), eg.tensor("w", 1)
    f = eg.compile(eg.einsum("ab,ac,a->bc", X, X, w))
    got = f(X=X0, w=w0)
    np.testing.assert_allclose(got, np.einsum("ab,ac,a->bc", X0, X0, w0), rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(f(X=X0, w=w0, out=np.empty_like(got)), got)


def test_the_logistic_hessian_is_its_closed_form():
    rng = np.random.default_rng(6)
    X0, w0 = rng.standard_normal((200, 80)), rng.standard_normal(80) / 9
    X, w = eg.tensor("X", 2), eg.tensor("w", 1)
    H = eg.compile(eg.hessian(eg.sum(eg.log(1 + eg.exp(X @ w))), w))(X=X0, w=w0)
    s = 1 / (1 + np.exp(-X0 @ w0))
    np.testing.assert_allclose(H, (X0.T * (s * (1 - s))) @ X0, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(H, H.T)  # a symmetric update is symmetric to the last bit


def _has(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _unshared(monkeypatch):
    from einsumgrad.compiler import compiled

    monkeypatch.setattr(compiled, "_shared", lambda *args: {})


def test_intermediates_shared_across_terms_give_the_same_values(monkeypatch):
    L, params, arrays = mlp(depth=4, width=16, seed=8)
    exprs = [eg.hessian(L, params[1])] + [eg.grad(L, p) for p in params]
    f = eg.compile(*exprs, optimize="greedy")
    shared = f(**arrays)
    assert f._last.shared  # the Hessian's halves and the gradients' chains repeat
    eg.clear_caches()
    _unshared(monkeypatch)
    g = eg.compile(*exprs, optimize="greedy")
    apart = g(**arrays)
    assert not g._last.shared
    for a, b in zip(shared, apart):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    buffers = tuple(np.empty_like(a) for a in shared)
    for a, b in zip(f(**arrays, out=buffers), shared):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=examples(25), deadline=None)
@given(st.lists(st.sampled_from(["tanh", "sigmoid", "square", "matmul", "matmul_t", "scale"]), min_size=1, max_size=5),
       st.integers(2, 6), st.integers(0, 2 ** 16), st.sampled_from(["greedy", "auto"]))
def test_random_compositions_shared_or_not(layers, width, seed, optimize):
    """Random compositions of products and functions: the program with intermediates shared
    gives what it gives without (and out= the same bits), for the gradient and the Hessian."""
    rng = np.random.default_rng(seed)
    x, A, B = eg.tensor("x", (width,)), eg.tensor("A", (width, width)), eg.tensor("B", (width, width))
    h = x
    for layer in layers:
        h = {"tanh": eg.tanh, "sigmoid": eg.sigmoid, "square": lambda v: v * v, "matmul": lambda v: A @ v,
             "matmul_t": lambda v: eg.einsum("ji,j->i", B, v), "scale": lambda v: 0.5 * v + x}[layer](h)
    L = eg.sum(eg.tanh(A @ h) * h)
    arrays = {"x": rng.standard_normal(width), "A": rng.standard_normal((width, width)) / width,
              "B": rng.standard_normal((width, width)) / width}
    exprs = (eg.grad(L, x), eg.hessian(L, x), eg.grad(L, A))
    got = eg.compile(*exprs, optimize=optimize)(**arrays)
    from einsumgrad.compiler import compiled

    saved = compiled._shared
    compiled._shared = lambda *args: {}
    try:
        eg.clear_caches()
        want = eg.compile(*exprs, optimize=optimize)(**arrays)
    finally:
        compiled._shared = saved
        eg.clear_caches()
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    f = eg.compile(*exprs, optimize=optimize)
    fresh = f(**arrays)
    for a, b in zip(f(**arrays, out=tuple(np.empty_like(v) for v in fresh)), fresh):
        np.testing.assert_array_equal(a, b)
