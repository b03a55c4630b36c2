"""Issue 21 item 11: the page and notebooks typeset like a textbook, from the LaTeX printer through one renderer.

The MathML on the page and in notebooks is the LaTeX printer's output set by latex2mathml
(:mod:`einsumgrad.notation.mathml`): a true minus, operator names applied with U+2061 and a thin space, brackets
that grow around tall content, ``h′`` for a function of your own, numbers in one format, no Unicode notation such
as ``^∘2`` left in prose, and the students' letters (Θ, Φ) in the examples.
"""
from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from profiles import examples

import einsumgrad as eg
from einsumgrad.doors import question
from einsumgrad.doors.web import answer
from einsumgrad.notation import fragments, render
from einsumgrad.notation.mathml import to_mathml

M = "{http://www.w3.org/1998/Math/MathML}"
ORTHOGONALITY = "β * sum(abs(einsum('lmj,lmk->mjk', Φ, Φ) - I))"
QUESTIONS = {  # the four questions' expressions, as the page takes them
    "wx": ("W @ x", "W", "jacobian", "W=2x3, x=3"),
    "dimensions": ("(X @ W + b) @ y", "W", "gradient", "X=1x4, W=4x3, b=1x3, y=3x1"),
    "orthogonality": (ORTHOGONALITY, "Φ", "gradient", "Φ=4x3x2, β="),
    "half SSE": ("0.5 * sum((Y - h(X @ Θ))**2)", "Θ", "gradient", "X=4x3, Θ=3x2, Y=4x2"),
}


def page(name: str) -> dict:
    e, wrt, kind, shapes = QUESTIONS[name]
    reply = answer.respond({"expression": e, "wrt": wrt, "kind": kind, "shapes": shapes})
    assert reply["ok"], reply
    return reply


def maths(html: str) -> list[ET.Element]:
    """Every ``<math>`` element in ``html``, parsed (so each must be well-formed)."""
    found = re.findall(r"<math[ >].*?</math>", html, flags=re.S)
    return [ET.fromstring(m.replace("<math", '<math xmlns="http://www.w3.org/1998/Math/MathML"', 1)) for m in found]


def tags(root: ET.Element) -> list[tuple[str, str]]:
    return [(n.tag.removeprefix(M), (n.text or "")) for n in root.iter()]


def applied(root: ET.Element, name: str) -> list[ET.Element]:
    """The rows in which ``name`` is applied: ``<mi>name</mi><mo>&#x2061;</mo>`` and a bracketed argument."""
    rows = []
    for row in root.iter():
        kids = list(row)
        for k, kid in enumerate(kids[:-2]):
            base = kid[0] if kid.tag == M + "mrow" and len(kid) == 2 and (kid[1].text or "") == "′" else kid
            if base.tag == M + "mi" and base.text == name and kids[k + 1].text == "\u2061":
                argument = kids[k + 2]
                assert argument.tag == M + "mrow" and argument[0].text == "(" and argument[-1].text == ")"
                rows.append(row)
    return rows


# -- the four questions on the page -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", QUESTIONS)
def test_the_page_sets_each_question_from_the_latex_printer(name):
    reply = page(name)
    html = reply["result"] + reply["derivation"]
    assert maths(html), "no MathML"
    for root in maths(html):
        for tag, text in tags(root):
            assert not (tag == "mo" and text == "-"), "a hyphen where a minus belongs"
            assert "[" not in text and "Σ" not in text, f"printed Unicode notation in {tag}: {text}"
    assert "^∘" not in html and "Σ_" not in re.sub(r'<p class="eg-note">.*?</p>', "", reply["result"])
    e, wrt, kind, shapes = QUESTIONS[name]
    shown = question.render(question.derive(question.read(question.Question(e, wrt, kind,
                                                                            question.parse_shapes(shapes)))),
                            "latex", matrix=True)
    assert to_mathml(shown.text) in reply["result"]  # the page shows what the LaTeX printer writes


