"""Magnus–Neudecker's ∂vec(y)/∂vec(X)ᵀ: each Kronecker formula, evaluated with np.kron, against the
Jacobian reshaped with vec stacking columns (column-major)."""
import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.doors.cli import main

A, B, X, W = (eg.tensor(n, 2) for n in "ABXW")
x, g = eg.tensor("x", 1), eg.tensor("g", 1)


def vec_of(jacobian: np.ndarray, k: int) -> np.ndarray:
    """A shape-layout Jacobian with k axes of y as ∂vec(y)/∂vec(X)ᵀ, vec column-major."""
    return jacobian.reshape((int(np.prod(jacobian.shape[:k])), -1), order="F")


def commutation(m: int, n: int) -> np.ndarray:
    """K with K vec(X) = vec(Xᵀ) for X of shape (m, n)."""
    K = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            K[i * n + j, j * m + i] = 1
    return K


def test_the_einsum_jacobian_of_y_equals_wx(rng):
    J = eg.jacobian("ij,j->i", names="W,x")
    assert J.formula("vec") == "∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I_m (I_m is the m×m identity, m = |y|)"
    W0, x0 = rng.standard_normal((2, 3)), rng.standard_normal(3)
    expected = np.kron(x0[None, :], np.eye(2))
    np.testing.assert_allclose(vec_of(J(W0, x0), 1), expected)
    np.testing.assert_allclose(eg.jacobian("ij,j->i", names="W,x", layout="vec")(W0, x0), expected)


def test_the_einsum_jacobian_of_axb(rng):
    J = eg.jacobian("ij,jk,kl->il", wrt=1, names="A,X,B")
    assert J.formula("vec") == "∂vec(y)/∂vec(X)ᵀ = Bᵀ ⊗ A"
    A0, X0, B0 = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    np.testing.assert_allclose(vec_of(J(A0, X0, B0), 2), np.kron(B0.T, A0))


def _arrays(rng):
    return dict(A=rng.standard_normal((3, 3)), B=rng.standard_normal((3, 3)), X=rng.standard_normal((3, 3)) + 3 * np.eye(3),
                W=rng.standard_normal((2, 3)), x=rng.standard_normal(3), g=rng.standard_normal(2))


I3, K33 = np.eye(3), commutation(3, 3)
EXPRESSIONS = [  # (f, wrt, formula, the formula in NumPy)
    (W @ x, W, "xᵀ ⊗ I_m", lambda a: np.kron(a["x"][None, :], np.eye(2))),
    (A @ X @ B, X, "Bᵀ ⊗ A", lambda a: np.kron(a["B"].T, a["A"])),
    (X.T @ X, X, "(Xᵀ ⊗ I_m) K + I_m ⊗ Xᵀ", lambda a: np.kron(a["X"].T, I3) @ K33 + np.kron(I3, a["X"].T)),
    (eg.inv(X), X, "-(X⁻ᵀ ⊗ X⁻¹)", lambda a: -np.kron(np.linalg.inv(a["X"]).T, np.linalg.inv(a["X"]))),
    (eg.tanh(W @ x), W, "xᵀ ⊗ diag(1 - tanh(W x)^∘2)",
     lambda a: np.kron(a["x"][None, :], np.diag(1 - np.tanh(a["W"] @ a["x"]) ** 2))),
    (g @ (W @ x), W, "xᵀ ⊗ gᵀ", lambda a: np.kron(a["x"][None, :], a["g"][None, :])),
    (W @ x, x, "W", lambda a: a["W"]),
]


@pytest.mark.parametrize("f, wrt, formula, numpy", EXPRESSIONS, ids=[e[2] for e in EXPRESSIONS])
def test_expression_jacobians(rng, f, wrt, formula, numpy):
    a = _arrays(rng)
    J = eg.jacobian(f, wrt)
    text = J.formula("vec")
    assert text.startswith(f"∂vec(f)/∂vec({wrt.name})ᵀ = {formula}")
    assert ("commutation matrix" in text) == (" K" in formula)
    used = {n: v for n, v in a.items() if n in eg.compile(J).names}
    np.testing.assert_allclose(vec_of(eg.evaluate(J, **used), f.ndim), numpy(a), atol=1e-12)


def test_where_there_is_none_it_says_why():
    assert eg.jacobian(X * X, X).formula("vec") == (
        "∂vec(f)/∂vec(X)ᵀ: no Kronecker formula: a factor ties the first axes of y and X to their second axes "
        "(as an elementwise product does), so the Jacobian is no Kronecker product, nor one times K")
    assert eg.jacobian("ijk->i", names="T").formula("vec") == (
        "∂vec(y)/∂vec(T)ᵀ: no Kronecker formula: X has 3 axes; vec and ⊗ here take matrices (and vectors, as one column)")
    with pytest.raises(eg.EinsumgradError, match="formula\\('vec'\\) is for a first derivative"):
        (W @ x).formula("vec")
    with pytest.raises(eg.EinsumgradError, match="layout='vec' reshapes the array, which an expression cannot"):
        eg.jacobian(W @ x, W, layout="vec")


def test_cli_layout_vec(capsys):
    assert main(["jacobian", "ij,j->i", "--names", "W,x", "--layout", "vec"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I_m (I_m is the m×m identity, m = |y|)"
    assert "Magnus–Neudecker's vec layout: ∂vec(y)/∂vec(W)ᵀ, a |y|×|W| matrix, vec stacking columns" in out[1]
    assert main(["grad", "g @ (W @ x)", "--wrt", "W", "--layout", "vec"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "∂vec(f)/∂vec(W)ᵀ = xᵀ ⊗ gᵀ"
