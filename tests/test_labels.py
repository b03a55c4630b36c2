"""A derivative's identity is a Label (f and its indices, each variable with its indices, the
layout, dup or H v), which printing, layouts, check, codegen and vec read; no printed name is
parsed back."""
import ast
import pathlib

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.notation.label import Label

W, x, y, A = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("y", 1), eg.tensor("A", 2)
S = eg.tensor("S", 2, symmetric=True)
RNG = np.random.default_rng(0)
PACKAGE = pathlib.Path(eg.__file__).parent


def test_jacobian_grad_hessian_labels():
    J = eg.jacobian(eg.tanh(W @ x), W)
    assert J.label == Label("f", (("W", ("j", "k")),), f_idx=("i",))
    g = eg.grad(eg.sum(eg.tanh(W @ x)), W, layout="numerator")
    assert g.label == Label("f", (("W", ("i", "j")),), layout="numerator") and g.node.out == ("j", "i")
    H = eg.hessian(x @ A @ x, x)
    assert H.label == Label("f", (("x", ("i",)), ("x", ("j",))))
    assert (H.label.order, H.label.variables, H.label.indices) == (2, ("x", "x"), ("i", "j"))
    named = eg.grad(eg.Expression(eg.sum(x * x).node, "loss"), x)
    assert named.label.f == "loss" and str(named) == "∂loss/∂x[i] = 2 x[i]"
    Jeinsum = eg.jacobian("ij,j->i", 0, names=["W", "x"]).expression(np.ones((2, 3)), np.ones(3))
    assert Jeinsum.label == Label("y", (("W", ("j", "k")),), f_idx=("i",))


def test_hvp_and_duplication_labels_print_as_before_and_better():
    Hv = eg.hvp(x @ A @ x, x, y)
    assert Hv.label.direction == "y" and Hv.label.order == 2 and not Hv.label.partial
    assert str(Hv).startswith("Hv[i] = ") and Hv.latex().startswith(r"\mathrm{Hv}_{i} = ")
    assert "    return Hv" in eg.codegen(Hv)
    d = eg.grad(eg.trace(A @ S), S, convention="duplication")
    assert d.label.convention == "duplication"
    assert str(d).startswith("dup(∂f/∂S)[i,j] = ")
    assert d.ascii().startswith("dup(d f / d S)[i,j] = ")  # was dup(∂f/∂S) in ASCII
    assert d.latex().startswith(r"\operatorname{dup}\left(\frac{\partial f}{\partial S}\right)_{ij} = ")


def test_a_derivative_of_a_derivative_is_a_mixed_derivative():
    f = x @ A @ y
    J = eg.jacobian(eg.grad(f, x), y)  # was printed ∂f[i]/∂y[j], as if f had an index
    assert J.label == Label("f", (("x", ("i",)), ("y", ("j",))))
    assert str(J) == "∂²f/∂x[i]∂y[j] = A[i,j]"
    assert J.ascii() == "d^2 f / d x[i] d y[j] = A[i,j]"
    assert J.latex() == r"\frac{\partial^{2} f}{\partial x_{i} \partial y_{j}} = A_{ij}"
    assert J.formula("vec") == "∂vec(∂f/∂x)/∂vec(y)ᵀ = A"
    assert "d2f_dx_dy = " in eg.codegen(J)
    assert eg.jacobian(eg.grad(f, x), x).label == eg.hessian(f, x).label  # one way to name ∂²f/∂x∂x
    T = eg.jacobian(eg.hessian(eg.sum(x * x * x), x), x)
    assert str(T).startswith("∂³f/∂x[i]∂x[j]∂x[k] = ") and T.ascii().startswith("d^3 f / d x[i] d x[j] d x[k]")
    a = {"x": RNG.standard_normal(3), "A": RNG.standard_normal((3, 3)), "y": RNG.standard_normal(3)}
    np.testing.assert_allclose(eg.evaluate(J, **a), a["A"])
    np.testing.assert_allclose(eg.evaluate(T, x=a["x"]), 6 * np.einsum("i,ij,ik->ijk", np.ones(3), np.eye(3),
                                                                       np.eye(3)), atol=1e-12)


