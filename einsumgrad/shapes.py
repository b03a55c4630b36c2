"""Shape operations: ``reshape``, ``kron``, ``concatenate``, ``stack``, ``expand_dims``.

Each is linear, so its derivative is exact and never a Jacobian: a new unit axis is an output index
no factor carries (docs/design.md §2, rule 5); ``kron`` is an outer product (an einsum) reshaped; the rest
are three registered functions whose forward rule applies them to the tangent (over its leading
axes) and whose reverse rule is their adjoint: ``reshape`` back, and ``pad`` and ``crop``, each the
other's adjoint, which place operands side by side for ``concatenate``. Sizes they change must be
known (ints), as NumPy needs them.

>>> from .algebra import tensor
>>> from .render import index_notation
>>> print(index_notation(reshape(tensor("X", (3, 4)), (2, 6))))
y[i,j] = reshape(X, (2, 6))[i,j]
>>> print(index_notation(concatenate([tensor("a", (2,)), tensor("b", (3,))])))
y[i] = pad(a, axis=0, width=(0, 3))[i] + pad(b, axis=0, width=(2, 0))[i]
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .algebra import as_expr, constant, product, shallow, show_dims
from .errors import EinsumgradError, ShapeError
from .functions import Function, register
from .ir import Call, Dim, Expr, Ref, Term, fresh, instantiate
from .simplify import simplify


def _call(name: str, x: Expr, params: tuple, dims: tuple[Dim, ...]) -> Expr:
    """``name(x, *params)`` read whole, of shape ``dims`` (zero for a zero ``x``: the functions are linear)."""
    if not x.terms:
        return constant(0, dims)
    out = fresh(len(dims), ())
    if name != "pad" and all(not t.factors for t in x.terms):  # a number broadcast stays one
        return Expr(out, dims, x.terms)
    return shallow(Expr(out, dims, (Term(1, (Ref(Call(name, x, params, dims), out),)),)))


def _resized(dims: tuple[Dim, ...], axis: int, n: int) -> tuple[Dim, ...]:
    return dims[:axis] + (n,) + dims[axis + 1:]


def _reshape_call(x: Expr, lead: int, target: tuple[int, ...]) -> Expr:
    """``x`` with its first ``lead`` axes reshaped to ``target`` (a tangent's further axes kept)."""
    return _call("reshape", x, (lead, target), target + x.dims[lead:])


def _pad_call(x: Expr, axis: int, before: int, after: int) -> Expr:
    return _call("pad", x, (axis, before, after), _resized(x.dims, axis, before + x.dims[axis] + after))


def _crop_call(x: Expr, axis: int, start: int, stop: int) -> Expr:
    return _call("crop", x, (axis, start, stop), _resized(x.dims, axis, stop - start))


def _reshape(a, lead, target):
    shape = tuple(target) + tuple(a.shape[lead:])
    try:
        return a.reshape(shape)
    except NotImplementedError:  # dask, where chunks do not split or merge evenly
        raise EinsumgradError(f"reshape: this {type(a).__name__} cannot be reshaped from {tuple(a.shape)} to {shape} "
                              "as it is chunked; rechunk it (or compute it) first") from None


def _pad(a, axis, before, after):
    """Zeros before and after along ``axis``, in ``a``'s own array library (NumPy's pad dispatches to dask)."""
    if not hasattr(a, "__array_namespace__"):
        return np.pad(a, [(0, 0)] * axis + [(before, after)] + [(0, 0)] * (a.ndim - axis - 1))
    xp = a.__array_namespace__()
    zeros = [xp.zeros(a.shape[:axis] + (n,) + a.shape[axis + 1:], dtype=a.dtype) for n in (before, after)]
    return xp.concat([zeros[0], a, zeros[1]], axis=axis)


register(Function(
    "reshape", _reshape,
    lambda x, y, dx, lead, target: _reshape_call(dx, lead, target),
    vjp=lambda x, y, g, lead, target: _reshape_call(g, len(target), x.dims[:lead]),
    show=lambda name, a, params, rank: f"reshape({a}, {params[1]})", public=False))
register(Function(
    "pad", _pad, lambda x, y, dx, axis, before, after: _pad_call(dx, axis, before, after),
    vjp=lambda x, y, g, axis, before, after: _crop_call(g, axis, before, before + x.dims[axis]),
    show=lambda name, a, p, rank: f"pad({a}, axis={p[0]}, width=({p[1]}, {p[2]}))", public=False))
register(Function(
    "crop", lambda a, axis, start, stop: a[(slice(None),) * axis + (slice(start, stop),)],
    lambda x, y, dx, axis, start, stop: _crop_call(dx, axis, start, stop),
    vjp=lambda x, y, g, axis, start, stop: _pad_call(g, axis, start, x.dims[axis] - stop),
    show=lambda name, a, p, rank: f"crop({a}, axis={p[0]}, [{p[1]}:{p[2]}])", public=False))


def _known(x: Expr, axes, what: str) -> tuple[int, ...]:
    """The sizes of ``axes`` of ``x``, which must be ints."""
    sizes = tuple(x.dims[k] for k in axes)
    if not all(isinstance(d, int) for d in sizes):
        raise ShapeError(f"{what} needs known sizes, got shape {show_dims(x.dims)}; give the tensors shapes, "
                         "such as eg.tensor('X', (3, 4))")
    return sizes


def _axis(axis, rank: int, what: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ShapeError(f"{what}: axis is an int, got {axis!r}")
    if not -rank <= axis < rank:
        raise ShapeError(f"{what}: axis {axis} is out of range for rank {rank}")
    return int(axis) % rank


def reshape(x, shape) -> Expr:
    """``x`` reshaped to ``shape`` in C order, as ``numpy.reshape`` (one size may be -1)."""
    x = as_expr(x)
    source = _known(x, range(x.ndim), "reshape")
    target = (shape,) if isinstance(shape, numbers.Integral) else shape
    if not isinstance(target, (tuple, list)) or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= -1 for n in target) \
            or list(target).count(-1) > 1:
        raise ShapeError(f"reshape: a shape is an int or a tuple of ints >= 0 (one may be -1), got {shape!r}")
    size, known = math.prod(source), math.prod(n for n in target if n != -1)
    if -1 in target and known and size % known == 0:
        target = tuple(size // known if n == -1 else n for n in target)
    target = tuple(int(n) for n in target)
    if -1 in target or math.prod(target) != size:
        raise ShapeError(f"cannot reshape an expression of shape {source} ({size} entries) into shape "
                         f"{tuple(target)}")
    return x if target == source else _reshape_call(x, x.ndim, target)


def expand_dims(x, axis: int) -> Expr:
    """``x`` with a new axis of size 1 at ``axis``: an output index that no factor carries."""
    x = as_expr(x)
    axis = _axis(axis, x.ndim + 1, "expand_dims")
    out = fresh(x.ndim + 1, ())
    terms = instantiate(x, out[:axis] + out[axis + 1:], out)  # out[axis] is read by no factor
    return simplify(Expr(out, x.dims[:axis] + (1,) + x.dims[axis:], terms))


def kron(a, b) -> Expr:
    """The Kronecker product, as ``numpy.kron``: ``kron(A, B)[i p + k, j q + l] = A[i,j] B[k,l]``."""
    a, b = as_expr(a), as_expr(b)
    while a.ndim < b.ndim:
        a = expand_dims(a, 0)
    while b.ndim < a.ndim:
        b = expand_dims(b, 0)
    sa, sb = _known(a, range(a.ndim), "kron"), _known(b, range(b.ndim), "kron")
    names = fresh(2 * a.ndim, ())
    ia, ib = names[0::2], names[1::2]
    outer = product([(a, ia), (b, ib)], names, tuple(d for pair in zip(sa, sb) for d in pair))
    return reshape(outer, tuple(m * p for m, p in zip(sa, sb)))


def concatenate(operands, axis: int = 0) -> Expr:
    """The operands joined along ``axis``, as ``numpy.concatenate``: each is padded with zeros to
    its place, and the padded ones added."""
    xs = _operands(operands, "concatenate")
    rank = xs[0].ndim
    if rank == 0:
        raise ShapeError("concatenate: operands of rank 0 (numbers) cannot be joined; use stack")
    axis = _axis(axis, rank, "concatenate")
    dims = list(xs[0].dims)
    for k, x in enumerate(xs):
        if x.ndim != rank:
            raise ShapeError(f"concatenate: operand {k} has rank {x.ndim}, but operand 0 has rank {rank}")
        _known(x, (axis,), f"concatenate (operand {k}, axis {axis})")
        for j, (d, d0) in enumerate(zip(x.dims, dims)):
            if j != axis and isinstance(d, int) and isinstance(d0, int) and d != d0:
                raise ShapeError(f"concatenate: operand {k} has size {d} on axis {j}, but operand 0 has {d0}; "
                                 f"every axis but axis {axis} must agree")
            if j != axis and not isinstance(d0, int):
                dims[j] = d
    sizes = [x.dims[axis] for x in xs]
    dims[axis] = sum(sizes)
    out = fresh(rank, ())
    terms = []
    for x, before in zip(xs, np.cumsum([0] + sizes[:-1]).tolist()):
        placed = _pad_call(x, axis, before, dims[axis] - before - x.dims[axis])
        terms += instantiate(placed, out, out)
    return simplify(Expr(out, tuple(dims), tuple(terms)))


def stack(operands, axis: int = 0) -> Expr:
    """The operands, all of one shape, stacked along a new axis, as ``numpy.stack``."""
    xs = _operands(operands, "stack")
    axis = _axis(axis, xs[0].ndim + 1, "stack")
    for k, x in enumerate(xs):
        if x.ndim != xs[0].ndim:
            raise ShapeError(f"stack: operand {k} has rank {x.ndim}, but operand 0 has rank {xs[0].ndim}")
    return concatenate([expand_dims(x, axis) for x in xs], axis)


def _operands(operands, what: str) -> list[Expr]:
    if not isinstance(operands, (list, tuple)) or not operands:
        raise ShapeError(f"{what} takes a non-empty list of expressions, such as {what}([a, b])")
    return [as_expr(x) for x in operands]
