"""Building IR nodes: tensors, einsums, arithmetic with NumPy broadcasting, functions.

These work on bare :class:`~einsumgrad.core.ir.Expr` nodes (and numbers); the user's handle,
:class:`~einsumgrad.expression.Expression`, lifts them to operators and ``eg.<name>``.

>>> from ..notation.render import index_notation
>>> W, x = tensor("W", 2), tensor("x", 1)
>>> print(index_notation(einsum("ij,j->i", W, x)))
y[i] = Σ_j W[i,j] x[j]
>>> print(index_notation(add(tensor("A", (3, 3)), 1)))
y[i,j] = A[i,j] + 1
"""
from __future__ import annotations

import cmath
import itertools
import math
import numbers
import unicodedata
from typing import Mapping

import numpy as np

from . import functions
from .errors import EinsumgradError, ShapeError
from .ir import (
    Broadcast, Call, Delta, Dim, Expr, Ref, Size, Term, Var, depends, dim_atoms, dim_broadcast, dim_text,
    dim_value, factor_indices, fresh, instantiate, keep_ranges, postorder, variables,
)
from .parse import parse
from .simplify import extend, simplify

MAX_EXPANDED_TERMS = 64  # a product of sums beyond this stays factored
MAX_DEPTH = 2000  # nested nodes (function calls, parenthesised sums): a bound on memory and time, not on
# Python's stack, which no pass walks down (each visits the nodes in postorder, or fills caches children first)
MAX_RANK = 64  # NumPy's limit on an array's axes (NPY_MAXDIMS; numpy 2 has no public name for it)


def tensor(name: str, shape, symmetric: bool = False) -> Expr:
    """An input tensor, given a rank (``2``) or a shape (``(3, None)``; ``None`` = any size);
    a ``symmetric`` one is a square matrix, its two axes of one size.

    >>> tensor("W", (3, None)).dims
    (3, ('W', 1))
    >>> tensor("S", 2, symmetric=True).dims
    (('S', 0), ('S', 0))
    """
    name = identifier(name)
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        if shape < 0:
            raise ShapeError(f"tensor {name!r}: a rank cannot be negative, got {shape}")
        _check_rank(name, int(shape))  # before building a tuple that long
        shape = (None,) * int(shape)
    try:
        dims = tuple(
            (name, k) if d is None else _size(d) for k, d in enumerate(shape)
        )
    except (TypeError, ValueError):
        raise ShapeError(f"tensor {name!r}: a shape is a rank or a tuple of sizes (None for any), got {shape!r}") from None
    _check_rank(name, len(dims))
    return leaf(name, _square(name, dims) if symmetric else dims, symmetric)


def identifier(name, what: str = "a tensor name") -> str:
    """``name`` as Python reads an identifier, NFKC-normalised (``ϕ`` is ``φ``, ``ﬁ`` is ``fi``), so
    that it is the keyword Python passes for it: ``evaluate(e, ϕ=a)`` arrives as ``φ``.

    >>> identifier("ϕ") == identifier("φ") == "φ"
    True
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise EinsumgradError(f"{what} is a Python-style identifier such as 'W', 'x1' or 'Θ', got {name!r}")
    return unicodedata.normalize("NFKC", name)


def _square(name: str, dims: tuple[Dim, ...]) -> tuple[Dim, ...]:
    """The dims of a symmetric matrix: both axes the first known size, else the first axis's."""
    if len(dims) != 2:
        raise ShapeError(f"tensor {name!r}: a symmetric tensor is a matrix (rank 2), got rank {len(dims)}")
    known = [d for d in dims if isinstance(d, int)]
    if len(set(known)) > 1:
        raise ShapeError(f"tensor {name!r}: a symmetric matrix is square, got shape {show_dims(dims)}")
    return (known[0] if known else (name, 0),) * 2


def _check_rank(name: str, rank: int) -> None:
    if rank > MAX_RANK:
        raise ShapeError(f"tensor {name!r}: rank {rank} is over NumPy's limit of {MAX_RANK} axes")


def leaf(name: str, dims: tuple[Dim, ...], symmetric: bool = False) -> Expr:
    """The expression reading tensor ``name`` whole; its dims may refer to other tensors' axes."""
    out = fresh(len(dims), ())
    return Expr(out, dims, (Term(1, (Ref(Var(name, dims, symmetric), out),)),))


