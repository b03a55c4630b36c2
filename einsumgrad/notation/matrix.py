"""Matrix notation: turn an index expression of rank ≤ 2 into a conventional formula.

Each term is read as a graph: matrices are edges between their two indices,
vectors hang off one index, and a formula exists when every summed index joins a
chain (``Aᵀ B``), a chain ending in vectors (``g xᵀ``, ``xᵀ A x``) or a cycle
(``tr(A B)``); a vector on an inner index becomes ``diag(v)``; an index that only one factor
reads, summed or broadcast, meets the vector of ones ``𝟙`` (``Xᵀ 𝟙``, ``𝟙 𝟙ᵀ``), left out where
its size is known to be 1. Anything else returns ``None`` — never a wrong formula — and
:func:`no_formula_reason` says why.

A broadcast is written as a product with ``𝟙`` everywhere, the textbook's ``X W + 𝟙 bᵀ`` (not
NumPy's ``X W + bᵀ``): every formula is then an ordinary matrix expression whose factors' shapes
agree, inside a function as at the top (only a number added to a matrix stays a number, as in
``1 - s``). A node of the IR that is itself a broadcast along an axis (no term of it reads that axis)
is written without it, and its reader meets that axis with ``𝟙``: ``(Xᵀ 𝟙) (Y 𝟙)ᵀ`` rather than
``Xᵀ (𝟙 (Y 𝟙)ᵀ)``.

The formula is a tree (:mod:`einsumgrad.notation.formula`: a name, ``𝟙``, a product, a transpose, …),
which :func:`matrix_formula` builds and ``formula.unicode`` and ``formula.latex`` print.

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

from dataclasses import dataclass

from ..core.caches import cache
from ..core.functions import get
from ..core.ir import DEEP, Call, Delta, Expr, Ref, Size, Stretch, Term, Var, instantiate, node_shape
from .formula import (Apply, Commutation, Diag, Formula, Hadamard, Identity, Inverse, Kron, Name, Number, Ones,
                      Paren, Partial, Power, Product, Sum, Trace, Transpose, Vec, atomic, commutes, negative,
                      paren, product, scaled, sized, transpose, unicode)


class NoFormula(Exception):
    """This term has no conventional matrix formula."""


# reading the IR -----------------------------------------------------------------
def matrix_notation(expr: Expr) -> str | None:
    """The formula, or ``None`` where there is none (:func:`no_formula_reason` says why)."""
    f = matrix_formula(expr)
    return None if f is None else unicode(f)


def matrix_formula(expr: Expr) -> Formula | None:
    """The formula as a tree, or ``None`` where there is none."""
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


def _notation(expr: Expr) -> Formula:
    """The formula; raises :class:`NoFormula` with the reason where there is none."""
    if expr.ndim > 2:
        raise NoFormula(f"rank {expr.ndim}: matrix notation covers scalars, vectors and matrices")
    if expr.depth > DEEP:  # a deep one reads better as index-notation equations
        raise NoFormula("deep expression: see the equations above")
    f = _sum(expr, top=True)
    return f.body if _one_call(expr) and isinstance(f, Paren) else f


def _one_call(expr: Expr) -> bool:
    """Whether ``expr`` only reads one function's result (bracketed where it is not atomic: ``(x / ‖x‖)``)."""
    (t,) = expr.terms if len(expr.terms) == 1 else (None,)
    return t is not None and t.coef == 1 and len(t.factors) == 1 and isinstance(getattr(t.factors[0], "node", 0), Call)


