"""The public calls on expressions: jacobian, grad, hessian, evaluate, compile, check.

>>> import numpy as np
>>> from .expression import einsum, tensor
>>> x, A = tensor("x", 1), tensor("A", 2)
>>> H = hessian(einsum("i,ij,j->", x, A, x), x)
>>> print(H)
∂²f/∂x[i]∂x[j] = A[i,j] + A[j,i]
>>> evaluate(H, x=np.zeros(2), A=np.array([[1.0, 2.0], [3.0, 4.0]]))
array([[2., 5.],
       [5., 8.]])
"""
from __future__ import annotations

import math
import numbers
import unicodedata
from dataclasses import dataclass, replace
from typing import Any, Literal, Sequence, TypeAlias, overload

import numpy as np

from .core import algebra
from .notation import layouts, render
from .core.algebra import leaf
from .core.caches import cache, clear_all
from .compiler import Compiled, check_backend, to_array
from .compiler import namespaces
from .compiler.codegen import straight
from .compiler.namespaces import foreign
from .core.differentiate import contract, derivative, variable
from .core.errors import DerivativeError, EinsumgradError, ShapeError, did_you_mean
from .expression import Expression, argument_names, scalar_of
from .notation.label import Label
from .core.reverse import gradient
from .core.ir import Expr, Var, fresh, instantiate, variables
from .core.simplify import simplify
from .core.symmetric import along, check_convention, duplication
from .einsum_jacobian import Jacobian
from .notation.teach import Derivation, explain as explain_jacobian, explain_expression

Array: TypeAlias = Any  # an array evaluation takes: NumPy, JAX, torch or dask, or nested lists of numbers
Wrt: TypeAlias = "Expression | str"  # a tensor of the expression, or its name
Indices: TypeAlias = "str | Sequence[str] | None"  # names for a result's axes: "ij", or ("i", "j")


def _expression(f, call: str) -> Expression:
    if not isinstance(f, Expression):
        raise DerivativeError(f"{call} needs an expression built with eg.tensor / eg.einsum, got {type(f).__name__}")
    return f


def _variable(wrt: Wrt, f: Expression) -> Var:
    """The tensor ``wrt`` stands for in ``f``: a tensor, or its name (``"W"``, ``"Θ"``)."""
    if isinstance(wrt, str):
        return _named(wrt, f)
    try:
        return variable(wrt.node if isinstance(wrt, Expression) else wrt, f.node)
    except DerivativeError as err:
        if isinstance(wrt, Expression) and wrt.ndim == 0:
            raise DerivativeError(_by_a_scalar(f, wrt)) from None
        raise err


def _named(name: str, f: Expression) -> Var:
    """The tensor of ``f`` named ``name`` (NFKC-normalised, as Python reads identifiers)."""
    tensors = {v.name: v for v in variables(f.node)}
    found = tensors.get(unicodedata.normalize("NFKC", name.strip()))
    if found is None and f.name in tensors and name.strip().isidentifier():  # eg.grad(Θ, "L")
        raise DerivativeError(f"wrt={name!r}: {f.name} is a tensor, not a function of {name.strip()}: "
                              + by_a_scalar(f.name, name.strip(), f"eg.grad({name.strip()}, {f.name})"))
    if found is None:
        raise DerivativeError(f"wrt={name!r}: no tensor of that name in the expression (it reads "
                              f"{', '.join(sorted(tensors)) or 'no tensor'})")
    return found


def _by_a_scalar(f: Expression, wrt: Expression) -> str:
    """``eg.grad(Θ, L)``: the message in the letters of ``f`` (Θ) and ``wrt`` (the loss, L where unnamed)."""
    tensors = sorted(v.name for v in variables(f.node))
    theta = f.name if f.name.isidentifier() else tensors[0] if len(tensors) == 1 else "Θ"
    loss = wrt.name if wrt.name.isidentifier() else render.unused_name(("L", "𝓛", "J"), f.tensors | wrt.tensors)
    what = f"the scalar expression {loss}" if wrt.name.isidentifier() else f"a scalar expression ({loss} here)"
    return f"wrt is {what}, not a tensor: " + by_a_scalar(theta, loss, f"eg.grad({loss}, {theta})")


