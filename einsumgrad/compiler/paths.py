"""Contraction paths compared: for an expression's contractions, each optimizer's path, FLOPs,
largest intermediate and measured time — the table a benchmark script about paths prints.

>>> import numpy as np
>>> from ..expression import einsum, tensor
>>> A, B, C = tensor("A", 2), tensor("B", 2), tensor("C", 2)
>>> report = paths(einsum("ab,bc,cd->ad", A, B, C), ["greedy", "optimal"], repeats=1,
...                A=np.ones((50, 2)), B=np.ones((2, 50)), C=np.ones((50, 50)))
>>> [(row.optimizer, row.flops) for row in report.rows]
[('greedy', 20000), ('optimal', 20000)]
"""
from __future__ import annotations

import importlib.util
import statistics
import time
from html import escape
from typing import NamedTuple

import opt_einsum

from . import Compiled
from .settings import OPTIMIZERS, check_optimize, for_one_contraction
from ..core.errors import EinsumgradError
from ..expression import Expression

COMPARED = ("greedy", "dp", "optimal", "auto-hq", "branch-2")
MAX_OPTIMAL = 10  # operands: 'optimal' searches every order, beyond this it takes too long


class PathRow(NamedTuple):
    """One optimizer: its path for each contraction, their FLOPs and largest intermediate (entries)
    summed and maxed over the contractions, and the median time of a compiled call."""

    optimizer: str
    path: tuple
    flops: int
    largest: int
    seconds: float


class PathReport(NamedTuple):
    """The optimizers compared: ``str`` is a Markdown table with every path in full, ``repr`` a short
    aligned one, and a notebook shows an HTML table.

    >>> row = PathRow("greedy", (((0, 1), (0, 1)),), 20000, 2500, 1.5e-5)  # one contraction's path
    >>> PathReport(("ab,bc,cd->ad",), (row, row._replace(optimizer="optimal", seconds=3e-5)))
    <PathReport: 1 contraction, ab,bc,cd->ad
    optimizer  FLOPs   largest  time     ÷ fastest  path
    greedy     20,000  2,500    15.0 µs  1.00       [(0, 1), (0, 1)]
    optimal    20,000  2,500    30.0 µs  2.00       [(0, 1), (0, 1)]>
    """

    contractions: tuple[str, ...]  # the einsum equations compared
    rows: tuple[PathRow, ...]

    def best(self) -> PathRow:
        return min(self.rows, key=lambda r: r.seconds)

    def _table(self, short: bool) -> list[tuple[str, ...]]:
        """The rows as text: optimizer, FLOPs, largest intermediate, time, ÷ fastest, path (cut short if ``short``)."""
        fastest = self.best().seconds
        return [(r.optimizer, f"{r.flops:,}", f"{r.largest:,}", _duration(r.seconds), f"{r.seconds / fastest:.2f}",
                 _cut("; ".join(str(list(p)) for p in r.path), PATH_SHOWN if short else None)) for r in self.rows]

    def _heading(self) -> str:
        n = len(self.contractions)
        shown = "; ".join(_cut(eq, EQUATION_SHOWN) for eq in self.contractions[:2]) + (f"; … {n - 2} more" if n > 2 else "")
        return f"{n} contraction{'s' * (n != 1)}, {shown}" if n else "no contraction (nothing to plan)"

    def __repr__(self) -> str:
        table = [HEADER, *self._table(short=True)]
        widths = [max(len(row[k]) for row in table) for k in range(len(HEADER))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
        return f"<PathReport: {self._heading()}\n" + "\n".join(lines) + ">"

    def _repr_html_(self) -> str:
        from ..notation import fragments

        head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
        body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in self._table(False))
        return fragments.notebook(fragments.label(f"contraction paths: {self._heading()}")
                                  + f'<table class="eg-matrix"><tr>{head}</tr>{body}</table>')

    def __str__(self):
        lines = [f"contractions: {'; '.join(self.contractions) or 'none (nothing to plan)'}",
                 "| optimizer | FLOPs | largest intermediate | time | ÷ fastest | path |", "|---|---|---|---|---|---|"]
        fastest = self.best().seconds
        for r in self.rows:
            lines.append(f"| {r.optimizer} | {r.flops:,} | {r.largest:,} | {r.seconds * 1e6:,.1f} µs | "
                         f"{r.seconds / fastest:.2f} | {list(map(list, r.path))} |")
        return "\n".join(lines)


