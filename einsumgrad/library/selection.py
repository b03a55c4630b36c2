"""Constant selections: the identity ``δ[i,j]``, and NumPy's basic indexing (``x[0]``, ``x[1:3]``,
``x[..., None]``) as a product with constant 0/1 factors, so that every derivative rule applies
to it unchanged (``∂x[0]/∂x[a] = δ[a,0]``).

An integer index reads the axis against the one-hot vector ``δ[a,c]``; a slice against the
matrix ``δ[a,s+t·b]`` (new axis ``b``, step ``t``); both are a :class:`~einsumgrad.core.ir.Call` of
``select``, a constant (it reads no tensor). Evaluation reads a tensor against one by indexing it
(:func:`positions`; see :func:`einsumgrad.compiler.plan.gathered`), and builds it from the axis's
length only where it is a result's value (``∂x[1:3]/∂x``).

>>> from ..core.algebra import tensor
>>> from ..notation.render import index_notation
>>> print(index_notation(index(tensor("P", (4, 3, 2)), (slice(None), 0, 1))))
y[i] = P[i,0,1]
>>> print(index_notation(identity(3)))
y[i,j] = δ[i,j]
"""
from __future__ import annotations

import numbers
import sys

import numpy as np

from ..core.algebra import constant, product, show_dims
from ..core.errors import EinsumgradError, ShapeError
from ..core.functions import SIZE, Builtin, Function
from ..core.ir import Broadcast, Call, Delta, Dim, Expr, Extent, Ref, Term, factor_indices, fresh

SELECT = "select"
LONGEST = sys.maxsize  # no axis is longer (NumPy's sizes are ssize_t)


def eye(n) -> Expr:
    """The ``n×n`` identity; its derivative is zero, and it prints as ``δ[i,j]``. ``n`` is an int or
    a size such as ``P.shape[2]`` (or ``kron(A, B).shape[0]``).

    >>> from ..core.algebra import tensor
    >>> from ..notation.render import index_notation
    >>> print(index_notation(eye(tensor("P", 3).dims[2])))
    y[i,j] = δ[i,j]
    """
    symbolic = isinstance(n, (Extent, Broadcast)) or (isinstance(n, tuple) and len(n) == 2 and isinstance(n[0], str)
                                                     and isinstance(n[1], int) and not isinstance(n[1], bool)
                                                     and n[1] >= 0)
    if not symbolic and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0):
        raise EinsumgradError(f"eye(n) takes a size: a whole number >= 0 or a tensor's size such as P.shape[2], "
                              f"got {n!r}")
    return identity(n if symbolic else int(n))


def identity(n: Dim) -> Expr:
    """The ``n×n`` identity ``δ[i,j]``; ``n`` an int or a symbolic size such as ``("P", 2)``."""
    out = fresh(2, ())
    return Expr(out, (n, n), (Term(1, (Delta(out[0], out[1], n),)),))


def index(x: Expr, key) -> Expr:
    """``x[key]`` with NumPy's basic indexing: ints (negative too), slices, ``...`` and ``None``."""
    return indexed(x, key)[0]


def indexed(x: Expr, key) -> tuple[Expr, tuple[str, ...] | None]:
    """``x[key]``, and where each axis of ``x`` is read, as its result prints it: an index of the result
    (``l``, ``i+1``) or a fixed position (``1``); None where ``key`` adds an axis (``None``), which no
    axis of ``x`` is.

    >>> from ..core.algebra import tensor
    >>> indexed(tensor("P", (4, 3, 2)), (slice(None), slice(1, 3), 0))[1]
    ('i', 'l+1', '0')
    """
    entries = _entries(key if isinstance(key, tuple) else (key,), x.ndim)
    target = x.out  # the axes keep their letters: ∂f/∂Φ[l,a,b] sliced at [:, 1, 0] is ∂f/∂Φ[l,1,0]
    names = iter(fresh(x.ndim + len(entries), target))
    operands, out, at = [(x, target)], [], []
    dims: list[Dim] = []
    axes = iter(range(x.ndim))
    for entry in entries:
        if entry is None:  # a new axis of length 1
            out.append(next(names))
            dims.append(1)
            continue
        k = next(axes)
        params = _select_params(entry, x.dims[k], f"axis {k} of an expression of shape {show_dims(x.dims)}")
        if params is None:  # the whole axis
            out.append(target[k])
            dims.append(x.dims[k])
            at.append(target[k])
            continue
        selector = _selector(x.dims[k], params)
        if params[2] is None:
            operands.append((selector, (target[k],)))
        else:
            out.append(next(names))
            dims.append(params[2])
            operands.append((selector, (out[-1], target[k])))
        at.append(_as_delta(operands[-1][1], *params)[1])
    picked = product(operands, tuple(out), tuple(dims))
    terms = (c for c in (_composed(t, picked.out) for t in picked.terms) if c is not None)
    return Expr(picked.out, picked.dims, tuple(terms)), None if None in entries else tuple(at)


