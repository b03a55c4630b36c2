"""A small, safe expression language for the command line — parsed, never ``eval``'d.

``ast.parse(text, mode="eval")`` reads the text with Python's precedence; a whitelist walks the tree and refuses,
with a caret, every node it does not name. Allowed: names (tensors), numbers, ``+ - * / ** @``, unary ``- +``,
``.T``, and every call of the registry (:func:`einsumgrad.core.functions.calls`), each read as its entry says:
the functions (``tanh(e)``, ``softmax(e, axis=0)``, ``max(e, axis=(0, 1), keepdims=True)``) and the built-ins
(``einsum('spec', ...)``, ``sum(e)``, ``sum(e, axis=k)``, ``trace(e)``, ``kron(A, B)``, ``reshape(X, (2, 6))``,
``concatenate([a, b], axis=0)``, ``stack([a, b], axis=0)``, ``expand_dims(x, 0)``, ``eye(3)``). A tensor's shape comes from ``shapes``, else its rank from the einsum specs it appears in,
else from its use (:mod:`einsumgrad.doors.ranks`: ``y - tanh(X @ Θ)`` makes ``y`` a matrix, ``β * sum(...)`` makes ``β`` a
scalar), else from its name (upper case: a matrix, lower case: a vector), a guess that :func:`read_expression`
reports. Names may be Unicode (``Θ``, ``β``). ``I`` is always the identity, its size taken from ``shapes``
(``I=3x3``, checked against its use) or from the matrix beside it (``P.T @ P - I``), and ``eye(3)`` one of a given
size; ``x[0]``, ``P[:, 0, 1]``, ``x[1:3]``, ``...`` and ``None`` index as NumPy's basic indexing does. ``L = ...``
names the result ``L`` (its derivatives then read ``∂L/∂W``).

Limits, each a clear error: at most ``MAX_LENGTH`` = 100,000 characters, read in linear time; calls, bracketed
operands and ``**`` nested at most ``MAX_DEPTH`` = 100 levels; every number a finite float. Chains (``x + x + ...``,
``x.T.T``, ``- - x``) do not nest, and a sum adds up as a balanced tree, but Python's own parser may refuse chains
of more than about 3,000 operands: group them in parentheses.

>>> print(parse_expression("sum(tanh(einsum('ij,j->i', W, x)))"))
y = Σ_i tanh(Σ_j W[i,j] x[j])
"""
from __future__ import annotations

import ast
import inspect
import numbers
import operator
import re
import sys
import unicodedata
import warnings
from typing import NamedTuple

from ..core import algebra, functions
from ..core.functions import AXIS, EXPRESSION, EXPRESSIONS, SHAPE, SIZE, SPEC, Builtin
from ..library import generic
from . import ranks
from ..core.errors import EinsumgradError, EinsumSyntaxError, ExpressionSyntaxError
from ..expression import Expression, eye, function, matmul, tensor
from ..core.parse import ELLIPSIS, parse

MAX_LENGTH = 100_000
MAX_DEPTH = 100  # levels of brackets and calls in the text (the nodes it builds may nest up to algebra.MAX_DEPTH)
IDENTITY = "I"


def _functions() -> set[str]:
    """Every call the language knows: the registry's (its public functions and built-ins) and your own."""
    return set(functions.calls()) | generic.DECLARED


def _positional(build) -> float:
    """How many positional arguments a built-in takes: its parameters without a default (any number after a
    ``*``); one with a default, ``axis=0``, is a keyword in the language."""
    params = inspect.signature(build).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return float("inf")
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in params)


class Reading(NamedTuple):
    """What :func:`read_expression` read: the expression, the names whose rank was guessed from
    their case (with that rank), and the function names it took as functions of your own."""

    expression: Expression
    guessed: tuple[tuple[str, int], ...]
    declared: tuple[str, ...]


class _Identity:
    """``I`` before its size is known from the matrix it meets."""


_IDENTITY = _Identity()


_OPERATORS = {ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub), ast.Mult: ("*", operator.mul),
              ast.Div: ("/", operator.truediv), ast.MatMult: ("@", matmul), ast.Pow: ("**", operator.pow)}
_UNARY = {ast.USub: operator.neg, ast.UAdd: lambda v: v}
_NAMED = re.compile(r"\s*(\w+)\s*=(?!=)\s*")  # 'L = ...' names the result L
_UNREADABLE = re.compile("[\0\ud800-\udfff]")  # a null byte, a lone surrogate: ast.parse cannot take them


