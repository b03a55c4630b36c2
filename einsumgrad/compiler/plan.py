"""Planning, before any array exists: index lengths, a term's layout (its reads, the axes it
reduces to, the diagonal it is written onto, which kernel runs it) and a contraction's path.

>>> from ..core.ir import Ref, Term, Var
>>> W, x = Var("W", (3, 4)), Var("x", (4,))
>>> y = Expr(("i",), (3,), (Term(1, (Ref(W, ("i", "j")), Ref(x, ("j",)))),))
>>> layout = Layout({W: 0, x: 1, y: 2}, {W: (3, 4), x: (4,), y: (3,)}, int)
>>> plan_term(y, y.terms[0], layout, "auto")[:3]
('contract', (0, 1), 'ab,b->a')
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, NamedTuple

import opt_einsum
from opt_einsum.parser import convert_to_valid_einsum_chars

from ..core.caches import cache
from ..core.errors import EinsumgradError, ShapeError
from ..core.ir import Call, Delta, Dim, Expr, Ref, Size, Stretch, Term, factor_indices, fresh
from ..notation.render import describe_factor, show_dim
from ..library.selection import picks, positions
from ..core.simplify import eliminate_deltas
from .settings import for_one_contraction

SMALL = 1 << 10  # up to this many loop iterations (times operands past the second) one np.einsum call beats
# any planned path: its loop reads every operand at every iteration (~5 ns each), where a path's steps (BLAS,
# broadcast products) cost ~1-2 µs each on small arrays (measured: 8×8 to 32×32 MLP Hessians)
MAX_OPERANDS = 32  # np.einsum takes at most 32 operands in NumPy 1 (64 in NumPy 2): more go pairwise


class Layout(NamedTuple):
    """Where a plan finds things: each node's value slot and shape, and the length of a ``Dim``."""
    slot: Mapping
    shape_of: dict
    dim: Callable[[Dim], int]


def reads(node, plans: dict, slot: Mapping) -> list[int]:
    """The slots a node's step reads: a call's argument, the values its terms' plans read (a tensor: none)."""
    if isinstance(node, Call):
        return [slot[node.arg]]
    if isinstance(node, Expr):
        return [s for p in plans[node] for s in p.slots]
    return []


class DiagonalView(NamedTuple):
    """The diagonal of an output that a term is written onto, as a writeable view at any rank:
    ``np.einsum(equation, out.transpose(axes)).transpose(order)`` (None: no transpose), with the
    tied axes first and the rest under the ellipsis, so that one letter per tie is enough."""
    axes: tuple[int, ...] | None
    equation: str
    order: tuple[int, ...] | None


def diagonal_view(diagonal: tuple[tuple[int, ...], ...]) -> DiagonalView:
    """The view whose axes are ``diagonal``'s reduced axes, in order: ``((0, 1), (2,))`` -> ``'aa...->a...'``."""
    tied = [axes for axes in diagonal if len(axes) > 1]
    untied = [axes for axes in diagonal if len(axes) == 1]
    axes = tuple(a for group in tied + untied for a in group)
    order = tuple((tied + untied).index(group) for group in diagonal)
    letters = [opt_einsum.get_symbol(j) for j in range(len(tied))]
    equation = "".join(c * len(g) for c, g in zip(letters, tied)) + "...->" + "".join(letters) + "..."
    return DiagonalView(None if axes == tuple(range(len(axes))) else axes, equation,
                        None if order == tuple(range(len(order))) else order)


class TermPlan(NamedTuple):
    """How one term of a sum is computed and where its result goes."""
    kind: str  # "constant", "read" (a value as it is), "einsum" (of one value), "hadamard", "contract"
    slots: tuple[int, ...]  # the values read, in the equation's order
    equation: str  # the reads -> the axes of ``shape`` some read carries
    shapes: tuple[tuple[int, ...], ...]  # of the reads, as the equation sees them (1 where stretched)
    coef: complex
    shape: tuple[int, ...]  # what the kernel yields: one axis per reduced axis, 1 where broadcast
    reshape: bool  # the equation's result needs its broadcast axes put back to make ``shape``
    diagonal: tuple[tuple[int, ...], ...] | None  # per reduced axis, the output axes it runs along
    view_shape: tuple[int, ...]  # the shape of that diagonal
    view: DiagonalView | None  # how to view it
    shown: str  # the term as a plan's repr prints it
    gathers: tuple[tuple | None, ...]  # per read, the basic index of the value it reads (None: all of it)
    scatter: tuple | None  # the basic index of the diagonal (over reduced axes) the result is written to
    carried: tuple[bool, ...]  # per reduced axis, whether a read carries it (else it is broadcast)

    @property
    def contraction(self) -> tuple | None:
        """``(equation, shapes)`` where opt_einsum plans a path."""
        return (self.equation, self.shapes) if self.kind == "contract" else None

    @property
    def placed(self) -> bool:
        """Whether the result is written onto part of the output (a diagonal, a slice), not all of it."""
        return self.diagonal is not None or self.scatter is not None


