r"""LaTeX as input: ``parse_latex(r"\mathscr{L} = \beta\sum_{i=1}^{m} |\Phi_{i}^{\top}\Phi_{i} - \mathbb{I}_{n}|_{jk}")``.

A hand-written tokenizer and recursive-descent parser over a documented subset of LaTeX math (nothing is
``eval``'d; linear time; at most :data:`~einsumgrad.doors.indexed.MAX_LENGTH` characters, nesting at most
:data:`~einsumgrad.doors.indexed.MAX_DEPTH`). No maintained parser fits: SymPy's ``parse_latex`` (ANTLR) reads scalars
only, so ``X W`` and ``\Phi_i^\top`` lose their matrix meaning; pylatexenc walks macros but has no grammar of
math. The result is built with :mod:`einsumgrad.core.algebra`, as :mod:`einsumgrad.doors.indexed` builds index notation.

What it reads (what :func:`einsumgrad.notation.render.latex` prints reads back):

- statements ``L = …``, ``L(\Theta) = …``, ``y_{ij} = …`` or a bare right side, separated by ``;``, ``\\`` or a
  comma outside brackets (a final ``,`` or ``.`` is punctuation); they may come in any order (``L = f \cdot y;
  f = X W + b``): the result is the last statement no other reads. ``\begin{aligned}``, ``&``, ``$`` and spacing
  (``\,``, ``\quad``, ``\left``/``\right``) are skipped;
- declarations ``X \in \mathbb{R}^{M \times in}``: ``X``'s rank, and sizes named by symbols (``M``, ``in``) that
  other declarations, sums' upper limits and ``\mathbb{I}_{n}`` share;
- names: one letter (``W x`` is ``W`` times ``x``), Greek letters (``\Theta`` is the tensor ``Θ``),
  ``\mathrm{W1}``; ``\mathscr{L}`` and ``\mathcal{L}`` are ``L``; ``\mathbf{x}`` is ``x``;
- subscripts are indices: ``W_{ij}`` (or ``W_{i,j}``) reads ``W`` at ``i, j``; fewer indices than the tensor's
  known rank are a slice, ``\Phi_{i}`` (the axes whose sizes are the indices' ranges, else the leading ones);
  ``(…)_{ij}`` and ``|…|_{jk}`` read a matrix at indices; ``[i,j] -> …`` makes indices the axes of a matrix;
  ``\delta_{ij}``;
- sums that say so: ``\sum_{i=1}^{m}``, ``\sum_{ij}``, ``\sum_{i,j}`` over the rest of their term (up to the
  next ``+``/``-`` outside brackets); ``\sum`` or ``\sum^{M}`` without an index sums every entry of the rest of
  the term. No summation convention: an index neither summed nor named on the left is an error;
- products: juxtaposition, ``\cdot``, ``\times`` and ``*`` multiply a scalar elementwise and matrices and vectors
  as matrices (``X W``, ``W x``, ``x^\top y``; a column times a row, ``x y^\top``, is their outer product);
  ``\circ``/``\odot`` is the Hadamard product; where the shapes known rule it out but a matrix product fits (the
  half-SSE question's ``X \circ \Theta``, ``M×in`` and ``in×out``), it is read as the matrix product and a note
  says how the two differ. ``\frac{a}{b}`` and ``/`` divide elementwise; sums broadcast as NumPy does;
- postfix: ``^\top``, ``^T``, ``^{\top}`` transpose; ``A^{-1}`` of a matrix is its inverse, any other power is
  elementwise (``(y - h(X\Theta))^2``);
- ``\mathbb{I}_{n}``, ``\mathbb{I}`` and ``I`` (unless shapes name a tensor ``I``): the identity, its size
  ``n`` or that of what it is added to; ``|…|`` is elementwise absolute value, ``\|…\|`` the Frobenius norm
  (``\|…\|_F``, ``\|…\|^2``);
- functions: ``\log``, ``\exp``, ``\tanh``, ``\sin``, ``\cos`` and ``\operatorname{name}`` (also ``\mathrm``,
  ``\text``) for einsumgrad's elementwise functions, elementwise; ``\operatorname{tr}``, ``\det``,
  ``\operatorname{logdet}``, ``\operatorname{inv}`` of matrices; a one-letter lower-case name before ``(``,
  ``h(X\Theta)``, is an elementwise function of your own (unless shapes name it a tensor).

Ranks: a tensor's rank comes from ``shapes``, a declaration, or its first use: as many as its subscripts
(``W_{ij}``), else a guess from its name (Greek lower case: a scalar, other lower case: a vector, upper case: a
matrix) or, added to a term (``y - h(X\Theta)``), that term's shape; each guess is a note. Refused, with a caret
and the nearest accepted form: unknown macros, ``\partial`` and other derivatives (ask for them instead), numeric
subscripts (``x_1``), unbalanced braces, one index with two ranges.

>>> print(parse_latex(r"y_{i} = \sum_{j} W_{ij} x_{j}"))
y[i] = Σ_j W[i,j] x[j]
>>> print(parse_latex(r"X \in \mathbb{R}^{m \times n}, w \in \mathbb{R}^{n}, y \in \mathbb{R}^{m}; L = \frac{1}{2}\|y - Xw\|^2"))
L = Σ_i 0.5 (y[i] - Σ_j X[i,j] w[j])²
"""
from __future__ import annotations

import difflib
import re
import unicodedata
import warnings
from dataclasses import dataclass

from ..core import algebra, functions
from ..core.functions import Builtin
from ..library import generic
from ..expression import Expression
from .indexed import MAX_LENGTH, Cursor, IndexNotationError, Token, tokenize
from ..core.ir import Dim, Expr, Term, fresh, instantiate
from ..library.selection import identity
from ..core.simplify import simplify


class LatexError(IndexNotationError):
    """LaTeX that cannot be read; carets point at the bad place, or at both uses of a clash."""


