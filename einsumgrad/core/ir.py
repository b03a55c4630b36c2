"""The intermediate representation: frozen, hashable nodes with *named* indices.

An :class:`Expr` is a sum of :class:`Term` s over named output indices; each term
is ``coef * Π factors``, summed over every index that is not an output index.
A factor is a :class:`Ref` (a tensor-valued node read at some indices), a
Kronecker :class:`Delta`, or a :class:`Size` (the length of an axis, left behind
when a summed ``δ[a,a]`` is eliminated). Nodes are leaves (:class:`Var`),
function applications (:class:`Call`) and parenthesised sums (an ``Expr`` used
as a factor).

Axis lengths are symbolic: a :data:`Dim` is an ``int``, ``(tensor name, axis)``, an
:class:`Extent` made of those (``|A₀|·|B₀|`` for ``kron``, ``|x₀| + |y₀|`` for ``concatenate``), or
the :class:`Broadcast` of several (an axis of ``A + B``), resolved against the arrays at evaluation time.

>>> W = Var("W", (("W", 0), ("W", 1)))
>>> Ref(W, ("i", "j"))
Ref(node=Var(name='W', shape=(('W', 0), ('W', 1))), idx=('i', 'j'))
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction
from functools import lru_cache
from operator import attrgetter
from typing import Callable, Mapping, Union


Atom = tuple[str, int]  # the length of axis k of tensor name: (name, k)


@dataclass(frozen=True, slots=True)
class Extent:
    """An axis length made of others: ``Σ c·Π atoms``, a polynomial in the atoms (and broadcasts) with rational
    coefficients (an axis split by reshape is ``|x₀|/2``), in one canonical order, so that equal
    lengths are equal. Made by :func:`dim_sum`, :func:`dim_product` and :func:`dim_quotient`, which
    give an ``int`` or an atom where the length is one.

    >>> dim_product(("A", 0), ("B", 0)) == dim_product(("B", 0), ("A", 0))
    True
    >>> dim_sum(("a", 0), 1, ("a", 0))
    Extent(2·a.shape[0] + 1)
    """

    terms: tuple[tuple[tuple[Symbol, ...], Fraction], ...]  # (sorted symbols, coefficient), sorted by symbols

    def __repr__(self):
        return f"Extent({dim_text(self, lambda a: f'{a[0]}.shape[{a[1]}]')})"


@dataclass(frozen=True, slots=True)
class Broadcast:
    """The length NumPy broadcasts axes of lengths ``dims`` to (an axis of ``A + B`` for tensors
    declared by rank): each of them is 1 or that length, and all 1 give 1. Made by
    :func:`dim_broadcast`, in one canonical form (flat, each length once, sorted), so that equal
    broadcasts are equal; within an :class:`Extent` it is a symbol as an atom is.

    >>> dim_broadcast(("B", 0), 1, ("A", 0)) == dim_broadcast(("A", 0), ("B", 0), ("A", 0))
    True
    >>> dim_broadcast(("A", 0), ("B", 0))
    Broadcast(max(A.shape[0], B.shape[0]))
    """

    dims: tuple[Dim, ...]  # two or more, none an int or a Broadcast

    def __repr__(self):
        return f"Broadcast({dim_text(self, lambda a: f'{a[0]}.shape[{a[1]}]')})"


Dim = Union[int, Atom, Extent, Broadcast]
Symbol = Union[Atom, Broadcast]  # what a monomial of an Extent multiplies


def dim_broadcast(*dims: Dim) -> Dim:
    """The length axes of lengths ``dims`` broadcast to: the known length other than 1 where there
    is one (the caller has checked that known lengths agree), else the one other length, else the
    :class:`Broadcast` of the others (1 stretches to any).

    >>> dim_broadcast(("A", 0), 1), dim_broadcast(("A", 0), 3), dim_broadcast(1, 1)
    (('A', 0), 3, 1)
    """
    flat = dict.fromkeys(x for d in dims for x in (d.dims if isinstance(d, Broadcast) else (d,)) if x != 1)
    known = [d for d in flat if isinstance(d, int)]
    if known or len(flat) < 2:
        return known[0] if known else next(iter(flat), 1)
    return Broadcast(tuple(sorted(flat, key=repr)))


def _order(symbol: Symbol):
    """A sort key of a monomial's symbols: atoms in their own order, then broadcasts."""
    return (1, repr(symbol)) if isinstance(symbol, Broadcast) else (0, symbol)