def shallow(expr: Expr) -> Expr:
    """``expr``, refused with a clear error where it nests deeper than :data:`MAX_DEPTH`."""
    if expr.depth > MAX_DEPTH:
        raise EinsumgradError(
            f"this expression nests {expr.depth} levels deep (each function call or parenthesised sum is a level); "
            f"einsumgrad takes up to {MAX_DEPTH}: build deep compositions from fewer, wider steps"
        )
    return expr


def resolve_dim(d: Dim, shapes: Mapping[str, tuple]) -> int:
    """The length ``d`` stands for, given the shape of each tensor; an error naming the tensor, the
    axis and its rank where the tensor has no such axis, one naming the sizes where a length
    made of them (:class:`~einsumgrad.core.ir.Extent`) is not a whole number, and one naming the parts
    of a :class:`~einsumgrad.core.ir.Broadcast` that do not broadcast.

    >>> resolve_dim(("W", 1), {"W": (3, 4)}), resolve_dim(5, {})
    (4, 5)
    """
    if isinstance(d, int):
        return d
    n = dim_value(d, lambda s: _broadcast_length(s, shapes) if isinstance(s, Broadcast) else _axis_length(s, shapes))
    if n.denominator != 1 or n < 0:
        raise ShapeError(f"an axis of length {show_dims((d,))[1:-1]} has length {n} at these shapes, not a whole "
                         "number: " + ", ".join(f"{a}.shape[{k}] = {shapes[a][k]}" for a, k in dim_atoms(d)))
    return int(n)


def _broadcast_length(b: Broadcast, shapes: Mapping[str, tuple]) -> int:
    """The length NumPy broadcasts ``b``'s parts to: the one that is not 1 (1 where all are); parts of two
    other lengths are an error naming them."""
    lengths = [resolve_dim(d, shapes) for d in b.dims]
    longer = set(lengths) - {1}
    if len(longer) > 1:
        shown = " and ".join(f"{show_dims((d,))[1:-1]} = {n}" for d, n in zip(b.dims, lengths) if n != 1)
        raise ShapeError(f"cannot broadcast {shown} to one axis: NumPy stretches only a length 1")
    return longer.pop() if longer else 1


def _axis_length(atom: tuple[str, int], shapes: Mapping[str, tuple]) -> int:
    name, axis = atom
    rank = len(shapes[name])
    if not 0 <= axis < rank:
        axes = f"axes 0 to {rank - 1}" if rank else "no axes"
        raise ShapeError(f"the size {name}.shape[{axis}] names axis {axis} of tensor {name!r}, which has rank {rank} "
                         f"({axes})")
    return shapes[name][axis]


def _size(d) -> int:
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 0:
        raise ValueError(d)
    return int(d)


def _is_int(k) -> bool:
    return isinstance(k, numbers.Integral) and not isinstance(k, bool)


def constant(value, dims: tuple[Dim, ...] = ()) -> Expr:
    """A number, broadcast over ``dims``."""
    if not isinstance(value, numbers.Number) or isinstance(value, bool):
        raise EinsumgradError(
            f"expressions combine with expressions and numbers, got {type(value).__name__}; "
            "wrap arrays as eg.tensor(name, shape) and pass them to evaluate()"
        )
    terms = (Term(value, ()),) if value != 0 else ()  # type: ignore[arg-type]  # typeshed's Number has no arithmetic
    return Expr(fresh(len(dims), ()), dims, terms)


def _finite(value, what: str = "a coefficient"):
    """``value`` if it is a finite number (one a float or complex can hold), else a clear error."""
    try:
        finite = isinstance(value, numbers.Number) and cmath.isfinite(complex(value))  # type: ignore[call-overload]
    except OverflowError:  # an int beyond any float
        finite = False
    if not finite:
        huge = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        shown = f"{'-' * (value < 0)}10^{math.log10(-value if value < 0 else value):.0f} or so" if huge else repr(value)
        raise EinsumgradError(f"{what} must be a finite number, got {shown}")
    return value


def zeros_like(x: Expr) -> Expr:
    return constant(0, x.dims)


def as_expr(x) -> Expr:
    """``x`` itself, or the number ``x`` as a constant; a number written into an expression must be
    finite (a folded one, such as ``sqrt(-1)``, is left as NumPy computes it)."""
    if isinstance(x, Expr):
        return x
    c = constant(x)
    _finite(x)
    return c


def _tensor_name(e: Expr) -> str | None:
    """The name of the tensor ``e`` reads whole, for error messages; None for anything else."""
    (t,) = e.terms if len(e.terms) == 1 else (None,)
    ref = t.factors[0] if t is not None and len(t.factors) == 1 else None
    return ref.node.name if isinstance(ref, Ref) and isinstance(ref.node, Var) and ref.idx == e.out else None


