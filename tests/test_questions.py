"""The four questions einsumgrad exists to answer, typed as each student wrote them — in Python and
on the command line — with values checked against central differences and printed results against
the textbook answers (see ../shared/questions in the project's notes, and the README)."""
import subprocess
import sys

import numpy as np
import pytest

import einsumgrad as eg

RNG = np.random.default_rng(11)


def run(*args):
    return subprocess.run([sys.executable, "-m", "einsumgrad", *args], capture_output=True, text=True, timeout=120)


# -- 1. y = Wx: is ∂y/∂W equal to x? the chain rule, the Kronecker product, the update ------------------------

def test_y_equals_wx_in_python():
    J = eg.jacobian("ij,j->i", wrt=0, names="W,x")
    assert J.formula() == "∂y[i]/∂W[j,k] = δ[i,j] x[k]"
    assert J.formula("vec") == "∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I_m (I_m is the m×m identity, m = |y|)"
    W, x, g = RNG.standard_normal((2, 3)), RNG.standard_normal(3), RNG.standard_normal(2)
    value = J(W, x)
    np.testing.assert_allclose(value, np.einsum("ij,k->ijk", np.eye(2), x))  # third order: δ_ij x_k
    np.testing.assert_allclose(J.vjp(g, W, x), np.outer(g, x))  # the chain rule: g xᵀ
    as_vec = value.reshape(2, 6, order="F")  # column-major vec of W, as Magnus–Neudecker
    np.testing.assert_allclose(as_vec, np.kron(x[None, :], np.eye(2)))


def test_y_equals_wx_update_step_through_the_differential():
    g, W, x = eg.tensor("g", 1), eg.tensor("W", 2), eg.tensor("x", 1)
    steps = eg.differential(g @ (W @ x), W).steps
    assert any("g xᵀ" in s.line for s in steps) and "W − η G lowers L" in steps[-1].rule
    a = dict(g=RNG.standard_normal(2), W=RNG.standard_normal((2, 3)), x=RNG.standard_normal(3))
    G = eg.evaluate(eg.grad(g @ (W @ x), W), **a)
    L = lambda W_: a["g"] @ (W_ @ a["x"])  # noqa: E731
    assert L(a["W"] - 1e-3 * G) < L(a["W"])  # a step against G lowers L


@pytest.mark.slow
def test_y_equals_wx_on_the_command_line():
    r = run("jacobian", "ij,j->i", "--names", "W,x", "--layout", "vec")
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "∂y[i]/∂W[j,k] = δ[i,j] x[k]"
    assert "∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I_m (I_m is the m×m identity, m = |y|)" in r.stdout
    r = run("grad", "g @ (W @ x)", "--wrt", "W", "--differential")
    assert r.returncode == 0 and "∂L/∂W[i,j] = g[i] x[j] = g xᵀ" in r.stdout


# -- 2. the dimensions question: L = (X W + b) y, X 1×m, W m×10, b 1×10, y 10×1 ------------------------------

SHAPES = dict(X=(1, 4), W=(4, 10), b=(1, 10), y=(10, 1))


def test_dimensions_in_python():
    X, W, b, y = (eg.tensor(n, s) for n, s in SHAPES.items())
    L = eg.sum((X @ W + b) @ y)
    a = {n: RNG.standard_normal(s) for n, s in SHAPES.items()}
    G = eg.grad(L, W)
    assert G.matrix_notation() == "Xᵀ yᵀ"
    np.testing.assert_allclose(eg.evaluate(G, **a), a["X"].T @ a["y"].T)  # m×10, like W
    np.testing.assert_allclose(eg.evaluate(eg.grad(L, W, layout="numerator"), **a), a["y"] @ a["X"])  # 10×m
    assert eg.check(L, W, **a).passed
    assert "Wikipedia's numerator layout lays it out by Wᵀ: y X, 10×4" in str(eg.explain(L, W))


@pytest.mark.slow
def test_dimensions_on_the_command_line():
    r = run("grad", "sum((X @ W + b) @ y)", "--wrt", "W", "--matrix", "--shapes", "X=1x4,W=4x10,b=1x10,y=10x1")
    assert r.returncode == 0 and "matrix notation: Xᵀ yᵀ" in r.stdout and "PASS" in r.stdout


# -- 3. the orthogonality loss: β Σ_i |Φ_iᵀ Φ_i − I|, Φ l×m×n, ∂L/∂Φ[:, a, b] ------------------------------------

