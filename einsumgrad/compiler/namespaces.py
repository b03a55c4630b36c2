"""The array libraries of the compiled backends: their modules, arrays as theirs and back, dtypes, and each
registered function on their arrays, by its formula over their namespace (see :mod:`einsumgrad.core.xp`), so that
compiled code traces under ``jax.jit`` and keeps torch tensors.

>>> float(function("jax", "sigmoid")(0.0))
0.5
"""
from __future__ import annotations

import importlib
from typing import Callable

import numpy as np

from ..core import xp
from ..core.extras import require
from ..core.errors import EinsumgradError
from ..core.functions import get

MODULES = {name: module for name, module in xp.MODULES.items() if name != "numpy"}  # the backends but NumPy
FOREIGN = {"jax": "jax", "jaxlib": "jax", "torch": "torch"}  # array libraries the NumPy backend refuses to convert
KNOWN = {"numpy", "dask", "cupy", "tensorflow", *FOREIGN}  # array libraries taken as they are


def library(a) -> str:
    """The library an array's class comes from: ``"numpy"``, ``"jaxlib"``, ``"torch"``, ``"array_api_strict"``."""
    return type(a).__module__.partition(".")[0]


def foreign(a) -> str | None:
    """The backend of an array the NumPy backend refuses to convert (``"jax"``, ``"torch"``), else None.

    >>> foreign(np.ones(2)), foreign([1.0])
    (None, None)
    """
    return FOREIGN.get(library(a))


def from_array_api(name: str, a) -> np.ndarray | None:
    """An Array API array of a library einsumgrad has no backend for (``array_api_strict``, ...) read into
    NumPy through DLPack, the standard's interchange; None for any other value. One that DLPack cannot bring
    to NumPy (on a GPU, say) is a clear error naming it.

    >>> from_array_api("x", np.ones(2)) is None  # NumPy's own arrays are not converted
    True
    """
    if not hasattr(a, "__array_namespace__") or library(a) in KNOWN:
        return None
    try:
        return np.from_dlpack(a)
    except (TypeError, ValueError, RuntimeError, BufferError, AttributeError) as err:
        raise EinsumgradError(f"array {name!r} is a {library(a)} array ({type(a).__name__}), which einsumgrad reads "
                              f"into NumPy through DLPack, and that failed: {err}; convert it to NumPy first"
                              ) from None


def module(backend: str):
    return require(MODULES[backend], f"backend={backend!r}")


def function(backend: str, name: str) -> Callable:
    """The function ``name`` on ``backend``'s arrays: its formula over the namespace, or, for a function with
    none (one of your own), its NumPy implementation on the array's values, given back as the backend's array —
    for values that autograd does not track or jax does not trace (those are refused, naming the function:
    NumPy would cut the gradient off)."""
    fn = get(name)
    formula = fn.formula
    if formula is not None:
        namespace = xp.namespace(backend)
        return lambda x, *params: formula(namespace, x, *params)
    to_backend = module(backend).asarray

    def on_values(x, *params):
        if getattr(x, "requires_grad", False) or backend == "jax" and isinstance(x, jax_tracer()):
            raise EinsumgradError(f"function {name!r} has no {backend} form (a formula over an array namespace), only "
                                  f"a NumPy implementation, so it cannot run on arrays that {backend} differentiates "
                                  "or traces; use the numpy backend for it")
        return to_backend(fn.impl(to_numpy(x), *params))

    return on_values


def as_backend(backend: str, a):
    """NumPy input as an array of ``backend`` (sharing memory where it can); its own arrays as they are."""
    if not isinstance(a, np.ndarray):
        return a
    return module(backend).asarray(a) if backend == "jax" else module(backend).as_tensor(a)


def jax_tracer() -> type:
    """jax's class of traced values (under ``jax.jit``, ``jax.grad``), which have no values yet."""
    return importlib.import_module("jax").core.Tracer


def to_numpy(a) -> np.ndarray:
    """The values of an array of any of these libraries as NumPy's (a torch tensor detached first)."""
    return np.asarray(a.detach().cpu() if hasattr(a, "detach") else a)


def numpy_dtype(a) -> np.dtype:
    """The NumPy dtype of an array of any of these libraries (torch.float64 -> float64)."""
    try:
        return np.dtype(a.dtype)
    except TypeError:
        return np.dtype(str(a.dtype).removeprefix("torch."))
