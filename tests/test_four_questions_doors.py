"""The four questions through every door (Python, the command line, the page), in the students' letters:
Θ, Φ, β, L, X, W, b, y. Values against central differences; messages checked word for word where they teach."""
import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.doors import cli, question
from einsumgrad.doors.language import parse_expression
from einsumgrad.doors.web import answer

ORTHOGONALITY = "β * sum(abs(einsum('lmj,lmk->mjk', Φ, Φ) - I))"


def numeric_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """∂f/∂x entry by entry, by central differences."""
    out = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[k] = eps
        out[k] = (f(x + step) - f(x - step)) / (2 * eps)
    return out


def cli_run(capsys, *args):
    """The command line in this process: (status, stdout, stderr)."""
    status = cli.main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def orthogonality_loss(β, n):
    """β Σ_i |Φ_iᵀ Φ_i − I_n|, Φ_i = Φ[:, i, :], with NumPy."""
    return lambda Φ: β * np.abs(np.einsum("lmj,lmk->mjk", Φ, Φ) - np.eye(n)).sum()


# --- 1. I is the identity, also where --shapes gives its size -------------------------------------------------

def test_a_shaped_I_stays_the_identity_in_python():
    shapes = {"Φ": (4, 3, 2), "I": (2, 2), "β": ()}
    L = parse_expression(ORTHOGONALITY, shapes)
    assert set(L.inputs.reads) == {"β", "Φ"}  # no tensor I
    g = eg.grad(L, "Φ")
    assert "δ[" in str(g) and "I[" not in str(g)
    rng = np.random.default_rng(0)
    Φ, β = rng.standard_normal((4, 3, 2)), 0.7
    np.testing.assert_allclose(eg.evaluate(g, Φ=Φ, β=β), numeric_gradient(orthogonality_loss(β, 2), Φ), atol=1e-6)


def test_a_shaped_I_stays_the_identity_in_the_pipeline_and_the_command_line(capsys):
    r = question.read(question.Question(ORTHOGONALITY, "Φ", shapes="Φ=4x3x2,I=2x2,β="))
    arrays = question.arrays(r)
    assert set(arrays) == {"Φ", "β"}
    value = question.evaluate(question.derive(r), arrays)
    np.testing.assert_allclose(value, numeric_gradient(orthogonality_loss(arrays["β"], 2), arrays["Φ"]), atol=1e-6)
    status, out, _ = cli_run(capsys, "grad", ORTHOGONALITY, "--wrt", "Φ", "--shapes", "Φ=4x3x2,I=2x2,β=")
    assert status == 0 and "δ[k,l]" in out and "I[" not in out and "PASS" in out


@pytest.mark.parametrize("shapes, message", [
    ("Φ=4x3x2,I=3x3,β=", "the identity I is 3x3 (its shape given), but the matrix beside it needs 2x2"),
    ("Φ=4x3x2,I=2x3,β=", "I is the identity matrix, so its shape is n×n (such as I=3x3), got 2x3; give a tensor "
                          "of your own another name"),
])
def test_a_shape_of_I_that_does_not_fit_is_refused(capsys, shapes, message):
    status, out, err = cli_run(capsys, "grad", ORTHOGONALITY, "--wrt", "Φ", "--shapes", shapes)
    assert status == 2 and not out and message in err and err.count("\n") == 1


def test_a_shaped_I_stays_the_identity_on_the_page():
    reply = answer.respond({"expression": ORTHOGONALITY, "wrt": "Φ", "kind": "gradient",
                            "shapes": {"Φ": [4, 3, 2], "I": [2, 2], "β": []}})
    assert reply["ok"], reply
    assert "δ[k,l]" in reply["text"] and "I[" not in reply["text"]
    assert "I =" not in reply["inputs"] and "PASS" in reply["check"]
    example = answer.respond(answer.EXAMPLES[3]._asdict())  # the page's own orthogonality example: I=3x3
    assert example["ok"] and "I =" not in example["inputs"] and "δ[" in example["text"]


# --- 3. a result has a name of its own: L = ..., .named("L"); unnamed, never an input's ------------------------

def dimensions_question(m=4):
    """L = (X W + b) y, X 1×m, W m×10, b 1×10, y 10×1: the dimensions question's tensors and arrays."""
    X, W, b, y = eg.tensor("X", (1, m)), eg.tensor("W", (m, 10)), eg.tensor("b", (1, 10)), eg.tensor("y", (10, 1))
    rng = np.random.default_rng(3)
    arrays = {"X": rng.standard_normal((1, m)), "W": rng.standard_normal((m, 10)),
              "b": rng.standard_normal((1, 10)), "y": rng.standard_normal((10, 1))}
    return (X, W, b, y), arrays


