"""The function registry's breadth: every function against central differences (gradient and Hessian), in
Python and through the command line; stability at large inputs; subgradient conventions; matrix-notation
golden strings, each evaluated; every backend."""
import math
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

import einsumgrad as eg
from einsumgrad.core import functions
from oracles import central_difference

ELEMENTWISE = [n for n in functions.public() if functions.get(n).elementwise]
X, W, Y, T = eg.tensor("X", 2), eg.tensor("W", 2), eg.tensor("Y", 2), eg.tensor("T", 2)
x, y, w = eg.tensor("x", 1), eg.tensor("y", 1), eg.tensor("w", 1)


def softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def assert_derivatives(f, wrt, arrays, rtol=1e-6):
    """The gradient of scalar ``f`` against central differences of ``f``, and the Hessian against central differences
    of the gradient, each in a random direction."""
    name = wrt.name
    x0 = arrays[name]
    d = np.random.default_rng(7).standard_normal(x0.shape)
    at = lambda e: lambda v: eg.evaluate(e, **{**arrays, name: v})  # noqa: E731
    g, H = eg.grad(f, wrt), eg.hessian(f, wrt)
    numeric = central_difference(at(f), x0, d)
    np.testing.assert_allclose(np.sum(at(g)(x0) * d), numeric, rtol=rtol, atol=1e-8)
    hd = np.tensordot(at(H)(x0), d, axes=d.ndim)
    np.testing.assert_allclose(hd, central_difference(at(g), x0, d, eps=1e-5), rtol=1e-5, atol=1e-6)


def inside(name, shape, rng):
    lo, hi = functions.get(name).domain
    return rng.uniform(lo, hi, shape)


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if functions.get(n).impl is not None])
def test_each_elementwise_function_against_central_differences(name, rng):
    fn = functions.get(name)
    c = rng.standard_normal(4)
    f = eg.sum(eg.tensor("c", 1) * getattr(eg, name)(x))
    x0 = inside(name, 4, rng)
    if not fn.smooth:  # away from the kinks at 0
        x0 = np.where(np.abs(x0) < 0.2, 0.5, x0)
    assert_derivatives(f, x, {"x": x0, "c": c})


def test_new_elementwise_values_against_numpy_and_math(rng):
    a = rng.uniform(-0.9, 0.9, 5)
    for name, reference in [("tan", np.tan), ("arcsin", np.arcsin), ("arccos", np.arccos), ("arctan", np.arctan),
                            ("sinh", np.sinh), ("cosh", np.cosh), ("log1p", np.log1p), ("expm1", np.expm1),
                            ("erf", np.vectorize(math.erf))]:
        np.testing.assert_allclose(eg.evaluate(getattr(eg, name)(x), x=a), reference(a), rtol=1e-14, err_msg=name)


def test_gelu_through_erf(rng):
    gelu = x * 0.5 * (1 + eg.erf(x / math.sqrt(2)))
    a = rng.standard_normal(6)
    pdf = np.exp(-a**2 / 2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(a / math.sqrt(2)))
    np.testing.assert_allclose(eg.evaluate(eg.grad(eg.sum(gelu), x), x=a), cdf + a * pdf, rtol=1e-12)
    assert_derivatives(eg.sum(gelu), x, {"x": a})


AXIS_CASES = [  # (function, keywords)
    ("softmax", {}), ("softmax", {"axis": 0}), ("softmax", {"axis": (0, 1)}),
    ("log_softmax", {}), ("log_softmax", {"axis": 0}),
    ("logsumexp", {}), ("logsumexp", {"axis": 1}), ("logsumexp", {"axis": -2}),
    ("max", {}), ("max", {"axis": 0}), ("max", {"axis": 1, "keepdims": True}),
    ("min", {}), ("min", {"axis": 1}),
    ("norm", {}),
]


