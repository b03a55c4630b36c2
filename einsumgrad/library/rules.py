"""The elementwise and matrix functions, one line each in :data:`FUNCTIONS`: name, formula over an array namespace (see :mod:`einsumgrad.core.xp`),
derivative rule; and, for a matrix function, a NumPy implementation, which NumPy evaluation uses instead.

An elementwise rule maps ``(x, y)`` — the argument and the result, as expressions — to
``f'(x)``; the chain rule ``f'(x) ⊙ dx`` is applied for it. A matrix function gives its
whole forward-mode rule ``(x, y, dx) -> dy``, where ``dx`` carries the derivative's axes
after the argument's own (spelled ``...`` in the einsum).

>>> from ..core.functions import get
>>> get("sigmoid").smooth, get("relu").smooth
(True, False)
"""
from __future__ import annotations

import math
from functools import partial
from typing import Callable

import numpy as np

from ..core.algebra import add, apply, as_expr, constant, hadamard, multiply, scale
from ..core.errors import EinsumgradError, ShapeError
from ..expression import Expression, einsum, registered
from ..core.functions import Function
from ..core.ir import Expr


def on_nodes(rule: Callable) -> Callable:
    """A rule written over expressions, as users write them, as a function of IR nodes."""

    def rule_on_nodes(*args):
        result = rule(*(Expression(a) if isinstance(a, Expr) else a for a in args))
        return result.node if isinstance(result, Expression) else as_expr(result)

    return rule_on_nodes


def elementwise(name: str, formula: Callable, derivative: Callable, **options) -> Function:
    """An elementwise function (an entry of the registry) from its ``formula(xp, x, *params)`` and ``derivative(x, y, *params) ->
    f'(x)``."""
    derivative = on_nodes(derivative)
    jvp = lambda x, y, dx, *p: hadamard(derivative(x, y, *p), dx)  # noqa: E731 - the chain rule f'(x) ⊙ dx
    return Function(name, formula=formula, jvp=jvp, derivative=derivative, **options)


def matrix_function(name: str, formula: Callable, impl: Callable, jvp: Callable, **options) -> Function:
    """A function of a square matrix (an entry of the registry) from its ``formula(xp, x)``, its NumPy ``impl`` (NumPy's linalg in
    float16 and longdouble too, on a dask array whole) and its forward rule ``jvp(x, y, dx) -> dy``."""
    return Function(name, _whole(impl), on_nodes(jvp), formula=formula, **{"local": name, **_MATRIX, **options})


def _whole(impl: Callable) -> Callable:
    """``impl`` on a chunked (dask) array: lazily, NumPy's function on the matrix rechunked into one block, since
    dask's own linalg refuses a matrix chunked along both axes (``svd``) or has no such function (``det``);
    any other array straight to ``impl``.

    >>> float(_whole(np.linalg.det)(np.diag([2.0, 3.0])))  # a dask array's: the same, lazily
    6.0
    """
    def on_whole(a):
        if not hasattr(a, "dask"):
            return impl(a)
        probe = impl(np.eye(1, dtype=a.dtype))  # the result's rank and dtype; every axis of it is as long as a's
        if probe.ndim <= a.ndim:
            return a.rechunk(-1).map_blocks(impl, drop_axis=tuple(range(probe.ndim, a.ndim)), dtype=probe.dtype)
        return a.rechunk(-1).map_blocks(impl, new_axis=tuple(range(a.ndim, probe.ndim)),
                                        chunks=((a.shape[0],),) * probe.ndim, dtype=probe.dtype)

    return on_whole


def _square(dims):
    if len(dims) != 2:
        raise ShapeError(f"a matrix function needs a matrix (rank 2), got rank {len(dims)}")
    if all(isinstance(d, int) for d in dims) and dims[0] != dims[1]:
        raise ShapeError(f"a matrix function needs a square matrix, got shape {dims[0]}x{dims[1]}")
    return dims


def _require_square(sizes):
    if sizes[0] != sizes[1]:
        raise ShapeError(f"inv/det/logdet need a square matrix, got shape {sizes[0]}x{sizes[1]}")


