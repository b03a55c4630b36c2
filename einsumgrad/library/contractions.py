"""The contractions the expression language calls by name: ``einsum``, ``sum`` and ``trace``, built by
:mod:`einsumgrad.core.algebra` (``@`` is an operator, not a call).

``sum(x)`` without an axis (and ``trace``) is a number whatever ``x`` is, and an einsum's rank is its spec's
output, so their rank rules say so before the arguments' ranks are known.

>>> from ..core.functions import BUILTINS
>>> BUILTINS["einsum"].rank("ij,j->i", 2, None), BUILTINS["sum"].rank(None), BUILTINS["sum"].rank(None, axis=0)
(1, 0, None)
"""
from __future__ import annotations

from ..core import algebra
from ..core.errors import EinsumgradError
from ..core.functions import SPEC, Builtin
from ..core.parse import ELLIPSIS, parse


def _einsum_rank(spec, *ranks) -> int | None:
    """The length of the spec's output, where it has no ``...``."""
    try:
        output = parse(spec).output if isinstance(spec, str) else None
    except EinsumgradError:
        return None
    return None if output is None or ELLIPSIS in output else len(output)


BUILTINS = (
    Builtin("einsum", algebra.einsum, "a quoted spec first: einsum('ij,j->i', W, x)", (SPEC,), rank=_einsum_rank),
    Builtin("sum", algebra.sum, "one expression", rank=lambda x, axis=None, keepdims=False: 0 if axis is None and not keepdims
            else None),
    Builtin("trace", algebra.trace, "one expression", rank=lambda x: 0),
)