@pytest.mark.parametrize("name, options", AXIS_CASES, ids=[f"{n}{o}" for n, o in AXIS_CASES])
def test_each_function_along_axes_against_numpy_and_central_differences(name, options, rng):
    a = rng.standard_normal((3, 4))
    value = getattr(eg, name)(X, **options)
    axis = options.get("axis", -1 if "softmax" in name else None)
    reference = {
        "softmax": lambda: softmax(a, axis), "log_softmax": lambda: np.log(softmax(a, axis)),
        "logsumexp": lambda: np.log(np.sum(np.exp(a), axis=axis)),
        "max": lambda: np.max(a, axis=axis, keepdims=options.get("keepdims", False)),
        "min": lambda: np.min(a, axis=axis), "norm": lambda: np.linalg.norm(a),
    }[name]()
    np.testing.assert_allclose(eg.evaluate(value, X=a), reference, rtol=1e-13)
    c = rng.standard_normal(np.shape(reference))
    f = eg.sum(eg.tensor("C", len(c.shape)) * value)
    assert_derivatives(f, X, {"X": a, "C": c})


def test_stable_at_large_inputs():
    a = np.array([[1000.0, 999.0, -1000.0], [-1000.0, -1001.0, 1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = eg.evaluate(eg.softmax(X), X=a)
        np.testing.assert_allclose(s, softmax(a), rtol=1e-15)
        np.testing.assert_allclose(eg.evaluate(eg.log_softmax(X), X=a), a - a.max(1, keepdims=True)
                                   - np.log(np.exp(a - a.max(1, keepdims=True)).sum(1, keepdims=True)), rtol=1e-15)
        np.testing.assert_allclose(eg.evaluate(eg.logsumexp(X, axis=1), X=a), [1000 + np.log1p(np.exp(-1)), 1000])
        np.testing.assert_allclose(eg.evaluate(eg.logsumexp(X), X=a), 1000 + np.log(2 + np.exp(-1)))
        g = eg.evaluate(eg.grad(eg.logsumexp(X), X), X=a)
        np.testing.assert_allclose(g, np.exp(a - 1000) / np.exp(a - 1000).sum(), rtol=1e-15)
        H = eg.evaluate(eg.hessian(eg.logsumexp(x), x), x=a[0])
        p = softmax(a[0])
        np.testing.assert_allclose(H, np.diag(p) - np.outer(p, p), atol=1e-15)
        assert np.isfinite(eg.evaluate(eg.grad(-eg.sum(Y * eg.log_softmax(X)), X), X=a, Y=np.eye(2, 3))).all()


@settings(max_examples=examples(30), deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=5), st.floats(-1e3, 1e3))
def test_shift_invariance(values, c):
    a = np.array(values)
    np.testing.assert_allclose(eg.evaluate(eg.softmax(x), x=a + c), eg.evaluate(eg.softmax(x), x=a), atol=1e-12)
    np.testing.assert_allclose(eg.evaluate(eg.logsumexp(x), x=a + c), eg.evaluate(eg.logsumexp(x), x=a) + c,
                               rtol=1e-12, atol=1e-9)


@settings(max_examples=examples(40), deadline=None)
@given(st.lists(st.integers(-2, 2), min_size=1, max_size=6))
def test_ties_share_the_gradient_of_max_and_min_equally(values):
    a = np.array(values, dtype=float)
    for reduce, pick in ((eg.max, np.max), (eg.min, np.min)):
        g = eg.evaluate(eg.grad(reduce(x), x), x=a)
        hit = a == pick(a)
        np.testing.assert_allclose(g, hit / hit.sum())


def test_ties_along_an_axis_and_between_two_arguments():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    np.testing.assert_allclose(eg.evaluate(eg.grad(eg.sum(eg.max(X, axis=1)), X), X=a),
                               [[0, 0.5, 0.5], [1, 0, 0]])
    a0, b0 = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])
    np.testing.assert_array_equal(eg.evaluate(eg.maximum(x, y), x=a0, y=b0), np.maximum(a0, b0))
    np.testing.assert_array_equal(eg.evaluate(eg.minimum(x, y), x=a0, y=b0), np.minimum(a0, b0))
    for f, on_x in ((eg.maximum, [0.5, 0, 1]), (eg.minimum, [0.5, 1, 0])):
        np.testing.assert_allclose(eg.evaluate(eg.grad(eg.sum(f(x, y)), x), x=a0, y=b0), on_x)
        np.testing.assert_allclose(eg.evaluate(eg.grad(eg.sum(f(x, y)), y), x=a0, y=b0), 1 - np.array(on_x))
    assert str(eg.maximum(x, 0)) == "y[i] = relu(x[i])"