def _polynomial(d: Dim) -> dict[tuple[Symbol, ...], Fraction]:
    if isinstance(d, Extent):
        return dict(d.terms)
    if isinstance(d, int):
        return {(): Fraction(d)} if d else {}
    return {(d,): Fraction(1)}


def _as_dim(poly: dict[tuple[Symbol, ...], Fraction]) -> Dim:
    poly = {m: c for m, c in poly.items() if c}
    if not poly:
        return 0
    if set(poly) == {()} and poly[()].denominator == 1:
        return int(poly[()])
    if len(poly) == 1:
        [(monomial, coef)] = poly.items()
        if len(monomial) == 1 and coef == 1:
            return monomial[0]
    return Extent(tuple(sorted(poly.items(), key=lambda mc: (tuple(map(_order, mc[0])), mc[1]))))


def dim_sum(*dims: Dim) -> Dim:
    """The length of axes of lengths ``dims`` laid end to end."""
    total: dict[tuple[Symbol, ...], Fraction] = {}
    for d in dims:
        for m, c in _polynomial(d).items():
            total[m] = total.get(m, 0) + c
    return _as_dim(total)


def dim_product(*dims: Dim) -> Dim:
    """The number of entries of axes of lengths ``dims``."""
    total: dict[tuple[Symbol, ...], Fraction] = {(): Fraction(1)}
    for d in dims:
        product: dict[tuple[Symbol, ...], Fraction] = {}
        for m, c in total.items():
            for n, e in _polynomial(d).items():
                key = tuple(sorted(m + n, key=_order))
                product[key] = product.get(key, 0) + c * e
        total = product
    return _as_dim(total)


def dim_quotient(d: Dim, by: Dim) -> Dim | None:
    """``d / by`` where ``by`` is ``d`` or one product of atoms and a non-zero number (``|x₀|·|x₁| / |x₀|
    = |x₁|``, ``|x₀| / 2``); None where it is not (a quotient by a sum is no polynomial)."""
    if d == by:
        return 1
    divisor = _polynomial(by)
    if len(divisor) != 1:
        return None
    [(atoms, coef)] = divisor.items()
    quotient = {}
    for m, c in _polynomial(d).items():
        rest = list(m)
        for a in atoms:
            if a not in rest:
                return None
            rest.remove(a)
        quotient[tuple(rest)] = c / coef
    return _as_dim(quotient)


def dim_atoms(d: Dim) -> tuple[Atom, ...]:
    """The tensors' axes a length is made of."""
    if isinstance(d, int):
        return ()
    if isinstance(d, Broadcast):
        return tuple(dict.fromkeys(a for x in d.dims for a in dim_atoms(x)))
    if isinstance(d, Extent):
        return tuple(dict.fromkeys(a for m, _ in d.terms for s in m for a in dim_atoms(s)))
    return (d,)


def dim_value(d: Dim, size: Callable[[Symbol], int]) -> Fraction:
    """The length ``d`` has where each atom or :class:`Broadcast` in it has length ``size(symbol)``
    (a fraction where a split does not divide evenly, which the caller refuses)."""
    total = Fraction(0)
    for m, c in _polynomial(d).items():
        for s in m:
            c *= size(s)
        total += c
    return total


def dim_text(d: Dim, atom: Callable[[Atom], str]) -> str:
    """A length as text, each atom written by ``atom``: ``2·A.shape[0] + A.shape[0]·B.shape[0]/2``,
    a broadcast as ``max(A.shape[0], B.shape[0])``."""
    if isinstance(d, int):
        return str(d)

    def symbol(s: Symbol) -> str:
        return f"max({', '.join(dim_text(x, atom) for x in s.dims)})" if isinstance(s, Broadcast) else atom(s)

    parts = []
    for m, c in sorted(_polynomial(d).items(), key=lambda mc: not mc[0]):  # the number last
        factors = ([str(abs(c.numerator))] if abs(c.numerator) != 1 or not m else []) + [symbol(s) for s in m]
        text = "·".join(factors) + (f"/{c.denominator}" if c.denominator != 1 else "")
        parts.append(("- " if c < 0 else "+ ") + text)
    text = " ".join(parts)
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


