"""Expressions: closed forms from the questions people ask and the Matrix Cookbook,
each also checked against central finite differences."""
import numpy as np
import pytest

import einsumgrad as eg


def assert_derivative(f, wrt, closed_form, **arrays):
    """The symbolic gradient equals the closed form and passes a finite-difference check."""
    g = eg.evaluate(eg.grad(f, wrt), **arrays)
    np.testing.assert_allclose(g, closed_form, rtol=1e-9, atol=1e-12)
    report = eg.check(f, wrt, **arrays)
    assert report.passed, str(report)
    return g


def test_sum_tanh_wx(rng):
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    y = eg.einsum("ij,j->i", W, x)
    L = eg.sum(eg.tanh(y))
    W0, x0 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    closed = np.outer(1 - np.tanh(W0 @ x0) ** 2, x0)
    dW = eg.grad(L, W)
    assert dW.matrix_notation() == "(1 - tanh(W x)^∘2) xᵀ"
    assert_derivative(L, W, closed, W=W0, x=x0)
    # the Jacobian of y = Wx is the third-order δ_ij x_k
    J = eg.jacobian(y, W)
    assert str(J) == "∂f[i]/∂W[j,k] = δ[i,j] x[k]"
    np.testing.assert_array_equal(eg.evaluate(J, W=W0, x=x0), np.einsum("ij,k->ijk", np.eye(4), x0))
    # one gradient step lowers L
    f = eg.compile(L, dW)
    value, grad = f(W=W0, x=x0)
    assert np.isclose(value, np.tanh(W0 @ x0).sum())
    lower, _ = f(W=W0 - 0.01 * grad, x=x0)
    assert lower < value


def test_linear_layer_gradient_has_the_shape_of_w(rng):
    # L = f·y, f = X W + b; X (1×m), W (m×10), b (1×10), y (10×1): ∂L/∂W = Xᵀ yᵀ, shape (m, 10)
    m = 5
    X, W, b, y = eg.tensor("X", (1, m)), eg.tensor("W", (m, 10)), eg.tensor("b", (1, 10)), eg.tensor("y", (10, 1))
    L = eg.sum((X @ W + b) @ y)
    X0, W0, b0, y0 = (rng.standard_normal(s) for s in [(1, m), (m, 10), (1, 10), (10, 1)])
    g = assert_derivative(L, W, X0.T @ y0.T, X=X0, W=W0, b=b0, y=y0)
    assert g.shape == (m, 10)


def test_half_sse_through_tanh(rng):
    X, T, Y = eg.tensor("X", 2), eg.tensor("T", 2), eg.tensor("Y", 2)
    L = 0.5 * eg.sum((Y - eg.tanh(X @ T)) ** 2)
    X0, T0, Y0 = rng.standard_normal((6, 4)), rng.standard_normal((4, 3)), rng.standard_normal((6, 3))
    h = np.tanh(X0 @ T0)
    g = assert_derivative(L, T, X0.T @ ((h - Y0) * (1 - h**2)), X=X0, T=T0, Y=Y0)
    assert g.shape == T0.shape


def test_orthogonality_loss_with_a_third_order_phi(rng):
    # L = β Σ_i Σ_jk |Φ_iᵀ Φ_i − I|_jk with Φ of shape (m, l, n): ∂L/∂Φ_i = 2β Φ_i sign(Φ_iᵀΦ_i − I)
    m, l, n, beta = 3, 4, 2, 0.7
    P = eg.tensor("P", 3)
    eye = eg.tensor("I", (n, n))
    gram = eg.einsum("iaj,iak->ijk", P, P)
    L = beta * eg.sum(eg.abs(gram - eye))
    P0 = rng.standard_normal((m, l, n))
    G = np.einsum("iaj,iak->ijk", P0, P0) - np.eye(n)
    closed = 2 * beta * np.einsum("iaj,ijk->iak", P0, np.sign(G))
    assert_derivative(L, P, closed, P=P0, I=np.eye(n))


