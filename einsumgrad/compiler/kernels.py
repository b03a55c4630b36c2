"""Kernels: how planned terms run on arrays.

A term is a read, an ``np.einsum`` of one value, a Hadamard product, or a contraction
(one ``np.einsum`` call, or opt_einsum's pairwise steps with BLAS steps as ``@``), of values or
of parts of them (``x[1:3]``, a gather). A sum of terms writes a term with deltas onto a
writeable diagonal view of the output, ``np.einsum('iik->ik', out)``, and a scattered term onto
its slice, ``out[1:3]``; lazy and immutable arrays (dask, ...) are combined functionally
instead, a diagonal or a slice chosen by ``where`` over index grids, never by multiplying
identity or selection matrices in.
"""
from __future__ import annotations

import math

from functools import partial, reduce
from operator import itemgetter
from typing import Callable, NamedTuple

import numpy as np
import opt_einsum
from opt_einsum.parser import convert_to_valid_einsum_chars

from ..core.algebra import MAX_RANK
from ..core.errors import EinsumgradError
from . import namespaces
from .plan import Contraction, DiagonalView, Matmul, TermPlan, contraction, step_keys
from .settings import for_one_contraction


class Kernel(NamedTuple):
    compute: Callable  # values -> array of ``plan.shape``
    owned: bool  # the array is fresh memory, safe to write into
    plan: TermPlan
    into: Callable | None = None  # (values, out) -> out, the term written into a C-contiguous ``out`` of the
    # output's shape and dtype: the same operations as ``compute``, so the same values to the last bit


def term_kernel(plan: TermPlan, dtype: np.dtype, optimize, backend: str, shared: dict | None = None) -> Kernel:
    """The function computing a planned term from the list of values; ``shared`` gives, per
    :func:`~.plan.step_keys` key of an intermediate that several contractions compute, the slot
    of ``values`` where the first to compute it in a call leaves it for the others."""
    if plan.kind == "constant":
        const = np.full(plan.shape, plan.coef, dtype)
        if backend in namespaces.MODULES:  # 0-d: torch adds it to a tensor on any device; made at each call, as
            scalar = const.reshape(())  # an array made while jax traces belongs to that trace (a plan outlives it)
            return Kernel(lambda values: namespaces.as_backend(backend, scalar), False, plan)
        return Kernel(lambda values: const, False, plan)
    indices = len(set(plan.equation) - set(",->"))
    if backend == "torch" and plan.kind in ("einsum", "contract") and indices > 52:
        raise EinsumgradError(f"torch's einsum takes 52 indices (one per letter), and a term here has {indices}: "
                              "use backend='numpy' or 'jax', or smaller ranks")
    coef = plan.coef
    slots = [None if shared is None else shared.get(key) for key in step_keys(plan, optimize)] \
        if backend == "numpy" else []
    compute, owned = _product(plan, optimize, backend, coef, slots)
    into = _into(plan, optimize, coef, slots) if backend == "numpy" and not plan.placed else None
    if plan.kind == "contract":
        coef = 1  # scaled its smallest operand instead of the result
    if plan.reshape:
        shape = plan.shape
        inner, compute = compute, (lambda values: inner(values).reshape(shape))
    if coef != 1:
        unscaled = compute
        if owned and not isinstance(coef, complex):
            def compute(values):
                r = unscaled(values)
                r *= coef
                return r
        else:
            compute, owned = (lambda values: unscaled(values) * coef), True
    gram = _gram(plan, compute, into) if backend == "numpy" and plan.kind == "contract" else None
    if gram is not None:
        return Kernel(lambda values: gram(values, None), True, plan, gram)
    return Kernel(compute, owned, plan, into)


GRAM = 64  # a Gram matrix at least this wide is worth its square roots: syrk does half a product's FLOPs