def by_a_scalar(theta: str, loss: str, how: str) -> str:
    """Why ``∂Θ/∂L`` (a tensor by a loss) is not what gradient descent needs, and what is: every door's words.

    >>> print(by_a_scalar("Θ", "L", "eg.grad(L, Θ)"))  # doctest: +NORMALIZE_WHITESPACE
    ∂Θ/∂L is not what gradient descent needs: L is a function of Θ, not Θ of L, so ∂Θ/∂L is not defined.
    Training needs ∂L/∂Θ (eg.grad(L, Θ)), shaped like Θ: each entry is how fast L changes as that entry of Θ does.
    Step against it: the update Θ ← Θ − η ∂L/∂Θ, η > 0 a small step size, lowers L
    """
    return (f"∂{theta}/∂{loss} is not what gradient descent needs: {loss} is a function of {theta}, not {theta} of "
            f"{loss}, so ∂{theta}/∂{loss} is not defined. Training needs ∂{loss}/∂{theta} ({how}), shaped like "
            f"{theta}: each entry is how fast {loss} changes as that entry of {theta} does. Step against it: the "
            f"update {theta} ← {theta} − η ∂{loss}/∂{theta}, η > 0 a small step size, lowers {loss}")


def _relabelled(expr: Expr, indices: Indices) -> Expr:
    """``expr`` with its output indices named ``indices`` (a string of letters, or a sequence of names)."""
    if indices is None:
        return expr
    names = _index_names(indices, expr.ndim)
    return simplify(Expr(names, expr.dims, instantiate(expr, names, names)))


def _index_names(indices, n: int, taken=()) -> tuple[str, ...]:
    """``indices`` (a string of letters, or a sequence of names) as ``n`` different index names
    outside ``taken``, or an error saying what to give."""
    names = tuple(indices)
    if len(names) != n or len(set(names)) != len(names) or not all(isinstance(a, str) and a.isidentifier()
                                                                   for a in names) or set(names) & set(taken):
        raise EinsumgradError(f"indices={indices!r}: give {n} different index names, such as "
                              f"{''.join(fresh(n, taken))!r}, for the {n} axes of the result"
                              + (f", none of the function's own ({','.join(taken)})" if taken else ""))
    return names


def _derived(node: Expr, f: Expression, label: Label) -> Expression:
    """A derivative of ``f`` with its label, accepting the arrays ``f`` accepts."""
    return Expression(node, tensors=f.tensors, label=label)


def _label(f: Expression) -> str:
    """The function's name in its derivatives: its own, else ``f`` (or another letter no tensor of it has)."""
    return f.name if f.name and f.name.isidentifier() else render.unused_name(("f", "L", "F"), f.tensors)


def one_entry_note(f: Expression) -> str:
    """What a door says where it takes a result whose every axis has size 1 as a scalar.

    >>> from .expression import tensor
    >>> one_entry_note((tensor("X", (1, 3)) @ tensor("y", (3, 1))).named("L"))
    'L is 1×1: taken as the scalar L[0,0]'
    """
    return f"{_label(f)} is {'×'.join('1' * f.ndim)}: taken as the scalar {_label(f)}[{','.join('0' * f.ndim)}]"


def _of(f: Expression, out) -> Label:
    """What ``f`` is (its label, or ``f`` itself by its name), its indices renamed to ``out``, the
    first axes of a derivative of ``f``."""
    base = f.label if f.label is not None and not f.label.at else Label(_label(f), f_idx=f.node.out)
    return base.renamed(dict(zip(f.node.out, out)))


@overload
def jacobian(f: str, wrt: int = 0, *, names: str | Sequence[str] | None = None, layout: str = "shape",
             indices: Indices = None) -> Jacobian: ...