@pytest.mark.parametrize("name,build,closed", [
    ("a^T X b", lambda X, a, b, A, B: a @ X @ b, lambda X, a, b, A, B: np.outer(a, b)),
    ("tr(AXB)", lambda X, a, b, A, B: eg.trace(A @ X @ B), lambda X, a, b, A, B: A.T @ B.T),
    ("tr(X^T B X)", lambda X, a, b, A, B: eg.trace(X.T @ B @ X), lambda X, a, b, A, B: B @ X + B.T @ X),
    ("tr(X^-1 A)", lambda X, a, b, A, B: eg.trace(eg.inv(X) @ A),
     lambda X, a, b, A, B: -(np.linalg.inv(X) @ A @ np.linalg.inv(X)).T),
    ("a^T X^-1 b", lambda X, a, b, A, B: a @ eg.inv(X) @ b,
     lambda X, a, b, A, B: -np.linalg.inv(X).T @ np.outer(a, b) @ np.linalg.inv(X).T),
    ("det(X)", lambda X, a, b, A, B: eg.det(X), lambda X, a, b, A, B: np.linalg.det(X) * np.linalg.inv(X).T),
    ("log|det X|", lambda X, a, b, A, B: eg.logdet(X), lambda X, a, b, A, B: np.linalg.inv(X).T),
    ("||X||_F^2", lambda X, a, b, A, B: eg.sum(X**2), lambda X, a, b, A, B: 2 * X),
    ("||AXB + C||^2", lambda X, a, b, A, B: eg.sum((A @ X @ B + A) ** 2),
     lambda X, a, b, A, B: 2 * A.T @ (A @ X @ B + A) @ B.T),
])
def test_matrix_cookbook(name, build, closed, rng):
    n = 4
    X0 = rng.standard_normal((n, n)) + 3 * np.eye(n)
    a0, b0, A0, B0 = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal((n, n)), rng.standard_normal((n, n))
    X, a, b, A, B = eg.tensor("X", 2), eg.tensor("a", 1), eg.tensor("b", 1), eg.tensor("A", 2), eg.tensor("B", 2)
    f = build(X, a, b, A, B)
    arrays = {k: v for k, v in dict(X=X0, a=a0, b=b0, A=A0, B=B0).items() if k in eg.compile(f).names}
    assert_derivative(f, X, closed(X0, a0, b0, A0, B0), **{**arrays, "X": X0})


@pytest.mark.parametrize("f,expected", [
    (lambda X, a, b, A, B: a @ X @ b, "a bᵀ"),
    (lambda X, a, b, A, B: eg.trace(A @ X @ B), "Aᵀ Bᵀ"),
    (lambda X, a, b, A, B: eg.trace(X.T @ B @ X), "B X + Bᵀ X"),
    (lambda X, a, b, A, B: eg.det(X), "adj(X)ᵀ"),
    (lambda X, a, b, A, B: eg.sum(X**2), "2 X"),
    (lambda X, a, b, A, B: eg.sum((A @ X @ B + eg.tensor("C", 2)) ** 2), "2 Aᵀ (A X B + C) Bᵀ"),
    (lambda X, a, b, A, B: eg.trace(eg.inv(X) @ A), "-X⁻ᵀ Aᵀ X⁻ᵀ"),
])
def test_matrix_notation_of_gradients(f, expected):
    X, a, b, A, B = eg.tensor("X", 2), eg.tensor("a", 1), eg.tensor("b", 1), eg.tensor("A", 2), eg.tensor("B", 2)
    assert eg.grad(f(X, a, b, A, B), X).matrix_notation() == expected


def test_matrix_notation_is_none_where_no_formula_exists():
    X, T = eg.tensor("X", 2), eg.tensor("T", 3)
    assert eg.jacobian(X @ X, X).matrix_notation() is None  # fourth order
    assert eg.einsum("ijk->i", T).matrix_notation() is None
    assert eg.einsum("ii->i", X).matrix_notation() is None  # a diagonal read
    assert eg.einsum("ij,ik,il->jkl", X, X, X).matrix_notation() is None