_TOKEN = re.compile(r"""
    (?P<space>(?:\s|\$|&|~|\\[,;:!> ]|\\(?:q?quad|displaystyle|textstyle|left|right|[bB]igg?[lr]?|nonumber|notag)
        (?![a-zA-Z])|\\(?:begin|end)\{[a-zA-Z*]+\})+)
  | (?P<sep>;|\\\\|\\cr(?![a-zA-Z]))
  | (?P<macro>\\[a-zA-Z]+|\\[|{}])
  | (?P<number>\d+(?:\.\d+)?(?:[eE]-?\d+)?|\.\d+)
  | (?P<letter>[^\W\d_])
  | (?P<op>->|[-+−*/=()\[\]{}|^_',.<>·×∘⊙ᵀ])
""", re.VERBOSE)
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
          "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"}
_VARIANTS = {"varepsilon": "ε", "vartheta": "θ", "varphi": "φ", "phi": "φ", "varrho": "ρ", "varsigma": "ς"}
_FONTS = {"mathscr", "mathcal", "mathbf", "boldsymbol", "mathit", "bm", "mathsf"}
_WORDS = {"mathrm", "text", "operatorname", "texttt", "textrm"}
_SPELLED = {"ln": "log", "tr": "trace", "Tr": "trace", "trace": "trace"}  # LaTeX's names for the registry's calls,
# where they differ: \ln is log; the trace, a built-in call, is read by these names only
_PRODUCTS = {"cdot": "·", "times": "·", "circ": "∘", "odot": "∘"}
_KNOWN = sorted(_GREEK | {g.capitalize() for g in _GREEK} | set(_VARIANTS) | _FONTS | _WORDS | set(_SPELLED)
                | set(_PRODUCTS) | {"sum", "frac", "dfrac", "tfrac", "top", "intercal", "mathbb", "in"})


def _function(word: str) -> tuple[str, str] | None:
    """What ``\\word`` calls, read off the registry: ``("call", name)`` for a public elementwise function
    (``\\tanh``), ``("matrix", name)`` for a function of a matrix (``\\det``, ``\\tr``); None for anything else.

    >>> _function("tanh"), _function("ln"), _function("Tr"), _function("softmax"), _function("sum")
    (('call', 'tanh'), ('call', 'log'), ('matrix', 'trace'), None, None)
    """
    name = _SPELLED.get(word, word)
    entry = functions.calls().get(name)
    if isinstance(entry, Builtin):
        return ("matrix", name) if word in _SPELLED else None
    if entry is None:
        return None
    return ("call", name) if entry.elementwise else ("matrix", name) if entry.kind == "matrix" else None


def parse_latex(text: str, shapes: dict | None = None) -> Expression:
    r"""The expression of the statement the others feed (see the module's docstring), its tensors named as typed
    (``\Theta`` is ``Θ``); ``shapes`` maps tensor names to shapes and index or size names to sizes. What was
    guessed or read in one of two ways is a warning.

    >>> print(parse_latex(r"A \in \mathbb{R}^{3 \times 3}; L = \operatorname{tr}(A^\top A)"))
    L = Σ_i,j A[i,j] A[i,j]
    """
    expr, notes = read_latex(text, shapes)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return expr


def read_latex(text: str, shapes: dict | None = None) -> tuple[Expression, tuple[str, ...]]:
    """:func:`parse_latex`'s expression and its notes (what was guessed), as the doors show them."""
    if not isinstance(text, str):
        raise LatexError(repr(text)[:80], [0], f"LaTeX is a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise LatexError(text, [MAX_LENGTH], f"LaTeX input has at most {MAX_LENGTH:,} characters; this has "
                         f"{len(text):,}")
    shapes = {unicodedata.normalize("NFKC", k): v for k, v in (shapes or {}).items()}
    return _Builder(text, shapes, _Parser(text).program()).result()


def name(text: str) -> str:
    r"""A tensor's name as LaTeX writes it, as :func:`parse_latex` names it (``\Theta`` is ``Θ``, ``\mathscr{L}``
    is ``L``); other text NFKC-normalized, as Python reads identifiers.

    >>> name(r"\Theta"), name(r"\mathscr{L}"), name("W")
    ('Θ', 'L', 'W')
    """
    text = unicodedata.normalize("NFKC", text.strip())
    try:
        parser = _Parser(text)
        found, _ = parser.name_token()
    except LatexError:
        return text
    return found if parser.peek.kind == "end" else text


# -- syntax: statements and trees of tuples (kind, position, ...)

