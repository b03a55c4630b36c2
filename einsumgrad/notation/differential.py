"""The differential route to a gradient, as Magnus and Neudecker take it: the differential ``dL``,
its trace (Frobenius) form ``dL = ⟨G, dW⟩ = tr(Gᵀ dW)``, the derivative ``∂L/∂W = G`` read off
it, and the first-order change ``ΔL ≈ ⟨G, ΔW⟩`` that makes ``W − ηG`` a descent step.

Every step that shows an expression carries it (``Step.expr``); ``dW`` is a tensor of its own, so
each differential evaluates along any direction ``dW`` (the tests compare it with central
differences). By a symmetric ``S`` (``eg.tensor("S", 2, symmetric=True)``) ``dS`` is symmetric too,
so ``G`` is the symmetric one, ``sym(∂L/∂S) = ½(∂L/∂S + ∂L/∂Sᵀ)``, as ``eg.grad`` gives.

>>> from ..expression import tensor
>>> W, x, g = tensor("W", 2), tensor("x", 1), tensor("g", 1)
>>> steps = differential(g @ (W @ x), W).steps
>>> steps[1].line
'dL = Σ_i,j dW[i,j] g[i] x[j] = gᵀ dW x'
>>> steps[2].line
'dL = ⟨G, dW⟩ = Σ_i,j G[i,j] dW[i,j] = tr(Gᵀ dW) = tr(x gᵀ dW)'
"""
from __future__ import annotations

from . import render
from ..core.algebra import leaf
from ..core.differentiate import contract, derivative, variable
from ..core.errors import DerivativeError
from ..expression import Expression, scalar_of
from ..core.ir import Expr, Ref, Term, Var
from .label import Label
from . import formula as fm, matrix as mx
from ..core.reverse import gradient
from ..core.symmetric import along
from .teach import Derivation, Step


def differential(f: Expression, wrt) -> Derivation:
    """``dL`` for a scalar expression ``L = f``, to ``∂L/∂wrt`` through ``dL = ⟨G, dW⟩``, and the
    update step it justifies."""
    scalar = scalar_of(f) if isinstance(f, Expression) else None  # a 1×1 L is its one entry
    if scalar is None:
        raise DerivativeError("differential(L, W) needs a scalar expression L built with eg.tensor / eg.einsum; "
                              "take eg.sum(...) of a tensor first")
    f = scalar
    var = variable(wrt.node if isinstance(wrt, Expression) else wrt, f.node)
    L = f.name if f.name.isidentifier() else "L"
    w, dw = var.name, _unused("d" + var.name, {v for v in f.tensors} | {L})
    direction = leaf(dw, var.shape, var.symmetric)  # a symmetric S moves only along symmetric dS
    jac = derivative(f.node, var)
    dl = contract(jac, direction, jac.out, ())
    G = along(gradient(f.node, var), var, 0)
    kind = "symmetric " * var.symmetric
    steps = [
        Step.equation("The loss, with its sums explicit", f.node, L),
        _step(f"Its differential: the product rule d(A B) = dA B + A dB and, elementwise, d h(u) = h′(u) du, "
              f"with d{w} for each read of {w}", dl, lambda s: _with_matrix(f"{_d(L, s)} = {_rhs(dl, s)}", dl, s)),
        _step(f"Collect what multiplies {dw} into one {kind}tensor G shaped like {w}"
              + (f" ({dw} = {dw}ᵀ, so ⟨M, {dw}⟩ = ⟨sym(M), {dw}⟩ with sym(M) = ½(M + Mᵀ) for any M)" if kind else "")
              + ": the trace (Frobenius) form",
              _inner(G, variable(direction)),
              lambda s: f"{_d(L, s)} = {_frobenius(G, dw, s, var.symmetric)}"),
        _step(f"Read off the derivative: d{L} = ⟨G, {dw}⟩ for every {kind}{dw} means ∂{L}/∂{w} = G", G,
              lambda s: _with_matrix(f"{render.left_side(Label(L).by(w, G.out), (), s)} = "
                                     f"{_rhs(G, s)}", G, s), _layouts(G, w, var.symmetric)),
        _step(f"First order: for a small step Δ{w}, Δ{L} ≈ ⟨G, Δ{w}⟩; with Δ{w} = −η G, Δ{L} ≈ −η ⟨G, G⟩ = −η ‖G‖², "
              f"below 0 unless G = 0, so {w} − η G lowers {L} for small enough η > 0", _inner(G, G),
              lambda s: f"{_angle('G', 'G', s)} = {_norm(s)} = {s.summation(G.out)}G{s.indices(G.out)}"
              + ("^{2}" if s.latex else "²")),
    ]
    return Derivation(tuple(steps))


