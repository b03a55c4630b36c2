"""einsumgrad: differentiate einsum expressions index-wise.

Every registered function (see :mod:`einsumgrad.rules`) is ``eg.<name>``.

>>> import einsumgrad as eg
>>> print(eg.jacobian("ij,j->i", wrt=0, names="W,x").formula())
∂y[i]/∂W[j,k] = δ[i,j] x[k]
>>> print(eg.tanh(eg.tensor("x", 1)))
y[i] = tanh(x[i])
"""
from . import rules  # noqa: F401 - registers the built-in functions
from .expression import Expression, einsum, function, sum, tensor, trace
from .expression import concatenate, expand_dims, kron, reshape, stack
from .errors import (
    DerivativeError, EinsumgradError, EinsumSyntaxError, ExpressionSyntaxError, MemoryLimitError, ShapeError,
)
from .api import check, clear_caches, compile, evaluate, explain, grad, hessian, hvp, jacobian
from .compiler import configure
from .functions import public as _public
from .einsum_jacobian import Jacobian
from .paths import paths

__version__ = "0.1.0"
__all__ = [
    "Expression", "Jacobian", "check", "clear_caches", "compile", "configure", "einsum", "evaluate", "explain", "function",
    "grad", "hessian", "hvp", "jacobian", "paths", "sum", "tensor", "trace", "DerivativeError", "EinsumgradError", "EinsumSyntaxError",
    "ExpressionSyntaxError", "MemoryLimitError", "ShapeError", *_public(),
    "concatenate", "expand_dims", "kron", "reshape", "stack",
]


def __getattr__(name: str):
    if name in _public():
        return function(name)
    raise AttributeError(f"module 'einsumgrad' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_public()))
