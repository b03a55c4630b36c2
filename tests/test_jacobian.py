"""The core: eg.jacobian(spec, wrt) against the exact Jacobian built by linearity."""
import tracemalloc

import numpy as np
import pytest

import einsumgrad as eg
from oracles import contract_back, contract_front, exact_jacobian

SIZES = dict(zip("ijklmnabcdefpqAbCD", [2, 3, 4, 2, 3, 2, 3, 2, 4, 3, 2, 3, 2, 3, 2, 3, 4, 2]))

# (spec, shapes or None to size each letter from SIZES)
CASES = [
    ("ij,j->i", None),  # matrix-vector
    ("ij,jk", None),  # implicit output
    ("ij,jk->ik", None),
    ("ij,jk->ki", None),  # transposed output
    ("ji", None),  # implicit transpose
    ("ij->ji", None),
    ("ii->", None),  # trace: repeated index in the operand
    ("ii->i", None),  # diagonal
    ("iij->j", None),
    ("ij->", None),  # summed inside one operand
    ("ij->i", None),
    ("i,j->ij", None),  # outer product
    ("i,i->", None),  # scalar output
    ("ij,ij->ij", None),  # Hadamard
    ("ij,ij->", None),
    ("ij,ji->", None),
    (",->", [(), ()]),  # 0-d operands
    ("i,->i", None),
    ("->", [()]),
    ("Ab,bC->AC", None),  # upper case
    ("iA,Ai", None),
    ("ijk,i,k->j", None),
    ("i,ij,jk,kl,l->", None),
    ("fdf,cdd,ccd,afe->ae", None),  # many operands, repeats
    ("ii,ij->j", None),
    ("...ij,...j->...i", [(2, 3, 4), (2, 4)]),  # ellipsis
    ("...ij,...j->...i", [(3, 4), (4,)]),  # empty ellipsis
    ("...ij,...j->...i", [(1, 3, 4), (2, 4)]),  # size-1 broadcasting
    ("...ij,...j", [(2, 2, 3), (3,)]),  # ellipsis, implicit output
    ("i...->...i", [(2, 3, 2)]),
    ("...,...->...", [(2, 3), (3,)]),
]


def shapes_for(spec, shapes):
    if shapes is not None:
        return shapes
    lhs = spec.split("->")[0]
    return [tuple(SIZES[c] for c in term) for term in lhs.split(",")]


def operands_for(spec, shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes_for(spec, shapes)]


@pytest.mark.parametrize("spec,shapes", CASES, ids=[c[0] + str(c[1] or "") for c in CASES])
def test_dense_vjp_jvp_match_linearity(spec, shapes):
    ops = operands_for(spec, shapes)
    rng = np.random.default_rng(1)
    for wrt in range(len(ops)):
        exact = exact_jacobian(spec, ops, wrt)
        J = eg.jacobian(spec, wrt=wrt)
        dense = J(*ops)
        assert dense.shape == exact.shape
        np.testing.assert_allclose(dense, exact, atol=1e-12)
        out_shape = exact.shape[: exact.ndim - ops[wrt].ndim]
        g = rng.standard_normal(out_shape)
        t = rng.standard_normal(ops[wrt].shape)
        vjp, jvp = J.vjp(g, *ops), J.jvp(t, *ops)
        assert vjp.shape == ops[wrt].shape and jvp.shape == out_shape
        np.testing.assert_allclose(vjp, contract_front(exact, g), atol=1e-12)
        np.testing.assert_allclose(jvp, contract_back(exact, t), atol=1e-12)


@pytest.mark.parametrize("spec,shapes", CASES[:12], ids=[c[0] for c in CASES[:12]])
def test_denominator_layout_is_the_transpose(spec, shapes):
    ops = operands_for(spec, shapes)
    for wrt in range(len(ops)):
        num = eg.jacobian(spec, wrt=wrt)(*ops)
        if num.ndim > 2:  # Wikipedia defines no layout there
            with pytest.raises(eg.EinsumgradError, match="Wikipedia's denominator layout is defined for results of at"):
                eg.jacobian(spec, wrt=wrt, layout="denominator")(*ops)
            continue
        den = eg.jacobian(spec, wrt=wrt, layout="denominator")(*ops)
        k = num.ndim - ops[wrt].ndim  # Wikipedia: by yᵀ and X, so y's axes reversed after X's
        np.testing.assert_array_equal(den, num.transpose(tuple(range(k, num.ndim)) + tuple(range(k))[::-1]))