def test_hessians(rng):
    x, A, b = eg.tensor("x", 1), eg.tensor("A", 2), eg.tensor("b", 1)
    H = eg.hessian(eg.einsum("i,ij,j->", x, A, x) + b @ x, x)
    assert str(H) == "∂²f/∂x[i]∂x[j] = A[i,j] + A[j,i]"
    assert H.matrix_notation() == "A + Aᵀ"
    A0 = rng.standard_normal((5, 5))
    np.testing.assert_allclose(eg.evaluate(H, x=np.zeros(5), A=A0, b=np.zeros(5)), A0 + A0.T)

    X, w = eg.tensor("X", 2), eg.tensor("w", 1)
    X0, w0 = rng.standard_normal((30, 4)), rng.standard_normal(4)
    s = 1 / (1 + np.exp(-X0 @ w0))
    for loss in (eg.sum(eg.log(1 + eg.exp(X @ w))), eg.sum(eg.softplus(X @ w))):
        H = eg.hessian(loss, w)
        assert len(H.terms) == 1  # the weights are summed before the one contraction
        np.testing.assert_allclose(eg.evaluate(H, X=X0, w=w0), (X0.T * (s * (1 - s))) @ X0, rtol=1e-10)
        assert eg.check(eg.grad(loss, w), w, X=X0, w=w0).passed
    assert eg.hessian(eg.sum(eg.softplus(X @ w)), w).matrix_notation() == "Xᵀ diag(sigmoid(X w) ⊙ (1 - sigmoid(X w))) X"


def test_third_derivative_and_derivative_of_a_jacobian(rng):
    x = eg.tensor("x", 1)
    f = eg.sum(x**4)
    third = eg.jacobian(eg.hessian(f, x), x)
    x0 = rng.standard_normal(3)
    expected = np.zeros((3, 3, 3))
    expected[np.arange(3), np.arange(3), np.arange(3)] = 24 * x0
    np.testing.assert_allclose(eg.evaluate(third, x=x0), expected)


def test_repeated_tensor_uses_the_product_rule(rng):
    X, b, c = eg.tensor("X", 2), eg.tensor("b", 1), eg.tensor("c", 1)
    f = b @ X.T @ X @ c
    X0, b0, c0 = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(3)
    assert_derivative(f, X, X0 @ (np.outer(b0, c0) + np.outer(c0, b0)), X=X0, b=b0, c=c0)


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sigmoid", "softplus", "relu", "abs", "sin", "cos", "sqrt"])
def test_every_elementwise_function_against_finite_differences(name, rng):
    from einsumgrad.core.functions import get

    fn = get(name)
    x0 = rng.uniform(*fn.domain, 7)
    if not fn.smooth:
        x0 = x0[np.abs(x0) > 0.05]  # central differences across the kink at 0 would be wrong
    x = eg.tensor("x", 1)
    f = eg.sum(getattr(eg, name)(x) * eg.tensor("c", 1))
    assert eg.check(f, x, x=x0, c=rng.standard_normal(x0.size)).passed


def test_arithmetic_and_broadcasting(rng):
    A, v = eg.tensor("A", 2), eg.tensor("v", 1)
    A0, v0 = rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 2, 4)
    e = (2 * A - v / 3 + 1) * A ** 2 / (A + v) - (-A) ** 3
    want = (2 * A0 - v0 / 3 + 1) * A0**2 / (A0 + v0) - (-A0) ** 3
    np.testing.assert_allclose(eg.evaluate(e, A=A0, v=v0), want)
    assert eg.check(eg.sum(e), A, A=A0, v=v0).passed
    assert eg.check(eg.sum(e), v, A=A0, v=v0).passed
    col = eg.tensor("c", (3, 1))
    np.testing.assert_allclose(eg.evaluate(A * col, A=A0, c=np.ones((3, 1)) * 2), A0 * 2)
    np.testing.assert_allclose(eg.evaluate(eg.sum(A, axis=0), A=A0), A0.sum(0))
    np.testing.assert_allclose(eg.evaluate(eg.sum(A, axis=(-1,)), A=A0), A0.sum(-1))
    np.testing.assert_allclose(eg.evaluate(2 ** v, v=v0), 2**v0)


def test_compile_shares_subexpressions_and_shows_its_plan():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    L = eg.sum(eg.tanh(W @ x))
    f = eg.compile(L, eg.grad(L, W))
    f(W=np.ones((2, 3)), x=np.ones(3))
    plan = repr(f)
    assert plan.count("tanh(") == 1  # tanh(Wx) computed once for the value and the gradient
    assert "ab,b->a" in plan


