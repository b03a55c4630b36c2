"""Notebook and console displays: eg.paths' report as a short table and an HTML table; each HTML
output with only the style rules it uses, and looking the same as with the whole sheet (Chromium);
eg.check in the inputs' precision, float32 included."""
import re
import shutil
from html.parser import HTMLParser

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad import EinsumgradError
from einsumgrad.compiler.paths import HEADER, PATH_SHOWN, PathReport, PathRow
from einsumgrad.notation import fragments

A, B, C = eg.tensor("A", 2), eg.tensor("B", 2), eg.tensor("C", 2)
ARRAYS = dict(A=np.ones((30, 2)), B=np.ones((2, 30)), C=np.ones((30, 30)))


class _Tables(HTMLParser):
    """The rows of an HTML fragment's tables, as cell texts; and the class names it uses."""

    def __init__(self, html: str):
        super().__init__()
        self.rows: list[list[str]] = []
        self.classes: set[str] = set()
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.classes |= {c for k, v in attrs if k == "class" for c in (v or "").split()}
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_paths_repr_is_a_short_table():
    report = eg.paths(eg.einsum("ab,bc,cd->ad", A, B, C), ["greedy", "optimal"], repeats=1, **ARRAYS)
    text = repr(report)
    lines = text.splitlines()
    assert lines[0] == "<PathReport: 1 contraction, ab,bc,cd->ad"
    assert lines[1].split() == ["optimizer", "FLOPs", "largest", "time", "÷", "fastest", "path"]
    assert [line.split()[0] for line in lines[2:]] == ["greedy", "optimal"] and text.endswith(">")
    assert len(text) < 400 and "PathRow(" not in text and "contractions=" not in text
    assert len({line.index("FLOPs") if k == 1 else None for k, line in enumerate(lines)}) == 2  # aligned columns
    assert str(report).startswith("contractions: ab,bc,cd->ad\n| optimizer |")  # str stays the Markdown table


def test_a_long_path_and_many_contractions_are_cut_in_the_repr_but_not_in_html():
    path = tuple((0, 1) for _ in range(30))
    rows = (PathRow("greedy", (path,) * 3, 10**9, 10**6, 2.5e-3), PathRow("dp", (path,) * 3, 10**9, 10**6, 1.25))
    report = PathReport(("ab,bc->ac", "ij,jk->ik", "xy,yz->xz"), rows)
    lines = repr(report).splitlines()
    assert lines[0] == "<PathReport: 3 contractions, ab,bc->ac; ij,jk->ik; … 1 more"
    shown = lines[2].split("  ")[-1].strip()
    assert shown.endswith("…") and len(shown) == PATH_SHOWN
    assert "2.50 ms" in lines[2] and "1.25 s" in lines[3] and "500.00" in lines[3]
    table = _Tables(report._repr_html_()).rows
    assert table[0] == list(HEADER)
    assert table[1][-1] == "; ".join([str(list(path))] * 3)  # the whole path


def test_paths_html_is_a_table_with_its_style():
    report = eg.paths(eg.einsum("ab,bc,cd->ad", A, B, C), ["greedy", "optimal"], repeats=1, **ARRAYS)
    html = report._repr_html_()
    parsed = _Tables(html)
    assert parsed.rows[0] == list(HEADER)
    assert [r[0] for r in parsed.rows[1:]] == ["greedy", "optimal"]
    assert [r[1] for r in parsed.rows[1:]] == [f"{r.flops:,}" for r in report.rows]
    assert "eg-matrix" in parsed.classes and "table.eg-matrix" in html and "eg-tabs" not in html


def _outputs():
    """HTML outputs of every kind einsumgrad displays."""
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    L = eg.sum(eg.tanh(W @ x))
    arrays = dict(W=np.ones((2, 3)), x=np.ones(3))
    return {
        "expression": eg.grad(L, W)._repr_html_(),
        "check": eg.check(L, W, **arrays)._repr_html_(),
        "derivation": eg.explain(L, W)._repr_html_(),
        "compiled": eg.compile(L)._repr_html_(),
        "jacobian": eg.jacobian("ij,j->i")._repr_html_(),
        "tensor": fragments.notebook(fragments.tensor_html(np.arange(24.0).reshape(2, 3, 4), "J", "ijk")),
    }