@overload
def jacobian(f: Expression, wrt: Wrt, *, names: None = None, layout: str = "shape",
             indices: Indices = None) -> Expression: ...
def jacobian(f: str | Expression, wrt: int | Wrt = 0, *, names: str | Sequence[str] | None = None,
             layout: str = "shape", indices: Indices = None) -> Jacobian | Expression:
    """The Jacobian of an einsum string (a :class:`Jacobian`) or of an expression.

    For an expression the result is an expression of shape ``f.shape + wrt.shape``, or in
    another of the layouts of :mod:`einsumgrad.notation.layouts`; it prints as ``∂f[i]/∂W[j,k] = …``
    and ``.formula("vec")`` gives Magnus–Neudecker's Kronecker form; ``indices`` names its
    axes (``"ijab"``).
    """
    if isinstance(f, str):
        return Jacobian(f, wrt, names=names, layout=layout)  # type: ignore[arg-type]  # Jacobian checks wrt
    if not isinstance(f, Expression):
        raise EinsumgradError("jacobian takes an einsum string or an expression")
    var = _variable(wrt, f)  # type: ignore[arg-type]  # an int is refused there
    jac = _relabelled(along(derivative(f.node, var), var, f.ndim), indices)
    label = _of(f, jac.out[: f.ndim]).by(var.name, jac.out[f.ndim :])
    return _laid_out(jac, layout, f.ndim, label, f)


def _laid_out(node: Expr, layout: str, k: int, label: Label, f: Expression) -> Expression:
    """The derivative ``node`` of ``f`` (``k`` axes of the function's, then the variable's) with its
    axes in ``layout``; an expression has no 'vec' layout, which is a reshape."""
    if layouts.check(layout) == "vec":
        raise EinsumgradError(f"layout='vec' reshapes the array, which an expression cannot: "
                              f"{render.left_side(label, (), render.UNICODE)}.formula('vec') gives ∂vec(f)/∂vec(X)ᵀ, "
                              "and np.reshape(value, (rows, -1), order='F') the matrix")
    order = layouts.axes(layout, k, node.ndim - k, label.f, label.variables[-1])
    laid = Expr(tuple(node.out[a] for a in order), tuple(node.dims[a] for a in order), node.terms)
    return _derived(laid, f, replace(label, layout=layout))


def grad(f: Expression, wrt: Wrt, *, layout: str = "shape", indices: Indices = None,
         convention: str = "symmetric") -> Expression:
    """``∂f/∂wrt`` of a scalar expression (or of one whose every axis has size 1, as its one entry): an
    expression shaped like ``wrt`` (in Wikipedia's
    numerator layout, ``layout="numerator"``, its axes reversed: ``Gᵀ`` for a matrix; by a vector the
    textbooks' row ``gᵀ W``, kept a 1-D array, see :mod:`einsumgrad.notation.layouts`), its axes
    named ``indices`` (``"lab"`` prints ``∂L/∂Φ[l,a,b]``) or ``i, j, …``. By a symmetric matrix
    it is ``sym(∂f/∂S)``; ``convention="duplication"`` asks for ``G + Gᵀ - diag(G)`` instead (see
    :mod:`einsumgrad.core.symmetric`)."""
    f = _expression(f, "grad")
    var = _variable(wrt, f)
    f = _scalar(f, "grad")
    check_convention(convention, var)
    g = gradient(f.node, var)
    if convention == "duplication":
        g = duplication(g)
        return _derived(g, f, replace(_of(f, ()).by(var.name, g.out), convention="duplication"))
    g = _relabelled(along(g, var, 0), indices)
    return _laid_out(g, layout, 0, _of(f, ()).by(var.name, g.out), f)


def _scalar(f: Expression, call: str) -> Expression:
    """``f`` as a scalar (a 1×1 result is its one entry, see :func:`~einsumgrad.expression.scalar_of`), or an
    error for ``call``."""
    scalar = scalar_of(f)
    if scalar is None:
        raise DerivativeError(
            f"{call} needs a scalar expression, got rank {f.ndim}; use eg.jacobian(f, wrt) for the full Jacobian, "
            f"or eg.sum(f) first (a result whose every axis has size 1, such as 1×1, is taken as a scalar; this one "
            f"has shape {algebra.show_dims(f.shape)})")
    return scalar


