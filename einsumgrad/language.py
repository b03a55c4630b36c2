"""A small, safe expression language for the command line — parsed, never ``eval``'d.

Grammar (usual precedence; ``**`` binds tightest and to the right)::

    expr  := term (("+" | "-") term)*
    term  := unary (("*" | "/" | "@") unary)*
    unary := ("-" | "+") unary | power
    power := atom ("**" unary)?
    atom  := NUMBER | NAME | NAME "(" args ")" | "(" expr ")" | atom ".T"
    args  := (STRING | expr | "axis" "=" INT) ("," ...)*

Only whitelisted functions can be called: ``einsum``, ``sum``, ``trace`` and the
registered functions (``tanh``, ``inv``, ...). Every other name is a tensor. A
tensor's shape comes from ``shapes``, else its rank from the einsum specs it appears
in, else from its name: upper-case names are matrices, lower-case names vectors.

>>> print(parse_expression("sum(tanh(einsum('ij,j->i', W, x)))"))
y = Σ_i tanh(Σ_j W[i,j] x[j])
>>> parse_expression("x @ A @ x").matrix_notation()
'xᵀ A x'
"""
from __future__ import annotations

import operator
import re
from typing import NamedTuple

from . import algebra, functions
from .errors import EinsumgradError, EinsumSyntaxError, ExpressionSyntaxError
from .parse import ELLIPSIS, parse

MAX_DEPTH = 64
_OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
              "@": operator.matmul, "**": operator.pow}
FUNCTIONS = frozenset(functions.REGISTRY) - {"pow", "step"} | {"einsum", "sum", "trace"}
_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<string>'[^'\n]*'|\"[^\"\n]*\")|(?P<op>\*\*|[-+*/@(),=]|\.T\b))"
)