class _Parser(Cursor):
    ACCEPTS, ERROR = ("op", "macro"), LatexError

    def __init__(self, text: str):
        self.text, self.tokens = text, tokenize(text, _TOKEN, LatexError)
        self.bars: list[str] = []  # |…| and \|…\| open: their bar closes a term

    def close(self, opener: Token, text: str) -> None:
        if not self.accept(text):
            raise self.error([opener.pos, self.peek.pos], f"unbalanced {opener.text!r}: expected {text!r} to close "
                             f"it, found {self.found()}")

    # statements
    def program(self) -> list:
        statements = []
        while self.peek.kind != "end":
            if self.peek.kind == "sep" or self.peek.text in (",", "."):
                self.take()
                continue
            statements.append(self.statement())
            if self.peek.kind not in ("sep", "end") and self.peek.text not in (",", "."):
                closing = self.peek.text in (")", "]", "}", r"\}")
                raise self.error(self.peek.pos, f"unbalanced {self.peek.text!r}: nothing open to close" if closing
                                 else f"unexpected {self.peek.text!r}: a statement ends with ';', '\\\\' or ','")
        if not statements:
            raise self.error(0, r"no formula: write one such as L = \frac{1}{2}\|y - Xw\|^2")
        return statements

    def statement(self):
        start = self.at
        if self.peek.kind in ("letter", "macro"):
            try:
                name, pos = self.name_token()
            except LatexError:
                name = None
            if name is not None:
                out = self.indices() if self.accept("_") else []
                if self.peek.text == "^" and self.tokens[self.at + 1].text == "{" and self.tokens[self.at + 2].text \
                        == "(":  # a label, z^{(1)}
                    self.take(), self.take()
                    label = "".join(self.take().text for _ in range(3))
                    self.expect("}", "to close the label")
                    name += label
                if self.peek.text == "(" and self.accept("("):  # L(\Theta) =: what it is a function of
                    opener, depth = self.tokens[self.at - 1], 1
                    while depth and self.peek.kind != "end":
                        depth += {"(": 1, ")": -1}.get(self.take().text, 0)
                    if depth:
                        raise self.error(opener.pos, "unbalanced '('")
                if self.accept("="):
                    return ("def", pos, name, out, self.sum())
                if self.accept(r"\in") and not out:
                    return ("decl", pos, name, None, self.space())
        self.at = start
        return ("expr", self.peek.pos, None, None, self.sum())

    def name_token(self) -> tuple[str, int]:
        """A tensor's name: a letter, ``\\Theta``, ``\\mathscr{L}``, ``\\mathrm{W1}``."""
        token = self.take()
        if token.kind == "letter":
            return token.text, token.pos
        word = token.text[1:]
        if word in _GREEK or word.lower() in _GREEK:
            case = "SMALL" if word.islower() else "CAPITAL"
            return unicodedata.lookup(f"GREEK {case} LETTER {word.upper()}"), token.pos
        if word in _VARIANTS:
            return _VARIANTS[word], token.pos
        if word in _FONTS | _WORDS:
            return self.word(token), token.pos
        raise self.error(token.pos, f"expected a name, found {token.text!r}")

    def word(self, token: Token) -> str:
        opener = self.expect("{", f"after {token.text}")
        letters = []
        while self.peek.kind in ("letter", "number") or self.peek.text == "_":
            letters.append(self.take().text)
        self.close(opener, "}")
        if not letters:
            raise self.error(opener.pos, f"{token.text}{{…}} holds a name here")
        return "".join(letters)

    def space(self) -> list:
        r"""``\mathbb{R}^{M \times in}``: the symbols (or sizes) of each axis."""
        if not (self.accept(r"\mathbb") and self.accept("{") and self.peek.text == "R" and self.take()
                and self.accept("}")):
            raise self.error(self.peek.pos, r"a declaration reads X \in \mathbb{R}^{m \times n}")
        if not self.accept("^"):
            return []
        opener = self.accept("{")
        axes = []
        while True:
            pos, symbol = self.peek.pos, []
            while self.peek.kind in ("letter", "number") or self.peek.text in ("{", "}") and opener is None:
                symbol.append(self.take().text)
            while self.peek.text in ("{", r"\text", r"\mathrm") and opener is not None:  # {in}, \text{out}
                if self.peek.kind == "macro":
                    symbol.append(self.word(self.take()))
                else:
                    inner = self.take()
                    while self.peek.kind in ("letter", "number"):
                        symbol.append(self.take().text)
                    self.close(inner, "}")
                while self.peek.kind in ("letter", "number"):
                    symbol.append(self.take().text)
            if not symbol:
                raise self.error(pos, r"expected a size, such as m or 3, in \mathbb{R}^{m \times n}")
            axes.append(("".join(symbol), pos))
            if opener is None or not self.accept(r"\times", "×"):
                break
        if opener is not None:
            self.close(opener, "}")
        return axes

    def indices(self) -> list[tuple[str, int]]:
        """``_{ij}``, ``_{i,j}``, ``_i``, ``_{\\text{n}}``: index letters and their positions."""
        opener = self.accept("{")
        out = []
        while True:
            token = self.peek
            if token.kind == "letter":
                out.append((self.take().text, token.pos))
            elif token.kind == "macro" and token.text[1:] in _WORDS | _FONTS:
                self.take()
                out.append((self.word(token), token.pos))
            elif token.kind == "macro" and (token.text[1:] in _GREEK or token.text[1:] in _VARIANTS):
                out.append(self.name_token())
            elif token.kind == "number":
                raise self.error(token.pos, f"a subscript here is an index, not a number ({token.text}): einsumgrad "
                                 "reads x_{i} with an index i")
            else:
                raise self.error(token.pos, f"expected an index, found {self.found()}")
            if opener is None:
                return out
            self.accept(",")
            if self.peek.text == "}":
                self.take()
                return out
            if self.peek.kind == "end":
                self.close(opener, "}")

    # expressions
    def sum(self):
        """``term (± term)*``: ``("add", position, [(sign, term), ...])``."""
        return ("add", *self.signed_terms())

    def term(self):
        """Factors joined by juxtaposition or an operator; a ``\\sum`` takes the rest of the term."""
        items, pos, op = [], self.peek.pos, ""
        while True:
            token = self.peek
            if token.text == r"\sum":
                items.append((op, self.summation()))
                return ("term", pos, items)
            if token.kind in ("end", "sep") or (token.kind == "op" and token.text in "+-−)]},.=") \
                    or token.text == r"\in" or token.text in self.bars:
                if not items or op:
                    raise self.error(token.pos, f"expected a factor, found {self.found()}")
                return ("term", pos, items)
            items.append((op, self.factor()))
            op = ""
            if self.peek.kind in ("op", "macro") and self.peek.text in ("*", "·", "×", "∘", "⊙", "/") \
                    or self.peek.text[1:] in _PRODUCTS and self.peek.kind == "macro":
                t = self.take().text
                op = "/" if t == "/" else "∘" if t in ("∘", "⊙") else _PRODUCTS.get(t[1:], "·")

    def summation(self):
        sigma = self.take()
        letters, upper = [], None
        if self.accept("_"):
            opener = self.accept("{")
            while self.peek.kind == "letter":
                letters.append((self.take().text, self.tokens[self.at - 1].pos))
                self.accept(",")
            if opener is not None and self.accept("="):
                while self.peek.text != "}" and self.peek.kind not in ("end", "sep"):
                    self.take()  # the lower limit: the sum is over the whole axis
            if opener is not None:
                self.close(opener, "}")
            if not letters:
                raise self.error(sigma.pos, r"a sum's subscript names its indices: \sum_{i=1}^{m}, \sum_{ij}")
        if self.accept("^"):
            opener = self.accept("{")
            symbol = [self.take().text] if opener is None else []
            while opener is not None and self.peek.text != "}" and self.peek.kind not in ("end", "sep"):
                token = self.take()
                symbol.append(self.word(token) if token.text[1:] in _WORDS else token.text)
            if opener is not None:
                self.close(opener, "}")
            upper = "".join(symbol)
        return ("sum", sigma.pos, letters, upper, self.term())

    def factor(self):
        token = self.peek
        self.nested(token.pos)
        tree = self.primary()
        while True:
            if self.peek.text == "_" and self.peek.kind == "op":
                self.take()
                if tree[0] == "norm":  # \|x\|_F, \|x\|_2
                    self.take() if self.peek.text != "{" else self.indices()
                    continue
                tree = ("sub", tree[1], tree, self.indices())
            elif self.accept("^"):
                tree = self.superscript(tree)
            elif self.accept("ᵀ", "'"):
                tree = ("T", tree[1], tree)
            else:
                break
        self.depth -= 1
        return tree

    def superscript(self, tree):
        opener = self.accept("{")
        if self.accept(r"\top", r"\intercal", "T"):
            tree = ("T", tree[1], tree)
        else:
            sign = -1 if self.accept("-", "−") else 1
            if self.peek.kind != "number":
                raise self.error(self.peek.pos, r"a superscript here is \top, T or a number: x^2, A^{-1}, X^\top")
            tree = ("pow", tree[1], tree, sign * _number(self.take().text))
        if opener is not None:
            self.close(opener, "}")
        return tree

    def group(self, opener: Token, closer: str):
        if self.peek.text == "[":  # [i,j] -> …: indices as a matrix's axes
            start = self.at
            self.take()
            letters = []
            while self.peek.kind == "letter":
                letters.append((self.take().text, self.tokens[self.at - 1].pos))
                self.accept(",")
            if self.accept("]") and self.accept("->"):
                tree = ("arrow", opener.pos, letters, self.sum())
                self.close(opener, closer)
                return tree
            self.at = start
        tree = self.sum()
        self.close(opener, closer)
        return tree

    def argument(self):
        """A function's argument: ``(…)``, ``{…}`` or the next factor (``\\det X``)."""
        opener = self.accept("(", "{")
        if opener is None:
            return self.factor()
        return self.group(opener, ")" if opener.text == "(" else "}")

    def primary(self):
        token = self.take()
        kind, text, pos = token.kind, token.text, token.pos
        if kind == "number":
            return ("num", pos, _number(text))
        if kind == "op" and text in ("(", "{", "["):
            return self.group(token, {"(": ")", "{": "}", "[": "]"}[text])
        if text in ("|", r"\|"):
            self.bars.append(text)
            tree = self.group(token, text)
            self.bars.pop()
            return ("call", pos, "abs", tree) if text == "|" else ("norm", pos, tree)
        if kind == "letter":
            if text.islower() and self.peek.text == "(" and self.peek.pos == pos + 1:
                self.take()
                return ("own", pos, text, self.group(self.tokens[self.at - 1], ")"))
            return ("name", pos, text)
        if kind != "macro":
            raise self.error(pos, f"expected a tensor, a number, '(' or a function, found "
                             f"{'the end of the text' if kind == 'end' else repr(text)}")
        word = text[1:]
        if word in ("frac", "dfrac", "tfrac"):
            a = self.argument()
            return ("frac", pos, a, self.argument())
        if word == "mathbb":
            letter = self.word(token)
            if letter not in ("I", "1"):
                raise self.error(pos, rf"\mathbb{{{letter}}} is read only in a declaration, X \in \mathbb{{R}}^{{m "
                                 r"\times n}}; the identity is \mathbb{I}_{n}")
            return ("name", pos, "I") if letter == "I" else ("num", pos, 1)
        if word == "delta" and self.peek.text == "_":
            return ("delta", pos)
        if word not in ("operatorname", "mathrm", "text") and (called := _function(word)):
            return (called[0], pos, called[1], self.argument())
        if word in ("operatorname", "mathrm", "text"):
            self.at -= 1
            start = self.at
            name = self.word(self.take())
            if called := _function(name):
                return (called[0], pos, called[1], self.argument())
            if word != "operatorname":
                self.at = start + 1
                return ("name", pos, self.word(token))
            public = ", ".join(n for n in functions.public() if functions.get(n).elementwise)
            raise self.error(pos, f"unknown function {name!r}: \\operatorname{{…}} names one of {public}, or tr, "
                             "det, logdet, inv; a one-letter name, h(…), is an elementwise function of your own")
        if word in _GREEK or word.lower() in _GREEK or word in _VARIANTS or word in _FONTS:
            self.at -= 1
            name, _ = self.name_token()
            return ("name", pos, name)
        if word in ("partial", "nabla"):
            raise self.error(pos, f"{text}: derivatives are what einsumgrad works out; write the function (L = …) "
                             "and ask for its gradient, e.g. einsumgrad grad --latex-input 'L = …' --wrt W")
        near = difflib.get_close_matches(word, _KNOWN, n=1)
        hint = f" (did you mean \\{near[0]}?)" if near else ""
        raise self.error(pos, f"unknown macro {text}{hint}: einsumgrad reads \\sum, \\frac, \\cdot, \\circ, ^\\top, "
                         "\\mathbb{I}_{n}, |…|, \\|…\\|, Greek letters, \\operatorname{tr}, \\det, \\log (see "
                         "einsumgrad.doors.latex)")


