"""Guards around the services: the page's requests, optimizers, eg.paths, dask's matrix functions, serve's host and port.

Each bad input gets a clear EinsumgradError (on the page a 400 with a message, in the CLI one stderr line and
exit status 2), never a raw exception, an unbounded allocation or a server listening beyond loopback unasked.
"""
from __future__ import annotations

import http.client
import json
import threading
import warnings
from http.server import ThreadingHTTPServer

import numpy as np
import opt_einsum
import pytest

import einsumgrad as eg
from einsumgrad.doors.cli import main
from einsumgrad.doors.web.answer import LIMITS, respond
from einsumgrad.doors.web.server import Server

BASE = {"expression": "sum(tanh(W @ x))", "wrt": "W", "kind": "gradient", "shapes": {"W": [2, 3], "x": [3]}}


# -- the page: every field checked by type, every tensor's size before any is made -------------------------------

@pytest.mark.parametrize("field, value, message", [
    ("kind", ["gradient"], "kind: choose one of gradient, jacobian, hessian"),
    ("kind", {"a": 1}, "kind: choose one of gradient, jacobian, hessian"),
    ("kind", None, "got None"),
    ("expression", ["sum(W)"], "write an expression"),
    ("expression", "sum(W) + \ud800", "lone surrogate"),
    ("wrt", {"W": 1}, "name the tensor to differentiate by"),
    ("seed", 2.5, "the seed is a whole number"),
    ("seed", 10**30, "the seed is a whole number"),
    ("shapes", [["W", [2, 3]]], "shapes is a JSON object of sizes"),
    ("shapes", 5, "shapes is a JSON object of sizes"),
    ("shapes", "W=2y3", "a shape is sizes joined by 'x', such as 3x4; got '2y3'"),
    ("shapes", {"W": {"0": 2}}, "shapes: W is a list of sizes"),
    ("shapes", {"W": [[2], 3]}, "shapes: W is a list of sizes, each from 1 to 12; got a list of 2 item(s)"),
    ("shapes", {"W": [10**30, 3]}, "each from 1 to 12"),
])
def test_each_field_of_a_request_is_checked_by_type(field, value, message):
    reply = respond({**BASE, field: value})
    assert reply["ok"] is False and message in reply["error"] and "bug" not in reply["error"]


@pytest.mark.parametrize("rank", [5, 8, 25, 64])
def test_a_tensor_sized_by_default_is_held_to_the_limits(rank):
    """x[0, ..., 0] makes x of that rank, each axis of the default size 3: refused before any array is made
    (rank 25 asked NumPy for 6 TiB)."""
    reply = respond({"expression": f"sum(x[{', '.join(['0'] * rank)}])", "wrt": "x", "kind": "gradient"})
    assert reply == {"ok": False, "error": f"x has {rank} axes, over the page's limit of {LIMITS.rank}"}


def test_a_tensor_sized_by_default_within_the_limits_is_answered():
    reply = respond({"expression": "sum(x[0, 0, 0])", "wrt": "x", "kind": "gradient"})
    assert reply["ok"] and reply["shape"] == [3, 3, 3]


@pytest.fixture(scope="module")
def server():
    s = Server("127.0.0.1", 0)
    thread = threading.Thread(target=s.serve_forever, daemon=True)
    thread.start()
    yield s
    s.shutdown()
    s.server_close()