def test_norm_at_zero_has_the_subgradient_zero_and_its_hessian_a_clear_error():
    zero = np.zeros(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert eg.evaluate(eg.norm(x), x=zero) == 0
        np.testing.assert_array_equal(eg.evaluate(eg.grad(eg.norm(x), x), x=zero), zero)
        with pytest.raises(eg.EinsumgradError, match=r"second derivative of norm\(x\) is undefined at x = 0"):
            eg.evaluate(eg.hessian(eg.norm(x), x), x=zero)


def test_stochastic_checks_its_declaration():
    with pytest.raises(eg.EinsumgradError, match=r"declared to sum to one along axis \(1,\), but its sums range"):
        eg.evaluate(eg.stochastic(Y), Y=np.ones((2, 3)))


@pytest.mark.parametrize("call, message", [
    (lambda: eg.softmax(X, axis=2), r"axis 2 is out of range for an expression of rank 2"),
    (lambda: eg.max(X, axis=(0, 0)), r"names axis 0 twice"),
    (lambda: eg.max(X, keepdims=1), r"keepdims is True or False, got 1"),
    (lambda: eg.logsumexp(X, axis="rows"), r"axis is None, an int or a tuple of ints, got 'rows'"),
])
def test_bad_axes_are_clear_errors(call, message):
    with pytest.raises(eg.EinsumgradError, match=message):
        call()


rng0 = np.random.default_rng(0)
X0, W0, w0, x0, T0 = (rng0.standard_normal(s) for s in ((5, 3), (3, 4), (3,), (4,), (5, 4)))
Y0 = rng0.uniform(0, 1, (5, 4))
P0 = Y0 / Y0.sum(1, keepdims=True)

GOLDEN = [  # (what, derivative, matrix notation, arrays, the value by NumPy)
    ("∂ logsumexp(Xw)/∂w", eg.grad(eg.logsumexp(X @ w), w), "Xᵀ softmax(X w)", dict(X=X0, w=w0),
     X0.T @ softmax(X0 @ w0)),
    ("∂‖x‖/∂x", eg.grad(eg.norm(x), x), "x / ‖x‖", dict(x=x0), x0 / np.linalg.norm(x0)),
    ("∂‖Xw‖/∂w", eg.grad(eg.norm(X @ w), w), "Xᵀ ((X w) / ‖X w‖)", dict(X=X0, w=w0),
     X0.T @ (X0 @ w0) / np.linalg.norm(X0 @ w0)),
    ("cross-entropy, rows of Y declared to sum to one", eg.grad(-eg.sum(eg.stochastic(Y) * eg.log_softmax(X @ W)), W),
     "Xᵀ (softmax(X W) - Y)", dict(X=X0, W=W0, Y=P0), X0.T @ (softmax(X0 @ W0) - P0)),
    ("cross-entropy, general Y", eg.grad(-eg.sum(Y * eg.log_softmax(X @ W)), W), "Xᵀ (diag(Y 𝟙) softmax(X W) - Y)",
     dict(X=X0, W=W0, Y=Y0), X0.T @ (Y0.sum(1, keepdims=True) * softmax(X0 @ W0) - Y0)),
    ("cross-entropy, Y = softmax(T): rows evidently sum to one",
     eg.grad(-eg.sum(eg.softmax(T) * eg.log_softmax(X @ W)), W), "Xᵀ (softmax(X W) - softmax(T))",
     dict(X=X0, W=W0, T=T0), X0.T @ (softmax(X0 @ W0) - softmax(T0))),
    ("Σ softmax is constant", eg.grad(eg.sum(eg.softmax(X)), X), "0", dict(X=X0), np.zeros((5, 3))),
]


@pytest.mark.parametrize("what, d, text, arrays, expected", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_matrix_notation_golden_and_its_value(what, d, text, arrays, expected):
    assert d.matrix_notation() == text
    np.testing.assert_allclose(eg.evaluate(d, **arrays), expected, rtol=1e-12, atol=1e-14)


def test_softmax_regression_hessian_against_differences():
    f = -eg.sum(Y * eg.log_softmax(X @ W))
    assert_derivatives(f, W, dict(X=X0, W=W0, Y=Y0))
    declared = -eg.sum(eg.stochastic(Y) * eg.log_softmax(X @ W))
    assert_derivatives(declared, W, dict(X=X0, W=W0, Y=P0))
    assert_derivatives(declared, Y, dict(X=X0, W=W0, Y=P0))
    assert_derivatives(eg.logsumexp(X @ w), w, dict(X=X0, w=w0))


def test_printing():
    assert str(eg.softmax(X, axis=0)) == "y[i,j] = softmax(X, axis=0)[i,j]"
    assert str(eg.max(X, axis=1, keepdims=True)) == "y[i,j] = max(X, axis=1)[i]"
    assert str(eg.grad(eg.norm(x), x)) == "∂f/∂x[i] = (x / ‖x‖)[i]"
    assert str(eg.grad(eg.max(x), x)) == "∂f/∂x[i] = ismax(x)[i]"
    assert eg.hessian(eg.logsumexp(x), x).matrix_notation() == "diag(softmax(x)) - softmax(x) softmax(x)ᵀ"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpy", "jax", "torch", "dask"])
def test_every_function_compiles_on_every_backend(backend, rng):
    if backend == "dask":
        da = pytest.importorskip("dask.array")
        wrap = lambda a: da.from_array(a, chunks=2)  # noqa: E731
    elif backend != "numpy":
        lib = pytest.importorskip(backend)
        wrap = (lambda a: lib.tensor(a)) if backend == "torch" else (lambda a: lib.numpy.asarray(a, dtype="float32"))
    else:
        wrap = lambda a: a  # noqa: E731
    a = rng.uniform(0.25, 0.8, (3, 4))  # inside every elementwise function's domain
    parts = [getattr(eg, n)(X) for n in ELEMENTWISE if functions.get(n).impl is not None]
    parts += [eg.maximum(X, 0.1), eg.minimum(X, 0.1), eg.softmax(X), eg.log_softmax(X, axis=0)]
    f = eg.sum(sum(parts[1:], parts[0])) + eg.logsumexp(X) + eg.max(X) + eg.min(X) + eg.norm(X)
    g = eg.grad(f, X)
    assert np.isfinite(eg.evaluate(g, X=a)).all()
    got = eg.compile(g, backend=backend)(X=wrap(a))
    got = np.asarray(got.compute() if backend == "dask" else got)
    np.testing.assert_allclose(got, eg.evaluate(g, X=a), rtol=1e-5 if backend == "jax" else 1e-12)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "einsumgrad", *args], capture_output=True, text=True, timeout=120)