def hessian(f: Expression, wrt: Wrt, *, layout: str = "shape", indices: Indices = None) -> Expression:
    """The Hessian of a scalar expression, ``∂²f/∂x[i]∂x[j]``: shape ``wrt.shape + wrt.shape``,
    its axes named ``indices``."""
    var = _variable(wrt, _expression(f, "hessian"))
    f = _scalar(f, "hessian")
    g = grad(f, wrt)
    h = _relabelled(along(derivative(g.node, var), var, len(var.shape)), indices)
    n = g.ndim
    return _laid_out(h, layout, n, _of(f, ()).by(var.name, h.out[:n]).by(var.name, h.out[n:]), f)


def hvp(f: Expression, wrt: Wrt, v: Expression) -> Expression:
    """The Hessian–vector product ``H v = ∂(∂f/∂wrt · v)/∂wrt``, shaped like ``wrt``, with the
    Hessian never built: ``v`` is an expression shaped like ``wrt``.

    ``v`` is a constant of the product whatever it reads, ``wrt`` included: the product is taken
    with a stand-in for ``v``, which ``v`` then replaces, so the value is ``H(x) v(x)`` with
    ``v(x)`` as a fixed array (as ``jax.jvp(jax.grad(f), (x,), (v,))``); ``hvp(Σ x³, x, x)`` is
    ``6 x²``, not ``9 x²``. The result is an expression in ``x`` like any other, and its own
    derivatives are those of ``x ↦ H(x) v(x)``, ``∂v`` terms included.

    >>> from .expression import einsum, tensor
    >>> x, A, v = tensor("x", 1), tensor("A", 2), tensor("v", 1)
    >>> print(hvp(einsum("i,ij,j->", x, A, x), x, v))
    Hv[i] = Σ_j A[j,i] v[j] + Σ_j A[i,j] v[j]
    >>> print(hvp(einsum("i,i,i->", x, x, x), x, x))
    Hv[i] = 6 x[i] x[i]
    """
    v = _expression(v, "hvp")
    g = grad(f, wrt)
    f = _scalar(f, "hvp")
    if g.ndim != v.ndim or any(isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(g.shape, v.shape)):
        raise ShapeError(f"hvp needs v shaped like {_variable(wrt, f).name}, {algebra.show_dims(g.shape)}; got "
                         f"{algebra.show_dims(v.shape)}")
    stand_in = leaf("v·", g.shape)  # not an identifier: no tensor's name
    product = grad(Expression(algebra.sum(algebra.multiply(g.node, stand_in)), tensors=f.tensors), wrt)
    node = algebra.substitute(product.node, variable(stand_in), v.node)
    label = replace(_of(f, ()).by(_variable(wrt, f).name, node.out), direction=v.name or "v")
    return Expression(node, tensors=f.tensors | v.tensors, label=label)


def clear_caches() -> None:
    """Forget every cached derivative, plan and contraction (e.g. to time a cold start)."""
    clear_all()


def explain(f: Expression | Jacobian, wrt: Wrt | None = None, *, indices=None) -> Derivation:
    """A numbered, step-by-step derivation of ``∂f/∂wrt`` (f an expression) or of a Jacobian;
    ``indices`` names ``wrt``'s axes in it (``"lij"``: ``∂L/∂Φ[l,i,j]``), as in :func:`grad`."""
    if isinstance(f, Jacobian):
        return explain_jacobian(f)
    if wrt is None:
        raise DerivativeError("explain(expr, wrt) needs the tensor to differentiate by")
    f = _expression(f, "explain")
    by = _named(wrt, f) if isinstance(wrt, str) else wrt
    node = by.node if isinstance(by, Expression) else by
    names = None if indices is None else _index_names(indices, len(variable(node, f.node).shape), f.node.out)
    return explain_expression(f.node, node, f.label or f.name, names)