Picks = tuple  # (start, step, length): positions start + step·b for b < length; length None: one, an int index


class Read(NamedTuple):
    """A value as a term reads it: its node, its indices (None where a gather drops the axis),
    per axis the positions gathered from it first (:data:`Picks`; None: all), its shape so."""
    node: object
    idx: tuple
    index: tuple  # type: ignore[assignment]  # the field shadows tuple.index, as NamedTuple allows
    shape: tuple


def plan_term(expr: Expr, term: Term, layout: Layout, optimize) -> TermPlan:
    """The plan of one term of ``expr``: deltas tie output axes (the term is computed once over the
    reduced axes and written onto the diagonal they span), sizes fold into the coefficient, a
    read's size-1 axis at a longer index is read at a summed index of its own, and a constant
    selection (``x[1:3]``: ``Σ_a δ[a,b+1] x[a]``) indexes the reads (a gather) or the output (a
    scatter) instead of being multiplied in: never 0·inf, never a pass over the whole axis."""
    term = planned(expr, term, layout)
    sizes: dict[Any, int] = {**index_sizes(expr, term, layout)}  # and ("stretched", a) below
    reads, stand_in = gathered(expr, term, layout, sizes)
    rep = {a: a for a in expr.out}
    for f in term.factors:
        if isinstance(f, Delta):
            rep[f.b] = rep[f.a]
    groups = list(dict.fromkeys(rep[a] for a in expr.out))
    reduced = [stand_in[a][0] if a in stand_in and stand_in[a][0] is not None else a for a in groups]
    coef = term.coef
    refs = []
    for f in term.factors:
        if isinstance(f, Size):
            coef *= layout.dim(f.dim)
    for r in reads:
        refs.append((layout.slot[r.node], tuple(rep.get(a, a) if n == sizes[a] else ("stretched", a)
                                                for a, n in zip(r.idx, r.shape) if a is not None)))
    sizes.update({a: 1 for _, idx in refs for a in idx if isinstance(a, tuple)})
    carried = {a for _, idx in refs for a in idx}
    coef *= math.prod(map(layout.dim, spread(expr, term, layout)))
    result = tuple(a for a in reduced if a in carried)
    shape = tuple(sizes[a] if a in carried else 1 for a in reduced)
    has_delta = any(isinstance(f, Delta) for f in term.factors)
    diagonal = tuple(tuple(k for k, b in enumerate(expr.out) if rep[b] == a) for a in groups) if has_delta else None
    symbol = {a: opt_einsum.get_symbol(k) for k, a in enumerate(dict.fromkeys(
        [a for _, idx in refs for a in idx] + reduced))}
    eq = ",".join("".join(symbol[a] for a in idx) for _, idx in refs) + "->" + "".join(symbol[a] for a in result)
    gathers = tuple(_trimmed(tuple(slice(None) if e is None else positions(*e) for e in r.index)) for r in reads)
    scatter = _trimmed(tuple(_as_slice(stand_in[a][1]) if a in stand_in else slice(None) for a in groups))
    shown = eq if refs else "const"
    shown += "".join(f" reading [{s}][{shown_index(g)}]" for (s, _), g in zip(refs, gathers) if g is not None)
    if has_delta:
        shown += " onto diagonal " + "".join(symbol[rep[a]] for a in expr.out)
    if scatter is not None:
        shown += f" onto [{shown_index(scatter)}]"
    shown = (f"{coef}·" if coef != 1 or not refs else "") + shown
    indices = [idx for _, idx in refs]
    if not refs:
        kind = "constant"
    elif len(refs) == 1:
        kind = "read" if indices[0] == result else "einsum"
    elif all(idx == result for idx in indices) and optimize is not False:
        kind = "hadamard"  # multiply, no einsum needed
    else:
        kind = "contract"
    return TermPlan(kind, tuple(s for s, _ in refs), eq, tuple(tuple(sizes[a] for a in idx) for idx in indices), coef,
                    shape, shape != tuple(sizes[a] for a in result), diagonal, tuple(sizes[a] for a in groups),
                    None if diagonal is None else diagonal_view(diagonal), shown, gathers, scatter,
                    tuple(a in carried for a in reduced))


