"""The teaching page without a browser: MathML, the answers, the limits, the server, HTML exports, notebooks."""
import http.client
import json
import threading
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.doors.cli import main
from einsumgrad.doors.web import answer
from einsumgrad.notation import fragments
from einsumgrad.doors.web.answer import EXAMPLES, LIMITS, respond
from einsumgrad.notation.mathml import to_mathml
from einsumgrad.doors.web.server import Server

MATHML = "{http://www.w3.org/1998/Math/MathML}"


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(markup.replace("<math", f'<math xmlns="{MATHML[1:-1]}"', 1))


def ask(example, **change):
    return respond({**example._asdict(), **change})


# -- MathML ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tex, expected", [  # the LaTeX printer's forms, through latex2mathml and the adapter
    (r"y_{i} = \sum_{j} W_{ij} x_{j}", "<msub><mi>W</mi><mrow><mi>i</mi><mi>j</mi></mrow></msub>"),
    (r"\frac{\partial f_{i}}{\partial W_{jk}} = \delta_{ij} x_{k}", "<mfrac><mrow><mo>∂</mo><msub><mi>f</mi>"),
    (r"g x^{\top}", "<msup><mi>x</mi><mrow><mo>⊤</mo></mrow></msup>"),
    (r"-X^{-\top} A^{\top}", "<msup><mi>X</mi><mrow><mo>−</mo><mo>⊤</mo></mrow></msup>"),
    (r"\left(1 - \tanh(W x)^{\circ 2}\right) x^{\top}", '<mo stretchy="false" fence="true" form="prefix">(</mo><mn>1</mn><mo>−</mo>'),
    (r"\left(\sum_{j} W_{ij}\right)", '<mo stretchy="true" fence="true" form="prefix">(</mo><munder><mo>∑</mo>'),
    (r"z^{(1)}_{i}", "<msubsup><mi>z</mi><mrow><mi>i</mi></mrow>"),
    (r"\frac{\partial^{2} f}{\partial x_{i} \partial x_{j}}", "<msup><mo>∂</mo><mrow><mn>2</mn></mrow></msup><mi>f</mi>"),
    (r"\sum_{kl} A_{kl}", "<munder><mo>∑</mo><mrow><mi>k</mi><mi>l</mi></mrow></munder>"),
    (r"x_{i',p}", "<mi>i</mi><mo lspace=\"0\" rspace=\"0\">′</mo>"),
])
def test_mathml_of_printed_forms(tex, expected):
    markup = to_mathml(tex)
    assert expected in markup
    parsed(markup)


# -- answers -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.title[:40])
def test_every_example_answers_and_passes_finite_differences(example):
    reply = ask(example)
    assert reply["ok"], reply
    assert "eg-pass" in reply["check"]
    for part in ("result", "derivation", "tensor"):
        for math in reply[part].split("</math>")[:-1]:
            parsed(math[math.index("<math"):] + "</math>")


def test_the_wx_question_is_a_third_order_tensor_sliced_into_multiples_of_the_identity():
    reply = ask(EXAMPLES[0])
    assert reply["text"] == "∂f[i]/∂W[j,k] = δ[i,j] x[k]"
    assert reply["shape"] == [2, 2, 3]
    assert reply["tensor"].count('type="radio"') == 3
    assert "J[:, :, 0] = " in reply["tensor"] and "I (a multiple of the identity)" in reply["tensor"]
    assert "Shape layout: J[i,j,k]" in reply["layout"] and "define none" in reply["layout"]


def test_the_orthogonality_question_gives_the_closed_form():
    from einsumgrad.doors import question

    example = EXAMPLES[3]
    shapes = {k: tuple(v) for k, v in example.shapes.items()}
    read = question.read(answer.read_request(example._asdict()))
    expr, arrays = read.expression, question.arrays(read)
    assert "I" not in arrays  # I is the identity, not a tensor of random numbers
    G = np.einsum("lmj,lmk->mjk", arrays["Φ"], arrays["Φ"]) - np.eye(3)
    closed = np.einsum("lmj,mjk->lmk", arrays["Φ"], np.sign(G))  # 2β Φ_m sign(Φ_mᵀΦ_m − I), β = 0.5
    grad = eg.evaluate(eg.grad(expr, eg.tensor("Φ", shapes["Φ"])), **arrays)
    assert np.allclose(grad, closed)
    assert ask(example)["shape"] == [4, 2, 3]


