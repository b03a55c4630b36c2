"""Derivatives by a symmetric matrix: along symmetric directions, checked by central differences."""
import subprocess
import sys

import numpy as np
import pytest

import einsumgrad as eg
from oracles import central_difference, second_difference

N = 3
A, B, x = eg.tensor("A", (N, N)), eg.tensor("B", (N, N)), eg.tensor("x", (N,))
S = eg.tensor("S", 2, symmetric=True)


def symmetric(rng, n=N, spd=False):
    m = rng.standard_normal((n, n))
    return m @ m.T + n * np.eye(n) if spd else m + m.T


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    return dict(A=rng.standard_normal((N, N)), B=rng.standard_normal((N, N)), x=rng.standard_normal(N),
                S=symmetric(rng, spd=True))


SCALARS = {
    "tr(A S)": eg.trace(A @ S),
    "xᵀ S x": x @ S @ x,
    "logdet S": eg.logdet(S),
    "tr(S A S B)": eg.trace(S @ A @ S @ B),
    "Σ tanh(S x)": eg.sum(eg.tanh(S @ x)),
    "xᵀ S⁻¹ x": x @ eg.inv(S) @ x,
}


def ev(e, a, **more):
    """``e`` evaluated on those of the arrays ``a`` (and ``more``) it reads."""
    return eg.evaluate(e, **{n: v for n, v in {**a, **more}.items() if n in e.tensors})


def value(L, a):
    return lambda s: ev(L, a, S=s)


@pytest.mark.parametrize("name", SCALARS)
@pytest.mark.parametrize("seed", [0, 1])
def test_the_gradient_is_symmetric_and_gives_the_directional_derivative(name, seed):
    L, a = SCALARS[name], arrays(seed)
    G = ev(eg.grad(L, S), a)
    np.testing.assert_allclose(G, G.T, atol=1e-12)
    E = symmetric(np.random.default_rng(seed + 10))
    np.testing.assert_allclose(np.sum(G * E), central_difference(value(L, a), a["S"], E), rtol=1e-6, atol=1e-8)


def test_closed_forms():
    a = arrays()
    np.testing.assert_allclose(ev(eg.grad(SCALARS["tr(A S)"], S), a), (a["A"] + a["A"].T) / 2)
    np.testing.assert_allclose(ev(eg.grad(SCALARS["xᵀ S x"], S), a), np.outer(a["x"], a["x"]))
    np.testing.assert_allclose(ev(eg.grad(SCALARS["logdet S"], S), a), np.linalg.inv(a["S"]), atol=1e-12)


@pytest.mark.parametrize("name", ["logdet S", "tr(S A S B)", "Σ tanh(S x)"])
def test_the_hessian_along_symmetric_directions(name):
    L, a = SCALARS[name], arrays(2)
    H = ev(eg.hessian(L, S), a)
    assert H.shape == (N, N, N, N)
    np.testing.assert_allclose(H, H.transpose(0, 1, 3, 2), atol=1e-12)  # symmetrised over the wrt axes
    np.testing.assert_allclose(H, H.transpose(1, 0, 2, 3), atol=1e-12)  # a derivative of a symmetric gradient
    rng = np.random.default_rng(3)
    E, F = symmetric(rng), symmetric(rng)
    s = a["S"]
    np.testing.assert_allclose(np.einsum("ij,ijkl,kl->", E, H, E), second_difference(value(L, a), s, E),
                               rtol=1e-4, atol=1e-6)
    dG = central_difference(lambda t: ev(eg.grad(L, S), a, S=t), s, F)
    np.testing.assert_allclose(np.einsum("ijkl,kl->ij", H, F), dG, rtol=1e-6, atol=1e-8)
    V = eg.tensor("V", 2, symmetric=True)
    np.testing.assert_allclose(ev(eg.hvp(L, S, V), a, V=F), dG, rtol=1e-6, atol=1e-8)


