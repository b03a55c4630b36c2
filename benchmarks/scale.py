"""Out of core: a logistic-regression Hessian over data larger than this machine's memory.

    python benchmarks/scale.py --rows 20000000    # 20M × 256 float64 = 41 GB of X
    python benchmarks/scale.py --quick            # 200k rows, for CI

X is generated chunk by chunk by dask (it never exists whole); einsumgrad's
compiled Hessian runs on the dask arrays with backend="dask", lazily, and the
scheduler streams the chunks through it. Peak resident memory is reported next
to the size of X and of this machine's RAM, and the result is checked against
the closed form Xᵀ diag(s(1 − s)) X computed by dask on the same chunks.
"""
import argparse
import os
import resource
import time

import numpy as np

import einsumgrad as eg
from harness import human_bytes, human_time, machine, table


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", type=int, default=20_000_000)
    p.add_argument("--cols", type=int, default=256)
    p.add_argument("--chunk", type=int, default=100_000)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--csv", action="store_true")
    args = p.parse_args()
    try:
        import dask
        import dask.array as da
    except ImportError:
        print("note: dask is not installed (pip install 'einsumgrad[dask]'); nothing to run")
        return
    rows = 200_000 if args.quick else args.rows
    d, chunk = args.cols, min(args.chunk, rows)
    X = da.random.default_rng(0).standard_normal((rows, d), chunks=(chunk, d))
    w0 = np.random.default_rng(1).standard_normal(d) / np.sqrt(d)
    Xt, wt = eg.tensor("X", 2), eg.tensor("w", 1)
    hessian = eg.compile(eg.hessian(eg.sum(eg.log(1 + eg.exp(Xt @ wt))), wt), backend="dask")
    t0 = time.perf_counter()
    lazy = hessian(X=X, w=w0)
    plan = time.perf_counter() - t0
    with dask.config.set(scheduler="threads", num_workers=os.cpu_count()):
        t0 = time.perf_counter()
        H = lazy.compute()
        elapsed = time.perf_counter() - t0
        s = 1 / (1 + da.exp(-X @ w0))
        closed = ((X.T * (s * (1 - s))) @ X).compute()
    rel = float(np.abs(H - closed).max() / np.abs(closed).max())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    rows_out = [{
        "problem": "Hessian of Σ log(1+exp(Xw)), backend='dask'", "X": f"{rows:,} × {d}",
        "size of X": human_bytes(rows * d * 8), "RAM": human_bytes(ram), "chunks": X.numblocks[0],
        "plan (lazy graph)": human_time(plan), "compute": human_time(elapsed),
        "peak RSS": human_bytes(peak), "max rel. error vs closed form": f"{rel:.1e}",
    }]
    print(table(rows_out, list(rows_out[0]), args.csv))
    print(f"\nX is generated chunk by chunk and never held whole; {machine()}")
    if rel > 1e-8:
        raise SystemExit("the out-of-core Hessian disagrees with the closed form")


if __name__ == "__main__":
    main()
