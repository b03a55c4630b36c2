"""Reverse mode over the expression DAG: the gradient of a scalar by shared cotangents.

Every node ``n`` below the scalar ``f`` gets a cotangent ``∂f/∂n`` (an :class:`Expr` shaped like
``n``), the sum of what each node reading it passes down, in reverse topological order; the
gradient of a tensor sums what its readers pass to it. A cotangent that is an elementwise
product over its own indices (``(1 - h²) ⊙ g``) is inlined into its readers, so that small
results print and evaluate as the closed form (``g xᵀ``); one with a sum in it (``Wᵀ δ``) stays a
node of its own, computed once and read by every gradient below it — the backward pass of a
network is shared by all its parameters instead of being rebuilt for each.

>>> from .algebra import apply, einsum, tensor
>>> from .differentiate import variable
>>> from ..notation.render import index_notation
>>> W, x = tensor("W", 2), tensor("x", 1)
>>> f = einsum("i->", apply("tanh", einsum("ij,j->i", W, x)))
>>> print(index_notation(gradient(f, variable(W))))
y[i,j] = x[j] (1 - tanh(Σ_k W[i,k] x[k])²)
"""
from __future__ import annotations

from . import functions
from .algebra import constant, hadamard
from .caches import cache
from .differentiate import contract
from .ir import (
    Call, Delta, Expr, Ref, Stretch, Term, Var, fresh, instantiate, is_short_product, keep_ranges, node_shape,
    postorder, stretches, term_lengths,
)
from .simplify import simplify


def gradient(f: Expr, var: Var) -> Expr:
    """``∂f/∂var`` of a scalar ``f``, its axes named ``i, j, ...``."""
    out = fresh(len(var.shape), ())
    return _opened(_total(cotangents(f).get(var, ()), out, var.shape))


def _opened(g: Expr) -> Expr:
    """``g``, or the node it only reads whole: a result is not a pointer to a shared node (its
    stretches kept)."""
    (t,) = g.terms if len(g.terms) == 1 else (None,)
    refs = [f for f in t.factors if not isinstance(f, Stretch)] if t is not None else ()
    if t is None or t.coef != 1 or len(refs) != 1 or not isinstance(refs[0], Ref):
        return g
    ref, stretched = refs[0], tuple(f for f in t.factors if isinstance(f, Stretch))
    if not isinstance(ref.node, Expr) or len(set(ref.idx)) != len(ref.idx) or set(ref.idx) != set(g.out):
        return g
    terms = instantiate(ref.node, ref.idx, g.out)
    return simplify(Expr(g.out, g.dims, tuple(Term(u.coef, u.factors + stretched) for u in terms)))


@cache(maxsize=256)
def cotangents(f: Expr) -> dict:
    """Every node's (and tensor's) list of contributions to its cotangent, for a scalar ``f``."""
    passed: dict = {f: [constant(1)]}
    for node in reversed(postorder(f)):
        if isinstance(node, Var) or node not in passed:
            continue
        g = _shared(_total(passed.pop(node), _out(node), node_shape(node)))
        if not g.terms:
            continue
        for child, contribution in _pulled(node, g):
            passed.setdefault(child, []).append(contribution)
    return passed


def _out(node) -> tuple[str, ...]:
    return node.out if isinstance(node, Expr) else fresh(len(node.shape), ())


def _total(contributions, out: tuple[str, ...], dims) -> Expr:
    """The sum of contributions, each renamed to the indices ``out``."""
    if len(contributions) == 1 and contributions[0].out == out:
        return contributions[0]  # already simplified: each is made by simplify
    terms = tuple(t for c in contributions for t in instantiate(c, out, out))
    return simplify(Expr(out, tuple(dims), terms))


def _shared(g: Expr) -> Expr:
    """``g`` itself where it is one short elementwise product over its own indices (cheap to
    inline); else a read of ``g`` as a node, so that every reader shares it (a chain of
    elementwise functions would otherwise grow one product by a factor per link)."""
    if is_short_product(g):
        return g
    return Expr(g.out, g.dims, (Term(1, (Ref(g, g.out),)),))


def _pulled(node, g: Expr):
    """``(child, ∂f/∂child contribution)`` for each read of a child that depends on a tensor."""
    if isinstance(node, Call):
        yield node.arg, _call_vjp(node, g)
        return
    for t in node.terms:
        for k, f in enumerate(t.factors):
            if isinstance(f, Ref) and (isinstance(f.node, Var) or f.node.leaves):
                yield f.node, _read_vjp(node, t, k, g)


def _read_vjp(node: Expr, t: Term, k: int, g: Expr) -> Expr:
    """``Σ g[out] t`` with the ``k``-th factor (a read ``child[idx]``) replaced by deltas to new axes
    (and a :class:`~einsumgrad.core.ir.Stretch` where the read may stretch a size-1 axis of the child)."""
    ref = t.factors[k]
    assert isinstance(ref, Ref)
    if t.coef == 1 and len(t.factors) == 1 and ref.idx == node.out and node_shape(ref.node) == node.dims:
        return g  # the node is its child, read whole
    dims = node_shape(ref.node)
    taken = set(t.indices()) | set(node.out)
    c = fresh(len(dims), taken | g.index_set())
    ranged = Term(t.coef, t.factors + (Ref(g, node.out),))  # every index the contraction sums over
    ties = tuple(zip(ref.idx, c, dims))
    rest = (t.factors[:k] + t.factors[k + 1:] + tuple(Delta(a, p, d) for a, p, d in ties)
            + stretches(term_lengths(ranged), ties))  # keep_ranges: an output axis now summed keeps its range
    terms = [keep_ranges(Term(t.coef * gt.coef, gt.factors + rest), ranged, c)
             for gt in instantiate(g, node.out, taken | set(c))]
    return simplify(Expr(c, dims, tuple(terms)))


def _call_vjp(call: Call, g: Expr) -> Expr:
    """``Σ g[k] ∂call[k]/∂arg[p]``: ``f′(arg) ⊙ g`` for an elementwise function, else the
    contraction of ``g`` with the function's Jacobian, from its forward rule on the identity."""
    fn = functions.get(call.fn)
    out = g.out
    y = Expr(out, call.shape, (Term(1, (Ref(call, out),)),))
    arg = call.arg
    if fn.vjp is not None:  # a linear function's adjoint: its Jacobian is never built
        return fn.vjp(arg, y, g, *call.params)
    if fn.derivative is not None:  # elementwise
        return hadamard(fn.derivative(arg, y, *call.params), g)
    a = fresh(arg.ndim, out)
    p = fresh(arg.ndim, set(out) | set(a))
    identity = Expr(a + p, arg.dims + arg.dims, (Term(1, tuple(Delta(i, j, d) for i, j, d in zip(a, p, arg.dims))),))
    assert fn.jvp is not None, call.fn  # a function a node calls has a forward rule
    jac = fn.jvp(arg, y, identity, *call.params)
    return contract(jac, g, jac.out[: len(out)], jac.out[len(out):])
