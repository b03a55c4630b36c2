"""Rendering expressions: index notation (Unicode and ASCII), LaTeX, einsum strings.

Summed indices are always shown with an explicit Σ, so nothing rests on a
summation convention the reader has to know.

>>> from ..core.algebra import einsum, tensor
>>> y = einsum("ij,j->i", tensor("W", 2), tensor("x", 1))
>>> print(index_notation(y))
y[i] = Σ_j W[i,j] x[j]
>>> print(index_notation(y, ascii=True))
y[i] = sum_j W[i,j] * x[j]
>>> latex(y)
'y_{i} = \\\\sum_{j} W_{ij} x_{j}'
"""
from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass, field, replace

from ..core.functions import get
from ..core.ir import (
    DEEP, Call, Delta, Dim, Expr, Ref, Size, Stretch, Term, Var, dim_text, fresh, instantiate, is_sum,
    postorder,
)
from ..core.ir import variables
from .label import Label

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
    fixed: frozenset = field(default=frozenset(), compare=False)  # positions an index is fixed at (see fixed_reads)

    def indices(self, idx) -> str:
        if not idx:
            return ""
        joined = "".join(idx) if all(len(a) == 1 and a.isalpha() for a in idx) else ",".join(idx)
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


def unused_name(preferred: tuple[str, ...], taken) -> str:
    """The first of ``preferred`` not in ``taken``; if every one is, the first with a number added."""
    numbered = (f"{preferred[0]}{k}" for k in itertools.count(1))
    return next(n for n in itertools.chain(preferred, numbered) if n not in taken)


def result_name(expr: Expr) -> str:
    """What an unnamed result prints as: ``y``, or ``f`` where it reads a tensor ``y`` (never an input's name).

    >>> from ..core.algebra import leaf, matmul
    >>> result_name(matmul(leaf("W", (2, 3)), leaf("x", (3,)))), result_name(matmul(leaf("W", (2, 3)), leaf("y", (3,))))
    ('y', 'f')
    """
    return unused_name(("y", "f", "z", "out"), {v.name for v in variables(expr)})


def index_notation(expr: Expr, ascii: bool = False, name: str | Label | None = None) -> str:
    """``name[out] = terms``, e.g. ``y[i] = Σ_j W[i,j] x[j]`` (see :func:`equation`; unnamed, see
    :func:`result_name`)."""
    style = ASCII if ascii else UNICODE
    return equation(left_side(name or result_name(expr), expr.out, style), expr, style, _bare(expr, name))


def _bare(expr: Expr, name) -> bool:
    """Whether ``expr`` is the tensor ``name`` itself, read at its own indices: printed ``W1[i,j]``, not the
    tautology ``W1[i,j] = W1[i,j]``."""
    (t,) = expr.terms if len(expr.terms) == 1 else (None,)
    f = t.factors[0] if t is not None and t.coef == 1 and len(t.factors) == 1 else None
    return isinstance(f, Ref) and isinstance(f.node, Var) and f.node.name == name and f.idx == expr.out


def equation(lhs: str, expr: Expr, style: Style, bare: bool = False) -> str:
    """``lhs = terms``; where ``expr`` is deep or that runs past :data:`LONG` characters, the
    :func:`equations` of its intermediates, ending in ``lhs``; ``lhs`` alone where ``bare``."""
    if bare:
        return lhs
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

    >>> from ..core.algebra import add, apply, einsum, tensor
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
        shown_number = number if style.ascii else number.translate(_SUBSCRIPT)
        label = letter + (f"^{{({number})}}" if style.latex else shown_number)
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


def left_side(name, out, style: Style) -> str:
    """``name[out]``, or for a :class:`~einsumgrad.notation.label.Label` the derivative it names, its indices
    its own: ``∂y[i]/∂W[j,k]``, ``∂²f/∂x[i]∂x[j]``, ``dup(∂f/∂S)[i,j]``, ``Hv[i]``; in ASCII
    ``d y[i] / d W[j,k]``, in LaTeX ``\\frac{\\partial y_{i}}{\\partial W_{jk}}``.

    >>> from .label import Label
    >>> left_side(Label("f").by("x", "i").by("x", "j"), (), ASCII)
    'd^2 f / d x[i] d x[j]'
    """
    if isinstance(name, Label):
        name = name.shown()  # a slice's label, read at its positions: ∂L/∂Φ[l,1,0], L[0]
        if not name.wrt:
            name, out = name.f, name.f_idx
    if not isinstance(name, Label):
        return (latex_name(name) if style.latex else name) + style.indices(out)
    if name.direction:
        return left_side("Hv", name.indices, style)
    if name.convention:
        inner = _partial(replace(name, convention="").bare(), style)
        shown = rf"\operatorname{{dup}}\left({inner}\right)" if style.latex else f"dup({inner})"
        return shown + style.indices(name.indices)
    return _partial(name, style)