def gathered(expr: Expr, term: Term, layout: Layout, sizes: dict) -> tuple[list[Read], dict]:
    """The reads of a :func:`planned` term with its constant selections applied as indexing:
    ``S[b,a]`` (a slice, ``a = start + step·b``) or ``S[a]`` (an int, ``a = c``) puts that position
    in for ``a`` in every other read carrying ``a`` (a gather), and where ``a`` is an output axis,
    the result runs along ``b`` (or along nothing) and is written onto those positions of ``a``
    (a scatter): ``{a: (b or None, picks)}``. A selection whose indices a delta or a stretch
    ties, both of whose indices are output axes (``∂x[1:3]/∂x``), or that would scatter a term
    written onto a diagonal, is read as a value.

    >>> from ..core.algebra import tensor
    >>> from ..library.selection import index
    >>> y = index(tensor("x", (5,)), slice(1, 3))
    >>> layout = Layout({}, {y: (2,), y.terms[0].factors[0].node: (5,), y.terms[0].factors[1].node: (2, 5)}, int)
    >>> [(r.idx, r.index) for r in gathered(y, y.terms[0], layout, index_sizes(y, y.terms[0], layout))[0]]
    [(('j',), ((1, 1, 2),))]
    """
    reads = [Read(f.node, f.idx, (None,) * len(f.idx), layout.shape_of[f.node]) for f in term.factors if isinstance(f, Ref)]
    tied = {a for f in term.factors if isinstance(f, (Delta, Stretch)) for a in factor_indices(f)}
    onto_diagonal = any(isinstance(f, Delta) for f in term.factors)  # a scatter is onto the whole output
    stand_in: dict[str, tuple] = {}
    for scattering in (False, True):  # every gather first: a scatter's b is then free of other selections
        k = 0
        while k < len(reads):
            picked = _picked(reads[k])
            a, b = (reads[k].idx[-1], reads[k].idx[0] if len(reads[k].idx) == 2 else None) if picked else (None, None)
            rest = reads[:k] + reads[k + 1:]
            taken = {i for i, _ in stand_in.values() if i is not None}
            if scattering:
                fits = a in expr.out and b not in expr.out and not onto_diagonal
            else:
                fits = a not in expr.out and any(a in r.idx for r in rest)
            if picked is None or a is None or {a, b} & (tied | taken) or not fits:
                k += 1
                continue
            reads = [_gather(r, a, b, picked, sizes[a]) for r in rest]
            if scattering:
                stand_in[a] = (b, picked)
    return reads, stand_in


def _picked(r: Read) -> Picks | None:
    """What a read of a selection picks along its last axis, of the rows it reads (an earlier
    gather: ``x[1::2][0]`` picks position 1); None for a read of anything else."""
    found = picks(r.node)
    if found is None or r.index[-1] is not None:
        return None
    return found if r.index[0] is None else _composed(found, r.index[0])


def _composed(outer: Picks, inner: Picks) -> Picks:
    """``inner`` picked from the positions ``outer`` picks (``x[1::2][0]`` is ``x[1]``).

    >>> _composed((1, 2, 3), (-1, 1, None)), _composed((-4, 1, 4), (3, -2, 2))
    ((5, 1, None), (-1, -2, 2))
    """
    start, step, length = inner
    first = outer[0] + outer[1] * (start + outer[2] if start < 0 else start)
    return (first, 1, None) if length is None else (first, outer[1] * step if length > 1 else 1, length)


def _gather(r: Read, a: str, b: str | None, picked: Picks, n: int) -> Read:
    """``r`` with ``picked`` taken along its axes at ``a``, now at ``b`` (None: dropped); a size-1
    axis at a longer ``a`` stretches, so it is renamed and kept."""
    if a not in r.idx:
        return r
    idx, index, shape = list(r.idx), list(r.index), list(r.shape)
    for q, i in enumerate(r.idx):
        if i == a:
            idx[q] = b
            if shape[q] != n:  # stretched
                index[q] = (0, 1, None) if b is None else index[q]
            else:
                index[q] = picked if index[q] is None else _composed(index[q], picked)
                shape[q] = picked[2]
    return Read(r.node, tuple(idx), tuple(index), tuple(shape))


