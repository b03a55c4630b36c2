"""Layouts named as their sources define them, and notation that says what it means."""
import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.doors.cli import main
from einsumgrad.notation.layouts import axes
from einsumgrad.notation.render import latex_name

W, A, B = eg.tensor("W", 2), eg.tensor("A", 2), eg.tensor("B", 2)
x, g, y1 = eg.tensor("x", 1), eg.tensor("g", 1), eg.tensor("y", 1)


@pytest.mark.parametrize("k, n, numerator", [(0, 0, ()), (0, 1, (0,)), (1, 0, (0,)), (1, 1, (0, 1)), (0, 2, (1, 0)),
                                             (2, 0, (0, 1))])
def test_wikipedia_layouts(k, n, numerator):
    """Numerator: by y and Xᵀ; denominator: by yᵀ and X, its transpose."""
    assert axes("numerator", k, n) == numerator
    assert axes("denominator", k, n) == numerator[::-1]
    assert axes("shape", k, n) == axes("vec", k, n) == tuple(range(k + n))


def test_wikipedia_defines_no_vector_by_matrix_layout():
    with pytest.raises(eg.EinsumgradError, match="∂y/∂W is a vector by a matrix, which it leaves undefined: use "
                                                  "layout='shape'"):
        eg.jacobian("ij,j->i", names="W,x", layout="numerator")
    with pytest.raises(eg.EinsumgradError, match="layout='rows': choose 'shape'"):
        eg.grad(g @ (W @ x), W, layout="rows")


def test_the_gradient_of_a_scalar_by_a_matrix_in_each_layout(rng):
    L = g @ (W @ x)
    a = dict(W=rng.standard_normal((2, 3)), x=rng.standard_normal(3), g=rng.standard_normal(2))
    G = np.outer(a["g"], a["x"])
    for layout, expected, formula in (("shape", G, "g xᵀ"), ("denominator", G, "g xᵀ"), ("numerator", G.T, "x gᵀ")):
        grad = eg.grad(L, W, layout=layout)
        assert str(grad) == "∂f/∂W[i,j] = g[i] x[j]"  # the same numbers, whichever way they are laid out
        assert grad.matrix_notation() == formula
        np.testing.assert_allclose(eg.evaluate(grad, **a), expected)
    J = eg.jacobian("i,ij,j->", names="g,W,x", wrt=1, layout="numerator")
    np.testing.assert_allclose(J(a["g"], a["W"], a["x"]), G.T)
    assert "Wikipedia's numerator layout: J[j,i], laid out by y and Wᵀ" in str(J)


def test_the_dimensions_question_in_its_own_shapes(rng):
    """L = (X W + b) y with X 1×m, W m×10, b 1×10, y 10×1."""
    X, Wd, b, y = eg.tensor("X", (1, None)), eg.tensor("W", (None, 10)), eg.tensor("b", (1, 10)), eg.tensor("y", (10, 1))
    L = eg.sum((X @ Wd + b) @ y)
    grad = eg.grad(L, Wd)
    assert grad.matrix_notation() == "Xᵀ yᵀ"
    a = dict(X=rng.standard_normal((1, 4)), W=rng.standard_normal((4, 10)), b=rng.standard_normal((1, 10)),
             y=rng.standard_normal((10, 1)))
    np.testing.assert_allclose(eg.evaluate(grad, **a), a["X"].T @ a["y"].T)
    np.testing.assert_allclose(eg.evaluate(eg.grad(L, Wd, layout="numerator"), **a), a["y"] @ a["X"])
    steps = eg.explain(L, Wd).steps
    assert steps[-2].rule == "In matrix notation: ∂f/∂W = Xᵀ yᵀ"
    assert steps[-1].rule == (
        "Layouts: the shape layout (jax, torch) and Wikipedia's denominator layout give ∂f/∂W = Xᵀ yᵀ, m×10 like W, "
        "so that W − η ∂f/∂W is a gradient step; Wikipedia's numerator layout lays it out by Wᵀ: y X, 10×m. Both "
        "hold the same numbers ∂f/∂W[i,j], arranged transposed")


