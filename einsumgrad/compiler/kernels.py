"""Kernels: how planned terms run on arrays.

A term is a read, an ``np.einsum`` of one value, a Hadamard product, or a contraction
(one ``np.einsum`` call, or opt_einsum's pairwise steps with BLAS steps as ``@``). A sum of
terms writes a term with deltas onto a writeable diagonal view of the output,
``np.einsum('iik->ik', out)``; lazy and immutable arrays (dask, ...) are combined
functionally instead, a diagonal chosen by ``where`` over index grids, never by multiplying
identity matrices in.
"""
from __future__ import annotations

import math

from functools import partial, reduce
from operator import itemgetter
from typing import Callable, NamedTuple

import numpy as np
import opt_einsum
from opt_einsum.parser import convert_to_valid_einsum_chars

from ..algebra import MAX_RANK
from ..errors import EinsumgradError
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
    slots = plan.slots
    if plan.kind == "read":
        (s,) = slots
        return (lambda values: values[s]), False
    if plan.kind == "einsum":
        (s,) = slots
        run = namespaces.module(backend).einsum if backend in namespaces.MODULES else einsum
        return (lambda values: run(plan.equation, values[s])), False
    if plan.kind == "hadamard":
        first, rest = slots[0], slots[1:]

        def hadamard(values):
            r = values[first]
            for k in rest:
                r = r * values[k]
            return r

        return hadamard, True
    get = itemgetter(*slots)
    if backend == "numpy":
        contract = run_contraction(contraction(plan.equation, plan.shapes, optimize))
    else:
        contract = partial(opt_einsum.contract_expression(plan.equation, *plan.shapes,
                                                         optimize=for_one_contraction(optimize)),
                           backend=backend)
    if coef == 1:
        return (lambda values: contract(*get(values))), True
    smallest = min(range(len(slots)), key=lambda k: math.prod(plan.shapes[k]))

    def scaled(values):
        operands = list(get(values))
        operands[smallest] = operands[smallest] * coef
        return contract(*operands)

    return scaled, True


def run_contraction(c: Contraction) -> Callable:
    """A function of the operands running a planned contraction, popping operands and appending
    results as opt_einsum does."""
    if not c.steps:
        return partial(np.einsum, c.equation)
    steps = [(s.positions, partial(einsum, s.einsum) if s.matmul is None else _matmul(s.matmul)) for s in c.steps]
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
    terms, result = equation.split("->")
    terms = terms.split(",")
    if len(set(equation) - set(",->")) <= 52:
        return np.einsum(convert_to_valid_einsum_chars(equation), *operands)
    order = list(dict.fromkeys(c for t in terms for c in t))
    if len(order) > MAX_RANK:
        raise EinsumgradError(f"a product here runs over {len(order)} indices at once, over NumPy's {MAX_RANK} axes "
                              "(np.einsum takes 52); use smaller ranks")
    total = None
    for k, (term, a) in enumerate(zip(terms, operands)):
        term = list(term)
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
    if len(kernels) == 1 and kernels[0].plan.diagonal is None and kernels[0].plan.shape == shape:
        if kernels[0].owned or not owned_result:
            return kernels[0].compute
    terms = [(k.compute, k.owned, k.plan.view) for k in kernels]

    def run(values):
        acc, owned = None, False  # owned: acc is fresh memory of the full shape and dtype
        for compute, fresh, view in terms:
            r = compute(values)
            if view is not None:
                if not owned:
                    acc, owned = _filled(acc, shape, dtype), True
                diagonal = _view(acc, view)
                diagonal += r
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
    wherever the axes it ties differ (a boolean grid from ``arange``, broadcast, never an identity)."""
    if plan.diagonal is None:
        return lambda r: r
    placed = [1] * len(shape)
    for axes, n in zip(plan.diagonal, plan.view_shape):
        placed[axes[0]] = n
    on_diagonal = reduce(np.logical_and, (_grid(axes[0], shape) == _grid(a, shape)
                                          for axes in plan.diagonal for a in axes[1:]), np.True_)
    if xp is np:
        zero = np.zeros((), dtype)
        return lambda r: np.where(on_diagonal, np.reshape(np.broadcast_to(r, plan.view_shape), placed), zero)

    def expand(r):  # torch wants its own tensors on the device of r; jax takes NumPy's
        mask = xp.as_tensor(on_diagonal, device=r.device) if hasattr(xp, "as_tensor") else on_diagonal
        return xp.where(mask, xp.reshape(xp.broadcast_to(r, plan.view_shape), placed), 0)

    return expand


def _grid(axis: int, shape: tuple[int, ...]) -> np.ndarray:
    """``arange(shape[axis])`` along ``axis``, length 1 along every other."""
    return np.arange(shape[axis]).reshape([shape[axis] if k == axis else 1 for k in range(len(shape))])
