"""Simplification: pure passes ``Expr -> Expr`` (DESIGN.md, rules 4-6).

1. :func:`eliminate_deltas` — a delta on a summed index renames it away; a summed
   ``δ[a,a]`` becomes the axis length; deltas between output indices stay, as a
   spanning forest (``δ[i,j] δ[j,k]``, never also ``δ[i,k]``).
2. :func:`canonical` — factors in a fixed order, summed indices renamed in order
   of appearance, so that terms equal up to renaming compare equal.
3. :func:`factor_common` — terms that differ only in elementwise weights
   (``X[k,i] X[k,j] a[k] + X[k,i] X[k,j] b[k]``) become one term with the weights
   summed first (``X[k,i] X[k,j] (a + b)[k]``): one contraction instead of two.
4. :func:`simplify` — all of these, equal terms merged, zero terms dropped.

>>> from .ir import Var, Ref, Delta, Term, Expr
>>> x = Var("x", (("x", 0),))
>>> t = Term(1, (Delta("i", "p", ("x", 0)), Ref(x, ("j",)), Delta("j", "q", ("x", 0))))
>>> simplify(Expr(("i", "p", "q"), (("x", 0),) * 3, (t,))).terms[0].factors
(Delta(a='i', b='p', dim=('x', 0)), Ref(node=Var(name='x', shape=(('x', 0),)), idx=('q',)))
"""
from __future__ import annotations

import cmath
import hashlib

from . import functions
from .caches import LRU
from .errors import EinsumgradError
from .functions import get
from .ir import Call, Delta, Expr, Ref, Size, Term, Var, factor_indices, fresh, index_dims, postorder, rename_factor


def simplify(expr: Expr) -> Expr:
    terms = merge(canonical(drop_unit_sums(eliminate_deltas(t, expr.out), expr.out), expr.out) for t in expr.terms)
    return Expr(expr.out, expr.dims, factor_common(terms, expr.out, expr.dims))


def merge(terms) -> tuple[Term, ...]:
    """Add the coefficients of equal terms; drop zeros."""
    merged: dict[tuple, complex] = {}
    for t in terms:
        merged[t.factors] = merged.get(t.factors, 0) + t.coef
    return tuple(Term(_tidy(c), f) for f, c in merged.items() if c != 0)


def _is_weight(f) -> bool:
    return isinstance(f, Ref) and not isinstance(f.node, Var)


def factor_common(terms: tuple[Term, ...], out: tuple[str, ...], out_dims) -> tuple[Term, ...]:
    """Sum the elementwise weights of terms whose tensor-and-delta part is the same and whose
    weights all read one index tuple: ``X[k,i] X[k,j] (a + b)[k]``. Weights over different
    indices stay apart, so no merged weight is a tensor over more indices than any one weight."""
    if len(terms) < 2:
        return terms
    groups: dict[tuple, list[tuple[Term, tuple]]] = {}
    for t in terms:
        core = tuple(f for f in t.factors if not _is_weight(f))
        core, mapping = _canonical_factors(core, out)
        weights = tuple(rename_factor(f, mapping) for f in t.factors if _is_weight(f))
        shared = {f.idx for f in weights}
        idx = next(iter(shared)) if len(shared) == 1 else ()
        readable = set(idx) <= set(mapping.values()) | set(out) and len(set(idx)) == len(idx)
        if not idx or not readable or not any(isinstance(f, Ref) for f in core):
            groups[("single", t)] = [(t, ())]
            continue
        groups.setdefault((core, idx), []).append((t, weights))
    result = []
    for (core, idx), members in groups.items():
        if len(members) == 1:
            result.append(members[0][0])
            continue
        dims = dict(zip(out, out_dims)) | index_dims(Term(1, core))
        weight = simplify(Expr(idx, tuple(dims[a] for a in idx), tuple(Term(t.coef, w) for t, w in members)))
        if weight.terms:
            result.append(canonical(Term(1, core + (Ref(weight, idx),)), out))
    return merge(result)


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
    :class:`~einsumgrad.functions.Function`) where the term sums over those axes and nothing else reads them;
    an index of the read that no other factor carries leaves its length behind.

    >>> from .algebra import apply, tensor
    >>> s = apply("softmax", tensor("X", 2), (1,)).terms[0].factors[0]
    >>> drop_unit_sums(Term(2, (s,)), ()).factors
    (Size(dim=('X', 0)),)
    """
    for k, f in enumerate(term.factors):
        if not (isinstance(f, Ref) and isinstance(f.node, Call) and functions.get(f.node.fn).sums_to_one):
            continue
        rest = term.factors[:k] + term.factors[k + 1:]
        carried = {a for g in rest for a in factor_indices(g)} | set(out)
        summed = [f.idx[axis] for axis in f.node.params[0]]
        if len(set(f.idx)) == len(f.idx) and not carried & set(summed):
            lost = [Size(d) for a, d in zip(f.idx, f.node.shape) if a not in carried and a not in summed]
            return drop_unit_sums(Term(term.coef, rest + tuple(lost)), out)
    return term


def canonical(term: Term, out: tuple[str, ...]) -> Term:
    """Sort factors and rename summed indices by first appearance (twice, to settle)."""
    return Term(term.coef, _canonical_factors(term.factors, out)[0])


def _oriented(f, order):
    """A read of a symmetric matrix with its indices in ``order``: ``S[j,i]`` is ``S[i,j]``."""
    if isinstance(f, Ref) and len(f.idx) == 2 and _symmetric(f.node):
        return Ref(f.node, tuple(sorted(f.idx, key=order)))
    return f


def _symmetric(node) -> bool:
    """Whether ``node`` is a symmetric matrix: a symmetric tensor, or a function that transposes
    (``inv``, ``adj``) of one, read whole."""
    while isinstance(node, Call) and get(node.fn).transposes:
        (t,) = node.arg.terms if len(node.arg.terms) == 1 else (None,)
        if t is None or t.coef != 1 or len(t.factors) != 1 or not isinstance(t.factors[0], Ref) \
                or sorted(t.factors[0].idx) != sorted(node.arg.out):
            return False
        node = t.factors[0].node
    return isinstance(node, Var) and node.symmetric


def _canonical_factors(factors, out) -> tuple[tuple, dict[str, str]]:
    """The canonical factors, and the renaming of summed indices that made them."""
    pos = {a: k for k, a in enumerate(out)}
    summed = [a for a in dict.fromkeys(a for f in factors for a in factor_indices(f)) if a not in pos]
    names = {a: a for a in summed}
    rank = {a: k for k, a in enumerate(fresh(len(summed), out))}
    for _ in range(2 if summed else 1):  # with nothing to rename, one sort settles

        def order(a):
            return (0, pos[a]) if a in pos else (1, rank.get(a, -1))

        factors = [_oriented(f, order) for f in factors]

        def key(f):
            idx = tuple((0, pos[a]) if a in pos else (1, rank.get(a, -1)) for a in factor_indices(f))
            if isinstance(f, Delta):
                return (0, (), idx)
            return (1, node_key(f.node), idx) if isinstance(f, Ref) else (2, (str(f.dim),), idx)

        factors = sorted(factors, key=key)
        order = [a for a in dict.fromkeys(a for f in factors for a in factor_indices(f)) if a not in pos]
        mapping = dict(zip(order, fresh(len(order), out)))
        factors = tuple(rename_factor(f, mapping) for f in factors)
        names = {a: mapping[b] for a, b in names.items()}
    return factors, names


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


node_key.cache = _KEYS  # as every @cache function has: caches.clear_all empties it


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
