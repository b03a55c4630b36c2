"""einsumgrad: differentiate einsum expressions index-wise.

Every registered function and built-in call (see :mod:`einsumgrad.core.functions`) is ``eg.<name>``.

>>> import einsumgrad as eg
>>> print(eg.jacobian("ij,j->i", wrt=0, names="W,x").formula())
∂y[i]/∂W[j,k] = δ[i,j] x[k]
>>> print(eg.tanh(eg.tensor("x", 1)))
y[i] = tanh(x[i])
>>> print(eg.grad(eg.parse("L = Σ_i,j x[i] A[i,j] x[j]"), "x"))
∂L/∂x[i] = Σ_j A[i,j] x[j] + Σ_j A[j,i] x[j]
"""
from typing import Callable as _Callable

from .expression import Expression, einsum, eye, function, scalar, sum, tensor, trace
from .expression import concatenate, expand_dims, kron, reshape, stack
from .core.errors import (
    DerivativeError, EinsumgradError, EinsumSyntaxError, ExpressionSyntaxError, MemoryLimitError, ShapeError,
)
from .api import check, clear_caches, compile, evaluate, explain, grad, hessian, hvp, jacobian, show
from .compiler.codegen import codegen
from .compiler import configure
from .core.functions import calls as _calls
from .einsum_jacobian import Jacobian
from .compiler.paths import paths
from .notation.differential import differential
from .doors.indexed import parse
from .doors.latex import parse_latex
from .interop import jax_function, torch_function

__version__ = "0.2.0"
__all__ = [
    "Expression", "Jacobian", "check", "clear_caches", "codegen", "compile", "concatenate", "configure", "einsum",
    "evaluate", "expand_dims", "explain", "function", "differential", "eye", "grad", "hessian", "hvp", "jacobian",
    "jax_function", "kron", "parse", "parse_latex", "paths", "reshape", "scalar", "show", "stack", "sum", "tensor",
    "torch_function", "trace",
    "DerivativeError", "EinsumgradError", "EinsumSyntaxError", "ExpressionSyntaxError", "MemoryLimitError", "ShapeError",
    *sorted(set(_calls()) - set(globals())),
]


def __getattr__(name: str) -> _Callable[..., Expression]:
    """``eg.<name>`` for each registered function (``eg.tanh``, ``eg.softmax``), read from the registry."""
    if name in _calls():
        return function(name)
    raise AttributeError(f"module 'einsumgrad' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_calls()))