def _partial(label: Label, style: Style) -> str:
    """``∂ⁿf[…]/∂x[…]∂y[…]`` in ``style``."""
    at, n = style.indices, label.order
    if style.latex:
        below = " ".join(rf"\partial {latex_name(x)}{at(idx)}" for x, idx in label.wrt)
        power = "" if n == 1 else f"^{{{n}}}"
        return rf"\frac{{\partial{power} {latex_name(label.f)}{at(label.f_idx)}}}{{{below}}}"
    if style.ascii:
        below = " ".join(f"d {x}{at(idx)}" for x, idx in label.wrt)
        return f"d{'' if n == 1 else f'^{n}'} {label.f}{at(label.f_idx)} / {below}"
    power = "" if n == 1 else str(n).translate(_SUPERSCRIPT)
    return f"∂{power}{label.f}{at(label.f_idx)}/" + "".join(f"∂{x}{at(idx)}" for x, idx in label.wrt)


def _worth_naming(node) -> bool:
    """A function (not a power, which prints inline as ``h²``) or a sum: not a plain read."""
    if isinstance(node, Call):
        return node.fn != "pow"
    return isinstance(node, Expr) and is_sum(node)


def latex(expr: Expr, name: str | Label | None = None) -> str:
    return equation(left_side(name or result_name(expr), expr.out, LATEX), expr, LATEX, _bare(expr, name))


_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
          "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
          "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}


def atomic(text: str) -> bool:
    """Whether ``text`` needs no brackets when juxtaposed: no space outside brackets."""
    depth = 0
    for c in text:
        depth += c in "(["
        depth -= c in ")]"
        if depth == 0 and c == " ":
            return False
    return True


def latex_name(name: str) -> str:
    """``W``, ``\\Phi`` (for ``Phi`` or ``Φ``), ``\\mathrm{W1}``, ``\\mathcal{L}`` (for ``𝓛``).

    >>> latex_name("Θ"), latex_name("Θ1"), latex_name("x_0"), latex_name("_")
    ('\\\\Theta', '\\\\mathrm{\\\\Theta 1}', '\\\\mathrm{x\\\\_0}', '\\\\_')
    """
    if name in _GREEK:
        return "\\" + name
    if len(name) == 1:
        return (latex_symbol(name) or ("\\_" if name == "_" else name)).strip()
    return r"\mathrm{" + "".join(latex_symbol(c) or ("\\_" if c == "_" else c) for c in name).strip() + "}"


def latex_operator(fn: str) -> str:
    """A function's name as a textbook sets it: a word as an operator (``\\operatorname{abs}``), a letter as a
    letter (``h``, ``\\sigma``), its primes outside (``h'`` for ``h′``).

    >>> latex_operator("h′"), latex_operator("log_softmax"), latex_operator("σ")
    ("h'", '\\\\operatorname{log\\\\_softmax}', '\\\\sigma')
    """
    name = fn.rstrip("′'")
    primes = "'" * (len(fn) - len(name))
    if len(name) == 1:
        return latex_name(name) + primes
    return r"\operatorname{" + "".join(latex_symbol(c) or ("\\_" if c == "_" else c) for c in name).strip() + "}" + primes


_MATH_SYMBOLS = {
    "∂": r"\partial", "Σ": r"\Sigma", "⊗": r"\otimes", "⊙": r"\odot", "∘": r"\circ",
    "−": "-", "·": r"\cdot", "×": r"\times", "÷": r"\div", "±": r"\pm", "′": "'", "″": "''", "‴": "'''",
    "⟨": r"\langle", "⟩": r"\rangle", "‖": r"\|", "≈": r"\approx", "≠": r"\neq", "≤": r"\leq", "≥": r"\geq",
    "→": r"\to", "↦": r"\mapsto", "←": r"\leftarrow", "∞": r"\infty", "𝟙": r"\mathbf{1}", "µ": r"\mu ",
    "½": r"\tfrac{1}{2}", "⅓": r"\tfrac{1}{3}", "¼": r"\tfrac{1}{4}", "¾": r"\tfrac{3}{4}",
}
_SCRIPTS = {"^": dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁽⁾ⁿᵃᵀᴴ", [*"0123456789-()na", r"\top", "H"])),
            "_": dict(zip("₀₁₂₃₄₅₆₇₈₉", "0123456789"))}
