r"""LaTeX as input (einsumgrad.doors.latex): the four questions' formulas, pasted as written, give the accepted answers;
what einsumgrad prints in LaTeX reads back; bad input is a clear error with a caret."""
from __future__ import annotations

import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from profiles import examples

import einsumgrad as eg
from einsumgrad.library import generic
from einsumgrad.notation import render
from einsumgrad.doors.latex import LatexError, read_latex
from einsumgrad.doors.web.answer import respond
from oracles import assert_directional, central_difference
from test_compositions import SHAPES, problems

QUESTIONS = pathlib.Path("/work/shared/questions")
RNG = np.random.default_rng(0)

# Copied character for character from the question files (each is checked against its file where it is at hand).
ORTHOGONALITY = (r"\Phi \in \mathbb{R}^{l \times m \times n}", r"\mathscr{L} = \beta\sum_{i=1}^{m}\sum_{j=1}^{n}"
                 r"\sum_{k=1}^{n}|\Phi_{i}^{\top}\Phi_{i} - \mathbb{I}_{\text{n}}|_{jk},")
HALF_SSE = (r"X\in\mathbb{R}^{M\times{in}}", r"\Theta\in\mathbb{R}^{in\times out}",
            r"L(\Theta)=\frac{1}{2}\sum^{M}(y-h(X\circ\Theta))^2")
DIMENSIONS = (r"L = f \cdot y; f = X \cdot W + b",)
DY_DW = (r"L=f(y),", r"y=Wx")
FILES = {ORTHOGONALITY: "differential-to-derivative-orthogonality-loss", HALF_SSE: "gradient-shape-half-sse",
         DIMENSIONS: "matrix-derivative-dimensions", DY_DW: "dy-dW-third-order-and-chain-rule"}


@pytest.mark.parametrize("formulas", FILES, ids=FILES.values())
def test_the_formulas_are_the_question_files(formulas):
    path = QUESTIONS / f"{FILES[formulas]}.txt"
    if not path.exists():
        pytest.skip("the question files are not at hand")
    text = path.read_text()
    assert all(f in text for f in formulas)


