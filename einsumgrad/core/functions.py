"""The function registry: the :class:`Function` and :class:`Builtin` records, :func:`register` and :func:`get`.

Two tables: :data:`REGISTRY`, the functions (a :class:`~einsumgrad.core.ir.Call` node's function: ``tanh``,
``softmax``, ``inv``, the inner ``select``, ``reshape``, ``pad``), and :data:`BUILTINS`, the calls that build an
expression of their own (``einsum``, ``sum``, ``trace``, ``eye``, ``kron``, ``reshape``, ``concatenate``,
``stack``, ``expand_dims``). :func:`calls` is every name a user calls, the public functions and the built-ins;
``eg.<name>``, the expression language, its rank inference, the index-notation and LaTeX readers, the compiler,
code generation and the docs read them here. Registration is explicit: each module of
:mod:`einsumgrad.library` lists its entries (``FUNCTIONS``, ``BUILTINS``), and the tables are filled from
``einsumgrad.library.entries()`` when they are first read (:data:`LIBRARY`), whatever was imported before.

>>> "tanh" in public(), "reshape" in REGISTRY, "reshape" in public(), "reshape" in calls()
(True, True, False, True)
>>> float(get("tanh").impl(0.5))
0.46211715726000974
>>> import jax.numpy as jnp
>>> from einsumgrad.core.xp import namespace
>>> float(get("sigmoid").formula(namespace("jax"), jnp.asarray(0.0)))  # a formula over jax.numpy too
0.5
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib import import_module
from typing import Callable, Mapping, Union

from .errors import EinsumgradError
from .xp import NUMPY


@dataclass(frozen=True)
class Function:
    """A registered function.

    ``formula(xp, x, *params)`` is its value, written once over an array namespace ``xp`` (see :mod:`einsumgrad.core.xp`:
    NumPy, ``jax.numpy``, ``torch``, and code generation's source writer); ``impl(x, *params)`` is its value on
    NumPy arrays, the formula over NumPy unless given (where NumPy does better: an SVD for a singular matrix, a
    clear error at a value the formula cannot refuse under ``jax.jit``; ``own_impl`` says which, and compiled
    straight-line code calls an own one). A function with no formula (one of your
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
    Generated code computes a call into a local named ``local`` and a number (``h1``, ``inv1``), below the comment
    ``note`` where the formula assumes something (``adj``'s: an invertible matrix).
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
    local: str = "h"
    note: str = ""
    own_impl: bool = field(init=False, default=True)  # False: ``impl`` is the formula over NumPy

    def __post_init__(self):
        if self.impl is None and self.formula is not None:
            formula = self.formula
            object.__setattr__(self, "impl", lambda a, *params: formula(NUMPY, a, *params))
            object.__setattr__(self, "own_impl", False)

    @property
    def elementwise(self) -> bool:
        return self.derivative is not None

    @property
    def kind(self) -> str:
        """``elementwise`` (``maximum(a, b)`` too), ``along axes`` or ``matrix``: how the docs group it."""
        if self.elementwise or (self.build is not None and self.impl is None):
            return "elementwise"
        return "along axes" if self.build is not None else "matrix"


# how the expression language reads a built-in's positional argument (Builtin.arguments); any other is an expression
EXPRESSION = "expression"
EXPRESSIONS = "expressions"  # a list of expressions: concatenate([a, b])
SPEC = "spec"  # an einsum spec, one plain quoted string, giving the ranks of the expressions after it
SHAPE = "shape"  # a whole number or a tuple of them: reshape(X, (2, 6))
SIZE = "size"  # a whole number: eye(3)
AXIS = "axis"  # a whole number or a tuple of them, as axis= reads: expand_dims(x, 0)


@dataclass(frozen=True)
class Builtin:
    """A call that builds an expression of its own rather than a function node.

    ``build`` makes it over IR nodes (a list of them for :data:`EXPRESSIONS`); its signature is the call's, in
    Python (``eg.<name>``, the build lifted to handles) and in the language, keywords included (``axis=``,
    ``keepdims=``). ``arguments`` says how the language reads each positional argument (:data:`SPEC`,
    :data:`EXPRESSIONS`, :data:`SHAPE`, :data:`SIZE`, :data:`AXIS`; past them, expressions); ``takes`` is what its error says
    the call takes. The rank of the result is that of what ``build`` builds on tensors of the arguments' ranks
    (rank inference); ``rank(*arguments, **options)``, given the ranks of the expression arguments (None where not
    known yet) and the other arguments as they are, says it where building cannot yet (``sum(x)`` is a number
    whatever ``x``), or returns None.

    >>> BUILTINS["kron"].takes, BUILTINS["reshape"].arguments
    ('two expressions', ('expression', 'shape'))
    """

    name: str
    build: Callable
    takes: str
    arguments: tuple[str, ...] = ()
    rank: Callable | None = None


Entry = Union[Function, Builtin]
LIBRARY = "einsumgrad.library"  # the package whose entries() lists every built-in entry, read when first asked
REGISTRY: dict[str, Function]  # both made when first read (see __getattr__)
BUILTINS: dict[str, Builtin]
_LOADING = threading.RLock()
_TABLES = ("REGISTRY", "BUILTINS")
_partial: list[dict] = []  # the tables while the library loads


def __getattr__(name: str):
    if name in _TABLES:
        return _table(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _table(name: str) -> dict:
    """``REGISTRY`` or ``BUILTINS``, filled from the library the first time either is read (while the library
    loads, the entries so far)."""
    table = globals().get(name)
    if table is not None:
        return table
    with _LOADING:
        if name in globals():
            return globals()[name]
        if _partial:  # read while the library loads (the same thread: the lock is re-entrant)
            return _partial[_TABLES.index(name)]
        functions: dict[str, Entry] = {}
        builtins: dict[str, Entry] = {}
        _partial[:] = [functions, builtins]
        try:
            for entry in import_module(LIBRARY).entries():
                _add(functions if isinstance(entry, Function) else builtins, entry)
        finally:
            _partial.clear()
        globals().update(REGISTRY=functions, BUILTINS=builtins)
        return globals()[name]


def _add(table: dict, entry: Entry) -> Entry:
    if entry.name in table:
        raise EinsumgradError(f"a function named {entry.name!r} is already registered")
    table[entry.name] = entry
    return entry


def register(entry: Entry) -> Entry:
    """Add a function (a :class:`Function`) or a built-in call (a :class:`Builtin`); registering a name twice is
    an error. The library's entries need none: they are read from the modules that list them."""
    return _add(_table("REGISTRY" if isinstance(entry, Function) else "BUILTINS"), entry)


def public() -> list[str]:
    """The names of the public functions, sorted: ``eg.<name>``, the docs' list."""
    return sorted(name for name, f in _table("REGISTRY").items() if f.public)


def calls() -> dict[str, Entry]:
    """Every name users call, to what it calls: the public functions and the built-ins (a built-in wins:
    ``reshape`` the call, not the function node it makes)."""
    registry = _table("REGISTRY")
    return {**{n: registry[n] for n in public()}, **_table("BUILTINS")}


def get(name: str) -> Function:
    """The function registered as ``name``; the error lists the known ones."""
    registry = _table("REGISTRY")
    try:
        return registry[name]
    except KeyError:
        raise EinsumgradError(f"unknown function {name!r}; known: {', '.join(sorted(registry))}") from None


def listing() -> str:
    """The docs' list of the public functions, by kind, from the registry (a test checks the guide holds it).

    >>> listing().split("`, ")[1]
    'the functions along axes `log_softmax logsumexp max min norm softmax stochastic'
    """
    registry = _table("REGISTRY")
    kinds = {kind: " ".join(n for n in public() if registry[n].kind == kind)
             for kind in ("elementwise", "along axes", "matrix")}
    return (f"the elementwise functions `{kinds['elementwise']}`, the functions along axes `{kinds['along axes']}`, "
            f"and the matrix functions `{kinds['matrix']}`")
