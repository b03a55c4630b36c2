"""The user's handle: an IR node with operators, printing, a display name, and the tensors
it was built from. :mod:`einsumgrad.core.algebra` builds the nodes; this module lifts its
functions to handles, so the IR itself stays bare.

>>> W, x = tensor("W", 2), tensor("x", 1)
>>> print(W @ x)
y[i] = Σ_j W[i,j] x[j]
>>> (W @ x).shape
(('W', 0),)
"""
from __future__ import annotations

from dataclasses import replace
from functools import wraps
from typing import TYPE_CHECKING, Any, Callable, TypeAlias

from .core import algebra, functions
from .library import generic, selection, shapes
from .notation import formula, layouts, matrix, render
from .core.caches import cache
from .core.differentiate import variable
from .core.errors import DerivativeError, EinsumgradError
from .core.ir import Dim, Expr, Inputs, Term, inputs, variables
from .notation.label import Label

if TYPE_CHECKING:
    import numpy as np


REPR_LENGTH = 120  # characters of the printed form a repr shows
Operand: TypeAlias = "Expression | complex | np.number[Any] | np.bool_"  # what an operator combines


class Expression:
    """What users hold. ``node`` is the IR node; ``name`` is what it prints as (``y`` if empty);
    ``tensors`` names every tensor it was built from — each an array ``evaluate`` accepts, even
    one the node no longer reads (``Σ(a - a)``); :attr:`inputs` says which of them evaluating
    needs; a derivative carries its ``label`` (:class:`~einsumgrad.notation.label.Label`), which its name
    is printed from. Equality and hashing include them all."""

    __slots__ = ("node", "name", "tensors", "label", "_h")
    __array_ufunc__ = None  # NumPy scalars defer to the reflected operators

    def __init__(self, node: Expr, name: str = "", tensors=frozenset(), label: Label | None = None):
        self.node, self.label = node, label
        self.name = name if label is None else render.left_side(label, (), render.UNICODE)
        self.tensors = frozenset(tensors) | {v.name for v in variables(node)}
        self._h = hash((node, self.name, self.tensors, label))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and (self.node, self.name, self.tensors, self.label) == (
            other.node, other.name, other.tensors, other.label)

    def __hash__(self) -> int:
        return self._h

    @property
    def inputs(self) -> Inputs:
        """The tensors whose entries this reads (``reads``), and those whose arrays only give sizes
        (``sizes``, each with those axes): ``evaluate``, ``check`` and compiled calls need an array
        for each of both (for ``sizes``, of the right shape; its entries are never read), and
        ignore any other array.

        >>> from einsumgrad import grad
        >>> A, S = tensor("A", 2), tensor("S", 2)
        >>> grad(trace(A @ S), S).inputs
        Inputs(reads=('A',), sizes={'S': (0, 1)})
        >>> grad(trace(S), S).inputs
        Inputs(reads=(), sizes={'S': (0, 1)})
        """
        return inputs(self.node)

    @property
    def shape(self) -> tuple[Dim, ...]:
        """One size per axis: an int, or ``(tensor name, axis)`` where the size comes from an array."""
        return self.node.dims

    @property
    def ndim(self) -> int:
        return self.node.ndim

    @property
    def terms(self) -> tuple[Term, ...]:
        return self.node.terms

    @property
    def depth(self) -> int:
        """Nested nodes on the longest path down (at most :data:`einsumgrad.core.algebra.MAX_DEPTH`)."""
        return self.node.depth

    @property
    def T(self) -> Expression:
        """The axes reversed, as NumPy's ``.T``."""
        n = self.node
        return Expression(Expr(n.out[::-1], n.dims[::-1], n.terms), tensors=self.tensors)

    def __str__(self) -> str:
        return render.index_notation(self.node, name=self.label or self.name)

    def __repr__(self) -> str:
        """Short whatever the size: the printed form if it fits on one line, else its head."""
        text = str(self)
        if len(text) <= REPR_LENGTH and "\n" not in text:
            return f"<Expression {text}>"
        head = text.splitlines()[-1].split(" = ")[0]  # the result's left-hand side
        return f"<Expression {head} = …: {len(self.node.terms)} term(s), depth {self.depth}; print() shows it all>"

    def _repr_html_(self) -> str:
        from .notation import fragments

        return fragments.notebook(fragments.result_html(self.latex(), self.matrix_notation(latex=True) or "", "",
                                                        self.matrix_notation_reason()))

    def named(self, name: str) -> Expression:
        """This expression under ``name`` (``L``, ``𝓛``), which it prints as and its derivatives are named
        by: ``∂L/∂W[i,j]``. A derivative renamed prints as its new name.

        >>> W, x = tensor("W", 2), tensor("x", 1)
        >>> print((W @ x).named("z"))
        z[i] = Σ_j W[i,j] x[j]
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise EinsumgradError(f"a result's name is a Python-style identifier such as 'L', 'z1' or '𝓛', "
                                  f"got {name!r}")
        if algebra.identifier(name) in {v.name for v in variables(self.node)}:
            raise EinsumgradError(f"{name} is a tensor this expression reads: name the result otherwise")
        return Expression(self.node, name, self.tensors)

    def ascii(self) -> str:
        """The expression in plain-ASCII index notation."""
        return render.index_notation(self.node, ascii=True, name=self.label or self.name)

    def latex(self) -> str:
        """The expression in LaTeX index notation."""
        return render.latex(self.node, self.label or self.name)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def matrix_notation(self, latex: bool = False) -> str | None:
        """A conventional matrix formula (``"g xᵀ"``, ``"A + Aᵀ"``; with ``latex``, ``g x^{\\top}``)
        or ``None`` where none exists (:meth:`matrix_notation_reason` says why); a layout's row (the
        numerator layout's gradient by a vector) as the row, ``gᵀ W``."""
        tree = matrix.matrix_formula(self.node)
        label = self.label
        if tree is not None and label is not None and layouts.row(label.layout, len(label.f_idx),
                                                                  self.ndim - len(label.f_idx)):
            tree = formula.row(tree)
        return None if tree is None else formula.latex(tree) if latex else formula.unicode(tree)

    def matrix_notation_reason(self) -> str | None:
        """Why :meth:`matrix_notation` is ``None`` (``"an index is read three times"``), or ``None``
        where there is a formula."""
        return matrix.no_formula_reason(self.node)

    def formula(self, style: str = "unicode") -> str:
        """The expression printed in ``style``: 'unicode', 'ascii', 'latex', or for a Jacobian made
        by ``eg.jacobian`` / ``eg.grad``, 'vec': ``∂vec(f)/∂vec(X)ᵀ`` in Kronecker products
        (Magnus–Neudecker), or why there is none."""
        styles = {"unicode": self.__str__, "ascii": self.ascii, "latex": self.latex, "vec": self._vec}
        if not isinstance(style, str) or style not in styles:
            raise EinsumgradError(f"style={style!r}: choose one of {', '.join(styles)}")
        return styles[style]()

    def _vec(self) -> str:
        """The Jacobian of ``f`` (or of the derivative before, for ``∂²f/∂x∂y``) by the last variable."""
        label = self.label
        if label is None or not label.partial:
            raise EinsumgradError("formula('vec') is for a first derivative made by eg.jacobian or eg.grad")
        dims = dict(zip(self.node.out, self.node.dims))
        out, (x, x_idx) = label.indices, label.wrt[-1]
        before = replace(label, wrt=label.wrt[:-1]).bare()
        y = render.left_side(before, (), render.UNICODE) if before.wrt else label.f
        return matrix.vec_formula(Expr(out, tuple(dims[a] for a in out), self.node.terms), len(out) - len(x_idx), y, x)

    def einsum_terms(self) -> list[str]:
        """Each term as an einsum string over its tensors, deltas named (see render.einsum_form)."""
        return [render.einsum_form(self.node, t) for t in self.node.terms]

    def __add__(self, other: Operand) -> Expression:
        return _apply(algebra.add, self, other)

    def __radd__(self, other: Operand) -> Expression:
        return _apply(algebra.add, other, self)

    def __sub__(self, other: Operand) -> Expression:
        return _apply(_subtracted, self, other)

    def __rsub__(self, other: Operand) -> Expression:
        return _apply(_subtracted, other, self)

    def __mul__(self, other: Operand) -> Expression:
        return _apply(algebra.multiply, self, other)

    def __rmul__(self, other: Operand) -> Expression:
        return _apply(algebra.multiply, other, self)

    def __truediv__(self, other: Operand) -> Expression:
        return _apply(_divided, self, other)

    def __rtruediv__(self, other: Operand) -> Expression:
        return _apply(_divided, other, self)

    def __pow__(self, other: Operand) -> Expression:
        return _apply(algebra.power, self, other)

    def __rpow__(self, other: Operand) -> Expression:
        return _apply(algebra.power, other, self)

    def __matmul__(self, other: Operand) -> Expression:
        return _apply(algebra.matmul, self, other)

    def __rmatmul__(self, other: Operand) -> Expression:
        return _apply(algebra.matmul, other, self)

    def __neg__(self) -> Expression:
        return _apply(_negated, self)

    def __pos__(self) -> Expression:
        return self

    def __getitem__(self, key: Any) -> Expression:
        """NumPy's basic indexing: ints (negative too), slices, ``...`` and ``None``. A slice of a
        derivative or of a named result keeps its label, read at the slice's positions.

        >>> W, x = tensor("W", 2), tensor("x", 1)
        >>> print((W @ x).named("z")[0])
        z[0] = Σ_j W[0,j] x[j]
        """
        node, at = selection.indexed(self.node, key)
        named = self.name and self.name not in self.tensors  # a result's name, not a tensor's own (x[0] is y)
        label = self.label or (Label(self.name, f_idx=self.node.out) if named else None)
        if label is None or label.at or at is None or set(label.indices) != set(self.node.out):
            return Expression(node, tensors=self.tensors)  # a slice of a slice prints as y (see report)
        position = dict(zip(self.node.out, at))
        return Expression(node, tensors=self.tensors, label=label.sliced(tuple(position[a] for a in label.indices)))