HEADER = ("optimizer", "FLOPs", "largest", "time", "÷ fastest", "path")
PATH_SHOWN, EQUATION_SHOWN = 40, 60  # characters a repr shows of a path and of a contraction


def _cut(text: str, most: int | None) -> str:
    return text if most is None or len(text) <= most else text[: most - 1] + "…"


def _duration(seconds: float) -> str:
    """``15.0 µs``, ``2.31 ms``, ``1.20 s``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.1f} µs"
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def paths(expr: Expression, optimizers=None, *, repeats: int = 7, **arrays) -> PathReport:
    """Each optimizer's contraction paths for ``expr`` at these arrays, with FLOPs, largest
    intermediate and the median time of ``repeats`` compiled calls; ``optimizers`` defaults to
    :data:`COMPARED` (and cotengra's when it is installed; any opt_einsum name or PathOptimizer works)."""
    if not isinstance(expr, Expression):
        raise EinsumgradError(f"paths needs an expression built with eg.tensor / eg.einsum, got {type(expr).__name__}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise EinsumgradError(f"repeats is a whole number >= 1, got {repeats!r}")
    chosen = [check_optimize(o) for o in _asked(optimizers)]
    contractions = Compiled(expr.node, accepted=expr.tensors).contractions(**arrays)
    operands = max((eq.count(",") + 1 for eq, _ in contractions), default=0)
    rows = []
    for optimize in chosen:
        if optimize == "optimal" and operands > MAX_OPTIMAL:
            continue
        infos = [opt_einsum.contract_path(eq, *shapes, shapes=True, optimize=for_one_contraction(optimize))[1]
                 for eq, shapes in contractions]
        f = Compiled(expr.node, optimize=optimize, accepted=expr.tensors)
        f(**arrays)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            f(**arrays)
            times.append(time.perf_counter() - start)
        rows.append(PathRow(_name(optimize), tuple(tuple(map(tuple, i.path)) for i in infos),
                            sum(int(i.opt_cost) for i in infos),
                            max((int(i.largest_intermediate) for i in infos), default=0), statistics.median(times)))
    if not rows:
        raise EinsumgradError(f"paths: none of the optimizers asked for applies here ({', '.join(map(_name, chosen))}):"
                              f" 'optimal' searches every order, so it is skipped beyond {MAX_OPTIMAL} operands (a "
                              f"contraction here has {operands}); ask for another of "
                              f"{', '.join(o for o in OPTIMIZERS if o != 'optimal')}")
    return PathReport(tuple(eq for eq, _ in contractions), tuple(rows))


def _asked(optimizers) -> list:
    """The optimizers to compare: :data:`COMPARED` (and cotengra's) for ``None``; one name or PathOptimizer alone;
    else a non-empty collection of them."""
    if optimizers is None:
        return [o for o in COMPARED if o in OPTIMIZERS] + _cotengra()
    if isinstance(optimizers, (str, opt_einsum.paths.PathOptimizer)):
        return [optimizers]
    try:
        asked = list(optimizers)
    except TypeError:
        asked = None
    if not asked:
        raise EinsumgradError(f"paths: optimizers={optimizers!r} names no optimizer to compare; give a list of names "
                              f"({', '.join(OPTIMIZERS)}) or opt_einsum PathOptimizers, or leave it out for "
                              f"{', '.join(COMPARED)}")
    return asked


def _name(optimize) -> str:
    """A row's name: ``'greedy'``, ``'RandomGreedy'`` for an optimizer object, ``'False'`` or a path as written."""
    return type(optimize).__name__ if isinstance(optimize, opt_einsum.paths.PathOptimizer) else str(optimize)


def _cotengra() -> list:
    if importlib.util.find_spec("cotengra") is None:
        return []
    import cotengra

    return [cotengra.HyperOptimizer(max_repeats=16, progbar=False)]
