"""Regression tests for derivatives and evaluations that were wrong (issue: wrong answers first)."""
import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.core import algebra


def fd_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Entry by entry central differences of a NumPy function ``f`` at ``x``."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        grad[idx] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


@pytest.fixture
def rng():
    return np.random.default_rng(7)


# -- a summed axis that one operand broadcasts along keeps its length -----------------------

def test_bias_gradient_counts_the_rows(rng):
    X, w, b = eg.tensor("X", 2), eg.tensor("w", 1), eg.tensor("b", ())
    g = eg.grad(eg.sum(X @ w + b), b)
    assert str(g) == "∂f/∂b = size(X,0)"
    assert eg.evaluate(g, X=rng.standard_normal((7, 3)), w=rng.standard_normal(3), b=np.array(0.5)) == 7


def test_vector_bias_gradient_of_a_layer(rng):
    X, W, b = eg.tensor("X", 2), eg.tensor("W", 2), eg.tensor("b", 1)
    L = eg.sum(eg.tanh(X @ W + b))
    arrays = dict(X=rng.standard_normal((5, 3)), W=rng.standard_normal((3, 4)), b=rng.standard_normal(4))
    expected = (1 - np.tanh(arrays["X"] @ arrays["W"] + arrays["b"]) ** 2).sum(axis=0)
    np.testing.assert_allclose(eg.evaluate(eg.grad(L, b), **arrays), expected)


def test_trace_of_a_broadcast_trace():
    Q = eg.tensor("Q", 2)
    g = eg.grad(eg.trace(eg.trace(Q) + Q), Q)
    np.testing.assert_allclose(eg.evaluate(g, Q=np.ones((4, 4))), 5 * np.eye(4))


def test_hessian_of_a_sum_over_a_broadcast_axis(rng):
    X, w, b = eg.tensor("X", 2), eg.tensor("w", 1), eg.tensor("b", ())
    H = eg.hessian(eg.sum((X @ w + b) ** 2), b)
    assert eg.evaluate(H, X=rng.standard_normal((6, 2)), w=rng.standard_normal(2), b=np.array(1.0)) == 12


def test_size_one_axis_broadcast_along_rows(rng):
    c, M = eg.tensor("c", (1, 3)), eg.tensor("M", 2)
    L = eg.sum(eg.sin(c + M) * eg.sum(c))
    m, c0 = rng.standard_normal((4, 3)), rng.standard_normal((1, 3))
    numeric = fd_gradient(lambda c_: (np.sin(c_ + m) * c_.sum()).sum(), c0)
    np.testing.assert_allclose(eg.evaluate(eg.grad(L, c), c=c0, M=m), numeric, rtol=1e-6)


# -- inputs: the array subclass never changes the answer ------------------------------------

@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_matrix_inputs_multiply_elementwise():
    A, B = eg.tensor("A", 2), eg.tensor("B", 2)
    m = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    f = eg.compile(A * B)
    expected = np.asarray(m) ** 2
    for _ in range(2):  # the second call takes the cached plan's fast path
        np.testing.assert_array_equal(f(A=m, B=m), expected)
        assert type(f(A=m, B=m)) is np.ndarray
    J = eg.jacobian("ij,jk->ik", wrt=0)
    np.testing.assert_allclose(J.vjp(m, m, m), np.asarray(m) @ np.asarray(m).T)


def test_masked_arrays_are_refused_unless_nothing_is_masked():
    A = eg.tensor("A", 1)
    with pytest.raises(eg.EinsumgradError, match="masked array with masked entries"):
        eg.evaluate(eg.sum(A), A=np.ma.masked_array([1.0, 2.0], mask=[0, 1]))
    with pytest.raises(eg.EinsumgradError, match="masked array"):
        eg.check(eg.sum(A * A), A, A=np.ma.masked_array([1.0, 2.0], mask=[0, 1]))
    assert eg.evaluate(eg.sum(A), A=np.ma.masked_array([1.0, 2.0], mask=[0, 0])) == 3


