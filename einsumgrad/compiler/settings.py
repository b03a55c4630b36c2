"""Settings: the plan-cache bound, the memory limit, the size of programs run as straight-line code,
and the checked names of optimizers and backends."""
from __future__ import annotations

import copy
import importlib.util
import numbers
from typing import Any

import opt_einsum

from ..core.errors import EinsumgradError
from ..core.extras import install

# memory_limit None: min(2 GiB, half the free memory); straight_limit: entries, below which a step's dispatch
# costs as much as its arithmetic; fuse: elementwise chains run as ufuncs into kept buffers (fusion.py)
SETTINGS: dict[str, Any] = {"plan_cache_size": 128, "memory_limit": None, "straight_limit": 4096, "fuse": True}
_epoch = 0  # bumped by configure: plans made before re-check their memory against the new limit


def _has_path_fn(name: str) -> bool:
    try:
        opt_einsum.paths.get_path_fn(name)
    except KeyError:
        return False
    return True


_KNOWN_OPTIMIZERS = ("auto", "auto-hq", "branch-1", "branch-2", "branch-all", "dp", "dynamic-programming", "eager",
                     "greedy", "opportunistic", "optimal", "random-greedy", "random-greedy-128")
OPTIMIZERS = tuple(name for name in _KNOWN_OPTIMIZERS if _has_path_fn(name))  # those this opt_einsum has
BACKENDS = ("numpy", "torch", "jax", "cupy", "tensorflow", "dask")


def configure(*, plan_cache_size: int | None = None, memory_limit: int | str | None = None,
              straight_limit: int | None = None, fuse: bool | None = None) -> dict:
    """Set the per-function plan-cache bound, the dense-result memory limit in bytes (``"auto"``:
    the smaller of 2 GiB and half the free memory) and ``straight_limit``, the most entries of any
    array of a NumPy float64 program that ``eg.compile`` runs as straight-line generated code rather
    than step by step (0: none), and ``fuse``, whether a program run step by step merges its elementwise
    chains into single steps (docs/design.md §4.5; ``False`` to compare); returns the settings. A lower memory
    limit applies at once, to plans already made too; ``straight_limit`` and ``fuse`` apply to plans made after
    (``eg.clear_caches()``)."""
    global _epoch
    size = None if plan_cache_size is None else whole_number("plan_cache_size", plan_cache_size)
    straight = None if straight_limit is None else whole_number("straight_limit", straight_limit, " of entries")
    auto = isinstance(memory_limit, str) and memory_limit == "auto"
    limit = None if memory_limit is None or auto else whole_number("memory_limit", memory_limit, " of bytes, or 'auto'")
    if fuse is not None and not isinstance(fuse, bool):
        raise EinsumgradError(f"fuse takes True or False, got {fuse!r}")
    if straight is not None:
        SETTINGS["straight_limit"] = straight
    if fuse is not None:
        SETTINGS["fuse"] = fuse
    if size is not None:
        SETTINGS["plan_cache_size"] = size
    if memory_limit is not None:
        SETTINGS["memory_limit"] = limit
        _epoch += 1
    return dict(SETTINGS)


def epoch() -> int:
    """How many times the memory limit was set: a plan checked at an older epoch checks again."""
    return _epoch


def whole_number(name: str, value, unit: str = "") -> int:
    """``value`` if it is a whole number >= 0 (an int, or a float such as 2e9), else a clear error."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 0:
        return int(value)
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    raise EinsumgradError(f"{name} must be a whole number >= 0{unit}; got {value!r}")


def memory_limit() -> int:
    """The configured limit in bytes, or the smaller of 2 GiB and half the free memory."""
    if SETTINGS["memory_limit"] is not None:
        return SETTINGS["memory_limit"]
    limit = 2 << 30
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        limit = min(limit, int(info["MemAvailable"].split()[0]) * 1024 // 2)
    except (OSError, KeyError, ValueError):
        pass
    return limit


def describe_bytes(n: float) -> str:
    """``216000000 -> '206 MiB'``: three significant digits in the largest unit that fits."""
    k = 0
    while k < 6 and n >= 1024 ** (k + 1):
        k += 1
    return f"{n / 1024**k:.3g} {('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB')[k]}"


def check_optimize(optimize):
    """``optimize`` if opt_einsum takes it: a known name, a bool, a path (a list of position tuples) or a
    PathOptimizer (``opt_einsum.RandomGreedy()``, cotengra's ``HyperOptimizer()``: see :func:`for_one_contraction`)."""
    if isinstance(optimize, opt_einsum.paths.PathOptimizer):
        for_one_contraction(optimize)  # one that cannot be copied is refused here, not at the first call
        return optimize
    if isinstance(optimize, (bool, list, tuple)):
        return optimize
    if not isinstance(optimize, str) or optimize not in OPTIMIZERS:
        raise EinsumgradError(f"unknown optimize={optimize!r}; choose one of {', '.join(OPTIMIZERS)} (or False: "
                              "one np.einsum call), a path such as [(0, 1), (0, 1)], or an opt_einsum PathOptimizer "
                              "such as opt_einsum.RandomGreedy()")
    return optimize


def for_one_contraction(optimize):
    """What plans one contraction for ``optimize``: a PathOptimizer's own copy, since stateful ones (RandomGreedy,
    BranchBound, cotengra's) plan one contraction per instance and a plan has several; other values as they are.
    The instance given is never called, so it can be given again.

    >>> rg = opt_einsum.RandomGreedy()
    >>> for_one_contraction(rg) is rg, for_one_contraction("greedy")
    (False, 'greedy')
    """
    if not isinstance(optimize, opt_einsum.paths.PathOptimizer):
        return optimize
    try:
        return copy.deepcopy(optimize)
    except Exception as err:  # noqa: BLE001 - whatever stops a copy (a process pool, a lock) is said here
        raise EinsumgradError(f"optimize={type(optimize).__name__}(...) cannot be copied for each contraction of a "
                              f"plan ({type(err).__name__}: {err}); give one without a process pool, or a name such "
                              "as 'random-greedy'") from None


def check_backend(backend: str) -> str:
    """``backend`` if it is one opt_einsum dispatches to and its package is installed."""
    if backend not in BACKENDS:
        raise EinsumgradError(f"unknown backend={backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "numpy" and importlib.util.find_spec(backend) is None:
        raise EinsumgradError(f"backend={backend!r} needs the package {backend!r}, which is not installed: "
                              f"{install(backend)}")
    return backend