@cache(maxsize=4096)
def carried(node) -> tuple[bool, ...]:
    """For each axis of ``node``, whether some term reads it (not all of them broadcast along it):
    a node that is a broadcast along an axis is written without it (``(Y 𝟙)ᵀ`` for ``𝟙 (Y 𝟙)ᵀ``), and
    its reader meets that axis with ``𝟙`` where it needs it.

    >>> from ..core.algebra import add, einsum, tensor
    >>> carried(add(einsum("ij,jk->ik", tensor("X", 2), tensor("W", 2)), tensor("b", 1)))
    (True, True)
    >>> b = Var("b", (4,))
    >>> carried(Expr(("i", "j"), (3, 4), (Term(1, (Ref(b, ("j",)),)),)))  # 𝟙 bᵀ: bᵀ on every row
    (False, True)
    """
    if isinstance(node, Var):
        return (True,) * len(node.shape)
    if isinstance(node, Call):
        return carried(node.arg) if get(node.fn).elementwise else (True,) * len(node.shape)
    full: set = set()
    for t in node.terms:
        for f in t.factors:
            if isinstance(f, Delta):
                full |= {f.a, f.b}
            elif isinstance(f, Ref):
                full |= {a for a, c in zip(f.idx, carried(f.node)) if c}
    return tuple(a in full for a in node.out)


def _read(node, idx: tuple[str, ...], names) -> tuple[Expr, frozenset]:
    """``node`` (an :class:`Expr`) read at ``idx``, and the indices it is a broadcast along (see :func:`carried`)."""
    return Expr(idx, node.dims, instantiate(node, idx, names)), frozenset(a for a, c in zip(idx, carried(node)) if not c)


def _sum(expr: Expr, top: bool = False, omit=frozenset()) -> Formula:
    """The terms added up, written without the axes in ``omit`` (along which ``expr`` is a broadcast).
    A term that does not read one of the other axes meets it with ``𝟙`` (``X W + 𝟙 bᵀ``); a number
    term is ``𝟙`` or ``𝟙 𝟙ᵀ`` at the top, and a number elsewhere (inside a function or a Hadamard
    product: the 1 in ``1 - s``)."""
    if not expr.terms:
        return Number(0)
    dims = dict(zip(expr.out, expr.dims))
    parts = [_term(t, expr.out, dims, top, omit) for t in expr.terms]
    first = next((k for k, f in enumerate(parts) if not negative(f)), 0)  # softmax(X W) - Y, not -Y + softmax(X W)
    parts = [parts[first]] + parts[:first] + parts[first + 1:]
    return parts[0] if len(parts) == 1 else Sum(tuple(parts))


def _term(t: Term, out: tuple[str, ...], dims: dict, top: bool = False, omit=frozenset()) -> Formula:
    if not t.factors and not (top and out):
        return Number(t.coef)  # a number, broadcast elementwise: the 1 in 1 - s
    items: list[_Item] = []
    coef = t.coef
    dims = dict(dims)
    names = set(out) | set(t.indices())
    spread: list[str] = []  # indices a factor reads as a broadcast, written without them
    for f in t.factors:
        if isinstance(f, Size):  # the length of an axis: a number, or 𝟙ᵀ 𝟙
            if isinstance(f.dim, int):
                coef *= f.dim
            else:
                items.append(_Item(Paren(Product((Transpose(Ones(f.dim)), Ones(f.dim)))), ()))
            continue
        if isinstance(f, Stretch):
            continue
        dims.update(zip(f.idx, node_shape(f.node)) if isinstance(f, Ref) else ((f.a, f.dim), (f.b, f.dim)))
        items.append(_item(f, names))
        spread += [a for a in getattr(f, "idx", ()) if a not in items[-1].idx]
    reads = {a for i in items for a in i.idx}
    if any(isinstance(f, Stretch) and f.a not in out and not any(f.a in g.idx for g in t.factors if isinstance(g, Ref))
           for f in t.factors):
        raise NoFormula("a sum over a stretched axis that no factor reads")
    # a sum over a broadcast that nothing else reads counts its length: Σ_k (𝟙 gᵀ)[k,i] = (𝟙ᵀ 𝟙) g[i]
    items += [_Item(None if dims.get(a) == 1 else Ones(dims.get(a)), (a,))
              for a in dict.fromkeys(spread) if a not in out and a not in reads]
    scalars = [paren(i.node) for i in items if not i.idx]
    body = _graph([i for i in items if i.idx], tuple(a for a in out if a not in omit), dims)
    return scaled(coef, product(*scalars, body))