# -- caches never change answers ------------------------------------------------------------

def test_equal_expressions_with_different_tensors_evaluate_independently():
    x, y, z = eg.tensor("x", 1), eg.tensor("y", (2,)), eg.tensor("z", (2,))  # of rank only, x's gradient needs y's size
    g1 = eg.grad(eg.sum(x * 3 + y), x)
    g2 = eg.grad(eg.sum(x * 3 + z), x)
    assert g1.node == g2.node and g1 != g2  # one IR node; the handles accept different arrays
    np.testing.assert_array_equal(eg.evaluate(g1, x=np.ones(2), y=np.ones(2)), [3, 3])
    np.testing.assert_array_equal(eg.evaluate(g2, x=np.ones(2), z=np.ones(2)), [3, 3])
    np.testing.assert_array_equal(eg.evaluate(g1, x=np.ones(2), z=np.ones(2)), [3, 3])  # z is not needed


# -- a namesake tensor is an error, not a silent zero ---------------------------------------

@pytest.mark.parametrize("call", [eg.grad, eg.hessian, eg.jacobian, eg.explain])
def test_a_different_tensor_of_the_same_name_is_refused(call):
    W = eg.tensor("W", 2)
    L = eg.sum(W * W)
    with pytest.raises(eg.DerivativeError, match=r"two different tensors are named 'W'.*\(3, 4\)"):
        call(L, eg.tensor("W", (3, 4)))


def test_check_refuses_a_namesake():
    W = eg.tensor("W", 1)
    with pytest.raises(eg.DerivativeError, match="two different tensors are named 'W'"):
        eg.check(eg.sum(W * W), eg.tensor("W", (2,)), W=np.ones(2))


# -- det at a singular matrix ---------------------------------------------------------------

def test_det_gradient_at_a_singular_matrix_is_the_adjugate_transposed():
    A = eg.tensor("A", 2)
    g = eg.grad(eg.det(A), A)
    assert g.matrix_notation() == "adj(A)ᵀ"
    np.testing.assert_allclose(eg.evaluate(g, A=np.diag([1.0, 0.0])), np.diag([0.0, 1.0]))
    singular = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])
    numeric = fd_gradient(np.linalg.det, singular)
    np.testing.assert_allclose(eg.evaluate(g, A=singular), numeric, atol=1e-8)


def test_adjugate_matches_det_times_inverse_and_differentiates(rng):
    A = eg.tensor("A", 2)
    a = rng.standard_normal((4, 4))
    np.testing.assert_allclose(eg.evaluate(eg.adj(A), A=a), np.linalg.det(a) * np.linalg.inv(a))
    B = eg.tensor("B", 2)
    assert eg.check(eg.sum(eg.adj(A) * B), A, A=a, B=rng.standard_normal((4, 4))).passed
    assert eg.check(eg.sum(eg.grad(eg.det(A), A) ** 2), A, A=a).passed


def test_inverse_of_a_singular_matrix_is_a_clear_error():
    A = eg.tensor("A", 2)
    with pytest.raises(eg.EinsumgradError, match="singular"):
        eg.evaluate(eg.grad(eg.logdet(A), A), A=np.zeros((2, 2)))


# -- deep nesting: a clear limit, never a RecursionError ------------------------------------

def test_nesting_beyond_the_limit_is_a_clear_error():
    x = eg.tensor("x", 1)
    e = x
    limit = algebra.MAX_DEPTH
    with pytest.raises(eg.EinsumgradError, match=rf"nests {limit + 1} levels deep.*up to {limit}"):
        for _ in range(limit):
            e = eg.tanh(e)