def _read(text, shapes=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expr = eg.parse_latex(text, shapes)
    return expr, [str(w.message) for w in caught]


def _gradient_matches(L, name, env):
    """eg.grad(L, name) against central differences of eg.evaluate(L) in a random direction."""
    g = np.asarray(eg.evaluate(eg.grad(L, name), **env))
    assert_directional(g, lambda x: float(eg.evaluate(L, **{**env, name: x})), env[name], RNG)
    return g


def test_orthogonality_loss_gives_two_beta_phi_sign():
    L, notes = _read("; ".join(ORTHOGONALITY))
    assert L.name == "L" and notes == [r"β is taken as a scalar, a guess from its name; to change it, declare it, "
                                       r"e.g. β \in \mathbb{R}, or give shapes"]
    env = {"Φ": RNG.uniform(-1, 1, (4, 2, 3)), "β": np.array(0.7)}
    g = _gradient_matches(L, "Φ", env)
    P = env["Φ"]
    for i in range(2):  # the answer: ∂L/∂Φ_i = 2β Φ_i sign(Φ_iᵀ Φ_i − I), Φ_i the l×n slice at the m axis
        assert np.allclose(g[:, i, :], 2 * 0.7 * P[:, i, :] @ np.sign(P[:, i, :].T @ P[:, i, :] - np.eye(3)))
    shaped, _ = _read(ORTHOGONALITY[1], shapes={"Φ": (4, 2, 3), "m": 2})  # shapes in place of the declaration
    assert np.allclose(eg.evaluate(eg.grad(shaped, "Φ"), **env), g)


def test_half_sse_reads_the_circle_as_the_answer_does_and_says_so(monkeypatch):
    monkeypatch.setattr(generic, "IMPLEMENTATIONS", dict(generic.IMPLEMENTATIONS))  # h = tanh for this test alone
    eg.function("h", np.tanh, lambda x: 1 - np.tanh(x) ** 2)
    L, notes = _read(", ".join(HALF_SSE))
    assert any("read as the matrix product" in n and "M×in and in×out" in n and "(A∘B)ᵢⱼ = Aᵢⱼ Bᵢⱼ" in n
               for n in notes)
    env = {"X": RNG.uniform(-1, 1, (5, 3)), "Θ": RNG.uniform(-1, 1, (3, 2)), "y": RNG.uniform(-1, 1, (5, 2))}
    g = _gradient_matches(L, "Θ", env)
    X, T, y = env["X"], env["Θ"], env["y"]
    assert np.allclose(g, X.T @ ((np.tanh(X @ T) - y) * (1 - np.tanh(X @ T) ** 2)))  # the accepted answer, halved
    numeric, notes = _read(HALF_SSE[2], shapes={"X": (5, 3), "Θ": (3, 2)})
    assert np.allclose(eg.evaluate(eg.grad(numeric, "Θ"), **env), g)
    assert any("read as the matrix product" in n and "5×3 and 3×2" in n for n in notes)
    # with no shapes known, ∘ is the Hadamard product: the asker's own (y − h(X∘Θ)) ∘ −h′(X∘Θ) ∘ X
    hadamard, _ = _read(HALF_SSE[2])
    env["Θ"] = RNG.uniform(-1, 1, (5, 3))
    X, T = env["X"], env["Θ"]
    g = np.asarray(eg.evaluate(eg.grad(hadamard, "Θ"), **{**env, "y": env["y"][:, :1] * np.ones(3)}))
    assert np.allclose(g, (env["y"][:, :1] - np.tanh(X * T)) * -(1 - np.tanh(X * T) ** 2) * X)


def test_matrix_dimensions_statements_in_any_order():
    shapes = {"X": (1, 4), "W": (4, 10), "b": (1, 10), "y": (10, 1)}  # as the question gives them
    L, notes = _read(DIMENSIONS[0], shapes)
    assert L.name == "L" and L.shape == (1, 1) and notes == []
    env = {n: RNG.uniform(-1, 1, s) for n, s in shapes.items()}
    J = np.asarray(eg.evaluate(eg.jacobian(L, "W"), **env)).reshape(4, 10)
    assert np.allclose(J, env["X"].T @ env["y"].T)  # the answer: x yᵀ, shaped like W
    f = lambda w: float(eg.evaluate(L, **{**env, "W": w})[0, 0])  # noqa: E731
    d = RNG.standard_normal((4, 10))
    assert np.isclose(np.vdot(J, d), central_difference(f, env["W"], d, 1e-6))


def test_dy_dw_is_a_third_order_tensor_delta_x():
    y, _ = _read(DY_DW[1])
    J = eg.jacobian(y, "W")
    assert str(J) == "∂y[i]/∂W[j,k] = δ[i,j] x[k]"  # the answer: (∂y/∂W)_ijk = δ_ij x_k
    L, _ = _read(" ".join(DY_DW))  # L = f(y), y = Wx: L is the statement the other feeds
    assert L.name == "L" and "f′" in str(eg.jacobian(L, "W"))


@pytest.mark.slow
def test_explain_and_notes_at_the_cli():
    run = lambda *a: subprocess.run([sys.executable, "-m", "einsumgrad", *a], capture_output=True, text=True)  # noqa: E731
    out = run("grad", "--latex-input", ", ".join(HALF_SSE), "--wrt", r"\Theta", "--explain")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[:2] == ["1. Read the LaTeX, in index notation:",
                                           "     L = Σ_i,j 0.5 (y[i,j] - h(Σ_k X[i,k] Θ[k,j]))²"]
    assert "read as the matrix product" in out.stderr
    for bad in (r"L = \sum_i (x_i", r"L = \foo{x}"):
        err = run("grad", "--latex-input", bad, "--wrt", "x")
        assert err.returncode == 2 and err.stdout == "" and len(err.stderr.strip().splitlines()) == 1


def test_the_page_reads_latex():
    reply = respond({"expression": "; ".join(ORTHOGONALITY), "wrt": r"\Phi", "kind": "gradient", "notation": "latex",
                     "shapes": "Φ=4x2x3, β="})
    assert reply["ok"], reply
    assert "Read the LaTeX" in reply["derivation"] and "PASS" in reply["check"]
    bad = respond({"expression": r"\sum_{i} x_i", "wrt": "x", "notation": "TeX"})
    assert not bad["ok"] and "notation: choose one of python, index, latex" in bad["error"]


@settings(max_examples=examples(150), deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problems(max_depth=2))
def test_round_trip_of_printed_latex(problem):
    tensors = {n: eg.tensor(n, s) for n, s in SHAPES.items()}
    e = problem.node.fn(eg, tensors)
    env = problem.arrays()
    env = {n: a for n, a in env.items() if n in eg.compile(e).accepted}
    expected = np.asarray(eg.evaluate(e, **env))
    text = render.latex(e.node)
    sizes = {a: n for a, n in zip(e.node.out, e.shape) if a not in SHAPES}  # y_{ij} = 0 says nothing of sizes
    back, _ = read_latex(text, shapes={**SHAPES, **sizes})
    value = np.asarray(eg.evaluate(back, **{n: a for n, a in env.items() if n in eg.compile(back).accepted}))
    assert value.shape == expected.shape, text
    assert np.allclose(value, expected, rtol=1e-4, atol=1e-6), text


@pytest.mark.parametrize("text, problem, carets", [
    (r"L = \frac{1}{2}\|y - Xw", r"unbalanced '\\|'", 2),
    (r"y_{i} = \sum_{j} W_{ij} x_{j}}", "nothing open to close", 1),
    (r"L = \sum_{i} (x_{i}", "unbalanced '('", 2),
    (r"L = \sum_{i=1}^{m} a_{i} b_{i}", "index i has two ranges", 2),
    (r"L = \sum_{i} x_{i} + y_{j}", "index j is neither summed nor named on the left", 1),
    (r"L = \sigmaa(x)", r"unknown macro \sigmaa (did you mean \sigma?)", 1),
    (r"L = \frac{\partial f}{\partial x}", "derivatives are what einsumgrad works out", 1),
    (r"L = x_1", "a subscript here is an index, not a number", 1),
    (r"L = \operatorname{tanhh}(x)", "unknown function 'tanhh'", 1),
    (r"L = \sum |A \circ C|", "the Hadamard product ∘ needs one shape", 1),
    ("x + " * 25_001, "at most 100,000 characters", 1),
    ("(" * 5000 + "x" + ")" * 5000, "nested more than 100 levels", 1),
])
def test_bad_input_is_a_clear_error_with_a_caret(text, problem, carets):
    shapes = {"a": (2,), "b": (3,)} if "two ranges" in problem else {"A": (2, 3), "C": (4, 2)}
    with pytest.raises(LatexError) as info:
        read_latex(text, shapes)
    message = str(info.value)
    assert isinstance(info.value, eg.EinsumgradError) and problem in message
    assert message.splitlines()[-1].count("^") == carets
    assert len(message) < 1000


def test_wrt_names_as_latex_writes_them():
    from einsumgrad.doors.latex import name

    assert (name(r"\Theta"), name(r"\mathscr{L}"), name(r" \phi "), name("W"), name("x y")) == ("Θ", "L", "φ", "W",
                                                                                               "x y")