@dataclass
class _Item:
    node: Formula | None  # the matrix, vector or scalar, read in the orientation of idx (None: a 𝟙 of length 1)
    idx: tuple[str, ...]
    symmetric: bool = False  # equal to its transpose (the identity, a symmetric matrix)

    @property
    def atomic(self) -> bool:
        return atomic(self.node)

    def transposed(self) -> Formula | None:
        return self.node if self.symmetric else transpose(self.node)

    def bracketed(self) -> Formula | None:
        return paren(self.node)


def _item(f, names) -> _Item:
    """One factor as a matrix, vector or scalar over the indices it reads at full length: a node
    broadcast along an axis (see :func:`carried`) is a vector or scalar that ``𝟙`` meets there."""
    if isinstance(f, Delta):
        return _Item(Identity(f.dim), (f.a, f.b))
    node, idx = f.node, f.idx
    if len(set(idx)) != len(idx):
        raise NoFormula("a diagonal read such as A[i,i]")
    if isinstance(node, Var):
        return _Item(Name(node.name, node.symmetric), idx, node.symmetric)
    if isinstance(node, Expr):
        inner, omit = _read(node, idx, names)
        return _Item(_sum(inner, omit=omit), tuple(a for a in idx if a not in omit))
    return _call(node, idx, names)


def _call(node: Call, idx, names) -> _Item:
    fn = get(node.fn)
    if fn.elementwise:
        arg, omit = _read(node.arg, idx, names)
        inner, kept = _sum(arg, omit=omit), tuple(a for a in idx if a not in omit)
        if node.fn == "pow":
            return _Item(Power(paren(inner), node.params[0], bool(kept)), kept)
        call = Apply(node.fn, inner, node.params, 0)
        return _Item(call if fn.show is None else paren(call), kept)
    arg = _notation(node.arg)
    if node.fn == "inv":
        return _Item(Inverse(paren(arg)), idx)
    return _Item(Apply(node.fn, arg, node.params, node.arg.ndim), idx)


def _graph(items: list[_Item], out: tuple[str, ...], dims: dict) -> Formula | None:
    """Chains of matrices and vectors through the summed indices."""
    if any(len(i.idx) > 2 for i in items):
        raise NoFormula("a factor of rank 3 or more")
    items = _hadamard(_row_sums(items, out, dims), out)
    items += _ones(items, out, dims)
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
            result = product(chain, transpose(other))
    elif len(out) == 1:
        result, end = walker.walk(out[0])
        if end is not None:
            raise NoFormula("a vector with nothing to multiply it on its index")
    else:
        result = None
    return product(walker.closed(), result)


def _row_sums(items: list[_Item], out, dims: dict) -> list[_Item]:
    """A matrix summed over an index that nothing else carries is a vector: ``Σ_l Y[k,l]`` is ``Y 𝟙``
    (and ``y`` itself where l has length 1: a column)."""
    seen = [a for i in items for a in i.idx]
    vectors = []
    for i in items:
        lone = [a for a in i.idx if seen.count(a) == 1 and a not in out]
        if len(i.idx) == 2 and len(lone) == 1:
            rows = lone[0] == i.idx[1]
            kept = (i.idx[0] if rows else i.idx[1],)
            if dims.get(lone[0]) == 1:
                i = _Item(i.node if rows else i.transposed(), kept)
            else:
                i = _Item(product(i.bracketed() if rows else i.transposed(), Ones(dims.get(lone[0]))), kept)
        vectors.append(i)
    return vectors


def _ones(items: list[_Item], out: tuple[str, ...], dims: dict) -> list[_Item]:
    """A vector of ones on each output index no factor reads (a broadcast: ``𝟙``) and on each summed
    index only one factor reads (``Σ_k X[k,i] = (Xᵀ 𝟙)[i]``); nothing where the size is known to be 1
    (``yᵀ``, not ``𝟙 yᵀ``, for a 1×n result)."""
    count: dict[str, int] = {}
    for item in items:
        for a in item.idx:
            count[a] = count.get(a, 0) + 1
    return [_Item(None if dims.get(a) == 1 else Ones(dims.get(a)), (a,))
            for a in [*(a for a in out if a not in count), *(a for a, n in count.items() if n == 1 and a not in out)]]


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
                f = item.node if item.idx == m.idx else item.transposed()
                merged[k] = _Item(Hadamard(m.bracketed(), paren(f)), m.idx)
                break
        else:
            merged.append(item)
    return merged


