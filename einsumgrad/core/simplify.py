"""Simplification: pure passes ``Expr -> Expr`` (docs/design.md §2, rules 4-6).

- :func:`eliminate_deltas` (rule 4) — a delta on a summed index renames it away; a summed
  ``δ[a,a]`` becomes the axis length; deltas between output indices stay, as a
  spanning forest (``δ[i,j] δ[j,k]``, never also ``δ[i,k]``).
- :func:`canonical` (rule 6) — factors in a fixed order, summed indices renamed in order
  of appearance, so that terms equal up to renaming compare equal; a read of a node
  that is symmetric in some axes (:func:`symmetry`: ``S``, ``Aᵀ A``, ``sign(ΦᵀΦ - I)``)
  has its indices on those axes sorted.
- :func:`factor_common` (rule 6b) — terms that differ only in elementwise weights
  (``X[k,i] X[k,j] a[k] + X[k,i] X[k,j] b[k]``) become one term with the weights
  summed first (``X[k,i] X[k,j] (a + b)[k]``): one contraction instead of two.
- :func:`simplify` — all of these, unit sums dropped (rule 6c), equal terms merged, zero terms dropped;
  :func:`extend` adds terms to a simplified sum in time for the new terms alone (``f = f + x[i] x[i+1]``
  in a loop).

>>> from .ir import Var, Ref, Delta, Term, Expr
>>> x = Var("x", (("x", 0),))
>>> t = Term(1, (Delta("i", "p", ("x", 0)), Ref(x, ("j",)), Delta("j", "q", ("x", 0))))
>>> simplify(Expr(("i", "p", "q"), (("x", 0),) * 3, (t,))).terms[0].factors
(Delta(a='i', b='p', dim=('x', 0)), Ref(node=Var(name='x', shape=(('x', 0),)), idx=('q',)))
"""
from __future__ import annotations

import cmath
import hashlib
import itertools
import math

from . import functions
from .caches import LRU, cache
from .errors import EinsumgradError
from .functions import get
from .ir import (
    Call, Delta, Expr, Ref, Size, Stretch, Term, Var, dim_broadcast, factor_indices, fresh, postorder,
    rename_factor, term_lengths,
)


def simplify(expr: Expr) -> Expr:
    terms = merge(normal(t, expr.out) for t in expr.terms)
    return Expr(expr.out, expr.dims, factor_common(terms, expr.out))


def extend(s: Expr, terms: tuple[Term, ...], before: bool = False) -> Expr:
    """``simplify`` of ``s`` with ``terms`` added after its own (``before`` them), in time for ``terms``
    alone (and a copy of two sets of ``s``'s size, in C) where ``s`` is simplified and the new terms,
    simplified, neither meet one of its terms (equal factors: coefficients to add) nor fall in one's
    :func:`factor_common` group; otherwise :func:`simplify` itself.

    >>> from .ir import Var, Ref
    >>> x = Var("x", (2,))
    >>> xi, xj = (Term(1, (Ref(x, (a,)),)) for a in "ij")
    >>> s = simplify(Expr((), (), (xi,)))
    >>> [t.coef for t in extend(s, (Term(3, (Ref(x, ("j",)), Ref(x, ("j",)))),)).terms]  # x[j] x[j] apart
    [1, 3]
    >>> [t.coef for t in extend(s, (xj,)).terms]  # Σ_j x[j] is Σ_i x[i]: coefficients added
    [2]
    """
    new = merge(normal(t, s.out) for t in terms)
    known = _FOLDS.get(s) or _fold(s)
    if known:
        factors, groups = set(known[0]), set(known[1])
        for t in new:
            group = _group(t, s.out)[0]
            if t.factors in factors or group in groups or normal(t, s.out) != t:
                break
            factors.add(t.factors)
            groups.add(group)
        else:
            result = Expr(s.out, s.dims, new + s.terms if before else s.terms + new)
            _FOLDS.insert(result, (factors, groups))
            return result
    return simplify(Expr(s.out, s.dims, terms + s.terms if before else s.terms + terms))