def _in_linalg_dtype(impl: Callable) -> Callable:
    """``impl`` (over NumPy's linalg) for the dtypes linalg lacks too: float16 is computed in float32, longdouble in
    float64 (so to double precision only); the result has the input's dtype.

    >>> _in_linalg_dtype(np.linalg.inv)(np.eye(2, dtype=np.float16)).dtype
    dtype('float16')
    """

    def run(a):
        a = np.asarray(a)
        if a.dtype in (np.float16, np.longdouble, np.clongdouble) and a.dtype not in (np.float64, np.complex128):
            wide = np.complex128 if np.iscomplexobj(a) else np.float32 if a.dtype == np.float16 else np.float64
            return np.asarray(impl(a.astype(wide))).astype(a.dtype)
        return impl(a)

    run.__name__ = run.__qualname__ = getattr(impl, "__name__", "impl")
    return run


@_in_linalg_dtype
def _inv(a):
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise EinsumgradError("inv: the matrix is singular, so its inverse (and the derivative of logdet) "
                              "is undefined there") from None


@_in_linalg_dtype
def _adjugate(a):
    """``adj(A)``, defined for singular ``A`` too: with ``A = U S Vᴴ``, ``adj(A) = det(U) det(Vᴴ) V adj(S) Uᴴ``,
    where ``adj(S)`` is diagonal with the products of all singular values but one.

    >>> _adjugate(np.diag([1.0, 0.0]))
    array([[0., 0.],
           [0., 1.]])
    """
    u, s, vh = np.linalg.svd(a)
    one = np.ones(1, s.dtype)  # not [1.0], a float64 array: float32 stays float32
    before = np.concatenate((one, np.cumprod(s)[:-1]))
    after = np.concatenate((np.cumprod(s[::-1])[:-1][::-1], one))
    scale = np.linalg.det(u) * np.linalg.det(vh)
    return scale * (vh.conj().T * (before * after)) @ u.conj().T


@_in_linalg_dtype
def _adjugate_jacobian(a):
    """``J[i,j,k,l] = ∂adj(A)[i,j]/∂A[k,l]``, defined for singular ``A`` too (the Hessian of ``det``): with
    ``A = U S Vᴴ`` and ``F = Uᴴ dA V``, ``d adj(A) = det(U) det(Vᴴ) V d adj(S) Uᴴ``, where ``d adj(S)[a,a] =
    Σ_m P[a,m] F[m,m]`` and ``d adj(S)[a,b] = -P[a,b] F[a,b]`` for ``a ≠ b``, ``P[a,b]`` the product of the
    singular values but the a-th and b-th (and ``P[a,a] = 0``).

    >>> _adjugate_jacobian(np.zeros((2, 2)))[:, :, 1, 1]  # adj of a 2x2 is linear: adj(A)[0,0] = A[1,1]
    array([[1., 0.],
           [0., 0.]])
    """
    u, s, vh = np.linalg.svd(a)
    others = ~np.eye(len(s), dtype=bool)
    P = np.prod(np.where(others[:, None, :] & others[None, :, :], s, 1), axis=-1) * others
    v, u_bar = vh.conj().T, u.conj()
    diagonal = np.einsum("ia,ja,am,km,lm->ijkl", v, u_bar, P, u_bar, v, optimize=True)
    off = np.einsum("ia,ab,ka,lb,jb->ijkl", v, P, u_bar, v, u_bar, optimize=True)
    return np.linalg.det(u) * np.linalg.det(vh) * (diagonal - off)


def _adj_jacobian(xp, a):
    """``∂adj(A)[i,j]/∂A[k,l] = det(A) (inv[l,k] inv[i,j] - inv[i,k] inv[l,j])``, for an invertible ``A``."""
    inv = xp.linalg.inv(a)
    return xp.linalg.det(a) * (xp.einsum("lk,ij->ijkl", inv, inv) + -xp.einsum("ik,lj->ijkl", inv, inv))


def _third_derivative(x, y, dx):
    raise EinsumgradError("the third derivative of det (the derivative of adj's Jacobian) is not implemented")


