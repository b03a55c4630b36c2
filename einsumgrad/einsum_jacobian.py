"""The Jacobian of one einsum string with respect to one operand.

>>> J = Jacobian("ij,j->i", wrt=0, names="W,x")
>>> print(J.formula())
∂y[i]/∂W[j,k] = δ[i,j] x[k]
>>> import numpy as np
>>> W, x, g = np.ones((2, 3)), np.arange(3.0), np.array([1.0, 2.0])
>>> J(W, x).shape                   # y.shape + W.shape
(2, 2, 3)
>>> J.vjp(g, W, x)                  # g xᵀ, without building J
array([[0., 1., 2.],
       [0., 2., 4.]])
"""
from __future__ import annotations

import math
import numbers
import string
from dataclasses import replace
from typing import TYPE_CHECKING, NamedTuple, Sequence

import numpy as np

from .notation import layouts, matrix, render
from .core.algebra import identifier, leaf, product, resolve_dim
from .core.caches import cache
from .compiler import Compiled, to_array, whole_number
from .compiler.namespaces import foreign
from .core.differentiate import contract, derivative, variable
from .core.errors import DerivativeError, EinsumgradError, ShapeError
from .expression import Expression
from .core.ir import Dim, Expr, Stretch, Term, Var
from .notation.label import Label
from .core.parse import ELLIPSIS, Bound, parse

if TYPE_CHECKING:
    from .notation.teach import Derivation

LAYOUTS = layouts.LAYOUTS


class TermInfo(NamedTuple):
    """One simplified term of a Jacobian, for benchmarks and teaching code."""

    coef: complex
    factors: tuple[str, ...]  # each factor in index notation: 'δ[i,j]', 'x[k]'
    einsum: str  # pasteable einsum form, deltas named δ
    term: Term


class _Symbolic(NamedTuple):
    y: Expr
    var: Var
    jac: Expr  # shape layout
    vjp: Expr
    jvp: Expr
    cotangent: str
    tangent: str