_FOLDS = LRU(32)  # a simplified sum -> the factors of its terms, and their factor_common groups (the
# latest sum of each loop is the one extended next)


def _fold(s: Expr) -> tuple[set, set] | None:
    """The factors of ``s``'s terms and their groups, where ``s`` is simplified (each term in normal
    form, none equal to another in factors or group, every coefficient tidy and not 0); else None."""
    factors, groups = set(), set()
    for t in s.terms:
        group = _group(t, s.out)[0]
        if t.coef == 0 or _tidy(t.coef) is not t.coef or t.factors in factors or group in groups:
            return None
        if normal(t, s.out) != t:
            return None
        factors.add(t.factors)
        groups.add(group)
    return _FOLDS.insert(s, (factors, groups))


@cache(maxsize=65536)
def normal(term: Term, out: tuple[str, ...]) -> Term:
    """``term`` with its deltas eliminated, its unit sums dropped, in canonical form; remembered, so
    that a sum extended term by term (``f = f + x[i] x[i+1]`` in a loop) brings each term to its normal
    form once, not once per term added after it."""
    return canonical(drop_unit_sums(eliminate_deltas(term, out), out), out)


def merge(terms) -> tuple[Term, ...]:
    """Add the coefficients of equal terms; drop zeros. Terms that differ only in stretches of
    indices that their reads carry are equal (the reads give the range; a stretch only allows the sum
    onto a result axis of length 1): they merge with every stretch either has."""
    merged: dict[tuple, list[Term]] = {}
    stretched: dict[tuple, dict] = {}
    for t in terms:
        key = t.factors
        if any(isinstance(f, Stretch) for f in key):
            core = tuple(f for f in key if not isinstance(f, Stretch))
            read = {a for f in core if isinstance(f, Ref) for a in f.idx}
            if all(f.a in read for f in key if isinstance(f, Stretch)):
                key = core
                stretched.setdefault(key, {}).update(dict.fromkeys(f for f in t.factors if f not in core))
        merged.setdefault(key, []).append(t)
    added = (_added(same) for same in merged.values())
    return tuple(Term(t.coef, key + tuple(sorted(stretched[key], key=repr))) if key in stretched else t
                 for key, t in zip(merged, added) if t.coef != 0)


def _added(same: list[Term]) -> Term:
    """One term for equal terms, their coefficients added: the term itself where it is alone (its
    coefficient tidy), so that terms carried over from sum to sum are not made again."""
    c = _tidy(sum((t.coef for t in same[1:]), same[0].coef))
    return same[0] if c is same[0].coef else Term(c, same[0].factors)


def _is_weight(f) -> bool:
    return isinstance(f, Ref) and not isinstance(f.node, Var)


def factor_common(terms: tuple[Term, ...], out: tuple[str, ...]) -> tuple[Term, ...]:
    """Sum the elementwise weights of terms whose tensor-and-delta part is the same and whose
    weights all read one index tuple: ``X[k,i] X[k,j] (a + b)[k]``. Weights over different
    indices stay apart, so no merged weight is a tensor over more indices than any one weight.
    The merged weight has the lengths its weights read (broadcast), never the core's: the core may
    read an index at a size-1 axis that stretches (``D[i,j]`` of a 1×1 ``D`` beside a 1×3 weight)."""
    if len(terms) < 2:
        return terms
    groups: dict[tuple, list[tuple[Term, tuple]]] = {}
    for t in terms:
        group, weights = _group(t, out)
        groups.setdefault(group, []).append((t, weights))
    result = []
    for (core, idx), members in groups.items():
        if len(members) == 1:
            result.append(members[0][0])
            continue
        weights = tuple(Term(t.coef, w) for t, w in members)
        lengths: dict[str, list] = {}
        for w in weights:  # the weights' own lengths: the core may read an index at a length that stretches
            for a, d in term_lengths(w):
                lengths.setdefault(a, []).append(d)
        weight = simplify(Expr(idx, tuple(dim_broadcast(*lengths[a]) for a in idx), weights))
        if weight.terms:
            result.append(canonical(Term(1, core + (Ref(weight, idx),)), out))
    return merge(result)


