"""Compiled gradients and Hessians against the hand-written NumPy closed forms.

    python benchmarks/expressions.py            # the sizes of the targets
    python benchmarks/expressions.py --quick    # small sizes, for CI

Targets (ratio of medians, einsumgrad / closed form, measured side by side):
gradient of Σ tanh(Wx) at 1024×1024 ≤ 1.3; Hessian of xᵀAx (n = 512) ≤ 1.5;
Hessian of the logistic loss with X 2000×256 ≤ 1.5.
"""
import numpy as np

import einsumgrad as eg
from harness import arguments, human_time, interleaved, machine, table


def problems(quick: bool):
    rng = np.random.default_rng(0)
    n = 128 if quick else 1024
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    W0, x0 = rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n)
    grad = eg.compile(eg.grad(eg.sum(eg.tanh(W @ x)), W))
    yield (f"∂/∂W Σ tanh(Wx), {n}×{n}", 1.3, lambda: grad(W=W0, x=x0),
           lambda: np.outer(1 - np.tanh(W0 @ x0) ** 2, x0))

    n = 64 if quick else 512
    A = eg.tensor("A", 2)
    A0, x1 = rng.standard_normal((n, n)), rng.standard_normal(n)
    hess = eg.compile(eg.hessian(eg.einsum("i,ij,j->", x, A, x), x))
    yield f"Hessian of xᵀAx, n={n}", 1.5, lambda: hess(x=x1, A=A0), lambda: A0 + A0.T

    m, d = (200, 32) if quick else (2000, 256)
    X, w = eg.tensor("X", 2), eg.tensor("w", 1)
    X0, w0 = rng.standard_normal((m, d)), rng.standard_normal(d) / np.sqrt(d)
    logistic = eg.compile(eg.hessian(eg.sum(eg.log(1 + eg.exp(X @ w))), w))

    def closed():
        s = 1 / (1 + np.exp(-X0 @ w0))
        return (X0.T * (s * (1 - s))) @ X0

    yield f"Hessian of Σ log(1+exp(Xw)), X {m}×{d}", 1.5, lambda: logistic(X=X0, w=w0), closed


def main():
    args = arguments(__doc__)
    rows = []
    for name, target, ours, closed in problems(args.quick):
        np.testing.assert_allclose(ours(), closed(), rtol=1e-8, atol=1e-10)
        t = interleaved({"einsumgrad": ours, "closed form": closed}, repeats=args.repeats or (5 if args.quick else 25))
        ratio = t["einsumgrad"].median / t["closed form"].median
        rows.append({
            "problem": name, "einsumgrad": human_time(t["einsumgrad"].median),
            "closed form": human_time(t["closed form"].median), "ratio": f"{ratio:.2f}",
            "spread": f"±{max(t['einsumgrad'].spread, t['closed form'].spread) * 50:.0f}%",
            "target": f"≤ {target}", "met": "yes" if ratio <= target else "NO",
        })
    print(table(rows, ["problem", "einsumgrad", "closed form", "ratio", "spread", "target", "met"], args.csv))
    print(f"\nmedians of interleaved runs; spread is the interquartile range / 2; {machine()}")


if __name__ == "__main__":
    main()