_TEXT_SYMBOLS = {"—": "---", "–": "--", "…": r"\ldots{}", "§": r"\S{}", "‘": "`", "’": "'", "“": "``", "”": "''"}
_ALPHABETS = {"SCRIPT": r"\mathcal", "BOLD": r"\mathbf", "DOUBLE-STRUCK": r"\mathbf"}
_LATEX_SPECIALS = {c: "\\" + c for c in "&%$#_{}"} | {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}


def latex_symbol(c: str) -> str | None:
    """A non-ASCII character, or a run of superscripts or subscripts, in math mode for plain pdflatex
    with amsmath: ``\\partial `` for ``∂``, ``\\Theta `` for ``Θ``, ``^{- 1}`` for ``⁻¹``,
    ``\\mathcal{L}`` for ``𝓛``; None for an ASCII character, or one it knows no command for."""
    if c.isascii():
        return None
    if c in _MATH_SYMBOLS:  # a command ends in a space, so that a letter may follow: \\partial L
        return _MATH_SYMBOLS[c] + " " * _MATH_SYMBOLS[c][-1].isalpha()
    script = next((mark for mark, chars in _SCRIPTS.items() if c[0] in chars), None)
    if script:  # a run of superscripts or subscripts: ⁻¹ is ^{-1}
        return script + "{" + " ".join(_SCRIPTS[script][s] for s in c) + "}"
    words = unicodedata.name(c, "").split()
    if "GREEK" in words and unicodedata.category(c).startswith("L"):
        spelled = words[-1].lower() if "SMALL" in words else words[-1].capitalize()
        return "\\" + spelled + " " if spelled in _GREEK else None
    plain = unicodedata.normalize("NFKC", c)
    if plain.isascii() and plain.isalnum():
        style = next((v for k, v in _ALPHABETS.items() if k in words), None)
        return f"{style}{{{plain}}}" if style and plain.isalpha() else plain
    return None


def latex_text(text: str) -> str:
    r"""Prose for LaTeX's text mode under plain pdflatex: its special characters escaped, its
    symbols set in math: ``∂L/∂W = g xᵀ`` -> ``$\partial$L/$\partial$W = g x$^{\top}$``.

    >>> latex_text("Σ_i of ½‖x‖²")
    '$\\Sigma$\\_i of $\\tfrac{1}{2}\\|$x$\\|^{2}$'
    """
    out: list[list] = []  # [is math, text] runs
    for c in _script_runs(text):
        math = latex_symbol(c)
        if c in _LATEX_SPECIALS or c.isascii() or c in _TEXT_SYMBOLS or not math:
            unaccented = unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode() or "?"
            piece = _LATEX_SPECIALS.get(c) or _TEXT_SYMBOLS.get(c) or (c if c.isascii() else unaccented)
            math = None
        if out and out[-1][0] == bool(math):
            out[-1][1] += math or piece
        else:
            out.append([bool(math), math or piece])
    return "".join(f"${t.strip()}$" if is_math else t for is_math, t in out)


def _script_runs(text: str) -> list[str]:
    """``text`` in characters, each run of superscripts (or of subscripts) one piece: ``x⁻¹`` -> ``x``, ``⁻¹``."""
    pieces: list[str] = []
    for c in text:
        kind = next((mark for mark, chars in _SCRIPTS.items() if c in chars), None)
        if kind and pieces and pieces[-1][-1] in _SCRIPTS[kind]:
            pieces[-1] += c
        else:
            pieces.append(c)
    return pieces


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
    own, (t, fixed) = t.indices(), fixed_reads(t, out, style.fixed)
    style = style if fixed == style.fixed else replace(style, fixed=fixed)
    summed = [a for a in t.indices() if a not in out and a in own]
    inner_scope = set(scope) | set(out) | set(t.indices())
    factors = [render_factor(f, inner_scope, style) for f in t.factors if not isinstance(f, Stretch)]
    coef = t.coef
    sign = ""
    if isinstance(coef, (int, float)) and coef < 0:
        sign, coef = "-", -coef
    body = style.times.join(factors)
    if coef != 1 or not factors:
        c = _number(coef, style)
        body = c + (style.times if style.ascii and factors else " " if factors else "") + body
    return sign + style.summation(summed) + body


