"""Elementwise functions the user names: ``h`` with no formula prints its derivatives as ``h′``,
``h″``, …, and evaluates once it is given an implementation (and derivatives).

Each order is a function of its own in the registry (not public: ``eg.<name>`` lists the built-in
ones); its implementation is looked up when it runs, so that defining ``h`` again (say, by
re-running a notebook cell) takes effect everywhere ``h`` is read.

>>> from ..core.algebra import apply, tensor
>>> from ..notation.render import index_notation
>>> print(index_notation(apply(declare("h"), tensor("x", 1))))
y[i] = h(x[i])
>>> primed("h"), primed("h′"), primed("h‴")
('h′', 'h″', 'h⁽⁴⁾')
"""
from __future__ import annotations

import reprlib
from typing import Callable

import numpy as np

from ..core.algebra import apply, hadamard
from ..core.errors import EinsumgradError
from ..core import functions
from ..core.functions import Function, register

_PRIMES = ("′", "″", "‴")
IMPLEMENTATIONS: dict[str, Callable | None] = {}  # the current implementation of each declared function
DECLARED: set[str] = set()


def primed(name: str) -> str:
    """The name of the derivative of the function ``name``: ``h′``, ``h″``, ``h‴``, ``h⁽⁴⁾``, …"""
    base, order = _order(name)
    order += 1
    return base + (_PRIMES[order - 1] if order <= len(_PRIMES) else f"⁽{order}⁾".translate(_SUPERSCRIPT))


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _order(name: str) -> tuple[str, int]:
    if name.endswith(tuple(_PRIMES)):
        return name[:-1], _PRIMES.index(name[-1]) + 1
    if name.endswith("⁾") and "⁽" in name:
        base, _, order = name[:-1].rpartition("⁽")
        return base, int(order.translate({ord(c): str(k) for k, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")}))
    return name, 0


def declare(name: str) -> str:
    """Register ``name`` as an elementwise function with no formula (if it is not registered yet)."""
    if name not in functions.REGISTRY:
        derivative = lambda x, y: apply(declare(primed(name)), x)  # noqa: E731 - f′(x), declared when first needed
        register(Function(name, _deferred(name), lambda x, y, dx: hadamard(derivative(x, y), dx),
                          derivative=derivative, public=False, holomorphic=False))
        DECLARED.add(name)
    return name


def define(name: str, impl: Callable, derivatives: tuple) -> str:
    """Give ``name`` an implementation and its derivatives (in order; the orders not given have none)."""
    if name in functions.REGISTRY and name not in DECLARED:
        raise EinsumgradError(f"{name!r} is a built-in function; give your function another name")
    order = name
    for k, fn in enumerate((impl, *derivatives)):
        if fn is not None and not callable(fn):
            raise EinsumgradError(f"eg.function({name!r}, ...): {'the implementation' if k == 0 else f'derivative {k}'} "
                                  f"must be callable (an array function such as np.tanh), got {type(fn).__name__}")
        IMPLEMENTATIONS[declare(order)] = fn
        order = primed(order)
    while order in DECLARED:  # higher derivatives given before are forgotten with the function
        IMPLEMENTATIONS[order] = None
        order = primed(order)
    return name


def _deferred(name: str) -> Callable:
    def run(values, *params):
        impl = IMPLEMENTATIONS.get(name)
        if impl is None:
            base, order = _order(name)
            raise EinsumgradError(
                f"function {name!r} has no implementation, so it cannot be evaluated; give one with "
                f"eg.function({base!r}, impl, derivative{', second' if order > 1 else ''}"
                f"{', ...' if order > 2 else ''})")
        return checked(name, impl(values, *params), values)

    return run


def checked(name: str, result, argument):
    """What the implementation of ``name`` returned for ``argument``, refused with an error naming the
    function unless it is an array of numbers of the argument's shape.

    >>> checked("h", [1.0, 2.0], np.ones(2))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    einsumgrad.core.errors.EinsumgradError: function 'h' returned a list, [1.0, 2.0], not an array: ... (2,) here ...
    """
    expected = tuple(argument.shape)
    if not (hasattr(result, "shape") and hasattr(result, "dtype")):
        raise EinsumgradError(f"function {name!r} returned a {type(result).__name__}, {reprlib.repr(result)}, not an "
                              f"array: its implementation must return an array of numbers shaped like its argument, "
                              f"{expected} here (array functions such as np.tanh do)")
    if tuple(result.shape) != expected:
        raise EinsumgradError(f"function {name!r} returned an array of shape {tuple(result.shape)} for an argument of "
                              f"shape {expected}: an elementwise function's result is shaped like its argument")
    try:
        numbers = np.dtype(result.dtype).kind in "biufc"
    except TypeError:
        numbers = False
    if not numbers:
        raise EinsumgradError(f"function {name!r} returned an array of dtype {result.dtype} (shape {expected}): "
                              "its implementation must return numbers")
    return result

