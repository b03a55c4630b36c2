"""The four questions through every door (Python, the command line, the page), in the students' letters:
Θ, Φ, β, L, X, W, b, y. Values against central differences; messages checked word for word where they teach."""
import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad import cli, question
from einsumgrad.language import parse_expression
from einsumgrad.web import answer

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
