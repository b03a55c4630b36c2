"""matrix_notation: each formula it prints, and the value that formula has, written in NumPy by hand."""
import subprocess
import sys

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.notation.matrix import matrix_notation

A, B, C, W = (eg.tensor(n, 2) for n in "ABCW")
x, y, g, w = (eg.tensor(n, 1) for n in "xygw")
s = eg.tensor("s", 0)
W1, W2, b1, b2 = eg.tensor("W1", 2), eg.tensor("W2", 2), eg.tensor("b1", 1), eg.tensor("b2", 1)
MLP_LOSS = 0.5 * eg.sum((y - eg.tanh(W2 @ eg.tanh(W1 @ x + b1) + b2)) ** 2)
inv = np.linalg.inv


def sigma(v):
    return 1 / (1 + np.exp(-v))


# (what it is, the expression, its matrix notation, that notation computed in NumPy)
FORMULAS = [
    # chains
    ("product", A @ B, "A B", lambda a: a["A"] @ a["B"]),
    ("transpose times vector", eg.einsum("ij,i->j", A, x), "Aᵀ x", lambda a: a["A"].T @ a["x"]),
    ("row vector times matrix", x @ A, "Aᵀ x", lambda a: a["A"].T @ a["x"]),
    ("transposed first factor", eg.einsum("ji,jk->ik", A, B), "Aᵀ B", lambda a: a["A"].T @ a["B"]),
    ("transposed second factor", A @ B.T, "A Bᵀ", lambda a: a["A"] @ a["B"].T),
    ("transposed product", (A @ B).T, "Bᵀ Aᵀ", lambda a: a["B"].T @ a["A"].T),
    ("three factors", A @ B @ x, "A B x", lambda a: a["A"] @ a["B"] @ a["x"]),
    ("Gram matrix", A.T @ A, "Aᵀ A", lambda a: a["A"].T @ a["A"]),
    ("coefficient", 2 * A @ x, "2 A x", lambda a: 2 * a["A"] @ a["x"]),
    ("scalar times vector", s * x, "s x", lambda a: a["s"] * a["x"]),
    ("bilinear form", x @ A @ y, "xᵀ A y", lambda a: a["x"] @ a["A"] @ a["y"]),
    # outer products
    ("outer product", eg.einsum("i,j->ij", g, x), "g xᵀ", lambda a: np.outer(a["g"], a["x"])),
    ("outer product, transposed", eg.einsum("i,j->ji", x, y), "y xᵀ", lambda a: np.outer(a["y"], a["x"])),
    ("chain times row", eg.einsum("ij,j,k->ik", A, x, y), "A x yᵀ", lambda a: np.outer(a["A"] @ a["x"], a["y"])),
    ("column times chain", eg.einsum("ij,j,k->ki", A, x, y), "y (A x)ᵀ", lambda a: np.outer(a["y"], a["A"] @ a["x"])),
    # diag(w) weights
    ("weight between two matrices", eg.einsum("ij,j,jk->ik", A, w, B), "A diag(w) B",
     lambda a: a["A"] @ np.diag(a["w"]) @ a["B"]),
    ("weight on the rows", eg.einsum("i,ij->ij", w, A), "diag(w) A", lambda a: np.diag(a["w"]) @ a["A"]),
    ("weight on the columns", eg.einsum("ij,j->ij", A, w), "A diag(w)", lambda a: a["A"] @ np.diag(a["w"])),
    ("weights on both sides", eg.einsum("ij,i,j->ij", A, x, y), "diag(x) A diag(y)",
     lambda a: np.diag(a["x"]) @ a["A"] @ np.diag(a["y"])),
    # Hadamard products
    ("Hadamard product", A * B, "(A ⊙ B)", lambda a: a["A"] * a["B"]),
    ("Hadamard with a transpose", A * B.T, "(A ⊙ Bᵀ)", lambda a: a["A"] * a["B"].T),
    ("Hadamard of three", A * B * C, "((A ⊙ B) ⊙ C)", lambda a: a["A"] * a["B"] * a["C"]),
    ("Hadamard of vectors", x * y, "(x ⊙ y)", lambda a: a["x"] * a["y"]),
    ("Hadamard with a function", eg.exp(A) * B, "(B ⊙ exp(A))", lambda a: a["B"] * np.exp(a["A"])),
    ("elementwise power", x**2, "x^∘2", lambda a: a["x"] ** 2),
    # traces
    ("trace of a product of three", eg.trace(A @ B @ C), "tr(A B C)", lambda a: np.trace(a["A"] @ a["B"] @ a["C"])),
    # sums and transposes
    ("matrix plus its transpose", A + A.T, "A + Aᵀ", lambda a: a["A"] + a["A"].T),
    ("difference", A - B, "A - B", lambda a: a["A"] - a["B"]),
    ("outer product plus matrix", eg.einsum("i,j->ij", g, x) + A, "g xᵀ + A",
     lambda a: np.outer(a["g"], a["x"]) + a["A"]),
    # inverses and functions
    ("inverse times vector", eg.inv(A) @ x, "A⁻¹ x", lambda a: inv(a["A"]) @ a["x"]),
    ("inverse transposed", eg.inv(A).T, "A⁻ᵀ", lambda a: inv(a["A"]).T),
    ("inverse transposed times vector", eg.einsum("ji,j->i", eg.inv(A), x), "A⁻ᵀ x",
     lambda a: inv(a["A"]).T @ a["x"]),
    ("inverse of a product", eg.inv(A @ B), "(A B)⁻¹", lambda a: inv(a["A"] @ a["B"])),
    ("reciprocal of a scalar", 1 / s, "s⁻¹", lambda a: 1 / a["s"]),
    ("function of a chain", eg.tanh(A @ x), "tanh(A x)", lambda a: np.tanh(a["A"] @ a["x"])),
]

