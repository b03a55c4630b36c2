"""Differentiation (docs/design.md §2, rules 1-3; tangents kept as nodes: §2.1), index by index.

``derivative(E, X)`` is the Jacobian ``∂E[I]/∂X[P]`` as an expression over ``I + P``:
every read of ``X`` becomes a product of deltas, the product rule sums over the
reads, and a function's rule (see :mod:`einsumgrad.core.functions`) carries the chain
rule through it. The result is simplified before it is returned.

>>> from .algebra import einsum, tensor
>>> from ..notation.render import index_notation
>>> W, x = tensor("W", 2), tensor("x", 1)
>>> print(index_notation(derivative(einsum("ij,j->i", W, x), variable(W))))
y[i,j,k] = δ[i,j] x[k]
"""
from __future__ import annotations

from . import functions
from .algebra import product, show_dims
from .caches import cache
from .errors import DerivativeError
from .ir import (
    DEEP, MANY, Call, Delta, Expr, Ref, Stretch, Term, Var, depends, factor_indices, fresh, instantiate,
    is_short_product, keep_ranges, postorder, rename_factor, stretches, term_lengths, variables,
)
from .simplify import simplify


def variable(wrt, f: Expr | None = None) -> Var:
    """The tensor behind an expression made by ``eg.tensor``; with ``f``, refuse a namesake:
    a different tensor of the same name in ``f`` (say, from re-running a notebook cell)."""
    var = _var(wrt)
    if f is not None:
        for other in variables(f):
            if other.name == var.name and other != var:
                raise DerivativeError(
                    f"two different tensors are named {var.name!r}: the expression's has shape {show_dims(other.shape)}, "
                    f"wrt has shape {show_dims(var.shape)}; differentiate by the tensor the expression was built from"
                )
    return var


def _var(wrt) -> Var:
    if isinstance(wrt, Expr) and len(wrt.terms) == 1:
        t = wrt.terms[0]
        if t.coef == 1 and len(t.factors) == 1 and isinstance(t.factors[0], Ref):
            ref = t.factors[0]
            if isinstance(ref.node, Var) and ref.idx == wrt.out:
                return ref.node
    raise DerivativeError("wrt must be a tensor made with eg.tensor(name, shape), not a compound expression")


def derivative(expr: Expr, var: Var) -> Expr:
    """``∂expr/∂var`` with the derivative's axes after ``expr``'s, named to read well:
    the output keeps its letters, the new axes take the next free ones."""
    return simplify(product_rule(*readable(expr, var)))


def _below_first(expr: Expr, var: Var) -> None:
    """Derive every node below ``expr`` that depends on ``var``, children before parents, into the
    caches: each derivative then finds its children's there, and nothing recurses however deep."""
    for node in postorder(expr, known=lambda n: not depends(n, var) or isinstance(n, Var)):
        if node is not expr:
            (node_jacobian if isinstance(node, Expr) else call_jacobian)(node, var)


def readable(expr: Expr, var: Var) -> tuple[Expr, Var, tuple[str, ...]]:
    """``expr`` with its summed indices moved aside, ``var``, and the next free letters after
    ``expr``'s output for the derivative's axes: the arguments of :func:`product_rule` (whose
    derivatives of the nodes below are in the caches by then)."""
    _below_first(expr, var)
    wrt = fresh(len(var.shape), expr.out)
    return Expr(expr.out, expr.dims, instantiate(expr, expr.out, wrt)), var, wrt


def _rename_out(expr: Expr, out: tuple[str, ...]) -> Expr:
    return simplify(Expr(out, expr.dims, instantiate(expr, out, out)))


@cache(maxsize=4096)
def node_jacobian(expr: Expr, var: Var) -> Expr:
    """``∂expr/∂var`` for a node read inside another: cached, its new axes named clear of its indices."""
    return simplify(product_rule(expr, var, fresh(len(var.shape), expr.index_set())))


def product_rule(expr: Expr, var: Var, wrt: tuple[str, ...]) -> Expr:
    """``∂expr[out]/∂var[wrt]`` before simplification: one term per read of ``var``'s
    dependents, each read replaced by its derivative (deltas for ``var`` itself)."""
    terms: list[Term] = []
    for t in expr.terms:
        for k, f in enumerate(t.factors):
            if not (isinstance(f, Ref) and depends(f.node, var)):
                continue
            rest = t.factors[:k] + t.factors[k + 1 :]
            avoid = set(t.indices()) | set(expr.out) | set(wrt)
            lengths = (*term_lengths(t), *zip(expr.out, expr.dims))
            for d in _derivative_of_read(f, var, wrt, avoid):
                stretched = stretches(lengths, _ties(d, f.idx, wrt))
                terms.append(keep_ranges(Term(t.coef * d.coef, d.factors + rest + stretched), t, expr.out))
    return Expr(expr.out + wrt, expr.dims + var.shape, tuple(terms))