def test_the_orthogonality_loss_reads_as_a_textbook_writes_it():
    reply = page("orthogonality")
    result, *_ = maths(reply["result"])
    assert ("mi", "Φ") in tags(result) and ("mi", "β") in tags(result)
    assert ("mo", "−") in tags(result)  # Σ Φ Φ − δ: the true minus, U+2212
    (row,) = applied(result, "sign")
    kids = [(k.tag.removeprefix(M), k.text, k.get("width")) for k in row]
    at = kids.index(("mi", "sign", None))
    assert kids[at - 1] == ("mspace", None, "0.1667em") and kids[at - 2][:2] == ("mi", "β")  # β sign(…), not βsign(
    bracket = row[at + 2]
    assert bracket[0].get("stretchy") == "true" and bracket[-1].get("stretchy") == "true"  # around a Σ: it grows
    first = maths(reply["derivation"])[0]  # the expression, its sums explicit: β abs(Σ_l Φ Φ − δ)
    assert applied(first, "abs")
    sums = [n for n in first.iter(M + "munder") if n[0].text == "∑"]
    assert len(sums) == 2  # both sums' indices under their signs, the one inside the brackets too


def test_a_function_of_your_own_is_a_letter_and_its_derivative_a_letter_and_a_prime():
    reply = page("half SSE")
    result, matrix = maths(reply["result"])
    assert ("mi", "Θ") in tags(result) and ("mi", "X") in tags(result)
    letters = [n for n in result.iter() if len(n) and n[0].tag == M + "mi" and n[0].text == "h"]
    assert letters and not any(n[0].get("mathvariant") for n in letters)  # h′ (a row: h and ′), italic as a letter
    primes = [n for n in result.iter(M + "mo") if n.text == "′"]
    assert primes and all(p.get("lspace") == "0" for p in primes)
    assert not [n for n in result.iter(M + "msup") if (n[1].text or "") == "′"]  # not a superscript of a superscript
    assert not [n for n in result.iter(M + "mi") if n.get("mathvariant") == "normal" and n.text == "h"]  # italic
    assert r"h'\left(" in question.render(question.derive(question.read(question.Question(
        *QUESTIONS["half SSE"][:3], question.parse_shapes(QUESTIONS["half SSE"][3])))), "latex").text
    assert ("mi", "⊤") in tags(matrix) or ("mo", "⊤") in tags(matrix)  # Xᵀ: a transpose, never the letter T
    assert ("mi", "T") not in tags(matrix)


def test_brackets_stretch_only_around_what_is_taller_than_a_line():
    root = maths(fragments.math(r"\left(x_{i} - 1\right) \left(\sum_{j} W_{ij}\right) \left(\frac{a}{b}\right)"))[0]
    fences = [n.get("stretchy") for n in root.iter(M + "mo") if n.text in "()"]
    assert fences == ["false", "false", "true", "true", "true", "true"]


def test_the_dimensions_question_and_wx_question_show_their_transposes_and_deltas():
    result = maths(page("dimensions")["result"])
    assert [n for n in result[1].iter(M + "msup") if n[0].text == "X" and n[1][0].text == "⊤"]  # Xᵀ yᵀ
    wx, = maths(page("wx")["result"])
    frac = next(wx.iter(M + "mfrac"))
    assert len(frac) == 2 and [n.text for n in frac.iter(M + "mo")] == ["∂", "∂"]
    assert [n for n in wx.iter(M + "msub") if n[0].text == "δ" and [m.text for m in n[1]] == ["i", "j"]]


def test_prose_formulas_are_typeset_not_left_as_unicode():
    X, Y, T = eg.tensor("X", 2), eg.tensor("Y", 2), eg.tensor("Θ", 2)
    html = eg.explain(0.5 * eg.sum((Y - eg.tanh(X @ T)) ** 2), T)._repr_html_()
    assert "^∘" not in html and "∘2" not in re.sub(r"<math.*?</math>", "", html, flags=re.S)
    words = re.sub(r"<math.*?</math>", "", html, flags=re.S)
    assert "In matrix notation: ," not in words and "In matrix notation: <math>" in html
    powers = [n for root in maths(html) for n in root.iter(M + "msup") if [m.text for m in n[1]] == ["∘", "2"]]
    assert powers  # (1 − tanh(X Θ)^∘2) as a Hadamard power, typeset
    assert "Rule: <math>" in html and "1 - tanh" not in html


# -- notebooks ---------------------------------------------------------------------------------------------------

def test_notebook_output_is_the_same_renderer():
    Φ, β = eg.tensor("Φ", (4, 3, 2)), eg.tensor("β", ())
    L = β * eg.sum(eg.abs(eg.einsum("lmj,lmk->mjk", Φ, Φ) - eg.eye(2)))
    g = eg.grad(L, Φ)
    html = g._repr_html_()
    assert fragments.math(g.latex()) in html
    assert applied(maths(html)[0], "sign") and "<mo>−</mo>" in html
    jac = eg.jacobian("ij,j->i", names="W,x")
    assert fragments.math(jac.latex()) in jac._repr_html_()


