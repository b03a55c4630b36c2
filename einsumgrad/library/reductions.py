"""Functions along axes, one line each in :data:`FUNCTIONS`: ``softmax``, ``log_softmax``, ``logsumexp``, ``max``, ``min``, ``norm``,
``stochastic``.

Their params are the axes they work along, sorted and non-negative; ``build`` reads them from ``axis=``. Forward
values are numerically stable (the maximum is subtracted before ``exp``), and every derivative is a closed form
over the same functions, so second derivatives come from the same rules:

- ``d logsumexp(x) = Σ softmax(x) ⊙ dx`` over the axes;
- ``d softmax(x) = s ⊙ dx - s ⊙ Σ s ⊙ dx`` and ``d log_softmax(x) = dx - Σ softmax(x) ⊙ dx``;
- ``d max(x) = Σ ismax(x) ⊙ dx``, where ``ismax(x)`` is 1 at the maximum and, at a tie of ``k`` entries,
  ``1/k`` at each (ties share the gradient equally; ``min`` likewise with ``ismin``);
- ``stochastic(Y, axis=-1)`` is ``Y``, declared to sum to one along the axes (probabilities, one-hot labels) and
  checked when evaluated; simplification uses it, as it does for ``softmax``: ``Σ_j Y[i,j] = 1``;
- ``d ‖x‖ = Σ (x / ‖x‖) ⊙ dx``, ``x / ‖x‖`` being ``unit(x)``, which is 0 at ``x = 0`` (a subgradient:
  the gradient of ‖x‖ at 0 is documented as 0, never NaN); its own derivative, and so the Hessian of ``‖x‖``,
  is undefined at 0 and evaluating it there is a clear error.

>>> from ..core.algebra import tensor
>>> from ..core.functions import get
>>> from ..notation.render import index_notation
>>> print(index_notation(get("softmax").build(tensor("X", 2))))
y[i,j] = softmax(X)[i,j]
>>> print(index_notation(get("logsumexp").build(tensor("X", 2), axis=0)))
y[i] = logsumexp(X, axis=0)[i]
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.algebra import add, apply, as_expr, axes, power, product, scale
from ..core.errors import EinsumgradError
from ..core.functions import Function
from ..core.ir import Expr, fresh
from ..notation.render import atomic
from ..core.xp import NUMPY


def _reduced(dims, axes_):
    return tuple(d for k, d in enumerate(dims) if k not in axes_)


def _default(rank: int, axes_) -> bool:
    """Whether ``axes_`` are what ``axis=None`` names for a reduction: every axis."""
    return axes_ == tuple(range(rank))


def _show(default):
    """Printing ``name(X)``, with ``, axis=…`` where the axes are not the default for the argument's rank."""

    def show(name: str, argument: str, params: tuple, rank: int) -> str:
        (axes_,) = params
        if default(rank, axes_):
            return f"{name}({argument})"
        return f"{name}({argument}, axis={axes_[0] if len(axes_) == 1 else axes_})"

    return show


_LAST = lambda rank, axes_: axes_ == (rank - 1,)  # noqa: E731 - softmax's default: the last axis


def _indices(x: Expr, dx: Expr, axes_):
    """Index names for a rule: the argument's ``I``, ``I`` with the axes summed as ``S``, ``I`` without them as
    ``R``, and the derivative's extra axes ``E``; with the length of every one of them."""
    n = x.ndim
    names = fresh(dx.ndim + len(axes_), ())
    i, e, summed = names[:n], names[n:dx.ndim], dict(zip(axes_, names[dx.ndim:]))
    s = tuple(summed.get(k, a) for k, a in enumerate(i))
    r = tuple(a for k, a in enumerate(i) if k not in axes_)
    dims = dict(zip(i + e, dx.dims)) | {summed[k]: dx.dims[k] for k in axes_}
    return i, s, r, e, dims


def _read(operands, out, dims) -> Expr:
    """``Π operands`` over ``out``, summed over the rest (``product`` with the lengths filled in)."""
    return product(operands, out, tuple(dims[a] for a in out), dims)


def _weighted_sum(weights: str):
    """``dy = Σ_axes w(x) ⊙ dx``: the rule of a reduction whose gradient is ``w(x)`` (``softmax``, ``ismax``)."""

    def jvp(x, y, dx, axes_):
        i, _, r, e, dims = _indices(x, dx, axes_)
        return _read([(apply(weights, x, axes_), i), (dx, i + e)], r + e, dims)

    return jvp


def _softmax_jvp(x, y, dx, axes_):
    """``dy = y ⊙ dx - y ⊙ Σ_axes y ⊙ dx``."""
    i, s, _, e, dims = _indices(x, dx, axes_)
    return add(_read([(y, i), (dx, i + e)], i + e, dims), scale(_read([(y, i), (y, s), (dx, s + e)], i + e, dims), -1))


