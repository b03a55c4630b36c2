"""Issue 21, items 6, 7 and 13: the identity of a Kronecker product carries its size (I_m), the
numerator layout of a gradient by a vector is the textbook's row, and the teaching output's details
(one letter per axis, labels a reader can read, no tautologies, the CLI's --ascii and exit codes,
the page's own words in its errors)."""
import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.doors import cli

RNG = np.random.default_rng(21)


def _cli(capsys, *argv):
    status = cli.main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


# item 6: ∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I_m, m the length of y


def test_the_kronecker_identity_carries_its_size_in_python():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    assert eg.jacobian(W @ x, W).formula("vec") == "∂vec(f)/∂vec(W)ᵀ = xᵀ ⊗ I_m (I_m is the m×m identity, m = |f|)"
    assert eg.jacobian("ij,j->i", names="W,x").formula("vec").startswith("∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I_m (")
    X, A, B = (eg.tensor(n, 2) for n in "XAB")
    assert eg.jacobian(X @ B, X).formula("vec").startswith("∂vec(f)/∂vec(X)ᵀ = Bᵀ ⊗ I_m (I_m is the m×m identity, "
                                                           "f being m×p)")
    assert eg.jacobian(A @ X, X).formula("vec").startswith("∂vec(f)/∂vec(X)ᵀ = I_p ⊗ A (I_p is the p×p identity")


def test_a_known_size_is_the_identitys_subscript_and_the_formula_evaluates():
    W, x = eg.tensor("W", (2, 3)), eg.tensor("x", (3,))
    assert eg.jacobian(W @ x, W).formula("vec") == "∂vec(f)/∂vec(W)ᵀ = xᵀ ⊗ I_2"
    W0, x0 = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
    J = eg.evaluate(eg.jacobian(W @ x, W), W=W0, x=x0).reshape(2, -1, order="F")
    np.testing.assert_allclose(J, np.kron(x0[None, :], np.eye(2)))  # xᵀ ⊗ I_2


def test_the_kronecker_steps_name_the_identity_in_unicode_and_latex(capsys):
    status, out, _ = _cli(capsys, "jacobian", "W @ x", "--wrt", "W", "--layout", "vec", "--explain")
    assert status == 0 and "∂vec(f)/∂vec(W)ᵀ = xᵀ ⊗ I_m\n" in out and "here I_m is the m×m identity, m = |f|" in out
    assert "∂L/∂vec(W)ᵀ = gᵀ (xᵀ ⊗ I_m) = vec(g xᵀ)ᵀ" in out
    status, out, _ = _cli(capsys, "jacobian", "W @ x", "--wrt", "W", "--layout", "vec", "--explain", "--latex")
    assert status == 0 and r"x^{\top} \otimes I_{m}" in out and r"\mathrm{I\_m}" not in out


# item 7: the numerator layout of a gradient by a vector is the textbook's row ∂L/∂y W, kept 1-D


def _chain():
    W, x, g = eg.tensor("W", (2, 3)), eg.tensor("x", (3,)), eg.tensor("g", (2,))
    a = {"W": RNG.standard_normal((2, 3)), "x": RNG.standard_normal(3), "g": RNG.standard_normal(2)}
    return W, x, g, a


def test_the_numerator_gradient_by_a_vector_is_the_row_in_python():
    W, x, g, a = _chain()
    row = eg.grad(g @ (W @ x), x, layout="numerator")
    assert row.matrix_notation() == "gᵀ W" and row.matrix_notation(latex=True) == r"g^{\top} W"
    assert eg.grad(g @ (W @ x), x).matrix_notation() == "Wᵀ g"  # the shape layout: the column, like x
    value = eg.evaluate(row, **a)
    assert value.shape == (3,)  # 1-D: x - η row keeps x's shape
    np.testing.assert_allclose(value, a["g"] @ a["W"])
    s = eg.tensor("s", ())
    assert eg.jacobian(W @ x * s, s, layout="denominator").matrix_notation() == "xᵀ Wᵀ"  # ∂y/∂s's row
    assert eg.jacobian(W @ x * s, s, layout="numerator").matrix_notation() == "W x"


def test_the_textbooks_chain_rule_multiplies_rows_by_jacobians():
    """∂L/∂x = ∂L/∂y ∂y/∂x in the numerator layout: a row (1×m) times an m×n Jacobian, with NumPy's @."""
    W, x, g, a = _chain()
    y = eg.tanh(W @ x)
    L = g @ y
    y0 = np.tanh(a["W"] @ a["x"])
    dL_dy = eg.evaluate(eg.grad(g @ eg.tensor("y", (2,)), "y", layout="numerator"), g=a["g"], y=y0)
    dy_dx = eg.evaluate(eg.jacobian(y, x, layout="numerator"), **{n: a[n] for n in "Wx"})
    np.testing.assert_allclose(dL_dy @ dy_dx, eg.evaluate(eg.grad(L, x, layout="numerator"), **a))


def test_the_numerator_row_on_the_command_line_and_in_the_einsum_jacobian(capsys):
    status, out, _ = _cli(capsys, "grad", "g @ (W @ x)", "--wrt", "x", "--layout", "numerator", "--matrix")
    assert status == 0 and "matrix notation: gᵀ W\n" in out
    assert ("Wikipedia's numerator layout: the row J[i], 1×|x|, as the textbooks write it; kept a 1-D array of |x| "
            "(NumPy's vectors have no orientation: row @ J is the chain rule's product)") in out
    J = eg.jacobian("i,ij,j->", names="g,W,x", wrt=2, layout="numerator")
    assert "Wikipedia's numerator layout: the row J[i], 1×|x|" in str(J)
    assert "the row" not in str(eg.jacobian("ij,j->i", names="W,x", wrt=1, layout="numerator"))  # m×n
    status, out, _ = _cli(capsys, "grad", "g @ (W @ x)", "--wrt", "x", "--layout", "numerator", "--explain")
    assert status == 0 and "Wikipedia's numerator layout, the textbooks' (∂f/∂x = ∂f/∂y ∂y/∂x, rows times " \
                           "Jacobians), writes the row gᵀ W, 1×n" in out