def test_ones_where_an_index_is_broadcast_or_summed_alone(rng):
    a = dict(W=rng.standard_normal((2, 3)), x=rng.standard_normal(3))
    for expr, text, value in [
        (eg.grad(eg.sum(W), W), "𝟙 𝟙ᵀ", np.ones((2, 3))),
        (eg.grad(eg.sum(W @ x), W), "𝟙 xᵀ", np.outer(np.ones(2), a["x"])),
        (eg.sum(W), "𝟙ᵀ W 𝟙", a["W"].sum()),
        (eg.sum(x**2), "(x^∘2)ᵀ 𝟙", np.sum(a["x"] ** 2)),
        (eg.grad(eg.sum(eg.tanh(x)), x), "𝟙 - tanh(x)^∘2", 1 - np.tanh(a["x"]) ** 2),
    ]:
        assert expr.matrix_notation() == text
        np.testing.assert_allclose(eg.evaluate(expr, **{n: a[n] for n in eg.compile(expr).names}), value)


def test_derivative_names_say_what_they_mean():
    J = eg.jacobian(eg.tanh(W @ x), W)
    assert str(J) == "∂f[i]/∂W[j,k] = δ[i,j] x[k] (1 - tanh(Σ_l W[i,l] x[l])²)"
    assert J.ascii() == "d f[i] / d W[j,k] = delta(i,j) * x[k] * (1 - tanh(sum_l W[i,l] * x[l])**2)"
    assert J.latex().startswith(r"\frac{\partial f_{i}}{\partial W_{jk}} = ")
    assert str(eg.jacobian(W @ x, x, layout="denominator")) == "∂f[i]/∂x[j] = W[i,j]"
    H = eg.hessian(x @ A @ x, x)
    assert str(H) == "∂²f/∂x[i]∂x[j] = A[i,j] + A[j,i]"
    assert H.ascii() == "d^2 f / d x[i] d x[j] = A[i,j] + A[j,i]"
    assert H.latex() == r"\frac{\partial^{2} f}{\partial x_{i} \partial x_{j}} = A_{ij} + A_{ji}"
    report = eg.check(eg.grad(x @ A @ x, x), x, x=np.ones(2), A=np.eye(2))
    assert str(report).startswith("PASS: ∂²f/∂x∂x vs central differences")


def test_latex_names_and_matrix_notation():
    assert [latex_name(n) for n in ("Phi", "Φ", "φ", "beta", "W", "W1")] == [
        r"\Phi", r"\Phi", r"\phi", r"\beta", "W", r"\mathrm{W1}"]
    Phi = eg.tensor("Phi", 2)
    grad = eg.grad(eg.logdet(Phi), Phi)
    assert grad.latex() == r"\frac{\partial f}{\partial \Phi_{ij}} = (\Phi^{-1})_{ji}"
    assert grad.matrix_notation(latex=True) == r"\Phi^{-\top}"
    tanh = eg.grad(eg.sum(eg.tanh(W @ x)), W)
    assert tanh.matrix_notation(latex=True) == r"(1 - \tanh(W x)^{\circ 2}) x^{\top}"


def test_cli_shows_the_batch_axes_once_shapes_are_known(capsys):
    assert main(["jacobian", "...ij,...j->...i", "--names", "W,x"]) == 0
    assert "'...' shown empty" in capsys.readouterr().out
    assert main(["jacobian", "...ij,...j->...i", "--names", "W,x", "--shapes", "5x2x3,5x3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "∂y[a,i]/∂W[j,k,l] = δ[a,j] δ[i,k] x[a,l]"
    assert "shown empty" not in out[1]


def test_cli_layouts(capsys):
    assert main(["grad", "g @ (W @ x)", "--wrt", "W", "--layout", "numerator", "--matrix"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "∂f/∂W[i,j] = g[i] x[j]", "matrix notation: x gᵀ", "Wikipedia's numerator layout: J[j,i], laid out by f and Wᵀ"]
    assert main(["jacobian", "ij,j->i", "--names", "W,x", "--layout", "denominator"]) == 2
    assert "leaves undefined" in capsys.readouterr().err
