"""Matrix formulas as trees: :class:`Name`, :class:`Ones` (``𝟙``), :class:`Product`, :class:`Transpose`,
… and their printers :func:`unicode` and :func:`latex`, one walk over the tree in two styles.
:mod:`einsumgrad.notation.matrix` builds the trees from the IR; callers compose with them
(``tr(Gᵀ dW)``, ``∂vec(y)/∂vec(x)ᵀ = xᵀ ⊗ I``).

>>> f = Sum((Product((Name("X"), Name("W"))), Product((Ones(), transpose(Name("b"))))))
>>> unicode(f), latex(f)
('X W + 𝟙 bᵀ', 'X W + \\\\mathbf{1} b^{\\\\top}')
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Union

from ..core.functions import get
from ..core.ir import Dim
from .render import atomic as _atomic, latex_name, latex_operator

_SUP = str.maketrans("-0123456789.", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹·")


@dataclass(frozen=True)
class Name:
    """A tensor, or a name a caller composes with (``G``, ``dW``)."""

    name: str
    symmetric: bool = False


@dataclass(frozen=True)
class Identity:
    """``I``, of ``dim`` rows; ``size`` names that size where it is written (``I_m``)."""

    dim: Dim = None
    size: str = ""


@dataclass(frozen=True)
class Ones:
    """``𝟙``, the vector of ``dim`` ones."""

    dim: Dim = None


@dataclass(frozen=True)
class Number:
    value: complex


@dataclass(frozen=True)
class Commutation:
    """``K``, the commutation matrix: ``K vec(X) = vec(Xᵀ)``."""


@dataclass(frozen=True)
class Paren:
    body: Formula


@dataclass(frozen=True)
class Transpose:
    body: Formula  # atomic


@dataclass(frozen=True)
class Inverse:
    """``A⁻¹``, or ``A⁻ᵀ`` where ``transposed``."""

    body: Formula  # atomic
    transposed: bool = False


@dataclass(frozen=True)
class Power:
    """``x^∘c`` elementwise, or ``s²`` of a scalar."""

    base: Formula  # atomic
    exponent: float
    elementwise: bool


@dataclass(frozen=True)
class Product:
    """Factors side by side (matrix products, a scalar times a matrix)."""

    factors: tuple


@dataclass(frozen=True)
class Hadamard:
    left: Formula
    right: Formula


@dataclass(frozen=True)
class Kron:
    factors: tuple


@dataclass(frozen=True)
class Sum:
    parts: tuple  # a part with a leading minus prints as `` - ``


@dataclass(frozen=True)
class Scaled:
    coef: complex
    body: Formula


@dataclass(frozen=True)
class Apply:
    """A registered function of a formula: ``tanh(W x)``, ``‖x‖``, ``A⁻¹`` aside (:class:`Inverse`);
    ``rank`` is what its ``show`` is told (0 for an elementwise function)."""

    fn: str
    arg: Formula
    params: tuple = ()
    rank: int = 0


@dataclass(frozen=True)
class Trace:
    body: Formula


@dataclass(frozen=True)
class Diag:
    body: Formula


@dataclass(frozen=True)
class Vec:
    """``vec(X)``, the columns of ``X`` stacked."""

    body: Formula


@dataclass(frozen=True)
class Partial:
    """``∂y/∂x``."""

    num: Formula
    den: Formula


@dataclass(frozen=True)
class Equation:
    sides: tuple


Formula = Union[Name, Identity, Ones, Number, Commutation, Paren, Transpose, Inverse, Power, Product, Hadamard,
                Kron, Sum, Scaled, Apply, Trace, Diag, Vec, Partial, Equation]
_PLAIN = (Name, Identity, Ones, Number, Commutation, Paren, Transpose, Inverse, Power, Trace, Diag, Vec)


def atomic(f: Formula | None) -> bool:
    """Whether ``f`` needs no brackets when juxtaposed (it prints with no space outside brackets)."""
    if f is None or isinstance(f, _PLAIN):
        return True
    if isinstance(f, Scaled):
        return f.coef in (1, -1) and atomic(f.body)
    if isinstance(f, Apply):
        return _atomic(_show(f, unicode(f.arg)))
    if isinstance(f, (Product, Sum, Kron)):
        items = f.factors if isinstance(f, (Product, Kron)) else f.parts
        return len(items) == 1 and atomic(items[0])
    return False


def paren(f: Formula | None) -> Formula | None:
    """``f``, bracketed unless it is atomic."""
    return f if atomic(f) else Paren(f)


def factor(f: Formula | None) -> Formula | None:
    """``f`` ready to be a factor of a product: bracketed where it is a sum or a Hadamard or
    Kronecker product (``tr((A + B) dW)``), as it is (``tr(A B dW)``) otherwise."""
    return Paren(f) if isinstance(f, (Sum, Hadamard, Kron)) else f


def transpose(f: Formula | None) -> Formula | None:
    """``Aᵀ``, ``(A B)ᵀ``, ``A⁻ᵀ``, ``(x^∘2)ᵀ``; ``Aᵀ`` gives ``A``; ``I`` and nothing stay.

    >>> unicode(transpose(Product((Name("A"), Name("B"))))), unicode(transpose(Transpose(Name("A"))))
    ('(A B)ᵀ', 'A')
    """
    if f is None or isinstance(f, Identity) or f == Name("I") or (isinstance(f, Name) and f.symmetric):
        return f
    if isinstance(f, Inverse):
        return Inverse(f.body, not f.transposed)
    if isinstance(f, Transpose):
        return f.body
    if not atomic(f) or (isinstance(f, Power) and f.elementwise):
        return Transpose(Paren(f))
    return Transpose(f)


def product(*factors: Formula | None) -> Formula | None:
    """The factors side by side, nested products flattened; ``None`` (nothing) where there are none."""
    flat: list = []
    for f in factors:
        if isinstance(f, Product):
            flat += f.factors
        elif f is not None:
            flat.append(f)
    return None if not flat else flat[0] if len(flat) == 1 else Product(tuple(flat))


def scaled(coef, f: Formula | None) -> Formula:
    """``coef f``: ``f``, ``-f``, ``2 f``, the number where there is no ``f``."""
    if f is None:
        return Number(coef)
    return f if coef == 1 else Scaled(coef, f)


def negative(f: Formula | None) -> bool:
    """Whether ``f`` prints with a leading minus (``-2 x``), which a sum prints as `` - ``."""
    if isinstance(f, Scaled):
        return (f.coef == -1 or (isinstance(f.coef, (int, float)) and f.coef < 0)) or (f.coef == 1 and negative(f.body))
    if isinstance(f, Number):
        return _num(f.value).startswith("-")
    if isinstance(f, (Product, Kron)):
        return negative(f.factors[0])
    if isinstance(f, Sum):
        return negative(f.parts[0])
    if isinstance(f, Hadamard):
        return negative(f.left)
    if isinstance(f, (Transpose, Power, Inverse)):
        return negative(f.body if not isinstance(f, Power) else f.base)
    return False


def _negated(f: Formula) -> Formula:
    """``f`` without its leading minus (for ``a - b``)."""
    if isinstance(f, Scaled):
        return f.body if f.coef == -1 else Scaled(-f.coef, f.body) if f.coef != 1 else Scaled(1, _negated(f.body))
    if isinstance(f, Number):
        return Number(-f.value)
    if isinstance(f, (Product, Kron)):
        return type(f)((_negated(f.factors[0]),) + f.factors[1:])
    if isinstance(f, Sum):
        return Sum((_negated(f.parts[0]),) + f.parts[1:])
    if isinstance(f, Hadamard):
        return Hadamard(_negated(f.left), f.right)
    if isinstance(f, Power):
        return Power(_negated(f.base), f.exponent, f.elementwise)
    return type(f)(_negated(f.body), *([f.transposed] if isinstance(f, Inverse) else []))


def _num(c) -> str:
    return f"{c:.6g}" if isinstance(c, float) else str(c)


def _show(f: Apply, arg: str) -> str:
    """The call as its function prints it, around the argument's text ``arg`` (in either style)."""
    fn = get(f.fn)
    if fn.show is not None:
        return fn.show(f.fn, arg, f.params, f.rank)
    if f.fn == "logdet":
        return f"log|det({arg})|"
    return f"{f.fn}({arg})"