def _gram(plan: TermPlan, compute: Callable, into: Callable | None) -> Callable | None:
    """``(values, out=None)``: a weighted Gram matrix ``Σ_s X[s,k] X[s,l] w[s]`` (one value read twice,
    the same axes summed, a real weight over them: ``Xᵀ diag(w) X``) as ``YᵀY`` with ``Y = √|w| X``,
    which BLAS computes as a symmetric rank-k update (half the FLOPs of ``Xᵀ (w X)``), rows of negative
    weight subtracted apart; None for any other term. Complex values run ``compute`` (``into``, where
    there is one, for ``out``).

    >>> from .plan import TermPlan
    >>> X, w = np.arange(192.0).reshape(3, 64) % 7 - 3, np.array([1.0, -2.0, 0.5])
    >>> plan = TermPlan("contract", (0, 0, 1), "ab,ac,a->bc", ((3, 64), (3, 64), (3,)), 2, (64, 64), False, None,
    ...                 (64, 64), None, "", (None, None, None), None, (True, True))
    >>> bool(np.allclose(_gram(plan, None, None)([X, w], None), 2 * X.T @ (w[:, None] * X)))
    True
    """
    inputs, result = plan.equation.split("->")
    terms = inputs.split(",")
    if len(terms) != 3 or plan.reshape or len(set(result)) != len(result):
        return None
    pair = [(i, j) for i in range(3) for j in range(i + 1, 3)
            if plan.slots[i] == plan.slots[j] and plan.gathers[i] == plan.gathers[j]]
    if not pair:
        return None
    i, j = pair[0]
    (q,) = {0, 1, 2} - {i, j}
    a, b, weight = terms[i], terms[j], terms[q]
    summed = [p for p in range(len(a)) if p < len(b) and a[p] == b[p] and a[p] not in result]
    kept = [p for p in range(len(a)) if p not in summed]
    rows = "".join(a[p] for p in summed)
    left, right = "".join(a[p] for p in kept), "".join(b[p] for p in kept)
    if len(a) != len(b) or len(set(a)) != len(a) or len(set(b)) != len(b) or not summed or not kept \
            or set(left) & set(right) or result not in (left + right, right + left) \
            or len(set(weight)) != len(weight) or not set(weight) <= set(rows) \
            or any(a[p] != b[p] for p in summed) or any(a[p] in b or b[p] in a for p in kept):
        return None
    shape = plan.shapes[i]
    m, n = math.prod(shape[p] for p in summed), math.prod(shape[p] for p in kept)
    if n < GRAM:
        return None
    order = tuple(summed + kept)
    spread = [rows.index(c) for c in weight]  # the weight's axes among the summed ones
    at = [shape[p] if k in spread else 1 for k, p in enumerate(summed)]
    axes = sorted(range(len(weight)), key=lambda k: rows.index(weight[k]))
    coef = plan.coef
    x_slot, x_index, w_slot, w_index = plan.slots[i], plan.gathers[i], plan.slots[q], plan.gathers[q]
    square = tuple(shape[p] for p in kept) * 2

    def gram(values, out):
        X, w = values[x_slot], values[w_slot]
        if x_index is not None:
            X = basic_index(X, x_index, "numpy")
        if w_index is not None:
            w = basic_index(w, w_index, "numpy")
        if X.dtype.kind != "f" or w.dtype.kind != "f" or isinstance(coef, complex):
            if out is None:
                return compute(values)
            if into is not None:
                return into(values, out)
            out[...] = compute(values)
            return out
        X = X.transpose(order).reshape(m, n)
        w = np.broadcast_to(w.transpose(axes).reshape(at), [shape[p] for p in summed]).reshape(m)
        Y = X * np.sqrt(np.abs(w))[:, None]
        target = np.empty((n, n), np.result_type(Y, float)) if out is None else out.reshape(n, n)
        if w.min(initial=0) >= 0:
            np.matmul(Y.T, Y, out=target)
        else:
            positive = w >= 0
            np.matmul(Y[positive].T, Y[positive], out=target)
            negative = Y[~positive]
            target -= negative.T @ negative
        if coef != 1:
            target *= coef
        return target.reshape(square) if out is None else out

    return gram


def _into(plan: TermPlan, optimize, coef, slots: list) -> Callable | None:
    """``(values, out) -> out``: a Hadamard product or a contraction written into ``out`` (its last
    step given ``out=``), doing what :func:`_product` and :func:`term_kernel` do in the same order;
    None for any other term (a read or a view is cheaper than a copy)."""
    reads = [_read(s, g, "numpy") for s, g in zip(plan.slots, plan.gathers)]
    shape = tuple(n for n, kept in zip(plan.shape, plan.carried) if kept) if plan.reshape else None
    if plan.kind == "hadamard":
        first, rest = reads[0], reads[1:]

        def product(values, target):
            np.multiply(first(values), rest[0](values), out=target)
            for read in rest[1:]:
                np.multiply(target, read(values), out=target)
            if coef != 1:
                np.multiply(target, coef, out=target)
    elif plan.kind == "contract":
        write = _written(contraction(plan.equation, plan.shapes, optimize), slots)
        if write is None:
            return None
        smallest = min(range(len(reads)), key=lambda k: math.prod(plan.shapes[k]))

        def product(values, target):
            operands = [read(values) for read in reads]
            if coef != 1:
                operands[smallest] = operands[smallest] * coef
            write(operands, target, values)
    else:
        return None

    def into(values, out):
        product(values, out if shape is None else out.reshape(shape))
        return out

    return into