def test_the_jacobian_of_a_matrix_by_a_symmetric_matrix():
    f, a = A @ S @ S, arrays(4)
    J = ev(eg.jacobian(f, S), a)
    np.testing.assert_allclose(J, J.transpose(0, 1, 3, 2), atol=1e-12)
    E = symmetric(np.random.default_rng(5))
    np.testing.assert_allclose(np.einsum("ijkl,kl->ij", J, E), central_difference(value(f, a), a["S"], E),
                               rtol=1e-6, atol=1e-8)
    with pytest.raises(eg.EinsumgradError, match="at most two axes"):  # Wikipedia's layouts stop at matrices
        eg.jacobian(f, S, layout="denominator")


def test_check_moves_a_symmetric_tensor_along_symmetric_directions():
    a = arrays()
    assert eg.check(SCALARS["Σ tanh(S x)"], S, S=a["S"], x=a["x"]).passed
    assert eg.check(A @ S @ x, S, A=a["A"], S=a["S"], x=a["x"]).passed


def test_the_duplication_convention_is_the_derivative_by_each_distinct_entry():
    L, a = SCALARS["tr(S A S B)"], arrays(6)
    D = ev(eg.grad(L, S, convention="duplication"), a)
    G = ev(eg.grad(L, S), a)
    np.testing.assert_allclose(D, 2 * G - np.diag(np.diag(G)), atol=1e-12)
    for i, j in [(0, 0), (0, 1), (1, 2)]:  # S[i,j] and S[j,i] move together
        e = np.zeros((N, N))
        e[i, j] = e[j, i] = 1
        np.testing.assert_allclose(D[i, j], central_difference(value(L, a), a["S"], e), rtol=1e-6)
    E = symmetric(np.random.default_rng(7))  # ... which is not a gradient: <D, E> is not dL(E)
    assert not np.isclose(np.sum(D * E), central_difference(value(L, a), a["S"], E))


def test_printing():
    assert str(eg.grad(eg.trace(A @ S), S)) == "∂f/∂S[i,j] = 0.5 (A[i,j] + A[j,i])"
    assert eg.grad(eg.trace(A @ S), S).matrix_notation() == "0.5 (A + Aᵀ)"
    assert eg.grad(eg.trace(A @ S), S).ascii() == "d f / d S[i,j] = 0.5 * (A[i,j] + A[j,i])"
    assert str(eg.grad(x @ S @ x, S)) == "∂f/∂S[i,j] = x[i] x[j]"  # already symmetric: no brackets
    assert str(eg.grad(eg.trace(S @ S), S)) == "∂f/∂S[i,j] = 2 S[i,j]"  # S[j,i] is S[i,j]
    assert eg.grad(eg.trace(A @ S @ S), S).matrix_notation() == "0.5 (A S + Aᵀ S + S Aᵀ + S A)"
    assert str(eg.grad(eg.trace(A @ S), S, convention="duplication")) == (
        "dup(∂f/∂S)[i,j] = A[i,j] + A[j,i] - δ[i,j] A[i,i]")
    assert str(eg.grad(eg.logdet(S), S)) == "∂f/∂S[i,j] = inv(S)[i,j]"  # inv(S) is symmetric too
    assert eg.grad(eg.logdet(S), S).matrix_notation() == "S⁻¹"
    assert str(eg.grad(eg.det(S), S)) == "∂f/∂S[i,j] = adj(S)[i,j]"
    quadratic = eg.grad(x @ eg.inv(S) @ x, S)  # the symmetrised terms are one term renamed: they merge
    assert str(quadratic) == "∂f/∂S[i,j] = -Σ_k,l x[k] x[l] inv(S)[i,k] inv(S)[j,l]"
    assert quadratic.matrix_notation() == "-S⁻¹ x (S⁻¹ x)ᵀ"
    assert str(eg.hessian(eg.logdet(S), S)) == (
        "∂²f/∂S[i,j]∂S[k,l] = -0.5 (inv(S)[i,k] inv(S)[j,l] + inv(S)[i,l] inv(S)[j,k])")