def post(server, body: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
    connection.request("POST", "/api/derive", body.encode("utf-8", "surrogatepass"),
                       {"Content-Type": "application/json"})
    response = connection.getresponse()
    status, reply = response.status, json.loads(response.read())
    connection.close()
    return status, reply


@pytest.mark.parametrize("body, message", [
    (json.dumps({**BASE, "kind": ["gradient"]}), "kind: choose one of"),
    (json.dumps({**BASE, "kind": {"a": 1}}), "kind: choose one of"),
    (json.dumps({**BASE, "shapes": {"W": [2, 3, 4, 5, 6]}}), "W has 5 axes, over the page's limit of 4"),
    (json.dumps({**BASE, "expression": "sum(W) + \ud800"}), "lone surrogate"),
    (json.dumps([BASE]), "a request is a JSON object"),
    ("[" * 5000 + "]" * 5000, "not valid JSON"),  # nested past Python's recursion limit
    ('{"expression": "sum(W)", "wrt": "W", "seed": ' + "9" * 5000 + "}", "not valid JSON"),  # over int's digits
])
def test_a_malformed_request_is_a_400_with_a_message(server, body, message):
    status, reply = post(server, body)
    assert status == 400 and reply["ok"] is False and message in reply["error"]


def test_the_server_still_answers_after_malformed_requests(server):
    post(server, "[" * 5000)
    status, reply = post(server, json.dumps({"expression": "sum(x[0, 0, 0, 0, 0, 0, 0, 0])", "wrt": "x"}))
    assert status == 200 and reply == {"ok": False, "error": "x has 8 axes, over the page's limit of 4"}
    status, reply = post(server, json.dumps(BASE))
    assert status == 200 and reply["ok"]


def test_a_fuzz_of_odd_values_in_every_field_gets_clear_replies():
    odd = [None, True, 0, -1, 1.5, float("nan"), float("inf"), 10**30, "", "\x00", "\ud800", [], [1], [[1]], {},
           {"a": [1]}, "é" * 70, 2**32]
    for field in ("expression", "wrt", "kind", "shapes", "seed"):
        for value in odd:
            reply = respond({**BASE, field: value})
            json.dumps(reply, ensure_ascii=False).encode("utf-8")  # what the worker writes
            assert isinstance(reply["ok"], bool) and "bug" not in reply.get("error", ""), (field, value, reply)


# -- optimize=: any opt_einsum optimizer, for every contraction of a plan ------------------------------------------

class Stateful(opt_einsum.paths.PathOptimizer):
    """As cotengra's HyperOptimizer and opt_einsum's RandomGreedy: one instance plans one contraction."""

    def __call__(self, inputs, output, size_dict, memory_limit=None):
        self._check_args_against_first_call(inputs, output, size_dict)
        return [(0, 1)] * (len(inputs) - 1)


class Pooled(Stateful):
    def __init__(self):
        self.lock = threading.Lock()


def several_contractions():
    A, B, C, D = (eg.tensor(n, 2) for n in "ABCD")
    f = eg.sum(eg.einsum("ab,bc,cd->ad", A, B, C) * eg.einsum("ab,bc,cd->ad", D, B, A))
    arrays = {n: np.random.default_rng(k).normal(size=(6, 6)) for k, n in enumerate("ABCD")}
    return f, (eg.grad(f, A), eg.grad(f, B), eg.grad(f, C)), arrays


@pytest.mark.parametrize("optimizer", [opt_einsum.RandomGreedy, opt_einsum.BranchBound, Stateful])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_stateful_optimizer_plans_every_contraction_of_a_plan(optimizer, backend):
    torch = pytest.importorskip("torch") if backend == "torch" else None
    f, grads, arrays = several_contractions()
    given = optimizer()
    compiled = eg.compile(f, *grads, optimize=given, backend=backend)
    got = compiled(**({n: torch.tensor(a) for n, a in arrays.items()} if torch else arrays))
    for value, expr in zip(got, (f, *grads)):
        np.testing.assert_allclose(np.asarray(value), eg.evaluate(expr, **arrays), rtol=1e-10)
    assert not hasattr(given, "_first_call_args")  # the instance given is not used up: it can be given again
    eg.compile(*grads, optimize=given)(**arrays)


def test_an_optimizer_that_cannot_be_copied_is_refused_at_compile():
    f, _, _ = several_contractions()
    with pytest.raises(eg.EinsumgradError, match=r"optimize=Pooled\(\.\.\.\) cannot be copied for each contraction"):
        eg.compile(f, optimize=Pooled())


def test_an_optimizer_used_on_another_contraction_is_one_clear_error():
    f, _, arrays = several_contractions()
    used = opt_einsum.RandomGreedy()
    opt_einsum.contract_path("ab,bc,cd->ad", *[np.ones((2, 2))] * 3, optimize=used)
    with pytest.raises(eg.EinsumgradError, match=r"optimize=RandomGreedy\(\.\.\.\) failed to plan .*new instance"):
        eg.compile(f, optimize=used)(**arrays)


@pytest.mark.parametrize("optimize", [np.array([1, 2]), 3, "Greedy", object()])
def test_an_unknown_optimize_lists_what_is_taken(optimize):
    f, _, _ = several_contractions()
    with pytest.raises(eg.EinsumgradError, match=r"unknown optimize=.*; choose one of auto, .*greedy.*PathOptimizer"):
        eg.compile(f, optimize=optimize)


# -- eg.paths: what was asked, and what is available ---------------------------------------------------------------

def twelve_operands():
    xs = [eg.tensor(f"x{k}", 1) for k in range(12)]
    return eg.einsum(",".join("a" * 12) + "->", *xs), {f"x{k}": np.ones(3) for k in range(12)}


@pytest.mark.parametrize("optimizers", [[], (), 3])
def test_paths_with_no_optimizer_names_what_is_available(optimizers):
    f, arrays = twelve_operands()
    with pytest.raises(eg.EinsumgradError, match=r"paths: optimizers=.* names no optimizer to compare; .*greedy"):
        eg.paths(f, optimizers, repeats=1, **arrays)


def test_paths_with_no_applicable_optimizer_says_why():
    f, arrays = twelve_operands()
    with pytest.raises(eg.EinsumgradError, match=r"none of the optimizers asked for applies here \(optimal\): .*"
                                                 r"beyond 10 operands \(a contraction here has 12\); .*greedy"):
        eg.paths(f, ["optimal"], repeats=1, **arrays)


def test_paths_takes_one_optimizer_alone():
    f, arrays = twelve_operands()
    assert [r.optimizer for r in eg.paths(f, "greedy", repeats=1, **arrays).rows] == ["greedy"]
    assert [r.optimizer for r in eg.paths(f, opt_einsum.RandomGreedy(), repeats=1, **arrays).rows] == ["RandomGreedy"]


# -- dask: the matrix functions on a matrix chunked along both axes ------------------------------------------------

@pytest.mark.parametrize("name", ["det", "logdet", "inv", "adj"])
@pytest.mark.parametrize("backend", ["dask", "numpy"])
def test_matrix_functions_and_their_gradients_on_a_matrix_chunked_both_ways(name, backend):
    """det's gradient is adj(X)ᵀ, computed through an SVD, which dask's svd refuses for a matrix chunked both ways."""
    da = pytest.importorskip("dask.array")
    X = eg.tensor("X", 2)
    f = getattr(eg, name)(X)
    f = eg.sum(f) if name in ("inv", "adj") else f
    a = np.random.default_rng(0).normal(size=(4, 4)) + 4 * np.eye(4)
    exprs = (f, eg.grad(f, X), eg.hessian(f, X) if name == "det" else eg.grad(f, X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor dask's warning that NumPy's det ran on its array
        got = eg.compile(*exprs, backend=backend)(X=da.from_array(a, chunks=(2, 2)))
    for value, expr in zip(got, exprs):
        assert hasattr(value, "dask")  # still lazy
        np.testing.assert_allclose(value.compute(), eg.evaluate(expr, X=a), rtol=1e-10, atol=1e-12)


# -- serve: the port checked, loopback unless asked ----------------------------------------------------------------

@pytest.mark.parametrize("port", ["70000", "65536", "-1"])
def test_serve_on_a_port_out_of_range_is_one_clear_line(port, capsys):
    assert main(["serve", "--port", port, "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err == f"einsumgrad: error: port {port}: a port is a whole number from 0 to 65535 (0: any free port)\n"


@pytest.mark.parametrize("host, where", [("", "listens on every network interface"),
                                         ("0.0.0.0", "listens on every network interface"),
                                         ("192.0.2.1", "is not a loopback address")])
def test_serve_beyond_loopback_unasked_is_refused(host, where, monkeypatch, capsys):
    monkeypatch.setattr(Server, "serve_forever", lambda self: pytest.fail(f"listening on {self.server_address}"))
    assert main(["serve", "--host", host, "--port", "0", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"host {host!r} {where}: other machines could reach the page" in err
    assert "--public" in err
    with pytest.raises(eg.EinsumgradError, match="public=True"):
        Server(host, 0)


def get(server, host: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
    connection.request("GET", "/", headers={"Host": f"{host}:80"})
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.mark.slow
def test_serve_public_warns_and_keeps_a_host_check(monkeypatch, capsys):
    served = []

    def serve_forever(self):
        served.append(self)
        assert not self.loopback_only and self.url.startswith("http://127.0.0.1:")
        thread = threading.Thread(target=ThreadingHTTPServer.serve_forever, args=(self,), daemon=True)
        thread.start()
        try:  # a page elsewhere pointing its name here is refused; an address or loopback name is answered
            assert [get(self, h) for h in ("evil.example", "127.0.0.1", "localhost", "10.1.2.3")] == [403, 200, 200, 200]
        finally:
            self.shutdown()

    monkeypatch.setattr(Server, "serve_forever", serve_forever)
    assert main(["serve", "--host", "", "--public", "--port", "0", "--no-browser"]) == 0
    err = capsys.readouterr().err
    assert served and "bound to every network interface" in err
    assert "warning: other machines on your network can reach this page" in err


@pytest.mark.slow
def test_serve_on_loopback_answers_only_loopback_names():
    s = Server("127.0.0.1", 0)
    thread = threading.Thread(target=s.serve_forever, daemon=True)
    thread.start()
    try:
        assert [get(s, h) for h in ("127.0.0.1", "localhost", "10.1.2.3", "evil.example")] == [200, 200, 403, 403]
    finally:
        s.shutdown()
        s.server_close()


def test_serve_help_says_how_to_listen_beyond_loopback(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--public" in out and "refused unless --public is given" in out and "0 to 65535" in out
