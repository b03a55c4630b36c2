"""MathML from the LaTeX printer's output, through one maintained converter (``latex2mathml``).

The page, notebooks and static exports show what :func:`einsumgrad.notation.render.latex` and the
matrix formula's LaTeX write: nothing reads printed Unicode. This module is the thin adapter: it
hands the LaTeX to ``latex2mathml`` and, on the converter's element tree, sets what a textbook sets
that the converter leaves out — an operator name (``\\operatorname{abs}``, ``\\tanh``) is an
upright identifier, applied to its argument by U+2061 (function application) and a thin space from
what it follows, as TeX spaces ``0.5\\,\\operatorname{abs}(x)``; a prime sits beside its letter; brackets stretch
only around what is taller than a line; in a displayed formula, a sum's indices sit under its sign wherever it
stands.

>>> to_mathml(r"y_{i} = 0.5 \\operatorname{abs}\\left(x_{i}\\right) - 1", display="inline")  # doctest: +ELLIPSIS
'<math><mrow><msub><mi>y</mi>...<mn>0.5</mn><mspace width="0.1667em"></mspace><mi>abs</mi><mo>&#x2061;</mo><mrow><mo ...>(</mo>...<mo>−</mo><mn>1</mn></mrow></math>'
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from html import unescape

from latex2mathml.converter import convert_to_element

_THIN = "0.1667em"
_APPLY = "\u2061"
_PRIMES = ("′", "″", "‴")
_TALL = {"mfrac", "munder", "mover", "munderover", "mtable"}
_ROWS = {"math", "mrow", "mtd", "mstyle", "menclose", "mpadded", "msqrt"}


def to_mathml(latex: str, display: str = "block") -> str:
    """``latex`` (one formula in the LaTeX printer's dialect) as one ``<math>`` element, ``display``
    'block' or 'inline'. An ``aligned`` block (named intermediates) becomes a table of aligned rows."""
    # latex2mathml reads align*'s rows and columns into an mtable, but not aligned's (which pdflatex needs
    # inside \[ \]): the same environment under the name the converter knows
    source = latex.replace(r"\begin{aligned}", r"\begin{align*}").replace(r"\end{aligned}", r"\end{align*}")
    root = convert_to_element(source, xmlns="", display=display)
    if display != "block":
        root.attrib.pop("display", None)
    root.attrib.pop("xmlns", None)
    for node in root.iter():  # the converter stores characters as entity references: the characters themselves
        node.text = unescape(node.text) if node.text else node.text
    _functions(root)
    _primes(root)
    _fences(root)
    if display == "block":
        _limits_below(root)
    return ET.tostring(root, encoding="unicode", short_empty_elements=False).replace(_APPLY, "&#x2061;")


def _functions(parent: ET.Element) -> None:
    """Each operator name under ``parent`` as an identifier applied to what follows it (see the module's doc)."""
    for child in list(parent):
        _functions(child)
    if parent.tag not in _ROWS:  # a script's or a fraction's children are its parts, not a row
        return
    children = list(parent)
    for k in reversed(range(len(children))):
        if _operator_name(children[k]) is None or k + 1 == len(children):
            continue
        name = _operator_name(children[k])
        name.tag = "mi"
        apply = ET.Element("mo")
        apply.text = _APPLY
        parent.insert(k + 1, apply)
        if k and children[k - 1].tag not in ("mo", "mspace"):
            parent.insert(k, ET.Element("mspace", width=_THIN))


def _primes(parent: ET.Element) -> None:
    """``h′`` as the letter and the prime beside it, as text sets it (a prime set as a superscript is a
    superscript twice over: too small and too high)."""
    for k, node in enumerate(list(parent)):
        if node.tag == "msup" and len(node) == 2 and node[1].tag == "mi" and (node[1].text or "") in _PRIMES:
            prime = ET.Element("mo", lspace="0", rspace="0")
            prime.text = node[1].text
            row = ET.Element("mrow")
            row.extend([node[0], prime])
            parent.remove(node)
            parent.insert(k, row)
        _primes(node)


def _fences(root: ET.Element) -> None:
    """Brackets (``\\left( \\right)``) around a line of symbols at their text size; only brackets around something
    taller (a sum, a fraction, a table) stretch, as TeX picks the smallest that covers what they hold (Chromium
    sets any stretchy bracket in a wider variant, ``( u )``)."""
    for row in root.iter("mrow"):
        ends = [row[0], row[-1]] if len(row) > 1 else []
        if not ends or not all(e.tag == "mo" and e.get("fence") == "true" for e in ends):
            continue
        if not any(n.tag in _TALL or (n.tag == "mo" and n.text == "∑") for n in row.iter()):
            for e in ends:
                e.set("stretchy", "false")


def _limits_below(root: ET.Element) -> None:
    """Every sum's indices under its sign, as TeX sets a displayed ``\\sum_{l}`` inside brackets too (the
    converter does so only outside them)."""
    for node in root.iter("msub"):
        if node[0].tag == "mo" and node[0].text == "∑":
            node.tag = "munder"


def _operator_name(node: ET.Element) -> ET.Element | None:
    """The element holding a function's name (``<mo>abs</mo>``, ``<mi>tanh</mi>``, the base of ``h′``), or None."""
    if node.tag in ("msup", "mrow") and len(node) == 2 and (node[1].text or "") in _PRIMES:
        return _operator_name(node[0])
    text = node.text or ""
    if node.tag == "mo" and text.isalpha():  # \operatorname{…}
        return node
    if node.tag == "mi" and len(text) > 1 and text.isalpha():  # \tanh, \exp, \log, …
        return node
    return None