def einsum(spec: str, *operands, names=None) -> Expr:
    """An einsum over expressions, with NumPy's spec rules (implicit output, ``...``);
    ``names`` name the operands in errors.

    >>> from ..notation.render import index_notation
    >>> print(index_notation(einsum("ii->", tensor("A", 2))))
    y = Σ_i A[i,i]
    """
    parsed = parse(spec)
    ops = [as_expr(e) for e in operands]
    shapes = [tuple(d if isinstance(d, int) else None for d in e.dims) for e in ops]
    bound = parsed.bind(shapes, names or [_tensor_name(e) for e in ops])
    dims: dict[str, Dim] = {}
    for e, target in zip(ops, bound.inputs):
        for a, d in zip(target, e.dims):
            dims[a] = dim_broadcast(dims.get(a, 1), d)  # a size 1 may stretch to another operand's (NumPy)
    return product(list(zip(ops, bound.inputs)), bound.output, tuple(dims[a] for a in bound.output), dims)


def product(operands, out: tuple[str, ...], out_dims: tuple[Dim, ...], dims=None, distribute=False) -> Expr:
    """``Π operands`` read at their target indices, summed over the indices not in ``out``.

    Operands with one term, or with deltas, are multiplied out (so that deltas can be
    eliminated); other sums stay as parenthesised factors unless ``distribute`` is set
    (the chain rule sets it: a Jacobian is never to be built as a factor).
    """
    _check_axes(operands)
    dims = dict(dims or {})
    dims.update(zip(out, out_dims))
    avoid = set(out) | {a for _, target in operands for a in target}
    expand = 1
    term_lists = []
    for e, target in operands:
        for a, d in zip(target, e.dims):
            dims.setdefault(a, d)
        expand_this = distribute or len(e.terms) <= 1 or any(isinstance(f, Delta) for t in e.terms for f in t.factors)
        if expand_this and expand * len(e.terms) > MAX_EXPANDED_TERMS and len(e.terms) > 1:
            expand_this = False
        if expand_this:
            terms = instantiate(e, target, avoid)
            expand *= max(1, len(terms))
        else:
            terms = (Term(1, (Ref(e, target),)),)
        avoid |= {a for t in terms for a in t.indices()}
        term_lists.append(terms)
    summed = [a for a in dims if a not in out and any(a in target for _, target in operands)]
    products: list[Term] = []
    for combo in itertools.product(*term_lists):
        coef: complex = 1
        factors: list = []
        for t in combo:
            coef *= t.coef
            factors.extend(t.factors)
        carried = {a for f in factors for a in factor_indices(f)}
        factors.extend(Size(dims[a]) for a in summed if a not in carried)
        products.append(Term(_finite(coef), tuple(factors)))
    return shallow(simplify(Expr(tuple(out), tuple(out_dims), tuple(products))))


def _check_axes(operands) -> None:
    """Refuse a size ``("X", 5)`` of an operand (``eye(("X", 5))``) beside a tensor ``X`` that has no axis 5."""
    symbolic = [d for e, _ in operands for d in e.dims if not isinstance(d, int)]
    if symbolic:
        shapes = {v.name: v.shape for e, _ in operands for v in variables(e)}
        for atom in {a for d in symbolic for a in dim_atoms(d)}:
            if atom[0] in shapes:
                _axis_length(atom, shapes)


def _broadcast(a: Expr, b: Expr):
    """NumPy broadcasting of two expressions: result indices and each one's target indices."""
    rank = max(a.ndim, b.ndim)
    out = fresh(rank, ())
    dims = []
    targets: tuple[list[str], list[str]] = ([], [])
    spare = (n for n in fresh(rank + a.ndim + b.ndim, out)[rank:])
    for pos in range(rank):
        da = a.dims[pos - rank + a.ndim] if pos >= rank - a.ndim else None
        db = b.dims[pos - rank + b.ndim] if pos >= rank - b.ndim else None
        if isinstance(da, int) and isinstance(db, int) and 1 not in (da, db) and da != db:
            raise ShapeError(
                f"cannot broadcast shapes {show_dims(a.dims)} and {show_dims(b.dims)}: axis {pos - rank} has sizes {da} and {db}"
            )
        keep_a = da is not None and not (da == 1 and db not in (None, 1))
        keep_b = db is not None and not (db == 1 and da not in (None, 1))
        dims.append(dim_broadcast(*(d for d in (da, db) if d is not None)))
        for d, keep, target in ((da, keep_a, targets[0]), (db, keep_b, targets[1])):
            if d is not None:
                target.append(out[pos] if keep else next(spare))
    return out, tuple(dims), tuple(targets[0]), tuple(targets[1])