def test_jacobian_layouts_for_expressions(rng):
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    W0, x0 = rng.standard_normal((2, 3)), rng.standard_normal(3)
    shape = eg.evaluate(eg.jacobian(eg.tanh(W @ x), W), W=W0, x=x0)
    assert shape.shape == (2, 2, 3)
    with pytest.raises(eg.EinsumgradError, match="∂f/∂W is a vector by a matrix, which it leaves undefined"):
        eg.jacobian(eg.tanh(W @ x), W, layout="denominator")
    num = eg.evaluate(eg.jacobian(eg.tanh(W @ x), x, layout="numerator"), W=W0, x=x0)
    den = eg.evaluate(eg.jacobian(eg.tanh(W @ x), x, layout="denominator"), W=W0, x=x0)
    assert num.shape == (2, 3) and den.shape == (3, 2)
    np.testing.assert_allclose(den, num.T)


def test_float32_stays_float32():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    g = eg.evaluate(eg.grad(eg.sum(eg.tanh(W @ x)), W), W=np.ones((2, 3), np.float32), x=np.ones(3, np.float32))
    assert g.dtype == np.float32


def test_expression_errors():
    X, w = eg.tensor("X", 2), eg.tensor("w", 1)
    with pytest.raises(eg.EinsumgradError, match=r"missing array 'w'; this expression takes: X, w"):
        eg.evaluate(X @ w, X=np.ones((2, 3)))
    np.testing.assert_array_equal(eg.evaluate(X @ w, X=np.ones((2, 3)), w=np.ones(3), v=np.ones(1)), [3, 3])
    with pytest.raises(eg.ShapeError, match=r"index 'j' has size 4 in w\[j\] but size 3 in X\[i,j\]"):
        eg.evaluate(X @ w, X=np.ones((2, 3)), w=np.ones(4))
    with pytest.raises(eg.ShapeError, match=r"cannot broadcast shapes \(3, 4\) and \(2, 4\)"):
        eg.tensor("A", (3, 4)) + eg.tensor("B", (2, 4))
    with pytest.raises(eg.ShapeError, match="square matrix, got shape 3x4"):
        eg.inv(eg.tensor("A", (3, 4)))
    with pytest.raises(eg.ShapeError, match="square matrix, got shape 2x3"):
        eg.evaluate(eg.det(X), X=np.ones((2, 3)))
    with pytest.raises(eg.DerivativeError, match="grad needs a scalar expression, got rank 1; use eg.jacobian"):
        eg.grad(X @ w, w)
    with pytest.raises(eg.DerivativeError, match="wrt must be a tensor"):
        eg.grad(eg.sum(X), X @ w)
    with pytest.raises(eg.EinsumgradError, match="unknown optimize='bogus'; choose one of auto, "):
        eg.compile(X, optimize="bogus")
    with pytest.raises(eg.EinsumgradError, match="wrap arrays as eg.tensor"):
        X + np.ones(3)
    with pytest.raises(eg.ShapeError, match=r"tensor 'A' needs shape \(3, 4\) here, but its array has shape \(3, 5\)"):
        eg.evaluate(eg.tensor("A", (3, 4)), A=np.ones((3, 5)))


@pytest.mark.parametrize("optimize", ["greedy", "optimal", "dp", "branch-2", "auto", False])
def test_every_optimizer_gives_the_same_gradient(optimize, rng):
    A, B, C, x = eg.tensor("A", 2), eg.tensor("B", 2), eg.tensor("C", 2), eg.tensor("x", 1)
    f = eg.sum(eg.tanh(A @ B @ C @ x))
    arrays = {n: rng.standard_normal((4, 4)) for n in "ABC"} | {"x": rng.standard_normal(4)}
    ref = eg.compile(eg.grad(f, B))(**arrays)
    np.testing.assert_allclose(eg.compile(eg.grad(f, B), optimize=optimize)(**arrays), ref)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_other_backends_when_installed(backend, rng):
    pytest.importorskip(backend)
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    g = eg.grad(eg.sum(eg.tanh(W @ x)), W)
    W0, x0 = rng.standard_normal((3, 4)), rng.standard_normal(4)
    # jax computes in float32 unless x64 is enabled: compare at float32 precision
    np.testing.assert_allclose(np.asarray(eg.compile(g, backend=backend)(W=W0, x=x0)), eg.evaluate(g, W=W0, x=x0),
                               rtol=1e-5, atol=1e-6)
