"""Out of core: derivatives over data larger than this machine's memory.

    python benchmarks/scale.py            # X of 20M × 256 (41 GB) and W of 100k × 50k (40 GB)
    python benchmarks/scale.py --quick    # small sizes, for CI

The inputs are generated chunk by chunk by dask and never exist whole; einsumgrad's
compiled derivatives run on the dask arrays with backend="dask", lazily, and the
scheduler streams the chunks through them: the logistic-regression Hessian over X,
and the gradient of Σ tanh(Wx) over W (reduced to its norm, since the gradient is as
large as W). Peak resident memory is reported next to the sizes and this machine's
RAM, and each result is checked against its closed form computed by dask.
"""
import os
import resource
import time

import numpy as np

import einsumgrad as eg
from harness import dask_progress, human_bytes, human_time, parser, pinned, stage, table


def logistic_hessian(da, rows: int, d: int, chunk: int) -> tuple[dict, float]:
    X = da.random.default_rng(0).standard_normal((rows, d), chunks=(chunk, d))
    w0 = np.random.default_rng(1).standard_normal(d) / np.sqrt(d)
    Xt, wt = eg.tensor("X", 2), eg.tensor("w", 1)
    hessian = eg.compile(eg.hessian(eg.sum(eg.log(1 + eg.exp(Xt @ wt))), wt), backend="dask")
    t0 = time.perf_counter()
    lazy = hessian(X=X, w=w0)
    plan = time.perf_counter() - t0
    t0 = time.perf_counter()
    H = lazy.compute()
    elapsed = time.perf_counter() - t0
    s = 1 / (1 + da.exp(-X @ w0))
    closed = ((X.T * (s * (1 - s))) @ X).compute()
    rel = float(np.abs(H - closed).max() / np.abs(closed).max())
    return {"problem": "Hessian of Σ log(1+exp(Xw)) over X", "input": f"X {rows:,} × {d}",
            "input size": human_bytes(rows * d * 8), "chunks": X.numblocks[0], "plan (lazy graph)": human_time(plan),
            "compute": human_time(elapsed), "max rel. error vs closed form": f"{rel:.1e}"}, rel


def tanh_gradient(da, m: int, n: int, chunk: int) -> tuple[dict, float]:
    """∂L/∂W for L = Σ tanh(Wx) with W larger than memory: the gradient (as big as W) is
    computed chunk by chunk and reduced to its norm, which has a closed form to check:
    ‖(1 − tanh²(Wx)) xᵀ‖ = ‖1 − tanh²(Wx)‖ · ‖x‖."""
    W = da.random.default_rng(2).standard_normal((m, n), chunks=(chunk, n)) / np.sqrt(n)
    x0 = np.random.default_rng(3).standard_normal(n)
    Wt, xt = eg.tensor("W", 2), eg.tensor("x", 1)
    gradient = eg.compile(eg.grad(eg.sum(eg.tanh(Wt @ xt)), Wt), backend="dask")
    t0 = time.perf_counter()
    lazy = gradient(W=W, x=x0)
    plan = time.perf_counter() - t0
    t0 = time.perf_counter()
    norm = float(da.sqrt((lazy**2).sum()).compute())
    elapsed = time.perf_counter() - t0
    closed = float(da.sqrt(((1 - da.tanh(W @ x0) ** 2) ** 2).sum()).compute()) * float(np.linalg.norm(x0))
    rel = abs(norm - closed) / closed
    return {"problem": "‖∂L/∂W‖, L = Σ tanh(Wx), W and ∂L/∂W never whole", "input": f"W {m:,} × {n:,}",
            "input size": human_bytes(m * n * 8), "chunks": W.numblocks[0], "plan (lazy graph)": human_time(plan),
            "compute": human_time(elapsed), "max rel. error vs closed form": f"{rel:.1e}"}, rel


def main():
    p = parser(__doc__)
    p.add_argument("--rows", type=int, default=20_000_000, help="rows of X (default 20M: 41 GB at 256 columns)")
    p.add_argument("--cols", type=int, default=256)
    p.add_argument("--chunk", type=int, default=100_000, help="rows of X per chunk")
    p.add_argument("--wshape", default="100000x50000", help="the shape of W (default 100000x50000: 40 GB)")
    args = p.parse_args()
    try:
        import dask
        import dask.array as da
    except ImportError:
        print("note: dask is not installed (pip install 'einsumgrad[dask]'); nothing to run")
        return
    rows = 200_000 if args.quick else args.rows
    m, n = (2_000, 1_000) if args.quick else map(int, args.wshape.lower().split("x"))
    results = []
    with pinned(args, "one run of each"), dask.config.set(scheduler="threads", num_workers=os.cpu_count()), \
            dask_progress():
        stage(f"Hessian of the logistic loss over X {rows:,} × {args.cols}")
        results.append(logistic_hessian(da, rows, args.cols, min(args.chunk, rows)))
        stage(f"gradient of Σ tanh(Wx) for W {m:,} × {n:,}")
        results.append(tanh_gradient(da, m, n, max(1, min(m, (400 << 20) // (8 * n)))))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    rows_out = [row for row, _ in results]
    print(table(rows_out, list(rows_out[0]), args.csv))
    print(f"\npeak resident memory of the whole run: {human_bytes(peak)}; RAM: {human_bytes(ram)}; "
          "inputs are generated chunk by chunk and never held whole; backend='dask', one dask worker per core")
    if any(rel > 1e-8 for _, rel in results):
        raise SystemExit("an out-of-core result disagrees with its closed form")


if __name__ == "__main__":
    main()
