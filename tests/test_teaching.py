"""Teaching output: these strings are the product, so they are tested exactly."""
import re

import numpy as np
import pytest

import einsumgrad as eg

WX = eg.jacobian("ij,j->i", wrt=0, names="W,x")


def test_jacobian_formulas_in_every_notation():
    assert WX.formula() == "∂y[i]/∂W[j,k] = δ[i,j] x[k]"
    assert WX.ascii() == "d y[i] / d W[j,k] = delta(i,j) * x[k]"
    assert WX.formula("subscript") == "∂y_i/∂W_jk = δ_ij x_k"
    with pytest.raises(eg.EinsumgradError, match="style='fancy': choose one of unicode, subscript, ascii, latex, vec"):
        WX.formula("fancy")
    assert WX.latex() == r"\frac{\partial y_{i}}{\partial W_{jk}} = \delta_{ij} x_{k}"
    assert WX._repr_latex_() == f"${WX.latex()}$"
    assert [t.einsum for t in WX.terms] == ["'ij,k->ijk' (δ, x)"]
    assert str(WX) == ("∂y[i]/∂W[j,k] = δ[i,j] x[k]\n"
                       "  where y[i] = Σ_j W[i,j] x[j]; shape layout (as jax.jacobian and torch): J[i,j,k], "
                       "shape y.shape + W.shape")
    den = eg.jacobian("ij,j->i", wrt=1, names="W,x", layout="denominator")
    assert "Wikipedia's denominator layout: J[j,i], laid out by yᵀ and x" in str(den)
    assert eg.jacobian("ij,j->i", wrt=1, names="W,x").formula() == "∂y[i]/∂x[j] = W[i,j]"
    assert eg.jacobian("ii->", names="A").formula() == "∂y/∂A[i,j] = δ[i,j]"
    assert eg.jacobian("ij->", names="A").formula() == "∂y/∂A[i,j] = 1"


def test_the_explanation_of_y_equals_wx():
    assert str(WX.explain()) == """\
1. Write the einsum with its sum explicit:
     y[i] = Σ_j W[i,j] x[j]
2. Differentiate each occurrence of W: ∂W[a,b]/∂W[j,k] = δ[a,j] δ[b,k]:
     ∂y[i]/∂W[j,k] = Σ_l δ[i,j] δ[l,k] x[l]
3. Simplify: the sum over l eliminates δ[l,k]: l becomes k:
     ∂y[i]/∂W[j,k] = δ[i,j] x[k]
4. Result, in the shape layout of jax.jacobian and torch (J[i,j,k] = ∂y[i]/∂W[j,k], shape y.shape + W.shape):
     ∂y[i]/∂W[j,k] = δ[i,j] x[k]
   δ[i,j] is structure, not a number: J is zero unless i = j, so of its |i|·|j|·|k| entries at most |i|·|k| are non-zero.
5. Chain rule with g = ∂L/∂y (shaped like y), contracting over i:
     ∂L/∂W[j,k] = Σ_i g[i] δ[i,j] x[k]
6. Simplify: the sum over i eliminates δ[i,j]: i becomes j:
     ∂L/∂W[j,k] = g[j] x[k]
7. In matrix notation: ∂L/∂W = g xᵀ, shaped like W; the Jacobian itself is never built"""


@pytest.mark.parametrize("spec,names", [("ij,j->i", "W,x"), ("ii->i", "A"), ("ij,jk->ik", "A,B"),
                                        ("iij->j", "T"), ("fdf,cdd,ccd,afe->ae", None)])
def test_every_explained_step_is_a_true_intermediate(spec, names):
    J = eg.jacobian(spec, wrt=0, names=names)
    rng = np.random.default_rng(0)
    sym = J.symbolic
    shapes = {v: tuple(3 for _ in term) for v, term in zip(J.names, J.spec.inputs)}
    arrays = {n: rng.standard_normal(s) for n, s in shapes.items()}
    dense = J(*arrays.values())
    arrays[sym.cotangent] = rng.standard_normal(dense.shape[: sym.y.ndim])
    vjp = J.vjp(arrays[sym.cotangent], *[arrays[n] for n in J.names])
    steps = J.explain().steps
    checked = 0
    for step in steps[1:]:
        if step.expr is None:
            continue
        want = dense if step.expr.ndim == dense.ndim else vjp
        got = eg.compile(step.expr)
        needed = {k: v for k, v in arrays.items() if k in got.names}
        np.testing.assert_allclose(got(**needed), want, atol=1e-12, err_msg=step.rule)
        checked += 1
    assert checked >= 2