def _written(c: Contraction, slots: list) -> Callable | None:
    """``(operands, target)``: a planned contraction with its result written into ``target``
    (C-contiguous, of the result's shape): the steps before the last as run, the last given ``out=``."""
    if not c.steps:
        return None if len(set(c.equation) - set(",->.")) > 52 else (
            lambda operands, target, values: np.einsum(c.equation, *operands, out=target))
    last = _last_into(c.steps[-1])
    if last is None:
        return None
    before = _steps(c.steps[:-1], slots)

    def write(operands, target, values):
        pool = list(operands)
        _run_steps(before, pool, values)
        last(*[pool.pop(k) for k in c.steps[-1].positions], target)

    return write


def _last_into(step) -> Callable | None:
    """``(a, b, target)``: one pairwise step writing into ``target``; None where it cannot."""
    if step.presum is not None:
        left, right, after = step.presum
        inner = _last_into(after)
        return None if inner is None else (
            lambda a, b, target: inner(a.sum(left) if left else a, b.sum(right) if right else b, target))
    if step.matmul is None:
        if len(set(step.einsum) - set(",->")) > 52:
            return None
        return lambda a, b, target: np.einsum(step.einsum, a, b, out=target)
    left, right, batch, m, k, n, shape, order = step.matmul
    if order != tuple(range(len(order))):
        return None
    if _plain(step.matmul):
        def plain(a, b, target):
            if a.dtype == b.dtype == target.dtype:
                np.matmul(a, b, out=target)
            else:
                target[...] = a @ b

        return plain
    lhs, rhs, res = ((m, k), (k, n), (m, n)) if batch == 1 else ((batch, m, k), (batch, k, n), (batch, m, n))

    def matmul(a, b, target):
        a, b = a.transpose(left).reshape(lhs), b.transpose(right).reshape(rhs)
        if a.dtype == b.dtype == target.dtype:  # BLAS; a cast into out would take NumPy's own loop
            np.matmul(a, b, out=target.reshape(res))
        else:
            target[...] = (a @ b).reshape(target.shape)

    return matmul


def _product(plan: TermPlan, optimize, backend: str, coef=1, slots=()) -> tuple[Callable, bool]:
    """The product of the term's reads, and whether it is fresh memory; a contraction multiplies
    ``coef`` into its smallest operand, not into a result that may be far larger (an outer product)."""
    reads = [_read(s, g, backend) for s, g in zip(plan.slots, plan.gathers)]
    if plan.kind == "read":
        return reads[0], False
    if plan.kind == "einsum":
        run = partial(namespaces.module(backend).einsum, plan.equation) if backend in namespaces.MODULES \
            else einsum_of(plan.equation)
        (read,) = reads
        return (lambda values: run(read(values))), False
    if plan.kind == "hadamard":
        first, rest = reads[0], reads[1:]

        def hadamard(values):
            r = first(values)
            for read in rest:
                r = r * read(values)
            return r

        return hadamard, True
    if backend == "numpy":
        contract = run_contraction(contraction(plan.equation, plan.shapes, optimize), slots)
    else:
        contract = partial(opt_einsum.contract_expression(plan.equation, *plan.shapes,
                                                         optimize=for_one_contraction(optimize)),
                           backend=backend)
    if backend == "numpy":
        run = contract
    else:
        run = lambda *operands, values: contract(*operands)  # noqa: E731
    if coef == 1:
        return (lambda values: run(*[read(values) for read in reads], values=values)), True
    smallest = min(range(len(reads)), key=lambda k: math.prod(plan.shapes[k]))

    def scaled(values):
        operands = [read(values) for read in reads]
        operands[smallest] = operands[smallest] * coef
        return run(*operands, values=values)

    return scaled, True


def _read(slot: int, index: tuple | None, backend: str) -> Callable:
    """values -> the value in ``slot``, or the part of it that ``index`` gathers (a view)."""
    if index is None:
        return itemgetter(slot)
    return lambda values: basic_index(values[slot], index, backend)


