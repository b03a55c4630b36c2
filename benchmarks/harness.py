"""Shared benchmark method: interleaved repeats, medians and spread, machine facts, tables.

Timings on shared machines are noisy: every function of a comparison runs once per
round, in turn, so that a slow spell hits all of them alike; we report medians and
the interquartile range, and ratios of medians measured in the same run.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import sys
import time
import tracemalloc
from dataclasses import dataclass
from importlib import metadata

import numpy as np


@dataclass
class Timing:
    median: float
    q1: float
    q3: float

    @property
    def spread(self) -> float:
        return (self.q3 - self.q1) / self.median if self.median else 0.0


def interleaved(functions: dict, repeats: int = 15, warmup: int = 2, budget: float = 20.0) -> dict[str, Timing]:
    """Time each function ``repeats`` times, round-robin, after ``warmup`` untimed rounds.
    Stops early (keeping at least 3 rounds) once ``budget`` seconds have passed."""
    for _ in range(warmup):
        for f in functions.values():
            f()
    samples: dict[str, list[float]] = {name: [] for name in functions}
    start = time.perf_counter()
    for r in range(repeats):
        for name, f in functions.items():
            t0 = time.perf_counter()
            f()
            samples[name].append(time.perf_counter() - t0)
        if r >= 2 and time.perf_counter() - start > budget:
            break
    return {n: Timing(*np.percentile(s, [50, 25, 75])) for n, s in samples.items()}


def write_floor(x: np.ndarray) -> np.ndarray:
    """The memory-write floor for the dense ∂(Wx)/∂W: allocate m·m·n, fill it, write the diagonal."""
    n = x.shape[0]
    out = np.empty((n, n, n))
    out.fill(0.0)
    np.einsum("iik->ik", out)[...] = x
    return out


def peak_memory(f) -> int:
    """Peak bytes allocated while ``f`` runs (NumPy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def machine() -> str:
    """Cores, CPU, BLAS and library versions, for the table's caption."""
    import opt_einsum

    blas = "unknown BLAS"
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{deps.get('name')} {deps.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - older NumPy has no dict mode
        pass
    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}", f"opt_einsum {opt_einsum.__version__}"]
    for name in ("jax", "torch", "autograd", "dask"):
        if name in sys.modules:
            try:
                versions.append(f"{name} {metadata.version(name)}")
            except metadata.PackageNotFoundError:
                versions.append(f"{name} {getattr(sys.modules[name], '__version__', '?')}")
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores ({cpu}), {blas}; " + ", ".join(versions)


def human_time(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} TiB"


def table(rows: list[dict], columns: list[str], as_csv: bool = False) -> str:
    if as_csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def plot(series: dict[str, dict[str, list[tuple[float, float]]]], path: str, xlabel: str) -> None:
    """One panel per problem: median time against size, one line per method, log-log axes."""
    if not series:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: --plot needs matplotlib (pip install 'einsumgrad[plot]'); no plot written")
        return
    fig, axes = plt.subplots(1, len(series), figsize=(4.5 * len(series), 4), squeeze=False)
    for ax, (problem, methods) in zip(axes[0], series.items()):
        for method, points in methods.items():
            xs, ys = zip(*sorted(points))
            ax.plot(xs, ys, marker="o", label=method)
        ax.set(xscale="log", yscale="log", title=problem, xlabel=xlabel, ylabel="median time (s)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def arguments(description: str, plots: bool = True) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes and few repeats (under 2 minutes)")
    p.add_argument("--csv", action="store_true", help="print CSV instead of Markdown")
    if plots:
        p.add_argument("--plot", metavar="FILE.png", help="plot time against size, log axes (needs matplotlib)")
    p.add_argument("--repeats", type=int, default=None)
    return p.parse_args()