class Token(NamedTuple):
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = pos + len(text[pos:]) - len(text[pos:].lstrip())
            raise ExpressionSyntaxError(text, bad, f"unexpected character {text[bad]!r}",
                                        "use names, numbers, + - * / ** @, ( ), ',' and 'quoted' einsum specs")
        kind = m.lastgroup
        tokens.append(Token(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    """Recursive descent over the tokens into a tiny AST of tuples."""

    def __init__(self, text: str):
        self.text, self.tokens, self.k, self.depth = text, tokenize(text), 0, 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.k]

    def error(self, problem: str, tok: Token | None = None):
        tok = tok or self.tok
        return ExpressionSyntaxError(self.text, min(tok.pos, max(len(self.text) - 1, 0)), problem)

    def take(self, text: str) -> Token:
        if self.tok.text != text or self.tok.kind not in ("op",):
            found = "the end" if self.tok.kind == "end" else repr(self.tok.text)
            raise self.error(f"expected {text!r}, found {found}")
        self.k += 1
        return self.tokens[self.k - 1]

    def at(self, *texts) -> bool:
        return self.tok.kind == "op" and self.tok.text in texts

    def parse(self):
        node = self.expr()
        if self.tok.kind != "end":
            raise self.error(f"unexpected {self.tok.text!r}")
        return node

    def expr(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("the expression is nested too deeply")
        node = self.term()
        while self.at("+", "-"):
            op = self.take(self.tok.text)
            node = ("bin", op.text, node, self.term(), op.pos)
        self.depth -= 1
        return node

    def term(self):
        node = self.unary()
        while self.at("*", "/", "@"):
            op = self.take(self.tok.text)
            node = ("bin", op.text, node, self.unary(), op.pos)
        return node

    def unary(self):
        if self.at("-", "+"):
            op = self.take(self.tok.text)
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error("the expression is nested too deeply")
            inner = self.unary()
            self.depth -= 1
            return ("neg", inner, op.pos) if op.text == "-" else inner
        node = self.atom()
        if self.at("**"):
            op = self.take("**")
            node = ("bin", "**", node, self.unary(), op.pos)
        return node

    def atom(self):
        tok = self.tok
        if tok.kind == "number":
            self.k += 1
            node = ("num", float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text), tok.pos)
        elif tok.kind == "name":
            self.k += 1
            if self.at("("):
                node = self.call(tok)
            elif tok.text in FUNCTIONS:
                raise self.error(f"{tok.text} is a function: call it as {tok.text}(...)", tok)
            else:
                node = ("name", tok.text, tok.pos)
        elif self.at("("):
            self.take("(")
            node = self.expr()
            self.take(")")
        elif tok.kind == "string":
            raise self.error("a quoted string can only be the spec of einsum('ij,j->i', ...)")
        else:
            found = "the end of the expression" if tok.kind == "end" else repr(tok.text)
            raise self.error(f"expected a name, a number or '(', found {found}")
        while self.at(".T"):
            node = ("T", node, self.take(".T").pos)
        return node

    def call(self, name: Token):
        if name.text not in FUNCTIONS:
            raise self.error(f"unknown function {name.text!r}; known: {', '.join(sorted(FUNCTIONS))}", name)
        self.take("(")
        args, kwargs = [], {}
        while not self.at(")"):
            if self.tok.kind == "string":
                args.append(("str", self.tok.text[1:-1], self.tok.pos))
                self.k += 1
            elif self.tok.kind == "name" and self.tokens[self.k + 1].text == "=":
                key = self.tok
                self.k += 2
                if key.text != "axis" or name.text != "sum":
                    raise self.error(f"unknown keyword {key.text!r} (only sum(..., axis=k))", key)
                kwargs["axis"] = self.axis()
            else:
                args.append(self.expr())
            if not self.at(")"):
                self.take(",")
        self.take(")")
        return ("call", name.text, tuple(args), kwargs, name.pos)

    def axis(self):
        if self.at("("):
            self.take("(")
            axes = []
            while not self.at(")"):
                axes.append(self._int())
                if not self.at(")"):
                    self.take(",")
            self.take(")")
            return tuple(axes)
        return self._int()

    def _int(self) -> int:
        sign = -1 if self.at("-") else 1
        if sign < 0:
            self.take("-")
        if self.tok.kind != "number" or not self.tok.text.isdigit():
            raise self.error("an axis is a whole number")
        self.k += 1
        return sign * int(self.tokens[self.k - 1].text)


def parse_expression(text: str, shapes: dict | None = None):
    """Parse ``text`` into an expression; ``shapes`` maps tensor names to shapes or ranks."""
    if not isinstance(text, str):
        raise EinsumgradError("an expression is a string")
    tree = _Parser(text).parse()
    ranks: dict[str, int] = {}
    _infer_ranks(tree, ranks, text)
    return _build(tree, text, shapes or {}, ranks)


def _infer_ranks(node, ranks: dict, text: str) -> None:
    kind = node[0]
    if kind == "call":
        _, fn, args, _, pos = node
        if fn == "einsum" and args and args[0][0] == "str":
            try:
                spec = parse(args[0][1])
            except EinsumSyntaxError as err:  # point into the whole expression, not just the spec
                raise ExpressionSyntaxError(text, args[0][2] + 1 + err.position, err.problem) from None
            for term, arg in zip(spec.inputs, args[1:]):
                if arg[0] == "name" and ELLIPSIS not in term:
                    seen = ranks.setdefault(arg[1], len(term))
                    if seen != len(term):
                        raise ExpressionSyntaxError(text, arg[2], f"{arg[1]} is used with rank {seen} and {len(term)}")
        for a in args:
            _infer_ranks(a, ranks, text)
    elif kind == "bin":
        _infer_ranks(node[2], ranks, text)
        _infer_ranks(node[3], ranks, text)
    elif kind in ("neg", "T"):
        _infer_ranks(node[1], ranks, text)


def _build(node, text: str, shapes: dict, ranks: dict):
    kind = node[0]
    try:
        if kind == "num":
            return node[1]
        if kind == "name":
            name = node[1]
            shape = shapes.get(name, ranks.get(name, 2 if name[0].isupper() else 1))
            return algebra.tensor(name, shape)
        if kind == "neg":
            value = _build(node[1], text, shapes, ranks)
            return -value if isinstance(value, (int, float)) else -_expr(value)
        if kind == "T":
            return _expr(_build(node[1], text, shapes, ranks)).T
        if kind == "bin":
            _, op, a, b, _ = node
            left, right = _build(a, text, shapes, ranks), _build(b, text, shapes, ranks)
            numbers = [isinstance(v, (int, float)) for v in (left, right)]
            if op == "**" and not numbers[1]:
                raise EinsumgradError("the exponent of ** must be a number")
            if op == "@" and any(numbers):
                raise EinsumgradError("@ multiplies tensors; use * for a number")
            if all(numbers) and op == "**":
                left = float(left)  # float powers overflow cleanly instead of growing without bound
            try:
                return _OPERATORS[op](left, right)
            except (ZeroDivisionError, OverflowError) as err:
                raise EinsumgradError(f"arithmetic on numbers failed: {err}") from None
        _, fn, args, kwargs, _ = node
        if fn == "einsum":
            if not args or args[0][0] != "str":
                raise EinsumgradError("einsum takes a quoted spec first: einsum('ij,j->i', W, x)")
            return algebra.einsum(args[0][1], *[_build(a, text, shapes, ranks) for a in args[1:]])
        values = [_build(a, text, shapes, ranks) for a in args]
        if any(a[0] == "str" for a in args):
            raise EinsumgradError(f"{fn} takes expressions, not quoted strings")
        if fn == "sum":
            if len(values) != 1:
                raise EinsumgradError("sum takes one expression (and axis=...)")
            return algebra.sum(values[0], kwargs.get("axis"))
        if len(values) != 1:
            raise EinsumgradError(f"{fn} takes one argument, got {len(values)}")
        return algebra.trace(values[0]) if fn == "trace" else algebra.apply(fn, values[0])
    except ExpressionSyntaxError:
        raise
    except EinsumgradError as err:
        raise ExpressionSyntaxError(text, node[-1], " ".join(str(err).split())) from err


def _expr(value):
    return algebra.as_expr(value)