def _number(text: str):
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 and "e" not in text.lower() else value


# -- meaning: values built from the trees

@dataclass(frozen=True)
class _Value:
    """An expression whose leading axes are the named indices ``names`` (the user's letters) and whose other axes
    are a matrix's or vector's (``row``: a transposed vector)."""

    expr: Expr
    names: tuple[str, ...] = ()
    row: bool = False

    @property
    def axes(self) -> tuple:
        return self.expr.dims[len(self.names):]


@dataclass(eq=False)
class _Binder:
    name: str
    pos: int
    dim: Dim | None = None
    at: int | None = None  # where dim was first seen


@dataclass(eq=False)
class _Statement:
    kind: str
    pos: int
    name: str | None
    out: list | None
    tree: tuple
    value: Expression | None = None
    building: bool = False


class _Builder:
    def __init__(self, text: str, shapes: dict, statements: list):
        self.text, self.shapes = text, shapes
        self.tensors: dict[str, tuple[Expr, int]] = {}
        self.symbols: dict[str, Dim] = {k: v for k, v in shapes.items() if isinstance(v, int)}
        self.known: set = set()  # symbolic sizes declared
        self.notes: list[str] = []
        self.scopes: list[dict[str, _Binder]] = []
        self.defined: dict[str, _Statement] = {}
        self.statements = [_Statement(*s) for s in statements]
        for s in self.statements:
            if s.kind == "decl":
                self.declare(s)
            elif s.kind == "def" and s.name is not None:
                if s.name in self.defined:
                    raise self.error([self.defined[s.name].pos, s.pos], f"{s.name} is defined twice")
                self.defined[s.name] = s
        self.names = self.referenced()

    def error(self, pos, problem: str) -> LatexError:
        return LatexError(self.text, pos if isinstance(pos, list) else [pos], problem)

    def referenced(self) -> set:
        """The names the statements read, at a glance over their trees."""
        seen = set()
        stack: list[tuple | list] = [s.tree for s in self.statements if s.kind != "decl"]
        while stack:
            tree = stack.pop()
            if tree and tree[0] == "name":
                seen.add(tree[2])
            stack.extend(x for x in tree if isinstance(x, (tuple, list)))
        return seen

    def declare(self, s: _Statement) -> None:
        assert s.name is not None  # a declaration names its tensor
        given = self.shapes.get(s.name)
        dims: list[Dim] = []
        for k, (symbol, pos) in enumerate(s.tree):
            dim: Dim
            if symbol.isdigit():
                dim = int(symbol)
            elif isinstance(given, (tuple, list)) and k < len(given):
                dim = given[k]
            else:
                dim = self.symbols.get(symbol, (s.name, k))
            if symbol in self.symbols and self.symbols[symbol] != dim and isinstance(dim, int):
                raise self.error(pos, f"size {symbol} is {self.symbols[symbol]} and {dim}")
            self.symbols.setdefault(symbol, dim)
            self.known.add(dim)
            dims.append(dim)
        if given is not None and len(given) != len(dims):
            raise self.error(s.pos, f"{s.name} is declared with {len(dims)} axes, and shapes give it {len(given)}")
        self.tensors[s.name] = (algebra.leaf(algebra.identifier(s.name), tuple(dims)), s.pos)

    def result(self) -> tuple[Expression, tuple[str, ...]]:
        formulas = [s for s in self.statements if s.kind != "decl"]
        if not formulas:
            raise self.error(0, r"only declarations: write the formula too, e.g. L = \frac{1}{2}\|y - Xw\|^2")
        fed = [s for s in formulas if s.name is None or s.name not in self.names]
        last = (fed or formulas)[-1]
        for s in formulas:  # every statement is read, so that its errors show
            self.build(s)
        assert last.value is not None  # built above
        return last.value, tuple(dict.fromkeys(self.notes))

    def build(self, s: _Statement) -> Expression:
        if s.value is not None:
            return s.value
        if s.building:
            raise self.error(s.pos, f"{s.name} is defined in terms of itself")
        s.building = True
        scopes, self.scopes = self.scopes, [{}]
        out = []
        for letter, pos in s.out or []:
            if letter in self.scopes[0]:
                raise self.error([self.scopes[0][letter].pos, pos], f"index {letter} is named twice on the left")
            self.scopes[0][letter] = self.binder(letter, pos)
            out.append(letter)
        v = self.value(s.tree)
        expr = self.statement_value(v, out, s)
        self.scopes = scopes
        s.value = Expression(expr, s.name or "y", frozenset(self.tensors))
        return s.value

    def statement_value(self, v: _Value, out: list, s: _Statement) -> Expr:
        extra = [a for a in v.names if a not in out]
        if extra:
            b = self.scopes[0].get(extra[0])
            raise self.error(b.pos if b else s.pos, f"index {extra[0]} is neither summed nor named on the left: "
                             f"write \\sum_{{{extra[0]}}} … to sum over it, or y_{{{extra[0]}}} = … for a result "
                             "indexed by it")
        if out and v.axes:
            raise self.error(s.pos, f"{s.name}_{{{''.join(out)}}} is a {len(v.axes)}-axis value read at indices: "
                             f"write ({s.name})_{{…}} on the right, or drop the indices on the left")
        dims = {a: d for a, d in zip(v.expr.out, v.expr.dims)}
        for a in out:
            if a not in dims:
                b = self.scopes[0][a]
                if b.dim is None:
                    raise self.error(b.pos, f"the range of index {a} is not known: nothing reads it; give it as "
                                     f"shapes={{'{a}': n}}")
                dims[a] = b.dim
        target = tuple(out) + fresh(len(v.axes), out)
        final = fresh(len(target), ())
        named = {a: f for a, f in zip(target, final)}
        return algebra.product([(v.expr, tuple(named[a] for a in v.expr.out[:len(v.names)]) + final[len(out):])],
                               final, tuple(dims.get(a, d) for a, d in zip(target, (None,) * len(out) + v.axes)),
                               distribute=True)

    # -- indices
    def binder(self, letter: str, pos: int) -> _Binder:
        size = self.shapes.get(letter)
        return _Binder(letter, pos, size if isinstance(size, int) else None, pos if isinstance(size, int) else None)

    def lookup(self, letter: str, pos: int) -> _Binder:
        for scope in reversed(self.scopes):
            if letter in scope:
                return scope[letter]
        free = self.scopes[0].setdefault(letter, self.binder(letter, pos))
        return free

    def use(self, b: _Binder, pos: int, dim) -> None:
        if b.dim is None:
            b.dim, b.at = dim, pos
        elif self.differ(b.dim, dim):
            raise self.error([b.at, pos], f"index {b.name} has two ranges: {self.shown(b.dim)} here and "
                             f"{self.shown(dim)} there")

    def differ(self, a, b) -> bool:
        """Two sizes known to differ: numbers, or sizes declared with different symbols."""
        return a != b and (isinstance(a, int) or a in self.known) and (isinstance(b, int) or b in self.known)

    def shown(self, dim) -> str:
        if isinstance(dim, int):
            return f"size {dim}"
        names = [s for s, d in self.symbols.items() if d == dim]
        return names[0] if names else f"size({dim[0]},{dim[1]})" if isinstance(dim, tuple) and len(dim) == 2 \
            else "a size"

    # -- values
    def value(self, tree) -> _Value:
        try:
            return getattr(self, "v_" + tree[0])(tree)
        except LatexError:
            raise
        except (ValueError, TypeError, ArithmeticError) as err:
            raise self.error(tree[1], " ".join(str(err).split())) from None

    def v_num(self, tree) -> _Value:
        return _Value(algebra.constant(tree[2]))

    def v_add(self, tree) -> _Value:
        built: list = [None] * len(tree[2])
        later = []
        for k, (sign, t) in enumerate(tree[2]):
            if self.flexible(t):
                later.append(k)
            else:
                built[k] = self.value(t)
        like = next((v for v in built if v is not None and v.axes), None)
        for k in later:
            built[k] = self.adopt(tree[2][k][1][2][0][1], like)
        if len(built) == 1 and tree[2][0][0] == 1:
            return built[0]
        names = tuple(dict.fromkeys(a for v in built for a in v.names))
        rank = max(len(v.axes) for v in built)
        axes = fresh(rank, names)
        dims: dict = {}
        for v in built:
            for a, d in zip(v.names + axes[rank - len(v.axes):], v.expr.dims):
                if a in dims and 1 not in (d, dims[a]) and self.differ(dims[a], d):
                    raise self.error(tree[1], f"terms of shapes {self.shapes_of(built[0].axes)} and "
                                     f"{self.shapes_of(v.axes)} cannot be added")
                if dims.get(a, 1) == 1:
                    dims[a] = d
        out = names + axes
        terms: list[Term] = []
        for (sign, _), v in zip(tree[2], built):
            spare = iter(fresh(rank, out))
            labels = tuple(a if d != 1 or dims[a] == 1 else next(spare)
                           for a, d in zip(axes[rank - len(v.axes):], v.axes))
            kept = v.names + tuple(a for a in labels if a in dims)
            part = algebra.product([(v.expr, v.names + labels)], kept, tuple(dims[a] for a in kept))
            terms += instantiate(part if sign == 1 else algebra.scale(part, -1), kept, out)
        total = simplify(Expr(out, tuple(dims[a] for a in out), tuple(terms)))
        return _Value(total, names, built[0].row and rank == 1)

    def shapes_of(self, dims) -> str:
        return "×".join(self.shown(d).removeprefix("size ") for d in dims) or "a scalar"

    def flexible(self, t) -> bool:
        """A term that is a bare name not yet known, or an identity of no known size: it takes the shape of what
        it is added to."""
        if t[0] != "term" or len(t[2]) != 1 or t[2][0][1][0] not in ("name", "sub"):
            return False
        tree = t[2][0][1]
        if tree[0] == "sub":
            return self.is_identity(tree[2]) and self.size(tree[3]) is None
        name = tree[2]
        return (name not in self.tensors and name not in self.defined and name not in self.shapes) or name == "I" \
            and "I" not in self.tensors and "I" not in self.shapes

    def adopt(self, tree, like: _Value | None) -> _Value:
        name = tree[2]
        if like is None:
            return self.value(tree)
        if tree[0] == "sub":  # \mathbb{I}_{n}: n is the size of what it is added to
            dim = like.axes[-1] if len(like.axes) == 2 else None
            symbol = "".join(a for a, _ in tree[3])
            if dim is not None and not symbol.isdigit():
                self.symbols[symbol] = dim
            return self.identity(tree, dim)
        if name == "I":
            return self.identity(tree, like.axes[-1] if len(like.axes) == 2 else None)
        self.notes.append(f"{name} is taken to have the shape of the term it is added to "
                          f"({self.shapes_of(like.axes)}); to change it, declare it, e.g. {name} \\in \\mathbb{{R}}"
                          f"^{{m \\times n}}, or give shapes")
        expr = algebra.leaf(algebra.identifier(name), like.axes)
        self.tensors[name] = (expr, tree[1])
        return _Value(expr, (), like.row)

    def is_identity(self, tree) -> bool:
        return tree[0] == "name" and tree[2] == "I" and "I" not in self.tensors and "I" not in self.shapes

    def size(self, letters):
        """The size a subscript names, ``\\mathbb{I}_{n}``: a number or a symbol known, else None."""
        symbol = "".join(a for a, _ in letters)
        return int(symbol) if symbol.isdigit() else self.symbols.get(symbol)

    def identity(self, tree, dim) -> _Value:
        if dim is None:
            raise self.error(tree[1], r"the size of the identity is not known here: write \mathbb{I}_{n} with n "
                             r"declared (X \in \mathbb{R}^{m \times n}) or given in shapes")
        return _Value(identity(dim))

    def v_term(self, tree) -> _Value:
        items = tree[2]
        result: _Value | None = None
        for k in range(len(items) - 1, -1, -1):  # from the right: a sum takes the rest of its term
            op, item = items[k]
            v = self.value(item)
            if result is not None:
                result = self.times(v, items[k + 1][0], result, items[k + 1][1][1])
            else:
                result = v
        assert result is not None  # a term has an item
        return result

    def times(self, a: _Value, op: str, b: _Value, pos: int) -> _Value:
        names = tuple(dict.fromkeys(a.names + b.names))
        pa, pb = len(a.axes), len(b.axes)
        if op == "/":
            b = _Value(algebra.power(b.expr, -1), b.names, b.row)
            op = "∘"
        if op == "∘" and pa and pb and (pa != pb or any(self.differ(x, y) for x, y in zip(a.axes, b.axes))):
            if pa == pb and not self.differ(a.axes[-1], b.axes[0]):
                self.notes.append(f"A ∘ B is read as the matrix product AB: the Hadamard product ∘ needs one shape, "
                                  f"and these are {self.shapes_of(a.axes)} and {self.shapes_of(b.axes)}; the "
                                  "Hadamard product (A∘B)ᵢⱼ = Aᵢⱼ Bᵢⱼ multiplies entries, the matrix product "
                                  "(AB)ᵢⱼ = Σₖ Aᵢₖ Bₖⱼ sums over the shared axis; write AB (X\\Theta) to say so")
                op = "·"
            else:
                raise self.error(pos, f"the Hadamard product ∘ needs one shape, and these are "
                                 f"{self.shapes_of(a.axes)} and {self.shapes_of(b.axes)}")
        if op == "∘" or not pa or not pb:
            la, lb = fresh(pa, names), fresh(pb, names)
            if op == "∘":
                lb = la
            out = names + (la if pa >= pb else lb)
            return self.product([(a, la), (b, lb)], out, a.row if pa else b.row)
        if pa == 1 and pb == 1 and not a.row and b.row:  # x y^T
            i, j = fresh(2, names)
            return self.product([(a, (i,)), (b, (j,))], names + (i, j))
        if self.differ(a.axes[-1], b.axes[0]):
            raise self.error(pos, f"a matrix product of shapes {self.shapes_of(a.axes)} and {self.shapes_of(b.axes)}"
                             f": {self.shown(a.axes[-1])} and {self.shown(b.axes[0])} differ")
        labels = fresh(pa + pb - 1, names)
        la, lb = labels[:pa], labels[pa - 1:]
        row = a.row if pa == 1 and pb == 2 else False
        return self.product([(a, la), (b, lb)], names + la[:-1] + lb[1:], row or (pa == 1 and pb > 1))

    def product(self, operands, out, row=False) -> _Value:
        dims: dict[str, Dim] = {}
        parts = []
        for v, labels in operands:
            target = v.names + tuple(labels)
            parts.append((v.expr, target))
            for a, d in zip(target, v.expr.dims):
                dims.setdefault(a, d)
        names = tuple(a for a in out if any(a in v.names for v, _ in operands))
        return _Value(algebra.product(parts, out, tuple(dims[a] for a in out)), names, row and len(out) - len(names)
                      == 1)

    def v_sum(self, tree) -> _Value:
        _, pos, letters, upper, body = tree
        if not letters:
            v = self.value(body)
            return _Value(algebra.product([(v.expr, v.expr.out)], v.names, v.expr.dims[:len(v.names)]), v.names)
        scope = {}
        for letter, at in letters:
            b = scope[letter] = self.binder(letter, at)
            if upper is not None:
                dim = int(upper) if upper.isdigit() else self.symbols.get(upper)
                if dim is not None:
                    self.use(b, pos, dim)
        self.scopes.append(scope)
        v = self.value(body)
        self.scopes.pop()
        if upper is not None and not upper.isdigit():  # the range a symbol names, as the first sum over it says
            for b in scope.values():
                if upper in self.symbols:
                    self.use(b, pos, self.symbols[upper])
                elif b.dim is not None:
                    self.symbols[upper] = b.dim
        keep = tuple(a for a in v.names if a not in scope)
        out = keep + v.expr.out[len(v.names):]
        dims = dict(zip(v.expr.out, v.expr.dims))
        return _Value(algebra.product([(v.expr, v.expr.out)], out, tuple(dims[a] for a in out)), keep, v.row)

    def v_name(self, tree) -> _Value:
        name = tree[2]
        if name in self.defined:
            s = self.defined[name]
            e = self.build(s).node
            return _Value(e)
        if name in self.tensors:
            return _Value(self.tensors[name][0])
        if name == "I" and "I" not in self.shapes:
            return self.identity(tree, None)
        rank = self.shapes.get(name)
        if rank is None:
            rank = 0 if unicodedata.category(name[0]) == "Ll" and "GREEK" in unicodedata.name(name[0], "") \
                else 1 if name[0].islower() else 2
            space = ("", "^{n}", "^{m \\times n}")[rank]
            self.notes.append(f"{name} is taken as {('a scalar', 'a vector', 'a matrix')[rank]}, a guess from its "
                              f"name; to change it, declare it, e.g. {name} \\in \\mathbb{{R}}{space}, or give shapes")
        return _Value(self.tensor(name, rank, tree[1]))

    def tensor(self, name: str, shape, pos: int) -> Expr:
        if name not in self.tensors:
            given = self.shapes.get(name, shape)
            self.tensors[name] = (algebra.tensor(name, tuple(given) if isinstance(given, list) else given), pos)
        return self.tensors[name][0]

    def v_sub(self, tree) -> _Value:
        _, pos, inner, letters = tree
        if inner[0] == "delta":
            if len(letters) != 2:
                raise self.error(pos, r"\delta_{ij} takes two indices")
            (a, pa), (b, pb) = letters
            ba, bb = self.lookup(a, pa), self.lookup(b, pb)
            dim = ba.dim if ba.dim is not None else bb.dim
            if dim is None:
                raise self.error(pos, rf"the range of \delta_{{{a}{b}}} is not known: read {a} or {b} with a tensor "
                                 "first, or give it in shapes")
            return self.read_at(_Value(identity(dim)), letters, pos)
        if self.is_identity(inner):
            return self.identity(inner, self.size(letters))
        if inner[0] == "name" and inner[2] not in self.defined:
            return self.entries(inner, letters)
        return self.read_at(self.value(inner), letters, pos)

    def entries(self, tree, letters) -> _Value:
        """``W_{ij}``: the tensor at indices, or ``\\Phi_{i}``, a slice."""
        name, pos = tree[2], tree[1]
        known = self.tensors.get(name, (None,))[0]
        rank = known.ndim if known is not None else self.shapes.get(name, len(letters))
        rank = rank if isinstance(rank, int) else len(rank)
        if len(letters) > rank:
            raise self.error(pos, f"{name} has {rank} ax{'is' if rank == 1 else 'es'}, read here with "
                             f"{len(letters)} indices")
        expr = self.tensor(name, rank, pos)
        binders = [self.lookup(a, p) for a, p in letters]
        free = list(range(rank))
        chosen = []
        for b in binders:
            k = next((k for k in free if b.dim is not None and not self.differ(expr.dims[k], b.dim)
                      and expr.dims[k] == b.dim), None) if len(letters) < rank else None
            k = free[0] if k is None else k
            free.remove(k)
            chosen.append(k)
        for b, (a, p), k in zip(binders, letters, chosen):
            self.use(b, p, expr.dims[k])
        labels = list(fresh(rank, [a for a, _ in letters]))
        for (a, _), k in zip(letters, chosen):
            labels[k] = a
        names = tuple(dict.fromkeys(a for a, _ in letters))
        out = names + tuple(labels[k] for k in free)
        dims = dict(zip(labels, expr.dims))
        return _Value(algebra.product([(expr, tuple(labels))], out, tuple(dims[a] for a in out)), names)

    def read_at(self, v: _Value, letters, pos: int) -> _Value:
        """``(…)_{ij}``: a value's axes read at indices."""
        if len(letters) != len(v.axes):
            raise self.error(pos, f"this has {len(v.axes)} ax{'is' if len(v.axes) == 1 else 'es'}, read here with "
                             f"{len(letters)} indices")
        for (a, p), d in zip(letters, v.axes):
            if a in v.names:
                raise self.error(p, f"index {a} is already read inside")
            self.use(self.lookup(a, p), p, d)
        target = v.names + tuple(a for a, _ in letters)
        names = tuple(dict.fromkeys(target))
        dims = dict(zip(target, v.expr.dims))
        return _Value(algebra.product([(v.expr, target)], names, tuple(dims[a] for a in names)), names)

    def v_arrow(self, tree) -> _Value:
        _, pos, letters, body = tree
        scope = {a: self.binder(a, p) for a, p in letters}
        self.scopes.append(scope)
        v = self.value(body)
        self.scopes.pop()
        order = [a for a, _ in letters]
        keep = tuple(a for a in v.names if a not in scope)
        dims = dict(zip(v.expr.out, v.expr.dims))
        for a in order:
            if a not in dims:
                raise self.error(pos, f"index {a} is not read in the matrix [{','.join(order)}] -> …")
        out = keep + tuple(order)
        return _Value(algebra.product([(v.expr, v.expr.out)], out, tuple(dims[a] for a in out)), keep)

    def v_T(self, tree) -> _Value:
        v = self.value(tree[2])
        if not v.axes:
            raise self.error(tree[1], "a transpose needs a matrix or a vector; this reads entries (a tensor's rank "
                             r"is its subscripts unless known: declare \Phi \in \mathbb{R}^{l \times m \times n} or "
                             "give shapes to read \\Phi_{i} as a slice)")
        n = len(v.names)
        order = v.expr.out[:n] + v.expr.out[n:][::-1]
        return _Value(algebra.product([(v.expr, v.expr.out)], order, tuple(
            dict(zip(v.expr.out, v.expr.dims))[a] for a in order)), v.names, not v.row if len(v.axes) == 1 else False)

    def v_pow(self, tree) -> _Value:
        if tree[2][0] == "norm" and tree[3] == 2:  # \|v\|^2: the sum of squares
            v = self.value(tree[2][2])
            n = len(v.names)
            return _Value(algebra.product([(algebra.power(v.expr, 2), v.expr.out)], v.expr.out[:n], v.expr.dims[:n]),
                          v.names)
        v = self.value(tree[2])
        if tree[3] == -1 and len(v.axes) == 2 and not v.names:
            return self.matrix(("matrix", tree[1], "inv", None), v)
        return _Value(_ordered(algebra.power(v.expr, tree[3]), v.expr.out), v.names, v.row)

    def v_frac(self, tree) -> _Value:
        return self.times(self.value(tree[2]), "/", self.value(tree[3]), tree[1])

    def v_call(self, tree) -> _Value:
        v = self.value(tree[3])
        return _Value(_ordered(algebra.apply(tree[2], v.expr), v.expr.out), v.names, v.row)

    def v_own(self, tree) -> _Value:
        name = tree[2]
        if name in self.shapes or name in self.tensors:  # a tensor named so: a product, x(…)
            return self.times(self.v_name(("name", tree[1], name)), "·", self.value(tree[3]), tree[1])
        generic.declare(name)
        return self.v_call(("call", tree[1], name, tree[3]))

    def v_norm(self, tree) -> _Value:
        v = self.value(tree[2])
        n = len(v.names)
        squares = algebra.product([(algebra.power(v.expr, 2), v.expr.out)], v.expr.out[:n], v.expr.dims[:n])
        return _Value(_ordered(algebra.power(squares, 0.5), v.expr.out[:n]), v.names) if n else \
            _Value(functions.get("norm").build(v.expr))  # type: ignore[misc]  # norm has a build

    def v_matrix(self, tree) -> _Value:
        return self.matrix(tree, self.value(tree[3]))

    def matrix(self, tree, v: _Value) -> _Value:
        fn = tree[2]
        if v.names or len(v.axes) != 2:
            raise self.error(tree[1], f"{fn} takes a matrix; this has {len(v.axes)} ax{'is' if len(v.axes) == 1 else 'es'}"
                             + (f" and indices {','.join(v.names)}" if v.names else ""))
        builtin = functions.BUILTINS.get(fn)
        return _Value(builtin.build(v.expr) if builtin else algebra.apply(fn, v.expr))


def _ordered(e: Expr, names) -> Expr:
    """``e`` with its axes named ``names``."""
    return algebra.product([(e, tuple(names))], tuple(names), e.dims, distribute=True)