@pytest.mark.parametrize("change, message", [
    ({"expression": "x" * (LIMITS.characters + 1)}, "at most 2,000 characters"),
    ({"expression": "open('/etc/passwd')"}, "a quoted string can only be the spec of einsum("),
    ({"expression": "__import__('os')"}, "unknown function '__import__'"),
    ({"expression": "sum(W"}, "'(' was never closed, at column 4 of 'sum(W'\n  sum(W\n     ^"),
    ({"kind": "third"}, "choose one of gradient, jacobian, hessian"),
    ({"wrt": "W; x"}, "'W; x' in the By box is an expression, not the name of a tensor"),
    ({"wrt": "Q"}, "Q in the By box: no tensor of that name"),
    ({"shapes": {"W": [2, 300], "x": [300]}}, "each from 1 to 12"),
    ({"shapes": {"W": [2, 3, 4, 5, 6]}}, "W has 5 axes, over the page's limit of 4"),
    ({"shapes": {"W": ["2"]}}, "each from 1 to 12"),
    ({"shapes": {"Z": [2]}}, "the Shapes box names Z, which the expression does not read"),
    ({"shapes": [1]}, "shapes is a JSON object of sizes"),
    ({"seed": -1}, "the seed is a whole number"),
    ({"kind": "gradient"}, "the gradient needs a scalar expression; this one has rank 1: write sum(...) around it in the "
                               "Expression box, or choose jacobian as the Derivative"),
])
def test_bad_requests_get_clear_messages(change, message):
    reply = ask(EXAMPLES[0], **change)
    assert not reply["ok"]
    assert message in reply["error"]


def test_a_derivative_over_the_entry_limit_is_refused():
    reply = respond({"expression": "einsum('ij,jk->ik', A, B)", "wrt": "A", "kind": "jacobian",
                     "shapes": {"A": [12, 12], "B": [12, 12]}})
    assert not reply["ok"] and "20,736 entries, over the page's limit of 4,096" in reply["error"]


def test_a_request_that_is_not_an_object_is_refused():
    assert respond([1, 2]) == {"ok": False, "error": "a request is a JSON object"}


# -- the server --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    s = Server("127.0.0.1", 0)
    thread = threading.Thread(target=s.serve_forever, daemon=True)
    thread.start()
    yield s
    s.shutdown()
    s.server_close()