DEEP = 16  # nested nodes: past this, inlining a node into its readers grows with the square of depth
# (so a deeper tangent stays a node, and a deeper result prints as equations)
WIDE = 8  # factors of one elementwise product: past this, a cotangent stays a node (a chain of
# elementwise functions would otherwise multiply its links into one ever longer product)
MANY = 8  # terms of a tangent: past this, it stays a node (inlined, a sum is distributed over the
# terms of every reader: down a chain of nodes that each read their child twice, exponentially)

# readable index names, in the order fresh ones are handed out
INDEX_LETTERS = "ijklmnopqrstuvwxyzabcdefghIJKLMNOPQRSTUVWXYZABCDEFGH"


class _Interned(type):
    """Hash-consing: making a node equal to one that exists gives back the existing one, so that
    equal nodes are one object and comparing them (and their parents) stops at once."""

    table: dict = {}

    def __call__(cls, *args, **kwargs):
        node = super().__call__(*args, **kwargs)
        if len(_Interned.table) > 1 << 18:  # bounded: forgetting only costs sharing
            _Interned.table.clear()
        return _Interned.table.setdefault(node, node)


class _Hashed(metaclass=_Interned):
    """Frozen dataclass mixin that computes its (deep) hash once; its instances are interned."""

    __slots__ = ()
    _h: int  # the hash, set once

    def __post_init__(self):
        key = tuple(getattr(self, f) for f in _compared(type(self)))
        object.__setattr__(self, "_h", hash((type(self).__name__, key)))

    def __hash__(self):
        return self._h

    def __eq__(self, other):
        return _same(self, other)


def _same(a, b) -> bool:
    """Structural equality without recursion (nodes nest deeper than Python's stack allows
    for a recursive ``==``); hashes, computed once per node, settle most pairs at once."""
    stack = [(a, b)]
    while stack:
        a, b = stack.pop()
        if a is b:
            continue
        if type(a) is not type(b):
            return False
        if isinstance(a, _Hashed):
            if a._h != b._h:
                return False
            stack.extend((getattr(a, f), getattr(b, f)) for f in _compared(type(a)))
        elif isinstance(a, Ref):
            if a.idx != b.idx:
                return False
            stack.append((a.node, b.node))
        elif isinstance(a, tuple):
            if len(a) != len(b):
                return False
            stack.extend(zip(a, b))
        elif a != b:
            return False
    return True


@lru_cache(maxsize=None)
def _compared(cls) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.compare)


@dataclass(frozen=True, slots=True)
class Var:
    """A named input tensor; ``shape`` holds one :data:`Dim` per axis. A ``symmetric`` one is a
    square matrix equal to its transpose: derivatives by it are taken along symmetric directions
    (compared, but left out of the repr, which stays as it was for the common case)."""

    name: str
    shape: tuple[Dim, ...]
    symmetric: bool = field(default=False, repr=False)


@dataclass(frozen=True, slots=True, eq=True)
class Call(_Hashed):
    """A registered function applied to an expression, e.g. ``tanh(E)`` or ``inv(E)``.

    ``params`` holds constant parameters (the exponent of ``pow``).
    """

    fn: str
    arg: Expr
    params: tuple = ()
    shape: tuple[Dim, ...] = ()
    _h: int = field(default=0, init=False, repr=False, compare=False)
    depth: int = field(default=0, init=False, repr=False, compare=False)  # nodes on the longest path down
    leaves: frozenset = field(default=frozenset(), init=False, repr=False, compare=False)  # the Vars below

    __hash__, __eq__ = _Hashed.__hash__, _Hashed.__eq__

    def __post_init__(self):
        _Hashed.__post_init__(self)
        object.__setattr__(self, "depth", 1 + self.arg.depth)
        object.__setattr__(self, "leaves", self.arg.leaves)


@dataclass(frozen=True, slots=True)
class Ref:
    """A node read at named indices: ``W[i,j]``; repeated names read a diagonal."""

    node: Node
    idx: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Delta:
    """The Kronecker delta ``δ[a,b]`` between two axes of length ``dim``."""

    a: str
    b: str
    dim: Dim


