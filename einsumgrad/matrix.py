"""Matrix notation: turn an index expression of rank ≤ 2 into a conventional formula.

Each term is read as a graph: matrices are edges between their two indices,
vectors hang off one index, and a formula exists when every summed index joins a
chain (``Aᵀ B``), a chain ending in vectors (``g xᵀ``, ``xᵀ A x``) or a cycle
(``tr(A B)``); a vector on an inner index becomes ``diag(v)``. Anything else
returns ``None`` — never a wrong formula.

>>> from .algebra import add, einsum, tensor
>>> A, x = tensor("A", 2), tensor("x", 1)
>>> matrix_notation(einsum("ij,j->i", A, x))
'A x'
>>> matrix_notation(add(einsum("ij->ji", A), A))
'Aᵀ + A'
>>> matrix_notation(einsum("ijk->i", tensor("T", 3))) is None
True
"""
from __future__ import annotations

from dataclasses import dataclass

from .functions import get
from .ir import DEEP, Call, Delta, Expr, Size, Term, Var, instantiate

_SUP = str.maketrans("-0123456789.", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹·")


class NoFormula(Exception):
    """This term has no conventional matrix formula."""


@dataclass
class _Item:
    text: str  # the matrix, vector or scalar, read in the orientation of idx
    idx: tuple[str, ...]
    atomic: bool  # needs no parentheses when juxtaposed
    symmetric: bool = False  # equal to its transpose (the identity, a symmetric matrix)

    def transposed(self) -> str:
        if self.text == "I" or self.symmetric:
            return self.text
        if self.atomic and self.text.endswith("⁻¹"):
            return self.text[:-2] + "⁻ᵀ"
        return (self.text if self.atomic else f"({self.text})") + "ᵀ"


def matrix_notation(expr: Expr) -> str | None:
    if expr.ndim > 2 or expr.depth > DEEP:  # a deep one reads better as index-notation equations
        return None
    try:
        return _sum(expr)
    except NoFormula:
        return None


def _sum(expr: Expr) -> str:
    if not expr.terms:
        return "0"
    parts = []
    for k, t in enumerate(expr.terms):
        text = _term(t, expr.out)
        if k and text.startswith("-"):
            parts.append(" - " + text[1:].lstrip())
        else:
            parts.append((" + " if k else "") + text)
    return "".join(parts)


def _term(t: Term, out: tuple[str, ...]) -> str:
    if not t.factors:
        return _num(t.coef)  # a number, broadcast elementwise: the 1 in 1 - s
    items: list[_Item] = []
    coef = t.coef
    for f in t.factors:
        if isinstance(f, Size):
            if isinstance(f.dim, int):
                coef *= f.dim
                continue
            raise NoFormula
        items.append(_item(f, set(out) | set(t.indices())))
    scalars = [i.text if i.atomic else f"({i.text})" for i in items if not i.idx]
    body = _graph([i for i in items if i.idx], out)
    text = " ".join(scalars + ([body] if body else []))
    return _with_coef(coef, text)


def _with_coef(coef, text: str) -> str:
    if not text:
        return _num(coef)
    if coef == 1:
        return text
    if coef == -1:
        return "-" + text
    if isinstance(coef, (int, float)) and coef < 0:
        return f"-{_num(-coef)} {text}"
    return f"{_num(coef)} {text}"


def _num(c) -> str:
    return f"{c:.6g}" if isinstance(c, float) else str(c)


def _item(f, names) -> _Item:
    if isinstance(f, Delta):
        return _Item("I", (f.a, f.b), True)
    node, idx = f.node, f.idx
    if len(set(idx)) != len(idx):
        raise NoFormula  # a diagonal read such as A[i,i]
    if isinstance(node, Var):
        return _Item(node.name, idx, True, node.symmetric)
    if isinstance(node, Expr):
        text = _sum(Expr(idx, node.dims, instantiate(node, idx, names)))
        return _Item(text, idx, _atomic(text))
    return _call(node, idx, names)


def _atomic(text: str) -> bool:
    depth = 0
    for c in text:
        depth += c in "(["
        depth -= c in ")]"
        if depth == 0 and c == " ":
            return False
    return True


def _call(node: Call, idx, names) -> _Item:
    fn = get(node.fn)
    if fn.elementwise:
        inner = _sum(Expr(idx, node.arg.dims, instantiate(node.arg, idx, names)))
        if node.fn == "pow":
            c = node.params[0]
            base = inner if _atomic(inner) else f"({inner})"
            power = "⁻¹" if c == -1 and not idx else "^∘" + _num(c) if idx else _num(c).translate(_SUP)
            return _Item(base + power, idx, True)
        return _Item(f"{node.fn}({inner})", idx, True)
    arg = matrix_notation(node.arg)
    if arg is None:
        raise NoFormula
    base = arg if _atomic(arg) else f"({arg})"
    if node.fn == "inv":
        text = base + "⁻¹"
    elif node.fn == "logdet":
        text = f"log|det({arg})|"
    else:
        text = f"{node.fn}({arg}{fn.show(*node.params) if fn.show else ''})"
    return _Item(text, idx, True)


def _graph(items: list[_Item], out: tuple[str, ...]) -> str:
    """Chains of matrices and vectors through the summed indices."""
    if any(len(i.idx) > 2 for i in items):
        raise NoFormula
    items = _hadamard(items)
    mats = [i for i in items if len(i.idx) == 2]
    vecs = [i for i in items if len(i.idx) == 1]
    degree: dict[str, int] = {}
    for m in mats:
        for a in m.idx:
            degree[a] = degree.get(a, 0) + 1
    if any(n > 2 for n in degree.values()) or any(degree.get(a, 0) > 1 for a in out):
        raise NoFormula
    walker = _Walker(mats, vecs, out)
    if len(out) == 2:
        p, q = out
        chain, end = walker.walk(p)
        if end == q:
            result = chain
        else:
            other, end_q = walker.walk(q)
            if end_q is not None or end is not None:
                raise NoFormula  # an axis with no factor on it: a broadcast, not a matrix formula
            result = f"{chain} {other}ᵀ" if _atomic(other) else f"{chain} ({other})ᵀ"
    elif len(out) == 1:
        result, end = walker.walk(out[0])
        if end is not None:
            raise NoFormula
    else:
        result = ""
    rest = walker.closed()
    return " ".join(x for x in (rest, result) if x)


def _hadamard(items: list[_Item]) -> list[_Item]:
    """Merge factors on the same index set: X[i,j] Y[j,i] -> X ⊙ Yᵀ; u[i] v[i] -> u ⊙ v."""
    merged: list[_Item] = []
    for item in items:
        for k, m in enumerate(merged):
            if set(m.idx) == set(item.idx):
                text = item.text if item.idx == m.idx else item.transposed()
                merged[k] = _Item(f"{_paren(m)} ⊙ {_paren_text(text)}", m.idx, False)
                break
        else:
            merged.append(item)
    return merged


def _paren(i: _Item) -> str:
    return i.text if i.atomic else f"({i.text})"


def _paren_text(text: str) -> str:
    return text if _atomic(text) else f"({text})"


class _Walker:
    """Follows matrices from index to index, using each once."""

    def __init__(self, mats, vecs, out):
        self.mats, self.vecs, self.out = list(mats), list(vecs), out

    def _vector_at(self, a) -> _Item | None:
        found = [v for v in self.vecs if v.idx == (a,)]
        if len(found) > 1:
            raise NoFormula
        if found:
            self.vecs.remove(found[0])
            return found[0]
        return None

    def walk(self, start: str) -> tuple[str, str | None]:
        """The chain from ``start``: its text, and where it ended (an index with nothing
        more on it, or None where a vector closed it)."""
        pieces: list[str] = []
        at = start
        first = True
        while True:
            vec = self._vector_at(at)
            edge = next((m for m in self.mats if at in m.idx), None)
            if edge is None:
                if vec is not None:
                    pieces.append(_paren(vec))
                    return " ".join(pieces), None
                if at in self.out and not first:
                    return " ".join(pieces), at
                if first:
                    return "", at
                raise NoFormula
            if vec is not None:
                pieces.append(f"diag({vec.text})")
            self.mats.remove(edge)
            if edge.text != "I" or not pieces:  # diag(g) I is diag(g)
                pieces.append(_paren(edge) if edge.idx[0] == at else edge.transposed())
            at = edge.idx[1] if edge.idx[0] == at else edge.idx[0]
            first = False
            if at in self.out:
                vec = self._vector_at(at)
                if vec is not None:
                    pieces.append(f"diag({vec.text})")
                return " ".join(pieces), at

    def closed(self) -> str:
        """What is left must close up into scalars: uᵀ A v chains and traces."""
        parts = []
        while self.vecs:
            v = self.vecs.pop(0)
            chain, end = self.walk(v.idx[0])
            if end is not None:
                raise NoFormula
            parts.append(f"{v.transposed()} {chain}")
        while self.mats:
            m = self.mats.pop(0)
            first = m.idx[0]
            self.mats.insert(0, m)
            pieces = []
            at = first
            while True:
                edge = next((e for e in self.mats if at in e.idx), None)
                if edge is None:
                    raise NoFormula
                self.mats.remove(edge)
                pieces.append(_paren(edge) if edge.idx[0] == at else edge.transposed())
                at = edge.idx[1] if edge.idx[0] == at else edge.idx[0]
                if at == first:
                    break
            parts.append(f"tr({' '.join(pieces)})")
        return " ".join(parts)