def show_dims(dims) -> str:
    """``(3, W.shape[1])``: sizes, symbolic ones as the axes they come from."""
    return "(" + ", ".join(dim_text(d, lambda a: f"{a[0]}.shape[{a[1]}]") for d in dims) + ")"


def add(a, b) -> Expr:
    """``a + b`` with NumPy broadcasting."""
    a, b = as_expr(a), as_expr(b)
    out, dims, ta, tb = _broadcast(a, b)
    avoid = set(out) | set(ta) | set(tb)  # a size-1 axis broadcast away becomes a summed index of size 1
    left, right = instantiate(a, ta, avoid), instantiate(b, tb, avoid)
    if left is a.terms and (out, dims) == (a.out, a.dims) and len(a.terms) >= len(b.terms):  # f = f + x[i] x[i+1]
        return extend(a, right)
    if right is b.terms and (out, dims) == (b.out, b.dims):  # f = x[i] x[i+1] + f: in time for the new terms alone
        return extend(b, left, before=True)
    return simplify(Expr(out, dims, left + right))


def scale(x, c) -> Expr:
    x, c = as_expr(x), _finite(c)
    if c == 0:
        return zeros_like(x)
    return Expr(x.out, x.dims, tuple(Term(_finite(t.coef * c), t.factors) for t in x.terms))


def multiply(a, b) -> Expr:
    """``a * b`` elementwise, with NumPy broadcasting."""
    a, b = as_expr(a), as_expr(b)
    out, dims, ta, tb = _broadcast(a, b)
    return product([(a, ta), (b, tb)], out, dims)


def hadamard(a: Expr, b: Expr) -> Expr:
    """``a`` times ``b`` over ``a``'s axes, which are ``b``'s leading axes (``b`` may have more)."""
    out = b.out
    return product([(a, out[: a.ndim]), (b, out)], out, b.dims)


def power(x, exponent) -> Expr:
    """``x ** exponent`` for a number ``exponent`` (or a number raised to an expression)."""
    if not isinstance(x, Expr) and not isinstance(exponent, Expr):  # two numbers, as in x / 2
        try:  # in floating point first: an exact x ** exponent of ints could take any time
            complex(_finite(x)) ** complex(_finite(exponent, "an exponent"))
        except (ZeroDivisionError, OverflowError) as err:
            raise EinsumgradError(f"{x!r} ** {exponent!r}: {err}") from None
        return constant(x**exponent)
    if not isinstance(x, Expr):
        return apply("exp", scale(exponent, _log(x)))
    if isinstance(exponent, Expr) or not isinstance(exponent, numbers.Real) or isinstance(exponent, bool):
        raise EinsumgradError("powers take a real-number exponent: x ** 2, x ** -0.5; for x ** y use exp(y * log(x))")
    _finite(exponent, "an exponent")
    if exponent == 0:
        return constant(1, x.dims)
    if exponent == 1:
        return x
    return apply("pow", x, exponent)


def _log(c):
    if not isinstance(c, numbers.Real) or c <= 0:
        raise EinsumgradError(f"c ** x needs a positive number c, got {c!r}")
    return math.log(c)


def apply(name: str, x, *params) -> Expr:
    """A registered function applied to ``x``: ``apply("tanh", x)``."""
    fn = functions.get(name)
    x = as_expr(x)
    if fn.elementwise and fn.impl is not None and all(not t.factors for t in x.terms):  # fold a constant
        c = x.terms[0].coef if x.terms else 0
        with np.errstate(all="ignore"):
            return constant(fn.impl(np.asarray(c, dtype=complex if isinstance(c, complex) else float), *params).item(),
                            x.dims)
    inner = _call_read(x)
    if inner is not None and inner.fn in fn.of:  # an identity that is stabler: log(sigmoid(u)) = -softplus(-u)
        return fn.of[inner.fn](inner.arg, *inner.params)
    dims = fn.result_shape(x.dims, *params)
    out = fresh(len(dims), ())
    return shallow(Expr(out, dims, (Term(1, (Ref(Call(name, x, tuple(params), dims), out),)),)))


