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

from functools import lru_cache, partial, reduce
from operator import itemgetter, matmul as _at, methodcaller, mul
from typing import Callable, NamedTuple

import numpy as np
import opt_einsum
from opt_einsum.parser import convert_to_valid_einsum_chars

from ..core.algebra import MAX_RANK
from ..core.errors import EinsumgradError
from . import namespaces
from .plan import Contraction, DiagonalView, Pairwise, Step, TermPlan, contraction, pairwise, step_keys
from .settings import for_one_contraction


# np.einsum's C loop, called without the Python wrapper (which only dispatches and forwards: a microsecond a
# call on small arrays); NumPy's own einsum where there is none, and for lazy arrays, which dispatch through it
C_EINSUM: Callable = getattr((np._core if hasattr(np, "_core") else np.core).multiarray, "c_einsum", np.einsum)


class Kernel(NamedTuple):
    compute: Callable  # values -> array of ``plan.shape``
    owned: bool  # the array is fresh memory, safe to write into
    plan: TermPlan
    into: Callable | None = None  # (values, out) -> out, the term written into a C-contiguous ``out`` of the
    # output's shape and dtype: the same operations as ``compute``, so the same values to the last bit


def term_kernel(plan: TermPlan, dtype: np.dtype, optimize, backend: str, shared: dict | None = None,
                eager: bool = False) -> Kernel:
    """The function computing a planned term from the list of values; ``shared`` gives, per
    :func:`~.plan.step_keys` key of an intermediate that several contractions compute, the slot
    of ``values`` where the first to compute it in a call leaves it for the others. ``eager``:
    the values are plain NumPy arrays (none lazy), so einsum's C loop is called directly."""
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
    compute, owned = _product(plan, optimize, backend, coef, slots, eager)
    into = _into(plan, optimize, coef, slots, eager) if backend == "numpy" and not plan.placed else None
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


def _into(plan: TermPlan, optimize, coef, slots: list, eager: bool = False) -> Callable | None:
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
        write = _written(_planned(plan, optimize), slots, eager)
        if write is None:
            return None
        smallest = min(range(len(reads)), key=lambda k: math.prod(plan.shapes[k]))
        fetch = _getter(list(plan.slots)) if all(g is None for g in plan.gathers) else None

        def product(values, target):
            if coef == 1 and fetch is not None:
                write(fetch(values), target, values)
                return
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


def _planned(plan: TermPlan, optimize) -> Contraction:
    """The term's contraction as run: where it is one ``np.einsum`` call of two operands (a small
    problem under ``"auto"``), that call as a pairwise step, which is a BLAS call or a broadcast
    product where it can be (a fraction of einsum's time on small arrays); else as planned.

    >>> from .plan import TermPlan
    >>> plan = TermPlan("contract", (0, 1), "ab,b->a", ((3, 4), (4,)), 1, (3,), False, None, (3,), None, "",
    ...                 (None, None), None, (True,))
    >>> [s.matmul is not None for s in _planned(plan, "auto").steps], _planned(plan, False).steps
    ([True], ())
    """
    c = contraction(plan.equation, plan.shapes, optimize)
    if c.steps or len(plan.shapes) != 2 or optimize is False:
        return c
    terms = c.equation.split("->")[0].split(",")
    sizes = {a: n for letters, shape in zip(terms, plan.shapes) for a, n in zip(letters, shape)}
    step = pairwise(Step((0, 0), frozenset(), c.equation, None, "DIRECT"), sizes)
    if step.matmul is not None and _matmul_parts(step)[3] is not None:  # a transposed product: einsum writes it
        return c  # in order, where ``(a @ b).T`` would hand a transposed view on
    return c._replace(steps=(step,))


def _written(c: Contraction, slots: list, eager: bool = False) -> Callable | None:
    """``(operands, target, values)``: a planned contraction with its result written into ``target``
    (C-contiguous, of the result's shape): the steps before the last as run, the last given ``out=``."""
    if not c.steps:
        if len(set(c.equation) - set(",->.")) > 52:
            return None
        run = partial(C_EINSUM if eager else np.einsum, c.equation)
        return lambda operands, target, values: run(*operands, out=target)
    last = _last_into(c.steps[-1], eager)
    if last is None:
        return None
    program = _program(c.steps, slots, _operands(c), eager)
    before, read = program[:-1], program[-1][1]

    def write(operands, target, values):
        registers = list(operands)
        _run(before, registers, values)
        last(target, *read(registers))

    return write