def _diag(v: Formula | None) -> Diag:
    """``diag(v)``, without a second pair of brackets: ``diag(W 𝟙)``."""
    return Diag(v.body if isinstance(v, Paren) else v)


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

    def walk(self, start: str) -> tuple[Formula | None, str | None]:
        """The chain from ``start``: its formula, and where it ended (an index with nothing
        more on it, or None where a vector closed it)."""
        pieces: list = []
        at = start
        first = True
        while True:
            vec = self._vector_at(at)
            edge = next((m for m in self.mats if at in m.idx), None)
            if edge is None:
                if vec is not None:
                    pieces.append(vec.bracketed())
                    return product(*pieces), None
                if at in self.out and not first:
                    return product(*pieces), at
                if first:
                    return None, at
                raise NoFormula("a chain of matrices that ends at a summed index")
            if vec is not None:
                pieces.append(_diag(vec.node))
            self.mats.remove(edge)
            if not isinstance(edge.node, Identity) or not pieces:  # diag(g) I is diag(g)
                pieces.append(edge.bracketed() if edge.idx[0] == at else edge.transposed())
            at = edge.idx[1] if edge.idx[0] == at else edge.idx[0]
            first = False
            if at in self.out:
                vec = self._vector_at(at)
                if vec is not None:
                    pieces.append(_diag(vec.node))
                return product(*pieces), at

    def closed(self) -> Formula | None:
        """What is left must close up into scalars: uᵀ A v chains and traces."""
        parts = []
        while self.vecs:
            v = self.vecs.pop(0)
            chain, end = self.walk(v.idx[0])
            if end is not None:
                raise NoFormula("a vector whose chain does not close into a scalar")
            parts.append(product(v.transposed(), chain) or Number(1))
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
                pieces.append(edge.bracketed() if edge.idx[0] == at else edge.transposed())
                at = edge.idx[1] if edge.idx[0] == at else edge.idx[0]
                if at == first:
                    break
            parts.append(Trace(product(*pieces)))
        return product(*parts)


# the vec form -----------------------------------------------------------------
def kronecker(jac: Expr, k: int) -> Formula:
    """Magnus–Neudecker's ``∂vec(y)/∂vec(X)ᵀ`` for the Jacobian ``jac`` over ``y``'s ``k`` axes and
    then ``X``'s, as Kronecker products (``vec`` stacks columns): ``xᵀ ⊗ I_m`` for ``y = W x``,
    ``Bᵀ ⊗ A`` for ``Y = A X B``; ``K`` is the commutation matrix, ``K vec(X) = vec(Xᵀ)``. An
    identity carries its size (:func:`identity_sizes`): a number, or ``m`` (``p``) for y's
    rows (columns), Magnus–Neudecker's letters for an m×p function.
    Raises :class:`NoFormula` with the reason where there is none.

    >>> from ..core.algebra import einsum, tensor
    >>> from ..core.differentiate import derivative, variable
    >>> W, x = tensor("W", 2), tensor("x", 1)
    >>> unicode(kronecker(derivative(einsum("ij,j->i", W, x), variable(W)), 1))
    'xᵀ ⊗ I_m'
    """
    ys, xs = jac.out[:k], jac.out[k:]
    for name, axes in (("y", ys), ("X", xs)):
        if len(axes) > 2:
            raise NoFormula(f"{name} has {len(axes)} axes; vec and ⊗ here take matrices (and vectors, as one column)")
    if not jac.terms:
        return Number(0)
    dims = dict(zip(jac.out, jac.dims))
    sizes = _size_letters(jac, k)
    parts = tuple(sized(_kronecker_term(t, ys, xs, dims), sizes) for t in jac.terms)
    return parts[0] if len(parts) == 1 else Sum(parts)


