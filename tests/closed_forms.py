"""The closed-form cases of the test suite as one list: each builds expressions and the arrays to
evaluate them at, for tests that run every case through another path (generated code, ...).

A case is ``(id, build)`` with ``build(rng) -> (expressions, arrays)``; the closed forms themselves
are checked where the cases come from (test_expressions, test_compositions, test_deep).
"""
import numpy as np

import einsumgrad as eg


def _cookbook(f):
    def build(rng):
        n = 4
        X, a, b, A, B = eg.tensor("X", 2), eg.tensor("a", 1), eg.tensor("b", 1), eg.tensor("A", 2), eg.tensor("B", 2)
        arrays = dict(X=rng.standard_normal((n, n)) + 3 * np.eye(n), a=rng.standard_normal(n), b=rng.standard_normal(n),
                      A=rng.standard_normal((n, n)), B=rng.standard_normal((n, n)))
        L = f(X, a, b, A, B)
        return [L, eg.grad(L, X)], arrays
    return build


def sum_tanh_wx(rng):
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    L = eg.sum(eg.tanh(W @ x))
    return [L, eg.grad(L, W), eg.jacobian(W @ x, W)], dict(W=rng.standard_normal((4, 3)), x=rng.standard_normal(3))


def linear_layer(rng):
    m = 5
    X, W, b, y = eg.tensor("X", (1, m)), eg.tensor("W", (m, 10)), eg.tensor("b", (1, 10)), eg.tensor("y", (10, 1))
    L = eg.sum((X @ W + b) @ y)
    shapes = dict(X=(1, m), W=(m, 10), b=(1, 10), y=(10, 1))
    return [eg.grad(L, W)], {n: rng.standard_normal(s) for n, s in shapes.items()}


def half_sse_through_tanh(rng):
    X, T, Y = eg.tensor("X", 2), eg.tensor("T", 2), eg.tensor("Y", 2)
    L = 0.5 * eg.sum((Y - eg.tanh(X @ T)) ** 2)
    return [L, eg.grad(L, T)], dict(X=rng.standard_normal((6, 4)), T=rng.standard_normal((4, 3)),
                                    Y=rng.standard_normal((6, 3)))


def orthogonality_third_order(rng):
    P, eye = eg.tensor("P", 3), eg.tensor("I", (2, 2))
    L = 0.7 * eg.sum(eg.abs(eg.einsum("iaj,iak->ijk", P, P) - eye))
    return [eg.grad(L, P)], dict(P=rng.standard_normal((3, 4, 2)), I=np.eye(2))


def orthogonality_batched(rng):
    P, I = eg.tensor("P", 3), eg.tensor("I", 2)
    L = 0.05 * eg.sum(eg.abs(eg.einsum("lmi,lmj->lij", P, P) - I))
    return [eg.grad(L, P)], dict(P=rng.standard_normal((4, 7, 3)), I=np.eye(3))


def quadratic_form_hessian(rng):
    x, A, b = eg.tensor("x", 1), eg.tensor("A", 2), eg.tensor("b", 1)
    L = eg.einsum("i,ij,j->", x, A, x) + b @ x
    return [eg.hessian(L, x), eg.grad(L, x)], dict(x=rng.standard_normal(5), A=rng.standard_normal((5, 5)),
                                                    b=rng.standard_normal(5))


def logistic_regression_hessian(rng):
    X, w = eg.tensor("X", 2), eg.tensor("w", 1)
    L = eg.sum(eg.softplus(X @ w))
    return [eg.hessian(L, w), eg.hessian(eg.sum(eg.log(1 + eg.exp(X @ w))), w)], dict(
        X=rng.standard_normal((30, 4)), w=rng.standard_normal(4))


def third_derivative(rng):
    x = eg.tensor("x", 1)
    return [eg.jacobian(eg.hessian(eg.sum(x**4), x), x)], dict(x=rng.standard_normal(3))