@dataclass(frozen=True, slots=True)
class Size:
    """The length of an axis as a scalar factor (a summed ``δ[a,a]``)."""

    dim: Dim


@dataclass(frozen=True, slots=True)
class Stretch:
    """Index ``a`` ranges over ``dim`` in this term, whatever the result's axis ``a`` holds: a
    derivative by an axis that NumPy may stretch (a size-1 axis read at a longer index). Where
    that axis is 1 at evaluation, the term is summed over ``a`` onto its one entry (the adjoint of
    stretching); elsewhere it changes nothing. Printing leaves it out."""

    a: str
    dim: Dim


Factor = Union[Ref, Delta, Size, Stretch]


@dataclass(frozen=True, slots=True, eq=True)
class Term(_Hashed):
    """``coef * Π factors``; the enclosing :class:`Expr` says which indices are summed."""

    coef: complex
    factors: tuple[Factor, ...]
    _h: int = field(default=0, init=False, repr=False, compare=False)
    depth: int = field(default=0, init=False, repr=False, compare=False)  # the deepest node it reads, 0 for tensors
    leaves: frozenset = field(default=frozenset(), init=False, repr=False, compare=False)  # the Vars below
    names: frozenset = field(default=frozenset(), init=False, repr=False, compare=False)  # its index names

    __hash__, __eq__ = _Hashed.__hash__, _Hashed.__eq__

    def __post_init__(self):
        """Gathered once per term, so that a sum of many gathers them from its terms without a loop
        in Python (a sum extended term by term is made once per term added)."""
        _Hashed.__post_init__(self)
        depth, leaves, names = 0, [], []
        for f in self.factors:
            if isinstance(f, Ref):
                names.extend(f.idx)
                if isinstance(f.node, Var):
                    leaves.append((f.node,))
                else:
                    depth = max(depth, f.node.depth)
                    leaves.append(f.node.leaves)
            elif isinstance(f, Delta):
                names += f.a, f.b
            elif isinstance(f, Stretch):
                names.append(f.a)
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "leaves", frozenset().union(*leaves))
        object.__setattr__(self, "names", frozenset(names))

    def indices(self) -> tuple[str, ...]:
        """Every index name in the term, in order of first appearance."""
        seen: dict[str, None] = {}
        for f in self.factors:
            for a in factor_indices(f):
                seen.setdefault(a)
        return tuple(seen)

    def rename(self, mapping: Mapping[str, str]) -> Term:
        return Term(self.coef, tuple(rename_factor(f, mapping) for f in self.factors))


@dataclass(frozen=True, slots=True, eq=True)
class Expr(_Hashed):
    """A sum of terms with output indices ``out`` of lengths ``dims``: the IR node.

    Users hold an :class:`einsumgrad.expression.Expression`, which wraps one of these with
    its operators, printing and display name.
    """

    out: tuple[str, ...]
    dims: tuple[Dim, ...]
    terms: tuple[Term, ...]
    _h: int = field(default=0, init=False, repr=False, compare=False)
    depth: int = field(default=0, init=False, repr=False, compare=False)  # nodes on the longest path down
    leaves: frozenset = field(default=frozenset(), init=False, repr=False, compare=False)  # the Vars below

    __hash__, __eq__ = _Hashed.__hash__, _Hashed.__eq__

    def __post_init__(self):
        _Hashed.__post_init__(self)
        object.__setattr__(self, "depth", 1 + max(map(_DEPTH, self.terms), default=0))
        object.__setattr__(self, "leaves", frozenset().union(*map(_LEAVES, self.terms)))

    @property
    def ndim(self) -> int:
        return len(self.out)

    def index_set(self) -> frozenset[str]:
        """Every index name used by the expression's own terms (unordered; see :meth:`Term.indices`)."""
        return frozenset(self.out).union(*map(_NAMES, self.terms))


_DEPTH, _LEAVES, _NAMES = attrgetter("depth"), attrgetter("leaves"), attrgetter("names")


Node = Union[Var, Call, Expr]


def factor_indices(f: Factor) -> tuple[str, ...]:
    if isinstance(f, Ref):
        return f.idx
    if isinstance(f, Delta):
        return (f.a, f.b)
    if isinstance(f, Stretch):
        return (f.a,)
    return ()


