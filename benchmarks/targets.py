"""The performance targets, each a ratio of medians measured side by side in one run.

    python benchmarks/targets.py            # the sizes of the targets
    python benchmarks/targets.py --quick    # small sizes, for CI

Targets (einsumgrad / reference):
- compiled gradient of Σ tanh(Wx) at 1024×1024 ≤ 1.3 × np.outer(1 − tanh(Wx)², x);
- compiled Hessian of xᵀAx (n = 512) ≤ 1.5 × A + A.T;
- compiled Hessian of the logistic loss, X 2000×256, ≤ 1.5 × (X.T * (s(1 − s))) @ X;
- dense ∂y/∂W of ij,j->i at 256×256 ≤ 1.5 × the write floor (allocate, fill, write the diagonal);
- vjp of ij,j->i at 2048×2048 ≤ 1.3 × np.outer(g, x), and materialising J first ≥ 100× slower
  (at 512×512, where the dense J, 1 GiB, still fits);
- a cached compiled vjp of ij,jk->ik at 8×8 within 4 × one np.einsum call.
"""
import numpy as np

import einsumgrad as eg
from harness import arguments, interleaved, pinned, spread, table, time_spread, write_floor


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

    J = eg.jacobian("ij,j->i", wrt=0, names="W,x")
    n = 64 if quick else 256
    W1, x1 = rng.standard_normal((n, n)), rng.standard_normal(n)
    yield f"dense ∂y/∂W of ij,j->i, {n}×{n} (vs the write floor)", 1.5, lambda: J(W1, x1), lambda: write_floor(x1)

    n = 256 if quick else 2048
    W2, x2, g2 = rng.standard_normal((n, n)), rng.standard_normal(n), rng.standard_normal(n)
    yield f"vjp of ij,j->i, {n}×{n} (vs np.outer)", 1.3, lambda: J.vjp(g2, W2, x2), lambda: np.outer(g2, x2)

    n = 32 if quick else 512  # the dense J takes 1 GiB: it still fits
    W3, x3, g3 = rng.standard_normal((n, n)), rng.standard_normal(n), rng.standard_normal(n)
    yield (f"dense J then contract, vs vjp, {n}×{n}", ">= 100", lambda: np.tensordot(g3, J(W3, x3), axes=1),
           lambda: J.vjp(g3, W3, x3))

    A, B, G = (rng.standard_normal((8, 8)) for _ in range(3))
    AB = eg.jacobian("ij,jk->ik", wrt=0, names="A,B")
    small = eg.compile(AB.vjp_expression(A, B))
    yield "cached compiled vjp of ij,jk->ik, 8×8 (vs np.einsum)", 4.0, lambda: small(A=A, B=B, g=G), \
        lambda: np.einsum("ik,jk->ij", G, B)


def main():
    args = arguments(__doc__, plots=False)
    rows = []
    with pinned(args):
        for name, target, ours, reference in problems(args.quick):
            if not isinstance(target, str):
                np.testing.assert_allclose(ours(), reference(), rtol=1e-8, atol=1e-10)
            t = interleaved({"ours": ours, "reference": reference}, repeats=args.repeats or (5 if args.quick else 41))
            ratio = t["ours"] / t["reference"]
            met = ratio.median >= float(target.split()[-1]) if isinstance(target, str) else ratio.median <= target
            rows.append({
                "problem": name, "measured": time_spread(t["ours"]), "reference": time_spread(t["reference"]),
                "ratio": spread(ratio), "target": target if isinstance(target, str) else f"≤ {target}",
                "met": "n/a at --quick sizes" if args.quick else "yes" if met else "NO",
            })
    print(table(rows, ["problem", "measured", "reference", "ratio", "target", "met"], args.csv))


if __name__ == "__main__":
    main()