def test_nesting_within_the_limit_works():
    x, A = eg.tensor("x", 1), eg.tensor("A", 2)
    e = x
    for _ in range(45):
        e = eg.tanh(A @ e)
    L = eg.sum(e + 1)
    assert L.depth == 92  # its derivatives nest a few levels deeper
    arrays = dict(x=np.ones(2), A=0.5 * np.eye(2))
    text = str(L)  # long: one equation per intermediate, each printed once
    assert text.startswith("z₁[i] = Σ_j A[i,j] x[j]\nh₁[i] = tanh(z₁[i])\nz₂[i] = Σ_j A[i,j] h₁[j]\n")
    assert text.endswith("h₄₅[i] = tanh(z₄₅[i])\nv₁[i] = h₄₅[i] + 1\ny = Σ_i v₁[i]") and text.count("\n") == 91
    assert eg.check(L, x, **arrays).passed


def test_a_term_over_more_than_52_indices_evaluates(rng):
    """np.einsum reads only 52 letters; opt_einsum's pairwise steps past them are renamed."""
    Ms = [eg.tensor(f"M{k}", 3) for k in range(60)]
    e = Ms[0]
    for M in Ms[1:]:
        e = e @ M
    assert len(e.terms[0].indices()) > 52
    arrays = {f"M{k}": 0.7 * rng.standard_normal((3, 2, 2)) for k in range(60)}
    expected = arrays["M0"]
    for k in range(1, 60):
        expected = expected @ arrays[f"M{k}"]
    np.testing.assert_allclose(eg.evaluate(e, **arrays), expected)


@pytest.mark.parametrize("build", [
    lambda x: 1e308 * x * 10,
    lambda x: (x * 1e308) * 1e10,
    lambda x: x * 1e308 + x * 1e308,  # merged, 2e308 would read 0.5 as inf where NumPy gives 1e308
], ids=["product", "scale", "merge"])
def test_coefficients_that_overflow_are_refused(build):
    with pytest.raises(eg.EinsumgradError, match="finite number|beyond a float"):
        build(eg.tensor("x", 1))


def test_deep_equal_nodes_compare_without_recursion():
    """A derivative built while equal deep nodes sat in the caches compared them recursively and
    raised RecursionError from a dataclass __eq__ (found by benchmarks/deep.py); equal nodes are now
    one object and comparison is iterative."""
    x = eg.tensor("x", (8,))

    def nested(n):
        e = x
        for _ in range(n):
            e = eg.tanh(e)
        return eg.sum(e)

    assert nested(70).node is nested(70).node  # hash-consed
    eg.grad(nested(70), x)


@pytest.mark.slow
def test_every_pass_works_far_below_python_s_stack(rng):
    """300 nested tanh (600 levels, deeper than Python's stack allows any recursive pass to walk)
    derive, print, explain and evaluate: node keys, forward tangents, LaTeX and the teaching steps
    raised RecursionError once the nesting limit was raised past 150."""
    x = eg.tensor("x", 1)
    e = x
    for _ in range(300):
        e = eg.tanh(e)
    L = eg.sum(e)
    g = eg.grad(L, x)
    xv = rng.uniform(0.5, 1.5, 3)
    assert eg.check(L, x, x=xv).passed and eg.check(g, x, x=xv).passed  # the gradient, the Hessian
    derivative = np.prod([1 - np.tanh(v) ** 2 for v in _chain(xv, 300)], axis=0)
    np.testing.assert_allclose(eg.evaluate(g, x=xv), derivative, rtol=1e-10)
    np.testing.assert_allclose(eg.evaluate(eg.jacobian(e, x), x=xv), np.diag(derivative), rtol=1e-10, atol=1e-300)
    assert g.latex().startswith("\\begin{aligned}") and str(g).count("\n") > 10
    assert eg.explain(L, x).steps[-1].rule.startswith("Result")


def _chain(x, n):
    """The arguments of the n nested tanh: x, tanh(x), tanh(tanh(x)), ..."""
    for _ in range(n):
        yield x
        x = np.tanh(x)
