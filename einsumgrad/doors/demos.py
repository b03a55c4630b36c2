"""Teaching demos: third-order Jacobians you can look at, and chain rules that check themselves.

Each demo prints its story, checks every claim numerically, and returns an exit
status: 0 when every check passed, 1 otherwise.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import einsumgrad as eg

from ..notation import slices
from ..core.errors import EinsumgradError
from ..expression import Expression
from ..notation.plot import plot as draw

np_print: dict[str, Any] = dict(precision=3, suppress=True, floatmode="maxprec")


class Checks:
    """Collects the demo's checks and prints each as it is made."""

    def __init__(self):
        self.results: list[bool] = []

    def __call__(self, claim: str, ok) -> None:
        ok = bool(ok)
        self.results.append(ok)
        print(f"  [{'ok' if ok else 'FAILED'}] {claim}")

    def verdict(self) -> int:
        failed = self.results.count(False)
        print(f"\n{len(self.results) - failed} of {len(self.results)} checks passed."
              + (f" {failed} FAILED." if failed else ""))
        return 1 if failed else 0


def heading(text: str) -> None:
    print(f"\n== {text} ==")


def _matrix(a: np.ndarray, indent: str = "    ") -> str:
    with np.printoptions(**np_print):
        return "\n".join(indent + line for line in str(a).splitlines())


def demo_wx(plot: str | None = None) -> int:
    """y = W x: the third-order tensor ∂y/∂W, slice by slice, and the chain rule to g xᵀ."""

    check = Checks()
    m, n = 2, 3
    W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x = np.array([1.0, -1.0, 2.0])
    print(f"y = W x with W of shape ({m}, {n}) and x of shape ({n},). Is ∂y/∂W equal to x? No: y has {m} entries\n"
          f"and W has {m}·{n}, so ∂y/∂W has {m}·{m}·{n} = {m * m * n} entries — a third-order tensor.")
    J = eg.jacobian("ij,j->i", wrt=0, names="W,x")
    heading("The derivative, index by index")
    print(J.explain())
    dense = J(W, x)
    heading(f"The tensor itself (shape layout, as jax.jacobian: J[i,j,k] = ∂y[i]/∂W[j,k], shape {dense.shape})")
    print(f"W =\n{_matrix(W)}\nx = {x}")
    form = slices.identity_form(J.expression(W, x).node)
    assert form is not None  # ∂(W x)/∂W is δ times x
    print(f"Every slice is J[:, :, k] = {form(('k',))}: ∂y/∂W[:, k] is x[k] times the identity.")
    for k in range(n):
        print(f"{slices.title('J', (k,), dense[:, :, k], form)}\n{_matrix(dense[:, :, k])}")
        check(f"J[:, :, {k}] = x[{k}] I", np.array_equal(dense[:, :, k], x[k] * np.eye(m)))
    for i in range(m):
        print(f"J[{i}, :, :]  (∂y[{i}]/∂W: row {i} is xᵀ, the other rows are 0 — y[{i}] reads row {i} of W only)"
              f"\n{_matrix(dense[i])}")
        expected = np.zeros((m, n))
        expected[i] = x
        check(f"J[{i}, :, :] has xᵀ in row {i} and zeros elsewhere", np.array_equal(dense[i], expected))
    heading("Sparsity")
    nonzero = int(np.count_nonzero(dense))
    print(f"{dense.size} entries, {nonzero} non-zero: δ[i,j] zeroes every entry with i ≠ j, so at most\n"
          f"m·n = {m * n} of the m·m·n = {m * m * n} entries can be non-zero (a fraction 1/m = 1/{m}).")
    check(f"{nonzero} ≤ m·n = {m * n} non-zero entries", nonzero <= m * n)
    check("J.nbytes reports the dense size", J.nbytes(W.shape, x.shape) == dense.nbytes)
    heading("The chain rule with g = ∂L/∂y")
    g = np.array([0.5, -2.0])
    by_dense = np.tensordot(g, dense, axes=1)
    by_vjp = J.vjp(g, W, x)
    print(f"g = {g}\nΣ_i g[i] J[i,j,k]  (build J, then contract):\n{_matrix(by_dense)}\n"
          f"J.vjp(g, W, x)  (the compiled chain rule; J is never built):\n{_matrix(by_vjp)}\n"
          f"g xᵀ  (the closed form):\n{_matrix(np.outer(g, x))}")
    check("dense-then-contract equals the compiled vjp", np.allclose(by_dense, by_vjp))
    check("both equal g xᵀ, shaped like W", np.allclose(by_vjp, np.outer(g, x)) and by_vjp.shape == W.shape)
    heading("Against finite differences")
    Wt, xt, gt = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("g", 1)
    L = eg.einsum("i,i->", gt, Wt @ xt)
    report = eg.check(L, Wt, W=W, x=x, g=g)
    print(f"L = gᵀ W x, so ∂L/∂W should be g xᵀ.\n  {report}")
    check("the symbolic gradient matches central differences", report.passed)
    heading("Layouts")
    vec = eg.jacobian("ij,j->i", wrt=0, names="W,x", layout="vec")
    flat = vec(W, x)
    print(f"shape layout  J.shape = {dense.shape}  (y.shape + W.shape, as jax.jacobian and torch)\n"
          f"vec layout    J.shape = {flat.shape}  (Magnus–Neudecker: {vec.formula('vec')}, vec stacking columns)\n"
          "Wikipedia's numerator and denominator layouts define no derivative of a vector by a matrix.\n"
          f"For the scalar L = gᵀ W x, ∂L/∂W = g xᵀ has W's shape {W.shape} in the shape layout and in Wikipedia's\n"
          f"denominator layout — that is why W − η g xᵀ is a gradient step; Wikipedia's numerator layout writes its\n"
          f"transpose x gᵀ, of shape {W.shape[::-1]}.")
    check("the vec layout is xᵀ ⊗ I_m", np.array_equal(flat, np.kron(x[None, :], np.eye(m))))
    numerator = eg.evaluate(eg.grad(L, Wt, layout="numerator"), W=W, x=x, g=g)
    check("the numerator-layout gradient is x gᵀ", np.allclose(numerator, np.outer(x, g)))
    if plot:
        draw(dense, plot, "∂y/∂W for y = Wx: J[i,j,k] = δ[i,j] x[k]", axes=("i (entry of y)", "j (row of W)"),
             form=form)
    return check.verdict()