def _log_softmax_jvp(x, y, dx, axes_):
    """``dy = dx - Σ_axes softmax(x) ⊙ dx``, broadcast back along the axes."""
    i, s, _, e, dims = _indices(x, dx, axes_)
    return add(dx, scale(_read([(apply("softmax", x, axes_), s), (dx, s + e)], i + e, dims), -1))


def _unit_jvp(x, y, dx, axes_):
    """``d(x/‖x‖) = (dx - u ⊙ Σ u ⊙ dx) / ‖x‖`` with ``u = x/‖x‖``."""
    i, s, r, e, dims = _indices(x, dx, axes_)
    projected = add(dx, scale(_read([(y, i), (y, s), (dx, s + e)], i + e, dims), -1))
    return _read([(apply("inverse_norm", x, axes_), r), (projected, i + e)], i + e, dims)


def _inverse_norm_jvp(x, y, dx, axes_):
    """``d(1/‖x‖) = -Σ u ⊙ dx / ‖x‖²``."""
    i, _, r, e, dims = _indices(x, dx, axes_)
    return scale(_read([(power(y, 2), r), (apply("unit", x, axes_), i), (dx, i + e)], r + e, dims), -1)


def _zero_jvp(x, y, dx, axes_):
    return scale(dx, 0)


def _shifted(xp, a, axes_):
    """``a - max(a)`` along the axes: the ``exp`` of it overflows nowhere. 0 wherever ``a`` is an infinite maximum,
    and -inf elsewhere in its row, so that a row of -inf (or with +inf) gives no ``inf - inf``: ``logsumexp`` of a
    row of -inf is -inf, and its ``softmax`` the limit of a row of equal entries, uniform (one-hot on the +inf
    entries of a row that has them). (Where the maximum is finite, every entry is shifted by it, so that ``jax.grad``
    through the formula is the derivative at ties too.)

    >>> from ..core.xp import NUMPY
    >>> _shifted(NUMPY, np.array([[1.0, 3.0], [-np.inf, -np.inf], [np.inf, 0.0]]), (1,)).tolist()
    [[-2.0, 0.0], [0.0, 0.0], [0.0, -inf]]
    """
    top = xp.amax(a, axis=axes_, keepdims=True)
    infinite = xp.isinf(top)
    shifted = xp.where(infinite & (top > 0), -xp.inf, a - xp.where(infinite, 0, top))  # a finite top: a - top
    return xp.where(infinite & (a == top), 0, shifted)


def _softmax(xp, a, axes_):
    e = xp.exp(_shifted(xp, a, axes_))
    return e / xp.sum(e, axis=axes_, keepdims=True)


def _log_softmax(xp, a, axes_):
    shifted = _shifted(xp, a, axes_)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axes_, keepdims=True))


def _logsumexp(xp, a, axes_):
    return xp.amax(a, axis=axes_) + xp.log(xp.sum(xp.exp(_shifted(xp, a, axes_)), axis=axes_))


def _is_extreme(reduction: str):
    """1 where ``a`` reaches ``xp.<reduction>`` along the axes, shared equally among ties."""

    def share(xp, a, axes_):
        hit = xp.ones_like(a) * (a == getattr(xp, reduction)(a, axis=axes_, keepdims=True))  # a's dtype
        return hit / xp.sum(hit, axis=axes_, keepdims=True)

    return share


def _norm(xp, a, axes_):
    return xp.sqrt(xp.sum(a * a, axis=axes_))


def _unit(xp, a, axes_):
    size = xp.sqrt(xp.sum(a * a, axis=axes_, keepdims=True))
    return a / xp.where(size > 0, size, 1)  # x / ‖x‖ is taken as 0 at x = 0


def _inverse_norm(a, axes_):
    """``1 / ‖x‖``, refused at ``x = 0`` (the formula, which cannot refuse a value under ``jax.jit``, gives inf)."""
    size = _norm(NUMPY, a, axes_)
    if np.any(size == 0):
        raise EinsumgradError("the second derivative of norm(x) is undefined at x = 0 (its gradient there is taken "
                              "as the subgradient 0)")
    return 1 / size


def _stochastic(a, axes_):
    """``Y``, checked to sum to one along the axes (the formula, which cannot refuse a value under ``jax.jit``, is
    ``Y``)."""
    sums = np.sum(a, axis=axes_)
    if not np.allclose(sums, 1):
        raise EinsumgradError(f"stochastic(Y): Y was declared to sum to one along axis {axes_}, but its sums range "
                              f"from {np.min(sums):.6g} to {np.max(sums):.6g}")
    return a