def _unused(name: str, taken) -> str:
    while name in taken:
        name += "_"
    return name


def _step(rule: str, node: Expr, line, note: str = "") -> Step:
    """A step whose line ``line(style)`` prints in Unicode, in LaTeX and in ASCII."""
    return Step(rule, node, line(render.UNICODE), note, line(render.LATEX), ascii=line(render.ASCII))


def _d(name: str, style: render.Style) -> str:
    """The differential of a name: ``dL``, ``\\mathrm{d}L``."""
    return rf"\mathrm{{d}}{render.latex_name(name)}" if style.latex else f"d{name}"


def _rhs(e: Expr, style: render.Style) -> str:
    return render.render_sum(e.terms, e.out, style, e.index_set())


def _matrix(formula: fm.Formula, style: render.Style) -> str:
    return fm.latex(formula) if style.latex else fm.unicode(formula)


def _with_matrix(line: str, e: Expr, style: render.Style) -> str:
    formula = mx.matrix_formula(e)
    shown = formula and _matrix(formula, style)
    return f"{line} = {shown}" if formula and shown != line.split(" = ")[-1] else line


def _angle(a: str, b: str, style: render.Style) -> str:
    return rf"\langle {a}, {b} \rangle" if style.latex else f"⟨{a}, {b}⟩"


def _norm(style: render.Style) -> str:
    return r"\|G\|^{2}" if style.latex else "‖G‖²"


def _inner(G: Expr, other: Expr | Var) -> Expr:
    """``⟨G, other⟩ = Σ G[I] other[I]``, with G kept as a node of its own."""
    return Expr((), (), (Term(1, (Ref(G, G.out), Ref(other, G.out))),))


def _frobenius(G: Expr, dw: str, style: render.Style, symmetric: bool) -> str:
    """``⟨G, dW⟩`` as a sum, and as a trace for a vector or a matrix (``tr(G dS)`` for a symmetric ``G``)."""
    idx, name = style.indices(G.out), render.latex_name(dw) if style.latex else dw
    inner = _angle("G", name, style)
    summed = f"{inner} = {style.summation(G.out)}G{idx} {name}{idx}"
    g, step = fm.Name("G"), fm.Name(dw)
    if G.ndim == 1:
        formula = mx.matrix_formula(G)
        return f"{summed} = {_matrix(fm.product(fm.Transpose(g), step), style)}" + (
            f" = {_matrix(fm.product(fm.Transpose(fm.Paren(formula)), step), style)}" if formula else "")
    if G.ndim != 2:
        return summed
    turned = mx.matrix_formula(G if symmetric else Expr(G.out[::-1], G.dims[::-1], G.terms))
    trace = fm.Trace(fm.product(g if symmetric else fm.Transpose(g), step))
    return f"{summed} = {_matrix(trace, style)}" + (
        f" = {_matrix(fm.Trace(fm.product(fm.factor(turned), step)), style)}" if turned else "")


def _layouts(G: Expr, w: str, symmetric: bool) -> str:
    if symmetric:
        return (f"G is symmetric: sym(M) = ½(M + Mᵀ) of the derivative M that takes the entries of {w} as independent "
                f"(jax's, torch's); it is what eg.grad gives by a symmetric matrix, and {w} − η G stays symmetric.")
    if G.ndim != 2:
        return f"G is shaped like {w}, as the gradient in the shape layout of jax and torch."
    return (f"G is shaped like {w}: the shape layout (jax, torch) and Wikipedia's denominator layout; Wikipedia's "
            f"numerator layout writes Gᵀ.")
