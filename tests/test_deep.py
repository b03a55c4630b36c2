"""Deep compositions: derivatives of MLPs that keep the chain instead of fusing it into one tensor."""
import numpy as np
import opt_einsum
import pytest

import einsumgrad as eg


def mlp(depth: int, width: int, rng):
    """½‖y − MLP(x)‖² with tanh layers, its first bias, and arrays for every tensor."""
    x, y = eg.tensor("x", (width,)), eg.tensor("y", (width,))
    arrays = {"x": rng.standard_normal(width), "y": rng.standard_normal(width)}
    h, b0 = x, None
    for k in range(depth):
        W, b = eg.tensor(f"W{k}", (width, width)), eg.tensor(f"b{k}", (width,))
        arrays[f"W{k}"] = rng.standard_normal((width, width)) / np.sqrt(width)
        arrays[f"b{k}"] = 0.1 * rng.standard_normal(width)
        b0 = b if k == 0 else b0
        h = eg.tanh(W @ h + b)
    return 0.5 * eg.sum((y - h) ** 2), b0, arrays


@pytest.mark.parametrize("depth, width", [(3, 8), (6, 8), (4, 16), (20, 3)])  # 20: tangents kept as nodes
def test_mlp_hessian_against_differences_of_its_gradient(rng, depth, width):
    L, b0, arrays = mlp(depth, width, rng)
    grad, H = eg.compile(eg.grad(L, b0)), eg.evaluate(eg.hessian(L, b0), **arrays)
    d, eps = rng.standard_normal(width), 1e-6
    plus = grad(**{**arrays, "b0": arrays["b0"] + eps * d})
    minus = grad(**{**arrays, "b0": arrays["b0"] - eps * d})
    np.testing.assert_allclose(H @ d, (plus - minus) / (2 * eps), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_mlp_hessian_builds_no_tensor_over_the_union_of_its_indices(rng):
    """Weights over different indices stay separate factors: at depth 4 every operand is a vector or a
    matrix, where merging them built one of rank 2·depth − 1 (16⁷ entries)."""
    depth, width = 4, 16
    L, b0, arrays = mlp(depth, width, rng)
    f = eg.compile(eg.hessian(L, b0))
    for eq, shapes in f.contractions(**arrays):
        assert all(len(s) <= 2 for s in shapes), eq
        _, info = opt_einsum.contract_path(eq, *shapes, shapes=True)
        assert info.largest_intermediate <= width**3, eq  # opt_einsum's path may pass through a rank 3


def test_hvp_equals_the_hessian_times_v_without_building_it(rng):
    L, b0, arrays = mlp(3, 6, rng)
    v, v0 = eg.tensor("v", (6,)), rng.standard_normal(6)
    Hv = eg.hvp(L, b0, v)
    np.testing.assert_allclose(eg.evaluate(Hv, **arrays, v=v0), eg.evaluate(eg.hessian(L, b0), **arrays) @ v0,
                               rtol=1e-10, atol=1e-12)
    assert all(len(s) <= 2 for _, shapes in eg.compile(Hv).contractions(**arrays, v=v0) for s in shapes)
    with pytest.raises(eg.ShapeError, match="hvp needs v shaped like b0"):
        eg.hvp(L, b0, eg.tensor("v", (5,)))


@pytest.mark.slow
def test_gradients_of_a_48_layer_network_share_one_backward_pass(rng):
    """Reverse mode: every weight's gradient reads the same cotangent nodes, so compiling them
    together computes the backward pass once; each is right by central differences."""
    L, _, arrays = mlp(48, 3, rng)
    Ws = [eg.tensor(f"W{k}", (3, 3)) for k in range(48)]
    grads = [eg.grad(L, W) for W in Ws]
    values = eg.compile(*grads)(**arrays)
    for k in (0, 23, 47):
        assert eg.check(L, Ws[k], **arrays).passed
        np.testing.assert_allclose(values[k], eg.evaluate(grads[k], **arrays))
    factors = sum(len(t.factors) for g in grads for t in g.terms)
    assert factors == 3 * 48  # δ_k h_{k-1}ᵀ: three factors a weight, not a chain of 3·(48 - k) each


def test_a_deep_gradient_prints_as_the_backprop_equations():
    x, y = eg.tensor("x", 1), eg.tensor("y", 1)
    h, Ws = x, []
    for k in range(6):
        W, b = eg.tensor(f"W{k}", 2), eg.tensor(f"b{k}", 1)
        Ws.append(W)
        h = eg.tanh(W @ h + b)
    lines = str(eg.grad(0.5 * eg.sum((y - h) ** 2), Ws[0])).split("\n")
    assert lines[:3] == ["z₁[i] = Σ_j W0[i,j] x[j] + b0[i]", "h₁[i] = tanh(z₁[i])", "v₁[i] = 1 - h₁[i]²"]
    assert lines[-6:] == ["v₈[i] = -Σ_j W5[j,i] v₆[j] v₇[j]", "v₉[i] = Σ_j W4[j,i] v₅[j] v₈[j]",
                          "v₁₀[i] = Σ_j W3[j,i] v₄[j] v₉[j]", "v₁₁[i] = Σ_j W2[j,i] v₃[j] v₁₀[j]",
                          "v₁₂[i] = Σ_j W1[j,i] v₂[j] v₁₁[j]", "∂f/∂W0[i,j] = x[j] v₁[i] v₁₂[i]"]
    assert len(lines) == 25  # linear in depth: four lines a layer, then the backward sums


def test_an_intermediate_far_larger_than_every_operand_is_reported_as_a_planning_bug(rng):
    """The plan guard: a path (here a deliberately bad explicit one) whose intermediate is over
    1024× every operand and the result is refused with the term, before any memory is touched."""
    A, B, C, D = (eg.tensor(n, (40, 40)) for n in "ABCD")
    e = eg.einsum("ab,cd,ac,bd->", A, B, C, D)
    arrays = {n: rng.standard_normal((40, 40)) for n in "ABCD"}
    with pytest.raises(eg.EinsumgradError, match=r"planning bug: .*2,560,000 entries, over 1024×"):
        eg.compile(e, optimize=[(0, 1), (0, 1), (0, 1)])(**arrays)
    expected = np.einsum("ab,cd,ac,bd->", *arrays.values())
    np.testing.assert_allclose(eg.evaluate(e, **arrays), expected)  # the planned path is fine


def test_a_two_layer_network_prints_its_backprop_in_index_and_matrix_notation():
    X, Y, W1, W2 = (eg.tensor(n, 2) for n in ("X", "Y", "W1", "W2"))
    L = 0.5 * eg.sum((eg.tanh(X @ W1) @ W2 - Y) ** 2)
    g1, g2 = eg.grad(L, W1), eg.grad(L, W2)
    assert str(g1) == ("∂f/∂W1[i,j] = Σ_k X[k,i] (Σ_l W2[j,l] (Σ_m W2[m,l] tanh(Σ_n W1[n,m] X[k,n]) - Y[k,l])) "
                       "(1 - tanh(Σ_l W1[l,j] X[k,l])²)")
    assert g1.matrix_notation() == "Xᵀ (((tanh(X W1) W2 - Y) W2ᵀ) ⊙ (1 - tanh(X W1)^∘2))"
    assert g2.matrix_notation() == "tanh(X W1)ᵀ (tanh(X W1) W2 - Y)"


@pytest.mark.slow
@pytest.mark.parametrize("depth, width", [(1, 5), (3, 4), (5, 3)])
def test_mlp_gradients_and_hessian_agree_with_jax(rng, depth, width):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    L, b0, arrays = mlp(depth, width, rng)
    names = [f"{p}{k}" for k in range(depth) for p in "Wb"]

    def loss(params):
        h = jnp.asarray(arrays["x"])
        for k in range(depth):
            h = jnp.tanh(params[f"W{k}"] @ h + params[f"b{k}"])
        return 0.5 * jnp.sum((arrays["y"] - h) ** 2)

    params = {n: jnp.asarray(arrays[n]) for n in names}
    expected = jax.grad(loss)(params)
    tensors = {n: eg.tensor(n, arrays[n].shape) for n in names}
    got = eg.compile(*(eg.grad(L, tensors[n]) for n in names))(**arrays)
    for n, value in zip(names, got):
        np.testing.assert_allclose(value, expected[n], rtol=1e-10, atol=1e-12, err_msg=n)
    hessian = jax.hessian(lambda b: loss({**params, "b0": b}))(params["b0"])
    np.testing.assert_allclose(eg.evaluate(eg.hessian(L, b0), **arrays), hessian, rtol=1e-10, atol=1e-12)


def test_orthogonality_loss_gradient_is_its_closed_form(rng):
    """½β Σ_l |Φ_lᵀ Φ_l − I|: ∂/∂Φ = ½β Φ (S + Sᵀ) with S = sign(ΦᵀΦ − I), through batched matmuls."""
    P, I = eg.tensor("P", 3), eg.tensor("I", 2)
    beta = 0.1
    L = 0.5 * beta * eg.sum(eg.abs(eg.einsum("lmi,lmj->lij", P, P) - I))
    p = rng.standard_normal((4, 7, 3))
    S = np.sign(p.transpose(0, 2, 1) @ p - np.eye(3))
    np.testing.assert_allclose(eg.evaluate(eg.grad(L, P), P=p, I=np.eye(3)),
                               0.5 * beta * p @ (S + S.transpose(0, 2, 1)), rtol=1e-12)


def test_a_deep_hessian_keeps_its_tangents_as_shared_nodes(rng):
    """Forward over reverse: past 16 nested nodes a tangent stays a node, so the Hessian of a 24-layer
    network has as few terms as a shallow one's instead of one re-expanded chain per layer."""
    L, b0, _ = mlp(24, 3, rng)
    H = eg.hessian(L, b0)
    assert len(H.terms) == 2 and sum(len(t.factors) for t in H.terms) <= 8