def test_expression_explanations_are_true_intermediates():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    P = eg.tensor("P", 3)
    rng = np.random.default_rng(1)
    cases = [
        (eg.sum(eg.tanh(W @ x)), W, dict(W=rng.standard_normal((3, 4)), x=rng.standard_normal(4))),
        (eg.sum(eg.abs(eg.einsum("iaj,iak->ijk", P, P) - 1)), P, dict(P=rng.standard_normal((2, 3, 2)))),
        (x @ eg.tensor("A", 2) @ x, x, dict(x=rng.standard_normal(3), A=rng.standard_normal((3, 3)))),
    ]
    for f, wrt, arrays in cases:
        steps = eg.explain(f, wrt).steps
        want = eg.evaluate(eg.grad(f, wrt), **arrays)
        checked = 0
        for step in steps[1:]:
            if step.expr is not None:
                np.testing.assert_allclose(eg.compile(step.expr)(**arrays), want, atol=1e-12, err_msg=step.rule)
                checked += 1
        assert checked >= 2
    text = str(eg.explain(cases[0][0], W))
    assert "2. Rule: ∂tanh(u)/∂u = 1 - tanh(u)², applied elementwise" in text
    assert "\n6. In matrix notation: ∂f/∂W = (1 - tanh(W x)^∘2) xᵀ\n7. Layouts: " in text


def test_expression_strings():
    W, x, A = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("A", 2)
    assert str(eg.einsum("ij,j->i", W, x)) == "y[i] = Σ_j W[i,j] x[j]"
    assert str(eg.grad(eg.sum(eg.tanh(W @ x)), W)) == "∂f/∂W[i,j] = x[j] (1 - tanh(Σ_k W[i,k] x[k])²)"
    assert eg.grad(eg.sum(eg.tanh(W @ x)), W).ascii() == "d f / d W[i,j] = x[j] * (1 - tanh(sum_k W[i,k] * x[k])**2)"
    H = eg.hessian(x @ A @ x, x)
    assert str(H) == "∂²f/∂x[i]∂x[j] = A[i,j] + A[j,i]"
    assert H.latex() == r"\frac{\partial^{2} f}{\partial x_{i} \partial x_{j}} = A_{ij} + A_{ji}"
    assert eg.grad(eg.logdet(A), A).latex() == r"\frac{\partial f}{\partial A_{ij}} = (A^{-1})_{ji}"
    assert H.einsum_terms() == ["'ij->ij' (A)", "'ji->ij' (A)"]


KNOWN_MACROS = {r"\frac", r"\partial", r"\delta", r"\sum", r"\left", r"\right", r"\operatorname", r"\mathrm",
                r"\tanh", r"\exp", r"\log", r"\sin", r"\cos", r"\det"}


def assert_valid_latex(text):
    depth = 0
    for c in text:
        depth += {"{": 1, "}": -1}.get(c, 0)
        assert depth >= 0, text
    assert depth == 0, text
    assert text.count(r"\left") == text.count(r"\right"), text
    assert set(re.findall(r"\\[A-Za-z]+", text)) <= KNOWN_MACROS, text
    assert "∂" not in text and "Σ" not in text and "δ" not in text, text


def test_latex_is_structurally_valid():
    W, x, A, X = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("A", 2), eg.tensor("X", 2)
    exprs = [eg.grad(eg.sum(eg.tanh(W @ x)), W), eg.hessian(x @ A @ x, x), eg.grad(eg.det(X), X),
             eg.jacobian(eg.inv(X), X), eg.grad(eg.sum(eg.sigmoid(X @ x) ** 3), x), eg.einsum("ii->", A)]
    for e in exprs:
        assert_valid_latex(e.latex())
    for spec in ["ij,j->i", "ii->", "fdf,cdd,ccd,afe->ae", "...ij,...j->...i", "i,j->ij"]:
        for wrt in range(spec.count(",") + 1):
            assert_valid_latex(eg.jacobian(spec, wrt=wrt).latex())


def test_demos_check_themselves(capsys):
    from einsumgrad.doors.demos import DEMOS

    for name, demo in DEMOS.items():
        assert demo() == 0, name
    out = capsys.readouterr().out
    assert "12 entries, 6 non-zero" in out
    assert "FAILED" not in out


def test_plot_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib")
    from einsumgrad.doors.demos import demo_wx

    path = tmp_path / "slices.png"
    assert demo_wx(plot=str(path)) == 0
    assert path.stat().st_size > 1000