def basic_index(value, index: tuple, backend: str):
    """``value[index]``, NumPy's basic indexing; torch takes no negative step, so there an axis
    read backwards is read forwards and then flipped. ``value`` is an array, or source text.

    >>> basic_index(np.arange(6), (slice(4, None, -3),), "torch")
    array([4, 1])
    """
    index, flips = forwards(index, backend)
    value = value[index]
    return (value.flip(flips) if hasattr(value, "flip") else np.flip(value, flips)) if flips else value


def forwards(index: tuple, backend: str) -> tuple[tuple, tuple[int, ...]]:
    """``index`` for ``backend`` and the axes of its result to flip: for torch, a negative step
    read forwards (``4::-3`` as ``1:5:3``, then flipped); as it is for any other.

    >>> forwards((0, slice(4, None, -3)), "torch")
    ((0, slice(1, 5, 3)), (0,))
    """
    if backend != "torch":
        return index, ()
    read: list = []
    flips: list[int] = []
    for e in index:
        if isinstance(e, slice) and e.step is not None and e.step < 0:  # from a start >= 0: the axis length is known
            n = len(range(e.start, -1 if e.stop is None else e.stop, e.step))
            e = slice(e.start + e.step * (n - 1), e.start + 1, -e.step) if n else slice(0, 0)
            flips.append(len(read) - sum(isinstance(f, int) for f in read))
        read.append(e)
    return tuple(read), tuple(flips)


def run_contraction(c: Contraction, slots=()) -> Callable:
    """``(*operands, values=None)``: a planned contraction, popping operands and appending
    results as opt_einsum does; an intermediate with a slot in ``slots`` (one per step, None: not
    shared) is left in that slot of ``values``, and taken from it where another term computed it."""
    if not c.steps:
        direct = partial(np.einsum, c.equation)
        return lambda *operands, values=None: direct(*operands)
    steps = _steps(c.steps, slots)
    if len(steps) == 1:
        positions, only, _ = steps[0]
        return lambda *operands, values=None: only(*[operands[k] for k in positions])

    def contract(*operands, values=None):
        pool = list(operands)
        _run_steps(steps, pool, values)
        return pool[0]

    return contract


def _steps(steps, slots) -> list[tuple]:
    """``(positions, function, slot or None)`` per step; the last step's result is never shared
    (a term's result is written into: it must be its own)."""
    slots = list(slots) + [None] * (len(steps) - len(slots))
    return [(s.positions, _pairwise(s), slot) for s, slot in zip(steps, slots)]


def _run_steps(steps: list, pool: list, values) -> None:
    for positions, fn, slot in steps:
        if slot is None or values is None:
            pool.append(fn(*[pool.pop(k) for k in positions]))
            continue
        known = values[slot]
        if known is None:
            known = values[slot] = fn(*[pool.pop(k) for k in positions])
        else:
            for k in positions:
                pool.pop(k)
        pool.append(known)


def _pairwise(step) -> Callable:
    """A function of a step's operands running it: its matmul or its ``np.einsum``, or, with
    ``presum``, the axes summed first and then the step on what is left."""
    if step.presum is not None:
        left, right, after = step.presum
        inner = _pairwise(after)
        return lambda a, b: inner(a.sum(left) if left else a, b.sum(right) if right else b)
    return einsum_of(step.einsum) if step.matmul is None else _matmul(step.matmul)


def einsum_of(equation: str) -> Callable:
    """:func:`einsum` of ``equation`` as a function of the operands, its letters converted once."""
    if len(set(equation) - set(",->")) <= 52:
        return partial(np.einsum, convert_to_valid_einsum_chars(equation))
    return partial(einsum, equation)