# derivatives: (what it is, the derivative, its matrix notation, that notation computed in NumPy)
DERIVATIVES = [
    ("∂ gᵀWx/∂W", eg.grad(g @ (W @ x), W), "g xᵀ", lambda a: np.outer(a["g"], a["x"])),
    ("∂ Σ tanh(Wx)/∂W", eg.grad(eg.sum(eg.tanh(W @ x)), W), "(1 - tanh(W x)^∘2) xᵀ",
     lambda a: np.outer(1 - np.tanh(a["W"] @ a["x"]) ** 2, a["x"])),
    ("∂ Σ tanh(Wx)/∂x", eg.grad(eg.sum(eg.tanh(W @ x)), x), "Wᵀ (1 - tanh(W x)^∘2)",
     lambda a: a["W"].T @ (1 - np.tanh(a["W"] @ a["x"]) ** 2)),
    ("∂ xᵀAx/∂x", eg.grad(x @ A @ x, x), "A x + Aᵀ x", lambda a: a["A"] @ a["x"] + a["A"].T @ a["x"]),
    ("∂² xᵀAx/∂x²", eg.hessian(x @ A @ x, x), "A + Aᵀ", lambda a: a["A"] + a["A"].T),
    ("∂ Ax/∂x", eg.jacobian(A @ x, x), "A", lambda a: a["A"]),
    ("∂ tr(AB)/∂A", eg.grad(eg.trace(A @ B), A), "Bᵀ", lambda a: a["B"].T),
    ("∂ tr(ABC)/∂B", eg.grad(eg.trace(A @ B @ C), B), "Aᵀ Cᵀ", lambda a: a["A"].T @ a["C"].T),
    ("∂ |Ax - y|²/∂x", eg.grad(eg.sum((A @ x - y) ** 2), x), "2 Aᵀ (A x - y)",
     lambda a: 2 * a["A"].T @ (a["A"] @ a["x"] - a["y"])),
    ("∂² |Ax|²/∂x²", eg.hessian(eg.sum((A @ x) ** 2), x), "2 Aᵀ A", lambda a: 2 * a["A"].T @ a["A"]),
    ("∂ log|det A|/∂A", eg.grad(eg.logdet(A), A), "A⁻ᵀ", lambda a: inv(a["A"]).T),
    ("∂ det A/∂A", eg.grad(eg.det(A), A), "adj(A)ᵀ", lambda a: (np.linalg.det(a["A"]) * inv(a["A"])).T),
    ("∂ yᵀA⁻¹x/∂A", eg.grad(y @ eg.inv(A) @ x, A), "-A⁻ᵀ y (A⁻¹ x)ᵀ",
     lambda a: -np.outer(inv(a["A"]).T @ a["y"], inv(a["A"]) @ a["x"])),
    ("∂ tr(A⁻¹B)/∂A", eg.grad(eg.trace(eg.inv(A) @ B), A), "-A⁻ᵀ Bᵀ A⁻ᵀ",
     lambda a: -inv(a["A"]).T @ a["B"].T @ inv(a["A"]).T),
    ("∂² Σ log(1 + exp(Aw))/∂w²", eg.hessian(eg.sum(eg.log(1 + eg.exp(A @ w))), w),
     "Aᵀ diag((exp(A w) ⊙ (1 + exp(A w))^∘-1) - ((exp(A w) ⊙ exp(A w)) ⊙ (1 + exp(A w))^∘-2)) A",
     lambda a: a["A"].T @ np.diag(sigma(a["A"] @ a["w"]) * (1 - sigma(a["A"] @ a["w"]))) @ a["A"]),
]


def backprop(a):
    """The MLP's gradients by hand: z1 = W1 x + b1, h1 = tanh(z1), out = tanh(W2 h1 + b2)."""
    h1 = np.tanh(a["W1"] @ a["x"] + a["b1"])
    out = np.tanh(a["W2"] @ h1 + a["b2"])
    delta2 = (out - a["y"]) * (1 - out**2)
    delta1 = (a["W2"].T @ delta2) * (1 - h1**2)
    return {"W1": np.outer(delta1, a["x"]), "b1": delta1, "W2": np.outer(delta2, h1), "b2": delta2}