def test_the_mission_example():
    J = eg.jacobian("ij,j->i", wrt=0, names="W,x")
    assert J.formula() == "∂y[i]/∂W[j,k] = δ[i,j] x[k]"
    assert "shape layout" in str(J) and "y[i] = Σ_j W[i,j] x[j]" in str(J)
    W, x, g = np.arange(6.0).reshape(2, 3), np.array([1.0, 2.0, 3.0]), np.array([1.0, -2.0])
    dense = J(W, x)
    assert dense.shape == (2, 2, 3)
    np.testing.assert_array_equal(dense, np.einsum("ij,k->ijk", np.eye(2), x))
    np.testing.assert_array_equal(J.vjp(g, W, x), np.outer(g, x))
    np.testing.assert_array_equal(J.jvp(W, W, x), W @ x)


def test_simplified_terms_are_exposed():
    (term,) = eg.jacobian("ij,j->i", wrt=0, names="W,x").terms
    assert term.factors == ("δ[i,j]", "x[k]")
    assert term.einsum == "'ij,k->ijk' (δ, x)"
    (term,) = eg.jacobian("ij,j->i", wrt=1, names="W,x").terms
    assert term.factors == ("W[i,j]",)


def test_summed_trace_of_a_delta_becomes_the_dimension():
    # vjp of the trace Jacobian with itself: Σ_ij δ[i,j] δ[i,j] = n
    J = eg.jacobian("ii->", names="A")
    A = np.ones((5, 5))
    np.testing.assert_array_equal(J.vjp(np.array(2.0), A), 2 * np.eye(5))
    Jd = eg.jacobian("ii->i", names="A")
    np.testing.assert_array_equal(Jd.jvp(np.eye(5), A), np.ones(5))
    assert eg.jacobian("i,j->ij", wrt=0).formula() == "∂y[i,j]/∂A[k] = δ[i,k] B[j]"


@pytest.mark.parametrize("dtype,expected", [(np.float32, np.float32), (np.float64, np.float64),
                                            (np.int64, np.float64), (np.complex128, np.complex128)])
def test_dtypes(dtype, expected):
    W = (np.arange(6).reshape(2, 3) % 3).astype(dtype)
    x = np.arange(3).astype(dtype)
    J = eg.jacobian("ij,j->i", wrt=0)
    assert J(W, x).dtype == expected
    assert J.vjp(np.ones(2, dtype), W, x).dtype == expected
    assert J.jvp(W, W, x).dtype == expected


def test_vjp_never_materialises_the_jacobian():
    m = n = 400  # the dense J would take m*m*n*8 bytes = 512 MB
    rng = np.random.default_rng(0)
    W, x, g = rng.standard_normal((m, n)), rng.standard_normal(n), rng.standard_normal(m)
    J = eg.jacobian("ij,j->i", wrt=0, names="W,x")
    assert J.nbytes(W.shape, x.shape) == m * m * n * 8
    tracemalloc.start()
    try:
        result = J.vjp(g, W, x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(result, np.outer(g, x))
    assert peak < 4 * m * n * 8, f"peak {peak} bytes"


def test_plans_are_cached():
    J = eg.jacobian("ij,jk->ik", wrt=0)
    A, B, g = np.ones((3, 4)), np.ones((4, 5)), np.ones((3, 5))
    J.vjp(g, A, B)
    from einsumgrad.einsum_jacobian import _compiled

    compiled = _compiled(J._symbolic([A.shape, B.shape]).vjp, ("A", "B", "g"))
    before = compiled.plan_cache_size
    J.vjp(g, A, B)
    assert compiled.plan_cache_size == before
    J.vjp(np.ones((7, 5)), np.ones((7, 4)), B)
    assert compiled.plan_cache_size == before + 1
    assert "->" in repr(compiled)  # the repr shows the plan
