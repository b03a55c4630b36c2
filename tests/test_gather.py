"""Basic indexing reads the positions it names (a gather) and its adjoint writes onto them (a
scatter), on every door: an inf or nan elsewhere in the array never reaches the result (as a
product with a 0/1 selection it did: 0·inf = nan), and ``x[i]`` costs no pass over ``x``."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from profiles import examples

import einsumgrad as eg

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

SHAPES = {"x": (6,), "X": (5, 4), "w": (2,)}
ALL = slice(None)

# (id, expression, the same over a namespace xp, the positions of each input it reads)
CASES = [
    ("x[0:1]", lambda t: t["x"][0:1], lambda xp, a: a["x"][0:1], {"x": slice(0, 1)}),
    ("x[2]", lambda t: t["x"][2], lambda xp, a: a["x"][2], {"x": 2}),
    ("x[-1]", lambda t: t["x"][-1] * 3, lambda xp, a: a["x"][-1] * 3, {"x": -1}),
    ("x[1:5:2]", lambda t: eg.tanh(t["x"][1:5:2]), lambda xp, a: xp.tanh(a["x"][1:5:2]), {"x": slice(1, 5, 2)}),
    ("x[::-2]", lambda t: eg.sin(t["x"][::-2]), lambda xp, a: xp.sin(a["x"][::-2]), {"x": slice(None, None, -2)}),
    ("x[4:1:-1]", lambda t: t["x"][4:1:-1] ** 2, lambda xp, a: a["x"][4:1:-1] ** 2, {"x": slice(4, 1, -1)}),
    ("x[None, 1:3, None]", lambda t: eg.exp(t["x"][None, 1:3, None]), lambda xp, a: xp.exp(a["x"][None, 1:3, None]),
     {"x": slice(1, 3)}),
    ("x[1::2][0]", lambda t: t["x"][1::2][0], lambda xp, a: a["x"][1::2][0], {"x": 1}),
    ("x[-3:][::-1][1:]", lambda t: t["x"][-3:][::-1][1:], lambda xp, a: a["x"][-3:][::-1][1:], {"x": slice(-3, -1)}),
    ("x[i] x[i+1]", lambda t: t["x"][1] * t["x"][2] + t["x"][2] * t["x"][3],
     lambda xp, a: a["x"][1] * a["x"][2] + a["x"][2] * a["x"][3], {"x": slice(1, 4)}),
    ("X[1:3, ::-1]", lambda t: eg.tanh(t["X"][1:3, ::-1]), lambda xp, a: xp.tanh(a["X"][1:3, ::-1]),
     {"X": (slice(1, 3), ALL)}),
    ("X[-1, 1:]", lambda t: t["X"][-1, 1:] * t["X"][-1, 1:], lambda xp, a: a["X"][-1, 1:] * a["X"][-1, 1:],
     {"X": (-1, slice(1, None))}),
    ("X[None, 2, None]", lambda t: eg.sin(t["X"][None, 2, None]), lambda xp, a: xp.sin(a["X"][None, 2, None]),
     {"X": 2}),
    ("X[:, 2] outer x[:2]", lambda t: eg.einsum("i,j->ij", t["X"][:, 2], t["x"][:2]),
     lambda xp, a: xp.outer(a["X"][:, 2], a["x"][:2]), {"X": (ALL, 2), "x": slice(0, 2)}),
    ("tanh(X[:, 1:3]) @ w", lambda t: eg.tanh(t["X"][:, 1:3]) @ t["w"], lambda xp, a: xp.tanh(a["X"][:, 1:3]) @ a["w"],
     {"X": (ALL, slice(1, 3)), "w": ALL}),
    ("sum of X[1:4:2] times x[:4]", lambda t: eg.sum(eg.sin(t["X"][1:4:2]) * t["x"][:4]),
     lambda xp, a: xp.sum(xp.sin(a["X"][1:4:2]) * a["x"][:4]), {"X": slice(1, 4, 2), "x": slice(0, 4)}),
]
IDS = [c[0] for c in CASES]


def tensors():
    return {n: eg.tensor(n, s) for n, s in SHAPES.items()}


def poisoned(reads: dict, seed: int = 0) -> dict:
    """Arrays whose entries outside the positions read are inf, -inf and nan."""
    rng = np.random.default_rng(seed)
    out = {}
    for n, key in reads.items():
        a = rng.uniform(0.5, 1.5, SHAPES[n])
        read = np.zeros(SHAPES[n], bool)
        read[key] = True
        a[~read] = np.resize([np.inf, np.nan, -np.inf], int((~read).sum()))
        out[n] = a
    return out


def run(source: str):
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - our own generated source
    return namespace["f"]


CONVERT = {"numpy": lambda a: a, "jax": jnp.asarray, "torch": torch.from_numpy}


def doors(expr, arrays: dict) -> dict:
    """What each door gives for ``expr``, as NumPy: eg.evaluate on each backend, and generated source."""
    got = {}
    for backend in ("numpy", "jax", "torch"):
        converted = {n: CONVERT[backend](a) for n, a in arrays.items()}
        got[backend] = np.asarray(eg.compile(expr, backend=backend)(**converted))
        f = run(eg.codegen(expr, backend=backend))
        got[f"{backend} source"] = np.asarray((jax.jit(f) if backend == "jax" else f)(**converted))
    return got


@pytest.mark.slow
@pytest.mark.parametrize("build, xp_form, reads", [c[1:] for c in CASES], ids=IDS)
def test_values_ignore_inf_and_nan_outside_the_selection(build, xp_form, reads):
    arrays = poisoned(reads)
    want = xp_form(np, arrays)
    assert np.isfinite(want).all()
    for door, got in doors(build(tensors()), arrays).items():
        assert got.shape == np.shape(want), door
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=door)


@pytest.mark.slow
@pytest.mark.parametrize("build, xp_form, reads", [c[1:] for c in CASES], ids=IDS)
def test_gradients_are_zero_outside_the_selection(build, xp_form, reads):
    """∂ sum(c * f) / ∂ each input, against jax: exactly 0 where the input is not read, never nan."""
    arrays = poisoned(reads, seed=1)
    expr = build(tensors())
    c = np.random.default_rng(2).uniform(-1, 1, expr.shape)
    loss = eg.sum(expr * eg.tensor("c", expr.shape))
    for name in reads:
        want = jax.grad(lambda a: jnp.sum(c * xp_form(jnp, {**arrays, name: a})))(jnp.asarray(arrays[name]))
        assert np.isfinite(want).all()
        for door, got in doors(eg.grad(loss, eg.tensor(name, SHAPES[name])), {**{n: arrays[n] for n in reads}, "c": c}).items():
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=f"∂/∂{name}, {door}")


@pytest.mark.slow
def test_jacobian_and_hessian_of_a_slice_stay_right():
    """Both indices of a selection are axes of the result: it is read as the 0/1 value it is."""
    x = eg.tensor("x", (5,))
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(eg.evaluate(eg.jacobian(x[1:4:2], x), x=a), np.eye(5)[1:4:2])
    np.testing.assert_array_equal(eg.evaluate(eg.jacobian(x[::-1], x), x=a), np.eye(5)[::-1])
    f = eg.sum(eg.sin(x[1:3]) * x[2:4])
    want = jax.hessian(lambda v: jnp.sum(jnp.sin(v[1:3]) * v[2:4]))(jnp.asarray(a))
    np.testing.assert_allclose(eg.evaluate(eg.hessian(f, x), x=a), want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(run(eg.codegen(eg.hessian(f, x)))(a), want, rtol=1e-12, atol=1e-15)


def test_the_plan_of_a_slice_indexes_and_builds_no_selection():
    x = eg.tensor("x", 1)
    f = eg.compile(x[1:3] * 2)
    assert f(x=np.array([np.inf, 1.0, 2.0, np.nan])).tolist() == [2.0, 4.0]
    assert repr(f).splitlines()[1:] == ["  [3] shape (2,) = 2·a->a reading [0][1:3]"]


def test_a_sum_of_scalar_reads_plans_no_pass_over_x():
    """Σ_i x[i] x[i+1] over n = 200, and its gradient: no kernel reads an operand of length n (a
    0/1 selection), no selection is built, and the gradient's terms are written onto x's positions."""
    n = 200
    x = eg.tensor("x", (n,))
    s = x[0] * x[1]
    for i in range(1, n - 1):
        s = s + x[i] * x[i + 1]
    a = np.random.default_rng(0).uniform(-1, 1, n)
    grad = np.zeros(n)
    grad[:-1] += a[1:]
    grad[1:] += a[:-1]
    for expr, want in ((s, a[:-1] @ a[1:]), (eg.grad(s, x), grad)):
        f = eg.compile(expr)
        np.testing.assert_allclose(f(x=a), want, rtol=1e-12)
        plans = [k.plan for kernels in f._last.kernels for k in kernels]
        assert {p.kind for p in plans} <= {"read", "hadamard", "constant"}
        assert all(n not in shape for p in plans for shape in p.shapes)
        assert "select" not in repr(f) and len(f._last.steps) == 1


KEYS = st.one_of(
    st.integers(-6, 5),
    st.builds(slice, st.one_of(st.none(), st.integers(-8, 8)), st.one_of(st.none(), st.integers(-8, 8)),
              st.one_of(st.none(), st.integers(-4, 4).filter(bool))),
    st.none(),
)


@pytest.mark.slow
@given(st.data())
@settings(max_examples=examples(30), deadline=None)
def test_random_slices_against_numpy(data):
    """Random chains of ints, slices (any start, stop and step) and new axes of a (6, 5) array with
    inf and nan at random places: values as NumPy's (nan where NumPy has nan), the gradient of
    sum(c * value) as jax's, on the NumPy backend and in generated NumPy code."""
    shape = data.draw(st.sampled_from([(6,), (6, 5)]))
    keys = []
    value = np.zeros(shape)
    for _ in range(data.draw(st.integers(1, 2))):
        key = tuple(data.draw(KEYS) for _ in range(data.draw(st.integers(1, max(value.ndim, 1)))))
        try:
            value = value[key]
        except IndexError:  # too many indices, or an int out of range: eg refuses it too
            continue
        keys.append(key)
    assume(keys)

    def apply(a):
        for key in keys:
            a = a[key]
        return a

    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    a = rng.uniform(-1, 1, shape)
    a[rng.random(shape) < 0.3] = np.inf
    a[rng.random(shape) < 0.2] = np.nan
    expr = eg.tensor("x", shape)
    for key in keys:
        expr = expr[key]
    want = apply(a)
    for got in (eg.evaluate(expr, x=a), run(eg.codegen(expr))(x=a)):
        assert np.shape(got) == want.shape
        np.testing.assert_array_equal(got, want)
    c = rng.uniform(-1, 1, want.shape)
    grad = eg.grad(eg.sum(expr * eg.tensor("c", want.shape)), eg.tensor("x", shape))
    jax_grad = jax.grad(lambda v: jnp.sum(c * apply(v)))(jnp.asarray(a))
    for got in (eg.evaluate(grad, x=a, c=c), run(eg.codegen(grad))(x=a, c=c)):
        np.testing.assert_allclose(got, jax_grad, rtol=1e-12, atol=0)
