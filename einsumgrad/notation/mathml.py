"""MathML from einsumgrad's printed (Unicode) notation: native in every browser, no script, nothing loaded.

Every printed form — index notation, a derivation's lines, a matrix formula — is one small
language: names with ``[i,j]`` indices, ``Σ_i,j`` sums, ``δ[i,j]``, ``∂y[i]/∂W[j,k]``,
superscripts (``x²``, ``Xᵀ``, ``X^∘2``), numbers, operators and parentheses. This module reads
that language into a tree and writes it as MathML; anything else becomes an ``<mo>`` with its
text escaped, so any string gives well-formed markup.

>>> to_mathml("y[i] = Σ_j W[i,j] x[j]", display="inline")  # doctest: +NORMALIZE_WHITESPACE
'<math><mrow><msub><mi>y</mi><mi>i</mi></msub><mo>=</mo><munder><mo>∑</mo><mi>j</mi></munder><msub><mi>W</mi><mrow><mi>i</mi><mi>j</mi></mrow></msub><msub><mi>x</mi><mi>j</mi></msub></mrow></math>'
"""
from __future__ import annotations

import re
from html import escape

_SUPERSCRIPTS = "⁻⁰¹²³⁴⁵⁶⁷⁸⁹·"
_FROM_SUPERSCRIPT = str.maketrans(_SUPERSCRIPTS, "-0123456789.")
_FROM_SUBSCRIPT = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_INDICES = r"\[[^\[\]]*\]"
_MARKS = "⁰¹²³⁴⁵⁶⁷⁸⁹ᵀ₀₁₂₃₄₅₆₇₈₉"  # Python counts them as letters or digits; here they are notation
_NAME = rf"(?![{_MARKS}])[^\W\d_Σδ∂](?:(?![{_MARKS}])[\w′])*"  # a letter, then letters, digits, _ and primes
_TOKEN = re.compile(
    rf"(?P<partial>∂(?P<order>²?)(?P<f>{_NAME})(?P<fi>{_INDICES})?/∂(?P<x>{_NAME})²?(?P<xi>{_INDICES})?)"
    r"|(?P<sum>Σ_(?P<summed>[\w′]+(?:,[\w′]+)*))"
    rf"|(?P<delta>δ(?P<di>{_INDICES}))"
    r"|(?P<number>\d+(?:\.\d*)?(?:e[-+]?\d+)?)"
    rf"|(?P<name>{_NAME})"
    rf"|(?P<sup>⁻ᵀ|[{_SUPERSCRIPTS}]+|ᵀ|\^(?:T|∘?-?\d+(?:\.\d+)?))"
    r"|(?P<sub>[₀-₉]+)"
    rf"|(?P<index>{_INDICES})"
    r"|(?P<open>\()|(?P<close>\))"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)


def to_mathml(text: str, display: str = "block") -> str:
    """``text`` (einsumgrad's Unicode notation) as one ``<math>`` element; ``display`` is 'block' or 'inline'."""
    items, _, _ = _sequence(list(_TOKEN.finditer(text)), 0)
    head = '<math display="block">' if display == "block" else "<math>"
    return f"{head}<mrow>{''.join(items)}</mrow></math>"


def _sequence(tokens, k: int, closing: bool = False) -> tuple[list[str], int, bool]:
    """The MathML items from ``tokens[k]`` up to the matching ``)`` (when ``closing``) or the end,
    the next position, and whether a ``)`` ended them."""
    items: list[str] = []
    while k < len(tokens):
        t = tokens[k]
        kind = t.lastgroup  # the outermost group: it closes last
        k += 1
        if kind == "close" and closing:
            return items, k, True
        if kind == "open":
            inner, k, closed = _sequence(tokens, k, closing=True)
            items.append(f"<mrow><mo>(</mo>{''.join(inner)}{'<mo>)</mo>' * closed}</mrow>")
        elif kind in ("sup", "sub", "index") and items and not _is_operator(items[-1]):
            items[-1] = _attach(items[-1], kind, t.group(kind))
        elif kind != "space":
            items.append(_atom(kind, t))
    return items, k, False


def _is_operator(item: str) -> bool:
    return item.startswith("<mo>")


def _attach(base: str, kind: str, text: str) -> str:
    if kind == "sub":
        return f"<msub>{base}<mn>{text.translate(_FROM_SUBSCRIPT)}</mn></msub>"
    if kind == "index":
        return f"<msub>{base}{_indices(text)}</msub>"
    text = text.lstrip("^")
    transposes = {"T": "<mi>T</mi>", "ᵀ": "<mi>T</mi>", "⁻ᵀ": "<mrow><mo>-</mo><mi>T</mi></mrow>"}
    power = transposes.get(text) or _power(text.translate(_FROM_SUPERSCRIPT))
    return f"<msup>{base}{power}</msup>"


def _power(text: str) -> str:
    hadamard = text.startswith("∘")
    number = f"<mn>{escape(text.lstrip('∘-'))}</mn>"
    if text.lstrip("∘").startswith("-"):
        number = f"<mrow><mo>-</mo>{number}</mrow>"
    return f"<mrow><mo>∘</mo>{number}</mrow>" if hadamard else number


def _indices(text: str) -> str:
    """``[i,j]`` -> ``ij`` as a row of identifiers (commas kept when an index has several letters)."""
    names = [n for n in text[1:-1].split(",") if n]
    if len(names) == 1:
        return _identifier(names[0])
    comma = "<mo>,</mo>" if any(len(n) > 1 for n in names) else ""
    return "<mrow>" + comma.join(_identifier(n) for n in names) + "</mrow>"


def _identifier(name: str) -> str:
    return f"<mi>{escape(name)}</mi>"


def _atom(kind: str, t: re.Match) -> str:
    if kind == "partial":
        top = f"<mo>∂</mo>{_subscripted(t.group('f'), t.group('fi'))}"
        bottom = f"<mo>∂</mo>{_subscripted(t.group('x'), t.group('xi'))}"
        if t.group("order"):
            top = f"<msup><mo>∂</mo><mn>2</mn></msup>{_subscripted(t.group('f'), t.group('fi'))}"
            bottom = f"<mo>∂</mo><msup>{_subscripted(t.group('x'), t.group('xi'))}<mn>2</mn></msup>"
        return f"<mfrac><mrow>{top}</mrow><mrow>{bottom}</mrow></mfrac>"
    if kind == "sum":
        return f"<munder><mo>∑</mo>{_indices('[' + t.group('summed') + ']')}</munder>"
    if kind == "delta":
        return f"<msub><mi>δ</mi>{_indices(t.group('di'))}</msub>"
    if kind == "number":
        return f"<mn>{t.group()}</mn>"
    if kind == "name":
        return _identifier(t.group())
    return f"<mo>{escape(t.group())}</mo>"


def _subscripted(name: str, indices: str | None) -> str:
    return f"<msub>{_identifier(name)}{_indices(indices)}</msub>" if indices else _identifier(name)