def scalar_of(f: Expression) -> Expression | None:
    """``f`` as a scalar, for a gradient: ``f`` itself (rank 0), or where every axis has size 1 (``(X W + b) y``
    is 1×1) its one entry, under its name; None otherwise.

    >>> L = scalar_of(tensor("y", (1, 1)).T @ tensor("y", (1, 1)))
    >>> L.ndim, scalar_of(tensor("y", 1))
    (0, None)
    """
    if not f.ndim:
        return f
    if all(d == 1 for d in f.shape):  # a size from an array, ("y", 0), is not known to be 1
        return Expression(algebra.sum(f.node), f.name if f.label is None else "", f.tensors)
    return None


def lift(op: Callable[..., Expr]) -> Callable[..., Expression]:
    """``op`` over IR nodes as a function of handles (numbers pass through as they are)."""

    @wraps(op)
    def lifted(*args, **options) -> Expression:
        return _apply(op, *args, **options)

    return lifted


def _apply(op: Callable[..., Expr], *args, **options) -> Expression:
    """``op`` of the nodes of ``args`` (numbers as they are, a list of handles as a list of nodes:
    ``concatenate([a, b])``), a handle over all their tensors."""
    nodes = [_node(a) for a in args]
    handles = [e for a in args for e in (a if isinstance(a, (list, tuple)) else (a,)) if isinstance(e, Expression)]
    tensors: frozenset[str] = frozenset().union(*(e.tensors for e in handles))
    return Expression(op(*nodes, **options), tensors=tensors)