class Jacobian:
    """``∂y/∂X`` for ``y = einsum(spec, *operands)`` and ``X = operands[wrt]``.

    Call it for the dense Jacobian (shape ``y.shape + X.shape``; see :mod:`einsumgrad.notation.layouts`
    for Wikipedia's ``"numerator"`` and ``"denominator"`` layouts and the ``"vec"`` matrix);
    ``vjp`` and ``jvp`` apply the chain rule without building it.
    """

    def __init__(self, spec: str, wrt: int = 0, *, names: str | Sequence[str] | None = None, layout: str = "shape"):
        self.spec = parse(spec)
        n = self.spec.nargs
        if isinstance(wrt, bool) or not isinstance(wrt, (int, np.integer)) or not -n <= wrt < n:
            raise DerivativeError(
                f"wrt={wrt!r} is out of range: {spec!r} has {n} operand{'s' * (n != 1)}, so wrt is one of "
                f"{', '.join(map(str, range(n)))} (or negative, counting from the end)"
            )
        self.wrt = int(wrt) % n
        self.names = operand_names(names, n)
        self.layout = layouts.check(layout)
        self.output_name = render.unused_name(("y", "out", "z", "result"), self.names)
        self._seen: dict[tuple, _Symbolic] = {}  # operand shapes -> symbolic result, checked once
        self._laid_out(self.symbolic)  # a layout this Jacobian's ranks have, or a clear error

    # -- symbolic --------------------------------------------------------------
    def _symbolic(self, shapes) -> _Symbolic:
        return _symbolic_jacobian(self.spec.text, self.spec.bind(shapes, self.names), self.names, self.wrt, self.output_name)

    @property
    def symbolic(self) -> _Symbolic:
        """The symbolic result with every '...' taken as empty (for printing)."""
        shapes = [(None,) * sum(c != ELLIPSIS for c in term) for term in self.spec.inputs]
        return self._symbolic(shapes)

    def _for(self, operands) -> _Symbolic:
        return self._symbolic([np.shape(a) for a in operands]) if operands else self.symbolic

    def _shaped(self, shapes) -> _Symbolic:
        """The symbolic result for these operand shapes (checked against the spec), or with '...' empty."""
        if shapes is None:
            return self.symbolic
        self.nbytes(*shapes)
        return self._symbolic([tuple(s) for s in shapes])

    def _laid_out(self, sym: _Symbolic) -> Expr:
        """The Jacobian with its axes in this Jacobian's layout."""
        jac, k = sym.jac, sym.y.ndim
        order = layouts.axes(self.layout, k, jac.ndim - k, self.output_name, sym.var.name)
        return Expr(tuple(jac.out[a] for a in order), tuple(jac.dims[a] for a in order), jac.terms)

    def expression(self, *operands) -> Expression:
        """The simplified Jacobian as an expression (in this Jacobian's layout), for operands
        like these (their shapes resolve '...'; none: '...' taken as empty); it accepts every operand."""
        sym = self._for(operands)
        k = sym.y.ndim
        label = Label(self.output_name, f_idx=sym.jac.out[:k]).by(self.names[self.wrt], sym.jac.out[k:])
        return Expression(self._laid_out(sym), tensors=self.names, label=replace(label, layout=self.layout))

    def vjp_expression(self, *operands) -> Expression:
        """``Σ_I g[I] J[I,P]`` as an expression; the cotangent is the tensor ``cotangent_name``."""
        sym = self._for(operands)
        return Expression(sym.vjp, "", self.names)

    def jvp_expression(self, *operands) -> Expression:
        """``Σ_P J[I,P] t[P]`` as an expression; the tangent is the tensor ``tangent_name``."""
        sym = self._for(operands)
        return Expression(sym.jvp, "", self.names)

    @property
    def cotangent_name(self) -> str:
        return self.symbolic.cotangent

    @property
    def tangent_name(self) -> str:
        return self.symbolic.tangent

    @property
    def terms(self) -> list[TermInfo]:
        jac = self._laid_out(self.symbolic)
        names = set(jac.out)
        return [
            TermInfo(t.coef, tuple(render.render_factor(f, names, render.UNICODE) for f in t.factors
                                   if not isinstance(f, Stretch)),
                     render.einsum_form(jac, t), t)
            for t in jac.terms
        ]

    def formula(self, style: str = "unicode", *, shapes=None) -> str:
        """``∂y[i]/∂W[j,k] = δ[i,j] x[k]``; style is 'unicode', 'subscript' (``∂y_i/∂W_jk = δ_ij x_k``),
        'ascii', 'latex' or 'vec' (``∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I_m``, Magnus–Neudecker's form, or why
        there is none). ``shapes`` (one per operand) show the axes a '...' stands for."""
        sym = self._shaped(shapes)
        y_idx, x_idx = sym.jac.out[: sym.y.ndim], sym.jac.out[sym.y.ndim :]
        styles: dict[str, render.Style | None] = {"unicode": render.UNICODE, "subscript": render.SUBSCRIPT,
                                                  "ascii": render.ASCII, "latex": render.LATEX, "vec": None}
        if not isinstance(style, str) or style not in styles:
            raise EinsumgradError(f"style={style!r}: choose one of {', '.join(styles)}")
        if style == "vec":
            return matrix.vec_formula(sym.jac, sym.y.ndim, self.output_name, sym.var.name)
        rhs_style = styles[style]
        assert rhs_style is not None  # 'vec' returned above
        rhs = render.render_sum(sym.jac.terms, sym.jac.out, rhs_style)
        y, x = self.output_name, self.names[self.wrt]
        if style == "latex":
            return (rf"\frac{{\partial {render.latex_name(y)}{rhs_style.indices(y_idx)}}}"
                    rf"{{\partial {render.latex_name(x)}{rhs_style.indices(x_idx)}}} = {rhs}")
        if style == "ascii":
            return f"d {y}{rhs_style.indices(y_idx)} / d {x}{rhs_style.indices(x_idx)} = {rhs}"
        return f"∂{y}{rhs_style.indices(y_idx)}/∂{x}{rhs_style.indices(x_idx)} = {rhs}"

    def layout_note(self, *, shapes=None) -> str:
        sym = self._shaped(shapes)
        return layouts.note(self.layout, self.output_name, self.names[self.wrt], self._laid_out(sym).out,
                            self.spec.has_ellipsis and shapes is None, k=sym.y.ndim)

    def text(self, *, shapes=None) -> str:
        """The formula, the einsum it differentiates, and the layout (``str(J)``); with ``shapes``,
        for operands of those shapes, any '...' shown as the axes it stands for."""
        sym = self._shaped(shapes)
        definition = render.index_notation(sym.y, name=self.output_name)
        return f"{self.formula(shapes=shapes)}\n  where {definition}; {self.layout_note(shapes=shapes)}"

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"Jacobian({self.spec.text!r}, wrt={self.wrt}, names={','.join(self.names)!r}, layout={self.layout!r})"

    def latex(self) -> str:
        return self.formula("latex")

    def explain(self) -> Derivation:
        """A numbered derivation, from the einsum to the chain rule (see :mod:`einsumgrad.notation.teach`)."""
        from .notation.teach import explain

        return explain(self)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def _repr_html_(self) -> str:
        from .notation import fragments

        where = render.latex(self.symbolic.y, name=self.output_name)
        return fragments.notebook(fragments.math(self.latex()) + fragments.label("where") + fragments.math(where)
                                  + fragments.note(self.layout_note()))

    def ascii(self) -> str:
        return self.formula("ascii")

    # -- numeric ---------------------------------------------------------------
    def _arrays(self, operands) -> tuple[_Symbolic, dict]:
        if len(operands) != self.spec.nargs:
            raise ShapeError(
                f"{self.spec.text!r} takes {self.spec.nargs} operand(s) ({', '.join(self.names)}), got {len(operands)}"
            )
        arrays = [a if type(a) is np.ndarray else _operand(n, a) for n, a in zip(self.names, operands)]
        shapes = tuple([a.shape for a in arrays])
        sym = self._seen.get(shapes)
        if sym is None:
            sym = self._symbolic(shapes)
            if len(self._seen) < 64:
                self._seen[shapes] = sym
        return sym, dict(zip(self.names, arrays))

    def __call__(self, *operands, memory_limit: int | None = None) -> np.ndarray:
        """The dense Jacobian (guarded: above the memory limit it raises and suggests vjp/jvp)."""
        limit = None if memory_limit is None else whole_number("memory_limit", memory_limit, " of bytes")
        sym, arrays = self._arrays(operands)
        dense = _compiled(self._laid_out(sym), self.names, limit)(**arrays)
        return layouts.vec_matrix(dense, sym.y.ndim) if self.layout == "vec" else dense

    def vjp(self, cotangent, *operands) -> np.ndarray:
        """``Σ_I cotangent[I] J[I, P]``: shaped like ``operands[wrt]``; J is never built."""
        sym, arrays = self._arrays(operands)
        arrays[sym.cotangent] = _operand(sym.cotangent, cotangent)
        return _compiled(sym.vjp, self.names + (sym.cotangent,))(**arrays)

    def jvp(self, tangent, *operands) -> np.ndarray:
        """``Σ_P J[I, P] tangent[P]``: shaped like the output; J is never built."""
        sym, arrays = self._arrays(operands)
        arrays[sym.tangent] = _operand(sym.tangent, tangent)
        return _compiled(sym.jvp, self.names + (sym.tangent,))(**arrays)

    def nbytes(self, *shapes, dtype=np.float64) -> int:
        """Bytes the dense Jacobian takes for operands of these shapes.

        >>> Jacobian("ij,j->i").nbytes((256, 256), (256,)) // 2**20
        128
        """
        try:
            kind = np.dtype(dtype).kind
        except TypeError:
            kind = None
        if kind is None or kind not in "biufc":
            raise EinsumgradError(f"dtype={dtype!r} is not a NumPy dtype of numbers, such as 'float64'")
        for name, shape in zip(self.names, shapes):
            if not isinstance(shape, (tuple, list)) or not all(
                    isinstance(n, numbers.Integral) and not isinstance(n, bool) and int(n) >= 0 for n in shape):
                raise ShapeError(f"nbytes takes one shape per operand, a tuple of sizes >= 0; got {shape!r} for {name}")
        sym = self._symbolic(shapes)
        sizes = {n: s for n, s in zip(self.names, shapes)}
        count = math.prod(resolve_dim(d, sizes) for d in sym.jac.dims)
        return count * np.dtype(dtype).itemsize