def test_a_laid_out_derivative_keeps_its_indices_apart_from_its_axes():
    g = eg.grad(eg.sum(eg.tanh(W @ x)), W, layout="numerator")
    J = eg.jacobian(g, x)  # g's axes are (j, i); its label says which is W's row
    assert J.label == Label("f", (("W", ("i", "j")), ("x", ("k",))))
    assert str(J).startswith("∂²f/∂W[i,j]∂x[k] = ")
    a = {"W": RNG.standard_normal((2, 3)), "x": RNG.standard_normal(3)}
    np.testing.assert_allclose(eg.evaluate(J, **a), np.swapaxes(eg.evaluate(eg.jacobian(eg.grad(
        eg.sum(eg.tanh(W @ x)), W), x), **a), 0, 1))
    assert "like W" not in eg.codegen(g)  # a numerator-layout gradient is shaped like Wᵀ
    assert "like W" in eg.codegen(eg.grad(eg.sum(eg.tanh(W @ x)), W))
    assert eg.grad(eg.sum(eg.tanh(W @ x)), W, layout="numerator").formula("vec").startswith("∂vec(f)/∂vec(W)ᵀ = ")


def test_check_labels_read_the_label():
    a = {"W": RNG.standard_normal((2, 3)), "x": RNG.standard_normal(3)}
    J = eg.jacobian(eg.tanh(W @ x), W)
    assert eg.check(J, x, **a).label == "∂²f/∂W∂x"  # was ∂f/∂x: the derivative's history lost
    assert eg.check(eg.grad(eg.sum(eg.tanh(W @ x)), W), x, **a).label == "∂²f/∂W∂x"
    assert eg.check(eg.tanh(W @ x), x, **a).label == "∂f/∂x"
    assert eg.check(eg.Expression((W @ x).node, "z"), x, **a).label == "∂z/∂x"


def test_a_name_that_looks_like_a_derivative_is_only_a_name():
    """What a regex over printed names misreads: a user's name spelled like a derivative, and
    tensors and functions with names past ASCII (``Θ``, ``ℓ``)."""
    a = {"W": RNG.standard_normal((2, 3)), "x": RNG.standard_normal(3)}
    fake = eg.Expression(eg.sum(eg.tanh(W @ x)).node, "∂L/∂W[i,j]", frozenset({"W", "x"}))
    assert fake.label is None
    assert str(fake).startswith("∂L/∂W[i,j] = ") and fake.ascii().startswith("∂L/∂W[i,j] = ")
    assert eg.check(fake, x, **a).label == "∂f/∂x"  # was ∂²L/∂W∂x
    assert "grad_W" not in eg.codegen(fake) and "value = " in eg.codegen(fake)  # was grad_W
    with pytest.raises(eg.EinsumgradError, match="is for a first derivative"):
        fake.formula("vec")
    Wt, ell = eg.tensor("Θ", 2), eg.function(
        "ℓ", np.tanh, lambda u: 1 - np.tanh(u) ** 2, lambda u: -2 * np.tanh(u) * (1 - np.tanh(u) ** 2))
    L = eg.sum(ell(Wt @ x))
    g = eg.grad(L, Wt, layout="numerator")
    assert str(g).startswith("∂f/∂Θ[i,j] = ") and g.latex().startswith(r"\frac{\partial f}{\partial \Theta_{ij}}")
    b = {"Θ": a["W"], "x": a["x"]}
    closed = np.outer(1 - np.tanh(a["W"] @ a["x"]) ** 2, a["x"])
    np.testing.assert_allclose(eg.evaluate(g, **b), closed.T)
    assert eg.check(g, x, **b).passed and eg.check(g, x, **b).label == "∂²f/∂Θ∂x"
    with pytest.raises(eg.EinsumgradError, match=r"∂f/∂Θ\[i,j\]\.formula\('vec'\)"):
        eg.grad(L, Wt, layout="vec")
    with pytest.raises(eg.EinsumgradError, match="∂f/∂Θ is a vector by a matrix"):
        eg.jacobian(ell(Wt @ x), Wt, layout="numerator")


MODULES = ("notation/render.py", "api.py", "expression.py", "compiler/codegen.py", "notation/label.py",
           "notation/teach.py", "notation/differential.py", "einsum_jacobian.py")


@pytest.mark.parametrize("module", MODULES)
def test_no_module_that_handles_derivatives_uses_regular_expressions(module):
    """The structural check behind 'nothing parses a printed name': these modules import no ``re``
    and call no string parsing on an expression's name."""
    tree = ast.parse((PACKAGE / module).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names} | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "re" not in imported
    for n in ast.walk(tree):  # no name.split(...), name.startswith(...), ... on a .name attribute
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Attribute):
            assert not (n.func.value.attr == "name" and n.func.attr in {"split", "partition", "startswith", "find",
                                                                         "index", "strip", "replace"}), ast.unparse(n)
