"""Shared benchmark method: pinned thread counts, interleaved repeats, medians and spread, tables.

Timings on shared machines are noisy, and multithreaded BLAS on a busy machine turns a
0.3 ms matrix-vector product into one that waits milliseconds for a second core. So:

- every thread pool runs ``--threads N`` threads (default 1) while anything is timed:
  BLAS and OpenMP through threadpoolctl, torch through ``torch.set_num_threads``, and
  jax through ``XLA_FLAGS`` set before jax is imported (Eigen's intra-op pool of N
  threads, single-threaded at N = 1; XLA may still keep idle helper threads);
- every function of a comparison runs once per round, in a rotating order, so that a
  slow spell hits all of them alike (a fast one several times: a sample is at least
  ``SAMPLE`` long);
- every time is the median with its interquartile range, and every ratio is the median
  and interquartile range of the per-round ratios (paired samples from the same round).
"""
from __future__ import annotations

import argparse
import contextlib
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

NO_THREADPOOLCTL = ("the benchmarks pin BLAS threads with threadpoolctl, which is not installed: "
                    "pip install 'einsumgrad[bench]' (--quick runs without it, unpinned, with a warning)")

INTERLEAVED = ("medians of interleaved rounds in one process; (a–b) is the interquartile range; "
               "a ratio's is that of the per-round ratios")


@dataclass(frozen=True)
class Timing:
    """Samples of one quantity (seconds, or a ratio), with their median and quartiles."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    @property
    def quartiles(self) -> tuple[float, float]:
        q1, q3 = np.percentile(self.samples, [25, 75])
        return float(q1), float(q3)

    def __truediv__(self, other: Timing) -> Timing:
        """Per-round ratios of two interleaved timings."""
        return Timing(tuple(a / b for a, b in zip(self.samples, other.samples)))


SAMPLE = 2e-3  # seconds: a function faster than this is called several times a sample, their mean one sample


def interleaved(functions: dict, repeats: int = 15, warmup: int = 2, budget: float = 20.0) -> dict[str, Timing]:
    """Time each function ``repeats`` times in rounds, each round in a rotated order, after
    ``warmup`` untimed rounds; after them, a sample of a function faster than ``SAMPLE`` is the
    mean of as many calls as fill it (one call of 60 µs is timed no better than the clock and a
    cold cache allow). Stops early (keeping at least 3 rounds) after ``budget`` seconds."""
    calls = dict.fromkeys(functions, 1)  # without warmup: one call a sample
    for _ in range(warmup):
        for name, f in functions.items():
            t0 = time.perf_counter()
            f()
            calls[name] = max(1, min(1000, int(SAMPLE / max(time.perf_counter() - t0, 1e-7))))
    names = list(functions)
    samples: dict[str, list[float]] = {name: [] for name in names}
    start = time.perf_counter()
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            f, n = functions[name], calls[name]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            samples[name].append((time.perf_counter() - t0) / n)
        if r >= 2 and time.perf_counter() - start > budget:
            break
    return {n: Timing(tuple(s)) for n, s in samples.items()}


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


def pin_jax_threads(threads: int) -> None:
    """Ask XLA for ``threads`` intra-op threads; takes effect only if jax is not yet imported."""
    flags = f"intra_op_parallelism_threads={threads}"
    if threads == 1:
        flags = "--xla_cpu_multi_thread_eigen=false " + flags
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()


def stage(text: str) -> None:
    """One line on stderr as a stage starts, on a terminal only (never in piped output)."""
    if sys.stderr.isatty():
        print(f"… {text}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def dask_progress():
    """dask's own progress bar over the computations inside, on a terminal only."""
    if not sys.stderr.isatty():
        yield
        return
    from dask.diagnostics import ProgressBar

    with ProgressBar(out=sys.stderr):
        yield


@contextlib.contextmanager
def pinned(args: argparse.Namespace, method: str = INTERLEAVED):
    """Run the body with every thread pool at ``args.threads`` threads; print the header first.
    Without threadpoolctl: exit with a message, or in --quick mode warn and run unpinned."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        if not args.quick:
            raise SystemExit(NO_THREADPOOLCTL) from None
        print(f"warning: {NO_THREADPOOLCTL}", file=sys.stderr)
        print(header(args, "not pinned: threadpoolctl is not installed", method))
        yield
        return
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        pools = [f"{p['prefix']} {p.get('version') or ''}".strip() + f" ({p['user_api']}): {p['num_threads']}"
                 for p in threadpool_info()]
        if "torch" in sys.modules:
            pools.append(f"torch: {sys.modules['torch'].get_num_threads()}")
        if "jax" in sys.modules:
            pools.append(f"jax: XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
        print(header(args, f"{args.threads} each: " + "; ".join(pools), method))
        yield


def header(args: argparse.Namespace, threads: str, method: str) -> str:
    """The run's settings as a two-column table (or # comments for CSV)."""
    rows = [("machine", machine()), ("threads (--threads)", threads), ("method", method)]
    if args.csv:
        return "\n".join(f"# {k}: {v}" for k, v in rows)
    return table([{"setting": k, "value": v} for k, v in rows], ["setting", "value"]) + "\n"


def machine() -> str:
    """Cores, CPU and library versions."""
    import opt_einsum

    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}", f"opt_einsum {opt_einsum.__version__}"]
    for name in ("jax", "torch", "autograd", "dask"):
        if name in sys.modules:
            try:
                versions.append(f"{name} {metadata.version(name)}")
            except metadata.PackageNotFoundError:
                versions.append(f"{name} {getattr(sys.modules[name], '__version__', '?')}")
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    return f"{os.cpu_count()} cores ({cpu}); " + ", ".join(versions)


def _unit(seconds: float) -> tuple[str, float]:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return unit, scale
    return "ns", 1e-9


def human_time(seconds: float) -> str:
    unit, scale = _unit(seconds)
    return f"{seconds / scale:.3g} {unit}"


def _number(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def spread(t: Timing, unit: str = "", scale: float = 1.0) -> str:
    """``median (q1–q3)``: a ratio as it is, a time in the unit of its median."""
    q1, q3 = t.quartiles
    return f"{_number(t.median / scale)}{unit} ({_number(q1 / scale)}–{_number(q3 / scale)})"


def time_spread(t: Timing) -> str:
    unit, scale = _unit(t.median)
    return spread(t, " " + unit, scale)


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


def _threads(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a thread count is a whole number from 1, not {text!r}")
    return int(text)


def parser(description: str) -> argparse.ArgumentParser:
    """The options every script shares."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes and few repeats (under 2 minutes)")
    p.add_argument("--csv", action="store_true", help="print CSV instead of Markdown")
    p.add_argument("--threads", type=_threads, default=1, metavar="N",
                   help="threads for BLAS, OpenMP, torch and jax while timing (default 1)")
    return p


def arguments(description: str, plots: bool = True) -> argparse.Namespace:
    """Parse a timing script's options and ask jax for the thread count (before anything imports jax)."""
    p = parser(description)
    if plots:
        p.add_argument("--plot", metavar="FILE.png", help="plot time against size, log axes (needs matplotlib)")
    p.add_argument("--repeats", type=int, default=None, help="rounds of interleaved calls")
    args = p.parse_args()
    pin_jax_threads(args.threads)
    return args
