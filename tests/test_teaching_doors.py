"""The teaching doors of issue 21: slices read at fixed positions, the Kronecker chain rule step by
step, the layouts of a vector gradient, the CLI's jacobian by name, and LaTeX that compiles."""
import numpy as np
import pytest

import einsumgrad as eg

RNG = np.random.default_rng(21)


def _orthogonality():
    Phi, beta = eg.tensor("Φ", 3), eg.scalar("β")
    gram = eg.einsum("lij,lik->ijk", Phi, Phi)
    return Phi, beta * eg.sum(eg.abs(gram - eg.eye(Phi.shape[2])))


# item 2: a slice at an int position reads the factors there, no δ against a number


def test_slice_of_the_orthogonality_gradient_reads_fixed_positions():
    Phi, L = _orthogonality()
    asked = eg.grad(L, Phi, indices="lab")[:, 1, 0]
    assert str(asked) == "∂f/∂Φ[l,1,0] = Σ_j 2 Φ[l,1,j] β sign(Σ_m Φ[m,1,j] Φ[m,1,0] - I[j,0])"
    P, beta = RNG.standard_normal((4, 2, 3)), 0.5
    Pa = P[:, 1, :]
    closed = 2 * beta * Pa @ np.sign(Pa.T @ Pa - np.eye(3))[:, 0]
    np.testing.assert_allclose(eg.evaluate(asked, **{"Φ": P, "β": beta}), closed)


def test_selections_print_as_reads():
    W, x, y = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("y", (5,))
    assert str(x[0]) == "y = x[0]"
    assert str((W @ x)[1]) == "y = Σ_j W[1,j] x[j]"
    assert str(y[-3::2]) == "f[j] = y[2j+2]"  # a result never takes an input's name
    assert eg.tensor("P", (4, 3, 2))[:, 0, 1].latex() == r"y_{i} = P_{i,0,1}"
    a = {"W": RNG.standard_normal((2, 3)), "x": RNG.standard_normal(3)}
    np.testing.assert_allclose(eg.evaluate((W @ x)[1], **a), (a["W"] @ a["x"])[1])


def test_the_orthogonality_demo_prints_the_slice_without_selection_deltas(capsys):
    from einsumgrad.doors.demos import demo_orthogonality

    assert demo_orthogonality() == 0
    out = capsys.readouterr().out
    assert "∂L/∂Φ[l,1,2] = Σ_j 2 Φ[l,1,j] β sign(Σ_m Φ[m,1,j] Φ[m,1,2] - I[j,2])" in out


# item 9: the CLI's jacobian takes an expression and --wrt by name, --names with a name, --indices


def _cli(capsys, *argv):
    from einsumgrad.doors.cli import main

    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_jacobian_of_an_expression_by_name(capsys):
    status, out, err = _cli(capsys, "jacobian", "W @ x", "--wrt", "W", "--shapes", "W=2x3,x=3")
    assert status == 0 and out.startswith("∂f[i]/∂W[j,k] = δ[i,j] x[k]\n") and "PASS" in out


def test_cli_jacobian_indices_and_names(capsys):
    assert _cli(capsys, "jacobian", "tanh(W @ x)", "--wrt", "W", "--indices", "iab")[1] == \
        "∂f[i]/∂W[a,b] = δ[i,a] x[b] (1 - tanh(Σ_j W[i,j] x[j])²)\n"
    status, out, _ = _cli(capsys, "jacobian", "ij,j->i", "--names", "W,x", "--wrt", "W")
    assert status == 0 and out.startswith("∂y[i]/∂W[j,k] = δ[i,j] x[k]")
    assert _cli(capsys, "jacobian", "ij,j->i", "--names", "W,x", "--wrt", "x")[1].startswith("∂y[i]/∂x[j] = W[i,j]")
    assert _cli(capsys, "grad", "sum(W @ x)", "--wrt", "W", "--indices", "ab")[1] == "∂f/∂W[a,b] = x[b]\n"


