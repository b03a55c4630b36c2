"""Errors raised by einsumgrad: every one is a ``ValueError`` subclass.

Callers that already catch NumPy's or opt_einsum's ``ValueError`` keep working.
"""
import difflib


class EinsumgradError(ValueError):
    """Base class of every error einsumgrad raises on bad input."""


class EinsumSyntaxError(EinsumgradError):
    """An einsum spec that cannot be parsed; the message points a caret at it."""

    def __init__(self, spec: str, position: int, problem: str, hint: str = ""):
        self.spec, self.position, self.problem = spec, position, problem
        lines = [problem, f"  {spec}", "  " + " " * position + "^"]
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))


class ShapeError(EinsumgradError):
    """Operands whose number, rank or sizes do not fit the expression."""


class DerivativeError(EinsumgradError):
    """A derivative that was asked for in a way that does not make sense."""


class MemoryLimitError(EinsumgradError):
    """A dense result that would take more memory than the configured limit."""


class ExpressionSyntaxError(EinsumSyntaxError):
    """A string in the small expression language that cannot be parsed."""


class MissingPackageError(EinsumgradError, ImportError):
    """An optional package (jax, torch, dask, matplotlib) that is not installed; the message names the
    command that installs it (see :mod:`einsumgrad.core.extras`). An ``ImportError`` as well."""


def did_you_mean(name: str, given) -> str:
    """`` (did you mean 'w'?)`` with the name among ``given`` that ``name`` was most likely
    mistyped as (case aside first), for a message about a missing ``name``; ``""`` where none is near.

    >>> did_you_mean("W", ["x", "w"]) + did_you_mean("weights", ["weight", "bias"]) + did_you_mean("x", ["y"])
    " (did you mean 'w'?) (did you mean 'weight'?)"
    """
    folded = {g.casefold(): g for g in sorted(given, reverse=True)}
    close = difflib.get_close_matches(name.casefold(), folded, n=1)
    return f" (did you mean {folded[close[0]]!r}?)" if close else ""