def test_an_unnamed_result_never_takes_an_inputs_name():
    (X, W, b, y), _ = dimensions_question()
    shown = str((X @ W + b) @ y)
    assert shown.startswith("f[i,k] = ") and not shown.startswith("y[")
    assert str(eg.tensor("W", 2) @ eg.tensor("x", 1)).startswith("y[i] = ")  # y where no tensor is named y


def test_a_named_result_names_its_derivatives_in_python():
    (X, W, b, y), arrays = dimensions_question()
    L = ((X @ W + b) @ y).named("L")
    assert str(L).startswith("L[i,k] = Σ_j y[j,k] ")
    g = eg.grad(L, W)
    assert str(g).startswith("∂L/∂W[i,j] = ")
    assert str(eg.grad(L.named("𝓛"), W)).startswith("∂𝓛/∂W[i,j] = ")
    assert str(eg.check(L, W, **arrays)).startswith("PASS: ∂L/∂W vs central differences")
    with pytest.raises(eg.EinsumgradError, match="y is a tensor this expression reads: name the result otherwise"):
        L.named("y")
    with pytest.raises(eg.EinsumgradError, match="a result's name is a Python-style identifier"):
        L.named("∂L")


def test_a_named_result_in_the_language_the_command_line_and_the_page(capsys):
    text, shapes = "L = (X @ W + b) @ y", "X=1x4,W=4x10,b=1x10,y=10x1"
    assert str(parse_expression(text, question.parse_shapes(shapes))).startswith("L[i,k] = ")
    status, out, err = cli_run(capsys, "grad", text, "--wrt", "W", "--shapes", shapes)
    assert status == 0 and out.startswith("∂L/∂W[i,j] = ") and "PASS: ∂L/∂W" in out
    reply = answer.respond({"expression": text, "wrt": "W", "shapes": shapes})
    assert reply["text"].startswith("∂L/∂W[i,j] = ") and "Gradient layout: ∂L/∂W[i,j]" in reply["layout"]
    status, _, err = cli_run(capsys, "grad", "y = (X @ W + b) @ y", "--wrt", "W", "--shapes", shapes)
    assert status == 2 and "y is a tensor this expression reads: name the result otherwise, at column 1" in err


# --- 4. a 1×1 result is a scalar for the gradient, said so in one line ------------------------------------------

def test_the_dimensions_question_as_written_in_python():
    (X, W, b, y), arrays = dimensions_question()
    L = ((X @ W + b) @ y).named("L")  # 1×1, as the student wrote it
    g = eg.grad(L, W)
    value = eg.evaluate(g, **arrays)
    assert value.shape == (4, 10)
    np.testing.assert_allclose(value, arrays["X"].T @ arrays["y"].T)  # ∂L/∂W = Xᵀ yᵀ, shaped like W

    def loss(w):
        return ((arrays["X"] @ w + arrays["b"]) @ arrays["y"]).item()

    np.testing.assert_allclose(value, numeric_gradient(loss, arrays["W"]), atol=1e-6)
    assert eg.hessian(L, W).shape == (4, 10, 4, 10)
    steps = eg.differential(L, W).steps
    assert steps[0].line.startswith("L = ")
    with pytest.raises(eg.DerivativeError, match=r"got rank 2; .*a result whose every axis has size 1, such as "
                                                 r"1×1, is taken as a scalar; this one has shape \(1, 10\)"):
        eg.grad(X @ W, W)


def test_the_dimensions_question_as_written_on_the_command_line_and_the_page(capsys):
    text, shapes = "(X @ W + b) @ y", "X=1x4,W=4x10,b=1x10,y=10x1"
    status, out, err = cli_run(capsys, "grad", "L = " + text, "--wrt", "W", "--shapes", shapes)
    assert status == 0 and "PASS" in out
    assert err == "einsumgrad: note: L is 1×1: taken as the scalar L[0,0]\n"
    status, out, err = cli_run(capsys, "grad", text, "--wrt", "W", "--shapes", shapes, "--differential")
    assert status == 0 and "∂L/∂W[i,j] = " in out and err == "einsumgrad: note: f is 1×1: taken as the scalar f[0,0]\n"
    reply = answer.respond({"expression": "L = " + text, "wrt": "W", "shapes": shapes})
    assert reply["ok"] and reply["notes"] == ["L is 1×1: taken as the scalar L[0,0]"] and "PASS" in reply["check"]
    r = question.read(question.Question("L = " + text, "W", shapes=shapes))
    arrays = question.arrays(r)
    value = question.evaluate(question.derive(r), arrays)
    np.testing.assert_allclose(value, arrays["X"].T @ arrays["y"].T)
    status, _, err = cli_run(capsys, "grad", "X @ W", "--wrt", "W", "--shapes", "X=1x4,W=4x10")
    assert status == 2 and "a result whose every axis has size 1 (1×1 at the shapes given) is taken as a scalar" in err