def _composed(t: Term, out) -> Term | None:
    """``t`` with a selection from a slice's axis read as one selection of the axis sliced:
    ``Σ_b δ[b,1] δ[a,b+1]`` (``x[1:3][1]``) is ``δ[a,2]``, so that it prints ``x[2]``, never ``x[1+1]``;
    and two positions on one index (``J[0, 1]`` of ``δ[i,j]``) one, or None (zero) where they differ."""
    selects = [(f, f.node) for f in t.factors
               if isinstance(f, Ref) and isinstance(f.node, Call) and f.node.fn == SELECT]
    for f, p_node in selects:
        for g, q_node in selects:
            (start, step, length), q = p_node.params[:3], q_node.params
            if f is g:
                continue
            if length is None and q[2] is None and f.idx == g.idx and (start < 0) == (q[0] < 0):  # counted alike
                kept = Term(t.coef, tuple(h for h in t.factors if h is not f))
                return None if start != q[0] else _composed(kept, out)
            b = f.idx[-1]
            if q[2] is None or b in out or b != g.idx[0] or sum(b in factor_indices(h) for h in t.factors) != 2:
                continue
            params = (q[0] + q[1] * start, 1 if length is None else q[1] * step, length, q[3])
            both = Ref(_select_call(q_node.shape[-1], params), f.idx[:-1] + g.idx[1:])
            return _composed(Term(t.coef, tuple(both if h is f else h for h in t.factors if h is not g)), out)
    return t


def _entries(key: tuple, rank: int) -> list:
    """The key with ``...`` spelt out as whole slices, and trailing axes filled in."""
    for e in key:
        if not (e is None or e is Ellipsis or isinstance(e, slice) or _is_int(e)):
            raise EinsumgradError(f"an index is an int, a slice, ... or None (NumPy's basic indexing), got {e!r}")
    if sum(e is Ellipsis for e in key) > 1:
        raise EinsumgradError("an index can only have a single ellipsis ('...')")
    used = sum(e is not None and e is not Ellipsis for e in key)
    if used > rank:
        raise ShapeError(f"too many indices: {used} for an expression of rank {rank}")
    fill = [slice(None)] * (rank - used)
    if Ellipsis in key:
        k = key.index(Ellipsis)
        return [*key[:k], *fill, *key[k + 1:]]
    return [*key, *fill]


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _select_params(entry, n: Dim, where: str):
    """``(start, step, length, where)`` of the positions an entry reads (``length`` None for an int,
    whose axis is dropped; ``start`` < 0 counts from the end of an axis of unknown size); None for all."""
    if _is_int(entry):
        c = int(entry)
        if abs(c) >= LONGEST or isinstance(n, int) and not -n <= c < n:
            raise ShapeError(f"index {c} is out of range for {where}" + (f", which has size {n}" * isinstance(n, int)))
        return (c % n if isinstance(n, int) else c, 1, None, where)
    if not all(v is None or _is_int(v) for v in (entry.start, entry.stop, entry.step)):
        raise EinsumgradError(f"a slice takes whole numbers, got {entry!r}")
    if entry.step == 0:
        raise EinsumgradError("a slice step cannot be zero")
    given, entry = entry, _clamped(entry)
    if entry.start in (None, 0) and entry.stop is None and entry.step in (None, 1):
        return None
    if isinstance(n, int):
        r = range(n)[entry]
        return None if r == range(n) else (r.start, r.step if len(r) > 1 else 1, len(r), where)
    return _unknown_length(entry, where, given)


def _clamped(s: slice) -> slice:
    """A slice reading the same positions of every axis, its numbers within ``±LONGEST``: a bound
    past the end the slice runs towards is no bound (``0:10**30`` is ``0:``), one past the other
    end reads nothing, and so does a start past the end.

    >>> _clamped(slice(-10**30, 10**30)), _clamped(slice(10**30, None)), _clamped(slice(None, None, -10**30)).step
    (slice(None, None, None), slice(0, 0, None), -9223372036854775807)
    """
    start, stop, step = (None if v is None else max(-LONGEST, min(LONGEST, v)) for v in (s.start, s.stop, s.step))
    ahead = LONGEST if (step or 1) > 0 else -LONGEST  # beyond the end the slice runs towards
    if start == ahead or stop == -ahead:
        return slice(0, 0)
    return slice(None if start == -ahead else start, None if stop == ahead else stop, step)


