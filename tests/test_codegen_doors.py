"""Generated code against the other doors: for expressions with new axes, slices, integer indices,
reshapes, functions, cancelling tensors and odd names, the source of ``eg.codegen`` on NumPy, JAX
and PyTorch returns what ``eg.evaluate`` does (values, and gradients through ``eg.grad``), which is
what NumPy itself gives, and takes the arguments ``eg.evaluate`` takes."""
import inspect
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

import einsumgrad as eg

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
jax.config.update("jax_enable_x64", True)

SHAPES = {"x": (4,), "w": (4, 1), "A": (4, 3), "v": (3,), "X": None, "y": None, "B": (2, 2),
          "np": (4,), "jnp": (4,), "torch": (4,), "φ": (3,)}
SIZES = {"X": (5, 4), "y": (5,)}  # rank-declared: sizes seen only at evaluation


def t(name):
    shape = SHAPES.get(unicodedata.normalize("NFKC", name))
    return eg.tensor(name, len(SIZES[name]) if shape is None else shape)


def arrays_for(names, seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.uniform(-1, 1, SHAPES.get(n) or SIZES[n]) for n in names}


# (id, expression, the same computed by NumPy on the arrays)
CASES = [
    ("tanh of x[:, None] times w", lambda: eg.tanh(t("x")[:, None]) * t("w"),
     lambda a: np.tanh(a["x"][:, None]) * a["w"]),
    ("tanh of x[None] times w.T", lambda: eg.tanh(t("x")[None, :]) * t("w").T,
     lambda a: np.tanh(a["x"][None, :]) * a["w"].T),
    ("expand_dims(x, 0) in a function", lambda: eg.tanh(eg.expand_dims(t("x"), 0)) * t("w").T,
     lambda a: np.tanh(a["x"][None]) * a["w"].T),
    ("expand_dims(x, 1) plus A", lambda: eg.exp(eg.expand_dims(t("x"), 1)) + t("A"),
     lambda a: np.exp(a["x"][:, None]) + a["A"]),
    ("sum of a function of a new axis", lambda: eg.sum(eg.tanh(t("x")[:, None]) * t("A")),
     lambda a: np.sum(np.tanh(a["x"][:, None]) * a["A"])),
    ("a new axis as the result", lambda: t("x")[None, :, None], lambda a: a["x"][None, :, None]),
    ("a new axis in the middle", lambda: eg.sin(t("X")[:, None, :]), lambda a: np.sin(a["X"][:, None, :])),
    ("rank-declared y[:, None] times X", lambda: eg.tanh(t("y")[:, None]) * t("X"),
     lambda a: np.tanh(a["y"][:, None]) * a["X"]),
    ("a slice with a step", lambda: eg.tanh(t("x")[::2]), lambda a: np.tanh(a["x"][::2])),
    ("a negative step, then a new axis", lambda: eg.tanh(t("x")[::-2][:, None]) * t("A")[1::2],
     lambda a: np.tanh(a["x"][::-2][:, None]) * a["A"][1::2]),
    ("a slice of a rank-declared matrix", lambda: eg.exp(t("X")[1:3, -1]), lambda a: np.exp(a["X"][1:3, -1])),
    ("an integer index", lambda: eg.tanh(t("A")[1]) * t("v"), lambda a: np.tanh(a["A"][1]) * a["v"]),
    ("an integer index, then a new axis", lambda: eg.sin(t("A")[-1][None]), lambda a: np.sin(a["A"][-1][None])),
    ("a reshape", lambda: eg.tanh(eg.reshape(t("A"), (3, 4))), lambda a: np.tanh(a["A"].reshape(3, 4))),
    ("a reshape adding an axis", lambda: eg.reshape(eg.sin(t("A")), (1, 12)) * 2,
     lambda a: np.sin(a["A"]).reshape(1, 12) * 2),
    ("a reshape removing one", lambda: eg.cos(eg.reshape(t("A"), (12,))), lambda a: np.cos(a["A"].reshape(12))),
    ("tensors named np, jnp and torch", lambda: eg.tanh(t("np")) * t("jnp") + t("torch")[:, None],
     lambda a: np.tanh(a["np"]) * a["jnp"] + a["torch"][:, None]),
    ("ϕ and φ are one tensor", lambda: eg.sum(eg.sin(t("ϕ")) * t("φ")), lambda a: np.sum(np.sin(a["φ"]) * a["φ"])),
    ("a tensor that cancels out", lambda: eg.sum(t("B") - t("B")) + eg.sum(t("x")), lambda a: a["x"].sum()),
    ("a cancelled tensor under a function", lambda: eg.exp(t("x") + eg.sum(t("B") - t("B"))),
     lambda a: np.exp(a["x"])),
]


def run(source: str):
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - our own generated source
    return namespace["f"]


CONVERT = {"numpy": lambda a: a, "jax": jax.numpy.asarray, "torch": torch.from_numpy}


def generated(expr, backend: str, arrays: dict):
    """What the generated source of ``expr`` on ``backend`` returns, as NumPy."""
    f = run(eg.codegen(expr, backend=backend))
    if backend == "jax":
        f = jax.jit(f)
    return np.asarray(f(**{n: CONVERT[backend](a) for n, a in arrays.items()}))