def rename_factor(f: Factor, mapping: Mapping[str, str]) -> Factor:
    if isinstance(f, Ref):
        return Ref(f.node, tuple(mapping.get(a, a) for a in f.idx))
    if isinstance(f, Delta):
        return Delta(mapping.get(f.a, f.a), mapping.get(f.b, f.b), f.dim)
    if isinstance(f, Stretch):
        return Stretch(mapping.get(f.a, f.a), f.dim)
    return f


def node_shape(node: Node) -> tuple[Dim, ...]:
    return node.dims if isinstance(node, Expr) else node.shape


def fresh(n: int, avoid) -> tuple[str, ...]:
    """``n`` readable index names, none of them in ``avoid``.

    >>> fresh(3, {"i", "k"})
    ('j', 'l', 'm')
    """
    out: list[str] = []
    for name in _names():
        if len(out) == n:
            break
        if name not in avoid:
            out.append(name)
    return tuple(out)


def _names():
    yield from INDEX_LETTERS
    k = 1
    while True:
        for c in INDEX_LETTERS[:26]:
            yield f"{c}{k}"
        k += 1


def instantiate(expr: Expr, target: tuple[str, ...], avoid) -> tuple[Term, ...]:
    """``expr``'s terms with its outputs renamed to ``target`` and its summed indices to
    names outside ``avoid`` and ``target`` (so they can be multiplied into another term)."""
    mapping = dict(zip(expr.out, target))
    inner = expr.index_set() - set(expr.out)
    taken = set(avoid) | set(target)
    clash = sorted(a for a in inner if a in taken)
    mapping.update(zip(clash, fresh(len(clash), taken | inner)))
    if all(a == b for a, b in mapping.items()):
        return expr.terms  # nothing renamed: the terms themselves, not copies to be made again
    return tuple(t.rename(mapping) for t in expr.terms)


def postorder(*roots, known=None) -> list:
    """Every node reachable from ``roots``, each once, children before parents (no recursion);
    with ``known``, a predicate, the nodes it holds true for are left out, and so is what is
    reachable only through them."""
    order: list = []
    seen: set = set()
    stack = [(r, False) for r in reversed(roots)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen or (known is not None and known(node)):
            continue
        seen.add(node)
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(children(node)) if c not in seen)
    return order


def is_sum(expr: Expr) -> bool:
    """Whether ``expr`` adds terms or sums over an index: more than an elementwise product of reads."""
    return len(expr.terms) > 1 or any(set(t.indices()) - set(expr.out) for t in expr.terms)


def is_short_product(expr: Expr) -> bool:
    """Whether ``expr`` is at most an elementwise product of :data:`WIDE` reads: cheap to inline into
    its readers. Anything more, read in many places or down a chain, is better kept as a node."""
    return not is_sum(expr) and all(len(t.factors) <= WIDE for t in expr.terms)


def index_dims(term: Term) -> dict[str, Dim]:
    """The length of every index the term's factors carry."""
    dims: dict[str, Dim] = {}
    for f in term.factors:
        if isinstance(f, Ref):
            dims.update(zip(f.idx, node_shape(f.node)))
        elif isinstance(f, Delta):
            dims[f.a] = dims[f.b] = f.dim
    for f in term.factors:
        if isinstance(f, Stretch):
            dims.setdefault(f.a, f.dim)
    return dims


def stretches(lengths, ties) -> tuple[Stretch, ...]:
    """The :class:`Stretch` factors of a derivative that ties each index ``a`` of a term to its own
    index ``p`` of an axis of length ``d`` (``ties``: ``(a, p, d)``), where ``lengths`` (``(index,
    Dim)`` pairs) give ``a`` another length that an axis of length 1 would stretch to.

    >>> stretches([("i", ("A", 1)), ("i", ("b", 0))], [("i", "p", ("b", 0))])
    (Stretch(a='p', dim=('A', 1)),)
    """
    lengths = list(lengths)
    found: dict[Stretch, None] = {}
    for a, p, d in ties:
        if isinstance(d, int) and d != 1:
            continue  # never stretched
        for b, n in lengths:
            if b == a and n != d and n != 1:
                found.setdefault(Stretch(p, n))
    return tuple(found)