def bias_gradient_counts_rows(rng):
    X, w, b = eg.tensor("X", (7, 3)), eg.tensor("w", (3,)), eg.tensor("b", ())
    L = eg.sum(X @ w + b)
    return [eg.grad(L, b), eg.hessian(eg.sum((X @ w + b) ** 2), b)], dict(
        X=rng.standard_normal((7, 3)), w=rng.standard_normal(3), b=np.array(0.5))


def bias_by_rank(rng):
    X, w, b = eg.tensor("X", 2), eg.tensor("w", 1), eg.tensor("b", 0)
    return [eg.grad(eg.sum(X @ w + b), b), eg.hessian(eg.sum((X @ w + b) ** 2), b)], dict(
        X=rng.standard_normal((7, 3)), w=rng.standard_normal(3), b=np.array(0.5))


def trace_of_trace_plus_matrix(rng):
    Q = eg.tensor("Q", 2)
    return [eg.grad(eg.trace(eg.trace(Q) + Q), Q)], dict(Q=rng.standard_normal((3, 3)))


def row_broadcast_against_its_own_sum(rng):
    c = eg.tensor("c", (1, 3))
    return [eg.grad(eg.sum(c + eg.sum(c, axis=1)), c)], dict(c=rng.standard_normal((1, 3)))


def batch_axis_broadcast(rng):
    A, B = eg.tensor("A", (1, 2, 2)), eg.tensor("B", 3)
    return [A @ B, eg.grad(eg.sum(A @ B), B)], dict(A=rng.standard_normal((1, 2, 2)), B=rng.standard_normal((3, 2, 2)))


def two_layer_mlp(rng):
    x, W1, b1, W2, b2, t = (eg.tensor(n, r) for n, r in (("x", 1), ("W1", 2), ("b1", 1), ("W2", 2), ("b2", 1), ("t", 1)))
    y = W2 @ eg.tanh(W1 @ x + b1) + b2
    L = 0.5 * eg.sum((y - t) ** 2)
    shapes = dict(x=(3,), W1=(4, 3), b1=(4,), W2=(2, 4), b2=(2,), t=(2,))
    return [L, *(eg.grad(L, p) for p in (W1, b1, W2, b2))], {n: rng.standard_normal(s) for n, s in shapes.items()}


COOKBOOK = [
    ("a^T X b", lambda X, a, b, A, B: a @ X @ b),
    ("tr(AXB)", lambda X, a, b, A, B: eg.trace(A @ X @ B)),
    ("tr(X^T B X)", lambda X, a, b, A, B: eg.trace(X.T @ B @ X)),
    ("tr(X^-1 A)", lambda X, a, b, A, B: eg.trace(eg.inv(X) @ A)),
    ("a^T X^-1 b", lambda X, a, b, A, B: a @ eg.inv(X) @ b),
    ("det(X)", lambda X, a, b, A, B: eg.det(X)),
    ("log|det X|", lambda X, a, b, A, B: eg.logdet(X)),
    ("||X||_F^2", lambda X, a, b, A, B: eg.sum(X**2)),
    ("||AXB + A||^2", lambda X, a, b, A, B: eg.sum((A @ X @ B + A) ** 2)),
]

CASES = [(name, _cookbook(f)) for name, f in COOKBOOK] + [(f.__name__, f) for f in (
    sum_tanh_wx, linear_layer, half_sse_through_tanh, orthogonality_third_order, orthogonality_batched,
    quadratic_form_hessian, logistic_regression_hessian, third_derivative, bias_gradient_counts_rows, bias_by_rank,
    trace_of_trace_plus_matrix, row_broadcast_against_its_own_sum, batch_axis_broadcast, two_layer_mlp)]


def arrays_for(exprs, arrays: dict) -> dict:
    """The arrays ``eg.compile(*exprs)`` takes, out of ``arrays``."""
    names = eg.compile(*exprs).names
    return {n: a for n, a in arrays.items() if n in names}