def _closed_form(P, beta):
    """2β Φ_i sign(Φ_iᵀ Φ_i − I) for each Φ_i = Φ[:, i, :], stacked back along the m axis."""
    n = P.shape[2]
    return np.stack([2 * beta * P[:, i, :] @ np.sign(P[:, i, :].T @ P[:, i, :] - np.eye(n))
                     for i in range(P.shape[1])], axis=1)


def test_orthogonality_in_python():
    Φ, β = eg.tensor("Φ", 3), eg.scalar("β")
    L = β * eg.sum(eg.abs(eg.einsum("lmj,lmk->mjk", Φ, Φ) - eg.eye(Φ.shape[2])))
    P, beta = RNG.standard_normal((4, 3, 2)), 0.3
    g = eg.grad(L, Φ, indices="lab")
    assert str(g).startswith("∂f/∂Φ[l,a,b] = ")
    np.testing.assert_allclose(eg.evaluate(g, Φ=P, β=beta), _closed_form(P, beta))
    a, b = 1, 0
    np.testing.assert_allclose(eg.evaluate(g[:, a, b], Φ=P, β=beta), _closed_form(P, beta)[:, a, b])
    assert eg.check(L, Φ, Φ=P, β=beta).passed


@pytest.mark.slow
def test_orthogonality_on_the_command_line():
    r = run("grad", "β * sum(abs(einsum('lmj,lmk->mjk', Φ, Φ) - I))", "--wrt", "Φ", "--shapes", "Φ=4x3x2")
    assert r.returncode == 0, r.stderr
    assert "sign(Σ_m Φ[m,j,k] Φ[m,j,l] - δ[k,l])" in r.stdout and "PASS" in r.stdout


# -- 4. ½‖Y − h(XΘ)‖²: the gradient's shape, and ∂Θ/∂L -------------------------------------------------------------

@pytest.mark.parametrize("h", ["generic", "tanh"])
def test_half_sse_in_python(h):
    X, Θ, Y = eg.tensor("X", (5, 3)), eg.tensor("Θ", (3, 2)), eg.tensor("Y", (5, 2))
    if h == "generic":
        fn = eg.function("h_q", np.sin, np.cos)  # a name of its own: functions are registered for the process
        value, slope = np.sin, np.cos
    else:
        fn, value, slope = eg.tanh, np.tanh, lambda z: 1 - np.tanh(z) ** 2
    L = 0.5 * eg.sum((Y - fn(X @ Θ)) ** 2)
    a = dict(X=RNG.standard_normal((5, 3)), Θ=RNG.standard_normal((3, 2)), Y=RNG.standard_normal((5, 2)))
    G = eg.grad(L, Θ)
    Z = a["X"] @ a["Θ"]
    np.testing.assert_allclose(eg.evaluate(G, **a), a["X"].T @ ((value(Z) - a["Y"]) * slope(Z)))  # shaped like Θ
    assert eg.check(L, Θ, **a).passed
    expected = "-Xᵀ (h_q′(X Θ) ⊙ (Y - h_q(X Θ)))" if h == "generic" else "-Xᵀ ((Y - tanh(X Θ)) ⊙ (1 - tanh(X Θ)^∘2))"
    assert G.matrix_notation() == expected
    with pytest.raises(eg.EinsumgradError, match=r"∂L/∂Θ \(eg.grad\(L, Θ\)\), shaped like Θ.* Θ ← Θ − η ∂L/∂Θ"):
        eg.grad(Θ, eg.Expression(L.node, "L"))


@pytest.mark.slow
def test_half_sse_on_the_command_line():
    r = run("grad", "0.5 * sum((Y - h(X @ Θ))**2)", "--wrt", "Θ", "--matrix")
    assert r.returncode == 0 and "matrix notation: -Xᵀ (h′(X Θ) ⊙ (Y - h(X Θ)))" in r.stdout
    assert "h is not a known function" in r.stderr and "Y is taken" not in r.stderr  # Y: a matrix by its use
    r = run("grad", "0.5 * sum((Y - tanh(X @ Θ))**2)", "--wrt", "Θ", "--shapes", "X=5x3,Θ=3x2,Y=5x2")
    assert r.returncode == 0 and "PASS" in r.stdout
    r = run("grad", "Θ", "--wrt", "0.5 * sum((Y - tanh(X @ Θ))**2)")
    assert r.returncode == 2 and "∂L/∂Θ" in r.stderr and "∂L/∂W" not in r.stderr and r.stderr.count("\n") == 1