@pytest.mark.parametrize("argv, expected", [
    (("W @ x",), "--wrt: name the tensor of 'W @ x' to differentiate by"),
    (("W @ x", "--wrt", "0"), "--wrt: name the tensor of 'W @ x'"),
    (("W @ x", "--wrt", "W", "--names", "W,x"), "--names names an einsum spec's operands"),
    (("W @ x", "--wrt", "Q"), "--wrt Q: no tensor of that name in the expression (it has W, x)"),
    (("W @ x", "--wrt", "W", "--indices", "ab"), "indices='ab': give 3 different index names"),
    (("ij,j->i", "--wrt", "W"), "--wrt W: the operands of an einsum spec have no names; give them with --names"),
    (("ij,j->i", "--names", "A,B", "--wrt", "W"), "--wrt W: no operand of that name (--names A,B)"),
    (("ij,j->i", "--indices", "abc"), "--indices takes an expression, not an einsum spec"),
    (("W @ x", "--wrt", "W", "--plot", "j.png"), "--plot draws the Jacobian's numbers: give --shapes too"),
])
def test_cli_jacobian_errors_are_one_line(capsys, argv, expected):
    status, out, err = _cli(capsys, "jacobian", *argv)
    assert status == 2 and out == "" and err.count("\n") == 1 and expected in err, err


# item 10: every LaTeX output compiles with plain pdflatex and amsmath


def _latex_outputs():
    """~20 LaTeX outputs: derivations (prose and displays), differentials, Hessians, h′, Greek and script names."""
    from einsumgrad.notation.differential import differential
    from einsumgrad.expression import Expression

    W, x, g = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("g", 1)
    X, Y, T, w = eg.tensor("X", 2), eg.tensor("Y", 2), eg.tensor("Θ", 2), eg.tensor("w", 1)
    h = eg.function("h_teach")  # h_teach′ in the derivatives; the CLI's below reads h itself
    sse = Expression((0.5 * eg.sum((Y - h(X @ T)) ** 2)).node, "𝓛")
    Phi, ortho = _orthogonality()
    S = eg.tensor("S", 2, symmetric=True)
    logistic = eg.sum(eg.log(1 + eg.exp(X @ w)))
    J = eg.jacobian("ij,j->i", names="W,x")
    text = [J.explain().latex(), eg.explain(eg.sum(eg.tanh(W @ x)), W).latex(), differential(g @ (W @ x), W).latex(),
            differential(sse, T).latex(), eg.explain(sse, T).latex(), eg.explain(ortho, Phi).latex(),
            eg.explain(eg.trace(eg.inv(X) @ Y), X).latex(), eg.explain(eg.trace(Y @ S), S).latex(),
            eg.explain(g @ (W @ x), x).latex(), eg.explain(eg.softmax(W @ x) @ g, W).latex(),
            eg.explain(eg.sum(eg.tanh(W @ eg.tanh(W @ x))), W).latex()]
    math = [J.latex(), eg.grad(sse, T).latex(), eg.grad(sse, T).matrix_notation(latex=True),
            eg.hessian(logistic, w).latex(), eg.hessian(logistic, w).matrix_notation(latex=True),
            eg.grad(ortho, Phi, indices="lab")[:, 1, 0].latex(), eg.grad(eg.logdet(X), X).latex(),
            eg.jacobian(eg.tanh(W @ x), W).latex(), eg.grad(eg.sum(eg.tanh(W @ eg.tanh(W @ eg.tanh(W @ x)))), W).latex()]
    return text + [rf"\[ {m} \]" for m in math]


def _cli_latex(capsys):
    return [_cli(capsys, *argv)[1] for argv in (
        ("jacobian", "ij,j->i", "--names", "W,x", "--explain", "--latex"),
        ("grad", "0.5 * sum((Y - h(X @ Θ))**2)", "--wrt", "Θ", "--differential", "--latex"),
        ("grad", "0.5 * sum((Y - h(X @ Θ))**2)", "--wrt", "Θ", "--explain", "--latex"),
        ("hessian", "sum(log(1 + exp(X @ w)))", "--wrt", "w", "--explain", "--latex"),
        ("jacobian", "W @ x", "--wrt", "W", "--layout", "vec", "--explain", "--latex"),
        ("jacobian", "ij,j->i", "--names", "W,x", "--layout", "vec", "--explain", "--latex"))]


