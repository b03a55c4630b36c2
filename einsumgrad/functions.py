"""The function registry: each function with its NumPy implementation and its
derivative rule, one line each.

An elementwise rule maps ``(x, y)`` — the argument and the result, as expressions —
to ``f'(x)``; the chain rule ``f'(x) ⊙ dx`` is applied for it. A matrix function
gives its whole forward-mode rule ``(x, y, dx) -> dy``, where ``dx`` carries the
derivative's axes after the argument's own (spelled ``...`` in the einsum).

>>> sorted(REGISTRY)[:4]
['abs', 'adj', 'cos', 'det']
>>> float(get("tanh").impl(0.5))
0.46211715726000974
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import algebra as A
from .errors import EinsumgradError, ShapeError


@dataclass(frozen=True)
class Function:
    """A registered function.

    ``shape`` maps the argument's dims to the result's (raising on a bad rank);
    ``check`` validates concrete sizes before evaluation; ``domain`` is where
    tests sample inputs; ``smooth`` is False where the derivative has kinks.
    """

    name: str
    impl: Callable
    jvp: Callable
    shape: Callable = lambda dims: dims
    check: Callable = lambda sizes: None
    domain: tuple[float, float] = (-2.0, 2.0)
    smooth: bool = True
    holomorphic: bool = True
    derivative: Callable | None = None  # (x, y, *params) -> f'(x), for elementwise functions

    @property
    def elementwise(self) -> bool:
        return self.derivative is not None


REGISTRY: dict[str, Function] = {}


def register(function: Function) -> Function:
    """Add a function; registering a name twice is an error."""
    if function.name in REGISTRY:
        raise EinsumgradError(f"a function named {function.name!r} is already registered")
    REGISTRY[function.name] = function
    return function


def get(name: str) -> Function:
    try:
        return REGISTRY[name]
    except KeyError:
        raise EinsumgradError(f"unknown function {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def elementwise(name: str, impl: Callable, derivative: Callable, **options) -> Function:
    """Register an elementwise function from ``derivative(x, y, *params) -> f'(x)``."""
    jvp = lambda x, y, dx, *p: A.hadamard(derivative(x, y, *p), dx)  # noqa: E731 - the chain rule f'(x) ⊙ dx
    return register(Function(name, impl, jvp, derivative=derivative, **options))


def _square(dims):
    if len(dims) != 2:
        raise ShapeError(f"a matrix function needs a matrix (rank 2), got rank {len(dims)}")
    if all(isinstance(d, int) for d in dims) and dims[0] != dims[1]:
        raise ShapeError(f"a matrix function needs a square matrix, got shape {dims[0]}x{dims[1]}")
    return dims


def _require_square(sizes):
    if sizes[0] != sizes[1]:
        raise ShapeError(f"inv/det/logdet need a square matrix, got shape {sizes[0]}x{sizes[1]}")


def _inv(a):
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise EinsumgradError("inv: the matrix is singular, so its inverse (and the derivative of logdet) "
                              "is undefined there") from None


def _adjugate(a):
    """``adj(A)``, defined for singular ``A`` too: with ``A = U S Vᴴ``, ``adj(A) = det(U) det(Vᴴ) V adj(S) Uᴴ``,
    where ``adj(S)`` is diagonal with the products of all singular values but one.

    >>> _adjugate(np.diag([1.0, 0.0]))
    array([[0., 0.],
           [0., 1.]])
    """
    u, s, vh = np.linalg.svd(a)
    before = np.concatenate(([1.0], np.cumprod(s)[:-1]))
    after = np.concatenate((np.cumprod(s[::-1])[:-1][::-1], [1.0]))
    scale = np.linalg.det(u) * np.linalg.det(vh)
    return scale * (vh.conj().T * (before * after)) @ u.conj().T


def _sigmoid(a):
    return 0.5 * (np.tanh(0.5 * a) + 1)  # stable for large |a|


elementwise("exp", np.exp, lambda x, y: y)
elementwise("log", np.log, lambda x, y: 1 / x, domain=(0.2, 3.0))
elementwise("tanh", np.tanh, lambda x, y: 1 - y**2)
elementwise("sigmoid", _sigmoid, lambda x, y: y * (1 - y))
elementwise("softplus", lambda a: np.logaddexp(0, a), lambda x, y: A.apply("sigmoid", x), holomorphic=False)
elementwise("relu", lambda a: np.maximum(a, 0), lambda x, y: A.apply("step", x), smooth=False, holomorphic=False)
elementwise("step", lambda a: np.heaviside(a, 0.5), lambda x, y: A.zeros_like(x), smooth=False, holomorphic=False)
elementwise("abs", np.abs, lambda x, y: A.apply("sign", x), smooth=False, holomorphic=False)
elementwise("sign", np.sign, lambda x, y: A.zeros_like(x), smooth=False, holomorphic=False)
elementwise("sin", np.sin, lambda x, y: A.apply("cos", x))
elementwise("cos", np.cos, lambda x, y: -A.apply("sin", x))
elementwise("sqrt", np.sqrt, lambda x, y: 0.5 / y, domain=(0.2, 3.0))
elementwise("pow", np.power, lambda x, y, c: c * x ** (c - 1), domain=(0.2, 3.0))

_matrix = dict(shape=_square, check=_require_square, domain=(-1.0, 1.0))
register(Function("inv", _inv, lambda x, y, dx: -A.einsum("ka,ab...,bl->kl...", y, dx, y), **_matrix))
# adj = det · inv, so d adj = tr(inv dX) adj − inv dX adj (a rule for nonsingular X; adj itself is defined everywhere)
register(Function("adj", _adjugate, lambda x, y, dx: A.einsum("ba,ab...,kl->kl...", A.inv(x), dx, y)
                  - A.einsum("ka,ab...,bl->kl...", A.inv(x), dx, y), **_matrix))
register(Function("det", np.linalg.det, lambda x, y, dx: A.einsum("ba,ab...->...", A.adj(x), dx),
                  **{**_matrix, "shape": lambda dims: _square(dims)[:0]}))
register(Function("logdet", lambda a: np.linalg.slogdet(a)[1], lambda x, y, dx: A.einsum("ba,ab...->...", A.inv(x), dx),
                  **{**_matrix, "shape": lambda dims: _square(dims)[:0], "holomorphic": False}))