def same(got, want):
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("build, numpy", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_generated_code_is_evaluate(build, numpy, backend):
    expr = build()
    arrays = arrays_for(expr.tensors)
    want = eg.evaluate(expr, **arrays)
    same(want, numpy(arrays))
    same(generated(expr, backend, arrays), want)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("build", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_generated_gradients_are_evaluate(build, backend):
    expr = build()
    loss = eg.sum(eg.sin(expr))
    arrays = arrays_for(expr.tensors, seed=1)
    for name in sorted(expr.tensors):
        g = eg.grad(loss, t(name))
        same(generated(g, backend, arrays), eg.evaluate(g, **arrays))


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("build", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_generated_signature_is_evaluates(build, backend):
    """Every tensor the expression came from is an argument: those read, positionally in eg.compile's
    order; those that cancel out, as keywords that may be left out, as eg.evaluate allows."""
    expr = build()
    params = inspect.signature(run(eg.codegen(expr, backend=backend))).parameters
    required = [n for n, p in params.items() if p.default is p.empty]
    assert required == list(eg.compile(expr).names)
    assert set(params) == set(expr.tensors)
    assert all(p.kind is p.KEYWORD_ONLY and p.default is None for n, p in params.items() if n not in required)


def test_a_cancelled_tensor_may_be_left_out_as_in_evaluate():
    B, x = t("B"), t("x")
    expr = eg.sum(B - B) + eg.sum(x)
    a = arrays_for(["x"])
    assert run(eg.codegen(expr))(**a) == eg.evaluate(expr, **a) == a["x"].sum()


def test_a_tensor_named_like_the_module_keeps_its_name():
    source = eg.codegen(eg.tanh(t("np")), backend="numpy")
    assert source.startswith("import numpy as np2\n") and "def f(np):" in source
    assert "import torch\n" in eg.codegen(eg.tanh(t("x")), backend="torch")  # the usual alias otherwise


def test_names_are_read_as_python_reads_them():
    """ϕ (U+03D5) is φ (U+03C6) to Python: one tensor, one argument, its keyword either spelling."""
    compat, plain = t("ϕ"), t("φ")
    assert compat.name == "φ" and compat.node == plain.node
    a = np.arange(3.0)
    assert eg.evaluate(eg.sum(compat * plain), ϕ=a) == 5.0  # Python passes the keyword as φ
    assert eg.evaluate(eg.sum(compat), **{"ϕ": a}) == 3.0  # a dict's key is normalised as Python would
    with pytest.raises(eg.EinsumgradError, match="'ϕ' is another spelling of 'φ'"):
        eg.evaluate(eg.sum(compat), **{"φ": a, "ϕ": a})
    with pytest.raises(eg.EinsumgradError, match="two different tensors are named 'φ'"):
        eg.evaluate(eg.sum(eg.tensor("ϕ", (3,))) + eg.sum(eg.tensor("φ", (2,))), φ=a)
    assert eg.jacobian("ij,j->i", wrt=0, names="ϕ,x").expression().tensors == {"φ", "x"}


@given(st.data())
@settings(max_examples=examples(60), deadline=None)
def test_random_new_axes_through_numpy_source(data):
    """A random chain of elementwise functions, new axes, integer indices, slices and sums over x (4,) and
    A (4, 3), broadcast against each other: the generated NumPy source returns what evaluate does."""
    arrays = arrays_for(["x", "A"], seed=data.draw(st.integers(0, 9)))
    expr = data.draw(st.sampled_from([t("x"), t("A")]))
    for _ in range(data.draw(st.integers(1, 4))):
        step = data.draw(st.sampled_from(["function", "new axis", "index", "slice", "sum", "times"]))
        if step == "function":
            expr = getattr(eg, data.draw(st.sampled_from(["tanh", "sin", "exp", "sigmoid"])))(expr)
        elif step == "new axis" and expr.ndim < 3:
            at = data.draw(st.integers(0, expr.ndim))
            expr = expr[(slice(None),) * at + (None,)]
        elif step == "index" and expr.ndim:
            expr = expr[(slice(None),) * data.draw(st.integers(0, expr.ndim - 1)) + (0,)]
        elif step == "slice" and expr.ndim:
            cut = slice(data.draw(st.sampled_from([None, 1, -2])), None, data.draw(st.sampled_from([None, 2, -1])))
            expr = expr[(slice(None),) * data.draw(st.integers(0, expr.ndim - 1)) + (cut,)]
        elif step == "sum" and expr.ndim:
            expr = eg.sum(expr, axis=data.draw(st.integers(0, expr.ndim - 1)))
        elif step == "times" and expr.ndim <= 2:
            other = data.draw(st.sampled_from([t("x")[:, None], t("A"), t("x")]))
            try:
                np.broadcast_shapes(expr.shape, other.shape)
            except ValueError:
                continue
            expr = expr * other
    used = {n: arrays[n] for n in expr.tensors}
    same(generated(expr, "numpy", used), eg.evaluate(expr, **used))