# printing ---------------------------------------------------------------------
def unicode(f: Formula | None) -> str:
    """The formula in Unicode: ``A⁻ᵀ y (A⁻¹ x)ᵀ``, ``X W + 𝟙 bᵀ``."""
    return _print(f, _UNICODE)


def latex(f: Formula | None) -> str:
    r"""The formula in LaTeX for plain pdflatex with amsmath: ``g x^{\top}``, ``A^{-1}``, ``\Phi``.

    >>> latex(Product((Trace(Product((Inverse(Name("Φ")), Name("A")))), Hadamard(Name("x"), Ones()))))
    '\\operatorname{tr}(\\Phi^{-1} A) x \\odot \\mathbf{1}'
    """
    return _print(f, _LATEX)


@dataclass(frozen=True)
class _Style:
    latex: bool
    top: str
    inverse: tuple[str, str]
    ones: str
    hadamard: str
    kron: str
    partial: str
    open: str
    close: str


_UNICODE = _Style(False, "ᵀ", ("⁻¹", "⁻ᵀ"), "𝟙", " ⊙ ", " ⊗ ", "∂", "(", ")")
_LATEX = _Style(True, r"^{\top}", ("^{-1}", r"^{-\top}"), r"\mathbf{1}", r" \odot ", r" \otimes ", r"\partial ",
                "(", ")")  # a formula is one line high: plain brackets, as the textbooks set it
_LATEX_FUNCTIONS = {"exp", "log", "tanh", "sin", "cos", "det"}