def _as_slice(picked: Picks) -> slice:
    """The basic index of what is picked, an int as the length-1 slice at it (``-1`` -> ``-1:``)."""
    at = positions(*picked)
    return at if isinstance(at, slice) else slice(at, at + 1 or None)


def _trimmed(index: tuple) -> tuple | None:
    """A basic index without its trailing whole slices; None where nothing is left."""
    kept = list(index)
    while kept and kept[-1] == slice(None):
        kept.pop()
    return tuple(kept) or None


def shown_index(index: tuple) -> str:
    """A basic index as Python writes it.

    >>> shown_index((slice(1, 3, 1), slice(None, None, -1), 0, None))
    '1:3, ::-1, 0, None'
    """
    return ", ".join(":".join("" if v is None else str(v) for v in (e.start, e.stop) + ((e.step,) if e.step not in (None, 1) else ()))
                     if isinstance(e, slice) else str(e) for e in index)


def planned(expr: Expr, term: Term, layout: Layout) -> Term:
    """``term`` as evaluated: a result axis of length 1 that a :class:`Stretch` spreads over a
    longer range is summed over (read at a summed index of its own), and deltas are eliminated.

    >>> from ..core.ir import Var
    >>> y = Var("y", (4,))
    >>> g = Expr(("i",), (1,), (Term(1, (Ref(y, ("i",)), Stretch("i", 4))),))
    >>> planned(g, g.terms[0], Layout({}, {g: (1,), y: (4,)}, int)).factors
    (Ref(node=Var(name='y', shape=(4,)), idx=('j',)), Stretch(a='j', dim=4))
    """
    single = {a for a, n in zip(expr.out, layout.shape_of[expr]) if n == 1}
    summed = sorted({f.a for f in term.factors if isinstance(f, Stretch) and f.a in single})
    if summed:
        term = term.rename(dict(zip(summed, fresh(len(summed), set(term.indices()) | set(expr.out)))))
    return eliminate_deltas(term, expr.out)  # a no-op on simplified terms; the rest need it


def spread(expr: Expr, term: Term, layout: Layout) -> list[Dim]:
    """The lengths of the summed indices of a :func:`planned` term that only a :class:`Stretch`
    spans (no read carries them at that length): each multiplies the term by its length."""
    sizes = index_sizes(expr, term, layout)
    carried = {a for f in term.factors if isinstance(f, Ref)
               for a, n in zip(f.idx, layout.shape_of[f.node]) if n == sizes[a]}
    found: dict[str, Dim] = {}
    for f in term.factors:
        if isinstance(f, Stretch) and f.a not in expr.out and f.a not in carried and layout.dim(f.dim) == sizes[f.a]:
            found.setdefault(f.a, f.dim)
    return list(found.values())


def index_sizes(expr: Expr, term: Term, layout: Layout) -> dict[str, int]:
    """The length of every index in a term, checked for agreement.

    As in NumPy, a tensor factor's size-1 axis stretches to the index's length elsewhere
    (:func:`plan_term` reads it apart); the result's axes and deltas never stretch, and the axes of
    one factor that share an index agree exactly.
    """
    sizes: dict[str, tuple[int, str]] = {a: (n, "the result") for a, n in zip(expr.out, layout.shape_of[expr])}
    fixed = set(sizes)  # indices whose length is not a read's, so cannot grow
    reads = []
    for f in term.factors:
        if isinstance(f, Delta):
            for a in (f.a, f.b):
                fixed.add(a)
                _agree(sizes, a, layout.dim(f.dim), describe_factor(f))
        elif isinstance(f, Ref):
            reads.append(f)
    for f in term.factors:
        if isinstance(f, Stretch):
            _agree(sizes, f.a, layout.dim(f.dim), f"the stretch over {show_dim(f.dim)}", read=True, fixed=f.a in fixed)
    for f in reads:
        own: dict[str, int] = {}
        for a, n in zip(f.idx, layout.shape_of[f.node]):
            if own.setdefault(a, n) != n:
                raise ShapeError(f"index {a!r} has sizes {own[a]} and {n} in {describe_factor(f)}; "
                                 "a repeated index needs one size")
        for a, n in own.items():
            _agree(sizes, a, n, describe_factor(f), read=True, fixed=a in fixed)
    return {a: n for a, (n, _) in sizes.items()}


