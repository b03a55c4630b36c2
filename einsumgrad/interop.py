"""Framework-native functions whose derivatives are einsumgrad's symbolic ones: a
``jax.custom_vjp`` (:func:`jax_function`) and a ``torch.autograd.Function`` (:func:`torch_function`).

``args`` declares the arguments: a tuple of them, each a tensor or a pytree (nested dicts, tuples,
lists) of tensors, and the function takes arrays in the same structure, by position; anything else
(one tensor, one dict) is the one argument. ``jax.grad`` and ``loss.backward()`` then give the
gradient of ``Σ g ⊙ expr`` by each tensor, ``g`` the cotangent, built and compiled once: for a
scalar ``expr`` the gradient itself (``g`` = 1), computed together with the value, which shares
its intermediates. Second derivatives are the framework's own derivatives of that symbolic
gradient (``jax.jacrev(jax.grad(f))``, torch's ``create_graph=True``); ``jax.jvp`` is not
defined for a ``custom_vjp``.

>>> import einsumgrad as eg, jax, jax.numpy as jnp
>>> W, x = eg.tensor("W", 2), eg.tensor("x", 1)
>>> loss = eg.jax_function(eg.sum(eg.tanh(W @ x)), args=({"W": W}, x))
>>> g = jax.jit(jax.grad(loss))({"W": jnp.zeros((2, 3))}, jnp.ones(3))
>>> g["W"].tolist()
[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
"""
from __future__ import annotations

import importlib
import inspect
from functools import cache
from typing import Any, Callable, Sequence

from .core import algebra
from .api import compile, grad
from .core.errors import EinsumgradError
from .core.extras import require
from .expression import Expression, argument_names

COTANGENT = "g·"  # the cotangent's tensor: not an identifier, so no tensor's name


class _Symbolic:
    """The compiled value of ``expr`` and its symbolic VJP by the tensors ``leaves`` (in order), on
    ``backend``'s arrays, all taking the leaves' arrays by position."""

    def __init__(self, expr, leaves: list, backend: str, call: str):
        if not isinstance(expr, Expression):
            raise EinsumgradError(f"{call} takes an expression built with eg.tensor / eg.einsum, got "
                                  f"{type(expr).__name__}")
        for leaf in leaves:
            if not isinstance(leaf, Expression):
                raise EinsumgradError(f"{call} args holds tensors made with eg.tensor, got {leaf!r}")
        names = argument_names(leaves, (expr,), call) or ()
        expr = Expression(expr.node, tensors=expr.tensors | set(names))  # a parameter it does not read: gradient 0
        self.scalar = expr.ndim == 0
        self.value = compile(expr, backend=backend, args=names)
        if self.scalar:  # the value and the gradients in one program: they share intermediates
            grads = tuple(grad(expr, leaf) for leaf in leaves)
            self.gradients = compile(*grads, backend=backend, args=names)
            self.joint = compile(expr, *grads, backend=backend, args=names)
        else:  # ∂(Σ g ⊙ expr)/∂leaf, the cotangent g read last
            g = algebra.leaf(COTANGENT, expr.shape)
            total = Expression(algebra.sum(algebra.multiply(expr.node, g)), tensors=expr.tensors)
            self.vjp = compile(*(grad(total, leaf) for leaf in leaves), backend=backend, args=(*names, COTANGENT))

    def gradients_of(self, flat: Sequence) -> tuple:
        results = self.gradients(*flat)
        return results if isinstance(results, tuple) else (results,)

    def value_and_gradients(self, flat: Sequence) -> tuple:
        value, *grads = self.joint(*flat)
        return value, grads

    def pullback(self, flat: Sequence, g: Any) -> tuple:
        results = self.vjp(*flat, g)
        return results if isinstance(results, tuple) else (results,)


def _arguments(args) -> tuple:
    """The declared arguments: a tuple as it is, anything else as the one argument."""
    return args if isinstance(args, tuple) else (args,)


def _signature(arguments: tuple) -> inspect.Signature:
    """``(W, x)`` where an argument is one tensor, ``arg0`` where it is a pytree of them."""
    return inspect.Signature([inspect.Parameter(a.name if isinstance(a, Expression) and a.name.isidentifier()
                                                else f"arg{k}", inspect.Parameter.POSITIONAL_ONLY)
                              for k, a in enumerate(arguments)])


def jax_function(expr: Expression, args: Any) -> Callable[..., Any]:
    """A ``jax.custom_vjp`` function of arrays structured as ``args``, returning ``expr``: its
    ``jax.grad`` is einsumgrad's symbolic gradient, under ``jit`` and ``vmap``, with pytrees of
    parameters (dicts in, the same dicts of gradients out).

    >>> import einsumgrad as eg, jax, jax.numpy as jnp
    >>> W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    >>> f = eg.jax_function(eg.tanh(W @ x), args=(W, x))
    >>> f
    <jax_function f(W, x, /) of y[i] = tanh(Σ_j W[i,j] x[j])>
    >>> jax.jacrev(f)(jnp.zeros((2, 1)), jnp.ones(1)).shape
    (2, 2, 1)
    """
    jax = require("jax", "jax_function")
    arguments = _arguments(args)
    leaves, structure = jax.tree_util.tree_flatten(arguments)
    symbolic = _Symbolic(expr, leaves, "jax", "jax_function")

    @jax.custom_vjp
    def flat_function(*flat):
        return symbolic.value(*flat)

    def forward(*flat):
        if symbolic.scalar:
            value, grads = symbolic.value_and_gradients(flat)
            return value, (flat, grads)
        return symbolic.value(*flat), (flat, None)

    def backward(saved, g):
        flat, grads = saved
        grads = [g * d for d in grads] if symbolic.scalar else symbolic.pullback(flat, g)
        return tuple(d.astype(a.dtype) for d, a in zip(grads, flat))

    flat_function.defvjp(forward, backward)

    def function(*arrays):
        try:
            flat = structure.flatten_up_to(arrays)
        except (TypeError, ValueError) as err:
            raise EinsumgradError(f"this function takes arrays structured as its args, {structure}: {err}") from None
        return flat_function(*flat)

    return _Wrapper(function, "jax_function", expr, _signature(arguments))