@cache(maxsize=256)
def _cached(nodes: tuple[Expr, ...], accepted: frozenset[str], optimize, backend: str, args) -> Compiled:
    return Compiled(*nodes, optimize=optimize, backend=backend, accepted=accepted, args=args, straight=straight)


@overload
def compile(expr: Expression, /, *, backend: Literal["numpy"] = "numpy", optimize: Any = "auto",  # noqa: A001
            args: Sequence[Expression | str] | None = None) -> Compiled[np.ndarray]: ...
@overload
def compile(expr: Expression, expr2: Expression, /, *exprs: Expression, backend: Literal["numpy"] = "numpy",  # noqa: A001
            optimize: Any = "auto", args: Sequence[Expression | str] | None = None
            ) -> Compiled[tuple[np.ndarray, ...]]: ...
@overload
def compile(*exprs: Expression, backend: str, optimize: Any = "auto",  # noqa: A001
            args: Sequence[Expression | str] | None = None) -> Compiled[Any]: ...
def compile(*exprs: Expression, backend: str = "numpy", optimize: Any = "auto",  # noqa: A001
            args: Sequence[Expression | str] | None = None) -> Compiled[Any]:
    """One cached callable over named arrays for several expressions (a tuple back for
    several, one array for one); shared sub-expressions are computed once per call. It takes
    an array for every tensor of the expressions' :attr:`~Expression.inputs`, and ignores others;
    by name, or by position in the order of ``args`` (tensors or their names; each tensor read
    among them), by default their names sorted. ``optimize`` is opt_einsum's (a strategy name,
    ``True``/``False``, or a path). For type checkers, a NumPy call returns an ``np.ndarray`` (a
    tuple of them for several expressions); other backends' arrays are ``Any``.

    >>> from .expression import tensor
    >>> W, x = tensor("W", 2), tensor("x", 1)
    >>> compile(W * 2)(W=np.ones((1, 2)))
    array([[2., 2.]])
    >>> f = compile(x @ W, args=(x, W))
    >>> f
    Compiled(1 expression of x, W; optimize='auto', backend='numpy'; 0 cached plan(s))
    >>> f(np.ones(1), np.ones((1, 2)))
    array([1., 1.])
    """
    if not exprs:
        raise EinsumgradError("compile takes one or more expressions built with eg.tensor / eg.einsum")
    exprs = tuple(_expression(e, "compile") for e in exprs)
    check_backend(backend)  # before the cache, which needs it hashable
    names = argument_names(args, exprs, "compile")
    nodes = tuple(e.node for e in exprs)
    accepted = frozenset().union(*(e.tensors for e in exprs))
    if not isinstance(optimize, (str, bool)):
        return Compiled(*nodes, optimize=optimize, backend=backend, accepted=accepted, args=names, straight=straight)
    return _cached(nodes, accepted, optimize, backend, names)


def evaluate(expr: Expression, **arrays: Array) -> np.ndarray:
    """Evaluate an expression on named arrays: those of its :attr:`~Expression.inputs`; any
    others (say, every parameter of a model) are ignored. It computes with NumPy (a jax or torch
    array is refused: :func:`compile` with its ``backend`` keeps it one)."""
    f = compile(expr)
    for name in f.accepted & arrays.keys():
        library = foreign(arrays[name])
        if library is not None:
            raise EinsumgradError(f"array {name!r} is a {library} array; eg.evaluate computes with NumPy: convert it "
                                  f"(np.asarray), or call eg.compile(expr, backend={library!r}), which keeps it one")
    return f(**arrays)