def test_explain_says_where_symmetry_entered():
    steps = eg.explain(eg.trace(A @ S), S).steps
    assert steps[-3].rule.startswith("S is symmetric, so it moves only along symmetric directions E")
    assert steps[-3].line == "∂f/∂S[i,j] = 0.5 (A[i,j] + A[j,i])"
    assert steps[-2].rule == "In matrix notation: ∂f/∂S = 0.5 (A + Aᵀ)"
    assert steps[-1].rule.startswith("Layouts: ")
    a = arrays()
    np.testing.assert_allclose(eg.evaluate(steps[-3].expr, A=a["A"], S=a["S"]), (a["A"] + a["A"].T) / 2)


def test_shapes_of_a_symmetric_tensor():
    assert eg.tensor("S", (3, None), symmetric=True).shape == (3, 3)
    assert eg.tensor("S", (None, None), symmetric=True).shape == (("S", 0), ("S", 0))


@pytest.mark.parametrize("make,match", [
    (lambda: eg.tensor("S", 3, symmetric=True), r"tensor 'S': a symmetric tensor is a matrix \(rank 2\), got rank 3"),
    (lambda: eg.tensor("S", (2, 3), symmetric=True), r"tensor 'S': a symmetric matrix is square, got shape \(2, 3\)"),
    (lambda: eg.grad(eg.trace(A @ S), S, convention="vech"), r"convention='vech': choose 'symmetric'"),
    (lambda: eg.grad(eg.trace(A @ B), B, convention="duplication"), r"'B' is not one"),
])
def test_errors(make, match):
    with pytest.raises(eg.EinsumgradError, match=match):
        make()


def test_evaluation_refuses_an_array_that_is_not_symmetric():
    f, a = eg.compile(eg.trace(A @ S)), arrays()
    del a["B"], a["x"]
    with pytest.raises(eg.EinsumgradError, match=r"tensor 'S' is declared symmetric, but its array is not: "
                                                 r"the largest \|S - Sᵀ\| is 1, over the tolerance"):
        f(A=a["A"], S=a["S"] + np.triu(np.ones((N, N)), 1))
    f(A=a["A"], S=a["S"] + 1e-12 * np.triu(np.ones((N, N)), 1))  # rounding is tolerated
    with pytest.raises(eg.ShapeError, match=r"tensor 'S' needs shape \(3, 3\) here, but its array has shape \(3, 4\)"):
        eg.evaluate(eg.trace(eg.tensor("S", 2, symmetric=True) @ eg.tensor("C", 2)), S=np.ones((3, 4)), C=np.ones((4, 3)))


def test_a_symmetric_and_a_plain_tensor_of_one_name_are_different():
    plain = eg.tensor("S", 2)
    with pytest.raises(eg.EinsumgradError, match="two different tensors are named 'S'"):
        eg.grad(eg.trace(A @ S), plain)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "einsumgrad", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_the_command_line():
    r = cli("grad", "trace(A @ S)", "--wrt", "S", "--symmetric", "S", "--matrix")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["∂f/∂S[i,j] = 0.5 (A[i,j] + A[j,i])", "matrix notation: 0.5 (A + Aᵀ)"]
    for command in ("grad", "hessian"):
        r = cli(command, "logdet(S) + x @ S @ x", "--wrt", "S", "--symmetric", "S", "--shapes", "S=3x3,x=3")
        assert r.returncode == 0, r.stderr
        assert "PASS" in r.stdout
    r = cli("grad", "trace(A @ S)", "--wrt", "S", "--symmetric", "S", "--explain")
    assert "S is symmetric" in r.stdout
    r = cli("grad", "trace(A @ S)", "--wrt", "S", "--symmetric", "T")
    assert r.returncode == 2
    assert r.stderr == "einsumgrad: error: --symmetric names T, which the expression does not read (it reads A, S)\n"
