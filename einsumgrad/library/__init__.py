"""The functions: elementwise and matrix functions, reductions along axes, indexing, shape operations, the
contractions the language calls by name, and functions of your own, each one entry of the registry of
:mod:`einsumgrad.core.functions`.

Each module lists its entries (``FUNCTIONS``, ``BUILTINS``); :func:`entries` gathers them, and the registry
reads it when it is first asked, so importing a module registers nothing.
"""
from __future__ import annotations


def entries() -> tuple:
    """Every built-in entry, module by module: the :class:`~einsumgrad.core.functions.Function` and
    :class:`~einsumgrad.core.functions.Builtin` records the registry is made of."""
    from . import contractions, reductions, rules, selection, shapes

    return (*rules.FUNCTIONS, *reductions.FUNCTIONS, *selection.FUNCTIONS, *shapes.FUNCTIONS,
            *contractions.BUILTINS, *selection.BUILTINS, *shapes.BUILTINS)
