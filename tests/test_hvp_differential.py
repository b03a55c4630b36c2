"""hvp takes its direction as a constant of the product, whatever it reads (issue 20, item 2), and
the differential route by a symmetric matrix reads off the symmetric gradient (item 8)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from profiles import examples

import einsumgrad as eg
from einsumgrad.doors.cli import main

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

N = 3
x, y, W = eg.tensor("x", 1), eg.tensor("y", 1), eg.tensor("W", 2)


def ev(e, a):
    """``e`` evaluated on the arrays ``a`` (those it does not take are ignored)."""
    return eg.evaluate(e, **a)


def point(seed=0):
    rng = np.random.default_rng(seed)
    return dict(x=rng.standard_normal(N), y=rng.standard_normal(N), W=rng.standard_normal((N, N)) / 2)


# (einsumgrad expression, the same as a function of (x, y, W) in jax)
LOSSES = {
    "Σ x³": (eg.sum(x**3), lambda x, y, W: jnp.sum(x**3)),
    "Σ tanh(W x)": (eg.sum(eg.tanh(W @ x)), lambda x, y, W: jnp.sum(jnp.tanh(W @ x))),
    "Σ exp(x) (W x)": (eg.sum(eg.exp(x) * (W @ x)), lambda x, y, W: jnp.sum(jnp.exp(x) * (W @ x))),
    "(y·x) Σ sin(x)": ((y @ x) * eg.sum(eg.sin(x)), lambda x, y, W: (y @ x) * jnp.sum(jnp.sin(x))),
    "xᵀ W x": (x @ W @ x, lambda x, y, W: x @ W @ x),
}
DIRECTIONS = {
    "x": (x, lambda x, y, W: x),
    "x²": (x**2, lambda x, y, W: x**2),
    "tanh(x)": (eg.tanh(x), lambda x, y, W: jnp.tanh(x)),
    "W x": (W @ x, lambda x, y, W: W @ x),
    "y": (y, lambda x, y, W: y),
    "y + W tanh(x)": (y + W @ eg.tanh(x), lambda x, y, W: y + W @ jnp.tanh(x)),
    "(Σ x) x": (eg.sum(x) * x, lambda x, y, W: jnp.sum(x) * x),
    "1": (x * 0 + 1, lambda x, y, W: jnp.ones_like(x)),
}


def jax_hvp(loss, direction, a):
    """``H v`` in jax, ``v`` evaluated first: the jvp of the gradient along the fixed array."""
    args = (a["x"], a["y"], a["W"])
    v = direction(*args)
    return np.asarray(jax.jvp(jax.grad(lambda t: loss(t, *args[1:])), (args[0],), (v,))[1])


def check_hvp(loss_name, direction_name, seed):
    (f, jf), (v, jv) = LOSSES[loss_name], DIRECTIONS[direction_name]
    a = point(seed)
    Hv = ev(eg.hvp(f, x, v), a)
    np.testing.assert_allclose(Hv, ev(eg.hessian(f, x), a) @ ev(v, a), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(Hv, jax_hvp(jf, jv, a), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_hvp_holds_a_direction_that_reads_x_fixed(direction):
    check_hvp("Σ tanh(W x)", direction, 0)


@pytest.mark.slow
@settings(max_examples=examples(40), deadline=None, derandomize=True, database=None)
@given(st.sampled_from(sorted(LOSSES)), st.sampled_from(sorted(DIRECTIONS)), st.integers(0, 2**16))
def test_hvp_is_the_hessian_times_the_evaluated_direction(loss, direction, seed):
    check_hvp(loss, direction, seed)


def test_hvp_of_the_cube_along_x_is_6x_squared():
    a = np.array([1.0, -2.0, 0.5])
    Hv = eg.hvp(eg.sum(x**3), x, x)
    np.testing.assert_allclose(eg.evaluate(Hv, x=a), 6 * a**2)  # was 9 x²: ∂(3x² · x)/∂x
    assert str(Hv) == "Hv[i] = 6 x[i] x[i]"


def test_a_direction_that_is_a_tensor_prints_as_before():
    v = eg.tensor("v", 1)
    assert str(eg.hvp(eg.einsum("i,ij,j->", x, W, x), x, v)) == "Hv[i] = Σ_j W[j,i] v[j] + Σ_j W[i,j] v[j]"
    assert str(eg.hvp(eg.sum(x**3), x, W @ x)) == "Hv[i] = Σ_j 6 W[i,j] x[i] x[j]"


@pytest.mark.slow
def test_the_derivative_of_an_hvp_is_that_of_x_to_h_of_x_times_v_of_x():
    """hvp(f, x, v(x)) is the function x ↦ H(x) v(x): its own derivatives include v's."""
    a = point(1)
    f, jf = LOSSES["Σ tanh(W x)"]
    v, jv = DIRECTIONS["tanh(x)"]
    Hv = eg.hvp(f, x, v)

    def hv(t):
        args = (t, a["y"], a["W"])
        return jax.jvp(jax.grad(lambda s: jf(s, *args[1:])), (t,), (jv(*args),))[1]

    np.testing.assert_allclose(ev(eg.jacobian(Hv, x), a), np.asarray(jax.jacobian(hv)(a["x"])), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(eg.evaluate(eg.grad(eg.sum(eg.hvp(eg.sum(x**3), x, x)), x), x=a["x"]), 12 * a["x"])


def test_hvp_by_a_symmetric_matrix_along_a_direction_that_reads_it():
    S = eg.tensor("S", 2, symmetric=True)
    rng = np.random.default_rng(2)
    m = rng.standard_normal((N, N))
    s = m @ m.T + N * np.eye(N)
    L = eg.trace(S @ S @ S)  # H E = 3 (S E + E S)
    np.testing.assert_allclose(eg.evaluate(eg.hvp(L, S, S @ S), S=s), 3 * (s @ s @ s + s @ s @ s), rtol=1e-10)


def test_hvp_refuses_a_direction_of_another_rank():
    with pytest.raises(eg.ShapeError, match="hvp needs v shaped like x"):
        eg.hvp(eg.sum(x**3), x, W)


S, A = eg.tensor("S", 2, symmetric=True), eg.tensor("A", 2)


def sym_arrays(seed=0):
    rng = np.random.default_rng(seed)
    m, e = rng.standard_normal((2, N, N))
    return dict(A=rng.standard_normal((N, N)), x=rng.standard_normal(N), S=m @ m.T + N * np.eye(N)), e + e.T


SYMMETRIC_LOSSES = {
    "tr(A S)": eg.trace(A @ S),
    "xᵀ A S x": x @ A @ S @ x,
    "logdet S": eg.logdet(S),
    "tr(A S S)": eg.trace(A @ S @ S),
    "Σ tanh(A S)": eg.sum(eg.tanh(A * S)),
}


@pytest.mark.parametrize("loss", SYMMETRIC_LOSSES)
def test_the_differential_by_a_symmetric_matrix_reads_off_the_gradient(loss):
    L = SYMMETRIC_LOSSES[loss]
    a, E = sym_arrays()
    steps = eg.differential(L, S).steps
    G = ev(steps[3].expr, a)
    np.testing.assert_allclose(G, ev(eg.grad(L, S), a), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(G, G.T, atol=1e-12)
    eps = 1e-6
    numeric = (ev(L, {**a, "S": a["S"] + eps * E}) - ev(L, {**a, "S": a["S"] - eps * E})) / (2 * eps)
    for step in steps[1:3]:  # dL and ⟨G, dS⟩ along the symmetric dS = E
        np.testing.assert_allclose(ev(step.expr, {**a, "dS": E}), numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.sum(G * E), numeric, rtol=1e-6, atol=1e-8)


def test_the_differential_of_tr_a_s_reads_off_half_a_plus_a_transposed():
    text = str(eg.differential(eg.trace(A @ S), S))
    assert "∂L/∂S[i,j] = 0.5 (A[i,j] + A[j,i]) = 0.5 (A + Aᵀ)" in text  # was ∂L/∂S = A
    assert "dL = ⟨G, dS⟩ = Σ_i,j G[i,j] dS[i,j] = tr(G dS) = tr(0.5 (A + Aᵀ) dS)" in text
    assert "for every symmetric dS" in text
    a, _ = sym_arrays()
    np.testing.assert_allclose(ev(eg.differential(eg.trace(A @ S), S).steps[3].expr, a), (a["A"] + a["A"].T) / 2)


def test_a_differential_by_a_matrix_that_is_not_symmetric_is_unchanged():
    text = str(eg.differential(eg.trace(A @ W), W))
    assert "∂L/∂W[i,j] = A[j,i] = Aᵀ" in text and "tr(Gᵀ dW) = tr(A dW)" in text and "symmetric" not in text


def test_the_cli_differential_by_a_symmetric_matrix(capsys):
    status = main(["grad", "trace(A @ S)", "--wrt", "S", "--symmetric", "S", "--shapes", "A=3x3,S=3x3",
                   "--differential"])
    out = capsys.readouterr().out
    assert status == 0
    assert "∂L/∂S[i,j] = 0.5 (A[i,j] + A[j,i]) = 0.5 (A + Aᵀ)" in out
    assert "∂L/∂S[i,j] = A[i,j]" not in out