def _agree(sizes: dict, a: str, n: int, where: str, read: bool = False, fixed: bool = True) -> None:
    """Record that index ``a`` has length ``n`` in ``where``. A read of length 1 stretches to any
    length (NumPy broadcasting); an index not ``fixed`` by the result or a delta grows from 1."""
    seen = sizes.setdefault(a, (n, where))
    if seen[0] == n or (read and n == 1):
        return
    if read and seen[0] == 1 and not fixed:
        sizes[a] = (n, where)
        return
    hint = "; a size-1 axis stretches where it is read, never in a result" if seen[0] == 1 and read else ""
    raise ShapeError(f"index {a!r} has size {n} in {where} but size {seen[0]} in {seen[1]}{hint}")


# contractions ---------------------------------------------------------------
class Step(NamedTuple):
    """One entry of opt_einsum's contraction list, read by name."""
    positions: tuple[int, ...]  # the operands it pops
    removed: frozenset[str]  # the indices it sums away
    equation: str
    remaining: tuple[str, ...] | None
    blas: str | bool  # the BLAS call opt_einsum would make, or False


class Matmul(NamedTuple):
    """A BLAS step: transpose both operands, reshape to (b, m, k) @ (b, k, n) — (m, k) @ (k, n)
    without batch indices — reshape, transpose."""
    left: tuple[int, ...]
    right: tuple[int, ...]
    b: int  # the batch: indices both operands and the result carry (1: none)
    m: int
    k: int
    n: int
    shape: tuple[int, ...]
    order: tuple[int, ...]


class Pairwise(NamedTuple):
    """A step as run: the operands it pops and either an ``np.einsum`` equation or a matmul, or,
    where an operand carries indices summed nowhere else, those axes summed first (``presum``:
    the axes of each operand, and the step on what is left)."""
    positions: tuple[int, ...]
    einsum: str | None
    matmul: Matmul | None
    equation: str  # the step's equation either way (ASCII letters)
    presum: tuple | None = None  # (axes of the left operand, of the right one, the Pairwise after)


class Contraction(NamedTuple):
    """One ``np.einsum`` call of ``equation`` (no ``steps``) or opt_einsum's path, step by step."""
    equation: str
    steps: tuple[Pairwise, ...]
    largest: int  # entries of the largest intermediate (0: one np.einsum call makes none)


@cache(maxsize=4096, key=lambda eq, shapes, optimize: (eq, shapes, repr(optimize)))
def contraction(eq: str, shapes: tuple, optimize) -> Contraction:
    """One ``np.einsum`` call for ``optimize=False`` and for small problems under ``"auto"``;
    else (and always from 32 operands on) opt_einsum's path, greedy for ``optimize=False``."""
    size = {c: n for term, shape in zip(eq.split("->")[0].split(","), shapes) for c, n in zip(term, shape)}
    direct = optimize is False or (optimize == "auto" and math.prod(size.values()) * max(len(shapes) - 1, 1) <= SMALL)
    if direct and len(shapes) < MAX_OPERANDS and len(size) <= 52:
        return Contraction(convert_to_valid_einsum_chars(eq), (), 0)
    path = "greedy" if optimize is False else optimize
    planner = for_one_contraction(path)
    try:
        _, info = opt_einsum.contract_path(eq, *shapes, shapes=True, optimize=planner)
    except (TypeError, ValueError, IndexError) as err:
        if isinstance(path, opt_einsum.paths.PathOptimizer):
            raise EinsumgradError(f"optimize={type(path).__name__}(...) failed to plan {eq}: {err}") from None
        if not isinstance(path, (list, tuple)):
            raise
        raise EinsumgradError(f"optimize={path!r} is not a contraction path for {eq}: a path is a list of "
                              f"tuples of operand positions that contracts all {len(shapes)} operands into "
                              "one, such as [(0, 1)] * " + str(len(shapes) - 1)) from None
    steps = tuple(pairwise(Step(*entry), size) for entry in info.contraction_list)
    return Contraction(eq, steps, int(info.largest_intermediate))


