"""Matrix notation: turn an index expression of rank ≤ 2 into a conventional formula.

Each term is read as a graph: matrices are edges between their two indices,
vectors hang off one index, and a formula exists when every summed index joins a
chain (``Aᵀ B``), a chain ending in vectors (``g xᵀ``, ``xᵀ A x``) or a cycle
(``tr(A B)``); a vector on an inner index becomes ``diag(v)``; an index that only one factor
reads, summed or broadcast, meets the vector of ones ``𝟙`` (``Xᵀ 𝟙``, ``𝟙 𝟙ᵀ``), left out where
its size is known to be 1. Anything else returns ``None`` — never a wrong formula — and
:func:`no_formula_reason` says why.

>>> from ..core.algebra import add, einsum, tensor
>>> A, x = tensor("A", 2), tensor("x", 1)
>>> matrix_notation(einsum("ij,j->i", A, x))
'A x'
>>> matrix_notation(add(einsum("ij->ji", A), A))
'Aᵀ + A'
>>> matrix_notation(einsum("ijk->i", tensor("T", 3))) is None
True
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.functions import get
from ..core.ir import DEEP, Call, Delta, Expr, Ref, Size, Stretch, Term, Var, instantiate, node_shape
from .render import atomic as _atomic, latex_name, latex_operator, latex_symbol

_SUP = str.maketrans("-0123456789.", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹·")


class NoFormula(Exception):
    """This term has no conventional matrix formula."""


@dataclass
class _Item:
    text: str  # the matrix, vector or scalar, read in the orientation of idx ("" for a 𝟙 of length 1)
    idx: tuple[str, ...]
    atomic: bool  # needs no parentheses when juxtaposed
    symmetric: bool = False  # equal to its transpose (the identity, a symmetric matrix)

    def transposed(self) -> str:
        return self.text if self.symmetric else transposed(self.text, self.atomic)


def transposed(text: str, atomic: bool | None = None) -> str:
    """``Aᵀ``, ``(A B)ᵀ``, ``A⁻ᵀ``, ``(x^∘2)ᵀ``; ``Aᵀ`` gives ``A``; ``I`` and the empty text stay."""
    if text in ("I", ""):
        return text
    atomic = _atomic(text) if atomic is None else atomic
    if atomic and text.endswith("⁻¹"):
        return text[:-2] + "⁻ᵀ"
    if atomic and text.endswith("⁻ᵀ"):
        return text[:-2] + "⁻¹"
    if atomic and text.endswith("ᵀ") and _atomic(text[:-1]):
        return text[:-1]
    return (text if atomic and not re.search(r"\^∘[-\d.]+\Z", text) else f"({text})") + "ᵀ"


def matrix_notation(expr: Expr) -> str | None:
    """The formula, or ``None`` where there is none (:func:`no_formula_reason` says why)."""
    try:
        return _notation(expr)
    except NoFormula:
        return None


def no_formula_reason(expr: Expr) -> str | None:
    """Why ``expr`` has no matrix formula, or ``None`` where it has one.

    >>> from ..core.algebra import einsum, tensor
    >>> no_formula_reason(einsum("ijk->ijk", tensor("T", 3)))
    'rank 3: matrix notation covers scalars, vectors and matrices'
    """
    try:
        _notation(expr)
    except NoFormula as err:
        return str(err)
    return None


def _notation(expr: Expr) -> str:
    """The formula; raises :class:`NoFormula` with the reason where there is none."""
    if expr.ndim > 2:
        raise NoFormula(f"rank {expr.ndim}: matrix notation covers scalars, vectors and matrices")
    if expr.depth > DEEP:  # a deep one reads better as index-notation equations
        raise NoFormula("deep expression: see the equations above")
    text = _sum(expr, top=True)
    return text[1:-1] if _one_call(expr) and text.startswith("(") and text.endswith(")") else text


def _one_call(expr: Expr) -> bool:
    """Whether ``expr`` only reads one function's result (bracketed where it is not atomic: ``(x / ‖x‖)``)."""
    (t,) = expr.terms if len(expr.terms) == 1 else (None,)
    return t is not None and t.coef == 1 and len(t.factors) == 1 and isinstance(getattr(t.factors[0], "node", 0), Call)


