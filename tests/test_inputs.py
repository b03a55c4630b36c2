"""Arrays as they come: empty and size-one axes, 0-d, NaN and inf, float32, ints, complex, lists,
shared arrays, wrong ranks and ragged input."""
import numpy as np
import pytest

import einsumgrad as eg
from oracles import exact_jacobian

J = eg.jacobian("ij,j->i", wrt=0, names="W,x")


@pytest.mark.parametrize("W_shape", [(0, 3), (2, 0), (1, 1), (0, 0)])
def test_size_zero_and_one_dimensions(W_shape):
    W, x = np.ones(W_shape), np.ones(W_shape[1])
    np.testing.assert_array_equal(J(W, x), exact_jacobian("ij,j->i", [W, x], 0))
    assert J.vjp(np.ones(W_shape[0]), W, x).shape == W_shape
    assert J.jvp(W, W, x).shape == (W_shape[0],)


def test_zero_dimensional_tensors():
    a, b = eg.tensor("a", 0), eg.tensor("b", ())
    assert eg.evaluate(eg.grad(a * b + eg.sin(a), a), a=np.float64(0.5), b=2.0) == pytest.approx(2 + np.cos(0.5))
    assert eg.jacobian(",->", wrt=1)(np.array(3.0), np.array(4.0)) == 3.0


def test_nan_and_inf_propagate_as_numpy_does():
    W = np.array([[np.nan, 1.0], [np.inf, 2.0]])
    x = np.array([1.0, np.inf])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(J.jvp(W, W, x), np.einsum("ij,j->i", W, x))
        np.testing.assert_array_equal(J.vjp(np.ones(2), W, x), np.outer(np.ones(2), x))
        Wt, xt = eg.tensor("W", 2), eg.tensor("x", 1)
        g = eg.evaluate(eg.grad(eg.sum(eg.sqrt(Wt @ xt)), xt), W=np.array([[-1.0, 0.0]]), x=np.array([1.0, 1.0]))
    assert np.isnan(g).all()


def test_float32_within_float32_tolerance():
    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((20, 30)).astype(np.float32), rng.standard_normal(30).astype(np.float32)
    Wt, xt = eg.tensor("W", 2), eg.tensor("x", 1)
    g = eg.evaluate(eg.grad(eg.sum(eg.tanh(Wt @ xt)), Wt), W=W, x=x)
    assert g.dtype == np.float32
    W64, x64 = W.astype(np.float64), x.astype(np.float64)
    np.testing.assert_allclose(g, np.outer(1 - np.tanh(W64 @ x64) ** 2, x64), rtol=1e-5, atol=1e-6)


def test_integer_inputs_promote_to_float64():
    assert J(np.ones((2, 2), dtype=int), np.arange(2)).dtype == np.float64
    assert eg.evaluate(eg.tensor("a", 1) ** 0.5, a=np.array([4, 9])).tolist() == [2.0, 3.0]


def test_complex_einsums_are_holomorphic_and_the_rest_is_refused():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    x = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    np.testing.assert_allclose(J(W, x), exact_jacobian("ij,j->i", [W, x], 0))
    g = np.array([1.0 + 2j, -1j])
    np.testing.assert_allclose(J.vjp(g, W, x), np.outer(g, x))  # no conjugation: the derivative is g xᵀ
    z = eg.tensor("z", 1)
    np.testing.assert_allclose(eg.evaluate(eg.grad(eg.sum(eg.exp(z)), z), z=x), np.exp(x))
    with pytest.raises(eg.EinsumgradError, match="(abs|sign) is not holomorphic"):
        eg.evaluate(eg.grad(eg.sum(eg.abs(z)), z), z=x)


def test_the_same_array_for_two_operands():
    A = np.arange(4.0).reshape(2, 2)
    for wrt in (0, 1):
        np.testing.assert_array_equal(eg.jacobian("ij,jk->ik", wrt=wrt)(A, A), exact_jacobian("ij,jk->ik", [A, A], wrt))
    X = eg.tensor("X", 2)
    np.testing.assert_allclose(eg.evaluate(eg.grad(eg.trace(X @ X), X), X=A), 2 * A.T)


def test_inputs_that_need_converting_reuse_the_cached_plan():
    W = eg.tensor("W", 2)
    f = eg.compile(eg.sum(W * 2))
    assert f(W=[[1, 2], [3, 4]]) == 20.0  # a list of ints: converted on every call (the slow path)
    plan = f._last
    assert f(W=[[0, 0], [0, 1]]) == 2.0
    assert f._last is plan and f.plan_cache_size == 1


def test_a_wrong_rank_is_reported_even_when_another_shape_refers_to_it():
    with pytest.raises(eg.ShapeError, match=r"operand 1 \(x\) has rank 0, but its subscripts 'j'"):
        J.vjp(np.ones(2), np.ones((2, 3)), np.float64(1.0))
    g = eg.tensor("g", 1)
    with pytest.raises(eg.ShapeError, match=r"tensor 'g' has rank 1, but its array has shape \(2, 2\)"):
        eg.evaluate(eg.tensor("W", 2) @ g, W=np.ones((2, 2)), g=np.ones((2, 2)))
    W = eg.tensor("W", 2)
    g = eg.grad(eg.sum(W), W)  # its shape refers to W's axes, its terms do not read W
    with pytest.raises(eg.ShapeError, match=r"tensor 'W' has rank 2, but its array has shape \(3,\)"):
        eg.evaluate(g, W=np.ones(3))


def test_more_bad_input_gets_our_errors():
    W = eg.tensor("W", 2)
    with pytest.raises(eg.DerivativeError, match="grad needs an expression built with eg.tensor / eg.einsum, got float"):
        eg.grad(3.0, W)
    with pytest.raises(eg.ShapeError, match="a rank cannot be negative, got -1"):
        eg.tensor("W", -1)
    with pytest.raises(eg.EinsumgradError, match="array 'W' is not a rectangular array of numbers"):
        eg.evaluate(W, W=[[1, 2], [3]])
    with pytest.raises(eg.EinsumgradError, match="plan_cache_size must be a whole number >= 0; got .x."):
        eg.configure(plan_cache_size="x")
    J2 = eg.jacobian("ij,j->i", names="W,x")
    with pytest.raises(eg.EinsumgradError, match="array 'x' is not a rectangular array of numbers"):
        J2(np.ones((2, 2)), [[1], [1, 2]])
    with pytest.raises(eg.EinsumgradError, match="array 'g' is not a rectangular array of numbers"):
        J2.vjp([[1], [1, 2]], np.ones((2, 2)), np.ones(2))
    np.testing.assert_array_equal(J2.vjp([1, 2], [[1, 1], [1, 1]], [3, 4]), [[3, 4], [6, 8]])