def pairwise(step: Step, size: Mapping[str, int]) -> Pairwise:
    """A step of opt_einsum's path as run: a step that sums an index both operands carry — a
    BLAS step, or a batched one such as ``lmi,lmj->lij``, which ``np.einsum`` would loop over —
    becomes a (batched) matmul with its permutations and shapes worked out once; any other step
    an ``np.einsum`` (ASCII letters only: opt_einsum numbers indices past 52)."""
    inputs, result = step.equation.split("->")
    operands = inputs.split(",")
    equation = convert_to_valid_einsum_chars(step.equation)
    einsum = Pairwise(step.positions, equation, None, equation)
    if len(operands) != 2 or (isinstance(step.blas, str) and "EINSUM" in step.blas):
        return einsum
    left, right = operands
    alone = [[c for c in ops if c not in other and c not in result and size[c] > 1]
             for ops, other in ((left, right), (right, left))]
    if any(alone) and len(set(left)) == len(left) and len(set(right)) == len(right):
        # ca,ab->c: W summed over b first (a vector), then a matrix-vector product, not one loop over a·b·c
        kept = ["".join(c for c in ops if c not in gone) for ops, gone in zip(operands, alone)]
        after = pairwise(Step((0, 1), frozenset(), f"{kept[0]},{kept[1]}->{result}", None, "PRESUMMED"), size)
        axes = tuple(tuple(ops.index(c) for c in gone) for ops, gone in zip(operands, alone))
        return Pairwise(step.positions, equation, None, equation, (*axes, after))
    summed = [c for c in left if c in right and c not in result]
    batch = [c for c in left if c in right and c in result]
    keep_left = [c for c in left if c not in right]
    keep_right = [c for c in right if c not in left]
    regular = len(set(left)) == len(left) and len(set(right)) == len(right) and set(keep_left + keep_right) <= set(result)
    if not summed or not regular:
        return einsum
    natural = batch + keep_left + keep_right
    b, m, k, n = (math.prod(size[c] for c in part) for part in (batch, keep_left, summed, keep_right))
    return Pairwise(step.positions, None, Matmul(
        tuple(left.index(c) for c in batch + keep_left + summed), tuple(right.index(c) for c in batch + summed + keep_right),
        b, m, k, n, tuple(size[c] for c in natural), tuple(natural.index(c) for c in result)), equation)


def step_keys(plan: TermPlan, optimize) -> list:
    """Per step of a term's planned contraction but the last, what it computes, as a key equal for
    equal intermediates of any term (for a program to compute each once): the values it reads (slot,
    gather, shape, the coefficient scaled into one), their indices named by first appearance in a
    canonical order, and its result's; None for the last step and where indices exceed 52 letters.

    >>> from ..core.ir import Var
    >>> W, x = Var("W", (30, 30)), Var("x", (30,))
    >>> y = Expr(("i",), (30,), (Term(1, (Ref(W, ("i", "j")), Ref(W, ("j", "k")), Ref(x, ("k",)))),))
    >>> layout = Layout({W: 0, x: 1, y: 2}, {W: (30, 30), x: (30,), y: (30,)}, int)
    >>> step_keys(plan_term(y, y.terms[0], layout, "greedy"), "greedy")
    [(((0, 'None', (30, 30), 1, (0, 1)), (0, 'None', (30, 30), 1, (2, 0))), (1, 2)), None]
    """
    if plan.kind != "contract" or len(set(plan.equation) - set(",->")) > 52:
        return []
    c = contraction(plan.equation, plan.shapes, optimize)
    if not c.steps:
        return []
    smallest = min(range(len(plan.shapes)), key=lambda k: math.prod(plan.shapes[k])) if plan.coef != 1 else None
    terms = plan.equation.split("->")[0].split(",")
    pool: list[tuple[tuple, str]] = [(((s, repr(g), shape, plan.coef if k == smallest else 1, t),), t)
            for k, (s, g, shape, t) in enumerate(zip(plan.slots, plan.gathers, plan.shapes, terms))]
    keys: list = []
    for step in c.steps:
        taken = [pool.pop(k) for k in step.positions]
        inputs, result = step.equation.split("->")  # in letters of its own: named back by position
        named: dict = {}
        for letters, (_, own) in zip(inputs.split(","), taken):
            if len(letters) != len(own) or any(named.setdefault(a, b) != b for a, b in zip(letters, own)):
                return []
        leaves = tuple(leaf for item, _ in taken for leaf in item)
        result = "".join(named[a] for a in result)
        keys.append(_canonical(leaves, result))
        pool.append((leaves, result))
    keys[-1] = None
    return keys


def _canonical(leaves: tuple, result: str) -> tuple:
    """``leaves`` (values with their indices) and the result's indices, the indices renamed 0, 1, …
    by first appearance over the leaves sorted by what they read and the pattern of their indices."""
    ordered = sorted(leaves, key=lambda leaf: (repr(leaf[:4]), [leaf[4].index(c) for c in leaf[4]]))
    names: dict = {}
    for leaf in ordered:
        for c in leaf[4]:
            names.setdefault(c, len(names))
    return tuple((*leaf[:4], tuple(names[c] for c in leaf[4])) for leaf in ordered), tuple(names[c] for c in result)

