"""Cliffs: derivations that must cost time linear in the expression, against its size.

    python benchmarks/cliffs.py            # depths 1–8, 25–1600 terms (a minute)
    python benchmarks/cliffs.py --quick    # a few small cases (CI)

Sections, each from cold caches (eg.clear_caches()), the median of three:
1. The Hessian of Σ y ⊙ h_d w.r.t. the bias b, h₀ = x, h_{k+1} = softmax(W h_k + b) (width 4): its derivation
   (eg.hessian), its plan and first run (eg.compile and one call), and its size (the terms of all its nodes),
   against the depth d. Each softmax's tangent is read twice by its rule: inlined, the terms grew ×8 a step.
2. The gradient of Σ_i x[i] x[i+1] built term by term (f = f + x[i] * x[i+1]): building f, deriving
   eg.grad(f, x), and its plan and first run, against the number of terms. Each + re-canonicalised every
   term before it, then simplified the whole sum again (simplify.extend now adds the new term alone).
"""
from __future__ import annotations

import time

import numpy as np

import einsumgrad as eg
from einsumgrad.core.ir import Expr, postorder
from harness import arguments, human_time, pinned, table

WIDTH = 4


def size(e: eg.Expression) -> int:
    """The terms of every node of an expression, each node counted once."""
    return sum(len(n.terms) for n in postorder(e.node) if isinstance(n, Expr))


def median_of(run, repeats: int = 3) -> tuple[list[float], object]:
    """The median of each of the times ``run()`` returns (from cold caches), and its last result."""
    times = []
    for _ in range(repeats):
        eg.clear_caches()
        *seconds, result = run()
        times.append(seconds)
    return [float(t) for t in np.median(times, axis=0)], result


def softmax_recurrence(depth: int):
    """Σ y ⊙ h_d, the bias b, and arrays for every tensor."""
    rng = np.random.default_rng(depth)
    W, b, x, y = (eg.tensor(n, (WIDTH, WIDTH) if n == "W" else (WIDTH,)) for n in "Wbxy")
    arrays = {n: rng.standard_normal((WIDTH, WIDTH) if n == "W" else WIDTH) for n in "Wbxy"}
    h = x
    for _ in range(depth):
        h = eg.softmax(W @ h + b)
    return eg.sum(y * h), b, arrays


def softmax_rows(quick: bool) -> list[dict]:
    rows = []
    for depth in (1, 2, 3) if quick else (1, 2, 3, 4, 5, 6, 8):
        def run():
            f, b, arrays = softmax_recurrence(depth)
            t0 = time.perf_counter()
            H = eg.hessian(f, b)
            t1 = time.perf_counter()
            eg.compile(H)(**arrays)
            return t1 - t0, time.perf_counter() - t1, H

        (derive, first), H = median_of(run)
        rows.append({"depth": depth, "derivation": human_time(derive), "plan + first run": human_time(first),
                     "terms of the Hessian": size(H)})
    return rows


def chain_rows(quick: bool) -> list[dict]:
    rows = []
    for n in (25, 50) if quick else (25, 50, 100, 200, 400, 800, 1600):
        def run():
            x = eg.tensor("x", (n,))
            t0 = time.perf_counter()
            f = x[0] * x[1]
            for i in range(1, n - 1):
                f = f + x[i] * x[i + 1]
            t1 = time.perf_counter()
            g = eg.grad(f, x)
            t2 = time.perf_counter()
            eg.compile(g)(x=np.ones(n))
            return t1 - t0, t2 - t1, time.perf_counter() - t2, g

        (build, derive, first), g = median_of(run)
        rows.append({"terms": n - 1, "building f": human_time(build), "derivation": human_time(derive),
                     "plan + first run": human_time(first), "terms of the gradient": size(g)})
    return rows


def section(title: str, rows: list[dict], csv: bool) -> None:
    print(f"\n{'# ' if csv else '### '}{title}\n")
    print(table(rows, list(rows[0]), csv))


def main():
    args = arguments(__doc__, plots=False)
    with pinned(args, "the median of three runs, each from cold caches (eg.clear_caches())"):
        section(f"1. The Hessian of a softmax recurrence h ← softmax(W h + b), width {WIDTH}, w.r.t. b",
                softmax_rows(args.quick), args.csv)
        section("2. The gradient of Σ_i x[i] x[i+1], built by a loop of +", chain_rows(args.quick), args.csv)


if __name__ == "__main__":
    main()