H1 = "tanh(W1 x + b1)"
DELTA2 = f"(y - tanh(W2 {H1} + b2)) ⊙ (1 - tanh(W2 {H1} + b2)^∘2)"
DELTA1 = f"(1 - {H1}^∘2) ⊙ (-W2ᵀ ({DELTA2}))"
# formulas users asked for
FOUND = [
    ("∂ Σ(W x)/∂W", eg.grad(eg.sum(W @ x), W), "𝟙 xᵀ", lambda a: np.outer(np.ones(3), a["x"])),
    ("∂ logsumexp(A w)/∂w", eg.grad(eg.logsumexp(A @ w), w), "Aᵀ softmax(A w)",
     lambda a: a["A"].T @ np.exp(a["A"] @ a["w"]) / np.exp(a["A"] @ a["w"]).sum()),
    ("∂ xᵀ(A + Aᵀ)x/∂x", eg.grad(x @ (A + A.T) @ x, x), "2 (A + Aᵀ) x", lambda a: 2 * (a["A"] + a["A"].T) @ a["x"]),
    ("∂² xᵀ(A + Aᵀ)x/∂x²", eg.hessian(x @ (A + A.T) @ x, x), "2 (A + Aᵀ)", lambda a: 2 * (a["A"] + a["A"].T)),
    ("∂² Σ(W x)²/∂x²", eg.hessian(eg.sum((W @ x) ** 2), x), "2 Wᵀ W", lambda a: 2 * a["W"].T @ a["W"]),
    ("MLP ∂L/∂W1", eg.grad(MLP_LOSS, W1), f"({DELTA1}) xᵀ", lambda a: backprop(a)["W1"]),
    ("MLP ∂L/∂b1", eg.grad(MLP_LOSS, b1), f"({DELTA1})", lambda a: backprop(a)["b1"]),
    ("MLP ∂L/∂W2", eg.grad(MLP_LOSS, W2), f"-({DELTA2}) {H1}ᵀ", lambda a: backprop(a)["W2"]),
    ("MLP ∂L/∂b2", eg.grad(MLP_LOSS, b2), f"-({DELTA2})", lambda a: backprop(a)["b2"]),
]


@pytest.fixture
def arrays(rng):
    """3×3 matrices (A well conditioned, not symmetric), 3-vectors and a scalar."""
    a = {n: rng.standard_normal((3, 3)) for n in ("B", "C", "W", "W1", "W2")}
    a |= {n: rng.standard_normal(3) for n in ("x", "y", "g", "w", "b1", "b2")}
    return a | {"A": rng.standard_normal((3, 3)) + 3 * np.eye(3), "s": np.float64(rng.uniform(1, 2))}


@pytest.mark.parametrize("what, expr, text, numpy", FORMULAS + DERIVATIVES + FOUND,
                         ids=[c[0] for c in FORMULAS + DERIVATIVES + FOUND])
def test_formula_and_its_value(arrays, what, expr, text, numpy):
    assert matrix_notation(expr.node) == text
    assert expr.matrix_notation() == text
    f = eg.compile(expr)
    np.testing.assert_allclose(f(**{n: arrays[n] for n in f.names}), numpy(arrays), rtol=1e-10, atol=1e-12)


RANK_3 = "rank 3: matrix notation covers scalars, vectors and matrices"


@pytest.mark.parametrize("what, expr, reason", [
    ("rank 3", eg.jacobian(W @ x, W), RANK_3),  # δ[i,j] x[k]
    ("a third-order tensor summed", eg.einsum("ijk->i", eg.tensor("T", 3)), "a factor of rank 3 or more"),
    ("a diagonal read", eg.einsum("ii->i", A), "a diagonal read such as A[i,i]"),
    ("a trace of one matrix", eg.trace(A), "a diagonal read such as A[i,i]"),
    ("a rank-3 outer product", eg.einsum("ij,k->ijk", A, x), RANK_3),
    ("an index read three times", eg.einsum("ij,jk,jl,l->ik", A, B, C, x), "an index is read three times"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_no_formula_gives_none_and_says_why(what, expr, reason):
    assert expr.matrix_notation() is None
    assert expr.matrix_notation_reason() == reason


def test_a_deep_expression_has_no_formula_and_says_why():
    deep = x
    for _ in range(20):
        deep = eg.tanh(deep)
    assert deep.matrix_notation() is None
    assert deep.matrix_notation_reason() == "deep expression: see the equations above"


def test_a_formula_has_no_reason():
    assert (A @ x).matrix_notation_reason() is None


def test_an_empty_sum_is_zero():
    assert (A - A).matrix_notation() == "0"


@pytest.mark.parametrize("expr, text", [(x @ y, "xᵀ y"), (eg.trace(A @ B), "tr(A B)")])
def test_two_factor_scalars_have_a_formula(expr, text):
    assert expr.matrix_notation() == text


@pytest.mark.slow
def test_the_cli_says_why_there_is_no_formula():
    r = subprocess.run([sys.executable, "-m", "einsumgrad", "hessian", "sum(X**4)", "--wrt", "X", "--matrix",
                        "--shapes", "X=2x2"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == ("matrix notation: none "
                                        "(rank 4: matrix notation covers scalars, vectors and matrices)")
