"""Shape operations on tensors of rank only: kron, concatenate, stack, reshape, expand_dims take
symbolic sizes (an Extent such as |A₀|·|B₀|), bound at evaluation, where sizes that do not fit are
refused by name. One expression, built once, is evaluated at several sizes."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from profiles import examples

import einsumgrad as eg
from einsumgrad.core.ir import Extent, dim_atoms, dim_product, dim_quotient, dim_sum, dim_value
from einsumgrad.doors.language import parse_expression

A, B = eg.tensor("A", 2), eg.tensor("B", 2)
x, y, z = eg.tensor("x", 1), eg.tensor("y", 1), eg.tensor("z", 1)
P, Q = eg.tensor("P", 2), eg.tensor("Q", 2)
SIZES = [(1, 2), (2, 3), (3, 1)]


def rng(seed=0):
    return np.random.default_rng(seed)


def central(f, a, eps=1e-6):
    """The gradient of the scalar f at a by central differences, entry by entry."""
    g = np.zeros_like(a)
    for k in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[k] = eps
        g[k] = (f(a + e) - f(a - e)) / (2 * eps)
    return g


def linear_jacobian(f, a):
    """The exact Jacobian of an affine f at any point: f of each unit array less f(0), on f's axes."""
    zero = f(np.zeros_like(a))
    columns = [f(np.eye(1, a.size, k).reshape(a.shape)) - zero for k in range(a.size)]
    return np.stack(columns, axis=-1).reshape(columns[0].shape + a.shape)


# values at several sizes -----------------------------------------------------
@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 1)), ((1, 2), (3, 3)), ((3, 2), (2, 2))])
def test_kron_of_matrices_of_rank_only_matches_numpy_at_every_size(sa, sb):
    r = rng()
    a, b = r.normal(size=sa), r.normal(size=sb)
    np.testing.assert_allclose(eg.evaluate(eg.kron(A, B), A=a, B=b), np.kron(a, b))
    np.testing.assert_allclose(eg.evaluate(eg.kron(x, B), x=a[0], B=b), np.kron(a[0], b))  # ranks 1 and 2


@pytest.mark.parametrize("n,m,k", [(1, 2, 3), (3, 1, 2), (2, 4, 1)])
def test_concatenate_and_stack_of_rank_only_tensors_match_numpy(n, m, k):
    r = rng(1)
    a, b, c = r.normal(size=n), r.normal(size=m), r.normal(size=k)
    np.testing.assert_allclose(eg.evaluate(eg.concatenate([x, y, z]), x=a, y=b, z=c), np.concatenate([a, b, c]))
    p, q = r.normal(size=(n, 3)), r.normal(size=(n, m))
    np.testing.assert_allclose(eg.evaluate(eg.concatenate([P, Q], axis=1), P=p, Q=q), np.concatenate([p, q], 1))
    s = r.normal(size=(m, n))
    np.testing.assert_allclose(eg.evaluate(eg.concatenate([P, Q]), P=p.T, Q=s), np.concatenate([p.T, s]))
    u, v = r.normal(size=n), r.normal(size=n)
    for axis in (0, 1):
        np.testing.assert_allclose(eg.evaluate(eg.stack([x, y], axis=axis), x=u, y=v), np.stack([u, v], axis))
    np.testing.assert_allclose(eg.evaluate(eg.expand_dims(P, 1), P=p), p[:, None])


RESHAPES = [  # (made from A, as NumPy does it)
    (lambda A: eg.reshape(A, (-1,)), lambda a: a.reshape(-1)),  # flattening
    (lambda A: eg.reshape(A, (A.shape[1], -1)), lambda a: a.reshape(a.shape[1], -1)),  # a symbolic -1: |A₀|
    (lambda A: eg.reshape(A, (1, -1, 1)), lambda a: a.reshape(1, -1, 1)),
    (lambda A: eg.reshape(eg.reshape(A, -1), (2, -1)), lambda a: a.reshape(2, -1)),  # split by a known factor
    (lambda A: eg.reshape(eg.kron(A, A), (-1,)), lambda a: np.kron(a, a).reshape(-1)),
]


@pytest.mark.parametrize("make,numpy", RESHAPES)
def test_reshape_of_rank_only_tensors_matches_numpy_at_every_size(make, numpy):
    e = make(A)  # built once
    for shape in [(2, 3), (4, 1), (2, 2), (1, 6)]:
        a = rng(2).normal(size=shape)
        np.testing.assert_allclose(eg.evaluate(e, A=a), numpy(a))