def _node(a):
    """The node of a handle, a list of nodes for a list of handles; else ``a``."""
    if isinstance(a, (list, tuple)) and any(isinstance(e, Expression) for e in a):
        return [e.node if isinstance(e, Expression) else e for e in a]
    return a.node if isinstance(a, Expression) else a


def _negated(x):
    return algebra.scale(x, -1)


def _divided(a, b):
    return algebra.multiply(a, algebra.power(b, -1))


def _subtracted(a, b):
    return algebra.add(a, _negated(b))


def tensor(name: str, shape, symmetric: bool = False) -> Expression:
    """An input tensor, given a rank (``2``) or a shape (``(3, None)``; ``None`` = any size);
    ``symmetric=True`` declares a symmetric matrix (see :mod:`einsumgrad.core.symmetric`).

    >>> tensor("W", (3, None)).shape
    (3, ('W', 1))
    """
    return Expression(algebra.tensor(name, shape, symmetric), name=algebra.identifier(name))


def einsum(spec: str, *operands) -> Expression:
    """An einsum over expressions, with NumPy's spec rules (implicit output, ``...``).

    >>> print(einsum("ii->", tensor("A", 2)))
    y = Σ_i A[i,i]
    """
    names = [getattr(e, "name", "") or f"operand {k}" for k, e in enumerate(operands)]
    return lift(lambda *nodes: algebra.einsum(spec, *nodes, names=names))(*operands)