def parse_expression(text: str, shapes: dict | None = None, symmetric=frozenset()) -> Expression:
    """Parse ``text`` into an expression; ``shapes`` maps tensor names to shapes or ranks; the
    tensors named in ``symmetric`` are symmetric matrices."""
    return read_expression(text, shapes, symmetric=symmetric).expression


def read_expression(text: str, shapes: dict | None = None, functions_of_your_own: bool = False,
                    symmetric=frozenset()) -> Reading:
    """Parse ``text`` as :func:`parse_expression` does, saying which ranks were guessed; with
    ``functions_of_your_own``, an unknown function name ``h`` is an elementwise function with no
    formula (see :func:`einsumgrad.function`) instead of an error."""
    if not isinstance(text, str):
        raise EinsumgradError("an expression is a string")
    if len(text) > MAX_LENGTH:
        raise EinsumgradError(f"an expression has at most {MAX_LENGTH:,} characters; this one has {len(text):,}")
    reader = _Reader(text, {unicodedata.normalize("NFKC", k): v for k, v in (shapes or {}).items()},
                     functions_of_your_own,
                     frozenset(unicodedata.normalize("NFKC", n) for n in symmetric))
    value = reader.read()
    expression = value if isinstance(value, Expression) else Expression(algebra.as_expr(value))
    return Reading(expression, tuple((n, reader.ranks[n]) for n in reader.guessed), tuple(reader.declared))


def _identity_size(shape) -> int | None:
    """The size ``n`` of the identity from a shape given for ``I`` (``(n, n)``), None for none (or a rank of 2):
    ``I`` is the identity, never a tensor of random numbers."""
    shape = tuple(shape) if isinstance(shape, list) else shape
    if shape is None or shape == 2:
        return None
    if isinstance(shape, tuple) and len(shape) == 2 and shape[0] == shape[1]:
        return shape[0]
    given = "x".join(map(str, shape)) if isinstance(shape, tuple) else f"rank {shape}"
    raise EinsumgradError(f"shapes: {IDENTITY} is the identity matrix, so its shape is n×n (such as {IDENTITY}=3x3), "
                          f"got {given or 'a scalar'}; give a tensor of your own another name")


def _operand(node):
    """The left operand of a whitelisted operator node; None for any other node."""
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return node.left
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return node.operand
    return node.value if isinstance(node, ast.Attribute) and node.attr == "T" else None


