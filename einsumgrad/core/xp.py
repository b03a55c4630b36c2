"""The array namespace that every registered function's ``formula(xp, x, *params)`` is written over, once.

NumPy, ``jax.numpy`` and ``torch`` share most spellings (``xp.exp``, ``xp.where``, ``xp.amax(x, axis=(1,),
keepdims=True)``, ``xp.linalg.inv``); a :class:`Namespace` passes those through to its module, and spells the
few that differ itself: ``zeros(shape, like)`` and ``arange(n, like)`` (torch puts them on ``like``'s device)
and ``special.erf`` (SciPy's, ``jax.scipy.special``'s, ``torch.special``'s). Code generation calls the same
formulas with modules that record source text (see :class:`einsumgrad.compiler.codegen._Source`).

>>> import numpy as np
>>> xp = namespace("numpy")
>>> xp.exp(np.zeros(2)), xp.zeros((2,), like=np.ones(1, "f")).dtype
(array([1., 1.]), dtype('float32'))
"""
from __future__ import annotations

import importlib
import math
import types
from functools import cache

import numpy as np

from .errors import EinsumgradError
from .extras import require

MODULES = {"numpy": "numpy", "jax": "jax.numpy", "torch": "torch"}
SPECIAL = {"numpy": "scipy.special", "jax": "jax.scipy.special", "torch": "torch.special"}  # where erf lives


class Namespace:
    """``module`` (NumPy's or ``jax.numpy``'s spellings) of ``backend``, with ``special`` (the module of ``erf``,
    imported when a formula first reads it, unless given)."""

    def __init__(self, backend: str, module, special=None):
        self.backend, self.module, self._given_special = backend, module, special

    def __getattr__(self, name: str):
        if name.startswith("_") or name == "module":  # not set yet (copy asks before __init__)
            raise AttributeError(name)
        value = getattr(self.module, name)
        if isinstance(self.module, types.ModuleType):  # a module's function, kept: every later read is plain
            setattr(self, name, value)  # (a source writer's attribute is a new text each time, never kept)
        return value

    @property
    def special(self):
        return self._given_special if self._given_special is not None else _special(self.backend)

    def zeros(self, shape, like):
        """Zeros of ``shape`` with the dtype (and device) of the array ``like``."""
        return self.module.zeros(shape, dtype=like.dtype)

    def arange(self, n, like):
        """``0, 1, ..., n - 1`` where the array ``like`` is."""
        return self.module.arange(n)


class Torch(Namespace):
    """torch's spellings where they differ."""

    def zeros(self, shape, like):
        return like.new_zeros(shape)

    def arange(self, n, like):
        return self.module.arange(n, device=like.device)


def namespace(backend: str, module=None, special=None) -> Namespace:
    """The namespace of ``backend`` ("numpy", "jax", "torch"); ``module`` and ``special`` replace its modules
    (code generation passes ones that write source)."""
    if backend not in MODULES:
        raise EinsumgradError(f"no array namespace for backend {backend!r}; known: {', '.join(MODULES)}")
    module = require(MODULES[backend], f"the {backend} backend") if module is None else module
    return (Torch if backend == "torch" else Namespace)(backend, module, special)


@cache
def _special(backend: str):
    """The module holding ``erf`` for ``backend``; for NumPy, SciPy's where SciPy is installed (it is not a
    dependency), else ``math.erf`` entry by entry (exact, slower, real input only)."""
    try:
        return importlib.import_module(SPECIAL[backend])
    except ImportError:
        if backend != "numpy":
            raise
        return _MathSpecial()


class _MathSpecial:
    """``erf`` without SciPy: ``math.erf`` entry by entry, for real input."""

    @staticmethod
    def erf(a):
        if np.iscomplexobj(a):
            raise EinsumgradError("erf of complex input needs SciPy (scipy.special.erf), which is not installed; "
                                  "einsumgrad's own erf is for real input")
        return np.vectorize(math.erf, otypes=[float])(a)


NUMPY = namespace("numpy")