def _unit_show(name, argument, params, rank) -> str:
    size = _norm_show(lambda n: n)(name, argument, params, rank)
    return f"{argument} / {size}" if atomic(argument) else f"({argument}) / {size}"


def _nonempty(name: str):
    """A check that the axes to reduce are not empty: the maximum of nothing has no value."""

    def check(sizes, axes_):
        empty = [k for k in axes_ if sizes[k] == 0]
        if empty:
            raise EinsumgradError(f"{name}: axis {empty[0]} has length 0, and {name} along it has no value")

    return check


def _build(name: str, default_axis):
    """``name(x, axis=default_axis)``: the call along the named axes."""

    def build(x, axis=default_axis):
        x = as_expr(x)
        return apply(name, x, axes(x.ndim, axis))

    build.__name__ = name
    build.__doc__ = f"``{name}(x, axis={default_axis})``; see einsumgrad.library.reductions."
    return build


def _build_reduction(name: str, note: str = ""):
    """``name(x, axis=None, keepdims=False)``, as NumPy's."""

    def build(x, axis=None, keepdims=False):
        if not isinstance(keepdims, bool):
            raise EinsumgradError(f"{name}: keepdims is True or False, got {keepdims!r}")
        x = as_expr(x)
        axes_ = axes(x.ndim, axis)
        reduced = apply(name, x, axes_)
        if not keepdims:
            return reduced
        i = fresh(x.ndim, ())
        dims = tuple(1 if k in axes_ else d for k, d in enumerate(x.dims))
        return product([(reduced, _reduced(i, axes_))], i, dims)

    build.__name__ = name
    build.__doc__ = f"``{name}(x, axis=None, keepdims=False)`` as NumPy's{note}. See einsumgrad.library.reductions."
    return build


_TIES = "; at a tie of k entries each gets 1/k of the gradient"


def _norm_show(text):
    """``‖x‖`` along every axis (printed as ``text(‖x‖)``), else ``norm(x, axis=…)``."""

    def show(name: str, argument: str, params: tuple, rank: int) -> str:
        return text(_show(_default)("norm", argument, params, rank).replace(f"norm({argument})", f"‖{argument}‖"))

    return show


_REDUCE: dict[str, Any] = dict(result_shape=lambda dims, axes_: _reduced(dims, axes_))


def along(name: str, formula, jvp, **options) -> Function:
    """A function along axes (an entry of the registry) from its ``formula(xp, x, axes)`` (its params: the axes) and its forward rule;
    it refuses an axis of length 0."""
    return Function(name, formula=formula, jvp=jvp, check=_nonempty(name), holomorphic=False, **options)


FUNCTIONS = (
    along("softmax", _softmax, _softmax_jvp, build=_build("softmax", -1), show=_show(_LAST), sums_to_one=True),
    along("stochastic", lambda xp, a, axes_: a, lambda x, y, dx, axes_: dx, impl=_stochastic,
          build=_build("stochastic", -1), show=lambda name, argument, params, rank: argument, sums_to_one=True),
    along("log_softmax", _log_softmax, _log_softmax_jvp, build=_build("log_softmax", -1), show=_show(_LAST)),
    along("logsumexp", _logsumexp, _weighted_sum("softmax"), build=_build("logsumexp", None), show=_show(_default),
          **_REDUCE),
    along("max", lambda xp, a, axes_: xp.amax(a, axis=axes_), _weighted_sum("ismax"),
          build=_build_reduction("max", _TIES), show=_show(_default), smooth=False, **_REDUCE),
    along("min", lambda xp, a, axes_: xp.amin(a, axis=axes_), _weighted_sum("ismin"),
          build=_build_reduction("min", _TIES), show=_show(_default), smooth=False, **_REDUCE),
    along("ismax", _is_extreme("amax"), _zero_jvp, show=_show(_default), public=False),
    along("ismin", _is_extreme("amin"), _zero_jvp, show=_show(_default), public=False),
    # the norm of nothing is 0: no check of lengths
    Function("norm", formula=_norm, jvp=_weighted_sum("unit"), build=_build_reduction(
        "norm", ", the 2-norm (Frobenius along several axes)"), show=_norm_show(lambda n: n), smooth=False,
        holomorphic=False, **_REDUCE),
    Function("unit", formula=_unit, jvp=_unit_jvp, show=_unit_show, public=False, holomorphic=False),
    Function("inverse_norm", _inverse_norm, _inverse_norm_jvp, formula=lambda xp, a, axes_: 1 / _norm(xp, a, axes_),
             show=_norm_show(lambda n: f"1 / {n}"), public=False, holomorphic=False, **_REDUCE),
)
