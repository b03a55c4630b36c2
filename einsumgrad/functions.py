"""The function registry: the :class:`Function` record, :func:`register` and :func:`get`.

The built-in functions are registered, one line each, in :mod:`einsumgrad.rules`; every
place that lists functions (``eg.<name>``, the expression language, the CLI's help, the
README) reads them from :data:`REGISTRY`.

>>> import einsumgrad
>>> "tanh" in public(), "reshape" in REGISTRY, "reshape" in public()
(True, True, False)
>>> float(get("tanh").impl(0.5))
0.46211715726000974
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .errors import EinsumgradError


@dataclass(frozen=True)
class Function:
    """A registered function.

    ``jvp(x, y, dx, *params) -> dy`` is its forward-mode rule over expressions (the argument,
    the result, and the argument's derivative, whose extra axes follow the argument's own);
    ``derivative(x, y, *params) -> f'(x)`` marks an elementwise function; ``result_shape``
    maps the argument's dims to the result's (raising on a bad rank); ``check`` validates
    concrete sizes before evaluation; ``domain`` is where tests sample inputs; ``smooth``
    is False where the derivative has kinks; ``public`` functions are ``eg.<name>`` and in the
    expression language (``pow`` is reached through ``**`` instead). A linear function may give
    ``vjp(x, y, g, *params) -> Σ g ∂y/∂x``, its adjoint, which reverse mode then uses instead of
    its Jacobian; ``show(*params)`` is how its parameters print after the argument. A function
    that ``transposes`` (``f(xᵀ) = f(x)ᵀ``) of a symmetric matrix is symmetric.
    """

    name: str
    impl: Callable
    jvp: Callable
    result_shape: Callable = lambda dims: dims
    check: Callable = lambda sizes: None
    domain: tuple[float, float] = (-2.0, 2.0)
    smooth: bool = True
    holomorphic: bool = True
    derivative: Callable | None = None
    public: bool = True
    vjp: Callable | None = None
    show: Callable | None = None
    transposes: bool = False

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


def public() -> list[str]:
    """The names users call, sorted."""
    return sorted(name for name, f in REGISTRY.items() if f.public)


def get(name: str) -> Function:
    """The function registered as ``name``; the error lists the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise EinsumgradError(f"unknown function {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