def torch_function(expr: Expression, args: Any) -> Callable[..., Any]:
    """A function of torch tensors structured as ``args`` (a ``torch.autograd.Function``),
    returning ``expr``: ``backward()`` gives einsumgrad's symbolic gradient to each tensor that
    requires it (torch is optional, so this example is not run as a doctest)::

        W, x = eg.tensor("W", 2), eg.tensor("x", 1)
        f = eg.torch_function(eg.sum(eg.tanh(W @ x)), args=(W, x))
        W0 = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
        f(W0, torch.ones(3, dtype=torch.float64)).backward()
        W0.grad  # ones((2, 3)): Σ tanh'(0) x
    """
    torch = require("torch", "torch_function")
    arguments = _arguments(args)
    leaves, structure = _flatten(arguments)
    symbolic = _Symbolic(expr, leaves, "torch", "torch_function")
    apply = _autograd_function().apply

    def function(*arrays):
        return apply(symbolic, *map(torch.as_tensor, _flatten_as(structure, arrays, "the arguments")))

    return _Wrapper(function, "torch_function", expr, _signature(arguments))


class _Wrapper:
    """A wrapped function with a signature and a readable repr."""

    def __init__(self, function, kind: str, expr: Expression, signature: inspect.Signature):
        self._function, self.expression, self.__signature__ = function, expr, signature
        self._kind = kind

    def __call__(self, *arrays: Any) -> Any:
        return self._function(*arrays)

    def __repr__(self) -> str:
        return f"<{self._kind} f{self.__signature__} of {self.expression}>"


@cache
def _autograd_function():
    """The ``torch.autograd.Function`` the wrappers apply: forward the compiled value (and, for a
    scalar, the gradients with it), backward the symbolic VJP."""
    torch = importlib.import_module("torch")

    class EinsumgradFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, symbolic: _Symbolic, *flat):
            ctx.symbolic, ctx.grads = symbolic, None
            ctx.save_for_backward(*flat)
            if symbolic.scalar and any(ctx.needs_input_grad):
                value, ctx.grads = symbolic.value_and_gradients(flat)
                return value
            return symbolic.value(*flat)

        @staticmethod
        def backward(ctx, g):
            flat, symbolic = ctx.saved_tensors, ctx.symbolic
            if symbolic.scalar:  # under create_graph the gradients again, from the inputs: torch differentiates them
                grads = symbolic.gradients_of(flat) if torch.is_grad_enabled() else ctx.grads
                grads = [g * d for d in grads]
            else:
                grads = symbolic.pullback(flat, g)
            return (None, *(d.to(a.dtype) if need else None
                            for d, a, need in zip(grads, flat, ctx.needs_input_grad[1:])))

    return EinsumgradFunction


def _flatten(tree) -> tuple[list, object]:
    """The leaves of nested dicts (by sorted key, as jax), tuples and lists, and their structure.

    >>> _flatten(({"b": 2, "a": [1]}, 3))
    ([1, 2, 3], (<class 'tuple'>, ((<class 'dict'>, (('a', (<class 'list'>, (None,))), ('b', None))), None)))
    """
    if isinstance(tree, dict):
        keys = sorted(tree)
        parts = [_flatten(tree[k]) for k in keys]
        return [x for leaves, _ in parts for x in leaves], (dict, tuple(zip(keys, (s for _, s in parts))))
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(t) for t in tree]
        return [x for leaves, _ in parts for x in leaves], (type(tree), tuple(s for _, s in parts))
    return [tree], None


def _flatten_as(structure, tree, path: str) -> list:
    """The leaves of ``tree``, which must have ``structure`` (a clear error naming where not)."""
    if structure is None:
        return [tree]
    kind, children = structure
    if kind is dict:
        keys = [k for k, _ in children]
        if not isinstance(tree, dict) or sorted(tree) != keys:
            got = f"keys {sorted(tree)}" if isinstance(tree, dict) else type(tree).__name__
            raise EinsumgradError(f"{path} must be a dict with keys {keys}, as args declares; got {got}")
        return [x for k, s in children for x in _flatten_as(s, tree[k], f"{path}[{k!r}]")]
    if not isinstance(tree, (tuple, list)) or len(tree) != len(children):
        got = f"{len(tree)}" if isinstance(tree, (tuple, list)) else type(tree).__name__
        raise EinsumgradError(f"{path} must be {len(children)} (a {kind.__name__}, as args declares); got {got}")
    return [x for k, (s, t) in enumerate(zip(children, tree)) for x in _flatten_as(s, t, f"{path}[{k}]")]