def _compiles(body: str, tmp_path) -> str:
    """pdflatex's complaint about a document holding ``body``, or "" when it compiles."""
    import subprocess

    tex = tmp_path / "doc.tex"
    tex.write_text("\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body
                   + "\n\\end{document}\n", encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60, errors="replace")
    return "" if run.returncode == 0 else next((line for line in run.stdout.splitlines() if line.startswith("!")), "?")


@pytest.mark.slow
def test_every_latex_output_compiles_with_pdflatex(tmp_path, capsys):
    import shutil

    outputs = _latex_outputs() + _cli_latex(capsys)
    assert all(s.isascii() for s in outputs), [s for s in outputs if not s.isascii()][:1]
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (Debian: texlive-latex-base)")
    if _compiles("\n\n".join(outputs), tmp_path):  # one run for all; on failure, find which
        failures = {s[:80]: why for s in outputs if (why := _compiles(s, tmp_path))}
        assert not failures, failures


# item 6: why the chain rule meets a Kronecker product, each step evaluable


def test_vec_steps_show_the_kronecker_product_and_the_chain_rule_through_it():
    from einsumgrad.notation.layouts import vec_matrix

    steps = eg.jacobian("ij,j->i", names="W,x", layout="vec").explain().steps
    lines = [s.line for s in steps]
    assert "∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I_m" in lines and "∂L/∂vec(W)ᵀ = gᵀ (xᵀ ⊗ I_m) = vec(g xᵀ)ᵀ" in lines
    stacked, chained = (steps[lines.index(s)] for s in ("∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I_m",
                                                       "∂L/∂vec(W)ᵀ = gᵀ (xᵀ ⊗ I_m) = vec(g xᵀ)ᵀ"))
    W, x, g = RNG.standard_normal((2, 3)), RNG.standard_normal(3), RNG.standard_normal(2)
    kron = np.kron(x[None, :], np.eye(2))
    np.testing.assert_allclose(vec_matrix(eg.evaluate(stacked.expr, W=W, x=x), 1), kron)
    G = eg.evaluate(chained.expr, W=W, x=x, g=g)
    np.testing.assert_allclose(G, np.outer(g, x))
    np.testing.assert_allclose(G.reshape(-1, order="F"), g @ kron)  # vec(g xᵀ)ᵀ = gᵀ (xᵀ ⊗ I_m)


def test_vec_steps_of_an_expression_on_the_command_line(capsys):
    status, out, _ = _cli(capsys, "jacobian", "A @ X @ B", "--wrt", "X", "--layout", "vec", "--explain",
                          "--shapes", "A=2x3,X=3x4,B=4x2")
    assert status == 0 and "∂vec(f)/∂vec(X)ᵀ = Bᵀ ⊗ A" in out and "∂L/∂vec(X)ᵀ = vec(g)ᵀ (Bᵀ ⊗ A) = vec(Aᵀ g Bᵀ)ᵀ" in out
    A, B, g = RNG.standard_normal((2, 3)), RNG.standard_normal((4, 2)), RNG.standard_normal((2, 2))
    vec = lambda M: M.reshape(-1, order="F")  # noqa: E731
    np.testing.assert_allclose(vec(g) @ np.kron(B.T, A), vec(A.T @ g @ B.T))  # the identity the step uses


# item 7: the layouts of a vector gradient, the textbook's row beside jax's column


def test_explain_by_a_vector_has_a_layout_step_with_the_textbooks_row():
    W, x, g = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("g", 1)
    step = eg.explain(g @ (W @ x), x).steps[-1]
    assert step.rule.startswith("Layouts: the shape layout (jax, torch) and Wikipedia's denominator layout give "
                                "∂f/∂x = Wᵀ g, a column of n like x; Wikipedia's numerator layout")
    assert "writes the row gᵀ W, 1×n" in step.rule
    a = {"W": RNG.standard_normal((2, 3)), "x": RNG.standard_normal(3), "g": RNG.standard_normal(2)}
    np.testing.assert_allclose(eg.evaluate(step.expr, **a), a["W"].T @ a["g"])
    assert "writes the row 2 xᵀ, 1×n" in eg.explain(x @ x, x).steps[-1].rule
