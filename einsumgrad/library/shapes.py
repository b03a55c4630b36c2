"""Shape operations: ``reshape``, ``kron``, ``concatenate``, ``stack``, ``expand_dims``.

Each is linear, so its derivative is exact and never a Jacobian: a new unit axis is an output index
no factor carries (docs/design.md §2, rule 5); ``kron`` is an outer product (an einsum) reshaped; the rest
are three registered functions whose forward rule applies them to the tangent (over its leading
axes) and whose reverse rule is their adjoint: ``reshape`` back, and ``pad`` and ``crop``, each the
other's adjoint, which place operands side by side for ``concatenate``. Sizes may be symbolic:
``kron``'s axes are ``|A₀|·|B₀|`` long, ``concatenate``'s ``|a₀| + |b₀|`` (see :class:`~einsumgrad.core.ir.Extent`),
bound at evaluation, where sizes that do not fit are refused.

>>> from ..core.algebra import tensor
>>> from ..notation.render import index_notation
>>> print(index_notation(reshape(tensor("X", (3, 4)), (2, 6))))
y[i,j] = reshape(X, (2, 6))[i,j]
>>> print(index_notation(concatenate([tensor("a", (2,)), tensor("b", (3,))])))
y[i] = pad(a, axis=0, width=(0, 3))[i] + pad(b, axis=0, width=(2, 0))[i]
>>> kron(tensor("A", 2), tensor("B", 2)).dims[0]
Extent(A.shape[0]·B.shape[0])
"""
from __future__ import annotations

import math
import numbers

from ..core.algebra import as_expr, constant, product, shallow, show_dims
from ..core.errors import EinsumgradError, ShapeError
from ..core.functions import AXIS, EXPRESSION, EXPRESSIONS, SHAPE, Builtin, Function
from ..core.ir import (
    Broadcast, Call, Dim, Expr, Extent, Ref, Term, dim_product, dim_quotient, dim_sum, fresh, instantiate,
)
from ..notation.render import show_dim
from ..core.simplify import simplify


def _call(name: str, x: Expr, params: tuple, dims: tuple[Dim, ...]) -> Expr:
    """``name(x, *params)`` read whole, of shape ``dims`` (zero for a zero ``x``: the functions are linear)."""
    if not x.terms:
        return constant(0, dims)
    out = fresh(len(dims), ())
    if name != "pad" and all(not t.factors for t in x.terms):  # a number broadcast stays one
        return Expr(out, dims, x.terms)
    return shallow(Expr(out, dims, (Term(1, (Ref(Call(name, x, params, dims), out),)),)))


def _resized(dims: tuple[Dim, ...], axis: int, n: Dim) -> tuple[Dim, ...]:
    return dims[:axis] + (n,) + dims[axis + 1:]


def _reshape_call(x: Expr, lead: int, target: tuple[Dim, ...]) -> Expr:
    """``x`` with its first ``lead`` axes reshaped to ``target`` (a tangent's further axes kept)."""
    return _call("reshape", x, (lead, target), target + x.dims[lead:])


def _pad_call(x: Expr, axis: int, before: Dim, after: Dim, like=None) -> Expr:
    """``x`` with ``before`` and ``after`` zeros along ``axis``; ``like``, ``(what x is, dims)``, gives
    the lengths its other axes must have at evaluation (an operand of ``concatenate``)."""
    return _call("pad", x, (axis, before, after, like), _resized(x.dims, axis, dim_sum(before, x.dims[axis], after)))


def _crop_call(x: Expr, axis: int, start: Dim, stop: Dim) -> Expr:
    return _call("crop", x, (axis, start, stop), _resized(x.dims, axis, dim_sum(stop, dim_product(-1, start))))


def _shape_text(dims: tuple[Dim, ...]) -> str:
    return "(" + ", ".join(map(show_dim, dims)) + ("," if len(dims) == 1 else "") + ")"


def _reshape(xp, a, lead, target):
    """The first ``lead`` axes reshaped to ``target`` (a tangent's further axes kept)."""
    return a.reshape(tuple(target) + a.shape[lead:])