def _operand(name: str, value) -> np.ndarray:
    """An operand's array, as NumPy's: a jax or torch array is refused, as a Jacobian of a spec has no backend."""
    library = foreign(value)
    if library is not None:
        raise EinsumgradError(f"operand {name!r} is a {library} array; eg.jacobian of an einsum string computes with "
                              f"NumPy: convert it (np.asarray), or differentiate an expression of eg.tensor's and "
                              f"compile it with eg.compile(..., backend={library!r})")
    return to_array(name, value)


def operand_names(names, n: int) -> tuple[str, ...]:
    if names is None:
        pool = [c for c in string.ascii_uppercase if c != "I"]
        return tuple(pool[k] if n <= len(pool) else f"A{k}" for k in range(n))
    if not isinstance(names, (str, list, tuple)):
        raise EinsumgradError(f"names is a string such as 'W,x' or a list of strings, got {names!r}")
    items = [s.strip() for s in names.split(",")] if isinstance(names, str) else list(names)
    if len(items) != n:
        raise EinsumgradError(f"names={names!r} gives {len(items)} name(s) for {n} operand(s)")
    items = [identifier(s, "an operand name") for s in items]
    if len(set(items)) != n:
        raise EinsumgradError(f"operand names must differ, got {', '.join(items)}")
    return tuple(items)


@cache(maxsize=256)
def _symbolic_jacobian(text: str, bound: Bound, names: tuple[str, ...], wrt: int, y_name: str) -> _Symbolic:
    leaves = [leaf(n, tuple((n, k) for k in range(len(idx)))) for n, idx in zip(names, bound.inputs)]
    dims: dict[str, Dim] = {}
    for e, idx in zip(leaves, bound.inputs):
        for a, d in zip(idx, e.dims):
            dims.setdefault(a, d)
    y = product(list(zip(leaves, bound.inputs)), bound.output, tuple(dims[a] for a in bound.output))
    var = variable(leaves[wrt])
    jac = derivative(y, var)
    i_idx, p_idx = jac.out[: y.ndim], jac.out[y.ndim :]
    cotangent = render.unused_name(("g", "G", "g_" + y_name, "cotangent"), names)
    tangent = render.unused_name(("d" + var.name, "t", "T", "tangent"), names)
    vjp = contract(jac, leaf(cotangent, y.dims), i_idx, p_idx)
    jvp = contract(jac, leaf(tangent, var.shape), p_idx, i_idx)
    return _Symbolic(y, var, jac, vjp, jvp, cotangent, tangent)


@cache(maxsize=1024)
def _compiled(expr: Expr, inputs: tuple[str, ...], memory_limit: int | None = None) -> Compiled:
    return Compiled(expr, memory_limit=memory_limit, inputs=inputs)