sum = lift(algebra.sum)  # noqa: A001 - mirrors numpy.sum
trace = lift(algebra.trace)
matmul = lift(algebra.matmul)


def function(name: str, impl: Callable | None = None, derivative: Callable | None = None,
             second: Callable | None = None) -> Callable[..., Expression]:
    """The public ``eg.<name>(x)`` of a registered function; for any other name, an elementwise
    function of your own, whose derivatives print as ``h′``, ``h″``: give ``impl`` (and
    ``derivative``, ``second``, NumPy array functions) to evaluate it.

    >>> print(function("tanh")(tensor("x", 1)))
    y[i] = tanh(x[i])
    >>> print(function("h")(tensor("x", 1)))
    y[i] = h(x[i])
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise EinsumgradError(f"a function name is an identifier such as 'h' or 'φ', got {name!r}")
    if name in functions.BUILTINS:
        return _handle(name)
    if name in functions.REGISTRY and not functions.get(name).public and name not in generic.DECLARED:
        raise EinsumgradError(f"{name!r} is a name einsumgrad uses inside, not a function of its own: the functions "
                              f"are {', '.join(functions.public())}; give yours another name")
    if impl is not None:
        generic.define(name, impl, (derivative, second))
    elif derivative is not None or second is not None:
        raise EinsumgradError(f"eg.function({name!r}, ...): give the implementation first, then derivatives")
    elif name not in functions.REGISTRY:
        generic.declare(name)
    return _handle(name)


def registered(name: str) -> Callable[..., Expression]:
    """The handle of a registered function, internal ones included: how derivative rules call
    ``adj_jacobian`` or ``step``, which the public :func:`function` keeps for einsumgrad.

    >>> print(registered("step")(tensor("x", 1)))
    y[i] = step(x[i])
    """
    functions.get(name)  # an unknown name is an error that lists the known ones
    return _handle(name)


@cache(maxsize=1024)
def _handle(name: str) -> Callable[..., Expression]:
    builtin = functions.BUILTINS.get(name)
    fn = functions.get(name) if builtin is None else None
    build = builtin.build if builtin is not None else fn.build if fn is not None else None
    if build is not None:  # its signature and docstring are the build's
        call = lift(build)
    elif fn is not None:
        call = lift(lambda x: algebra.apply(name, x))
        kind = "elementwise" if fn.elementwise else "of a square matrix"
        call.__doc__ = f"``{name}(x)``, {kind}; see einsumgrad.library.rules."
    call.__name__ = call.__qualname__ = name
    return call


def scalar(name: str) -> Expression:
    """A scalar input (rank 0), such as ``β``.

    >>> print(scalar("β") * tensor("x", 1))
    y[i] = x[i] β
    """
    return tensor(name, 0)


eye = lift(selection.eye)


reshape = lift(shapes.reshape)
kron = lift(shapes.kron)
expand_dims = lift(shapes.expand_dims)


concatenate = lift(shapes.concatenate)
stack = lift(shapes.stack)


def argument_names(args, exprs, call: str) -> tuple[str, ...] | None:
    """The names of the tensors ``args`` lists (tensors made with eg.tensor, or their names), a
    declared argument order for ``exprs``; ``None`` for none (the names sorted)."""
    if args is None:
        return None
    if not isinstance(args, (tuple, list)):
        raise EinsumgradError(f"{call} takes args=(W, x, ...): a tuple of tensors or names, got {type(args).__name__}")
    read = {v.name: v for e in exprs for v in variables(e.node)}
    names = []
    for a in args:
        if isinstance(a, str):
            names.append(a)
            continue
        try:
            var = variable(a.node if isinstance(a, Expression) else a)
        except DerivativeError:
            raise EinsumgradError(f"{call} args lists tensors made with eg.tensor (or their names), got {a!r}") from None
        if read.get(var.name, var) != var:
            raise EinsumgradError(f"{call} args: two different tensors are named {var.name!r}: the expression's has "
                                  f"shape {algebra.show_dims(read[var.name].shape)}, args' "
                                  f"{algebra.show_dims(var.shape)}")
        names.append(var.name)
    return tuple(names)