def fixed_reads(t: Term, out, fixed=frozenset()) -> tuple[Term, frozenset]:
    """``t`` with each selection on a summed index (``δ[j,1]``, ``δ[a,2b+1]``) read into the factors
    instead: ``Σ_j x[j] δ[j,1]`` prints as ``x[1]``, ``Σ_a x[a] δ[a,2b+1]`` as ``x[2b+1]``; and ``fixed``
    with the positions an int index put in (``1``), which a delta inside a function's argument then
    meets: ``sign(… - δ[j,k])`` read at ``k = 0`` prints the identity's entry ``I[j,0]``. A position
    already fixed is not read again (indexing leaves two only where the axis's length is unknown: ``I[0,-1]``).

    >>> from ..core.algebra import tensor
    >>> from ..library.selection import index
    >>> print(index_notation(index(tensor("P", (4, 3, 2)), (slice(None), 0, slice(1, None)))))
    y[i,l] = P[i,0,l+1]
    """
    for f in t.factors:
        if not (isinstance(f, Ref) and isinstance(f.node, Call)):
            continue
        fn = get(f.node.fn)
        if fn.as_delta:
            a, position = fn.as_delta(f.idx, *f.node.params)
            if a not in out and a not in fixed and a in f.idx and position not in t.indices():
                rest = Term(t.coef, tuple(g for g in t.factors if g is not f))
                return fixed_reads(rest.rename({a: position}), out, fixed | ({position} if len(f.idx) == 1 else set()))
    return t, frozenset(fixed)


def _number(c, style: Style | None = None) -> str:
    """A coefficient, six significant digits; in LaTeX a power of ten as ``10^{-7}``, not ``1e-07``.

    >>> _number(0.5), _number(1.5e-07), _number(1.5e-07, LATEX), _number(3)
    ('0.5', '1.5e-07', '1.5 \\\\times 10^{-7}', '3')
    """
    text = f"{c:.6g}" if isinstance(c, float) else str(c)
    if style is not None and style.latex and "e" in text and isinstance(c, float):
        mantissa, exponent = text.split("e")
        return ("" if mantissa == "1" else mantissa + r" \times ") + f"10^{{{int(exponent)}}}"
    return text


def show_dim(d: Dim) -> str:
    """An axis length as printed: ``3``, ``size(W,0)``, ``size(A,0)·size(B,0)``."""
    return dim_text(d, lambda a: f"size({a[0]},{a[1]})")


def render_factor(f, names, style: Style) -> str:
    if isinstance(f, Delta):
        if style.fixed & {f.a, f.b}:  # a delta of an argument read at a fixed position: the identity's entry
            return "I" + style.indices((f.a, f.b))
        if style.ascii:
            return f"delta({f.a},{f.b})"
        return style.delta + style.indices((f.a, f.b))
    if isinstance(f, Size):
        return show_dim(f.dim)
    node, idx = f.node, f.idx
    if node in style.named:
        return style.named[node] + style.indices(idx)
    if isinstance(node, Var):
        return latex_name(node.name) + style.indices(idx) if style.latex else node.name + style.indices(idx)
    if isinstance(node, Expr):
        return fenced(render_sum(instantiate(node, idx, names), idx, style, names), style)
    return _render_call(node, idx, names, style)


def fenced(text: str, style: Style) -> str:
    """``(text)``; in LaTeX ``\\left( text \\right)``, brackets that grow with what they hold.

    >>> fenced("a + b", LATEX)
    '\\\\left(a + b\\\\right)'
    """
    return rf"\left({text}\right)" if style.latex else f"({text})"