def demo_tanh(plot: str | None = None) -> int:
    """L = Σ tanh(W x): the chain rule through an elementwise function, and a gradient step."""

    check = Checks()
    rng = np.random.default_rng(0)
    W0, x0 = rng.standard_normal((3, 4)) / 2, rng.standard_normal(4)
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    L = eg.sum(eg.tanh(W @ x))
    print(eg.explain(L, W))
    dW = eg.grad(L, W)
    closed = np.outer(1 - np.tanh(W0 @ x0) ** 2, x0)
    value, grad = eg.compile(L, dW)(W=W0, x=x0)
    heading("Checks")
    check("∂L/∂W = (1 - tanh²(Wx)) xᵀ", np.allclose(grad, closed))
    report = eg.check(L, W, W=W0, x=x0)
    check(str(report), report.passed)
    J = eg.jacobian(eg.tanh(W @ x), W)
    dense = eg.evaluate(J, W=W0, x=x0)
    print(f"\nThe Jacobian of tanh(Wx) itself: {J}\n  shape {dense.shape}, "
          f"{np.count_nonzero(dense)} of {dense.size} entries non-zero")
    check("Σ_i of the dense Jacobian equals the gradient", np.allclose(dense.sum(0), grad))
    lower = eg.evaluate(L, W=W0 - 0.1 * grad, x=x0)
    print(f"\nOne gradient-descent step W ← W − 0.1 ∂L/∂W: L goes from {value:.4f} to {lower:.4f}")
    check("the step lowers L", lower < value)
    if plot:
        draw(dense, plot, "∂tanh(Wx)/∂W: slices J[:, :, k]", axes=("i (entry of y)", "j (row of W)"),
             form=slices.identity_form(J.node))
    return check.verdict()


def demo_trace() -> int:
    """Trace and determinant identities from the Matrix Cookbook, derived index by index."""

    check = Checks()
    rng = np.random.default_rng(1)
    n = 3
    arrays = dict(X=rng.standard_normal((n, n)) + 2 * np.eye(n), A=rng.standard_normal((n, n)),
                  B=rng.standard_normal((n, n)))
    X, A, B = eg.tensor("X", 2), eg.tensor("A", 2), eg.tensor("B", 2)
    Xa, Aa, Ba = arrays["X"], arrays["A"], arrays["B"]
    inv = np.linalg.inv(Xa)
    cases = [
        ("tr(A X B)", eg.trace(A @ X @ B), Aa.T @ Ba.T),
        ("tr(Xᵀ B X)", eg.trace(X.T @ B @ X), Ba @ Xa + Ba.T @ Xa),
        ("tr(X⁻¹ A)", eg.trace(eg.inv(X) @ A), -(inv @ Aa @ inv).T),
        ("det(X)", eg.det(X), np.linalg.det(Xa) * inv.T),
        ("log|det X|", eg.logdet(X), inv.T),
    ]
    for name, f, closed in cases:
        g = eg.grad(f, X)
        used: dict[str, Any] = {k: v for k, v in arrays.items() if k in eg.compile(f).names}
        print(f"\n∂ {name} / ∂X:\n  {g}\n  matrix notation: {g.matrix_notation()}")
        check(f"∂ {name}/∂X equals the Cookbook's closed form", np.allclose(eg.evaluate(g, **used), closed))
        check(f"∂ {name}/∂X passes finite differences", eg.check(f, X, **used).passed)
    return check.verdict()