def _size_letters(jac: Expr, k: int) -> dict:
    """A name for each size y's axes have: the number, else ``m`` for the rows and ``p`` for the
    columns (one letter where both are the same size)."""
    letters: dict = {}
    for d, letter in zip(jac.dims[:k], "mp"):
        letters.setdefault(d, str(d) if isinstance(d, int) else letter)
    return letters


def identity_sizes(jac: Expr, k: int, y: str) -> str:
    """What the letters of :func:`kronecker`'s identities stand for, or "" where none has one.

    >>> from ..core.algebra import einsum, tensor
    >>> from ..core.differentiate import derivative, variable
    >>> W, x = tensor("W", 2), tensor("x", 1)
    >>> identity_sizes(derivative(einsum("ij,j->i", W, x), variable(W)), 1, "y")
    'I_m is the m×m identity, m = |y|'
    """
    letters = _size_letters(jac, k)
    used = sorted({letters[f.dim] for t in jac.terms for f in t.factors
                   if isinstance(f, Delta) and f.dim in letters and not isinstance(f.dim, int)})
    if not used:
        return ""
    shape = f"m = |{y}|" if k == 1 else f"{y} being {'×'.join(letters[d] for d in jac.dims[:k])}"
    which = " and ".join(f"I_{a}" for a in used)
    return f"{which} {'is' if len(used) == 1 else 'are'} the {' and '.join(f'{a}×{a}' for a in used)} identit" \
           f"{'y' if len(used) == 1 else 'ies'}, {shape}"



def _kronecker_term(t: Term, ys, xs, dims: dict) -> Formula:
    straight = ((_axis(ys, 0), _axis(xs, 0)), (_axis(ys, 1), _axis(xs, 1)))
    crossed = ((_axis(ys, 0), _axis(xs, 1)), (_axis(ys, 1), _axis(xs, 0)))
    reasons = []
    for pairs, tail in ((straight, None), (crossed, Commutation())):
        if tail and len(xs) < 2:
            break
        try:
            groups = _split(t, pairs)
        except NoFormula as err:
            reasons.append(str(err))
            continue
        scalars = [_sum(Expr((), (), (Term(1, tuple(fs)),))) for fs in groups[None]]
        first, second = (_block(groups[n], pair, dims) for n, pair in enumerate(pairs))
        blocks = tuple(m for m in (second, first) if m is not None)
        kron = Kron(blocks) if len(blocks) > 1 else blocks[0] if blocks else Number(1)
        if len(blocks) > 1 and (scalars or t.coef != 1 or tail):
            kron = Paren(kron)
        return scaled(t.coef, product(*scalars, kron, tail))
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


def _block(factors, pair, dims: dict) -> Formula | None:
    """The matrix ``M[r,c]`` of one Kronecker factor: rows from y's axis ``r``, columns from X's
    axis ``c`` (a missing one has length 1: a column or a row vector); ``None`` if both are missing."""
    r, c = pair
    axes = tuple(a for a in pair if a)
    if not axes:
        return None
    f = _sum(Expr(axes, tuple(dims[a] for a in axes), (Term(1, tuple(factors)),)), top=True)
    return transpose(f) if r is None else f


def vec_jacobian(y: str, x: str) -> Partial:
    """``∂vec(y)/∂vec(x)ᵀ``, Magnus–Neudecker's Jacobian."""
    return Partial(Vec(Name(y)), Transpose(Vec(Name(x))))


def vec_formula(jac: Expr, k: int, y: str, x: str) -> str:
    """``∂vec(y)/∂vec(x)ᵀ = …`` for a shape-layout Jacobian with ``k`` axes of ``y``, or why none exists."""
    lhs = unicode(vec_jacobian(y, x))
    try:
        formula = kronecker(jac, k)
    except NoFormula as err:
        return f"{lhs}: no Kronecker formula: {err}"
    notes = [identity_sizes(jac, k, y)] + [f"K is the commutation matrix: K vec({x}) = vec({x}ᵀ)"] * commutes(formula)
    return f"{lhs} = {unicode(formula)}" + "".join(f" ({n})" for n in notes if n)