def _ties(d: Term, idx: tuple[str, ...], wrt: tuple[str, ...]):
    """``(a, p, n)`` for each delta of ``d`` that ties an index ``a`` of a read to an axis ``p`` of
    ``var``, of length ``n``: where the read stretches ``a``, the derivative sums over it."""
    for f in d.factors:
        if isinstance(f, Delta):
            for a, p in ((f.a, f.b), (f.b, f.a)):
                if a in idx and p in wrt:
                    yield a, p, f.dim


def _derivative_of_read(ref: Ref, var: Var, wrt: tuple[str, ...], avoid) -> tuple[Term, ...]:
    """``∂node[ref.idx]/∂var[wrt]`` as terms, other indices kept clear of ``avoid``."""
    node = ref.node
    if node == var:
        return (Term(1, tuple(Delta(a, p, d) for a, p, d in zip(ref.idx, wrt, var.shape))),)
    inner = node_jacobian(node, var) if isinstance(node, Expr) else call_jacobian(node, var)
    kept = _kept_whole(inner)
    if kept is not None:  # a node of its own, shared by every term that reads it
        return (kept.rename(dict(zip(inner.out, ref.idx + wrt))),)
    return instantiate(inner, ref.idx + wrt, avoid)


@cache(maxsize=4096)
def _kept_whole(jac: Expr) -> Term | None:
    """A tangent as one read of a node, where it is deep or a sum of more than :data:`MANY` terms, and
    more than a short elementwise product; None to inline it (a shallow, small one inlined leaves the
    contraction order free, which evaluates faster). Inlined, a tangent is copied into every term that
    reads it, a sum distributed over its reader's terms: deep chains would grow with the square of the
    depth, and down a chain of nodes that each read their child twice (softmax's rule does) the terms
    would double per link. Kept, it is computed once and read by all.
    Deltas shared by all its terms stay outside the node, where they meet their reader and are
    eliminated: ``w[i] δ[i,j]`` reads the node ``w[i]``, never one of the Jacobian's full rank."""
    if not jac.terms or jac.depth <= DEEP and len(jac.terms) <= MANY:
        return None
    out = set(jac.out)
    deltas = tuple(f for f in jac.terms[0].factors if isinstance(f, (Delta, Stretch))
                   and all(f in t.factors for t in jac.terms) and set(factor_indices(f)) <= out)
    root = {d.b: d.a for d in deltas if isinstance(d, Delta)}
    merged = {b: _root(b, root) for b in root}
    kept = tuple(a for a in jac.out if a not in merged)
    dims = dict(zip(jac.out, jac.dims))
    terms = tuple(Term(t.coef, tuple(rename_factor(f, merged) for f in t.factors if f not in deltas))
                  for t in jac.terms)
    core = simplify(Expr(kept, tuple(dims[a] for a in kept), terms))
    if is_short_product(core):
        return None
    return Term(1, (Ref(core, kept),) + deltas)


def _root(a: str, parent: dict) -> str:
    while a in parent:
        a = parent[a]
    return a


@cache(maxsize=4096)
def call_jacobian(call: Call, var: Var) -> Expr:
    """``∂f(E)/∂var`` through the function's rule, cached."""
    out = fresh(len(call.shape), ())
    y = Expr(out, call.shape, (Term(1, (Ref(call, out),)),))
    dx = node_jacobian(call.arg, var)
    rule = functions.get(call.fn).jvp
    assert rule is not None, call.fn  # a function a node calls has a forward rule
    dy = rule(call.arg, y, dx, *call.params)
    return _rename_out(dy, out + fresh(len(var.shape), out)) if dy.terms else dy


def contract(expr: Expr, other: Expr, axes: tuple[str, ...], out: tuple[str, ...]) -> Expr:
    """``Σ_axes expr · other`` where ``other`` is read at ``axes`` (the chain rule with a
    cotangent or a tangent); the result has indices ``out``."""
    dims = dict(zip(expr.out, expr.dims))
    return product([(expr, expr.out), (other, axes)], out, tuple(dims[a] for a in out), distribute=True)