def _sum(expr: Expr, top: bool = False) -> str:
    """The terms joined; at the top a number term of a vector or matrix is ``𝟙`` or ``𝟙 𝟙ᵀ``
    (inside a function or a Hadamard product it stays a number, as in ``1 - s``)."""
    if not expr.terms:
        return "0"
    dims = dict(zip(expr.out, expr.dims))
    parts = []
    for k, text in enumerate(_positive_first([_term(t, expr.out, dims, top) for t in expr.terms])):
        if k and text.startswith("-"):
            parts.append(" - " + text[1:].lstrip())
        else:
            parts.append((" + " if k else "") + text)
    return "".join(parts)


def _positive_first(texts: list[str]) -> list[str]:
    """``softmax(X W) - Y``, not ``-Y + softmax(X W)``: a sum opens with its first term that is not negated."""
    first = next((k for k, text in enumerate(texts) if not text.startswith("-")), 0)
    return [texts[first]] + texts[:first] + texts[first + 1:]


def _term(t: Term, out: tuple[str, ...], dims: dict, top: bool = False) -> str:
    if not t.factors and not (top and out):
        return _num(t.coef)  # a number, broadcast elementwise: the 1 in 1 - s
    items: list[_Item] = []
    coef = t.coef
    dims = dict(dims)
    stretched: list[str] = []
    for f in t.factors:
        if isinstance(f, Size):
            if isinstance(f.dim, int):
                coef *= f.dim
                continue
            raise NoFormula("the size of an axis no factor reads, as a factor")
        if isinstance(f, Stretch):
            if f.a in out or any(f.a in g.idx for g in t.factors if isinstance(g, Ref)):
                continue  # changes nothing unless an axis is 1 at evaluation
            raise NoFormula("a sum over a stretched axis that no factor reads")
        dims.update(zip(f.idx, node_shape(f.node)) if isinstance(f, Ref) else ((f.a, f.dim), (f.b, f.dim)))
        stretched += _broadcast_reads(f)
        items.append(_item(f, set(out) | set(t.indices())))
    reads = [a for i in items for a in i.idx]
    if any(a in out or reads.count(a) > 1 for a in stretched):
        raise NoFormula("a broadcast axis that another factor also reads")
    dims.update((a, 1) for a in stretched)
    scalars = [i.text if i.atomic else f"({i.text})" for i in items if not i.idx]
    body = _graph([i for i in items if i.idx], out, dims, top)
    text = " ".join(scalars + ([body] if body else []))
    return _with_coef(coef, text)


def _broadcast_reads(f) -> list[str]:
    """The indices at which ``f`` reads a node along an axis that no factor of the node carries and
    that is not known to be of length 1: such an axis is kept of length 1 and stretched, so it
    prints as that (``yᵀ``), which holds only where nothing else reads the index."""
    if not (isinstance(f, Ref) and isinstance(f.node, Expr)):
        return []
    carried = {a for t in f.node.terms for a in t.indices()}
    return [a for a, own, d in zip(f.idx, f.node.out, f.node.dims) if own not in carried and d != 1]


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
        raise NoFormula("a diagonal read such as A[i,i]")
    if isinstance(node, Var):
        return _Item(node.name, idx, True, node.symmetric)
    if isinstance(node, Expr):
        text = _sum(Expr(idx, node.dims, instantiate(node, idx, names)))
        return _Item(text, idx, _atomic(text))
    return _call(node, idx, names)


def _call(node: Call, idx, names) -> _Item:
    fn = get(node.fn)
    if fn.elementwise:
        inner = _sum(Expr(idx, node.arg.dims, instantiate(node.arg, idx, names)))
        if node.fn == "pow":
            c = node.params[0]
            base = inner if _atomic(inner) else f"({inner})"
            power = "⁻¹" if c == -1 and not idx else "^∘" + _num(c) if idx else _num(c).translate(_SUP)
            return _Item(base + power, idx, True)
        if fn.show is not None:
            text = fn.show(node.fn, inner, node.params, 0)
            return _Item(text if _atomic(text) else f"({text})", idx, True)
        return _Item(f"{node.fn}({inner})", idx, True)
    arg = _notation(node.arg)
    base = arg if _atomic(arg) else f"({arg})"
    if fn.show is not None:
        text = fn.show(node.fn, arg, node.params, node.arg.ndim)
    elif node.fn == "inv":
        text = base + "⁻¹"
    elif node.fn == "logdet":
        text = f"log|det({arg})|"
    else:
        text = f"{node.fn}({arg})"
    return _Item(text, idx, _atomic(text))