@cache(maxsize=65536)
def _group(t: Term, out: tuple[str, ...]) -> tuple[tuple, tuple]:
    """The group of :func:`factor_common` a term falls in, ``(core, weights' indices)`` or
    ``("single", t)``, and its weights renamed as the core was (remembered, as :func:`normal` is)."""
    core, mapping = _canonical_factors(tuple(f for f in t.factors if not _is_weight(f)), out)
    weights = tuple(rename_factor(f, mapping) for f in t.factors if _is_weight(f))
    shared = {f.idx for f in weights if isinstance(f, Ref)}  # every weight is a read
    idx = next(iter(shared)) if len(shared) == 1 else ()
    readable = set(idx) <= set(mapping.values()) | set(out) and len(set(idx)) == len(idx)
    if not idx or not readable or not any(isinstance(f, Ref) for f in core):
        return ("single", t), ()
    return (core, idx), weights


def _tidy(c):
    """``2.0 -> 2``, ``(3+0j) -> 3``: coefficients print and hash the same however they arose.
    A sum that overflows is an error: its terms, evaluated apart, might not overflow."""
    if cmath.isinf(c):
        raise EinsumgradError(f"coefficients add up to {c}, beyond a float; rescale the expression")
    if isinstance(c, complex) and c.imag == 0:
        c = c.real
    if isinstance(c, float) and c.is_integer() and abs(c) < 2**53:  # beyond, ints would outgrow floats
        return int(c)
    return c


def eliminate_deltas(term: Term, out: tuple[str, ...]) -> Term:
    outs = set(out)
    factors = term.factors
    while (step := eliminate_one(factors, outs)) is not None:
        factors = step[0]
    coef = term.coef
    kept: list = []
    for f in factors:
        if isinstance(f, Size) and isinstance(f.dim, int):
            coef *= f.dim
        elif not isinstance(f, Delta):
            kept.append(f)
    return Term(coef, tuple(kept) + _forest([f for f in factors if isinstance(f, Delta)], out))


def eliminate_one(factors: tuple, outs) -> tuple[tuple, str] | None:
    """Remove one delta that touches a summed index (or a δ[a,a]); say what was done.

    The index a delta leaves behind keeps its range: summed, and read by no other factor, it
    becomes a :class:`Size` (``Σ_a δ[a,a] = n``, ``Σ_ij δ[i,j] = n``); otherwise ``δ[a,a] = 1``.
    """
    for k, f in enumerate(factors):
        if not isinstance(f, Delta) or (f.a != f.b and f.a in outs and f.b in outs):
            continue
        rest = factors[:k] + factors[k + 1 :]
        if f.a == f.b:
            kept, what = f.a, f"δ[{f.a},{f.a}] = 1"
        else:
            old, kept = (f.a, f.b) if f.a not in outs else (f.b, f.a)
            rest = tuple(rename_factor(g, {old: kept}) for g in rest)
            what = f"the sum over {old} eliminates δ[{f.a},{f.b}]: {old} becomes {kept}"
        if kept in outs or any(kept in factor_indices(g) for g in rest):
            return rest, what
        if f.a == f.b:
            return rest + (Size(f.dim),), f"the sum over {kept} of δ[{kept},{kept}] is the size of {kept}"
        return rest + (Size(f.dim),), what + f", read by nothing else: the sum over {kept} is its size"
    return None


def elimination_steps(expr: Expr):
    """Yield ``(what was done, expression)`` after each single delta elimination."""
    terms = list(expr.terms)
    outs = set(expr.out)
    for k, t in enumerate(terms):
        while (step := eliminate_one(t.factors, outs)) is not None:
            t = terms[k] = Term(t.coef, step[0])
            yield step[1], Expr(expr.out, expr.dims, tuple(terms))


