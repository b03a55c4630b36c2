"""eg.differential: dL, its trace form ⟨G, dW⟩, ∂L/∂W = G and the update step — each step evaluated
along a random direction and compared with central differences."""
import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.doors.cli import main

W, x, g = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("g", 1)

GOLDEN = """\
1. The loss, with its sums explicit:
     L = Σ_i,j W[i,j] g[i] x[j]
2. Its differential: the product rule d(A B) = dA B + A dB and, elementwise, d h(u) = h′(u) du, with dW for each read of W:
     dL = Σ_i,j dW[i,j] g[i] x[j] = gᵀ dW x
3. Collect what multiplies dW into one tensor G shaped like W: the trace (Frobenius) form:
     dL = ⟨G, dW⟩ = Σ_i,j G[i,j] dW[i,j] = tr(Gᵀ dW) = tr(x gᵀ dW)
4. Read off the derivative: dL = ⟨G, dW⟩ for every dW means ∂L/∂W = G:
     ∂L/∂W[i,j] = g[i] x[j] = g xᵀ
   G is shaped like W: the shape layout (jax, torch) and Wikipedia's denominator layout; Wikipedia's numerator layout writes Gᵀ.
5. First order: for a small step ΔW, ΔL ≈ ⟨G, ΔW⟩; with ΔW = −η G, ΔL ≈ −η ⟨G, G⟩ = −η ‖G‖², below 0 unless G = 0, \
so W − η G lowers L for small enough η > 0:
     ⟨G, G⟩ = ‖G‖² = Σ_i,j G[i,j]²"""


def test_the_route_for_y_equals_wx_reads_like_the_answer():
    assert str(eg.differential(g @ (W @ x), W)) == GOLDEN


P, I = eg.tensor("P", 3), eg.tensor("I", (3, 3))
CASES = [  # (loss, variable, arrays)
    (g @ (W @ x), W, lambda r: dict(W=r.standard_normal((2, 3)), x=r.standard_normal(3), g=r.standard_normal(2))),
    (eg.sum(eg.tanh(W @ x)), W, lambda r: dict(W=r.standard_normal((3, 4)), x=r.standard_normal(4))),
    (eg.sum(eg.tanh(W @ x)), x, lambda r: dict(W=r.standard_normal((3, 4)), x=r.standard_normal(4))),
    (0.5 * eg.sum(eg.abs(eg.einsum("iaj,iak->ijk", P, P) - I)), P,
     lambda r: dict(P=r.standard_normal((2, 4, 3)), I=np.eye(3))),
]


@pytest.mark.parametrize("loss, var, make", CASES, ids=["gWx", "tanh-W", "tanh-x", "orthogonality"])
def test_every_step_is_the_differential_along_a_random_direction(rng, loss, var, make):
    arrays = make(rng)
    name = var.name
    direction = rng.standard_normal(arrays[name].shape)
    f = eg.compile(loss)
    eps = 1e-6
    numeric = (f(**{**arrays, name: arrays[name] + eps * direction})
               - f(**{**arrays, name: arrays[name] - eps * direction})) / (2 * eps)
    steps = eg.differential(loss, var).steps
    np.testing.assert_allclose(eg.evaluate(steps[0].expr, **arrays), f(**arrays))
    for step in steps[1:3]:  # dL, then ⟨G, dW⟩: both along dW = direction
        value = eg.evaluate(step.expr, **arrays, **{"d" + name: direction})
        np.testing.assert_allclose(value, numeric, rtol=1e-6, atol=1e-8)
    G = eg.evaluate(steps[3].expr, **arrays)
    assert G.shape == arrays[name].shape
    np.testing.assert_allclose(np.sum(G * direction), numeric, rtol=1e-6, atol=1e-8)
    norm = eg.evaluate(steps[4].expr, **arrays)
    np.testing.assert_allclose(norm, np.sum(G * G))
    eta = 1e-4
    change = f(**{**arrays, name: arrays[name] - eta * G}) - f(**arrays)
    assert change < 0
    np.testing.assert_allclose(change, -eta * norm, rtol=1e-2)


def test_differential_needs_a_scalar():
    with pytest.raises(eg.DerivativeError, match=r"differential\(L, W\) needs a scalar expression"):
        eg.differential(W @ x, W)
    with pytest.raises(eg.DerivativeError, match="wrt must be a tensor"):
        eg.differential(g @ (W @ x), W @ x)


def test_cli_grad_differential(capsys):
    assert main(["grad", "g @ (W @ x)", "--wrt", "W", "--differential"]) == 0
    assert capsys.readouterr().out.rstrip("\n") == GOLDEN