def test_numbers_in_one_format():
    x = eg.tensor("x", 1)
    tex = render.latex((1.5e-07 * eg.sum(x)).node)
    assert "e-07" not in tex and r"1.5 \times 10^{-7}" in tex
    root = maths(fragments.math(tex))[0]
    assert [n for n in root.iter(M + "msup") if n[0].text == "10" and "".join(m.text for m in n[1].iter()
                                                                             if m.text) == "−7"]
    assert "−2.5" in fragments.tensor_html(np.array([[-2.5, 1.0]]), "G", ("i", "j"))  # tables: the same minus


def test_a_rules_differential_prints_its_indices_once():
    X, A = eg.tensor("X", 2), eg.tensor("A", 2)
    rule = next(s.rule for s in eg.explain(eg.trace(eg.inv(X) @ A), X).steps if s.rule.startswith("Rule: d "))
    assert rule == "Rule: d inv(U)[i,j] = -Σ_k,l dU[k,l] inv(U)[i,k] inv(U)[l,j]"  # was inv(U)[i,j][i,j] = …[k,i]…


def test_the_page_examples_use_the_students_letters():
    letters = {e.wrt for e in answer.EXAMPLES}
    assert {"Θ", "Φ"} <= letters and not {"T", "P"} & letters
    for e in answer.EXAMPLES[2:4]:
        reply = answer.respond(e._asdict())
        assert reply["ok"] and "eg-pass" in reply["check"]
        assert f"<mi>{e.wrt}</mi>" in reply["result"]


@settings(max_examples=examples(60), deadline=None)
@given(st.text(alphabet="abxyzWXΘΦβφ_1𝓛", min_size=1, max_size=4).filter(str.isidentifier),
       st.sampled_from(["tanh", "abs", "h", "softplus", "g2"]))
def test_the_latex_of_any_name_and_function_converts(name, fn):
    W = eg.tensor(name, 2)
    f = eg.sum(eg.function(fn)(W @ eg.tensor("v" if name != "v" else "u", 1)))
    for tex in (f.latex(), eg.grad(f, W).latex()):
        (root,) = maths(fragments.math(tex))
        assert ("mo", "−") not in tags(root) or "-" in tex


# -- in Chromium ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 390])
def test_formulas_have_a_size_and_stay_in_their_boxes_in_chromium(browser, width, tmp_path):
    d = question.derive(question.read(question.Question(*QUESTIONS["orthogonality"][:3],
                                                        question.parse_shapes(QUESTIONS["orthogonality"][3]))))
    html = answer.document(d)
    view = browser.new_page(viewport={"width": width, "height": 900})
    view.set_content(html)
    boxes = view.evaluate("""() => [...document.querySelectorAll('math')].map(m => {
        const b = m.getBoundingClientRect(), p = m.parentElement.getBoundingClientRect();
        return {w: b.width, h: b.height, left: b.left, right: b.right, parent: p.right}})""")
    assert boxes and all(b["w"] > 0 and b["h"] > 0 for b in boxes)
    assert all(b["right"] <= b["parent"] + 1 for b in boxes)  # a long formula scrolls inside its box
    assert view.evaluate("document.documentElement.scrollWidth") <= width
    gap = view.evaluate("""() => {  // β sign(…): the thin space between the letter and the operator name
        const m = document.querySelector('math'), mi = [...m.querySelectorAll('mi')];
        const beta = mi.find(e => e.textContent === 'β'), sign = mi.find(e => e.textContent === 'sign');
        return sign.getBoundingClientRect().left - beta.getBoundingClientRect().right }""")
    assert gap >= 1.5
    view.screenshot(path=str(tmp_path / f"orthogonality-{width}.png"), full_page=True)
    view.close()


def test_named_intermediates_are_aligned_rows():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    h = x
    for _ in range(4):
        h = eg.tanh(W @ h)
    g = eg.grad(eg.sum(h), W)
    tex = g.latex()
    assert tex.startswith(r"\begin{aligned}")
    (root,) = maths(fragments.math(tex))
    rows = list(root.iter(M + "mtr"))
    assert len(rows) == tex.count(r"\\") + 1 > 4
    for row in rows:
        left, right = row
        assert left.get("columnalign") == "right" and right.get("columnalign") == "left"
        assert [n.text for n in right.iter(M + "mo")][0] == "="
    assert "&" not in "".join(n.text or "" for n in root.iter())
