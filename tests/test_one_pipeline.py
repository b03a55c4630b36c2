"""One pipeline behind every door (issue 19, item 3): the page answers every input the command line answers,
with the same result text, the same notes and the same error text; over HTTP as in process."""
import http.client
import json
import re
import threading

import pytest

from einsumgrad.doors.cli import main
from einsumgrad.doors.web.answer import respond
from einsumgrad.doors.web.server import Server

HALF_SSE = "0.5 * sum((Y - tanh(X @ Θ))**2)"
OWN = "0.5 * sum((Y - h(X @ Θ))**2)"
ORTHOGONAL = "β * sum(abs(einsum('iaj,iak->ijk', Φ, Φ) - eye(3)))"

# (command, expression, --wrt, --shapes or None, --symmetric or None)
INPUTS = [
    ("grad", "sum(tanh(W @ x))", "W", None, None),
    ("grad", "sum(tanh(Φ))", "Φ", "Φ=4x3x2", None),
    ("grad", OWN, "Θ", None, None),  # a function of your own, by each tensor
    ("grad", OWN, "X", None, None),
    ("grad", OWN, "Y", None, None),
    ("grad", HALF_SSE, "Θ", "X=4x3, Θ=3x2, Y=4x2", None),  # shapes with Greek names, by each tensor
    ("grad", HALF_SSE, "X", "X=4x3,Θ=3x2,Y=4x2", None),
    ("grad", HALF_SSE, "Y", "X=4x3,Θ=3x2,Y=4x2", None),
    ("grad", ORTHOGONAL, "Φ", "Φ=2x4x3, β=", None),  # β= : a scalar
    ("grad", ORTHOGONAL, "β", "Φ=2x4x3, β=", None),  # the loss by a scalar
    ("grad", "s * sum(W @ x)", "s", "s=,W=2x3,x=3", None),
    ("grad", "sum(ϕ * ϕ)", "ϕ", "φ=3", None),  # NFKC: ϕ is φ
    ("grad", "trace(A @ S)", "S", "A=3x3,S=3x3", "S"),
    ("hessian", "einsum('i,ij,j->', x, A, x)", "x", "x=3,A=3x3", None),
    ("hessian", "sum(log(1 + exp(X @ w)))", "w", None, None),
    # bad inputs, one of each kind
    ("grad", "sum(X @ Θ)", "sum(X)", None, None),  # by an expression
    ("grad", "sum(X @ Θ)", "Q", None, None),  # no such tensor
    ("grad", "W @ x", "x", None, None),  # not a scalar
    ("grad", "sum(W", "W", None, None),  # syntax, with a caret
    ("grad", "sum(pad(x))", "x", None, None),  # an internal name
    ("grad", "open('x')", "x", None, None),
    ("grad", "sum(W @ x)", "W", "W=2y3", None),
    ("grad", "sum(W @ x)", "W", "W", None),
    ("grad", "sum(W @ x)", "W", "W=2x3,x=3,Z=2", None),  # names a tensor the expression does not read
    ("grad", "sum(W @ x)", "W", "W=2x3", None),  # misses one
    ("grad", "sum(φ * φ)", "φ", "φ=3,ϕ=3", None),  # twice, after NFKC
    ("grad", "sum(W @ x)", "W", "W=2x3,x=4", None),  # sizes that do not fit
    ("grad", "trace(A @ S)", "S", "A=3x3,S=3x3", "T"),  # symmetric, not read
]
IDS = [f"{k}-{i}" for k, i in enumerate(INPUTS)]


def request(command, text, wrt, shapes, symmetric) -> dict:
    asked = {"expression": text, "wrt": wrt, "kind": "gradient" if command == "grad" else "hessian"}
    return asked | ({} if shapes is None else {"shapes": shapes}) | ({} if symmetric is None else
                                                                     {"symmetric": symmetric})


def cli(capsys, command, text, wrt, shapes, symmetric):
    argv = [command, text, "--wrt", wrt, "--matrix"] + ([] if shapes is None else ["--shapes", shapes])
    status = main(argv + ([] if symmetric is None else ["--symmetric", symmetric]))
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


@pytest.fixture(scope="module")
def server():
    s = Server("127.0.0.1", 0)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    yield s
    s.shutdown()
    s.server_close()


def post(server, body: dict) -> dict:
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
    connection.request("POST", "/api/derive", json.dumps(body), {"Content-Type": "application/json"})
    reply = json.loads(connection.getresponse().read())
    connection.close()
    return reply


def shown(reply: dict) -> dict:
    """What a reader sees of a reply; the functions known vary with those this process registered before."""
    seen = {k: reply.get(k) for k in ("ok", "error", "text", "matrix", "notes")}
    return seen | {"error": re.sub("; known: .*?, at column", "; known: ..., at column", seen["error"] or "")}


def cli_words(text: str) -> str:
    """A page's message in the command line's words: the page names its own controls (the By box, the Shapes box,
    the Derivative choice), the command line its options; the rest is one message."""
    from einsumgrad.doors.question import WORDS

    text = text.replace(WORDS["page"].scalar_fix, WORDS["command line"].scalar_fix)
    text = re.sub(r"('[^']*'|\S+) in the By box", r"--wrt \1", text)
    text = re.sub(r"e\.g\. (\S+) in the Shapes box", r"e.g. --shapes \1", text)
    text = text.replace("give shapes in the Shapes box", "give --shapes").replace("the Shapes box", "--shapes")
    return re.sub(r"^the (gradient|hessian) needs", lambda m: {"gradient": "grad"}.get(m[1], m[1]) + " needs", text)


@pytest.mark.parametrize("given", INPUTS, ids=IDS)
def test_the_page_and_the_cli_give_the_same_answer_and_messages(capsys, server, given):
    status, out, err = cli(capsys, *given)
    reply = respond(request(*given))
    over_http = post(server, request(*given))
    assert shown(over_http) == shown(reply)
    if status:  # refused: the same message, the page's with a caret under the place for a syntax error
        assert not reply["ok"], reply
        assert err[-1] == "einsumgrad: error: " + cli_words(reply["error"].splitlines()[0])
        return
    assert reply["ok"], reply["error"]
    matrix = f"matrix notation: {reply['matrix']}" if reply["matrix"] else "matrix notation: none ("
    assert out.startswith(f"{reply['text']}\n{matrix}")
    assert err == [f"einsumgrad: note: {cli_words(note)}" for note in reply["notes"]]
    if given[3] is not None:  # both evaluate, at their own random arrays, and pass finite differences
        assert "PASS" in out and "eg-pass" in reply["check"]


def test_every_kind_of_input_is_crossed():
    answered = {given[1] for given in INPUTS}
    assert {OWN, HALF_SSE, ORTHOGONAL} <= answered and len(INPUTS) >= 25


@pytest.mark.slow
def test_a_function_of_your_own_is_one_on_every_request_of_a_process():
    """The page's worker answers many requests: h, declared by the first, was taken as a known function by the
    second, which then tried to evaluate it ("function 'h′' has no implementation")."""
    asked = {"expression": "sum(h(W @ x))", "wrt": "W"}
    first, second = respond(asked), respond(asked)
    assert first["ok"] and second == first and "h is not a known function" in second["notes"][-1]