def einsum(equation: str, *operands):
    """``np.einsum`` of an equation in opt_einsum's symbols; past the 52 letters NumPy takes, the
    same sum (NumPy's arrays have up to 64 axes) as diagonals, sums, a broadcast product and a sum.

    >>> a = np.arange(6.0).reshape(2, 3)
    >>> bool((einsum("ab->ba", a) == a.T).all())
    True
    """
    inputs, result = equation.split("->")
    terms: list[str] = inputs.split(",")
    if len(set(equation) - set(",->")) <= 52:
        return np.einsum(convert_to_valid_einsum_chars(equation), *operands)
    order = list(dict.fromkeys(c for t in terms for c in t))
    if len(order) > MAX_RANK:
        raise EinsumgradError(f"a product here runs over {len(order)} indices at once, over NumPy's {MAX_RANK} axes "
                              "(np.einsum takes 52); use smaller ranks")
    total: np.ndarray | None = None
    for k, (letters, a) in enumerate(zip(terms, operands)):
        term = list(letters)
        for c in order:  # a repeated index: its diagonal, last
            while term.count(c) > 1:
                i = term.index(c)
                j = term.index(c, i + 1)
                a = np.diagonal(a, axis1=i, axis2=j)
                term = [d for p, d in enumerate(term) if p not in (i, j)] + [c]
        elsewhere = set(result).union(*(t for other, t in enumerate(terms) if other != k))
        alone = tuple(j for j, c in enumerate(term) if c not in elsewhere)  # summed where only this term has it
        a, term = np.sum(a, axis=alone), [c for c in term if c in elsewhere]
        a = np.transpose(a, [term.index(c) for c in order if c in term])
        sizes = iter(a.shape)
        a = np.reshape(a, [next(sizes) if c in term else 1 for c in order])
        total = a if total is None else total * a
    kept = [c for c in order if c in result]
    assert total is not None  # one operand at least
    total = np.sum(total, axis=tuple(j for j, c in enumerate(order) if c not in result))
    return np.transpose(total, [kept.index(c) for c in result])


def _plain(step: Matmul) -> bool:
    """Whether ``@`` of the operands as they are is the step: ab,bc->ac, ab,b->a or a,ab->b."""
    left, right, batch, m, k, n, shape, order = step
    ranks = (len(left), len(right), len(shape))
    return batch == 1 and ranks in ((2, 2, 2), (2, 1, 1), (1, 2, 1)) and order == tuple(range(len(order))) \
        and left == tuple(range(len(left))) and right == tuple(range(len(right)))


def _matmul(step: Matmul) -> Callable:
    """The BLAS step as ``@``; a matrix-vector or plain matrix product (the operands' axes in
    order, nothing to regroup: the common case) without the transposes and reshapes."""
    left, right, batch, m, k, n, shape, order = step
    lhs, rhs = ((m, k), (k, n)) if batch == 1 else ((batch, m, k), (batch, k, n))
    if _plain(step):
        return np.matmul

    def matmul(a, b):
        product = a.transpose(left).reshape(lhs) @ b.transpose(right).reshape(rhs)
        return product.reshape(shape).transpose(order)

    return matmul


def sum_kernel(kernels: list[Kernel], shape: tuple[int, ...], dtype: np.dtype, owned_result: bool) -> Callable:
    """``(values, out=None) ->`` the sum of the terms as one array of ``shape`` written in place
    (fresh memory where ``owned_result``: a result handed to the caller); a term with deltas onto
    its diagonal. Given ``out`` (C-contiguous, of ``shape`` and the dtype), the sum is written into
    it where that saves memory, and the array returned is ``out`` or one that needs no copy (a view
    of a value, fresh memory); the values are the same either way."""
    if len(kernels) == 1 and not kernels[0].plan.placed and kernels[0].plan.shape == shape:
        only = kernels[0]
        if only.owned or not owned_result:
            compute, into = only.compute, only.into
            if into is None:
                return lambda values, out=None: compute(values)
            return lambda values, out=None: compute(values) if out is None else into(values, out)
    terms = [(k.compute, k.into if k.plan.shape == shape else None, k.owned, k.plan.placed and k.plan) for k in kernels]

    def run(values, out=None):
        acc, owned = None, False  # owned: acc is fresh memory (or out) of the full shape and dtype
        for compute, into, fresh, placed in terms:
            if acc is None and into is not None and out is not None:
                acc, owned = into(values, out), True
                continue
            r = compute(values)
            if placed:
                if not owned:
                    acc, owned = _filled(acc, shape, dtype, out), True
                part = acc if placed.view is None else _view(acc, placed.view)
                if placed.scatter is not None:
                    part = part[placed.scatter]
                part += r
            elif acc is None:
                acc, owned = r, fresh and r.shape == shape and r.dtype == dtype
            elif owned and r.dtype == dtype:
                acc += r
            elif out is not None and _broadcast(acc.shape, r.shape) == shape \
                    and np.result_type(acc, r) == dtype:
                acc, owned = np.add(acc, r, out=out), True
            else:  # one pass that also allocates: A + A.T, not a copy of A and then += A.T
                acc = acc + r
                owned = acc.shape == shape and acc.dtype == dtype
        if not owned and (acc is None or owned_result or acc.shape != shape):
            acc = _filled(acc, shape, dtype, out)
        return acc

    return run


def _view(a: np.ndarray, view: DiagonalView) -> np.ndarray:
    """A writeable view of a diagonal of ``a``."""
    d = np.einsum(view.equation, a if view.axes is None else a.transpose(view.axes))
    return d if view.order is None else d.transpose(view.order)