def _style(html: str) -> str:
    return re.search(r"<style>(.*?)</style>", html, re.S).group(1)


def test_each_output_carries_the_rules_it_uses_and_no_others():
    sheet = [rule for rule in fragments.STYLE.strip().split("\n.eg") if rule]
    outputs = _outputs()
    for kind, html in outputs.items():
        style, used = _style(html), _Tables(html).classes
        for rule in sheet:
            named = set(re.findall(r"\beg-[\w-]+", rule))
            wanted = not named or bool(named & used)
            assert (" ".join(rule.split()) in " ".join(style.split())) == wanted, (kind, rule)
    assert all(len(_style(outputs[k])) < 450 for k in ("expression", "check", "compiled", "derivation"))
    assert len(_style(outputs["tensor"])) > len(_style(outputs["expression"])) + 500  # the tabs' rules
    assert len(outputs["check"]) < len(fragments.STYLE) // 2


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium: apt-get install -y chromium")
def test_each_output_looks_as_with_the_whole_sheet():
    """Computed styles of every element: the output alone vs. the output under the full STYLE."""
    sync_api = pytest.importorskip("playwright.sync_api")
    script = """() => Array.from(document.querySelectorAll('.eg *')).map(e => {
        const s = getComputedStyle(e);
        return [e.tagName, s.color, s.fontWeight, s.display, s.borderTopWidth, s.padding, s.textAlign, s.margin,
                s.backgroundColor, s.fontSize].join('|'); })"""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        for kind, html in _outputs().items():
            page.set_content(f"<html><body>{html}</body></html>")
            alone = page.evaluate(script)
            page.set_content(f"<html><head><style>{fragments.STYLE}</style></head><body>{html}</body></html>")
            assert page.evaluate(script) == alone, kind
            assert len(alone) > 1
        browser.close()


X = np.array([0.3, -1.2, 0.7, 2.0, -0.4] * 10)


def test_check_in_the_inputs_precision():
    x = eg.tensor("x", 1)
    f = eg.sum(eg.tanh(x) * x)
    r64, r32 = eg.check(f, x, x=X), eg.check(f, x, x=X.astype(np.float32))
    assert (r64.dtype, r32.dtype) == ("float64", "float32") and r64.passed and r32.passed
    assert " in float32 vs central differences" in str(r32) and " in " not in str(r64).split(" vs ")[0]
    assert r32.max_abs_error > 10 * r64.max_abs_error  # evaluated in float32: its rounding shows
    assert r32.max_abs_error < 1e-4
    forced = eg.check(f, x, x=X.astype(np.float32), dtype="float64")
    assert forced.dtype == "float64" and forced.max_abs_error < r32.max_abs_error / 10
    assert eg.check(f, x, x=X.astype(int)).dtype == "float64"
    assert eg.check(f, x, x=X, dtype=np.float32).dtype == "float32"
    assert eg.check(eg.exp(x), x, x=(X + 0.5j).astype(np.complex64)).dtype == "complex64"


def test_check_in_float32_still_catches_a_wrong_derivative():
    x = eg.tensor("x", 1)
    wrong = eg.function("sin_wrong", np.sin, np.sin)  # derivative sin: wrong
    for dtype in (np.float64, np.float32):
        assert not eg.check(eg.sum(wrong(x)), x, x=X.astype(dtype)).passed
    h = eg.function("sin_right", np.sin, np.cos)
    assert eg.check(eg.sum(h(x)), x, x=X.astype(np.float32)).passed


def test_check_refuses_a_dtype_that_is_no_float():
    x = eg.tensor("x", 1)
    for dtype in ("int32", "bogus", bool):
        with pytest.raises(EinsumgradError, match="check takes dtype=None"):
            eg.check(eg.tanh(x), x, x=X, dtype=dtype)
