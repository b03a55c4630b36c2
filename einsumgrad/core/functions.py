"""The function registry: the :class:`Function` record, :func:`register` and :func:`get`.

The built-in functions are registered, one line each, in :mod:`einsumgrad.library.rules`; every
place that lists functions (``eg.<name>``, the expression language, the CLI's help, the
docs) reads them from :data:`REGISTRY`.

>>> import einsumgrad
>>> "tanh" in public(), "reshape" in REGISTRY, "reshape" in public()
(True, True, False)
>>> float(get("tanh").impl(0.5))
0.46211715726000974
>>> import jax.numpy as jnp
>>> from einsumgrad.core.xp import namespace
>>> float(get("sigmoid").formula(namespace("jax"), jnp.asarray(0.0)))  # a formula over jax.numpy too
0.5
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from .errors import EinsumgradError
from .xp import NUMPY


@dataclass(frozen=True)
class Function:
    """A registered function.

    ``formula(xp, x, *params)`` is its value, written once over an array namespace ``xp`` (see :mod:`einsumgrad.core.xp`:
    NumPy, ``jax.numpy``, ``torch``, and code generation's source writer); ``impl(x, *params)`` is its value on
    NumPy arrays, the formula over NumPy unless given (where NumPy does better: an SVD for a singular matrix, a
    clear error at a value the formula cannot refuse under ``jax.jit``). A function with no formula (one of your
    own) runs on NumPy only; compiled jax and torch code and generated code refuse it, naming it.
    ``jvp(x, y, dx, *params) -> dy`` is its forward-mode rule over expressions (the argument,
    the result, and the argument's derivative, whose extra axes follow the argument's own);
    ``derivative(x, y, *params) -> f'(x)`` marks an elementwise function; ``result_shape``
    maps the argument's dims (and the params) to the result's (raising on a bad rank); ``check``
    validates concrete sizes (and the params) before evaluation; ``domain`` is where tests sample inputs; ``smooth``
    is False where the derivative has kinks; ``public`` functions are ``eg.<name>`` and in the
    expression language (``pow`` is reached through ``**`` instead). ``build(*args, **options)``,
    over IR nodes, is how ``eg.<name>`` makes its node where that is more than ``f(x)``: a call
    with params read from keywords (``softmax(x, axis=-1)``) or a composition (``maximum(a, b)``,
    which has no ``impl`` of its own); its signature is the function's, in Python and the
    language. ``show(argument, params, rank)`` prints a call where ``name(argument)`` would not
    say it all (``‖x‖``, ``softmax(X, axis=0)``). ``sums_to_one``: the result sums to one along the axes
    ``params[0]`` (``softmax``), which simplification uses: ``Σ_j softmax(X)[i,j] = 1``. ``as_delta(idx, *params)``
    marks a constant selection (see :mod:`einsumgrad.library.selection`), printed as the δ it returns. A linear
    function may give ``vjp(x, y, g, *params) -> Σ g ∂y/∂x``, its adjoint, which reverse mode then
    uses instead of its Jacobian. A function that ``transposes`` (``f(xᵀ) = f(x)ᵀ``) of a symmetric
    matrix is symmetric. ``bind(dim, *params)`` gives the params with the axis lengths among them
    (a :data:`~einsumgrad.core.ir.Dim` each) made ints by ``dim``, at evaluation (``reshape``'s target).
    ``of`` maps the name of an inner function ``g`` to ``(u, *params) -> f(g(u))``, an identity that
    ``f`` of a ``g`` call is built as because it is stabler: ``log(sigmoid(u)) = -softplus(-u)`` is -800 at ``u = -800``, where ``sigmoid(u)`` underflows to 0.
    """

    name: str
    impl: Callable | None = None
    jvp: Callable | None = None
    formula: Callable | None = None
    result_shape: Callable = lambda dims, *params: dims
    check: Callable = lambda sizes, *params: None
    domain: tuple[float, float] = (-2.0, 2.0)
    smooth: bool = True
    holomorphic: bool = True
    derivative: Callable | None = None
    public: bool = True
    as_delta: Callable | None = None
    build: Callable | None = None
    show: Callable | None = None
    sums_to_one: bool = False
    vjp: Callable | None = None
    transposes: bool = False
    bind: Callable = lambda dim, *params: params
    of: Mapping[str, Callable] = field(default_factory=dict)

    def __post_init__(self):
        if self.impl is None and self.formula is not None:
            formula = self.formula
            object.__setattr__(self, "impl", lambda a, *params: formula(NUMPY, a, *params))

    @property
    def elementwise(self) -> bool:
        return self.derivative is not None

    @property
    def kind(self) -> str:
        """``elementwise`` (``maximum(a, b)`` too), ``along axes`` or ``matrix``: how the docs group it."""
        if self.elementwise or (self.build is not None and self.impl is None):
            return "elementwise"
        return "along axes" if self.build is not None else "matrix"


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


def listing() -> str:
    """The docs' list of the public functions, by kind, from the registry (a test checks the guide holds it).

    >>> import einsumgrad
    >>> listing().split("`, ")[1]
    'the functions along axes `log_softmax logsumexp max min norm softmax stochastic'
    """
    kinds = {kind: " ".join(n for n in public() if REGISTRY[n].kind == kind)
             for kind in ("elementwise", "along axes", "matrix")}
    return (f"the elementwise functions `{kinds['elementwise']}`, the functions along axes `{kinds['along axes']}`, "
            f"and the matrix functions `{kinds['matrix']}`")
