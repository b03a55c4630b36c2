"""Index notation as input: ``parse("y[i] = Σ_j W[i,j] x[j]")`` reads what :mod:`einsumgrad.notation.render` prints.

A hand-written tokenizer and recursive-descent parser — nothing is ``eval``'d; linear time; brackets and calls
nested at most :data:`MAX_DEPTH` levels, the text at most :data:`MAX_LENGTH` characters. What it reads:

- statements ``name[i,j] = …`` (or ``name = …``, or a bare right side) separated by ``;`` or new lines; a
  statement's name, read later as ``z[i]``, stands for its right side, and the result is the last statement;
- tensors ``W[i,j]`` (their rank is their index count, the same at every use) and scalars ``β``; numbers, ``½``;
- sums that say so: ``Σ_j …``, ``Σ_{j,k} …``, ``Σ_j,k …``, ``sum_j …`` sum over the rest of their term (up to the
  next ``+``/``-`` outside brackets). No summation convention: an index the left side does not name must be
  summed by a Σ, else it is an error that says so (with a left side, ``z[i] = x[i] y[i]`` is elementwise);
- products by juxtaposition, ``*``, ``·`` or ``×``; ``/``; powers ``x[i]²``, ``x[i]⁻⁰·⁵``, ``x[i]**2``, ``x[i]^2``;
- ``δ[i,j]`` (ASCII ``delta(i,j)``), ``size(W,0)``;
- elementwise functions of indexed terms, ``tanh(z[i])``, ``|…|`` (``abs``); a one-letter unknown name, ``h(z[i])``,
  is an elementwise function of your own (derivatives ``h′``, ``h″``); any other unknown name is an error;
- functions of whole tensors, read at indices: ``inv(A)[i,j]``, ``inv(Aᵀ)[i,j]``, ``det(A)``,
  ``softmax(X, axis=0)[i,j]``, ``‖x‖``, and ``inv([i,k] -> Σ_j A[i,j] B[j,k])[a,b]`` (the argument's own indices).

Each index is one range, taken from the tensor axes it reads (sizes of the same index are tied: they must agree at
evaluation) or from ``shapes``, which maps tensor names to shapes and index names to sizes; two different sizes for
one index are an error pointing at both uses.

>>> print(parse("y[i] = Σ_j W[i,j] x[j]"))
y[i] = Σ_j W[i,j] x[j]
>>> print(parse("z[i] = sum_j W[i,j] * x[j] + b[i]; L = ½ Σ_i (y[i] - tanh(z[i]))²"))
L = Σ_i 0.5 (y[i] - tanh(Σ_j W[i,j] x[j] + b[i]))²
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..core import algebra, functions
from ..library import generic
from ..core.errors import ExpressionSyntaxError
from ..expression import Expression
from ..core.ir import Dim, Expr, Size, Term, fresh, instantiate
from ..library.selection import identity
from ..core.simplify import simplify

MAX_LENGTH = 100_000
MAX_DEPTH = 100  # brackets, calls and |…| nested in the text
_WINDOW = 60  # characters of the text an error shows on each side of its caret

_SUPERSCRIPTS = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹·", "-0123456789.")
_TOKEN = re.compile(r"""
    (?P<space>[ \t\r]+)
  | (?P<sep>[;\n])
  | (?P<sigma>Σ_?|sum_(?=[{\w]))
  | (?P<delta>δ(?=\[)|delta(?=\())
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<fraction>[½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞])
  | (?P<power>⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+(?:·[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?)
  | (?P<name>(?![⁰¹²³⁴⁵⁶⁷⁸⁹])[^\W\d](?:(?![⁰¹²³⁴⁵⁶⁷⁸⁹])[\w′″‴])*)
  | (?P<op>\*\*|->|→|[-+−*·×/^()\[\]{}|‖,=ᵀ])
""", re.VERBOSE)
_OPEN = {"(": ")", "[": "]", "{": "}"}


class IndexNotationError(ExpressionSyntaxError):
    """Index notation that cannot be read; carets point at the bad character, or at both uses of a clash."""

    def __init__(self, text: str, positions, problem: str):
        positions = sorted({min(max(p, 0), len(text)) for p in positions})
        start = max(0, positions[0] - _WINDOW)
        end = min(len(text), positions[-1] + _WINDOW)
        shown = text[start:end].replace("\n", " ").replace("\t", " ")
        prefix = "…" if start else ""
        shown = prefix + shown + ("…" if end < len(text) else "")
        carets = [" "] * (len(shown) + 1)
        for p in positions:
            carets[p - start + len(prefix)] = "^"
        super().__init__(shown, positions[0] - start + len(prefix), problem)
        self.args = ("\n".join([problem, f"  {shown}", "  " + "".join(carets).rstrip()]),)
        self.positions = tuple(positions)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str, pattern: re.Pattern = _TOKEN, error: type | None = None) -> list[Token]:
    """The tokens of ``text`` by ``pattern``'s named groups (``space`` skipped), ending with an ``end`` token;
    an ``error`` (:class:`IndexNotationError` or a subclass) at a character no token starts with."""
    tokens, pos = [], 0
    while pos < len(text):
        m = pattern.match(text, pos)
        if m is None:
            raise (error or IndexNotationError)(text, [pos], f"unexpected character {text[pos]!r}")
        if m.lastgroup != "space":
            tokens.append(Token(m.lastgroup or "", m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class Cursor:
    """A parser's place in its tokens: ``peek``, ``take``, ``accept`` (tokens of the kinds in ``ACCEPTS``),
    ``expect``, and ``nested`` to bound the depth; errors are ``ERROR`` s with carets. A parser gives
    ``text`` and ``tokens``."""

    ACCEPTS: tuple[str, ...] = ("op",)
    ERROR: type = IndexNotationError
    text: str
    tokens: list[Token]
    at = 0
    depth = 0

    def error(self, pos, problem: str) -> IndexNotationError:
        return self.ERROR(self.text, pos if isinstance(pos, (list, tuple)) else [pos], problem)

    @property
    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        self.at += 1
        return self.tokens[self.at - 1]

    def accept(self, *texts) -> Token | None:
        return self.take() if self.peek.kind in self.ACCEPTS and self.peek.text in texts else None

    def found(self) -> str:
        return "the end of the text" if self.peek.kind == "end" else repr(self.peek.text)

    def expect(self, text: str, what: str) -> Token:
        if not self.accept(text):
            raise self.error(self.peek.pos, f"expected {text!r} {what}, found {self.found()}")
        return self.tokens[self.at - 1]

    def nested(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(pos, f"the text is nested more than {MAX_DEPTH} levels deep")

    def signed_terms(self) -> tuple:
        """``term (± term)*``, each ``term`` the parser's own: ``(position, [(sign, term), ...])``."""
        terms, pos = [], self.peek.pos
        sign = -1 if self.accept("-", "−") else (self.accept("+"), 1)[1]
        while True:
            terms.append((sign, self.term()))  # type: ignore[attr-defined]  # every parser reads its terms
            if self.accept("+"):
                sign = 1
            elif self.accept("-", "−"):
                sign = -1
            else:
                return pos, terms


@dataclass(eq=False)
class Binder:
    """One index: a result's index (named on the left side) or a Σ's. ``uses`` holds ``(position, size)``."""

    name: str
    pos: int
    summed: bool
    uses: list = field(default_factory=list)
    parent: Binder | None = None  # union-find: indices that δ ties together
    dim: Dim = field(default=0, repr=False)  # its size, once every use is read (settle)

    def root(self) -> Binder:
        b = self
        while b.parent is not None:
            b = b.parent
        return b


def parse(text: str, shapes: dict | None = None) -> Expression:
    """The expression of the last statement of ``text``, in index notation (see the module's docstring); its
    tensors named as typed, ``shapes`` giving tensor shapes (``{"W": (3, 4)}``) or index sizes (``{"i": 3}``).

    >>> print(parse("L = β Σ_{m,j,k} |Σ_l Φ[l,m,j] Φ[l,m,k] − δ[j,k]|"))
    L = Σ_i,j,k β abs(Σ_l Φ[l,i,j] Φ[l,i,k] - δ[j,k])
    """
    if not isinstance(text, str):
        raise ExpressionSyntaxError(repr(text)[:80], 0, f"index notation is a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise IndexNotationError(text, [MAX_LENGTH], f"index notation has at most {MAX_LENGTH:,} characters; this "
                                 f"has {len(text):,}")
    shapes = {unicodedata.normalize("NFKC", k): v for k, v in (shapes or {}).items()}
    return _Reader(text, shapes).program()


class _Reader(Cursor):
    """One pass over the tokens, statement by statement: each is parsed into a small tree (its indices resolved to
    binders), its index sizes settled, then built with :mod:`einsumgrad.core.algebra`."""

    def __init__(self, text: str, shapes: dict):
        self.text, self.shapes = text, shapes
        self.tokens = tokenize(text)
        self.tensors: dict[str, tuple[Expr, int]] = {}  # name -> (the tensor read whole, position of its first use)
        self.defined: dict[str, tuple[Expr, int]] = {}  # statement name -> (its expression, position)
        self.spaces: list[_Space] = []  # namespaces: a statement's, and those of arguments [i,k] -> …

    # -- tokens
    def close(self, opener: Token, text: str) -> None:
        """The bracket that closes ``opener``; else an error pointing at both."""
        if not self.accept(text):
            raise self.error([opener.pos + len(opener.text) - 1, self.peek.pos], f"unbalanced "
                             f"{opener.text[-1] if opener.kind == 'op' else opener.text + '('!r}: expected "
                             f"{text!r} to close it, found {self.found()}")

    def name(self, what: str) -> Token:
        if self.peek.kind != "name":
            found = "the end of the text" if self.peek.kind == "end" else repr(self.peek.text)
            raise self.error(self.peek.pos, f"expected {what}, found {found}")
        return self.take()

    # -- statements
    def program(self) -> Expression:
        result = None
        while self.peek.kind != "end":
            if self.peek.kind == "sep":
                self.take()
                continue
            result = self.statement()
            if self.peek.kind not in ("sep", "end"):
                closing = self.peek.text in ")]}" and self.peek.kind == "op"
                raise self.error(self.peek.pos, f"unbalanced {self.peek.text!r}: nothing open to close" if closing
                                 else f"unexpected {self.peek.text!r}: a statement ends with ';' or a new line")
        if result is None:
            raise self.error(0, "no expression: write one such as y[i] = Σ_j W[i,j] x[j]")
        return result

    def statement(self) -> Expression:
        name, out, pos = self.left_side()
        expr = self.namespace(out)
        shown = name or "y"
        if name is not None:
            self.defined[name] = (expr, pos)
        tensors = frozenset(self.tensors)
        return Expression(expr, shown, tensors)

    def left_side(self):
        """``name[i,j] =`` or ``name =`` if the statement starts so: its name, binders and position."""
        start = self.at
        if self.peek.kind == "name":
            name = self.take()
            idx = self.index_list() if self.peek.text == "[" and self.peek.kind == "op" else []
            if self.accept("="):
                if name.text in self.tensors:
                    raise self.error([self.tensors[name.text][1], name.pos], f"{name.text} is a tensor read "
                                     "before: a statement names a new result")
                if name.text in self.defined:
                    raise self.error([self.defined[name.text][1], name.pos], f"{name.text} is defined twice")
                seen = {}
                for token in idx:
                    if token.text in seen:
                        raise self.error([seen[token.text], token.pos], f"index {token.text} is named twice on the "
                                         "left side: a result's indices are different")
                    seen[token.text] = token.pos
                return name.text, [Binder(t.text, t.pos, False) for t in idx], name.pos
        self.at = start
        return None, None, self.peek.pos

    def index_list(self) -> list[Token]:
        self.expect("[", "to open the indices")
        idx = [self.name("an index name")]
        while self.accept(","):
            idx.append(self.name("an index name"))
        self.expect("]", "to close the indices")
        return idx

    # -- expressions, as trees of tuples
    def sum(self):
        """``term (± term)*``: ``("sum", position, [(sign, term), ...])``."""
        return ("sum", *self.signed_terms())

    def namespace(self, out: list[Binder] | None) -> Expr:
        """Read a right side whose result has the indices ``out`` (None: those it reads, unsummed) and build it."""
        space = _Space(out)
        self.spaces.append(space)
        tree = self.sum()
        self.spaces.pop()
        self.settle(space)
        expr = self.value(tree)
        names = tuple(b.name for b in out) if out is not None else expr.out
        dims = tuple(b.dim for b in out) if out is not None else expr.dims
        return algebra.product([(expr, expr.out)], names, dims, distribute=True)

    def term(self):
        """Factors, ``Σ`` markers (each summing over the rest of the term) and ``("/", divisor)``, in order."""
        space = self.spaces[-1]
        items, opened, reads = [], len(space.bound), []  # reads: the result's indices each factor reads
        times, start = None, self.peek.pos  # times: a '*' or '/' read, its factor not yet
        while True:
            token = self.peek
            if token.kind == "sigma":
                self.take()
                binders = [Binder(t.text, t.pos, True) for t in self.summed_indices()]
                space.bound.extend(binders)
                space.binders.extend(binders)
                items.append(("Σ", binders))
                continue
            if items and token.kind == "op" and token.text in "*·×/" and not times:
                times = self.take()
                continue
            if not self.starts_factor(token):
                break
            first = len(space.free_uses)
            factor = self.factor()
            items.append(("/", factor) if times and times.text == "/" else factor)
            reads.append(space.free_uses[first:])
            times = None
        if times or not any(i[0] not in ("Σ", "/") for i in items):
            found = "the end of the text" if token.kind == "end" else repr(token.text)
            raise self.error(token.pos, f"expected a tensor, a number, '(' or a function, found {found}")
        for b in space.bound[opened:]:
            if not b.uses:
                raise self.error(b.pos, f"Σ_{b.name} sums over {b.name}, which nothing after it in its term reads")
        del space.bound[opened:]
        if space.out is None:
            self.no_convention(reads)
        return ("term", start, items)

    def no_convention(self, reads) -> None:
        """Without a left side, an index two factors of one product read (unsummed) is refused: no convention."""
        first: dict = {}
        for k, uses in enumerate(reads):
            for b, pos in uses:
                if first.setdefault(b, (k, pos))[0] != k:
                    raise self.error([first[b][1], pos], f"index {b.name} is repeated without Σ: nothing is summed "
                                     f"unless it says so; write Σ_{b.name} … to sum over it, or name the result "
                                     f"(y[{b.name}] = …) for an elementwise product")

    def starts_factor(self, token: Token) -> bool:
        if token.kind == "op" and token.text == "|":
            return self.spaces[-1].bars == 0  # inside |…|, a bar closes
        return token.kind in ("name", "number", "fraction", "delta") or (token.kind == "op" and token.text in "(‖")

    def summed_indices(self) -> list[Token]:
        if self.accept("{"):
            idx = [self.name("an index name after Σ_{")]
            while self.accept(","):
                idx.append(self.name("an index name"))
            self.expect("}", "to close Σ_{…}")
            return idx
        idx = [self.name("the index to sum over, as in Σ_j")]
        while self.peek.text == "," and self.tokens[self.at + 1].kind == "name":
            self.take()
            idx.append(self.take())
        return idx

    def resolve(self, token: Token, dim) -> Binder:
        """The binder an index name refers to (the innermost Σ, else the result's), recording the use."""
        space = self.spaces[-1]
        found = next((b for b in reversed(space.bound) if b.name == token.text), None)
        if found is None and space.out is not None:
            found = next((b for b in space.out if b.name == token.text), None)
            if found is None:
                names = ",".join(b.name for b in space.out)
                raise self.error(token.pos, f"index {token.text} is neither summed nor an index of the result "
                                 f"[{names}]: nothing is summed unless it says so; write Σ_{token.text} … to sum over "
                                 "it")
        if found is None:
            found = space.implicit.get(token.text)
            if found is None:
                found = space.implicit[token.text] = Binder(token.text, token.pos, False)
                space.binders.append(found)
        if not found.summed:
            space.free_uses.append((found, token.pos))
        found.uses.append((token.pos, dim))
        return found

    # -- factors
    def factor(self):
        token = self.peek
        self.nested(token.pos)
        tree = self.primary()
        while True:
            if self.peek.kind == "power":
                p = self.take()
                tree = ("pow", p.pos, tree, _number(p.text.translate(_SUPERSCRIPTS)))
            elif self.accept("**", "^"):
                sign = -1 if self.accept("-", "−") else 1
                if self.peek.kind != "number":
                    raise self.error(self.peek.pos, "an exponent is a number: x[i]**2, x[i]^-0.5, x[i]²")
                tree = ("pow", self.peek.pos, tree, sign * _number(self.take().text))
            else:
                break
        self.depth -= 1
        return tree

    def primary(self):
        token = self.take()
        if token.kind == "number":
            return ("num", token.pos, _number(token.text))
        if token.kind == "fraction":
            return ("num", token.pos, unicodedata.numeric(token.text))
        if token.kind == "delta":
            close = "]" if self.accept("[") else (self.expect("(", "after delta"), ")")[1]
            a = self.name("an index of δ")
            self.expect(",", "between δ's two indices")
            b = self.name("δ's second index")
            self.expect(close, "to close δ's indices")
            ba, bb = self.resolve(a, None), self.resolve(b, None)
            if ba.root() is not bb.root():
                ba.root().parent = bb.root()
            return ("delta", token.pos, ba, bb)
        if token.kind == "op" and token.text == "(":
            tree = self.sum()
            self.close(token, ")")
            return tree
        if token.kind == "op" and token.text == "|":
            self.spaces[-1].bars += 1
            tree = self.sum()
            self.close(token, "|")
            self.spaces[-1].bars -= 1
            return ("call", token.pos, "abs", tree)
        if token.kind == "op" and token.text == "‖":
            arg = self.whole("norm")
            self.expect("‖", "to close '‖'")
            return self.read(token, self.applied(token, "norm", arg, {}), [])
        if token.kind != "name":
            found = "the end of the text" if token.kind == "end" else repr(token.text)
            raise self.error(token.pos, f"expected a tensor, a number, '(' or a function, found {found}")
        if self.peek.text == "(" and self.peek.pos == token.pos + len(token.text):
            return self.call(token)
        idx = self.index_list() if self.peek.text == "[" and self.peek.kind == "op" else []
        return self.read(token, self.named(token, len(idx)), idx)

    def named(self, token: Token, rank: int) -> Expr:
        """The expression a name read at ``rank`` indices stands for: a result defined before, or a tensor."""
        name = token.text
        if name in self.defined:
            return self.defined[name][0]
        known = self.tensors.get(name)
        if known is None:
            try:
                expr = algebra.tensor(name, self.shapes.get(name, rank))
            except ValueError as err:  # not an identifier, or a bad shapes= entry
                raise self.error(token.pos, " ".join(str(err).split())) from None
            self.tensors[name] = known = (expr, token.pos)
        expr, first = known
        if expr.ndim != rank:
            raise self.error([first, token.pos], f"{name} is read with {expr.ndim} and with {rank} indices: a "
                             "tensor has one rank")
        return expr

    def read(self, token: Token, expr: Expr, idx: list[Token]):
        if len(idx) != expr.ndim:
            what = f"{token.text} has {expr.ndim} ind{'ex' if expr.ndim == 1 else 'ices'}"
            raise self.error(token.pos, f"{what}, read here with {len(idx)}: write it as "
                             f"{token.text}[{','.join(fresh(expr.ndim, ()))}]" if expr.ndim else f"{what}: no [ ]")
        return ("read", token.pos, expr, [self.resolve(t, d) for t, d in zip(idx, expr.dims)])

    def call(self, token: Token):
        name = token.text
        self.take()  # (
        if name == "size":
            tensor = self.name("a tensor's name, as in size(W,0)")
            self.expect(",", "in size(W,0)")
            axis = self.take()
            self.expect(")", "to close size(")
            if axis.kind != "number" or not axis.text.isdigit():
                raise self.error(axis.pos, "size(W,k) takes a whole number k, an axis of W")
            var = self.tensors.get(tensor.text)
            k = int(axis.text)
            dim = var[0].dims[k] if var and k < var[0].ndim else (tensor.text, k)
            return ("size", token.pos, dim)
        along = _along(name)
        if along is not None:  # softmax_j(…): along the argument's index j
            fn, index = along
            binder = None if _keeps_rank(fn) else Binder(index, token.pos, True)  # a reduction's j is its own
            if binder is not None:
                self.spaces[-1].bound.append(binder)
                self.spaces[-1].binders.append(binder)
            tree = self.sum()
            if binder is not None:
                self.spaces[-1].bound.remove(binder)
            self.close(token, ")")
            return ("along", token.pos, fn, index, tree)
        known = name in functions.REGISTRY and (functions.get(name).public or name in generic.DECLARED)
        own = not known and (len(name.rstrip("′″‴")) == 1 or name in generic.DECLARED)
        if not known and not own:
            public = ", ".join(functions.public())
            raise self.error(token.pos, f"unknown function {name!r}; known: {public}; a one-letter name such as "
                             "h(z[i]) is an elementwise function of your own")
        if own or functions.get(name).elementwise:
            if own:
                generic.declare(name)
            tree = self.sum()
            self.close(token, ")")
            return ("call", token.pos, name, tree)
        arg = self.whole(name)
        options = {}
        while self.accept(","):
            key = self.name("a keyword such as axis=0")
            self.expect("=", f"after {key.text}")
            options[key.text] = self.option()
        self.expect(")", f"to close {name}(")
        result = self.applied(token, name, arg, options)
        idx = self.index_list() if self.peek.text == "[" and self.peek.kind == "op" else []
        return self.read(token, result, idx)

    def whole(self, fn: str) -> Expr:
        """The argument of a function of whole tensors: ``A``, ``Aᵀ`` (``A^T``) or ``[i,k] -> Σ_j A[i,j] B[j,k]``."""
        if self.peek.text == "[" and self.peek.kind == "op":
            idx = self.index_list()
            if not self.accept("->", "→"):
                raise self.error(self.peek.pos, "expected '->' after the argument's indices, as in [i,j] -> A[j,i]")
            seen: dict[str, int] = {}
            for t in idx:
                if seen.setdefault(t.text, t.pos) != t.pos:
                    raise self.error([seen[t.text], t.pos], f"index {t.text} is named twice")
            return self.namespace([Binder(t.text, t.pos, False) for t in idx])
        token = self.name(f"the argument of {fn}: a tensor's name, or [i,j] -> …")
        if token.text in self.defined:
            expr = self.defined[token.text][0]
        else:
            known = self.tensors.get(token.text)
            rank = known[0].ndim if known else self.shapes.get(token.text)
            if rank is None and functions.get(fn).kind == "matrix":
                rank = 2
            if rank is None:
                raise self.error(token.pos, f"the rank of {token.text} is not known here: read it with its indices "
                                 f"({fn}([i] -> {token.text}[i])) or give shapes")
            expr = self.named(token, rank if isinstance(rank, int) else len(rank))
        if self.accept("ᵀ") or (self.peek.text == "^" and self.tokens[self.at + 1].text == "T" and self.take()
                                and self.take()):
            expr = Expr(expr.out[::-1], expr.dims[::-1], expr.terms)
        return expr

    def option(self):
        """A keyword's value: a whole number, a tuple of them, True or False."""
        if self.accept("("):
            values = [self.whole_number()]
            while self.accept(","):
                values.append(self.whole_number())
            self.expect(")", "to close the tuple")
            return tuple(values)
        if self.peek.kind == "name" and self.peek.text in ("True", "False"):
            return self.take().text == "True"
        return self.whole_number()

    def whole_number(self) -> int:
        sign = -1 if self.accept("-", "−") else 1
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            raise self.error(token.pos, "expected a whole number, such as axis=0")
        return sign * int(token.text)

    def applied(self, token: Token, name: str, arg: Expr, options: dict) -> Expr:
        fn = functions.get(name)
        try:
            return fn.build(arg, **options) if fn.build is not None else algebra.apply(name, arg, *options.values())
        except (ValueError, TypeError) as err:
            raise self.error(token.pos, f"{name}: {' '.join(str(err).split())}") from None

    # -- sizes
    def settle(self, space: _Space) -> None:
        """Give every index of the namespace its range: a size from ``shapes`` or from a use, all sizes of one index
        (and of indices tied by δ) the same."""
        classes: dict = {}
        for b in space.binders + (space.out or []):
            classes.setdefault(b.root(), []).append(b)
        for members in classes.values():
            uses = [(b.pos, self.shapes[b.name]) for b in members if isinstance(self.shapes.get(b.name), int)]
            uses += [u for b in members for u in b.uses if u[1] is not None]
            sized = [u for u in uses if isinstance(u[1], int)]
            for pos, d in sized:
                if d != sized[0][1]:
                    a = members[0].name
                    raise self.error([sized[0][0], pos], f"index {a} has two ranges: size {sized[0][1]} here and "
                                     f"{d} there")
            if not uses:
                b = members[0]
                raise self.error(b.pos, f"the range of index {b.name} is not known: no tensor reads it; give it as "
                                 f"shapes={{'{b.name}': n}}")
            dim = (sized or uses)[0][1]
            for b in members:
                b.dim = dim

    # -- building
    def value(self, tree) -> Expr:
        """The tree built: an expression whose output indices are the names of the unsummed indices it reads."""
        pos = tree[1]
        try:
            return self.built(tree)
        except IndexNotationError:  # already pointing at its place
            raise
        except (ValueError, TypeError, ArithmeticError) as err:
            raise self.error(pos, " ".join(str(err).split())) from None

    def built(self, tree) -> Expr:
        kind = tree[0]
        if kind == "num":
            return algebra.constant(tree[2])
        if kind == "size":
            return _size(tree[2])
        if kind == "read":
            expr, binders = tree[2], tree[3]
            names = tuple(b.name for b in binders)
            out = tuple(dict.fromkeys(names))
            dims = {b.name: b.dim for b in binders}
            return algebra.product([(expr, names)], out, tuple(dims[a] for a in out), distribute=True)
        if kind == "delta":
            a, b = tree[2], tree[3]
            return self.built(("read", tree[1], identity(a.dim), [a, b]))
        if kind == "call":
            e = self.value(tree[3])
            return _renamed(algebra.apply(tree[2], e), e)
        if kind == "along":
            fn, axis, e = tree[2], tree[3], self.value(tree[4])
            if axis not in e.out:
                raise ValueError(f"{fn}_{axis}(…) acts along index {axis}, which its argument does not read unsummed")
            build = functions.get(fn).build
            assert build is not None  # _along reads only a function along axes, which builds
            result = build(e, axis=e.out.index(axis))
            out = e.out if result.ndim == e.ndim else tuple(a for a in e.out if a != axis)
            return algebra.product([(result, out)], out, tuple(d for a, d in zip(e.out, e.dims) if a in out),
                                   distribute=True)
        if kind == "pow":
            e = self.value(tree[2])
            return _renamed(algebra.power(e, tree[3]), e)
        if kind == "sum":
            values = [(sign, self.value(t)) for sign, t in tree[2]]
            return _added(values)
        group: list[Expr] = []  # a term, from the right
        for item in reversed(tree[2]):
            if item[0] == "Σ":
                e = _multiplied(group)
                summed = {b.name for b in item[1]}
                out = tuple(a for a in e.out if a not in summed)
                kept = tuple(d for a, d in zip(e.out, e.dims) if a not in summed)
                group = [algebra.product([(e, e.out)], out, kept, distribute=True)]
            elif item[0] == "/":
                group.append(_renamed(algebra.power(self.value(item[1]), -1), self.value(item[1])))
            else:
                group.append(self.value(item))
        return _multiplied(group)


@dataclass(eq=False)
class _Space:
    """A namespace of indices: the result's (``out``; None where the statement has no left side, and the unsummed
    indices it reads are its result's, ``implicit``), the Σs open (``bound``), every binder made in it."""

    out: list[Binder] | None
    bound: list = field(default_factory=list)
    binders: list = field(default_factory=list)
    implicit: dict = field(default_factory=dict)
    free_uses: list = field(default_factory=list)  # (binder, position) of each unsummed index read
    bars: int = 0  # |…| open


def _number(text: str):
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 and "e" not in text.lower() else value


def _along(name: str) -> tuple[str, str] | None:
    """``("softmax", "j")`` for ``softmax_j``, a function along axes with the index it acts along, as printed."""
    fn, _, axis = name.rpartition("_")
    if fn in functions.REGISTRY and functions.get(fn).kind == "along axes" and fn != "norm" and axis.isidentifier() \
            and functions.get(fn).public:
        return fn, axis
    return None


def _keeps_rank(fn: str) -> bool:
    """Whether ``fn`` along an axis keeps it (``softmax``) rather than summing it away (``logsumexp``)."""
    return len(functions.get(fn).result_shape((2,), (0,))) == 1


def _size(dim) -> Expr:
    return Expr((), (), (Term(1, (Size(dim),)),))


def _renamed(result: Expr, like: Expr) -> Expr:
    """``result`` (of ``like``'s shape, its indices fresh) with ``like``'s index names."""
    return algebra.product([(result, like.out)], like.out, like.dims, distribute=True)


def _multiplied(values: list[Expr]) -> Expr:
    if len(values) == 1:
        return values[0]
    dims: dict = {}
    for v in values:
        for a, d in zip(v.out, v.dims):
            dims.setdefault(a, d)
    out = tuple(dims)
    return algebra.product([(v, v.out) for v in values], out, tuple(dims.values()))


def _added(values) -> Expr:
    """The signed values added in one pass (a long sum is simplified once), broadcast over their indices."""
    if len(values) == 1 and values[0][0] == 1:
        return values[0][1]
    dims: dict = {}
    for _, v in values:
        for a, d in zip(v.out, v.dims):
            dims.setdefault(a, d)
    out = tuple(dims)
    terms = tuple(t for sign, v in values for t in instantiate(v if sign == 1 else algebra.scale(v, -1), v.out, out))
    return simplify(Expr(out, tuple(dims.values()), terms))