def _graph(items: list[_Item], out: tuple[str, ...], dims: dict, top: bool) -> str:
    """Chains of matrices and vectors through the summed indices."""
    if any(len(i.idx) > 2 for i in items):
        raise NoFormula("a factor of rank 3 or more")
    items = _hadamard(_row_sums(items, out, dims), out)
    items += _ones(items, out, dims, top)
    mats = [i for i in items if len(i.idx) == 2]
    vecs = [i for i in items if len(i.idx) == 1]
    degree: dict[str, int] = {}
    for m in mats:
        for a in m.idx:
            degree[a] = degree.get(a, 0) + 1
    if any(n > 2 for n in degree.values()):
        raise NoFormula("an index is read three times")
    if any(degree.get(a, 0) > 1 for a in out):
        raise NoFormula("an output index is read by two matrices")
    walker = _Walker(mats, vecs, out)
    if len(out) == 2:
        p, q = out
        chain, end = walker.walk(p)
        if end == q:
            result = chain
        else:
            other, end_q = walker.walk(q)
            if end_q is not None or end is not None:
                raise NoFormula("an output axis with no factor on it (a broadcast)")
            result = _joined(chain, transposed(other))
    elif len(out) == 1:
        result, end = walker.walk(out[0])
        if end is not None:
            raise NoFormula("a vector with nothing to multiply it on its index")
    else:
        result = ""
    rest = walker.closed()
    return " ".join(x for x in (rest, result) if x)


def _row_sums(items: list[_Item], out, dims: dict) -> list[_Item]:
    """A matrix summed over an index that nothing else carries is a vector: ``Σ_l Y[k,l]`` is ``Y 𝟙``
    (and ``y`` itself where l has length 1: a column)."""
    seen = [a for i in items for a in i.idx]
    vectors = []
    for i in items:
        lone = [a for a in i.idx if seen.count(a) == 1 and a not in out]
        if len(i.idx) == 2 and len(lone) == 1:
            rows = lone[0] == i.idx[1]
            text = i.text if rows else i.transposed()
            if dims.get(lone[0]) == 1:
                i = _Item(text, (i.idx[0] if rows else i.idx[1],), _atomic(text))
            else:
                i = _Item(f"{_paren(i) if rows else text} 𝟙", (i.idx[0] if rows else i.idx[1],), False)
        vectors.append(i)
    return vectors


def _ones(items: list[_Item], out: tuple[str, ...], dims: dict, top: bool) -> list[_Item]:
    """A vector of ones on each output index no factor reads (a broadcast: ``𝟙``; inside a node,
    which keeps such an axis of length 1, nothing) and on each summed index only one factor
    reads (``Σ_k X[k,i] = (Xᵀ 𝟙)[i]``; nothing where the size is 1)."""
    count: dict[str, int] = {}
    for item in items:
        for a in item.idx:
            count[a] = count.get(a, 0) + 1
    ones = [_Item("𝟙" if top else "", (a,), True) for a in out if a not in count]
    return ones + [_Item("" if dims.get(a) == 1 else "𝟙", (a,), True)
                   for a, n in count.items() if n == 1 and a not in out]


def _hadamard(items: list[_Item], out: tuple[str, ...]) -> list[_Item]:
    """Merge factors on the same index set: X[i,j] Y[j,i] -> X ⊙ Yᵀ; u[i] v[i] -> u ⊙ v — but
    not two factors that share only summed indices, which are a product (``xᵀ y``, ``tr(A B)``)."""
    merged: list[_Item] = []
    for item in items:
        same = [i for i in items if set(i.idx) == set(item.idx)]
        alone = not any(set(i.idx) & set(item.idx) for i in items if set(i.idx) != set(item.idx))
        if len(same) == 2 and alone and not set(item.idx) & set(out) and item is same[1]:
            merged.append(item)
            continue
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


