"""HTML fragments shared by the teaching page, notebooks (``_repr_html_``) and static exports.

Mathematics is the LaTeX printer's output set as MathML (see :mod:`.mathml`); a tensor of rank three or
more is shown as slices (heat-mapped tables) behind CSS-only tabs, so a fragment needs no script anywhere.
Nothing here imports the user's handles: callers pass LaTeX, words and arrays.
"""
from __future__ import annotations

import functools
import itertools
import math as _math
import re
from html import escape

import numpy as np

from . import slices
from .mathml import to_mathml

STYLE = """
.eg { font-family: system-ui, sans-serif; line-height: 1.45; }
.eg math[display="block"] { margin: .35em 0; text-align: left; overflow-x: auto; overflow-y: hidden; max-width: 100%; }
.eg mtd { padding: .2em 0; } .eg mtd[columnalign="right"] { text-align: right; } .eg mtd[columnalign="left"] { text-align: left; }
.eg .eg-label { color: #555; font-size: .9em; }
.eg .eg-note { color: #555; font-size: .9em; margin: .2em 0 .6em; }
.eg ol.eg-steps > li { margin-bottom: .6em; }
.eg .eg-pass { color: #1a7f37; } .eg .eg-fail { color: #c62828; }
.eg table.eg-matrix { border-collapse: collapse; margin: .3em 0; font-variant-numeric: tabular-nums; }
.eg table.eg-matrix td, .eg table.eg-matrix th { padding: .2em .55em; text-align: right; border: 1px solid #ddd; }
.eg table.eg-matrix th { color: #666; font-weight: normal; background: #fafafa; }
.eg td.eg-zero { color: #bbb; }
.eg .eg-tabs { display: flex; flex-wrap: wrap; align-items: flex-end; }
.eg .eg-tabs > input { position: absolute; opacity: 0; pointer-events: none; }
.eg .eg-tabs > label { order: 0; padding: .25em .7em; border: 1px solid #ccc; border-bottom: none;
  cursor: pointer; background: #f4f4f4; margin-right: 2px; border-radius: 4px 4px 0 0; }
.eg .eg-tabs > .eg-panel { order: 1; width: 100%; display: none; border-top: 1px solid #ccc; padding-top: .3em; }
.eg .eg-tabs > input:checked + label { background: #fff; font-weight: 600; }
.eg .eg-tabs > input:checked + label + .eg-panel { display: block; }
.eg .eg-tabs > input:focus-visible + label { outline: 2px solid #4a7bd0; }
"""

MAX_SLICES = 64  # tabs shown for one tensor; the rest are summarised
_ids = itertools.count()


def math(tex: str) -> str:
    """One formula, in LaTeX, as a block of MathML (named intermediates, an ``aligned`` block, as aligned rows)."""
    return to_mathml(tex)


def words(pieces) -> str:
    """Words and formulas (anything with ``.tex``) in a line of prose, the formulas as inline MathML."""
    return "".join(escape(p) if isinstance(p, str) else to_mathml(p.tex, display="inline") for p in pieces)


def label(text: str) -> str:
    return f'<div class="eg-label">{escape(text)}</div>'


def note(text: str) -> str:
    return f'<p class="eg-note">{escape(text)}</p>' if text else ""


def notebook(body: str) -> str:
    """A fragment with its style, for a notebook cell's HTML output: the rules of :data:`STYLE` for the
    classes it uses (and those every fragment needs), each on one line, so that every output stands alone
    (cleared, reordered or exported cells keep their look) at a fraction of the whole sheet.

    >>> len(notebook(label("x"))) < len(STYLE) // 2
    True
    """
    return f'<div class="eg"><style>{style_for(body)}</style>{body}</div>'


def style_for(body: str) -> str:
    """The rules of :data:`STYLE` that ``body`` needs: those naming no ``eg-`` class, and those naming one it uses.

    >>> style_for('<p class="eg-pass">PASS</p>').count("eg-pass")
    1
    >>> "eg-tabs" in style_for('<p class="eg-pass">PASS</p>')
    False
    """
    used = {c for classes in _CLASS_ATTRIBUTE.findall(body) for c in classes.split()}
    return "\n".join(rule for names, rule in _rules(STYLE) if not names or names & used)


_CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')


@functools.cache
def _rules(style: str) -> tuple[tuple[frozenset[str], str], ...]:
    """A style sheet's rules (a line, with the indented lines after it), each with the ``eg-`` classes it names."""
    rules: list[str] = []
    for line in style.strip().splitlines():
        if line.startswith((" ", "\t")) and rules:
            rules[-1] += " " + line.strip()
        else:
            rules.append(line.strip())
    return tuple((frozenset(re.findall(r"\beg-[\w-]+", rule)), rule) for rule in rules)