def term_lengths(term: Term):
    """``(index, Dim)`` for every axis a factor of ``term`` reads."""
    for f in term.factors:
        if isinstance(f, Ref):
            yield from zip(f.idx, node_shape(f.node))
        elif isinstance(f, Delta):
            yield from ((f.a, f.dim), (f.b, f.dim))
        elif isinstance(f, Stretch):
            yield f.a, f.dim


def keep_ranges(new: Term, old: Term, out) -> Term:
    """``new`` (``old`` with a factor replaced, say by a node's terms) with a :class:`Size` for each
    summed index of ``old`` that no factor of ``new`` carries any more, and a :class:`Stretch` for
    one that ``new`` carries only at lengths that may be 1 where ``old`` had a longer one (no delta
    fixing it): a derivative that is constant along a broadcast axis must still be summed over
    that axis's whole length.

    >>> x, y = Var("x", (3,)), Var("y", ("y", 0))
    >>> keep_ranges(Term(2, ()), Term(1, (Ref(x, ("i",)),)), ()).factors
    (Size(dim=3),)
    >>> keep_ranges(Term(1, (Ref(y, ("i",)),)), Term(1, (Ref(x, ("i",)),)), ()).factors[1:]
    (Stretch(a='i', dim=3),)
    """
    carried = set(new.indices()) | set(out)
    lost = [(a, d) for a, d in index_dims(old).items() if a not in carried]
    fixed = {a for f in new.factors if isinstance(f, Delta) for a in (f.a, f.b)} | set(out)
    now: dict[str, set] = {}
    for a, n in term_lengths(new):
        now.setdefault(a, set()).add(n)
    shorter = [(a, a, 1) for a, ns in now.items()
               if a not in fixed and not all(isinstance(n, int) and n != 1 for n in ns)]
    ranged = stretches(((a, n) for a, n in term_lengths(old) if a in now and n not in now[a]), shorter)
    extra = tuple(Size(d) for _, d in lost) + ranged
    return Term(new.coef, new.factors + extra) if extra else new


def children(node: Node) -> tuple[Node, ...]:
    """The nodes a node reads directly."""
    if isinstance(node, Call):
        return (node.arg,)
    if isinstance(node, Expr):
        return tuple(f.node for t in node.terms for f in t.factors if isinstance(f, Ref))
    return ()


def variables(node: Node) -> frozenset[Var]:
    """The input tensors a node depends on (gathered once, when the node is made)."""
    return frozenset((node,)) if isinstance(node, Var) else node.leaves


def depends(node: Node, var: Var) -> bool:
    return var in variables(node)


@dataclass(frozen=True)
class Inputs:
    """What evaluating nodes needs of each tensor: ``reads``, the tensors whose entries it reads,
    and ``sizes``, the others, whose arrays only give axis lengths (each name with those axes):
    for these an array of the right shape is all it takes, its entries unread. Any other array is
    ignored.

    >>> x = Var("x", (("x", 0),))
    >>> inputs(Expr(("i",), (("S", 1),), (Term(2, (Ref(x, ("i",)),)),)))
    Inputs(reads=('x',), sizes={'S': (1,)})
    """

    reads: tuple[str, ...]
    sizes: dict[str, tuple[int, ...]]


def inputs(*nodes: Node) -> Inputs:
    """The :class:`Inputs` of ``nodes`` together."""
    reads = {v.name for n in nodes for v in variables(n)}
    axes: dict[str, set[int]] = {}
    for name, axis in {atom for d in all_dims(nodes) for atom in dim_atoms(d)}:
        if name not in reads:
            axes.setdefault(name, set()).add(axis)
    return Inputs(tuple(sorted(reads)), {n: tuple(sorted(a)) for n, a in sorted(axes.items())})


def all_dims(nodes):
    """Every axis length the nodes refer to: their shapes, their deltas', sizes' and stretches'."""
    for node in postorder(*nodes):
        if not isinstance(node, Expr):
            yield from node.shape
            continue
        yield from node.dims
        for t in node.terms:
            yield from (f.dim for f in t.factors if isinstance(f, (Delta, Size, Stretch)))