def _reshape_numpy(a, lead, target):
    """:func:`_reshape`, with a clear error for a dask array whose chunks do not allow it."""
    shape = tuple(target) + tuple(a.shape[lead:])
    try:
        return a.reshape(shape)
    except NotImplementedError:  # dask, where chunks do not split or merge evenly
        raise EinsumgradError(f"reshape: this {type(a).__name__} cannot be reshaped from {tuple(a.shape)} to {shape} "
                              "as it is chunked; rechunk it (or compute it) first") from None


def _reshape_check(sizes, lead, target):
    if math.prod(sizes[:lead]) != math.prod(target):
        raise ShapeError(f"reshape: an array of shape {tuple(sizes[:lead])} ({math.prod(sizes[:lead])} entries) cannot "
                         f"be reshaped into shape {tuple(target)} ({math.prod(target)} entries) at these shapes")


def _pad(xp, a, axis, before, after, like=None):
    """Zeros before and after along ``axis``."""
    zeros = [xp.zeros(a.shape[:axis] + (n,) + a.shape[axis + 1:], like=a) for n in (before, after)]
    return xp.concatenate([zeros[0], a, zeros[1]], axis=axis)


def _pad_check(sizes, axis, before, after, like):
    if like is None:
        return
    what, dims = like
    for j, (n, m) in enumerate(zip(sizes, dims)):
        if j != axis and n != m:
            raise ShapeError(f"concatenate: {what} has size {n} on axis {j}, where the result has {m}; every axis "
                             f"but axis {axis} must agree")


_RESHAPE = Function(
    "reshape", _reshape_numpy, formula=_reshape,
    jvp=lambda x, y, dx, lead, target: _reshape_call(dx, lead, target),
    vjp=lambda x, y, g, lead, target: _reshape_call(g, len(target), x.dims[:lead]),
    check=_reshape_check, bind=lambda dim, lead, target: (lead, tuple(map(dim, target))),
    show=lambda name, a, params, rank: f"reshape({a}, {_shape_text(params[1])})", public=False)
_PAD = Function(
    "pad", formula=_pad, jvp=lambda x, y, dx, axis, before, after, like: _pad_call(dx, axis, before, after, like),
    vjp=lambda x, y, g, axis, before, after, like: _crop_call(g, axis, before, dim_sum(before, x.dims[axis])),
    check=_pad_check,
    bind=lambda dim, axis, before, after, like: (axis, dim(before), dim(after),
                                                 like and (like[0], tuple(map(dim, like[1])))),
    show=lambda name, a, p, rank: f"pad({a}, axis={p[0]}, width=({show_dim(p[1])}, {show_dim(p[2])}))",
    public=False)
_CROP = Function(
    "crop", formula=lambda xp, a, axis, start, stop: a[(slice(None),) * axis + (slice(start, stop),)],
    jvp=lambda x, y, dx, axis, start, stop: _crop_call(dx, axis, start, stop),
    vjp=lambda x, y, g, axis, start, stop: _pad_call(g, axis, start, dim_sum(x.dims[axis], dim_product(-1, stop))),
    bind=lambda dim, axis, start, stop: (axis, dim(start), dim(stop)),
    show=lambda name, a, p, rank: f"crop({a}, axis={p[0]}, [{show_dim(p[1])}:{show_dim(p[2])}])", public=False)


