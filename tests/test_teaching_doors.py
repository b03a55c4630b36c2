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
    assert str(asked) == "y[l] = Σ_j 2 Φ[l,1,j] β sign(Σ_m Φ[m,1,j] Φ[m,1,0] - δ[j,0])"
    P, beta = RNG.standard_normal((4, 2, 3)), 0.5
    Pa = P[:, 1, :]
    closed = 2 * beta * Pa @ np.sign(Pa.T @ Pa - np.eye(3))[:, 0]
    np.testing.assert_allclose(eg.evaluate(asked, **{"Φ": P, "β": beta}), closed)


def test_selections_print_as_reads():
    W, x, y = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("y", (5,))
    assert str(x[0]) == "y = x[0]"
    assert str((W @ x)[1]) == "y = Σ_j W[1,j] x[j]"
    assert str(y[-3::2]) == "y[j] = y[2j+2]"
    assert eg.tensor("P", (4, 3, 2))[:, 0, 1].latex() == r"y_{i} = P_{i,0,1}"
    a = {"W": RNG.standard_normal((2, 3)), "x": RNG.standard_normal(3)}
    np.testing.assert_allclose(eg.evaluate((W @ x)[1], **a), (a["W"] @ a["x"])[1])


def test_the_orthogonality_demo_prints_the_slice_without_selection_deltas(capsys):
    from einsumgrad.demos import demo_orthogonality

    assert demo_orthogonality() == 0
    out = capsys.readouterr().out
    assert "y[l] = Σ_j 2 Φ[l,1,j] β sign(Σ_m Φ[m,1,j] Φ[m,1,2] - δ[j,2])" in out


# item 9: the CLI's jacobian takes an expression and --wrt by name, --names with a name, --indices


def _cli(capsys, *argv):
    from einsumgrad.cli import main

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