def cli_expression(name: str) -> str:
    """A scalar using ``name`` at random normal inputs inside the function's domain (from the registry)."""
    fn = functions.get(name)
    if fn.kind == "elementwise":
        if fn.impl is None:
            return f"sum({name}(x, 0.3 * x))"
        lo, hi = fn.domain
        return f"sum(c * {name}({(lo + hi) / 2} + {0.45 * (hi - lo)} * tanh(x)))"
    return {"stochastic": "sum(c * stochastic(softmax(X)) @ x)", "norm": "norm(X @ x)",
            "max": "sum(c * max(X @ X.T @ x + x, axis=0, keepdims=True))"}.get(name, f"sum(c * {name}(X @ x, axis=0))")


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in functions.public() if functions.get(n).kind != "matrix"])
def test_every_function_through_the_cli(name):
    text = cli_expression(name)
    shapes = ",".join(s for s in ("x=4", "c=4", "X=4x4") if re.search(rf"\b{s[0]}\b", text))
    r = run_cli("hessian", text, "--wrt", "x", "--shapes", shapes, "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert "PASS" in r.stdout, r.stdout


@pytest.mark.slow
def test_softmax_regression_in_the_cli():
    r = run_cli("grad", "-sum(Y * log_softmax(X @ W))", "--wrt", "W", "--matrix")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "matrix notation: Xᵀ (diag(Y 𝟙) softmax(X W) - Y)"
    r = run_cli("grad", "logsumexp(X @ w)", "--wrt", "w", "--matrix", "--shapes", "X=5x3,w=3")
    assert r.returncode == 0 and "matrix notation: Xᵀ softmax(X w)" in r.stdout and "PASS" in r.stdout
    r = run_cli("grad", "softmax(X, axis=3)", "--wrt", "X")
    assert r.returncode == 2 and "axis 3 is out of range" in r.stderr and len(r.stderr.splitlines()) <= 3


def test_the_readme_example():
    L = -eg.sum(eg.stochastic(Y) * eg.log_softmax(X @ W))
    step = eg.compile(L, eg.grad(L, W))
    one_hot = np.eye(4)[[0, 1, 2, 3, 0]]
    value, gradient = step(X=X0, W=W0, Y=one_hot)
    np.testing.assert_allclose(value, -np.sum(one_hot * np.log(softmax(X0 @ W0))), rtol=1e-13)
    np.testing.assert_allclose(gradient, X0.T @ (softmax(X0 @ W0) - one_hot), rtol=1e-12)


def test_numbers_and_empty_axes():
    assert eg.evaluate(eg.max(3.0)) == 3 and eg.evaluate(eg.norm(-2.0)) == 2
    assert eg.evaluate(eg.norm(x), x=np.zeros(0)) == 0
    with pytest.raises(eg.ShapeError, match="axis -1 is out of range for an expression of rank 0"):
        eg.softmax(2.0)
    with pytest.raises(eg.EinsumgradError, match="max: axis 0 has length 0, and max along it has no value"):
        eg.evaluate(eg.max(x), x=np.zeros(0))
    with pytest.raises(eg.EinsumgradError, match="softmax: axis 1 has length 0"):
        eg.evaluate(eg.softmax(X), X=np.zeros((2, 0)))


def test_the_language_reads_the_signatures():
    from einsumgrad.doors.language import parse_expression

    assert parse_expression("max(X, axis=(0, 1), keepdims=True)") == eg.max(X, axis=(0, 1), keepdims=True)
    assert parse_expression("softmax(X @ W, axis=0)") == eg.softmax(X @ W, axis=0)
    assert parse_expression("maximum(x, 0)") == eg.maximum(x, 0)
    for text, message in [("maximum(x)", r"maximum is called as maximum\(a, b\)\n  maximum\(x\)\n  \^"),
                          ("softmax(X, foo=1)", r"unknown keyword 'foo' here .*\n.*\n             \^"),
                          ("max(X, keepdims=1)", "unknown keyword 'keepdims' here"),
                          ("norm(x, ord=1)", "unknown keyword .ord. here")]:
        with pytest.raises(eg.ExpressionSyntaxError, match=message):
            parse_expression(text)


def test_ascii_and_latex_show_the_axes_and_norms():
    assert eg.softmax(X, axis=0).ascii() == "y[i,j] = softmax(X, axis=0)[i,j]"
    assert eg.softmax(X, axis=0).latex() == r"y_{ij} = \operatorname{softmax}(X, axis=0)_{ij}"
    assert eg.norm(X).ascii() == "y = |X|" and eg.norm(X).latex() == r"y = \|X\|"
    assert eg.grad(eg.norm(x), x).ascii().endswith("= (x / |x|)[i]")
