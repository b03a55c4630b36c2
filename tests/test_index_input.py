"""Index notation as input (einsumgrad.doors.indexed): what einsumgrad prints reads back, the issue's formulas give the
gradients of the Python-built expressions, and bad input is a clear error with a caret."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from profiles import examples

import einsumgrad as eg
from einsumgrad.library import generic
from einsumgrad.notation import render
from einsumgrad.doors.indexed import IndexNotationError
from oracles import assert_directional
from test_compositions import SHAPES, problems

RNG = np.random.default_rng(0)


def _arrays(**shapes):
    return {n: RNG.uniform(-1, 1, s) for n, s in shapes.items()}


def _gradient_matches(L, name, env):
    """eg.grad(L, name) against central differences of eg.evaluate(L) in a random direction."""
    g = np.asarray(eg.evaluate(eg.grad(L, name), **env))
    assert_directional(g, lambda x: float(eg.evaluate(L, **{**env, name: x})), env[name], RNG)
    return g


def test_orthogonality_loss_as_in_the_issue():
    L = eg.parse("L = β Σ_{m,j,k} |Σ_l Φ[l,m,j] Φ[l,m,k] − δ[j,k]|")
    Phi, beta = eg.tensor("Φ", 3), eg.scalar("β")
    built = beta * eg.sum(eg.abs(eg.einsum("lmj,lmk->mjk", Phi, Phi) - eg.eye(Phi.shape[2])))
    env = _arrays(Φ=(4, 2, 3), β=())
    assert np.isclose(eg.evaluate(L, **env), eg.evaluate(built, **env))
    g = _gradient_matches(L, "Φ", env)
    assert np.allclose(g, eg.evaluate(eg.grad(built, Phi), **env))


def test_mlp_statements_feed_each_other():
    text = "z[i] = Σ_j W[i,j] x[j] + b[i]; L = ½ Σ_i (y[i] − h(z[i]))²"
    L = eg.parse(text)
    assert L.name == "L"
    eg.function("h", np.tanh, lambda x: 1 - np.tanh(x) ** 2)
    try:
        W, x, b, y = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("b", 1), eg.tensor("y", 1)
        built = 0.5 * eg.sum((y - eg.function("h")(W @ x + b)) ** 2)
        env = _arrays(W=(3, 4), x=(4,), b=(3,), y=(3,))
        for name in ("W", "b", "x"):
            g = _gradient_matches(L, name, env)
            assert np.allclose(g, eg.evaluate(eg.grad(built, name), **env))
        ascii = eg.parse("z[i] = sum_j W[i,j] * x[j] + b[i]\nL = 0.5 * sum_i (y[i] - h(z[i]))**2")
        assert np.isclose(eg.evaluate(ascii, **env), eg.evaluate(L, **env))
    finally:  # h is a function of your own again (it is process-wide: other tests read h without a formula)
        for order in ("h", "h′", "h″"):
            generic.IMPLEMENTATIONS[order] = None


def test_names_accepted_by_grad_jacobian_hessian():
    f = eg.parse("f = Σ_{i,j} x[i] A[i,j] x[j]")
    env = _arrays(x=(3,), A=(3, 3))
    H = eg.evaluate(eg.hessian(f, "x"), **env)
    assert np.allclose(H, env["A"] + env["A"].T)
    y = eg.parse("y[i] = Σ_j W[i,j] v[j]")
    J = eg.evaluate(eg.jacobian(y, "W"), W=np.ones((2, 3)), v=np.arange(3.0))
    assert J.shape == (2, 2, 3) and np.allclose(J[1, 1], np.arange(3.0))
    with pytest.raises(eg.DerivativeError, match="no tensor of that name"):
        eg.grad(f, "W")


def test_elementwise_product_needs_a_left_side_and_shapes_give_sizes():
    z = eg.parse("z[i] = x[i] y[i]")
    assert np.allclose(eg.evaluate(z, x=np.arange(3.0), y=np.arange(3.0)), np.arange(3.0) ** 2)
    y = eg.parse("y[i,j] = δ[i,j]", shapes={"i": 3})
    assert np.allclose(eg.evaluate(y), np.eye(3))


@settings(max_examples=examples(150), deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problems(max_depth=2))
def test_round_trip_of_printed_index_notation(problem):
    tensors = {n: eg.tensor(n, s) for n, s in SHAPES.items()}
    e = problem.node.fn(eg, tensors)
    env = problem.arrays()
    accepted = eg.compile(e).accepted
    env = {n: a for n, a in env.items() if n in accepted}
    expected = np.asarray(eg.evaluate(e, **env))
    for ascii in (False, True):
        text = render.index_notation(e.node, ascii=ascii)
        # a result no term reads, "y[i] = 0", says nothing of its size (an index named as a tensor is read anyway)
        sizes = {a: n for a, n in zip(e.node.out, e.shape) if a not in SHAPES}
        back = eg.parse(text, shapes={**SHAPES, **sizes})
        value = np.asarray(eg.evaluate(back, **{n: a for n, a in env.items() if n in eg.compile(back).accepted}))
        assert value.shape == expected.shape, text
        assert np.allclose(value, expected, rtol=1e-4, atol=1e-6), text


@pytest.mark.parametrize("text, problem, carets", [
    ("y[i,j] = Σ_k (A[i,k] B[k,j]", "unbalanced '('", 2),
    ("y[i] = tanh(x[i]) + 1)", "unbalanced ')'", 1),
    ("y = Σ_i a[i] b[i]; z[i] = W[i,j] x[j]", "index j is neither summed nor an index of the result", 1),
    ("x[i] y[i]", "repeated without Σ", 2),
    ("y[i] = Σ_j W[i,j] x[j] + W[i]", "W is read with 2 and with 1 indices", 2),
    ("y[i] = tanhh(x[i])", "unknown function 'tanhh'", 1),
    ("y[i] = Σ_j W[i,j] x[j]", "index j has two ranges", 2),
    ("y[i] = x[i] $ 2", "unexpected character '$'", 1),
    ("x[i] " * 25_000, "at most 100,000 characters", 1),
    ("(" * 5000 + "x[i]" + ")" * 5000, "nested more than 100 levels", 1),
])
def test_bad_input_is_a_clear_error_with_a_caret(text, problem, carets):
    with pytest.raises(IndexNotationError) as info:
        eg.parse(text, shapes={"W": (2, 3), "x": (4,)} if "two ranges" in problem else None)
    message = str(info.value)
    assert problem in message
    assert message.splitlines()[-1].count("^") == carets
    assert len(message) < 1000


@pytest.mark.slow
def test_cli_reads_index_notation_and_explains_how():
    run = lambda *a: subprocess.run([sys.executable, "-m", "einsumgrad", *a], capture_output=True, text=True)  # noqa: E731
    out = run("grad", "--index-input", "L = Σ_i,j x[i] A[i,j] x[j]", "--wrt", "x", "--explain")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[:2] == ["1. Read the input as index notation:", "     L = Σ_i,j A[i,j] x[i] x[j]"]
    bad = run("grad", "--index-input", "L = Σ_i (x[i]", "--wrt", "x")
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "unbalanced '('" in bad.stderr