def test_indexing_and_eye_take_the_new_sizes():
    K = eg.kron(A, B)
    grad = eg.grad(eg.sum(eg.sin(K[-1, 1:3])), A)
    for sa, sb in [((2, 3), (3, 2)), ((1, 2), (2, 4))]:
        a, b = rng(10).normal(size=sa), rng(11).normal(size=sb)
        np.testing.assert_allclose(eg.evaluate(K[-1, 1:3], A=a, B=b), np.kron(a, b)[-1, 1:3])
        np.testing.assert_allclose(eg.evaluate(K @ eg.eye(K.shape[1]), A=a, B=b), np.kron(a, b))
        f = lambda t: np.sum(np.sin(np.kron(t, b)[-1, 1:3]))
        np.testing.assert_allclose(eg.evaluate(grad, A=a, B=b), central(f, a), atol=1e-8)
        np.testing.assert_allclose(eg.evaluate(eg.concatenate([x, y])[-2:], x=a[0], y=b[0]),
                                   np.concatenate([a[0], b[0]])[-2:])


# derivatives -----------------------------------------------------------------
LOSSES = [  # (loss of A and B, the same in NumPy, B's shape for A's (n, m))
    (lambda A, B: eg.sum(eg.tanh(eg.kron(A, B)) ** 2), lambda a, b: np.sum(np.tanh(np.kron(a, b)) ** 2),
     lambda n, m: (m, n)),
    (lambda A, B: eg.sum(eg.sin(eg.concatenate([A, B])) * eg.concatenate([A, B])),
     lambda a, b: np.sum(np.sin(np.concatenate([a, b])) * np.concatenate([a, b])), lambda n, m: (n + 2, m)),
    (lambda A, B: eg.sum(eg.exp(eg.concatenate([A, B.T], axis=1)) ** 2),
     lambda a, b: np.sum(np.exp(np.concatenate([a, b.T], axis=1)) ** 2), lambda n, m: (m, n)),
    (lambda A, B: eg.sum(eg.stack([A, B], axis=1) ** 3), lambda a, b: np.sum(np.stack([a, b], axis=1) ** 3),
     lambda n, m: (n, m)),
    (lambda A, B: eg.sum(eg.reshape(A, (-1,)) * eg.tanh(eg.reshape(B, (-1,)))),
     lambda a, b: np.sum(a.reshape(-1) * np.tanh(b.reshape(-1))), lambda n, m: (m, n)),
]