def _render_call(node: Call, idx, names, style: Style) -> str:
    fn = get(node.fn)
    if fn.as_delta:
        a, b = fn.as_delta(idx, *node.params)
        return render_factor(Delta(a, b, 0), names, style)
    if get(node.fn).elementwise:  # read the argument at the same indices
        named = style.named.get(node.arg)
        inner = named + style.indices(idx) if named else render_sum(instantiate(node.arg, idx, names), idx, style, names)
        if node.fn == "pow":
            return _power(inner, node.params[0], style, simple=_is_atom(node.arg))
        if fn.show is not None:
            text = fn.show(node.fn, inner, node.params, 0)
            return text if atomic(text) else fenced(text, style)
        if style.latex:
            head = "\\" + node.fn if node.fn in _LATEX_FUNCTIONS else latex_operator(node.fn)
            return rf"{head}\left({inner}\right)"
        return f"{node.fn}({inner})"
    arg = node.arg
    plain = len(arg.terms) == 1 and len(arg.terms[0].factors) == 1 and arg.terms[0].coef == 1
    ref = arg.terms[0].factors[0] if plain else None
    if arg in style.named:
        inner = style.named[arg]
    elif isinstance(ref, Ref) and isinstance(ref.node, Var) and ref.idx in (arg.out, arg.out[::-1]):
        transpose = "^T" if style.ascii else r"^{\top}" if style.latex else "ᵀ"
        inner = (latex_name(ref.node.name) if style.latex else ref.node.name) + ("" if ref.idx == arg.out else transpose)
    elif (along := _render_along(node, idx, names, style)) is not None:
        return along
    else:
        inner = "[" + ",".join(arg.out) + "] -> " + render_sum(arg.terms, arg.out, style, arg.index_set())
    if style.latex and node.fn == "inv":  # X^{-1}, (X^{-1})_{ji}
        base = inner if "^" not in inner and "->" not in inner else rf"\left({inner}\right)"
        return f"({base}^{{-1}})" + style.indices(idx) if idx else f"{base}^{{-1}}"
    show = get(node.fn).show
    if show is not None:
        norm_bar = "|" if style.ascii else r"\|" if style.latex else "‖"
        text = show(node.fn, inner, node.params, arg.ndim).replace("‖", norm_bar)
        text = text.replace(f"{node.fn}(", latex_operator(node.fn) + "(", 1) if style.latex else text
        return (text if atomic(text) or not idx else fenced(text, style)) + style.indices(idx)
    if style.latex:
        return rf"{latex_operator(node.fn)}\left({inner}\right)" + style.indices(idx)
    return f"{node.fn}({inner})" + style.indices(idx)


_LATEX_FUNCTIONS = {"exp", "log", "tanh", "sin", "cos", "det"}


def _render_along(node: Call, idx, names, style: Style) -> str | None:
    """A function along axes of an expression, its axes named as the subscript: ``softmax_j(Σ_k W[i,k] X[k,j])``
    for ``softmax`` along ``j`` read at ``[i,j]``, ``logsumexp_j(…)`` for a reduction read at ``[i]`` (index
    notation reads it back); None for another function, a norm (which has its own bars), several axes or a
    diagonal read."""
    fn = get(node.fn)
    if fn.kind != "along axes" or node.fn == "norm" or len(node.params[0]) != 1 or len(set(idx)) != len(idx):
        return None
    arg, (axes_,) = node.arg, node.params
    kept = [k for k in range(arg.ndim) if k not in axes_]
    if len(fn.result_shape(arg.dims, *node.params)) == arg.ndim:
        inner_idx = tuple(idx)
    elif len(idx) == len(kept):
        summed = iter(fresh(len(axes_), set(names) | set(idx)))
        at = dict(zip(kept, idx))
        inner_idx = tuple(at[k] if k in at else next(summed) for k in range(arg.ndim))
    else:
        return None
    taken = set(names) | set(inner_idx)
    inner = render_sum(instantiate(arg, inner_idx, taken), inner_idx, style, taken)
    sub = ",".join(inner_idx[k] for k in axes_)
    if style.latex:
        return rf"{latex_operator(node.fn)}_{{{sub}}}\left({inner}\right)"
    return f"{node.fn}_{sub}({inner})"


def _is_atom(expr: Expr) -> bool:
    (t,) = expr.terms if len(expr.terms) == 1 else (None,)
    return t is not None and t.coef == 1 and len(t.factors) == 1 and set(t.indices()) <= set(expr.out) \
        and not isinstance(t.factors[0], Stretch)


def _power(inner: str, c, style: Style, simple: bool) -> str:
    base = inner if simple else fenced(inner, style)
    if style.latex:
        return f"{{{base}}}^{{{_number(c, style)}}}"
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