# --- 5. ∂Θ/∂L: why it is not the question, and ∂L/∂Θ with the update, in the student's letters ----------------

WHY = ("∂Θ/∂L is not what gradient descent needs: L is a function of Θ, not Θ of L, so ∂Θ/∂L is not defined. "
       "Training needs ∂L/∂Θ ({how}), shaped like Θ: each entry is how fast L changes as that entry of Θ does. "
       "Step against it: the update Θ ← Θ − η ∂L/∂Θ, η > 0 a small step size, lowers L")
HALF_SSE = "0.5 * sum((Y - tanh(X @ Θ))**2)"


def half_sse():
    X, Y, Θ = eg.tensor("X", (5, 3)), eg.tensor("Y", (5, 2)), eg.tensor("Θ", (3, 2))
    return X, Y, Θ, 0.5 * eg.sum((Y - eg.tanh(X @ Θ)) ** 2)


@pytest.mark.parametrize("call", [eg.grad, eg.jacobian, eg.hessian])
@pytest.mark.parametrize("named", [True, False])
def test_theta_by_the_loss_in_python(call, named):
    X, Y, Θ, L = half_sse()
    what = "the scalar expression L" if named else "a scalar expression (L here)"
    with pytest.raises(eg.DerivativeError) as err:
        call(Θ, L.named("L") if named else L)
    assert str(err.value) == f"wrt is {what}, not a tensor: " + WHY.format(how="eg.grad(L, Θ)")
    assert "the loss" not in str(err.value)


def test_theta_by_a_name_in_python_and_the_gradient_it_points_to():
    X, Y, Θ, L = half_sse()
    with pytest.raises(eg.DerivativeError) as err:
        eg.grad(Θ, "L")
    assert str(err.value) == "wrt='L': Θ is a tensor, not a function of L: " + WHY.format(how="eg.grad(L, Θ)")
    rng = np.random.default_rng(5)
    a = {"X": rng.standard_normal((5, 3)), "Y": rng.standard_normal((5, 2)), "Θ": rng.standard_normal((3, 2))}

    def loss(θ):
        return 0.5 * ((a["Y"] - np.tanh(a["X"] @ θ)) ** 2).sum()

    G = eg.evaluate(eg.grad(L, Θ), **a)  # what the message points to, shaped like Θ
    assert G.shape == (3, 2)
    np.testing.assert_allclose(G, numeric_gradient(loss, a["Θ"]), atol=1e-6)
    assert loss(a["Θ"] - 1e-3 * G) < loss(a["Θ"])  # the update lowers L


@pytest.mark.parametrize("wrt, what, how", [
    (HALF_SSE, f"--wrt {HALF_SSE!r} is an expression, not the name of a tensor",
     f"the expression L = {HALF_SSE}, differentiated by Θ"),
    ("L", "--wrt L: Θ is a tensor, not a function of L", "the loss as the expression, differentiated by Θ"),
])
def test_theta_by_the_loss_on_the_command_line_and_the_page(capsys, wrt, what, how):
    expected = f"{what}: " + WHY.format(how=how)
    status, out, err = cli_run(capsys, "grad", "Θ", "--wrt", wrt)
    assert status == 2 and not out and err == f"einsumgrad: error: {expected}\n"
    reply = answer.respond({"expression": "Θ", "wrt": wrt, "shapes": "Θ=3x2"})
    on_the_page = what.replace(f"--wrt {wrt!r}", f"{wrt!r} in the By box").replace(f"--wrt {wrt}", f"{wrt} in the By box")
    assert reply == {"ok": False, "error": f"{on_the_page}: " + WHY.format(how=how)}


def test_the_loss_as_wrt_names_the_students_tensors(capsys):
    status, _, err = cli_run(capsys, "grad", HALF_SSE, "--wrt", HALF_SSE)
    assert status == 2 and "here one of X, Y, Θ: --wrt Θ gives ∂L/∂Θ, shaped like Θ, for the update " \
                           "Θ ← Θ − η ∂L/∂Θ" in err and "W" not in err
    status, out, _ = cli_run(capsys, "grad", HALF_SSE, "--wrt", "Θ", "--shapes", "X=5x3,Θ=3x2,Y=5x2")
    assert status == 0 and "PASS: ∂f/∂Θ" in out