def _maximum(a, b):
    """``maximum(a, b)`` elementwise: ``relu`` where either is 0, else ``a step(a - b) + b step(b - a)`` (see
    :func:`_pick`). Where ``a == b`` each argument gets half the gradient, as ``step(0) = 1/2``."""
    return _pick(a, b, 1)


def _minimum(a, b):
    """``minimum(a, b)`` elementwise: ``a step(b - a) + b step(a - b)``; where ``a == b`` each gets half the
    gradient."""
    return _pick(a, b, -1)


def _pick(a, b, sign: int):
    """``a step(sign (a - b)) + b step(sign (b - a))``, exact: the rounding of ``a - b`` reaches only the steps,
    so ``maximum(1, -1e17)`` is 1. Each argument passes through ``to_finite`` first (±inf as ± the largest
    finite number), so that a losing infinity is multiplied by 0, not ∞ · 0, and ``from_finite`` gives the
    infinities back: ``maximum(x, -inf) = x``, ``maximum(inf, inf) = inf``. (A finite argument equal to ± the
    largest float comes back as ±inf.)"""
    a, b = as_expr(a), as_expr(b)
    for x, other in ((a, b), (b, a)):
        if other == constant(0):  # maximum(x, 0) = relu(x), minimum(x, 0) = -relu(-x)
            return scale(apply("relu", scale(x, sign)), sign)
    a, b = apply("to_finite", a), apply("to_finite", b)
    gap = scale(add(a, scale(b, -1)), sign)
    return apply("from_finite", add(multiply(a, apply("step", gap)), multiply(b, apply("step", scale(gap, -1)))))


def _sigmoid(xp, a):
    """``1 / (1 + e⁻ᵃ)``, as ``eᵃ / (1 + eᵃ)`` where ``Re a < 0``: nothing overflows, and a small value keeps
    its digits (``sigmoid(-40)`` is 4.2e-18, not 0 as ``(1 + tanh(a/2)) / 2`` would give)."""
    negative = xp.real(a) < 0
    e = xp.exp(xp.where(negative, a, -a))
    return xp.where(negative, e, 1) / (1 + e)


def _numpy(name: str):
    """The formula of NumPy's (and jax.numpy's, and torch's) function ``name``: ``xp.<name>(x)``."""
    return lambda xp, x: getattr(xp, name)(x)


_BIG = lambda xp, x: xp.finfo(x.dtype).max  # noqa: E731 - the largest finite number of x's dtype
# the identity on finite numbers, ±inf <-> ± the largest finite one: printed as their argument
_IDENTITY = dict(show=lambda name, argument, params, rank: argument, public=False, holomorphic=False)
_MATRIX = dict(result_shape=_square, check=_require_square, domain=(-1.0, 1.0))
_SCALAR = lambda dims: _square(dims)[:0]  # noqa: E731 - det and logdet of a matrix are numbers
# adj is a polynomial, its Jacobian defined everywhere: the Hessian of det is that of a singular matrix too; the
# formulas, adj(A) = det(A) inv(A) and its derivative, are for an invertible A only (NumPy's SVD covers any A)
_INVERTIBLE = "adj(A) = det(A) inv(A): this assumes an invertible A"

