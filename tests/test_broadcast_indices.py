"""NumPy's size-1 stretching on named indices: ``np.einsum("ij,j->i", W, x)`` with x of shape (1,)
reads x[0] for every j. The derivative w.r.t. a stretched operand sums over the stretched axis."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from profiles import examples

import einsumgrad as eg
from oracles import assert_matches_linearity, central_difference, contract_back, contract_front, exact_jacobian

# (spec, shapes): every one accepted by np.einsum
CASES = [
    ("cij,cjk->cik", [(3, 4, 5), (3, 1, 6)]),  # batch index c, stretched j
    ("ij,ij->j", [(10, 2), (1, 2)]),
    ("ij,j->i", [(2, 3), (1,)]),
    ("ij,jk->ik", [(2, 1), (3, 4)]),  # the left operand stretched
    ("ij,jk", [(2, 1), (3, 4)]),  # implicit output
    ("bij,bj->bi", [(2, 3, 1), (1, 4)]),  # each operand stretched on a different index
    ("ij,ik->ijk", [(1, 2), (3, 4)]),  # a stretched index in the output
    ("i,i,i->i", [(1,), (3,), (1,)]),
    ("i,i->", [(1,), (3,)]),
    ("i,i->i", [(1,), (1,)]),  # every size 1: nothing to stretch
    ("ii,i->i", [(1, 1), (3,)]),  # a repeated index stretches as a whole
    ("ii,i->i", [(3, 3), (1,)]),
    ("ii,ij->j", [(1, 1), (3, 2)]),
    ("...ij,...j->...i", [(2, 3, 1), (5,)]),  # ellipsis mixed with a stretched named axis
    ("...ij,...j->...i", [(1, 3, 4), (2, 1)]),  # ... stretched one way, j the other
    ("...i,...i->...i", [(2, 1), (3,)]),
    ("i...,i->i...", [(1, 2), (3,)]),
]
IDS = [f"{spec}{shapes}" for spec, shapes in CASES]


def operands(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("spec,shapes", CASES, ids=IDS)
def test_jacobian_vjp_jvp_both_layouts(spec, shapes):
    ops = operands(shapes)
    rng = np.random.default_rng(1)
    for wrt in range(len(ops)):
        exact = exact_jacobian(spec, ops, wrt)  # np.einsum stretches; linearity gives the Jacobian
        J = eg.jacobian(spec, wrt=wrt)
        dense = J(*ops)
        assert dense.shape == exact.shape
        np.testing.assert_allclose(dense, exact, atol=1e-12)
        k = ops[wrt].ndim
        out_shape = exact.shape[: exact.ndim - k]
        vec = eg.jacobian(spec, wrt=wrt, layout="vec")(*ops)
        np.testing.assert_allclose(vec, exact.reshape((int(np.prod(out_shape)), ops[wrt].size), order="F"))
        assert J.nbytes(*shapes) == exact.size * 8
        g, t = rng.standard_normal(out_shape), rng.standard_normal(ops[wrt].shape)
        vjp, jvp = J.vjp(g, *ops), J.jvp(t, *ops)
        assert vjp.shape == ops[wrt].shape and jvp.shape == out_shape
        np.testing.assert_allclose(vjp, contract_front(exact, g), atol=1e-12)
        np.testing.assert_allclose(jvp, contract_back(exact, t), atol=1e-12)


@pytest.mark.parametrize("spec,shapes", CASES, ids=IDS)
def test_jvp_against_central_differences(spec, shapes):
    ops = operands(shapes)
    for wrt in range(len(ops)):
        t = np.random.default_rng(2).standard_normal(ops[wrt].shape)

        def f(x, wrt=wrt):
            return np.einsum(spec, *ops[:wrt], x, *ops[wrt + 1 :])

        jvp = eg.jacobian(spec, wrt=wrt).jvp(t, *ops)
        np.testing.assert_allclose(jvp, central_difference(f, ops[wrt], t), atol=1e-7)


def test_derivative_by_a_stretched_operand_sums_over_the_stretched_axis():
    W, x = np.arange(6.0).reshape(2, 3), np.array([2.0])
    J = eg.jacobian("ij,j->i", wrt=1)
    np.testing.assert_array_equal(J(W, x), W.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(J.vjp(np.array([1.0, -1.0]), W, x), [3.0 - 12.0])
    np.testing.assert_array_equal(eg.jacobian("ij,j->i", wrt=1, layout="denominator")(W, x), [[3.0, 12.0]])
    assert J.nbytes((2, 3), (1,)) == 2 * 8
    # the same Jacobian object still serves full-size operands
    np.testing.assert_array_equal(J(W, np.ones(3)), W)


@pytest.mark.parametrize("spec,shapes", CASES, ids=IDS)
def test_expressions_of_concrete_shapes(spec, shapes):
    """eg.einsum over tensors of concrete shapes: the value is NumPy's, each gradient passes
    central differences (the stretched operand's gradient has its own shape, size 1 kept)."""
    ops = operands(shapes)
    names = [f"A{k}" for k in range(len(ops))]
    tensors = [eg.tensor(n, s) for n, s in zip(names, shapes)]
    arrays = dict(zip(names, ops))
    y = eg.einsum(spec, *tensors)
    np.testing.assert_allclose(eg.evaluate(y, **arrays), np.einsum(spec, *ops), atol=1e-12)
    loss = eg.sum(eg.tanh(y))
    for n, t, a in zip(names, tensors, ops):
        assert eg.evaluate(eg.grad(loss, t), **arrays).shape == a.shape
        report = eg.check(loss, t, **arrays)
        assert report.passed, str(report)


@pytest.mark.parametrize("spec,big,small,stretched", [
    ("ij,j->i", (2, 3), (1,), (3,)),
    ("cij,cjk->cik", (3, 4, 5), (3, 1, 6), (3, 5, 6)),
    ("ij,ij->j", (10, 2), (1, 2), (10, 2)),
])
def test_symbolic_sizes_stretch_at_evaluation(spec, big, small, stretched):
    """eg.tensor(name, rank): one compiled expression serves a size-1 array and a full-size one."""
    A, B = eg.tensor("A", len(big)), eg.tensor("B", len(small))
    y = eg.einsum(spec, A, B)
    f = eg.compile(y, eg.grad(eg.sum(eg.tanh(y)), A))
    a, b, b_full = operands([big, small, stretched])
    for other in (b, b_full):
        value, grad = f(A=a, B=other)
        np.testing.assert_allclose(value, np.einsum(spec, a, other), atol=1e-12)
        d = np.random.default_rng(3).standard_normal(a.shape)
        numeric = central_difference(lambda x: np.tanh(np.einsum(spec, x, other)).sum(), a, d)
        np.testing.assert_allclose(np.sum(grad * d), numeric, atol=1e-7)


def test_symbolic_gradient_by_an_operand_stretched_at_evaluation_sums_over_the_stretch():
    """Its gradient, declared with B's own symbolic shape, sums over the axis stretched at evaluation."""
    A, B = eg.tensor("A", 2), eg.tensor("B", 1)
    g = eg.grad(eg.sum(eg.einsum("ij,j->i", A, B)), B)
    np.testing.assert_array_equal(eg.evaluate(g, A=np.ones((2, 3)), B=np.ones(1)), [6.0])
    np.testing.assert_array_equal(eg.evaluate(g, A=np.ones((2, 3)), B=np.ones(3)), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("spec,shapes,message", [
    ("ij,j->i", [(3, 2), (3,)], r"index 'j' has size 3 in operand 1 \(B\) but size 2 in operand 0 \(A\)"),
    ("i,i,i->i", [(1,), (3,), (2,)], r"index 'i' has size 2 in operand 2 \(C\) but size 3 in operand 1 \(B\)"),
    ("cij,cjk->cik", [(3, 4, 5), (2, 5, 6)], r"index 'c' has size 2 in operand 1 \(B\) but size 3 in operand 0"),
    # NumPy stretches across operands only: a repeated index in one operand needs one size
    ("ii->i", [(3, 1)], r"index 'i' has size 1 in operand 0 \(A\) but size 3 earlier in the same operand"),
    ("ii,i->i", [(1, 3), (3,)], r"index 'i' has size 3 in operand 0 \(A\) but size 1 earlier in the same operand"),
])
def test_genuine_mismatches_are_refused_as_numpy_does(spec, shapes, message):
    ops = operands(shapes)
    with pytest.raises(ValueError):
        np.einsum(spec, *ops)
    for call in (lambda J: J(*ops), lambda J: J.nbytes(*shapes)):
        with pytest.raises(eg.ShapeError, match=message):
            call(eg.jacobian(spec, wrt=0))
    with pytest.raises(eg.ShapeError, match=message):
        eg.einsum(spec, *[eg.tensor(n, s) for n, s in zip("ABC", shapes)])


@pytest.mark.parametrize("spec,shapes,message", [
    ("ij,j->i", [(3, 2), (3,)], r"index 'j' has size 3 in B\[j\] but size 2 in A\[i,j\]"),
    ("ii->i", [(3, 1)], r"index 'i' has sizes 3 and 1 in A\[i,i\]; a repeated index needs one size"),
])
def test_genuine_mismatches_at_evaluation(spec, shapes, message):
    y = eg.einsum(spec, *[eg.tensor(n, len(s)) for n, s in zip("AB", shapes)])
    with pytest.raises(eg.ShapeError, match=message):
        eg.evaluate(y, **dict(zip("AB", operands(shapes))))


@st.composite
def stretched_problems(draw):
    """(spec, operands, wrt): 1-3 operands over a few letters, sizes 1-3, where each operand's
    axes for a letter are, at random, the letter's size or 1; repeated indices allowed."""
    nops = draw(st.integers(1, 3))
    terms = [draw(st.text(alphabet="abcd", min_size=0, max_size=3)) for _ in range(nops)]
    used = sorted(set("".join(terms)))
    sizes = {c: draw(st.integers(1, 3)) for c in used}
    own = [{c: draw(st.sampled_from([1, sizes[c]])) for c in sorted(set(t))} for t in terms]
    out = draw(st.permutations(draw(st.sets(st.sampled_from(used), max_size=len(used)).map(sorted)))) if used else []
    spec = ",".join(terms) + "->" + "".join(out)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    ops = [rng.standard_normal(tuple(s[c] for c in t)) for t, s in zip(terms, own)]
    return spec, ops, draw(st.integers(0, nops - 1))


@settings(max_examples=examples(150), deadline=None)
@given(stretched_problems())
def test_random_specs_with_random_size_1_axes(problem):
    spec, ops, wrt = problem
    assert_matches_linearity(eg.jacobian(spec, wrt=wrt), spec, ops, wrt)