def demo_orthogonality(plot: str | None = None) -> int:
    """β Σ_i Σ_jk |Φ_iᵀ Φ_i − I|_jk with Φ of shape l×m×n, Φ_i = Φ[:, i, :]: the derivative by Φ[:, a, b]."""

    check = Checks()
    l, m, n, a, b, beta = 4, 2, 3, 1, 2, 0.5
    rng = np.random.default_rng(2)
    arrays: dict[str, Any] = {"Φ": rng.standard_normal((l, m, n)), "β": beta}
    Phi, β = eg.tensor("Φ", 3), eg.scalar("β")
    gram = eg.einsum("lij,lik->ijk", Phi, Phi)  # Φ_iᵀ Φ_i for each i along the m axis
    L = Expression((β * eg.sum(eg.abs(gram - eg.eye(Phi.shape[2])))).node, "L")
    print(f"Φ has shape (l, m, n) = {arrays['Φ'].shape}; Φ_i = Φ[:, i, :] is an l×n matrix, I the n×n identity,\n"
          f"β = {beta} a scalar. The question asks for ∂L/∂Φ[:, a, b], an l-vector (a = {a} indexes m, b = {b} "
          "indexes n).")
    print("The steps name Φ's axes as the question does: ∂L/∂Φ[l,i,j], l along Φ's first axis, i along m (which Φ_i),"
          "\nj along n.")
    print(eg.explain(L, Phi, indices="lij"))
    g = eg.grad(L, Phi, indices="lab")
    asked = g[:, a, b]
    heading(f"The slice the question asks for: ∂L/∂Φ[:, a, b] = g[:, {a}, {b}]")
    value = eg.evaluate(asked, **arrays)
    print(f"{asked}\n  at a = {a}, b = {b}, at random Φ: {_matrix(value, '')}")
    P = arrays["Φ"]
    Phi_a = P[:, a, :]
    closed = 2 * beta * Phi_a @ np.sign(Phi_a.T @ Phi_a - np.eye(n))[:, b]
    heading("Checks")
    print("The closed form: ∂L/∂Φ[:, a, b] = 2β Φ_a sign(Φ_aᵀΦ_a − I)[:, b], with Φ_a = Φ[:, a, :].")
    check(f"g[:, {a}, {b}] equals 2β Φ_a sign(Φ_aᵀΦ_a − I)[:, b]", np.allclose(value, closed))
    check(f"and is an l-vector, shape ({l},)", value.shape == (l,))
    full = eg.evaluate(g, **arrays)
    every = 2 * beta * np.einsum("lik,ikj->lij", P, np.sign(np.einsum("lij,lik->ijk", P, P) - np.eye(n)))
    check("every slice: ∂L/∂Φ[:, i, :] = 2β Φ_i sign(Φ_iᵀΦ_i − I), shaped like Φ", np.allclose(full, every))
    report = eg.check(L, Phi, **arrays)
    check(f"{report}", report.passed)
    if plot:
        draw(full, plot, "∂L/∂Φ, shaped like Φ: slices [:, :, b]", name="∂L/∂Φ", axes=("l", r"i (which $\Phi_i$)"))
    return check.verdict()


DEMOS: dict[str, Callable[..., int]] = {
    "wx": demo_wx, "tanh": demo_tanh, "trace": demo_trace, "orthogonality": demo_orthogonality,
}


NO_PLOT = {"trace": "its answers are five n×n gradients, each printed in full and checked against the Cookbook"}


def run_demo(args) -> int:
    if args.list:
        for name, fn in DEMOS.items():
            print(f"{name:14} {(fn.__doc__ or '').splitlines()[0]}")
        return 0
    if args.name not in DEMOS:
        raise EinsumgradError(f"unknown demo {args.name!r}; choose one of {', '.join(DEMOS)}")
    return DEMOS[args.name](plot=args.plot) if args.plot else DEMOS[args.name]()
