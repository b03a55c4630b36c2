"""Array namespaces: the registered functions written once over a namespace ``xp`` (``jax.numpy``,
``torch``), so that compiled code traces under ``jax.jit`` and keeps torch tensors, and so that
generated source writes the same formulas (called with a namespace that records source text).

>>> float(function("jax", "sigmoid")(0.0))
0.5
"""
from __future__ import annotations

import importlib
from typing import Callable

import numpy as np

from ..errors import EinsumgradError
from ..functions import get
from ..selection import select

_ELEMENTWISE = ("exp", "log", "tanh", "sin", "cos", "sqrt", "abs", "sign", "tan", "arcsin", "arccos", "arctan", "sinh",
               "cosh", "log1p", "expm1")
FORMULAS: dict[str, Callable] = {name: (lambda name: lambda xp, x: getattr(xp, name)(x))(name) for name in _ELEMENTWISE}
FORMULAS.update({
    "sigmoid": lambda xp, x: xp.exp(-xp.logaddexp(0, -x)),  # exp(-softplus(-x)): no overflow, no cancellation
    "to_finite": lambda xp, x: xp.clip(x, -xp.finfo(x.dtype).max, xp.finfo(x.dtype).max),
    "from_finite": lambda xp, x: xp.where(xp.equal(xp.abs(x), xp.finfo(x.dtype).max), xp.copysign(xp.inf, x), x),
    "softplus": lambda xp, x: xp.logaddexp(0, x),
    "relu": lambda xp, x: xp.maximum(x, 0),
    "step": lambda xp, x: xp.heaviside(x, 0.5),
    "pow": lambda xp, x, c: x ** c,
    "inv": lambda xp, x: xp.linalg.inv(x),
    "det": lambda xp, x: xp.linalg.det(x),
    "logdet": lambda xp, x: xp.linalg.slogdet(x)[1],
    # adj(A) = det(A) inv(A): for an invertible A only (einsumgrad's NumPy adj covers singular A too)
    "adj": lambda xp, x: xp.linalg.det(x) * xp.linalg.inv(x),
    "select": lambda xp, zeros, *params: select(zeros, xp.arange(zeros.shape[-1]), *params[:3]),
    "reshape": lambda xp, x, lead, target: x.reshape(tuple(target) + x.shape[lead:]),  # a tangent's axes kept
    # ∂adj(A)[i,j]/∂A[k,l] = det(A) (inv[l,k] inv[i,j] - inv[i,k] inv[l,j]), for an invertible A likewise
    "adj_jacobian": lambda xp, x: xp.linalg.det(x) * (xp.einsum("lk,ij->ijkl", xp.linalg.inv(x), xp.linalg.inv(x))
                                                      + -xp.einsum("ik,lj->ijkl", xp.linalg.inv(x), xp.linalg.inv(x))),
})
TORCH = {  # where torch spells a function differently
    "sigmoid": lambda xp, x: xp.sigmoid(x),
    "softplus": lambda xp, x: xp.logaddexp(x, xp.zeros_like(x)),
    "relu": lambda xp, x: xp.relu(x),
    "from_finite": lambda xp, x: xp.where(xp.eq(xp.abs(x), xp.finfo(x.dtype).max), x * xp.inf, x),
    "step": lambda xp, x: xp.heaviside(x, xp.full_like(x, 0.5)),
    "select": lambda xp, zeros, *params: select(zeros, xp.arange(zeros.shape[-1], device=zeros.device), *params[:3]),
}
MODULES = {"jax": "jax.numpy", "torch": "torch"}


def formula(backend: str, name: str) -> Callable:
    """``f(xp, x, *params)``: the function ``name`` over the namespace of ``backend``."""
    found = (TORCH if backend == "torch" else {}).get(name) or FORMULAS.get(name)
    if found is None:
        raise EinsumgradError(f"function {name!r} has no {backend} form; those with one: {', '.join(sorted(FORMULAS))}")
    return found


def module(backend: str):
    return importlib.import_module(MODULES[backend])


def function(backend: str, name: str) -> Callable:
    """The function ``name`` on ``backend``'s arrays: its formula over the namespace, or, for a
    function with none (``softmax``, ``erf``, one of your own), its NumPy implementation on the
    array's values, given back as the backend's array — for values that autograd does not track
    or jax does not trace (those are refused: NumPy would cut the gradient off)."""
    xp = module(backend)
    if name in FORMULAS:
        f = formula(backend, name)
        return lambda x, *params: f(xp, x, *params)
    impl = get(name).impl

    def on_values(x, *params):
        if getattr(x, "requires_grad", False) or backend == "jax" and isinstance(x, jax_tracer()):
            raise EinsumgradError(f"function {name!r} has no {backend} form, so it cannot run on arrays that "
                                  f"{backend} differentiates or traces; use the numpy backend for it")
        return xp.asarray(impl(to_numpy(x), *params))

    return on_values


def as_backend(backend: str, a):
    """NumPy input as an array of ``backend`` (sharing memory where it can); its own arrays as they are."""
    if not isinstance(a, np.ndarray):
        return a
    return module(backend).asarray(a) if backend == "jax" else module(backend).as_tensor(a)


def jax_tracer() -> type:
    """jax's class of traced values (under ``jax.jit``, ``jax.grad``), which have no values yet."""
    return importlib.import_module("jax").core.Tracer


def to_numpy(a) -> np.ndarray:
    """The values of an array of any of these libraries as NumPy's (a torch tensor detached first)."""
    return np.asarray(a.detach().cpu() if hasattr(a, "detach") else a)


def numpy_dtype(a) -> np.dtype:
    """The NumPy dtype of an array of any of these libraries (torch.float64 -> float64)."""
    try:
        return np.dtype(a.dtype)
    except TypeError:
        return np.dtype(str(a.dtype).removeprefix("torch."))