@pytest.mark.parametrize("loss,numpy,b_shape", LOSSES)
def test_gradients_match_central_differences_at_every_size(loss, numpy, b_shape):
    L = loss(A, B)  # built once
    ga, gb = eg.grad(L, A), eg.grad(L, B)
    for n, m in SIZES:
        a, b = rng(n).normal(size=(n, m)), rng(m).normal(size=b_shape(n, m))
        np.testing.assert_allclose(eg.evaluate(L, A=a, B=b), numpy(a, b), rtol=1e-10)
        np.testing.assert_allclose(eg.evaluate(ga, A=a, B=b), central(lambda t: numpy(t, b), a), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(eg.evaluate(gb, A=a, B=b), central(lambda t: numpy(a, t), b), rtol=1e-6, atol=1e-6)


def test_hessian_through_concatenate_matches_the_closed_form():
    """Second order: the adjoint of crop is a pad whose width is a difference of Extents.
    ∂²/∂y² Σ tanh³ = diag(6 t s² - 6 t³ s), t = tanh(y), s = 1 - t²."""
    H = eg.hessian(eg.sum(eg.tanh(eg.concatenate([x, y])) ** 3), y)
    for n, m in SIZES:
        a, b = rng(4).normal(size=n), rng(5).normal(size=m)
        t = np.tanh(b)
        s = 1 - t ** 2
        np.testing.assert_allclose(eg.evaluate(H, x=a, y=b), np.diag(6 * t * s ** 2 - 6 * t ** 3 * s), atol=1e-12)


OPS = [  # linear operations of A (and B, held fixed), with their NumPy form
    (lambda A, B: eg.kron(A, B), lambda a, b: np.kron(a, b)),
    (lambda A, B: eg.kron(B, A), lambda a, b: np.kron(b, a)),
    (lambda A, B: eg.concatenate([B, A, B]), lambda a, b: np.concatenate([b, a, b])),
    (lambda A, B: eg.stack([A, B], axis=2), lambda a, b: np.stack([a, b], 2)),
    (lambda A, B: eg.reshape(A, (-1, 1)), lambda a, b: a.reshape(-1, 1)),
]


@pytest.mark.parametrize("make,numpy", OPS)
def test_jacobians_equal_the_exact_jacobian_by_linearity(make, numpy):
    J = eg.jacobian(make(A, B), A)
    for n, m in SIZES[:3]:
        a, b = rng(6).normal(size=(n, m)), rng(7).normal(size=(n, m))
        exact = linear_jacobian(lambda t: numpy(t, b), a)
        arrays = {k: v for k, v in dict(A=a, B=b).items() if k in J.tensors}
        np.testing.assert_allclose(eg.evaluate(J, **arrays), exact, atol=1e-12)


KRON = eg.kron(A, B)
KRON_GRAD = eg.grad(eg.sum(eg.sin(KRON)), A)
JOINED = [eg.concatenate([A, B], axis) for axis in (0, 1)]
JOINED_GRAD = [eg.grad(eg.sum(j ** 2), B) for j in JOINED]


@settings(max_examples=examples(15), deadline=None)
@given(st.lists(st.integers(1, 3), min_size=4, max_size=4), st.integers(1, 3), st.integers(0, 1))
def test_random_sizes(sizes, k, axis):
    """One kron and one concatenation, built once, at random sizes: values vs NumPy, gradients vs
    their closed forms (the kron's: Σ_kl cos(kron(A, B))[i p + k, j q + l] B[k,l])."""
    n, m, p, q = sizes
    r = rng(sum(sizes))
    a, b = r.normal(size=(n, m)), r.normal(size=(p, q))
    np.testing.assert_allclose(eg.evaluate(KRON, A=a, B=b), np.kron(a, b))
    cos = np.cos(np.kron(a, b)).reshape(n, p, m, q)
    np.testing.assert_allclose(eg.evaluate(KRON_GRAD, A=a, B=b), np.einsum("ikjl,kl->ij", cos, b), atol=1e-12)
    c = r.normal(size=(n, k) if axis else (k, m))
    joined = eg.evaluate(JOINED[axis], A=a, B=c)
    np.testing.assert_allclose(joined, np.concatenate([a, c], axis))
    np.testing.assert_allclose(eg.evaluate(JOINED_GRAD[axis], A=a, B=c), 2 * c, atol=1e-12)


# errors at evaluation ----------------------------------------------------------
@pytest.mark.parametrize("make,arrays,match", [
    (lambda: eg.concatenate([A, B]), dict(A=np.ones((2, 3)), B=np.ones((2, 4))),
     r"concatenate: operand 1 has size 4 on axis 1, where the result has 3; every axis but axis 0 must agree"),
    (lambda: eg.concatenate([A, B]), dict(A=np.ones((2, 3)), B=np.ones((2, 1))),  # a size 1 does not stretch
     r"concatenate: operand 1 has size 1 on axis 1, where the result has 3"),
    (lambda: eg.concatenate([A, B, P], axis=1), dict(A=np.ones((2, 3)), B=np.ones((2, 1)), P=np.ones((1, 2))),
     r"concatenate: operand 2 has size 1 on axis 0, where the result has 2; every axis but axis 1 must agree"),
    (lambda: eg.stack([x, y]), dict(x=np.ones(3), y=np.ones(2)),
     r"concatenate: operand 1 has size 2 on axis 1, where the result has 3"),
    (lambda: eg.reshape(x, (2, -1)), dict(x=np.ones(5)),
     r"an axis of length x.shape\[0\]/2 has length 5/2 at these shapes, not a whole number: x.shape\[0\] = 5"),
    (lambda: eg.reshape(A, (6,)), dict(A=np.ones((2, 2))),
     r"reshape: an array of shape \(2, 2\) \(4 entries\) cannot be reshaped into shape \(6,\) \(6 entries\)"),
])
def test_sizes_that_do_not_fit_are_refused_at_evaluation(make, arrays, match):
    with pytest.raises(eg.ShapeError, match=match):
        eg.evaluate(make(), **arrays)


def test_a_reshape_it_cannot_express_says_which_sizes_must_be_known():
    joined = eg.concatenate([x, y])
    with pytest.raises(eg.ShapeError, match=r"reshape: the -1 in \(x.shape\[0\]·y.shape\[0\], -1\) would be "
                                            r"x.shape\[0\] \+ y.shape\[0\] entries over x.shape\[0\]·y.shape\[0\], "
                                            r"which is no product of sizes; give the sizes"):
        eg.reshape(joined, (dim_product(("x", 0), ("y", 0)), -1))
    with pytest.raises(eg.ShapeError, match=r"concatenate: operand 1 has size 3 on axis 1, but operand 0 has 2"):
        eg.concatenate([eg.tensor("C", (None, 2)), eg.tensor("D", (None, 3))])  # known sizes still checked at once


# printing, the language and the CLI --------------------------------------------
def test_printing_says_the_sizes():
    K = eg.kron(A, B)
    assert K.shape == (dim_product(("A", 0), ("B", 0)), dim_product(("A", 1), ("B", 1)))
    assert repr(K.shape[0]) == "Extent(A.shape[0]·B.shape[0])"
    assert str(K) == "y[i,j] = reshape([i,j,k,l] -> A[i,k] B[j,l], (size(A,0)·size(B,0), size(A,1)·size(B,1)))[i,j]"
    assert str(eg.concatenate([x, y])) == (
        "f[i] = pad(x, axis=0, width=(0, size(y,0)))[i] + pad(y, axis=0, width=(size(x,0), 0))[i]")
    assert str(eg.grad(eg.sum(eg.concatenate([x, y, z]) ** 2), y)) == (
        "∂f/∂y[i] = crop([i] -> 2 (pad(x, axis=0, width=(0, size(y,0) + size(z,0)))[i] + pad(y, axis=0, "
        "width=(size(x,0), size(z,0)))[i] + pad(z, axis=0, width=(size(x,0) + size(y,0), 0))[i]), axis=0, "
        "[size(x,0):size(x,0) + size(y,0)])[i]")
    assert str(eg.reshape(x, (2, -1))) == "y[i,j] = reshape(x, (2, size(x,0)/2))[i,j]"
    assert "\\operatorname{reshape}([i,j,k,l] -> A_{ik} B_{jl}, (size(A,0)·size(B,0)" in K.latex()
    assert eg.reshape(A, (-1,)).ascii() == "y[i] = reshape(A, (size(A,0)·size(A,1),))[i]"


@pytest.mark.slow
def test_the_language_and_the_cli_take_rank_only_tensors():
    e = parse_expression("sum(kron(A, B) * kron(B, A))", {})
    a, b = rng(8).normal(size=(2, 3)), rng(8).normal(size=(3, 2))
    np.testing.assert_allclose(eg.evaluate(e, A=a, B=b), np.sum(np.kron(a, b) * np.kron(b, a)))
    e = parse_expression("concatenate([x, reshape(A, (-1,))]) @ concatenate([reshape(A, (-1,)), x])", {})
    np.testing.assert_allclose(eg.evaluate(e, x=a[0], A=b), np.concatenate([a[0], b.ravel()]) @ np.concatenate([b.ravel(), a[0]]))
    out = subprocess.run([sys.executable, "-m", "einsumgrad", "grad", "sum(kron(A, B) ** 2)", "--wrt", "A"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "size(A,0)·size(B,0)" in out.stdout


# the lengths themselves ----------------------------------------------------------
def test_extents_are_canonical_polynomials():
    a, b = ("a", 0), ("b", 0)
    assert dim_product(a, b) == dim_product(b, a) and hash(dim_product(a, b)) == hash(dim_product(b, a))
    assert dim_sum(a, b, dim_product(-1, b)) == a and dim_sum(2, 3) == 5 and dim_product(2, 3) == 6
    assert dim_product(dim_sum(a, b), 2) == dim_sum(dim_product(2, a), dim_product(2, b))
    assert dim_quotient(dim_product(a, b), a) == b and dim_quotient(dim_sum(a, b), dim_sum(a, b)) == 1
    assert dim_quotient(dim_sum(a, b), a) is None
    assert dim_value(dim_quotient(a, 2), {a: 6}.__getitem__) == 3 and dim_atoms(dim_sum(a, b, 1)) == (a, b)
    assert isinstance(dim_sum(a, 1), Extent)