def _print(f: Formula | None, s: _Style) -> str:
    """``f`` in style ``s``; nothing prints as the empty text (a ``𝟙`` of length 1)."""
    if f is None:
        return ""
    p = lambda g: _print(g, s)  # noqa: E731
    if isinstance(f, Name):
        return latex_name(f.name) if s.latex else f.name
    if isinstance(f, Identity):
        return "I" + (f"_{{{f.size}}}" if s.latex else f"_{f.size}") * bool(f.size)
    if isinstance(f, Ones):
        return s.ones
    if isinstance(f, Number):
        return _num(f.value)
    if isinstance(f, Commutation):
        return "K"
    if isinstance(f, Paren):
        return s.open + p(f.body) + s.close
    if isinstance(f, Transpose):
        return _scripted(f.body, s) + s.top
    if isinstance(f, Inverse):
        return _scripted(f.body, s) + s.inverse[f.transposed]
    if isinstance(f, Power):
        c = _num(f.exponent)
        if s.latex:
            return _scripted(f.base, s) + (rf"^{{\circ {c}}}" if f.elementwise else f"^{{{c}}}")
        return p(f.base) + ("^∘" + c if f.elementwise else c.translate(_SUP))
    if isinstance(f, Product):
        return " ".join(filter(None, map(p, f.factors)))
    if isinstance(f, Hadamard):
        return p(f.left) + s.hadamard + p(f.right)
    if isinstance(f, Kron):
        return s.kron.join(map(p, f.factors))
    if isinstance(f, Sum):
        return "".join((" - " + p(_negated(g)) if negative(g) else " + " + p(g)) if k else p(g)
                       for k, g in enumerate(f.parts))
    if isinstance(f, Scaled):
        body = p(f.body)
        if f.coef == 1:
            return body
        if f.coef == -1:
            return "-" + body
        if isinstance(f.coef, (int, float)) and f.coef < 0:
            return f"-{_num(-f.coef)} {body}"
        return f"{_num(f.coef)} {body}"
    if isinstance(f, Apply):
        return _latex_call(f, s) if s.latex else _show(f, p(f.arg))
    if isinstance(f, (Trace, Diag, Vec)):
        name = {Trace: "tr", Diag: "diag", Vec: "vec"}[type(f)]
        return (latex_operator(name) if s.latex else name) + s.open + p(f.body) + s.close
    if isinstance(f, Partial):
        return f"{s.partial}{p(f.num)}/{s.partial}{p(f.den)}"
    if isinstance(f, Equation):
        return " = ".join(map(p, f.sides))
    raise TypeError(f"not a matrix formula: {f!r}")


def _scripted(f: Formula, s: _Style) -> str:
    """``f`` ready for a superscript: in LaTeX, braced where it ends in one already (``{A^{\\top}}^{\\circ 2}``)."""
    text = _print(f, s)
    return "{" + text + "}" if s.latex and isinstance(f, (Transpose, Inverse, Power)) else text


def _latex_call(f: Apply, s: _Style) -> str:
    arg = _print(f.arg, s)
    fn = get(f.fn)
    if fn.show is not None:
        text = fn.show(f.fn, arg, f.params, f.rank).replace("‖", r"\|")
        return text.replace(f"{f.fn}(", latex_operator(f.fn) + "(", 1)
    if f.fn == "logdet":
        return rf"\log|\det({arg})|"
    head = "\\" + f.fn if f.fn in _LATEX_FUNCTIONS else latex_operator(f.fn)
    return f"{head}({arg})"


def row(f: Formula) -> Formula:
    """``f`` transposed, a product of two turned as ``(A v)ᵀ = vᵀ Aᵀ`` and a number kept in front:
    ``Wᵀ g`` -> ``gᵀ W``, ``2 x`` -> ``2 xᵀ`` (the numerator layout's row).

    >>> unicode(row(Product((Transpose(Name("W")), Name("g")))))
    'gᵀ W'
    """
    if isinstance(f, Product) and len(f.factors) == 2:
        return product(transpose(f.factors[1]), transpose(f.factors[0]))
    if isinstance(f, Scaled) and f.coef not in (1, -1) and atomic(f.body):
        return Scaled(f.coef, transpose(f.body))
    return transpose(f)


def sized(f: Formula, sizes: dict) -> Formula:
    """``f`` with each identity whose size ``sizes`` names written with it (``I`` -> ``I_m``).

    >>> unicode(sized(Kron((Transpose(Name("x")), Identity("n"))), {"n": "m"}))
    'xᵀ ⊗ I_m'
    """
    if isinstance(f, Identity):
        return replace(f, size=sizes.get(f.dim, f.size))
    if not hasattr(f, "__dataclass_fields__"):
        return f
    changes = {}
    for field in fields(f):
        value = getattr(f, field.name)
        if isinstance(value, tuple):
            changes[field.name] = tuple(sized(g, sizes) for g in value)
        elif hasattr(value, "__dataclass_fields__"):
            changes[field.name] = sized(value, sizes)
    return replace(f, **changes)


def commutes(f: Formula) -> bool:
    """Whether the formula holds the commutation matrix ``K``."""
    if isinstance(f, Commutation):
        return True
    children = [getattr(f, a) for a in ("body", "base", "arg", "left", "right", "num", "den") if hasattr(f, a)]
    children += list(getattr(f, "factors", ()) or getattr(f, "parts", ()) or getattr(f, "sides", ()))
    return any(commutes(g) for g in children if g is not None)
