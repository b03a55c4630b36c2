"""einsumgrad: differentiate einsum expressions index-wise.

>>> import einsumgrad as eg
>>> print(eg.jacobian("ij,j->i", wrt=0, names="W,x").formula())
∂y[i]/∂W[j,k] = δ[i,j] x[k]
"""
from .algebra import (
    abs, adj, cos, det, einsum, exp, inv, log, logdet, relu, sigmoid, sign, sin, softplus, sqrt, sum, tanh, tensor, trace,
)
from .errors import (
    DerivativeError, EinsumgradError, EinsumSyntaxError, ExpressionSyntaxError, MemoryLimitError, ShapeError,
)
from .api import check, clear_caches, compile, evaluate, explain, grad, hessian, jacobian
from .compiler import configure
from .ir import Expr
from .einsum_jacobian import Jacobian

__version__ = "0.1.0"
__all__ = [
    "Expr", "Jacobian", "abs", "adj", "check", "clear_caches", "compile", "configure", "cos", "det", "einsum", "evaluate", "exp", "explain", "grad",
    "hessian", "inv", "jacobian", "log", "logdet", "relu", "sigmoid", "sign", "sin", "softplus", "sqrt", "sum",
    "tanh", "tensor", "trace", "DerivativeError", "EinsumgradError", "EinsumSyntaxError", "ExpressionSyntaxError",
    "MemoryLimitError", "ShapeError",
]