def _joined(*pieces: str) -> str:
    return " ".join(p for p in pieces if p)


def _paren_text(text: str) -> str:
    return text if _atomic(text) else f"({text})"


class _Walker:
    """Follows matrices from index to index, using each once."""

    def __init__(self, mats, vecs, out):
        self.mats, self.vecs, self.out = list(mats), list(vecs), out

    def _vector_at(self, a) -> _Item | None:
        found = [v for v in self.vecs if v.idx == (a,)]
        if len(found) > 1:
            raise NoFormula("two vectors on one index")
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
                    return _joined(*pieces), None
                if at in self.out and not first:
                    return " ".join(pieces), at
                if first:
                    return "", at
                raise NoFormula("a chain of matrices that ends at a summed index")
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
                raise NoFormula("a vector whose chain does not close into a scalar")
            parts.append(_joined(v.transposed(), chain) or "1")
        while self.mats:
            m = self.mats.pop(0)
            first = m.idx[0]
            self.mats.insert(0, m)
            pieces = []
            at = first
            while True:
                edge = next((e for e in self.mats if at in e.idx), None)
                if edge is None:
                    raise NoFormula("a chain of matrices that does not close into a trace")
                self.mats.remove(edge)
                pieces.append(_paren(edge) if edge.idx[0] == at else edge.transposed())
                at = edge.idx[1] if edge.idx[0] == at else edge.idx[0]
                if at == first:
                    break
            parts.append(f"tr({' '.join(pieces)})")
        return " ".join(parts)


def kronecker(jac: Expr, k: int) -> str:
    """Magnus–Neudecker's ``∂vec(y)/∂vec(X)ᵀ`` for the Jacobian ``jac`` over ``y``'s ``k`` axes and
    then ``X``'s, as Kronecker products (``vec`` stacks columns): ``xᵀ ⊗ I`` for ``y = W x``,
    ``Bᵀ ⊗ A`` for ``Y = A X B``; ``K`` is the commutation matrix, ``K vec(X) = vec(Xᵀ)``.
    Raises :class:`NoFormula` with the reason where there is none.

    >>> from ..core.algebra import einsum, tensor
    >>> from ..core.differentiate import derivative, variable
    >>> W, x = tensor("W", 2), tensor("x", 1)
    >>> kronecker(derivative(einsum("ij,j->i", W, x), variable(W)), 1)
    'xᵀ ⊗ I'
    """
    ys, xs = jac.out[:k], jac.out[k:]
    for name, axes in (("y", ys), ("X", xs)):
        if len(axes) > 2:
            raise NoFormula(f"{name} has {len(axes)} axes; vec and ⊗ here take matrices (and vectors, as one column)")
    if not jac.terms:
        return "0"
    dims = dict(zip(jac.out, jac.dims))
    parts: list[str] = []
    for t in jac.terms:
        text = _kronecker_term(t, ys, xs, dims)
        parts.append((" - " + text[1:] if text.startswith("-") else " + " + text) if parts else text)
    return "".join(parts)


def _kronecker_term(t: Term, ys, xs, dims: dict) -> str:
    straight = ((_axis(ys, 0), _axis(xs, 0)), (_axis(ys, 1), _axis(xs, 1)))
    crossed = ((_axis(ys, 0), _axis(xs, 1)), (_axis(ys, 1), _axis(xs, 0)))
    reasons = []
    for pairs, tail in ((straight, ""), (crossed, " K")):
        if tail and len(xs) < 2:
            break
        try:
            groups = _split(t, pairs)
        except NoFormula as err:
            reasons.append(str(err))
            continue
        scalars = [_sum(Expr((), (), (Term(1, tuple(fs)),))) for fs in groups[None]]
        first, second = (_block(groups[n], pair, dims) for n, pair in enumerate(pairs))
        kron = " ⊗ ".join(m for m in (second, first) if m is not None) or "1"
        if " ⊗ " in kron and (scalars or t.coef != 1 or tail):
            kron = f"({kron})"
        return _with_coef(t.coef, " ".join([*scalars, kron]) + tail)
    raise NoFormula(reasons[0])


def _axis(axes, n: int):
    return axes[n] if n < len(axes) else None


