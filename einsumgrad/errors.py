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


def near_name(name: str, given) -> str | None:
    """The name among ``given`` that ``name`` was most likely mistyped as (case aside first), for
    a "did you mean" in a message; ``None`` where none is near.

    >>> near_name("W", ["x", "w"]), near_name("weights", ["weight", "bias"]), near_name("x", ["y"])
    ('w', 'weight', None)
    """
    folded = {g.casefold(): g for g in sorted(given, reverse=True)}
    close = difflib.get_close_matches(name.casefold(), folded, n=1)
    return folded[close[0]] if close else None