def _forest(deltas: list[Delta], out: tuple[str, ...]) -> tuple[Delta, ...]:
    """The fewest deltas that tie together the same output indices, in a fixed form."""
    pos = {a: k for k, a in enumerate(out)}
    root: dict[str, str] = {}

    def find(a):
        while root.get(a, a) != a:
            a = root[a]
        return a

    dim = {}
    for d in deltas:
        ra, rb = sorted((find(d.a), find(d.b)), key=pos.__getitem__)
        root[rb] = ra
        dim[d.a] = dim[d.b] = d.dim
    members = sorted({a for d in deltas for a in (d.a, d.b)}, key=pos.__getitem__)
    return tuple(Delta(find(a), a, dim[a]) for a in members if find(a) != a)


def drop_unit_sums(term: Term, out: tuple[str, ...]) -> Term:
    """``Σ_j softmax(X)[i,j] = 1``: drop a read of a function that sums to one along its axes (see
    :class:`~einsumgrad.core.functions.Function`) where the term sums over those axes and nothing else reads them;
    an index of the read that no other factor carries leaves its length behind.

    >>> from .algebra import apply, tensor
    >>> s = apply("softmax", tensor("X", 2), (1,)).terms[0].factors[0]
    >>> drop_unit_sums(Term(2, (s,)), ()).factors
    (Size(dim=('X', 0)),)
    """
    for k, f in enumerate(term.factors):
        if not (isinstance(f, Ref) and isinstance(f.node, Call) and functions.get(f.node.fn).sums_to_one):
            continue
        summed = [f.idx[axis] for axis in f.node.params[0]]
        own = set(zip(f.idx, f.node.shape))  # a stretch over the read's own range sums it whole
        rest = tuple(g for g in term.factors[:k] + term.factors[k + 1:]
                     if not (isinstance(g, Stretch) and g.a in summed and (g.a, g.dim) in own))
        carried = {a for g in rest for a in factor_indices(g)} | set(out)
        if len(set(f.idx)) == len(f.idx) and not carried & set(summed):
            lost = [Size(d) for a, d in zip(f.idx, f.node.shape) if a not in carried and a not in summed]
            return drop_unit_sums(Term(term.coef, rest + tuple(lost)), out)
    return term


def canonical(term: Term, out: tuple[str, ...]) -> Term:
    """Sort factors and rename summed indices so that terms equal up to renaming them compare equal."""
    return Term(term.coef, _canonical_factors(term.factors, out)[0])


TIES = 720  # orderings of tied summed indices tried, at most (6! : six indices that nothing tells apart)


@cache(maxsize=65536)
def _canonical_factors(factors, out) -> tuple[tuple, dict[str, str]]:
    """The canonical factors, and the renaming of summed indices that made them (remembered, as
    :func:`normal` is; the mapping is not to be changed).

    Colour refinement ranks the summed indices by how the factors read them; the indices it leaves
    tied (k and l in ``B[k,k] B[l,l] x[m]``) are tried in every order, up to :data:`TIES`, and the
    least sorted form wins. That form is then renamed by first appearance and sorted again.
    """
    pos = {a: k for k, a in enumerate(out)}
    summed = [a for a in dict.fromkeys(a for f in factors for a in factor_indices(f)) if a not in pos]
    if not summed:  # nothing to rename: one sort settles
        return _arranged(factors, pos, ())[1], {}
    factors = min((_arranged(factors, pos, order) for order in _orderings(_tied(factors, summed, pos))),
                  key=lambda arranged: arranged[0])[1]
    factors, first = _renamed(factors, pos, out)
    factors, second = _renamed(_arranged(factors, pos, fresh(len(summed), out))[1], pos, out)
    return factors, {a: second[first[a]] for a in summed}