def substitute(root: Expr, var: Var, value: Expr) -> Expr:
    """``root`` with every read of the tensor ``var`` replaced by ``value``, an expression of its
    shape: a pass over the nodes that depend on ``var``, children first. A ``value`` of one term is
    multiplied into each reader, a sum is read as a node.

    >>> from ..notation.render import index_notation
    >>> x, W = tensor("x", 1), tensor("W", 2)
    >>> print(index_notation(substitute(einsum("i,i->", x, x), Var("x", (("x", 0),)), einsum("ij,j->i", W, x))))
    y = Σ_i,j,k W[i,j] W[i,k] x[j] x[k]
    """
    new: dict = {}
    for node in postorder(root, known=lambda n: not depends(n, var)):
        if isinstance(node, Call):
            new[node] = Call(node.fn, new[node.arg], node.params, node.shape)
        elif isinstance(node, Expr):
            terms = tuple(keep_ranges(s, t, node.out) for t in node.terms
                          for s in _substituted(t, var, value, new, node.out))
            new[node] = simplify(Expr(node.out, node.dims, terms))
    return new.get(root, root)


def _substituted(t: Term, var: Var, value: Expr, new: dict, out) -> list[Term]:
    """The terms of ``t`` with its reads of ``var`` replaced by ``value``, and of other nodes by ``new``'s."""
    taken = set(t.indices()) | set(out)
    terms = [Term(t.coef, ())]
    for f in t.factors:
        if isinstance(f, Ref) and f.node == var:
            parts = instantiate(value, f.idx, taken) if len(value.terms) <= 1 else (Term(1, (Ref(value, f.idx),)),)
            taken |= {a for p in parts for a in p.indices()}
        else:
            parts = (Term(1, (Ref(new.get(f.node, f.node), f.idx) if isinstance(f, Ref) else f,)),)
        terms = [Term(a.coef * b.coef, a.factors + b.factors) for a in terms for b in parts]
    return terms


def _call_read(x: Expr) -> Call | None:
    """The call ``x`` is, read whole at its own indices (``sigmoid(u)``); None for any other expression."""
    (t,) = x.terms if len(x.terms) == 1 else (None,)
    if t is None or t.coef != 1 or len(t.factors) != 1:
        return None
    (f,) = t.factors
    return f.node if isinstance(f, Ref) and isinstance(f.node, Call) and f.idx == x.out else None


def sum(x, axis=None, keepdims: bool = False) -> Expr:  # noqa: A001 - mirrors numpy.sum
    """Sum over all axes, or over ``axis`` (an int or a tuple of ints, negative allowed); with
    ``keepdims`` the summed axes stay, of size 1 (output indices no factor carries)."""
    x = as_expr(x)
    keep = set(range(x.ndim)) - set(axes(x.ndim, axis))
    target = fresh(x.ndim, ())
    units = iter(fresh(x.ndim, target))  # with keepdims, a summed axis stays as an index of size 1 no factor carries
    out = tuple(target[k] if k in keep else next(units) for k in range(x.ndim) if k in keep or keepdims)
    return product([(x, target)], out, tuple(x.dims[k] if k in keep else 1 for k in range(x.ndim) if k in keep or keepdims))


def axes(ndim: int, axis) -> tuple[int, ...]:
    """``axis`` (None for all, an int or a tuple of ints, negative allowed) as the sorted axes of a rank-``ndim``
    expression.

    >>> axes(3, (-1, 0))
    (0, 2)
    """
    named = range(ndim) if axis is None else (axis,) if _is_int(axis) else axis
    if not isinstance(named, (range, tuple, list)) or not all(_is_int(k) for k in named):
        raise ShapeError(f"axis is None, an int or a tuple of ints, got {axis!r}")
    found: set[int] = set()
    for k in named:
        if not -ndim <= k < ndim:
            raise ShapeError(f"axis {k} is out of range for an expression of rank {ndim}")
        if k % ndim in found:
            raise ShapeError(f"axis {axis!r} names axis {k % ndim} twice")
        found.add(k % ndim)
    return tuple(sorted(found))


def trace(x) -> Expr:
    """``Σ_i x[i,i]``."""
    return einsum("ii->", x)


def matmul(a, b) -> Expr:
    """``a @ b`` as NumPy's matmul (vectors, matrices, stacks of matrices)."""
    a, b = as_expr(a), as_expr(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError("matmul needs operands of rank 1 or more; use * for a scalar")
    left = "...ij" if a.ndim > 1 else "j"
    right = "...jk" if b.ndim > 1 else "j"
    batch = "..." if a.ndim > 1 or b.ndim > 1 else ""
    result = batch + ("i" if a.ndim > 1 else "") + ("k" if b.ndim > 1 else "")
    if a.ndim > 2 and b.ndim > 2 and a.ndim != b.ndim:
        raise ShapeError("stacks of matrices in @ need the same rank here")
    return einsum(f"{left},{right}->{result}", a, b)

