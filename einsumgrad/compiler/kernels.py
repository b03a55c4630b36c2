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
from .plan import Contraction, DiagonalView, Matmul, TermPlan, contraction
from .settings import for_one_contraction


class Kernel(NamedTuple):
    compute: Callable  # values -> array of ``plan.shape``
    owned: bool  # the array is fresh memory, safe to write into
    plan: TermPlan


def term_kernel(plan: TermPlan, dtype: np.dtype, optimize, backend: str) -> Kernel:
    """The function computing a planned term from the list of values."""
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
    compute, owned = _product(plan, optimize, backend, coef)
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
    return Kernel(compute, owned, plan)


def _product(plan: TermPlan, optimize, backend: str, coef=1) -> tuple[Callable, bool]:
    """The product of the term's reads, and whether it is fresh memory; a contraction multiplies
    ``coef`` into its smallest operand, not into a result that may be far larger (an outer product)."""
    reads = [_read(s, g, backend) for s, g in zip(plan.slots, plan.gathers)]
    if plan.kind == "read":
        return reads[0], False
    if plan.kind == "einsum":
        run = namespaces.module(backend).einsum if backend in namespaces.MODULES else einsum
        (read,) = reads
        return (lambda values: run(plan.equation, read(values))), False
    if plan.kind == "hadamard":
        first, rest = reads[0], reads[1:]

        def hadamard(values):
            r = first(values)
            for read in rest:
                r = r * read(values)
            return r

        return hadamard, True
    if backend == "numpy":
        contract = run_contraction(contraction(plan.equation, plan.shapes, optimize))
    else:
        contract = partial(opt_einsum.contract_expression(plan.equation, *plan.shapes,
                                                         optimize=for_one_contraction(optimize)),
                           backend=backend)
    if coef == 1:
        return (lambda values: contract(*[read(values) for read in reads])), True
    smallest = min(range(len(reads)), key=lambda k: math.prod(plan.shapes[k]))

    def scaled(values):
        operands = [read(values) for read in reads]
        operands[smallest] = operands[smallest] * coef
        return contract(*operands)

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


def run_contraction(c: Contraction) -> Callable:
    """A function of the operands running a planned contraction, popping operands and appending
    results as opt_einsum does."""
    if not c.steps:
        return partial(np.einsum, c.equation)
    steps = [(s.positions, partial(einsum, s.equation) if s.matmul is None else _matmul(s.matmul)) for s in c.steps]
    if len(steps) == 1:
        positions, only = steps[0]
        return lambda *operands: only(*[operands[k] for k in positions])

    def contract(*operands):
        pool = list(operands)
        for positions, fn in steps:
            pool.append(fn(*[pool.pop(k) for k in positions]))
        return pool[0]

    return contract


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


def _matmul(step: Matmul) -> Callable:
    left, right, batch, m, k, n, shape, order = step
    lhs, rhs = ((m, k), (k, n)) if batch == 1 else ((batch, m, k), (batch, k, n))

    def matmul(a, b):
        product = a.transpose(left).reshape(lhs) @ b.transpose(right).reshape(rhs)
        return product.reshape(shape).transpose(order)

    return matmul


def sum_kernel(kernels: list[Kernel], shape: tuple[int, ...], dtype: np.dtype, owned_result: bool) -> Callable:
    """The sum of the terms as one array of ``shape`` written in place (fresh memory where
    ``owned_result``: a result handed to the caller); a term with deltas onto its diagonal."""
    if len(kernels) == 1 and not kernels[0].plan.placed and kernels[0].plan.shape == shape:
        if kernels[0].owned or not owned_result:
            return kernels[0].compute
    terms = [(k.compute, k.owned, k.plan.placed and k.plan) for k in kernels]

    def run(values):
        acc, owned = None, False  # owned: acc is fresh memory of the full shape and dtype
        for compute, fresh, placed in terms:
            r = compute(values)
            if placed:
                if not owned:
                    acc, owned = _filled(acc, shape, dtype), True
                part = acc if placed.view is None else _view(acc, placed.view)
                if placed.scatter is not None:
                    part = part[placed.scatter]
                part += r
            elif acc is None:
                acc, owned = r, fresh and r.shape == shape and r.dtype == dtype
            elif owned and r.dtype == dtype:
                acc += r
            else:  # one pass that also allocates: A + A.T, not a copy of A and then += A.T
                acc = acc + r
                owned = acc.shape == shape and acc.dtype == dtype
        if not owned and (acc is None or owned_result or acc.shape != shape):
            acc = _filled(acc, shape, dtype)
        return acc

    return run


def _view(a: np.ndarray, view: DiagonalView) -> np.ndarray:
    """A writeable view of a diagonal of ``a``."""
    d = np.einsum(view.equation, a if view.axes is None else a.transpose(view.axes))
    return d if view.order is None else d.transpose(view.order)


def _filled(a, shape, dtype) -> np.ndarray:
    """A fresh array of ``shape`` holding ``a`` broadcast (zeros for None)."""
    if a is None:
        return np.zeros(shape, dtype)
    out = np.empty(shape, np.result_type(a.dtype, dtype))
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
