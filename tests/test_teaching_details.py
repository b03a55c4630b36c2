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