def request(server, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_the_page_is_served_with_its_examples_and_a_strict_policy(server):
    status, headers, body = request(server, "GET", "/")
    assert status == 200
    page = body.decode()
    assert EXAMPLES[0].expression.replace("'", "'") in page and "/*EXAMPLES*/" not in page
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "http://" not in page and "https://" not in page  # nothing loaded from anywhere


@pytest.mark.parametrize("path", ["/../einsumgrad/doors/cli.py", "/etc/passwd", "/page.html", "/web/page.html", "/%2e%2e/"])
def test_no_path_reads_a_file(server, path):
    status, _, body = request(server, "GET", path)
    assert status == 404 and b"one page" in body


def test_a_derivation_over_http(server):
    status, _, body = request(server, "POST", "/api/derive", json.dumps(EXAMPLES[0]._asdict()),
                              {"Content-Type": "application/json"})
    reply = json.loads(body)
    assert status == 200 and reply["ok"] and reply["text"] == "∂f[i]/∂W[j,k] = δ[i,j] x[k]"


@pytest.mark.parametrize("headers, body, status, message", [
    ({"Content-Type": "text/plain"}, "{}", 415, "application/json"),
    ({"Content-Type": "application/json"}, "{not json", 400, "not valid JSON"),
    ({"Content-Type": "application/json"}, "x" * 20_000, 413, "at most 16,384 bytes"),
])
def test_bad_posts_are_refused(server, headers, body, status, message):
    got, _, reply = request(server, "POST", "/api/derive", body, headers)
    assert got == status and message in json.loads(reply)["error"]


def test_a_request_for_another_host_is_refused(server):
    status, _, body = request(server, "GET", "/", headers={"Host": "evil.example:8000"})
    assert status == 403 and b"only requests to localhost" in body


@pytest.mark.slow
def test_a_request_over_the_time_limit_is_stopped_and_the_worker_replaced():
    s = Server("127.0.0.1", 0, seconds=1e-3)
    try:
        reply = s.worker.answer(EXAMPLES[0]._asdict())
        assert not reply["ok"] and "longer than the page's limit of 0.001 s" in reply["error"]
        s.worker.seconds = 120
        assert s.worker.answer(EXAMPLES[0]._asdict())["ok"]
    finally:
        s.server_close()


# -- exports, notebooks, reprs -----------------------------------------------------------------------------------

def self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "<link" not in page
    assert "http://" not in page and "https://" not in page


def test_grad_html_writes_one_self_contained_file(tmp_path, capsys):
    out = tmp_path / "answer.html"
    assert main(["grad", "sum(tanh(W @ x))", "--wrt", "W", "--shapes", "W=2x3,x=3", "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    self_contained(page)
    assert "<math" in page and "Derivation" in page and "eg-pass" in page
    assert f"wrote {out}" in capsys.readouterr().out


def test_hessian_html_without_shapes_has_no_values(tmp_path):
    out = tmp_path / "h.html"
    assert main(["hessian", "einsum('i,ij,j->', x, A, x)", "--wrt", "x", "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Hessian layout" in page and "At random arrays" not in page


def test_html_into_a_missing_folder_is_one_clear_error(tmp_path, capsys):
    assert main(["grad", "sum(W)", "--wrt", "W", "--html", str(tmp_path / "no" / "a.html")]) == 2
    assert "No such file or directory" in capsys.readouterr().err


def test_serve_on_a_port_in_use_is_one_clear_error(server, capsys):
    assert main(["serve", "--port", str(server.server_address[1]), "--no-browser"]) == 2
    assert "cannot serve on 127.0.0.1" in capsys.readouterr().err


def test_derivation_to_html(tmp_path):
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    derivation = eg.explain(eg.sum(eg.tanh(W @ x)), W)
    out = tmp_path / "d.html"
    page = derivation.to_html(str(out))
    self_contained(page)
    assert out.read_text(encoding="utf-8") == page and page.count("<li>") == len(derivation.steps)


def test_rich_output_of_every_object_a_notebook_shows():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    L = eg.sum(eg.tanh(W @ x))
    g = eg.grad(L, W)
    arrays = dict(W=np.ones((2, 3)), x=np.arange(3.0))
    compiled = eg.compile(g)
    compiled(**arrays)
    shown = {
        "expression": g._repr_html_(), "jacobian": eg.jacobian("ij,j->i", names="W,x")._repr_html_(),
        "derivation": eg.explain(L, W)._repr_html_(), "check": eg.check(L, W, **arrays)._repr_html_(),
        "compiled": compiled._repr_html_(),
    }
    for html in shown.values():
        assert html.startswith('<div class="eg"><style>')
    assert "matrix notation" in shown["expression"] and "<msup><mi>x</mi><mrow><mo>⊤</mo></mrow></msup>" in shown["expression"]
    assert "shape layout" in shown["jacobian"] and "<ol" in shown["derivation"]
    assert "PASS" in shown["check"] and "Compiled(1 expression" in shown["compiled"]


def test_reprs_stay_short_however_large_the_expression():
    W, h = eg.tensor("W", 2), eg.tensor("x", 1)
    for _ in range(12):
        h = eg.tanh(W @ h)
    deep = eg.grad(eg.sum(h), W)
    assert len(str(deep)) > 1000
    assert len(repr(deep)) < 200 and repr(deep).startswith("<Expression ∂f/∂W[i,j] = …")
    assert repr(eg.explain(eg.sum(W @ eg.tensor("x", 1)), W)).startswith("<Derivation: ")


def test_tensor_slices_beyond_the_tab_limit_are_summarised():
    html = fragments.tensor_html(np.zeros((1, 1, 70)), "J", "ijk")
    assert html.count('type="radio"') == fragments.MAX_SLICES and "6 more slices not shown" in html