FUNCTIONS = (
    elementwise("exp", _numpy("exp"), lambda x, y: y),
    elementwise("log", _numpy("log"), lambda x, y: 1 / x, domain=(0.2, 3.0), of={
        "sigmoid": lambda u: scale(apply("softplus", scale(u, -1)), -1), "softmax": partial(apply, "log_softmax")}),
    elementwise("tanh", _numpy("tanh"), lambda x, y: 1 - y**2),
    elementwise("sigmoid", _sigmoid, lambda x, y: y * (1 - y)),
    elementwise("softplus", lambda xp, x: xp.logaddexp(x, xp.zeros_like(x)), lambda x, y: registered("sigmoid")(x),
                holomorphic=False),
    elementwise("relu", lambda xp, x: xp.clip(x, 0, None), lambda x, y: registered("step")(x), smooth=False,
                holomorphic=False),
    # (sign(x) + 1) / 2, not heaviside(x, 1/2), which torch cannot differentiate (its derivative is 0)
    elementwise("step", lambda xp, x: (xp.sign(x) + 1) / 2, lambda x, y: 0 * x, smooth=False, holomorphic=False),
    elementwise("abs", _numpy("abs"), lambda x, y: registered("sign")(x), smooth=False, holomorphic=False),
    elementwise("sign", _numpy("sign"), lambda x, y: 0 * x, smooth=False, holomorphic=False),
    elementwise("sin", _numpy("sin"), lambda x, y: registered("cos")(x)),
    elementwise("cos", _numpy("cos"), lambda x, y: -registered("sin")(x)),
    elementwise("sqrt", _numpy("sqrt"), lambda x, y: 0.5 / y, domain=(0.2, 3.0)),
    elementwise("tan", _numpy("tan"), lambda x, y: 1 + y**2, domain=(-1.2, 1.2)),
    elementwise("arcsin", _numpy("arcsin"), lambda x, y: (1 - x**2) ** -0.5, domain=(-0.9, 0.9)),
    elementwise("arccos", _numpy("arccos"), lambda x, y: -((1 - x**2) ** -0.5), domain=(-0.9, 0.9)),
    elementwise("arctan", _numpy("arctan"), lambda x, y: 1 / (1 + x**2)),
    elementwise("sinh", _numpy("sinh"), lambda x, y: registered("cosh")(x)),
    elementwise("cosh", _numpy("cosh"), lambda x, y: registered("sinh")(x)),
    elementwise("log1p", _numpy("log1p"), lambda x, y: 1 / (1 + x), domain=(-0.8, 3.0)),
    elementwise("expm1", _numpy("expm1"), lambda x, y: y + 1),
    elementwise("erf", lambda xp, x: xp.special.erf(x),
                lambda x, y: 2 / math.sqrt(math.pi) * registered("exp")(-x**2)),
    Function("maximum", build=_maximum, smooth=False, holomorphic=False),
    Function("minimum", build=_minimum, smooth=False, holomorphic=False),
    elementwise("to_finite", lambda xp, x: xp.clip(x, -_BIG(xp, x), _BIG(xp, x)), lambda x, y: 1 + 0 * x, **_IDENTITY),
    elementwise("from_finite",
                lambda xp, x: xp.where(xp.abs(x) == _BIG(xp, x), xp.copysign(xp.full_like(x, xp.inf), x), x),
                lambda x, y: 1 + 0 * x, **_IDENTITY),
    elementwise("pow", lambda xp, x, c: x ** c, lambda x, y, c: c * x ** (c - 1), domain=(0.2, 3.0), public=False),
    matrix_function("inv", lambda xp, x: xp.linalg.inv(x), _inv,
                    lambda x, y, dx: -einsum("ka,ab...,bl->kl...", y, dx, y), transposes=True),
    matrix_function("adj", lambda xp, x: xp.linalg.det(x) * xp.linalg.inv(x), _adjugate,
                    lambda x, y, dx: einsum("ijkl,kl...->ij...", registered("adj_jacobian")(x), dx), transposes=True,
                    note=_INVERTIBLE),
    matrix_function("adj_jacobian", _adj_jacobian, _adjugate_jacobian, _third_derivative,
                    result_shape=lambda dims: _square(dims) * 2, public=False, local="h", note=_INVERTIBLE),
    matrix_function("det", lambda xp, x: xp.linalg.det(x), _in_linalg_dtype(np.linalg.det),
                    lambda x, y, dx: einsum("ba,ab...->...", registered("adj")(x), dx), result_shape=_SCALAR),
    matrix_function("logdet", lambda xp, x: xp.linalg.slogdet(x)[1],
                    _in_linalg_dtype(lambda a: np.linalg.slogdet(a)[1]),
                    lambda x, y, dx: einsum("ba,ab...->...", registered("inv")(x), dx), result_shape=_SCALAR,
                    holomorphic=False),
)