def _last_into(step: Pairwise, eager: bool = False) -> Callable | None:
    """``(target, *operands)``: one pairwise step writing into ``target``; None where it cannot."""
    if step.presum is not None:
        left, right, after = step.presum
        inner = _last_into(after, eager)
        if inner is None:
            return None
        first, second = _summer(left), _summer(right)
        return lambda target, a, b: inner(target, first(a), second(b))
    if step.matmul is None:
        assert step.einsum is not None  # a step is a BLAS call or an einsum
        views = _broadcast_views(step.einsum)
        if views is not None:
            first, second = (v or _same for v in views)
            return lambda target, a, b: np.multiply(first(a), second(b), out=target)
        if len(set(step.einsum) - set(",->")) > 52:
            return None
        run = partial(C_EINSUM if eager else np.einsum, step.einsum)
        return lambda target, *operands: run(*operands, out=target)
    first, second, product, order = _matmul_parts(step)
    if order is not None:
        return None
    first, second = first or _same, second or _same

    def matmul(target, a, b):
        a, b = first(a), second(b)
        if a.dtype == b.dtype == target.dtype:  # BLAS; a cast into out would take NumPy's own loop
            np.matmul(a, b, out=target if product is None else target.reshape(product))
        else:
            target[...] = (a @ b).reshape(target.shape)

    return matmul


def _product(plan: TermPlan, optimize, backend: str, coef=1, slots=(), eager: bool = False) -> tuple[Callable, bool]:
    """The product of the term's reads, and whether it is fresh memory; a contraction multiplies
    ``coef`` into its smallest operand, not into a result that may be far larger (an outer product)."""
    reads = [_read(s, g, backend) for s, g in zip(plan.slots, plan.gathers)]
    if plan.kind == "read":
        return reads[0], False
    if plan.kind == "einsum":
        run = partial(namespaces.module(backend).einsum, plan.equation) if backend in namespaces.MODULES \
            else einsum_of(plan.equation, eager)
        (read,) = reads
        return (lambda values: run(read(values))), False
    if plan.kind == "hadamard":
        first, rest = reads[0], reads[1:]
        if len(rest) == 1:
            second = rest[0]
            return (lambda values: first(values) * second(values)), True

        def hadamard(values):
            r = first(values)
            for read in rest:
                r = r * read(values)
            return r

        return hadamard, True
    if backend == "numpy":
        contract = run_contraction(_planned(plan, optimize), slots, eager)
    else:
        contract = partial(opt_einsum.contract_expression(plan.equation, *plan.shapes,
                                                         optimize=for_one_contraction(optimize)),
                           backend=backend)
    if backend == "numpy":
        run = contract
    else:
        run = lambda *operands, values: contract(*operands)  # noqa: E731
    if coef == 1:
        if all(g is None for g in plan.gathers):  # the values as they are: one C call fetches them all
            fetch = _getter(list(plan.slots))
            return (lambda values: run(*fetch(values), values=values)), True
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


def run_contraction(c: Contraction, slots=(), eager: bool = False) -> Callable:
    """``(*operands, values=None)``: a planned contraction, its steps reading and writing registers
    (see :func:`_program`); an intermediate with a slot in ``slots`` (one per step, None: not
    shared) is left in that slot of ``values``, and taken from it where another term computed it."""
    if not c.steps:
        direct = partial(C_EINSUM if eager else np.einsum, c.equation)
        return lambda *operands, values=None: direct(*operands)
    program = _program(c.steps, slots, _operands(c), eager)
    if len(program) == 1:
        only, read, _ = program[0]
        return lambda *operands, values=None: only(*read(operands))

    def contract(*operands, values=None):
        registers = list(operands)
        _run(program, registers, values)
        return registers[-1]

    return contract


def _operands(c: Contraction) -> int:
    return c.equation.count(",") + 1