def _renamed(factors, pos: dict, out) -> tuple[tuple, dict[str, str]]:
    """The summed indices renamed ``i, j, k, …`` (skipping the output's) in order of appearance."""
    order = [a for a in dict.fromkeys(a for f in factors for a in factor_indices(f)) if a not in pos]
    mapping = dict(zip(order, fresh(len(order), out)))
    return tuple(rename_factor(f, mapping) for f in factors), mapping


def _arranged(factors, pos: dict, order) -> tuple[tuple, tuple]:
    """The factors, symmetric reads oriented and sorted, with summed indices ranked by ``order``;
    and their sort keys."""
    rank = {a: k for k, a in enumerate(order)}

    def label(a):
        return (0, pos[a]) if a in pos else (1, rank.get(a, -1))

    def key(f):
        return _factor_kind(f) + (tuple(label(a) for a in factor_indices(f)),)

    arranged = sorted(((key(f), f) for f in (_oriented(f, label) for f in factors)), key=lambda kf: kf[0])
    return tuple(k for k, _ in arranged), tuple(f for _, f in arranged)


def _oriented(f, label):
    """A read of a node symmetric in some of its axes with its indices on those axes sorted by
    ``label``: ``S[j,i]`` is ``S[i,j]``."""
    if not isinstance(f, Ref) or len(f.idx) < 2:
        return f
    slots = symmetry(f.node)
    if slots == tuple(range(len(slots))):
        return f
    idx = list(f.idx)
    for slot in set(slots):
        axes = [k for k, s in enumerate(slots) if s == slot]
        for k, a in zip(axes, sorted((f.idx[k] for k in axes), key=label)):
            idx[k] = a
    return Ref(f.node, tuple(idx))


def _tied(factors, summed: list[str], pos: dict) -> list[list[str]]:
    """The summed indices in classes that colour refinement cannot tell apart, in a fixed order
    that does not depend on their names: an index is coloured by the factors that read it, at
    which axes, beside which other indices (output indices by position, summed ones by colour)."""
    colour = dict.fromkeys(summed, 0)
    slots = [(_factor_kind(f), factor_indices(f), _slots(f)) for f in factors]
    count = 1
    while True:
        seen: dict[str, list] = {a: [] for a in summed}
        for kind, idx, slot in slots:
            for a in set(idx) & seen.keys():
                seen[a].append((kind, tuple(sorted((s, b == a, (0, pos[b]) if b in pos else (1, colour[b]))
                                                   for b, s in zip(idx, slot)))))
        signature = {a: (colour[a], tuple(sorted(seen[a]))) for a in summed}
        ranks = {v: k for k, v in enumerate(sorted(set(signature.values())))}
        colour = {a: ranks[signature[a]] for a in summed}
        if len(ranks) == count:
            break
        count = len(ranks)
    classes: dict[int, list[str]] = {}
    for a in summed:
        classes.setdefault(colour[a], []).append(a)
    return [classes[c] for c in sorted(classes)]


def _factor_kind(f) -> tuple:
    """What a factor is, whatever indices it reads: deltas, then nodes by key, then sizes, then stretches."""
    if isinstance(f, Delta):
        return (0, ())
    if isinstance(f, Stretch):
        return (3, (str(f.dim),))
    return (1, node_key(f.node)) if isinstance(f, Ref) else (2, (str(f.dim),))


def _slots(f) -> tuple[int, ...]:
    """Per index of ``f``, its axis, where axes that ``f`` is symmetric in share one."""
    if isinstance(f, Delta):
        return (0, 0)
    if isinstance(f, Stretch):
        return (0,)
    return symmetry(f.node) if isinstance(f, Ref) else ()


def _orderings(classes: list[list[str]]):
    """Every order of the summed indices that keeps the classes in order; past :data:`TIES` of them,
    only the order of appearance (canonical then only where the classes are single)."""
    if math.prod(math.factorial(len(c)) for c in classes) > TIES:
        yield [a for c in classes for a in c]
        return
    for parts in itertools.product(*(itertools.permutations(c) for c in classes)):
        yield [a for part in parts for a in part]


