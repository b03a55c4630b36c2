"""How a derivative's axes are laid out, with each convention named as its source defines it.

``∂y/∂X`` holds one number for every entry of ``y`` and every entry of ``X``; conventions differ
only in how those numbers are arranged:

- ``"shape"`` (the default): shape ``y.shape + X.shape``, as ``jax.jacobian`` and
  ``torch.autograd.functional.jacobian``. The gradient of a scalar is shaped like ``X``.
- ``"numerator"``: Wikipedia's numerator layout, "according to y and Xᵀ": y's axes, then X's
  reversed. The gradient of a scalar by an m×n matrix is n×m.
- ``"denominator"``: Wikipedia's denominator layout, "according to yᵀ and X": the transpose of
  the numerator layout. The gradient of a scalar by an m×n matrix is m×n.
- ``"vec"``: Magnus and Neudecker's ``∂vec(y)/∂vec(X)ᵀ``, a ``|y| × |X|`` matrix, where ``vec``
  stacks a matrix's columns (column-major order).

A layout's row (the numerator layout's ``∂f/∂x`` by a vector, the textbooks' ``1×n`` row
``∂f/∂y W``; the denominator layout's ``∂y/∂s`` by a scalar) stays a 1-D array of ``n``
(:func:`row`): NumPy's vectors have no orientation, ``row @ J`` is the chain rule's row times a
Jacobian, and ``x - η row`` keeps ``x``'s shape where a ``(1, n)`` array would silently broadcast
it to ``(1, n)``. Its formula is printed as the row (``gᵀ W``) and its note says so.

Wikipedia defines its two layouts for scalars, vectors and matrices with at most two axes in
the result (a vector by a vector, a scalar by a matrix, a matrix by a scalar); for anything
larger (``∂y/∂W`` for ``y = Wx``) it defines none, and so neither does this module.

>>> axes("numerator", 0, 2)
(1, 0)
>>> axes("denominator", 1, 1)
(1, 0)
"""
from __future__ import annotations

import numpy as np

from ..core.errors import EinsumgradError

LAYOUTS = ("shape", "numerator", "denominator", "vec")

_SOURCES = {
    "shape": "shape layout (as jax.jacobian and torch)",
    "numerator": "Wikipedia's numerator layout",
    "denominator": "Wikipedia's denominator layout",
    "vec": "Magnus–Neudecker's vec layout",
}


def check(layout) -> str:
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise EinsumgradError(
            f"layout={layout!r}: choose 'shape' (y.shape + X.shape, as jax.jacobian; the default), 'numerator' or "
            "'denominator' (Wikipedia's layouts), or 'vec' (Magnus–Neudecker's ∂vec(y)/∂vec(X)ᵀ)")
    return layout


def axes(layout: str, k: int, n: int, y: str = "y", x: str = "X") -> tuple[int, ...]:
    """Which axes of the shape-layout array (``k`` of ``y``'s, then ``n`` of ``x``'s) the
    layout's array has, in order; ``vec`` keeps them (it reshapes afterwards)."""
    check(layout)
    if layout in ("shape", "vec"):
        return tuple(range(k + n))
    if k + n > 2:
        raise EinsumgradError(
            f"Wikipedia's {layout} layout is defined for results of at most two axes (a vector by a vector, a scalar "
            f"by a matrix, a matrix by a scalar); ∂{y}/∂{x} is {_kind(k)} by {_kind(n)}, which it leaves undefined: "
            f"use layout='shape' ({y}.shape + {x}.shape, as jax.jacobian) or layout='vec' (∂vec({y})/∂vec({x})ᵀ)")
    numerator = tuple(range(k)) + tuple(range(k + n - 1, k - 1, -1))
    return numerator if layout == "numerator" else numerator[::-1]


def row(layout: str, k: int, n: int) -> bool:
    """Whether the layout writes this derivative (``k`` axes of ``y``, ``n`` of ``X``) as a row.

    >>> row("numerator", 0, 1), row("denominator", 0, 1), row("denominator", 1, 0)
    (True, False, True)
    """
    return (layout, k, n) in (("numerator", 0, 1), ("denominator", 1, 0))


def _kind(rank: int) -> str:
    return ("a scalar", "a vector", "a matrix")[rank] if rank < 3 else f"a tensor of rank {rank}"


def vec_matrix(array, k: int):
    """The shape-layout array as ``∂vec(y)/∂vec(X)ᵀ``: ``|y|`` rows, columns stacked column-major."""
    rows, cols = (int(np.prod(array.shape[s], dtype=np.int64)) for s in (slice(k), slice(k, None)))
    return np.reshape(array, (rows, cols), order="F")


def note(layout: str, y: str, x: str, out, ellipsis: bool = False, k: int = 0) -> str:
    """One line naming the layout and the array's shape (``k`` of its axes ``y``'s), e.g.
    ``shape layout (as jax.jacobian and torch): J[i,j,k], shape y.shape + W.shape``."""
    if row(layout, k, len(out) - k):
        size = f"|{y if k else x}|"
        text = (f"{_SOURCES[layout]}: the row J[{','.join(out)}], 1×{size}, as the textbooks write it; kept a 1-D "
                f"array of {size} (NumPy's vectors have no orientation: row @ J is the chain rule's product)")
    elif layout == "vec":
        text = f"{_SOURCES[layout]}: ∂vec({y})/∂vec({x})ᵀ, a |{y}|×|{x}| matrix, vec stacking columns (column-major)"
    else:
        shape = {"shape": f"{y}.shape + {x}.shape", "numerator": f"laid out by {y} and {x}ᵀ",
                 "denominator": f"laid out by {y}ᵀ and {x}"}[layout]
        text = f"{_SOURCES[layout]}: J[{','.join(out)}], {'shape ' * (layout == 'shape')}{shape}"
    return text + ("; '...' shown empty" if ellipsis else "")
