"""The teaching page in a real browser: Playwright driving Chromium (apt's ``chromium``).

Skipped, with the reason, where playwright or chromium is missing.
"""
from html import unescape
import shutil
import threading

import pytest

from einsumgrad.doors.web.answer import EXAMPLES, respond
from einsumgrad.doors.web.server import Server

sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright: pip install playwright")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="the browser tests need chromium: apt-get install -y chromium"),
              pytest.mark.slow]  # the page in Chromium

# The four students' questions as typed today: (expression, by, kind, shapes, what the index notation must show).
# The language grows (scalars, eye, Greek names, slicing, a generic h): add each new spelling as one more line.
QUESTIONS = [
    pytest.param("einsum('ij,j->i', W, x)", "W", "jacobian", "W=2x3, x=3", "δ", id="dy-dW"),
    pytest.param("sum((X @ W + b) @ y)", "W", "gradient", "X=1x4, W=4x3, b=1x3, y=3x1", "∑", id="dL-dW-shape"),
    pytest.param("0.5 * sum((Y - tanh(X @ T))**2)", "T", "gradient", "X=4x3, T=3x2, Y=4x2", "tanh",
                 id="half-sse"),
    pytest.param("0.5 * sum(abs(einsum('iaj,iak->ijk', P, P) - I))", "P", "gradient", "P=2x4x3, I=3x3", "sign",
                 id="orthogonality"),
    pytest.param("beta * sum(abs(einsum('iaj,iak->ijk', P, P) - eye(3)))", "P", "gradient", "P=2x4x3", "sign",
                 id="orthogonality-eye-beta"),
    pytest.param("0.5 * sum((Y - tanh(X @ Θ))**2)", "Θ", "gradient", "X=4x3, Θ=3x2, Y=4x2", "tanh",
                 id="half-sse-greek"),
    pytest.param("0.5 * sum((Y - h(X @ Θ))**2)", "Θ", "gradient", "X=4x3, Θ=3x2, Y=4x2", "h′",
                 id="half-sse-generic-h"),  # symbolic only: a function of your own has no values
]


@pytest.fixture(scope="module")
def server():
    s = Server("127.0.0.1", 0)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    yield s
    s.shutdown()
    s.server_close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh page on the server that records every request it makes and refuses any to elsewhere."""
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    tab = context.new_page()
    tab.requests = []
    local = server.url

    def record(route):
        tab.requests.append(route.request.url)
        route.continue_() if route.request.url.startswith(local) else route.abort()

    tab.route("**/*", record)
    tab.goto(local)
    yield tab
    assert tab.requests and all(url.startswith(local) for url in tab.requests), tab.requests  # offline
    context.close()


def derive(page, expression, wrt, kind, shapes):
    page.fill("#expression", expression)
    page.fill("#wrt", wrt)
    page.select_option("#kind", kind)
    page.fill("#shapes", shapes)
    page.click("#go")
    page.wait_for_selector("#answer:not([hidden]), #error:not(:empty)")


@pytest.mark.parametrize("expression, wrt, kind, shapes, shows", QUESTIONS)
def test_each_question_typed_in_gets_its_result_and_derivation(page, tmp_path, expression, wrt, kind, shapes, shows):
    derive(page, expression, wrt, kind, shapes)
    assert page.text_content("#error") == ""
    assert page.locator("#result math").count() >= 1 and shows in page.text_content("#result")
    steps = page.locator("#derivation ol.eg-steps > li")
    assert steps.count() >= 3 and "Result" in page.text_content("#derivation")
    expected = respond({"expression": expression, "wrt": wrt, "kind": kind, "shapes": shapes})
    if "check" not in expected:  # h(X @ Θ)
        assert page.locator("#values").is_hidden()
        assert "h is not a known function" in page.text_content("#notes")
    else:
        assert "PASS" in page.text_content("#check")
    assert unescape(page.inner_html("#derivation")) == unescape(expected["derivation"])  # what the server derived
    page.screenshot(path=str(tmp_path / "question.png"), full_page=True)


def test_the_slice_control_walks_the_third_order_tensor(page, tmp_path):
    derive(page, "einsum('ij,j->i', W, x)", "W", "jacobian", "W=2x3, x=3")
    visible = page.locator("#tensor .eg-panel:visible")
    assert visible.count() == 1 and "J[:, :, 0] = " in visible.text_content()
    assert "multiple of the identity" in visible.text_content()
    page.fill("#tensor input.eg-slider", "2")
    assert "J[:, :, 2] = " in page.locator("#tensor .eg-panel:visible").text_content()
    page.click("#tensor label:has-text('k = 1')")
    assert "J[:, :, 1] = " in page.locator("#tensor .eg-panel:visible").text_content()
    assert page.input_value("#tensor input.eg-slider") == "1"
    page.screenshot(path=str(tmp_path / "slices.png"), full_page=True)


def test_choosing_an_example_fills_the_form_and_answers(page):
    page.select_option("#examples", label=EXAMPLES[3].title)
    page.wait_for_selector("#answer:not([hidden])")
    assert page.input_value("#expression") == EXAMPLES[3].expression
    assert page.input_value("#shapes") == "Φ=4x2x3, I=3x3"
    assert page.locator("#tensor input[type=radio]").count() == 3


@pytest.mark.parametrize("expression, shapes, message", [
    ("sum(W", "", "was never closed"),
    ("open('x')", "", "a quoted string can only be the spec of einsum("),
    ("sum(W @ x)", "W=2x300, x=300", "each from 1 to 12"),
    ("sum(W @ x)", "W=2y3", "a shape is sizes joined by 'x', such as 3x4; got '2y3'"),
])
def test_bad_input_shows_a_clear_message(page, expression, shapes, message):
    derive(page, expression, "W", "gradient", shapes)
    assert message in page.text_content("#error")


def test_latex_pasted_as_in_the_question_is_read_and_explained(page):
    page.select_option("#notation", "latex")
    derive(page, r"\Phi \in \mathbb{R}^{l \times m \times n}; \mathscr{L} = \beta\sum_{i=1}^{m}\sum_{j=1}^{n}\sum_{k=1}^{n}|\Phi_{i}^{\top}\Phi_{i} - "
           r"\mathbb{I}_{\text{n}}|_{jk},", r"\Phi", "gradient", "Φ=4x2x3, β=")
    assert page.text_content("#error") == ""
    assert "Read the LaTeX" in page.text_content("#derivation") and "PASS" in page.text_content("#check")