def _program(steps, slots, operands: int, eager: bool = False) -> list[tuple]:
    """Per step, ``(function, read, slot or None)``: the operands are registers ``0 …
    operands - 1`` and each step's result the next register, so that ``read`` (registers ->
    the step's operands) is fixed once, where opt_einsum pops from a list and appends at every
    call; the last step's result is never shared (a term's result is written into: it must be its own).

    >>> from .plan import Pairwise
    >>> steps = [Pairwise((1, 0), "b,a->ab", None, "b,a->ab"), Pairwise((1, 0), "c,ab->abc", None, "c,ab->abc")]
    >>> [read(["x", "y", "z", "yx"]) for _, read, _ in _program(steps, (), 3)]  # then y·x in register 3
    [('y', 'x'), ('yx', 'z')]
    """
    slots = list(slots) + [None] * (len(steps) - len(slots))
    pool = list(range(operands))
    program = []
    for k, (step, slot) in enumerate(zip(steps, slots)):
        taken = [pool.pop(q) for q in step.positions]
        program.append((_pairwise(step, eager), _getter(taken), slot))
        pool.append(operands + k)
    return program


def _getter(positions: list[int]) -> Callable:
    """A list -> the tuple of its entries at ``positions`` (one C call for two or more)."""
    if len(positions) == 1:
        (k,) = positions
        return lambda items: (items[k],)
    return itemgetter(*positions)


def _run(program: list, registers: list, values) -> None:
    for fn, read, slot in program:
        if slot is None or values is None:
            registers.append(fn(*read(registers)))
            continue
        known = values[slot]
        if known is None:
            known = values[slot] = fn(*read(registers))
        registers.append(known)


def _pairwise(step: Pairwise, eager: bool = False) -> Callable:
    """A function of a step's operands running it: its matmul, a broadcast product where it sums
    nothing, or its ``np.einsum``; with ``presum``, the axes summed first and then the step on what is left."""
    if step.presum is not None:
        left, right, after = step.presum
        inner = _pairwise(after, eager)
        first, second = _summer(left), _summer(right)
        return lambda a, b: inner(first(a), second(b))
    if step.matmul is not None:
        return _matmul(step)
    assert step.einsum is not None  # a step is a BLAS call or an einsum
    views = _broadcast_views(step.einsum)
    if views is None:
        return einsum_of(step.einsum, eager)
    first, second = views
    if first is None:
        return mul if second is None else (lambda a, b: a * second(b))
    return (lambda a, b: first(a) * b) if second is None else (lambda a, b: first(a) * second(b))


def _same(a):
    return a


def _summer(axes: tuple[int, ...]) -> Callable:
    return methodcaller("sum", axes) if axes else _same


def _broadcast_views(equation: str) -> tuple | None:
    """For a product of two operands that sums nothing (``a,ba->ab``), per operand the view (None:
    itself) that broadcasting multiplies into the result: its axes in the result's order, new
    axes where it lacks one (before its last); None for any other equation. A product of two
    numbers is rounded once, so this is einsum's result to the last bit.

    >>> a, b = _broadcast_views("a,ba->ab")
    >>> x, W = np.arange(2.0), np.arange(6.0).reshape(3, 2)
    >>> bool((a(x) * b(W) == np.einsum("a,ba->ab", x, W)).all()), _broadcast_views("ab,b->a")
    (True, None)
    """
    inputs, result = equation.split("->")
    operands = inputs.split(",")
    if len(operands) != 2 or not result or "." in equation or len(set(result)) != len(result) \
            or set(inputs) - {","} != set(result) or any(len(set(o)) != len(o) for o in operands):
        return None
    views = []
    for o in operands:
        order = tuple(sorted(range(len(o)), key=lambda p: result.index(o[p])))
        first = min((result.index(c) for c in o), default=len(result))
        grown = tuple(slice(None) if c in o else None for c in result[first:])
        views.append(_viewer(None if order == tuple(range(len(o))) else order, grown if None in grown else None))
    return tuple(views)


def _viewer(axes: tuple | None, index: tuple | None) -> Callable | None:
    """``a.transpose(axes)[index]`` (either left out where None); None where both are."""
    if axes is None:
        return None if index is None else itemgetter(index)
    if index is None:
        return methodcaller("transpose", axes)
    return lambda a: a.transpose(axes)[index]


def einsum_of(equation: str, eager: bool = False) -> Callable:
    """:func:`einsum` of ``equation`` as a function of the operands, its letters converted once
    (einsum's C loop called directly where ``eager``: no lazy array needs NumPy's dispatch)."""
    if len(set(equation) - set(",->")) <= 52:
        return partial(C_EINSUM if eager else np.einsum, convert_to_valid_einsum_chars(equation))
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