@dataclass(frozen=True)
class CheckReport:
    """The symbolic derivative against central finite differences in a random direction."""

    label: str
    max_abs_error: float
    max_rel_error: float
    eps: float
    passed: bool
    dtype: str = "float64"  # the precision the symbolic derivative was evaluated in

    def __bool__(self) -> bool:
        return self.passed

    def _repr_html_(self) -> str:
        from .notation import fragments

        return fragments.notebook(fragments.check_html(self))

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        where = "" if self.dtype in ("float64", "complex128") else f" in {self.dtype}"
        return (f"{verdict}: {self.label}{where} vs central differences (eps={self.eps:g}, random direction): "
                f"max abs error {self.max_abs_error:.2e}, max rel error {self.max_rel_error:.2e}")


def check(expr: Expression, wrt: Wrt, *, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-8, seed: int = 0,
          dtype: Any = None, **arrays: Array) -> CheckReport:
    """Compare ``∂expr/∂wrt`` with central finite differences in float64, at ``arrays`` (as
    :func:`evaluate` takes them, others ignored), along a random direction.

    The symbolic derivative is evaluated in ``dtype``, by default the precision of the arrays
    (float32 arrays: in float32, as they would be used; ints, lists: float64); below float64,
    ``rtol`` and ``atol`` are raised to at least √ε of that precision (3.5e-4 for float32).

    >>> from .expression import function, tensor
    >>> x = tensor("x", 1)
    >>> check(function("tanh")(x), x, x=np.array([0.5, -1.0])).passed
    True
    >>> print(check(function("tanh")(x), x, x=np.array([0.5, -1.0], dtype=np.float32)))  # doctest: +ELLIPSIS
    PASS: ∂f/∂x in float32 vs central differences (eps=1e-06, random direction): max abs error ...
    """
    expr = _expression(expr, "check")
    var = _variable(wrt, expr)
    if var.name not in arrays:
        raise EinsumgradError(f"missing array {var.name!r}{did_you_mean(var.name, arrays)}: check needs it, the "
                              "point to check at")
    for name, value in (("eps", eps), ("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
            raise EinsumgradError(f"check takes a finite number >= 0 for {name}, got {value!r}")
    if eps == 0:
        raise EinsumgradError("check needs a step eps > 0, got 0")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise EinsumgradError(f"check takes a whole number >= 0 for seed, got {seed!r}")
    f = compile(expr)
    given = {n: _numeric_array(n, a) for n, a in {**f.needed(arrays), var.name: arrays[var.name]}.items()}
    real = _check_precision(dtype, given.values())
    arrays = {n: _as_precision(a, np.float64) for n, a in given.items()}
    x0 = arrays[var.name]
    if x0.ndim != len(var.shape):
        raise ShapeError(f"tensor {var.name!r} has rank {len(var.shape)}, but its array has shape {x0.shape}")
    direction = np.random.default_rng(seed).standard_normal(x0.shape)
    if var.symmetric:  # S moves only along symmetric directions
        direction = direction + direction.T
    direction = direction.astype(real).astype(np.float64)  # the same direction in both precisions
    name = "d" + var.name
    while name in arrays:
        name += "_"
    jac = derivative(expr.node, var)
    jvp = contract(jac, leaf(name, var.shape), jac.out[expr.ndim :], jac.out[: expr.ndim])
    low = {n: _as_precision(a, real) for n, a in {**arrays, name: direction}.items()}
    symbolic = _as_precision(np.asarray(Compiled(jvp, inputs=(*arrays, name))(**low)), np.float64)
    if np.finfo(real).eps > np.finfo(np.float64).eps:  # evaluated in a lower precision: its rounding is allowed
        rtol, atol = max(rtol, math.sqrt(np.finfo(real).eps)), max(atol, math.sqrt(np.finfo(real).eps))
    plus = f(**{**arrays, var.name: x0 + eps * direction})
    minus = f(**{**arrays, var.name: x0 - eps * direction})
    numeric = (np.asarray(plus) - np.asarray(minus)) / (2 * eps)
    err = np.abs(symbolic - numeric)
    scale = np.abs(numeric)
    max_abs = float(err.max()) if err.size else 0.0
    max_rel = float((err / np.maximum(scale, 1e-12)).max()) if err.size else 0.0
    size = max([1.0, float(np.abs(plus).max(initial=0)), float(scale.max(initial=0))])
    passed = bool(np.all(np.isfinite(symbolic))) and max_abs <= atol + rtol * size
    return CheckReport(_check_label(expr, var.name), max_abs, max_rel, eps, passed, _symbolic_dtype(real, low.values()))


def _check_label(expr: Expression, x: str) -> str:
    """``∂f/∂x``; for a derivative ``∂f/∂W[...]`` (a Hessian's check), ``∂²f/∂W∂x``."""
    return render.left_side(_of(expr, expr.node.out).by(x).bare(), (), render.UNICODE)


def _numeric_array(name: str, value: Array) -> np.ndarray:
    """``value``'s numbers as a NumPy array in their own dtype (a jax or torch array's values too), or a clear error."""
    try:
        array = namespaces.to_numpy(value) if foreign(value) else np.asarray(to_array(name, value))
    except EinsumgradError:
        raise
    except (TypeError, ValueError, RuntimeError):  # a traced jax value, say
        array = None
    if array is None or array.dtype.kind not in "biufc":
        raise EinsumgradError(f"check takes arrays of numbers; {name}={value!r} is not one")
    return array


def _check_precision(dtype: Any, arrays) -> np.dtype:
    """The real precision ``check`` evaluates the symbolic derivative in: ``dtype``'s, or by default the arrays'
    (those of floats and complex numbers; float64 where there are none)."""
    if dtype is None:
        return np.result_type(*[np.finfo(a.dtype).dtype for a in arrays if a.dtype.kind in "fc"] or [np.float64])
    try:
        chosen = np.dtype(dtype)
    except TypeError:
        chosen = None
    if chosen is None or chosen.kind not in "fc":
        raise EinsumgradError(f"check takes dtype=None (the arrays' precision) or a NumPy float or complex dtype "
                              f"such as 'float32', got {dtype!r}")
    return np.finfo(chosen).dtype


def _as_precision(a: np.ndarray, real: Any) -> np.ndarray:
    """``a`` in the precision ``real`` (float32: a complex array as complex64)."""
    return a.astype(np.result_type(real, np.complex64) if a.dtype.kind == "c" else real, copy=False)


def _symbolic_dtype(real: np.dtype, arrays) -> str:
    """The dtype's name a report shows: ``real``'s, or its complex one where an array is complex."""
    return str(np.result_type(real, np.complex64) if any(a.dtype.kind == "c" for a in arrays) else np.dtype(real))


@dataclass(frozen=True, eq=False)
class Shown:
    """An array as einsumgrad shows tensors in a notebook (see :func:`show`): ``print`` gives NumPy's text."""

    value: np.ndarray
    name: str
    indices: str
    of: Expression | None = None

    def _repr_html_(self):
        from .notation import fragments, slices

        form = None if self.of is None else slices.identity_form(self.of.node)
        return fragments.notebook(fragments.tensor_html(self.value, self.name, self.indices, form))

    def __repr__(self):
        return f"{self.name}{list(self.indices)}, shape {self.value.shape}:\n{self.value}".replace("'", "")


def show(value, name: str = "J", indices: str | None = None, of: Expression | None = None) -> Shown:
    """``value`` (an array) for a notebook: a heat-mapped table, a third-order one slice by slice
    ``name[:, :, k]`` behind tabs, rows and columns named by ``indices`` (``"ijk"``); ``of``, the
    expression it is the value of (a Jacobian), says what each slice is (``J[:, :, 2] = x[2] I``).

    >>> show(np.eye(2), "I", "ij")
    I[i, j], shape (2, 2):
    [[1. 0.]
     [0. 1.]]
    """
    value = np.asarray(value)
    if indices is None:
        indices = "".join(fresh(value.ndim, ()))
    if len(indices) != value.ndim:
        raise EinsumgradError(f"show: indices={indices!r} names {len(indices)} axes; the array has {value.ndim}")
    return Shown(value, name, indices, of)