def document(title: str, body: str) -> str:
    """One self-contained HTML file: no script, no link, nothing fetched."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>body {{ max-width: 60em; margin: 2em auto; padding: 0 1em; }}{STYLE}</style></head>\n"
            f'<body><div class="eg"><h1>{escape(title)}</h1>\n{body}\n</div></body></html>\n')


def result_html(formula: str, matrix: str | None = None, layout: str = "", why: str | None = None) -> str:
    """Index notation and the matrix formula, both in LaTeX (or ``why`` there is no matrix formula), and the
    layout in words."""
    parts = [label("index notation"), math(formula)]
    if matrix is not None:
        parts += [label("matrix notation"), math(matrix) if matrix else note(f"none: {why or 'no matrix formula'}")]
    return "".join(parts) + note(layout)


def derivation_html(steps) -> str:
    """A derivation's numbered steps: each rule in words (its formulas, ``said``, inline), its expression
    (``tex``) in MathML."""
    items = [f"<li>{words(s.said or (s.rule,))}{math(s.tex) if s.tex else ''}{note(s.note)}</li>" for s in steps]
    return f'<ol class="eg-steps">{"".join(items)}</ol>'


def check_html(report) -> str:
    verdict = "eg-pass" if report.passed else "eg-fail"
    return f'<p class="{verdict}">{escape(str(report))}</p>'


def compiled_html(text: str) -> str:
    """A compiled function's plan (its repr) as preformatted text."""
    return f"<pre>{escape(text)}</pre>"


def tensor_html(value, name: str, indices, form=None) -> str:
    """An array as a table (rank ≤ 2) or as slices ``name[:, :, k]`` over its later axes, one tab each;
    ``form`` (see :func:`einsumgrad.notation.slices.identity_form`) says what each slice is, e.g. ``x[1] I``."""
    value = np.asarray(value)
    indices = tuple(indices) if len(indices) == value.ndim else tuple(f"a{k}" for k in range(value.ndim))
    if value.ndim <= 2:
        return _table(value)
    scale = float(np.abs(value).max(initial=0)) if np.isfinite(value).all() else 0.0
    positions = list(itertools.islice(np.ndindex(value.shape[2:]), MAX_SLICES))
    group = f"eg-slices-{next(_ids)}"
    tabs = []
    for k, at in enumerate(positions):
        where = ", ".join(f"{a} = {v}" for a, v in zip(indices[2:], at))
        matrix = value[(slice(None), slice(None)) + at]
        panel = _table(matrix, scale) + note(_describe(name, at, matrix, form))
        tabs.append(f'<input type="radio" name="{group}" id="{group}-{k}" value="{k}"{" checked" * (k == 0)}>'
                    f'<label for="{group}-{k}">{escape(where)}</label><div class="eg-panel">{panel}</div>')
    more = _math.prod(value.shape[2:]) - len(positions)
    rest = note(f"{more} more slices not shown") if more > 0 else ""
    head = note(f"{name} has shape {value.shape}: rows {indices[0]}, columns {indices[1]}; "
                f"one tab per {', '.join(indices[2:])}")
    return f'{head}<div class="eg-tabs" data-slices="{len(positions)}">{"".join(tabs)}</div>{rest}'


def _describe(name: str, at: tuple, matrix: np.ndarray, form) -> str:
    """``J[:, :, 1] = x[1] I = -2 I (a multiple of the identity)``: the delta made visible."""
    text = slices.title(name, at, matrix, form)
    return text + " (a multiple of the identity)" if text.endswith(" I") else text


def _table(matrix: np.ndarray, scale: float | None = None) -> str:
    matrix = np.atleast_2d(matrix) if matrix.ndim < 2 else matrix
    if scale is None:
        scale = float(np.abs(matrix).max(initial=0)) if np.isfinite(matrix).all() else 0.0
    rows = []
    for row in matrix:
        rows.append("<tr>" + "".join(_cell(v, scale) for v in row) + "</tr>")
    return f'<table class="eg-matrix">{"".join(rows)}</table>'


def _cell(v, scale: float) -> str:
    if v == 0:
        return '<td class="eg-zero">0</td>'
    if not scale or not np.isfinite(v):
        return f"<td>{_number(v)}</td>"
    alpha = 0.12 + 0.6 * min(abs(float(np.real(v))) / scale, 1.0)
    colour = "214,96,77" if np.real(v) > 0 else "67,147,195"
    return f'<td style="background: rgba({colour},{alpha:.2f})">{_number(v)}</td>'


def _number(v) -> str:
    """A table's entry: four significant digits, with the true minus (U+2212) the formulas show.

    >>> _number(-2.5), _number(np.int64(-3)), _number(1e-05)
    ('−2.5', '−3', '1e−05')
    """
    text = f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)
    return escape(text.replace("-", "−"))
