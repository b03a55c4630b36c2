"""The teaching doors of issue 21: slices read at fixed positions, the Kronecker chain rule step by
step, the layouts of a vector gradient, the CLI's jacobian by name, and LaTeX that compiles."""
import numpy as np

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
