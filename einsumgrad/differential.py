"""The differential route to a gradient, as Magnus and Neudecker take it: the differential ``dL``,
its trace (Frobenius) form ``dL = ⟨G, dW⟩ = tr(Gᵀ dW)``, the derivative ``∂L/∂W = G`` read off
it, and the first-order change ``ΔL ≈ ⟨G, ΔW⟩`` that makes ``W − ηG`` a descent step.

Every step that shows an expression carries it (``Step.expr``); ``dW`` is a tensor of its own, so
each differential evaluates along any direction ``dW`` (the tests compare it with central
differences).

>>> from .expression import tensor
>>> W, x, g = tensor("W", 2), tensor("x", 1), tensor("g", 1)
>>> steps = differential(g @ (W @ x), W).steps
>>> steps[1].line
'dL = Σ_i,j dW[i,j] g[i] x[j] = gᵀ dW x'
>>> steps[2].line
'dL = ⟨G, dW⟩ = Σ_i,j G[i,j] dW[i,j] = tr(Gᵀ dW) = tr(x gᵀ dW)'
"""
from __future__ import annotations

from . import render
from .algebra import leaf
from .differentiate import contract, derivative, variable
from .errors import DerivativeError
from .expression import Expression
from .ir import Expr, Ref, Term, Var
from .matrix import matrix_notation
from .reverse import gradient
from .teach import Derivation, Step


def differential(f: Expression, wrt) -> Derivation:
    """``dL`` for a scalar expression ``L = f``, to ``∂L/∂wrt`` through ``dL = ⟨G, dW⟩``, and the
    update step it justifies."""
    if not isinstance(f, Expression) or f.ndim:
        raise DerivativeError("differential(L, W) needs a scalar expression L built with eg.tensor / eg.einsum; "
                              "take eg.sum(...) of a tensor first")
    var = variable(wrt.node if isinstance(wrt, Expression) else wrt, f.node)
    L = f.name if f.name.isidentifier() else "L"
    w, dw = var.name, _unused("d" + var.name, {v for v in f.tensors} | {L})
    direction = leaf(dw, var.shape).terms[0].factors[0].node
    jac = derivative(f.node, var)
    dl = contract(jac, leaf(dw, var.shape), jac.out, ())
    G = gradient(f.node, var)
    steps = [
        Step("The loss, with its sums explicit", f.node, render.index_notation(f.node, name=L)),
        Step(f"Its differential: the product rule d(A B) = dA B + A dB and, elementwise, d h(u) = h′(u) du, "
             f"with d{w} for each read of {w}", dl, _with_matrix(f"d{L} = {_rhs(dl)}", dl)),
        Step(f"Collect what multiplies {dw} into one tensor G shaped like {w}: the trace (Frobenius) form",
             _inner(G, direction), f"d{L} = {_frobenius(G, dw)}"),
        Step(f"Read off the derivative: d{L} = ⟨G, {dw}⟩ for every {dw} means ∂{L}/∂{w} = G",
             G, _with_matrix(f"∂{L}/∂{w}{render.UNICODE.indices(G.out)} = {_rhs(G)}", G), _layouts(G, w)),
        Step(f"First order: for a small step Δ{w}, Δ{L} ≈ ⟨G, Δ{w}⟩; with Δ{w} = −η G, Δ{L} ≈ −η ⟨G, G⟩ = −η ‖G‖², "
             f"below 0 unless G = 0, so {w} − η G lowers {L} for small enough η > 0",
             _inner(G, G), f"⟨G, G⟩ = ‖G‖² = Σ_{','.join(G.out)} G{render.UNICODE.indices(G.out)}²"),
    ]
    return Derivation(tuple(steps))


def _unused(name: str, taken) -> str:
    while name in taken:
        name += "_"
    return name


def _rhs(e: Expr) -> str:
    return render.render_sum(e.terms, e.out, render.UNICODE, e.index_set())


def _with_matrix(line: str, e: Expr) -> str:
    formula = matrix_notation(e)
    return f"{line} = {formula}" if formula and formula != line.split(" = ")[-1] else line


def _inner(G: Expr, other: Expr | Var) -> Expr:
    """``⟨G, other⟩ = Σ G[I] other[I]``, with G kept as a node of its own."""
    return Expr((), (), (Term(1, (Ref(G, G.out), Ref(other, G.out))),))


def _frobenius(G: Expr, dw: str) -> str:
    idx = render.UNICODE.indices(G.out)
    summed = f"Σ_{','.join(G.out)} G{idx} {dw}{idx}"
    if G.ndim == 1:
        formula = matrix_notation(G)
        return f"⟨G, {dw}⟩ = {summed} = Gᵀ {dw}" + (f" = ({formula})ᵀ {dw}" if formula else "")
    if G.ndim != 2:
        return f"⟨G, {dw}⟩ = {summed}"
    turned = matrix_notation(Expr(G.out[::-1], G.dims[::-1], G.terms))
    return f"⟨G, {dw}⟩ = {summed} = tr(Gᵀ {dw})" + (f" = tr({turned} {dw})" if turned else "")


def _layouts(G: Expr, w: str) -> str:
    if G.ndim != 2:
        return f"G is shaped like {w}, as the gradient in the shape layout of jax and torch."
    return (f"G is shaped like {w}: the shape layout (jax, torch) and Wikipedia's denominator layout; Wikipedia's "
            f"numerator layout writes Gᵀ.")
