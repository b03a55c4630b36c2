"""Rendering expressions: index notation (Unicode and ASCII), LaTeX, einsum strings.

Summed indices are always shown with an explicit Σ, so nothing rests on a
summation convention the reader has to know.

>>> from .algebra import einsum, tensor
>>> y = einsum("ij,j->i", tensor("W", 2), tensor("x", 1))
>>> print(index_notation(y))
y[i] = Σ_j W[i,j] x[j]
>>> print(index_notation(y, ascii=True))
y[i] = sum_j W[i,j] * x[j]
>>> latex(y)
'y_{i} = \\\\sum_{j} W_{ij} x_{j}'
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .functions import get
from .ir import DEEP, Call, Delta, Expr, Ref, Size, Term, Var, fresh, instantiate, is_sum, postorder

_SUPERSCRIPT = str.maketrans("-0123456789.", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹·")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class Style:
    sum: str
    times: str
    delta: str
    ascii: bool = False
    latex: bool = False
    subscript: bool = False  # y_i, δ_ij instead of y[i], δ[i,j]
    named: dict = field(default_factory=dict, compare=False)  # node -> the name it prints as (see equations)

    def indices(self, idx) -> str:
        if not idx:
            return ""
        joined = "".join(idx) if all(len(a) == 1 for a in idx) else ",".join(idx)
        if self.latex:
            return "_{" + joined + "}"
        if self.subscript:
            return "_" + joined if len(joined) == len(idx) else "_{" + joined + "}"
        return "[" + ",".join(idx) + "]"

    def summation(self, summed) -> str:
        if not summed:
            return ""
        if self.latex:
            return r"\sum_{" + ("".join(summed) if all(len(a) == 1 for a in summed) else ",".join(summed)) + "} "
        return self.sum + "_" + ",".join(summed) + " "


UNICODE = Style("Σ", " ", "δ")
ASCII = Style("sum", " * ", "delta", ascii=True)
LATEX = Style(r"\sum", " ", r"\delta", latex=True)
SUBSCRIPT = Style("Σ", " ", "δ", subscript=True)


LONG = 600  # characters: a longer result prints as equations with named intermediates


def index_notation(expr: Expr, ascii: bool = False, name: str | None = None) -> str:
    """``name[out] = terms``, e.g. ``y[i] = Σ_j W[i,j] x[j]`` (see :func:`equation`)."""
    style = ASCII if ascii else UNICODE
    return equation((name or "y") + style.indices(expr.out), expr, style)


def equation(lhs: str, expr: Expr, style: Style) -> str:
    """``lhs = terms``; where ``expr`` is deep or that runs past :data:`LONG` characters, the
    :func:`equations` of its intermediates, ending in ``lhs``."""
    if expr.depth <= DEEP:
        text = f"{lhs} = {render_sum(expr.terms, expr.out, style, expr.index_set())}"
        if len(text) <= LONG:
            return text
    return equations(expr, style, lhs)


def equations(expr: Expr, style: Style, lhs: str) -> str:
    """``expr`` as one equation per intermediate node, bottom up, then the result: ``z₁[i] = …``
    for a function's argument, ``h₁[i] = tanh(z₁[i])`` for a function, ``v₁[i] = …`` for any
    other sum read as a whole — each printed once however often it is read; then ``lhs = …``.
    In LaTeX the equations are the lines of an ``aligned`` environment.

    >>> from .algebra import add, apply, einsum, tensor
    >>> W, x = tensor("W", 2), tensor("x", 1)
    >>> h = apply("tanh", einsum("ij,j->i", W, x))
    >>> print(equations(einsum("i->", apply("tanh", einsum("ij,j->i", W, h))), UNICODE, "f"))
    z₁[i] = Σ_j W[i,j] x[j]
    h₁[i] = tanh(z₁[i])
    z₂[i] = Σ_j W[i,j] h₁[j]
    h₂[i] = tanh(z₂[i])
    f = Σ_i h₂[i]
    """
    arguments = {n.arg for n in postorder(expr) if isinstance(n, Call)}
    nodes = [n for n in postorder(expr) if n is not expr and _worth_naming(n)]
    named: dict = {}
    counts: dict[str, int] = {}
    lines = []
    for node in nodes:
        letter = "h" if isinstance(node, Call) else "z" if node in arguments else "v"
        counts[letter] = counts.get(letter, 0) + 1
        number = str(counts[letter])
        label = letter + (f"^{{({number})}}" if style.latex else number if style.ascii else number.translate(_SUBSCRIPT))
        out = node.out if isinstance(node, Expr) else fresh(len(node.shape), ())
        shown = replace(style, named=named)
        body = (render_sum(node.terms, out, shown, node.index_set()) if isinstance(node, Expr)
                else _render_call(node, out, set(out), shown))
        lines.append(f"{label}{style.indices(out)} {'&' if style.latex else ''}= {body}")
        named[node] = label
    shown = replace(style, named=named)
    lines.append(f"{lhs} {'&' if style.latex else ''}= {render_sum(expr.terms, expr.out, shown, expr.index_set())}")
    if style.latex:
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
    return "\n".join(lines)


_DERIVATIVE_NAME = re.compile(r"∂(²?)([A-Za-z_][A-Za-z0-9_]*)/∂([A-Za-z_][A-Za-z0-9_]*)²?\Z")


def _worth_naming(node) -> bool:
    """A function (not a power, which prints inline as ``h²``) or a sum: not a plain read."""
    if isinstance(node, Call):
        return node.fn != "pow"
    return isinstance(node, Expr) and is_sum(node)


def latex(expr: Expr, name: str | None = None) -> str:
    name = name or "y"
    derivative = _DERIVATIVE_NAME.match(name)
    if derivative:  # ∂f/∂W[i,j] -> \frac{\partial f}{\partial W_{ij}}
        order, f, x = derivative.groups()
        x = latex_name(x)
        if order:
            half = len(expr.out) // 2
            below = rf"\partial {x}{LATEX.indices(expr.out[:half])} \partial {x}{LATEX.indices(expr.out[half:])}"
            lhs = rf"\frac{{\partial^{{2}} {latex_name(f)}}}{{{below}}}"
        else:
            lhs = rf"\frac{{\partial {latex_name(f)}}}{{\partial {x}{LATEX.indices(expr.out)}}}"
    else:
        lhs = latex_name(name) + LATEX.indices(expr.out)
    return equation(lhs, expr, LATEX)


def latex_name(name: str) -> str:
    return name if len(name) == 1 else r"\mathrm{" + name.replace("_", r"\_") + "}"


def render_sum(terms, out, style: Style, scope=frozenset()) -> str:
    """Terms joined by + and -; ``scope`` holds index names already in use around them,
    which nested sums keep clear of."""
    if not terms:
        return "0"
    parts = []
    for k, t in enumerate(terms):
        text = render_term(t, out, style, scope)
        if k and text.startswith("-"):
            parts.append(" - " + text[1:])
        elif k:
            parts.append(" + " + text)
        else:
            parts.append(text)
    return "".join(parts)


def render_term(t: Term, out, style: Style, scope=frozenset()) -> str:
    summed = [a for a in t.indices() if a not in out]
    inner_scope = set(scope) | set(out) | set(t.indices())
    factors = [render_factor(f, inner_scope, style) for f in t.factors]
    coef = t.coef
    sign = ""
    if isinstance(coef, (int, float)) and coef < 0:
        sign, coef = "-", -coef
    body = style.times.join(factors)
    if coef != 1 or not factors:
        c = _number(coef)
        body = c + (style.times if style.ascii and factors else " " if factors else "") + body
    return sign + style.summation(summed) + body


def _number(c) -> str:
    if isinstance(c, float):
        return f"{c:.6g}"
    return str(c)


def render_factor(f, names, style: Style) -> str:
    if isinstance(f, Delta):
        if style.ascii:
            return f"delta({f.a},{f.b})"
        return style.delta + style.indices((f.a, f.b))
    if isinstance(f, Size):
        d = f.dim
        return str(d) if isinstance(d, int) else f"size({d[0]},{d[1]})"
    node, idx = f.node, f.idx
    if node in style.named:
        return style.named[node] + style.indices(idx)
    if isinstance(node, Var):
        return latex_name(node.name) + style.indices(idx) if style.latex else node.name + style.indices(idx)
    if isinstance(node, Expr):
        return "(" + render_sum(instantiate(node, idx, names), idx, style, names) + ")"
    return _render_call(node, idx, names, style)


def _render_call(node: Call, idx, names, style: Style) -> str:
    if get(node.fn).elementwise:  # read the argument at the same indices
        named = style.named.get(node.arg)
        inner = named + style.indices(idx) if named else render_sum(instantiate(node.arg, idx, names), idx, style, names)
        if node.fn == "pow":
            return _power(inner, node.params[0], style, simple=_is_atom(node.arg))
        if style.latex:
            return rf"\{node.fn}\left({inner}\right)" if node.fn in _LATEX_FUNCTIONS else rf"\operatorname{{{node.fn}}}\left({inner}\right)"
        return f"{node.fn}({inner})"
    arg = node.arg
    plain = len(arg.terms) == 1 and len(arg.terms[0].factors) == 1 and arg.terms[0].coef == 1
    ref = arg.terms[0].factors[0] if plain else None
    if arg in style.named:
        inner = style.named[arg]
    elif isinstance(ref, Ref) and isinstance(ref.node, Var) and ref.idx in (arg.out, arg.out[::-1]):
        inner = ref.node.name + ("" if ref.idx == arg.out else ("^T" if style.ascii or style.latex else "ᵀ"))
    else:
        inner = "[" + ",".join(arg.out) + "] -> " + render_sum(arg.terms, arg.out, style, arg.index_set())
    show = get(node.fn).show
    inner += show(*node.params) if show else ""
    if style.latex:
        return rf"\operatorname{{{node.fn}}}\left({inner}\right)" + style.indices(idx)
    return f"{node.fn}({inner})" + style.indices(idx)


_LATEX_FUNCTIONS = {"exp", "log", "tanh", "sin", "cos", "det"}


def _is_atom(expr: Expr) -> bool:
    (t,) = expr.terms if len(expr.terms) == 1 else (None,)
    return t is not None and t.coef == 1 and len(t.factors) == 1 and set(t.indices()) <= set(expr.out)


def _power(inner: str, c, style: Style, simple: bool) -> str:
    base = inner if simple else f"({inner})"
    if style.latex:
        return f"{{{base}}}^{{{_number(c)}}}"
    if style.ascii:
        return f"{base}**{_number(c)}"
    return base + _number(c).translate(_SUPERSCRIPT)


def describe_factor(f) -> str:
    """A short name for a factor in error messages: ``W[i,j]``, ``tanh(…)[i]``, ``δ[i,j]``."""
    if isinstance(f, Delta):
        return f"δ[{f.a},{f.b}]"
    if isinstance(f, Size):
        return "a size"
    head = f.node.name if isinstance(f.node, Var) else f"{f.node.fn}(…)" if isinstance(f.node, Call) else "(…)"
    return head + "[" + ",".join(f.idx) + "]"


def einsum_form(expr: Expr, t: Term) -> str:
    """A term as an einsum string with its operands named, deltas included as ``δ``
    (the identity matrix), e.g. ``'ij,k->ijk' (δ, x)``."""
    import opt_einsum

    letters: dict[str, str] = {}

    def sub(idx):
        return "".join(letters.setdefault(a, a if len(a) == 1 else opt_einsum.get_symbol(len(letters) + 200)) for a in idx)

    operands, names = [], []
    for f in t.factors:
        if isinstance(f, (Ref, Delta)):
            idx = f.idx if isinstance(f, Ref) else (f.a, f.b)
            operands.append(sub(idx))
            names.append(describe_factor(f).split("[")[0] if isinstance(f, Ref) else "δ")
    eq = ",".join(operands) + "->" + sub(expr.out)
    coef = "" if t.coef == 1 else f"{_number(t.coef)} * "
    return f"{coef}'{eq}' ({', '.join(names)})"