def _matmul_parts(step: Pairwise) -> tuple:
    """How a BLAS step runs: ``(left, right, product, order)``, each operand's view (None: itself)
    for ``left(a) @ right(b)``, the shape to reshape the product to before transposing it by
    ``order`` (None: none needed). Where each group of indices (batch, kept, summed) is one axis,
    the operands go to ``@`` as they are or transposed (a vector as a vector), and the product
    has the step's shape; else they are reshaped to (b, m, k) @ (b, k, n) and the product back."""
    assert step.matmul is not None  # a BLAS step
    left, right, batch, m, k, n, shape, order = step.matmul
    inputs, result = step.equation.split("->")
    a, b = inputs.split(",")
    nb = sum(c in b and c in result for c in a)
    ns = sum(c in b and c not in result for c in a)
    nl, nr = len(a) - nb - ns, len(b) - nb - ns
    natural = ns == 1 and nb == (batch != 1) and nl + nr > 0 and (nl == 1 or nl == 0 == nb) \
        and (nr == 1 or nr == 0 == nb)
    identity = lambda axes: None if axes == tuple(range(len(axes))) else axes  # noqa: E731
    if natural:
        first, second, product = _viewer(identity(left), None), _viewer(identity(right), None), None
    else:
        lhs, rhs = ((m, k), (k, n)) if batch == 1 else ((batch, m, k), (batch, k, n))
        first, second = _reshaper(identity(left), lhs), _reshaper(identity(right), rhs)
        product = (m, n) if batch == 1 else (batch, m, n)
    return first, second, product, identity(order)


def _reshaper(axes: tuple | None, shape: tuple) -> Callable:
    if axes is None:
        return methodcaller("reshape", shape)
    return lambda a: a.transpose(axes).reshape(shape)


def _matmul(step: Pairwise) -> Callable:
    """The BLAS step as ``@``: a matrix-vector or plain matrix product of the operands as they
    are (the common case) is ``@`` itself, nothing transposed or reshaped."""
    first, second, product, order = _matmul_parts(step)
    assert step.matmul is not None  # a BLAS step
    shape = step.matmul.shape
    if product is None and order is None:
        if first is None:
            return _at if second is None else (lambda a, b: a @ second(b))
        return (lambda a, b: first(a) @ b) if second is None else (lambda a, b: first(a) @ second(b))
    first, second = first or _same, second or _same
    if product is None:
        return lambda a, b: (first(a) @ second(b)).transpose(order)
    if order is None:
        return lambda a, b: (first(a) @ second(b)).reshape(shape)
    return lambda a, b: (first(a) @ second(b)).reshape(shape).transpose(order)


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
            elif out is not None and broadcast(acc.shape, r.shape) == shape \
                    and (acc.dtype == r.dtype == dtype or np.result_type(acc, r) == dtype):
                acc, owned = np.add(acc, r, out=out), True
            else:  # one pass that also allocates: A + A.T, not a copy of A and then += A.T
                acc = acc + r
                owned = acc.shape == shape and acc.dtype == dtype
        if not owned and (acc is None or owned_result or acc.shape != shape):
            acc = _filled(acc, shape, dtype, out)
        return acc

    return run


@lru_cache(maxsize=4096)
def broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape that NumPy broadcasts shapes ``a`` and ``b`` to, None where they do not
    broadcast (``np.broadcast_shapes``, which also takes arrays, and takes only up to 32 axes).

    >>> broadcast((3, 1), (4,)), broadcast((2,), (3,)), len(broadcast((1,) * 40, (2,) * 40))
    ((3, 4), None, 40)
    """
    n = max(len(a), len(b))
    shape = []
    for p, q in zip((1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b):
        if p != q and 1 not in (p, q):
            return None
        shape.append(q if p == 1 else p)
    return tuple(shape)


def _view(a: np.ndarray, view: DiagonalView) -> np.ndarray:
    """A writeable view of a diagonal of ``a``."""
    d = C_EINSUM(view.equation, a if view.axes is None else a.transpose(view.axes))
    return d if view.order is None else d.transpose(view.order)


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