def _unknown_length(s: slice, where: str, given: slice):
    """A (clamped) slice of an axis whose length is not known yet: positions counted from its start
    (``1:3``), or from its end (``-2:``); any other slice's length depends on the axis's."""
    start, step = s.start or 0, s.step or 1
    if abs(step) == LONGEST and s.stop is None:  # a step longer than any axis: one position
        return (start if s.start is not None or step > 0 else -1, 1, 1, where)
    if step > 0 and start >= 0 and s.stop is not None and s.stop >= 0:
        return (start, step, len(range(start, s.stop, step)), where)
    if step > 0 and start < 0 and (s.stop is None or s.stop < 0):
        return (start, step, len(range(start, s.stop or 0, step)), where)
    shown = ":".join("" if v is None else str(v) for v in (given.start, given.stop))
    shown += "" if given.step is None else f":{given.step}"
    raise ShapeError(f"the slice {shown} of {where}, whose size is not known, has a length that depends on that size; "
                     "give the tensor a shape (eg.tensor(name, (5, 3)), or --shapes x=5x3)")


def _selector(n: Dim, params) -> Expr:
    """The constant 0/1 vector (an int) or matrix (a slice) that selects ``params`` from an axis of length ``n``."""
    call = _select_call(n, params)
    out = fresh(len(call.shape), ())
    return Expr(out, call.shape, (Term(1, (Ref(call, out),)),))


def _select_call(n: Dim, params) -> Call:
    return Call(SELECT, constant(0, (n,)), params, (n,) if params[2] is None else (params[2], n))


def _check_select(sizes: tuple, start: int, step: int, length: int | None, where: str) -> None:
    """Refuse positions out of the range of the axis, whose length is ``sizes[-1]``."""
    n = sizes[-1]
    first = start + n if start < 0 else start
    last = first + step * ((length or 1) - 1)
    if (length is None or length > 0) and not (0 <= first < n and 0 <= last < n):
        wanted = f"index {start}" if length is None else f"positions {first}..{last} (a slice)"
        raise ShapeError(f"{wanted} is out of range for {where}, which has size {n}")


def select(zeros, positions, start: int, step: int, length: int | None):
    """The 0/1 selection over an axis as long as ``zeros`` (its dtype, in its array library),
    ``positions`` being that library's ``arange`` of the axis: a formula over any namespace.

    >>> select(np.zeros(4), np.arange(4), -3, 2, 2)
    array([[0., 1., 0., 0.],
           [0., 0., 0., 1.]])
    """
    first = zeros.shape[-1] + start if start < 0 else start
    if length is None:
        return zeros + (positions == first)
    return zeros + (positions == first + step * positions[:length, None])


def picks(node) -> tuple[int, int, int | None] | None:
    """``(start, step, length)`` of the positions the selection ``node`` picks from its axis
    (``length`` None: one, an int index); None for any other node."""
    return node.params[:3] if isinstance(node, Call) and node.fn == SELECT else None


def positions(start: int, step: int, length: int | None) -> int | slice:
    """The basic index reading those positions, at every length of the axis they fit (a start
    counted from the end stays so).

    >>> from ..core.algebra import tensor
    >>> x = tensor("x", 1)
    >>> [positions(*picks(index(x, key).terms[0].factors[1].node)) for key in (-1, slice(1, 5, 2), slice(-2, None))]
    [-1, slice(1, 4, 2), slice(-2, None, 1)]
    """
    if length is None:
        return start
    if length == 0:
        return slice(0, 0, 1)
    stop = start + step * (length - 1) + (1 if step > 0 else -1)
    return slice(start, None if stop == 0 and start < 0 or stop < 0 <= start else stop, step)


def _as_delta(idx, start: int, step: int, length: int | None, where: str) -> tuple[str, str]:
    """``δ[a,0]`` for an int; ``δ[a,2b+1]`` for a slice (new axis ``b``)."""
    if length is None:
        return idx[0], str(start)
    b, a = idx
    position = ("" if step == 1 else "-" if step == -1 else str(step)) + b
    offset = "" if start == 0 else f"{start:+d}" + ("+N" if start < 0 else "")
    return a, position + offset


FUNCTIONS = (
    Function(SELECT, formula=lambda xp, zeros, *params: select(zeros, xp.arange(zeros.shape[-1], zeros), *params[:3]),
             jvp=lambda x, y, dx, *params: constant(0, y.dims + dx.dims[x.ndim:]), result_shape=lambda dims: dims,
             check=_check_select, public=False, smooth=True, as_delta=_as_delta),
)
BUILTINS = (Builtin("eye", eye, "one whole number, its size: eye(3); or write I beside a matrix", (SIZE,)),)