def _broadcast(a: tuple, b: tuple) -> tuple | None:
    """NumPy's broadcast of two shapes, or None where they do not broadcast; at any rank (``np.broadcast_shapes``
    stops at 32 axes).

    >>> _broadcast((3, 1), (4,)), _broadcast((2,), (3,))
    ((3, 4), None)
    """
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        return None
    return tuple(y if x == 1 else x for x, y in zip(a, b))

def _filled(a, shape, dtype, out=None) -> np.ndarray:
    """A fresh array of ``shape`` (or ``out``, where it holds the dtype) holding ``a`` broadcast (zeros for None)."""
    if out is None or (a is not None and np.result_type(a.dtype, dtype) != out.dtype):
        if a is None:
            return np.zeros(shape, dtype)
        out = np.empty(shape, np.result_type(a.dtype, dtype))
    if a is None:
        out.fill(0)
    else:
        out[...] = a
    return out


def functional_sum(kernels: list[Kernel], shape: tuple[int, ...], dtype: np.dtype, backend: str = "numpy") -> Callable:
    """The sum of the terms without writing into arrays: for lazy and immutable array types
    (through NumPy's dispatch, or the namespace of a backend NumPy cannot dispatch to)."""
    xp = namespaces.module(backend) if backend in namespaces.MODULES else np
    parts = [(k.compute, _expander(k.plan, shape, dtype, xp)) for k in kernels]

    def run(values):
        if not parts:
            zeros = np.zeros(shape, dtype)
            return zeros if xp is np else namespaces.as_backend(backend, zeros)
        total = None
        for compute, expand in parts:
            r = expand(compute(values))
            total = r if total is None else total + r
        return xp.broadcast_to(total, shape) if tuple(total.shape) != shape else total

    return run


def _expander(plan: TermPlan, shape: tuple[int, ...], dtype: np.dtype, xp=np) -> Callable:
    """Reduced term -> full shape: each reduced axis placed at its first output axis, and zero
    wherever the axes it ties differ (a boolean grid from ``arange``, broadcast, never an identity)
    or off the positions it is scattered onto (read back at each position: a gather, never 0·r)."""
    if not plan.placed:
        return lambda r: r
    scattered = _scattered(plan)
    placed = [1] * len(shape)
    for axes, n in zip(plan.diagonal or [(k,) for k in range(len(shape))], plan.view_shape):
        placed[axes[0]] = n
    on_diagonal = reduce(np.logical_and, (_grid(axes[0], shape) == _grid(a, shape)
                                          for axes in plan.diagonal or () for a in axes[1:]), np.True_)
    if xp is np:
        zero = np.zeros((), dtype)
        return lambda r: np.where(on_diagonal, np.reshape(scattered(np, r), placed), zero)

    def expand(r):  # torch wants its own tensors on the device of r; jax takes NumPy's
        device = (lambda a: xp.as_tensor(a, device=r.device)) if hasattr(xp, "as_tensor") else (lambda a: a)
        return xp.where(device(on_diagonal), xp.reshape(scattered(xp, r, device), placed), 0)

    return expand


def _scattered(plan: TermPlan) -> Callable:
    """``(xp, r[, device]) ->`` the term's result broadcast to the diagonal's shape, written onto
    the positions ``plan.scatter`` names and zero elsewhere (for arrays not written into)."""
    axes = []
    for q, (e, n) in enumerate(zip(plan.scatter or (), plan.view_shape)):
        if e != slice(None):
            picked = np.arange(n)[e]
            at = np.zeros(n, np.intp)
            at[picked] = np.arange(len(picked)) if plan.shape[q] > 1 else 0
            hit = np.zeros(n, bool)
            hit[picked] = True
            axes.append((q, at, hit.reshape([n if k == q else 1 for k in range(len(plan.view_shape))])))

    def scattered(xp, r, device=lambda a: a):
        r = xp.broadcast_to(r, plan.shape)
        for q, at, hit in axes:
            r = xp.where(device(hit), r[(slice(None),) * q + (device(at),)], 0)
        return xp.broadcast_to(r, plan.view_shape)

    return scattered


def _grid(axis: int, shape: tuple[int, ...]) -> np.ndarray:
    """``arange(shape[axis])`` along ``axis``, length 1 along every other."""
    return np.arange(shape[axis]).reshape([shape[axis] if k == axis else 1 for k in range(len(shape))])