def _axis(axis, rank: int, what: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ShapeError(f"{what}: axis is an int, got {axis!r}")
    if not -rank <= int(axis) < rank:
        raise ShapeError(f"{what}: axis {axis} is out of range for rank {rank}")
    return int(axis) % rank


def _is_dim(n) -> bool:
    """An axis length: an int >= -1 (-1: the rest), an Extent, a Broadcast or a tensor's size (``A.shape[0]``)."""
    if isinstance(n, numbers.Integral):
        return not isinstance(n, bool) and int(n) >= -1
    return isinstance(n, (Extent, Broadcast)) or (isinstance(n, tuple) and len(n) == 2 and isinstance(n[0], str)
                                     and isinstance(n[1], int) and not isinstance(n[1], bool))


def reshape(x, shape) -> Expr:
    """``x`` reshaped to ``shape`` in C order, as ``numpy.reshape`` (one size may be -1). Sizes may be
    symbolic: ``reshape(X, (-1,))`` flattens any ``X``, ``reshape(x, (2, -1))`` splits ``x`` in two
    (an ``x`` of odd length is refused at evaluation); where -1 is no product of sizes (a quotient by a
    sum), the sizes must be known."""
    x = as_expr(x)
    source = x.dims
    target = (shape,) if isinstance(shape, (numbers.Integral, Extent, Broadcast)) else shape
    if not isinstance(target, (tuple, list)) or not all(map(_is_dim, target)) or list(target).count(-1) > 1:
        raise ShapeError(f"reshape: a shape is an int or a tuple of ints >= 0 (one may be -1), got {shape!r}")
    target = tuple(int(n) if isinstance(n, numbers.Integral) else n for n in target)
    size, known = dim_product(*source), dim_product(*(n for n in target if n != -1))
    if isinstance(size, int) and isinstance(known, int):
        if -1 in target and known and size % known == 0:
            target = tuple(size // known if n == -1 else n for n in target)
        if -1 in target or math.prod(target) != size:
            raise ShapeError(f"cannot reshape an expression of shape {source} ({size} entries) into shape {target}")
    elif -1 in target:
        rest = dim_quotient(size, known) if known != 0 else None
        if rest is None:
            raise ShapeError(f"reshape: the -1 in {show_dims(target)} would be {show_dims((size,))[1:-1]} entries over "
                             f"{show_dims((known,))[1:-1]}, which is no product of sizes; give the sizes it divides "
                             "(such as eg.tensor('X', (3, 4))), or the target in full")
        target = tuple(rest if n == -1 else n for n in target)  # a whole number at evaluation, or refused there
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
    sa, sb = a.dims, b.dims
    names = fresh(2 * a.ndim, ())
    ia, ib = names[0::2], names[1::2]
    outer = product([(a, ia), (b, ib)], names, tuple(d for pair in zip(sa, sb) for d in pair))
    return reshape(outer, tuple(dim_product(m, p) for m, p in zip(sa, sb)))


def concatenate(operands, axis: int = 0) -> Expr:
    """The operands joined along ``axis``, as ``numpy.concatenate``: each is padded with zeros to
    its place, and the padded ones added."""
    xs = _operands(operands, "concatenate")
    rank = xs[0].ndim
    if rank == 0:
        raise ShapeError("concatenate: operands of rank 0 (numbers) cannot be joined; use stack")
    axis = _axis(axis, rank, "concatenate")
    for k, x in enumerate(xs):
        if x.ndim != rank:
            raise ShapeError(f"concatenate: operand {k} has rank {x.ndim}, but operand 0 has rank {rank}")
    sizes: list[Dim] = []
    for j in range(rank):  # every axis but axis agrees: a known size, else operand 0's, checked at evaluation
        known: list[tuple[Dim, int]] = [(x.dims[j], k) for k, x in enumerate(xs) if isinstance(x.dims[j], int)]
        clash = next(((n, k) for n, k in known if n != known[0][0]), None)
        if j != axis and clash:
            raise ShapeError(f"concatenate: operand {clash[1]} has size {clash[0]} on axis {j}, but operand "
                             f"{known[0][1]} has {known[0][0]}; every axis but axis {axis} must agree")
        sizes.append(dim_sum(*(x.dims[j] for x in xs)) if j == axis else (known or [(xs[0].dims[j], 0)])[0][0])
    dims = tuple(sizes)
    out = fresh(rank, ())
    terms: list[Term] = []
    before: Dim = 0
    for k, x in enumerate(xs):
        after = dim_sum(dims[axis], dim_product(-1, dim_sum(before, x.dims[axis])))
        like = None if all(x.dims[j] == dims[j] for j in range(rank) if j != axis) else (f"operand {k}", dims)
        terms += instantiate(_pad_call(x, axis, before, after, like), out, out)
        before = dim_sum(before, x.dims[axis])
    return simplify(Expr(out, dims, tuple(terms)))


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


FUNCTIONS = (_RESHAPE, _PAD, _CROP)
BUILTINS = (
    Builtin("reshape", reshape, "an expression and a shape: reshape(X, (2, 6))", (EXPRESSION, SHAPE)),
    Builtin("kron", kron, "two expressions"),
    Builtin("concatenate", concatenate, "a list of expressions: concatenate([a, b], axis=0)", (EXPRESSIONS,)),
    Builtin("stack", stack, "a list of expressions: stack([a, b], axis=0)", (EXPRESSIONS,)),
    Builtin("expand_dims", expand_dims, "an expression and an axis: expand_dims(x, 0)", (EXPRESSION, AXIS)),
)