def _split(t: Term, pairs) -> dict:
    """The term's factors grouped: those on the first pair of axes (0), on the second (1), and
    scalars (None); factors that share a summed index go together."""
    groups: list[tuple[set, list]] = []
    for f in t.factors:
        if isinstance(f, Size):
            raise NoFormula("a size factor")
        if isinstance(f, Stretch):
            continue
        idx = set(f.idx if isinstance(f, Ref) else (f.a, f.b))
        joined = [g for g in groups if g[0] & idx - set(a for p in pairs for a in p)]
        merged = (idx.union(*(g[0] for g in joined)), [x for g in joined for x in g[1]] + [f])
        groups = [g for g in groups if g not in joined] + [merged]
    out: dict = {0: [], 1: [], None: []}
    for idx, factors in groups:
        sides = [n for n, pair in enumerate(pairs) if idx & {a for a in pair if a}]
        if len(sides) > 1:
            raise NoFormula("a factor ties the first axes of y and X to their second axes (as an elementwise "
                            "product does), so the Jacobian is no Kronecker product, nor one times K")
        out[sides[0] if sides else None].append(factors)
    return {n: [f for fs in out[n] for f in fs] for n in (0, 1)} | {None: out[None]}


def _block(factors, pair, dims: dict) -> str | None:
    """The matrix ``M[r,c]`` of one Kronecker factor: rows from y's axis ``r``, columns from X's
    axis ``c`` (a missing one has length 1: a column or a row vector); ``None`` if both are missing."""
    r, c = pair
    axes = tuple(a for a in pair if a)
    if not axes:
        return None
    text = _sum(Expr(axes, tuple(dims[a] for a in axes), (Term(1, tuple(factors)),)), top=True)
    return transposed(text) if r is None else text


def vec_formula(jac: Expr, k: int, y: str, x: str) -> str:
    """``∂vec(y)/∂vec(x)ᵀ = …`` for a shape-layout Jacobian with ``k`` axes of ``y``, or why none exists."""
    lhs = f"∂vec({y})/∂vec({x})ᵀ"
    try:
        formula = kronecker(jac, k)
    except NoFormula as err:
        return f"{lhs}: no Kronecker formula: {err}"
    commutation = " K " in formula + " "
    return f"{lhs} = {formula}" + (f" (K is the commutation matrix: K vec({x}) = vec({x}ᵀ))" if commutation else "")


_LATEX_SYMBOLS = {"⁻ᵀ": r"^{-\top}", "⁻¹": r"^{-1}", "ᵀ": r"^{\top}", "⊙": r"\odot", "⊗": r"\otimes",
                  "𝟙": r"\mathbf{1}", "²": "^{2}", "³": "^{3}"}
_LATEX_TOKEN = re.compile(r"\^∘(-?[\d.]+)|⁻ᵀ|⁻¹|[ᵀ⊙⊗𝟙²³]|([A-Za-z_\u0370-\u03ff][\w\u0370-\u03ff]*?′*)(?=[^\w\u0370-\u03ff′]|$)(\(?)"
                          r"|[^\x00-\x7f]", re.ASCII)
_LATEX_FUNCTIONS = {"exp", "log", "tanh", "sin", "cos", "det"}


def latex(text: str) -> str:
    """A matrix formula in LaTeX: ``g xᵀ`` -> ``g x^{\\top}``, ``A⁻¹`` -> ``A^{-1}``, ``Φ`` -> ``\\Phi``.

    >>> latex("tr(Φ⁻¹ A) (1 - tanh(W x)^∘2) ⊙ 𝟙")
    '\\\\operatorname{tr}(\\\\Phi^{-1} A) (1 - \\\\tanh(W x)^{\\\\circ 2}) \\\\odot \\\\mathbf{1}'
    """
    def token(m: re.Match) -> str:
        power, name, call = m.groups()
        if power is not None:
            return rf"^{{\circ {power}}}"
        if name is None:
            return _LATEX_SYMBOLS.get(m.group()) or latex_symbol(m.group()) or "?"
        if call:
            return ("\\" + name if name in _LATEX_FUNCTIONS else latex_operator(name)) + "("
        return latex_name(name)

    return _LATEX_TOKEN.sub(token, text)