_SYMMETRY = LRU(65536)


def symmetry(node) -> tuple[int, ...]:
    """Per axis of ``node``, the least axis it can be swapped with, the node unchanged (``(0, 0)`` for
    a symmetric matrix, ``(0, 1, 1)`` for ``sign(Σ_m Φ[m,j,k] Φ[m,j,l] - δ[k,l])``): a symmetric
    tensor, a function that transposes (``inv``) of a symmetric matrix, an elementwise function
    of a symmetric node, a sum equal to itself with two axes swapped. Computed once per node,
    children first, without recursion."""
    found: dict = {}

    def known(n) -> bool:
        found[n] = _SYMMETRY.get(n)
        return found[n] is not None

    for n in postorder(node, known=known):
        found[n] = _SYMMETRY.insert(n, _symmetry(n))
    return found[node]


symmetry.cache = _SYMMETRY  # type: ignore[attr-defined]  # as every @cache function has: caches.clear_all empties it


def _symmetry(node) -> tuple[int, ...]:
    if isinstance(node, Var):
        return (0, 0) if node.symmetric else tuple(range(len(node.shape)))
    if isinstance(node, Call):
        inner = symmetry(node.arg)
        if get(node.fn).elementwise:
            return inner
        return (0, 0) if get(node.fn).transposes and inner == (0, 0) else tuple(range(len(node.shape)))
    slots = list(range(node.ndim))
    if len(node.terms) > SYMMETRY_TERMS:
        return tuple(slots)
    same = None
    for q in range(node.ndim):
        for p in range(q):
            if slots[p] != p or (node.dims[p] != node.dims[q] and not _read(node, node.out[p])):
                continue  # an index the terms read has one length, whatever its Dim says: A + Aᵀ is square
            swap = {node.out[p]: node.out[q], node.out[q]: node.out[p]}
            same = same or _normal(node.terms, node.out)
            if _normal(tuple(t.rename(swap) for t in node.terms), node.out) == same:
                slots[q] = p
                break
    return tuple(slots)


def _read(node: Expr, a: str) -> bool:
    return any(a in factor_indices(f) for t in node.terms for f in t.factors)


SYMMETRY_TERMS = 32  # a sum of more terms is not searched for symmetric axes


def _normal(terms, out) -> frozenset:
    return frozenset(merge(canonical(eliminate_deltas(t, out), out) for t in terms))


_KEYS = LRU(65536)


def node_key(node) -> tuple:
    """A deterministic sort key for a node (never its hash, which varies between runs): its
    kind, its name, its depth, and a digest of its structure, so that comparing keys is quick
    however deep the node. Computed once per node, children first, without recursion."""
    key = _KEYS.get(node)
    if key is not None:
        return key
    keys: dict = {}

    def known(n) -> bool:
        keys[n] = _KEYS.get(n)
        return keys[n] is not None

    for n in postorder(node, known=known):
        keys[n] = _KEYS.insert(n, _node_key(n, keys))
    return keys[node]


node_key.cache = _KEYS  # type: ignore[attr-defined]  # as every @cache function has: caches.clear_all empties it


def _node_key(node, keys: dict) -> tuple:
    """The key of ``node``, its children's keys read from ``keys``."""
    if isinstance(node, Var):
        return (0, node.name, str(node.shape))
    if isinstance(node, Call):
        return (1, node.fn, repr(node.params), node.depth, _digest(node.fn, node.params, keys[node.arg]))
    terms = tuple((repr(t.coef),) + tuple((keys[f.node], f.idx) if isinstance(f, Ref) else ((), (repr(f),))
                                          for f in t.factors) for t in node.terms)
    return (2, node.out, node.depth, _digest(node.out, terms))


def _digest(*parts) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