class _Reader:
    """One walk over one parsed text; every error points a caret into the text."""

    def __init__(self, text: str, shapes: dict, declare: bool = False, symmetric: frozenset = frozenset()):
        self.text, self.shapes, self.declare, self.symmetric = text, shapes, declare, symmetric
        self.identity = _identity_size(shapes.get(IDENTITY))
        self.identity_read = False
        self.declared: list[str] = []
        named = _NAMED.match(text)
        self.result = named.group(1) if named and named.group(1).isidentifier() else ""  # L in 'L = ...'
        self.start = named.end() if named and self.result else 0  # where the expression itself starts
        self.chars = [self.start + k for k, ch in enumerate(text[self.start:]) for _ in ch.encode(errors="replace")]
        self.chars.append(len(text))

    def error(self, where, problem: str) -> ExpressionSyntaxError:
        """``where``: a character offset, or an ast node (whose offsets count UTF-8 bytes)."""
        pos = where if isinstance(where, int) else self.chars[where.col_offset]
        return ExpressionSyntaxError(self.text, min(max(pos, 0), len(self.text)), problem)

    def read(self):
        if bad := _UNREADABLE.search(self.text):
            raise self.error(bad.start(), f"unexpected character {bad.group()!r}")
        try:
            with warnings.catch_warnings():  # "invalid escape sequence" in a string, which is refused anyway
                warnings.simplefilter("ignore")  # on one line, so that ast's offsets are offsets into the text:
                tree = ast.parse(self.text[self.start:].replace("\n", " ").replace("\r", " "), mode="eval")
        except (SyntaxError, ValueError) as err:  # ValueError: too many digits, in some Python versions
            raise self.python_error(getattr(err, "msg", str(err)), getattr(err, "offset", None)) from None
        except (RecursionError, MemoryError):
            raise EinsumgradError(f"the expression is too deep for Python's parser: nest at most {MAX_DEPTH} levels, "
                                  "and put long chains such as x + x + ... in parentheses") from None
        if self.declare:
            self.declare_functions(tree)
        self.calls = functions.calls()
        self.names = set(self.calls) | generic.DECLARED
        self.check_calls(tree)
        known = {**self.spec_ranks(tree), **{n: s if isinstance(s, int) else len(s) for n, s in self.shapes.items()}}
        self.ranks, self.guessed = ranks.infer(tree, known, IDENTITY)
        value = self.known(self.start, self.visit(tree.body, 0))
        if IDENTITY in self.shapes and not self.identity_read:
            raise EinsumgradError(f"shapes give {IDENTITY}, the identity, but the expression does not use it")
        if not self.result:
            return value
        expression = value if isinstance(value, Expression) else Expression(algebra.as_expr(value))
        return self.apply(0, lambda e: e.named(self.result), expression)

    def declare_functions(self, tree) -> None:
        """Every unknown name called (other than ``_private`` ones and einsumgrad's internal ones), as an
        elementwise function of your own."""
        for node in ast.walk(tree):
            name = getattr(node.func, "id", None) if isinstance(node, ast.Call) else None
            if not name or name.startswith("_") or name in self.declared:
                continue
            # one a reading before declared is still a function of your own, unless it was given a formula since
            if (name not in _functions() and name not in functions.REGISTRY) or (
                    name in generic.DECLARED and generic.IMPLEMENTATIONS.get(name) is None):
                self.declared.append(generic.declare(name))

    def check_calls(self, tree) -> None:
        """Every call names a function the language knows (before ranks are read off the functions)."""
        for node in ast.walk(tree):
            name = getattr(node.func, "id", None) if isinstance(node, ast.Call) else None
            if not isinstance(node, ast.Call) or name in self.names:
                continue
            if not name:
                raise self.error(node.func, "only the named functions can be called")
            internal = f" ({name!r} is a name einsumgrad uses inside: call yours otherwise)" * (
                self.declare and name in functions.REGISTRY)
            raise self.error(node.func, f"unknown function {name!r}{internal}; known: {', '.join(sorted(self.names))}")

    def python_error(self, message: str, offset: int | None) -> ExpressionSyntaxError:
        end = len(self.text.rstrip())
        pos = self.start + offset - 1 if offset else end
        if "nested parentheses" in message:
            message = f"the expression is nested more than {MAX_DEPTH} levels deep"
        elif "digits" in message:
            message = "a number has more digits than Python reads (4300)"
        elif message == "invalid syntax":
            message = ("expected a name, a number or '(', found the end of the expression" if pos >= end
                       else f"unexpected character {self.text[pos]!r}")
        return self.error(pos, message)

    def spec_ranks(self, tree) -> dict[str, int]:
        """Check every spec (a plain quoted string: ``einsum``'s); the rank of each tensor after it taken by name."""
        ranks: dict[str, int] = {}
        for node in ast.walk(tree):  # ast.walk is iterative: no depth limit
            entry = self.calls.get(getattr(node.func, "id", "")) if isinstance(node, ast.Call) else None
            if not isinstance(entry, Builtin) or SPEC not in entry.arguments:
                continue
            k = entry.arguments.index(SPEC)
            first = node.args[k] if len(node.args) > k else node
            pos, spec = self.chars[first.col_offset], getattr(first, "value", None)
            if not isinstance(spec, str):
                raise self.error(first, f"{entry.name} takes {entry.takes}")
            if self.text[pos] not in "'\"" or self.text[pos + 1: pos + 2 + len(spec)] != spec + self.text[pos]:
                raise self.error(first, "write the einsum spec as one plain quoted string, such as 'ij,j->i'")
            try:
                terms = parse(spec).inputs
            except EinsumSyntaxError as err:
                raise self.error(pos + 1 + err.position, err.problem) from None
            for term, arg in zip(terms, node.args[k + 1:]):
                if isinstance(arg, ast.Name) and ELLIPSIS not in term:
                    if ranks.setdefault(arg.id, len(term)) != len(term):
                        raise self.error(arg, f"{arg.id} is used with rank {ranks[arg.id]} and {len(term)}")
        return ranks

    def apply(self, where, fn, *args):
        """``fn(*args)``; a failure, or a result that is not finite, is an error at ``where``."""
        args = [self.known(where, a) for a in args]
        try:
            value = fn(*args)
        except EinsumgradError as err:
            raise self.error(where, " ".join(str(err).split())) from err
        except ArithmeticError as err:
            raise self.error(where, f"arithmetic on numbers failed: {(err.args or [err])[-1]}") from None
        coefs = [t.coef for t in value.terms] if isinstance(value, Expression) else [value]
        if not all(isinstance(c, numbers.Real) and abs(c) <= sys.float_info.max for c in coefs):
            raise self.error(where, "a number here is not a finite real number (beyond ±1.8e308, inf, nan or complex)")
        return value

    def visit(self, node, depth: int):
        """Walk down the chain of operators on the left without recursion, then apply them upwards."""
        if depth > MAX_DEPTH:
            raise self.error(node, f"the expression is nested more than {MAX_DEPTH} levels deep")
        chain = []
        while _operand(node) is not None:
            chain.append(node)
            node = _operand(node)
        value = self.leaf(node, depth)
        terms: list[tuple] = []  # a run of + and -, as (operator position, value)
        for node in reversed(chain):
            if isinstance(node, ast.BinOp):
                (symbol, fn), right = _OPERATORS[type(node.op)], self.visit(node.right, depth + 1)
                pos = self.text.find(symbol, self.chars[node.left.end_col_offset],  # type: ignore[index]  # parsed: set
                                     self.chars[node.right.col_offset])
                if terms and symbol not in "+-":
                    value, terms = self.total(terms), []
                value, right = self.sized(pos, symbol, value, right)
                if symbol in "+-":
                    terms = terms or [(pos, value)]
                    terms.append((pos, self.apply(pos, operator.neg, right) if symbol == "-" else right))
                    continue
            elif terms:
                value, terms = self.total(terms), []
            if isinstance(node, ast.BinOp):
                number = [isinstance(v, numbers.Number) for v in (value, right)]
                if symbol == "**" and not number[1]:
                    raise self.error(pos, "the exponent of ** must be a number")
                left = float(value) if symbol == "**" and all(number) else value  # overflows instead of growing
                value = self.apply(pos, fn, left, right)
            elif isinstance(node, ast.UnaryOp):
                value = self.apply(node, _UNARY[type(node.op)], value)
            else:
                value = self.apply(self.chars[node.end_col_offset] - 1, lambda v: v.T if isinstance(v, Expression) else v, value)
        return self.total(terms) if terms else value

    def sized(self, pos: int, symbol: str, left, right):
        """``left, right`` with an identity ``I`` among them made the size of the other, a matrix."""
        if _IDENTITY not in (left, right):
            return left, right
        other = right if left is _IDENTITY else left
        if not isinstance(other, Expression) or other.ndim < (1 if symbol == "@" else 2):
            return self.known(pos, left), self.known(pos, right)
        if symbol == "@":
            n = other.shape[0] if other.ndim == 1 else other.shape[-2] if left is _IDENTITY else other.shape[-1]
        else:
            rows, n = other.shape[-2:]
            if isinstance(rows, int) and isinstance(n, int) and rows != n:
                raise self.error(pos, f"the identity I is square, but the matrix beside it is {rows}x{n}")
        if self.identity is not None and isinstance(n, int) and n != self.identity:
            raise self.error(pos, f"the identity I is {self.identity}x{self.identity} (its shape given), but the "
                             f"matrix beside it needs {n}x{n}")
        identity = eye(n if self.identity is None else self.identity)
        return (identity, right) if left is _IDENTITY else (left, identity)

    def known(self, where, value):
        """``value``, or for the identity ``I``, the identity of the size its shape gives (or an error)."""
        if value is not _IDENTITY:
            return value
        if self.identity is None:
            raise self.error(where, "the size of the identity I is not known here: write eye(3), give its shape "
                             "(I=3x3), or use I beside a matrix (P.T @ P - I)")
        return eye(self.identity)

    def total(self, terms):
        """Add up pairwise, as a balanced tree: a long sum is not re-simplified once per term."""
        while len(terms) > 1:
            pairs = zip(terms[::2], terms[1::2])
            terms = [(a[0], self.apply(b[0], operator.add, a[1], b[1])) for a, b in pairs] + terms[len(terms) // 2 * 2:]
        return terms[0][1]

    def leaf(self, node, depth: int):
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Subscript):
            key = self.key(node.slice)
            return self.apply(node.slice, lambda v: v[key], self.visit(node.value, depth + 1))
        if isinstance(node, ast.Name) and node.id == IDENTITY:
            self.identity_read = True
            return _IDENTITY
        if isinstance(node, ast.Name) and node.id in self.names:
            raise self.error(node, f"{node.id} is a function: call it as {node.id}(...)")
        if isinstance(node, ast.Name):
            return self.apply(node, tensor, node.id, self.shapes.get(node.id, self.ranks[node.id]),
                              node.id in self.symmetric)
        value = node.value if isinstance(node, ast.Constant) else None
        if isinstance(value, str):
            raise self.error(node, "a quoted string can only be the spec of einsum('ij,j->i', ...)")
        if type(value) in (int, float):
            return self.apply(node, operator.pos, value)  # checks that it is finite
        source = self.text[self.chars[node.col_offset]: self.chars[node.end_col_offset]]
        raise self.error(node, f"{source[:40]!r} is not part of the expression language: "
                         "use names, numbers, + - * / ** @ .T, ( ) and the functions")

    def call(self, node: ast.Call, depth: int):
        """A call, read as its registry entry says (a function of your own: ``h(x)``)."""
        name = node.func.id  # type: ignore[attr-defined]  # a known function's name (check_calls)
        entry = self.calls.get(name)
        kinds = entry.arguments if isinstance(entry, Builtin) else ()
        options: dict = {}
        for kw in node.keywords:
            if kw.arg in options:
                raise self.error(kw, f"unknown keyword {kw.arg!r} here: it is given twice")
            options[kw.arg] = self.option(kw)
        build = getattr(entry, "build", None)
        if isinstance(entry, Builtin) and len(node.args) > _positional(build):
            raise self.error(node.func, self.usage(entry, len(node.args)))
        values = [self.argument(a, kinds[k] if k < len(kinds) else EXPRESSION, entry, depth)
                  for k, a in enumerate(node.args)]
        if build is None:  # f(x)
            if node.keywords:
                raise self.error(node.keywords[0], f"unknown keyword {node.keywords[0].arg!r} here: {name} takes one "
                                 "expression")
            if len(values) != 1:
                raise self.error(node.func, f"{name} takes one expression, got {len(values)}")
        else:
            try:
                inspect.signature(build).bind(*values, **options)
            except TypeError:
                raise self.error(node.func, self.usage(entry, len(values))) from None
        return self.apply(node.func, lambda *args: function(name)(*args, **options), *values)

    @staticmethod
    def usage(entry, count: int) -> str:
        """What a call of ``entry`` takes, for a call that does not fit."""
        if not isinstance(entry, Builtin):
            return f"{entry.name} is called as {entry.name}{inspect.signature(entry.build)}"
        got = f", got {count}" if set(entry.arguments) <= {EXPRESSION} else ""
        return f"{entry.name} takes {entry.takes}{got}"

    def argument(self, node, kind: str, entry, depth: int):
        """A positional argument, read as ``kind`` says (see :class:`~einsumgrad.core.functions.Builtin`)."""
        if kind == EXPRESSION:
            return self.visit(node, depth + 1)
        if kind == SPEC:
            return node.value  # checked by spec_ranks
        if kind == EXPRESSIONS:
            if not isinstance(node, (ast.List, ast.Tuple)) or not node.elts:
                raise self.error(node, self.usage(entry, 1))
            return [self.known(e, self.visit(e, depth + 1)) for e in node.elts]
        if kind == SIZE:
            if type(getattr(node, "value", None)) is not int:
                raise self.error(node, self.usage(entry, 1))
            return node.value
        if kind in (SHAPE, AXIS):
            return tuple(map(self.axis, node.elts)) if isinstance(node, ast.Tuple) else self.axis(node)
        raise EinsumgradError(f"{entry.name}: no reading of an argument of kind {kind!r}")

    def key(self, node):
        """An index of NumPy's basic indexing, read from the text: whole numbers, slices, ``...``, ``None``."""
        if isinstance(node, ast.Tuple):
            return tuple(self.key(e) for e in node.elts)
        if isinstance(node, ast.Slice):
            return slice(*(None if p is None else self.whole(p) for p in (node.lower, node.upper, node.step)))
        if isinstance(node, ast.Constant) and (node.value is None or node.value is Ellipsis):
            return node.value
        return self.whole(node)

    def option(self, kw: ast.keyword):
        """A keyword's value: ``axis=`` an int or a tuple of ints, ``keepdims=`` True or False."""
        if kw.arg == "axis":
            return tuple(map(self.axis, kw.value.elts)) if isinstance(kw.value, ast.Tuple) else self.axis(kw.value)
        if kw.arg == "keepdims" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool):
            return kw.value.value
        raise self.error(kw, f"unknown keyword {kw.arg or '**'!r} here (axis=k or (j, k), keepdims=True or False)")

    def whole(self, node, problem: str = "an index is a whole number, a slice such as 1:3, ... or None") -> int:
        negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
        value = getattr(node.operand if negative else node, "value", None)
        if type(value) is not int:
            raise self.error(node, problem)
        return -value if negative else value

    def axis(self, node) -> int:
        return self.whole(node, "an axis is a whole number: axis=0, axis=-1 or axis=(0, 1)")
