"""Property tests: random einsum specs and sizes, dense Jacobian vs exact, vjp/jvp vs dense."""
import numpy as np
from hypothesis import given, settings, strategies as st
from profiles import examples

import einsumgrad as eg
from oracles import assert_matches_linearity, contract_front, exact_jacobian

LETTERS = "abcdE"


@st.composite
def einsum_problems(draw):
    """(spec, operands, wrt): 1-3 operands of rank 0-3 over a few letters, sizes 1-3,
    explicit or implicit output, repeated indices allowed."""
    nops = draw(st.integers(1, 3))
    terms = [draw(st.text(alphabet=LETTERS, min_size=0, max_size=3)) for _ in range(nops)]
    used = sorted(set("".join(terms)))
    sizes = {c: draw(st.integers(1, 3)) for c in used}
    if draw(st.booleans()):
        out = "".join(draw(st.permutations(draw(st.sets(st.sampled_from(used), max_size=len(used)).map(sorted))))) if used else ""
        spec = ",".join(terms) + "->" + out
    else:
        spec = ",".join(terms)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    ops = [rng.standard_normal(tuple(sizes[c] for c in t)) for t in terms]
    return spec, ops, draw(st.integers(0, nops - 1))


@settings(max_examples=examples(250), deadline=None)
@given(einsum_problems())
def test_random_specs(problem):
    spec, ops, wrt = problem
    J = eg.jacobian(spec, wrt=wrt)
    assert_matches_linearity(J, spec, ops, wrt)
    assert str(J)


SMOOTH = ["tanh", "sin", "cos", "sigmoid", "softplus", "exp"]


@st.composite
def compositions(draw, depth=3):
    """A random vector-valued composition of einsums, arithmetic and elementwise functions
    of x (n,) and A (n, n)."""
    x, A, c = eg.tensor("x", 1), eg.tensor("A", 2), eg.tensor("c", 1)
    if depth == 0:
        return draw(st.sampled_from([x, A @ x, c, x * 0.5 + 1, eg.einsum("ij,i->j", A, x)]))
    kind = draw(st.sampled_from(["fn", "add", "mul", "matvec", "leaf", "scale", "pow"]))
    sub = compositions(depth=depth - 1)
    if kind == "fn":
        return getattr(eg, draw(st.sampled_from(SMOOTH)))(eg.tanh(draw(sub)))
    if kind == "add":
        return draw(sub) + draw(sub) * draw(st.sampled_from([1, -1, 0.5]))
    if kind == "mul":
        return draw(sub) * draw(sub)
    if kind == "matvec":
        return A @ draw(sub)
    if kind == "scale":
        return eg.einsum("i,i->", draw(sub), c) * draw(sub)
    if kind == "pow":
        return (eg.sigmoid(draw(sub)) + 0.5) ** draw(st.sampled_from([2, 3, -1, 0.5]))
    return draw(st.sampled_from([x, A @ x]))


@settings(max_examples=examples(120), deadline=None)
@given(compositions(), st.integers(0, 2**16))
def test_random_compositions_against_finite_differences(expr, seed):
    rng = np.random.default_rng(seed)
    arrays = dict(x=rng.uniform(-1, 1, 3), A=rng.uniform(-1, 1, (3, 3)), c=rng.uniform(-1, 1, 3))
    f = eg.sum(expr * eg.tensor("c", 1))
    names = eg.compile(f).names
    for wrt in (eg.tensor("x", 1), eg.tensor("A", 2)):
        if wrt.name in names:
            report = eg.check(f, wrt, **{k: v for k, v in arrays.items() if k in names})
            assert report.passed, f"{report}\n{f}"


@settings(max_examples=examples(150), deadline=None)
@given(einsum_problems(), st.sampled_from(["auto", "greedy", "optimal", "dp"]))
def test_random_specs_through_planned_pairwise_steps(problem, optimize):
    """Small problems normally run as one np.einsum; force the planned path (BLAS steps with
    their transposes and reshapes) to check it on the same random specs."""
    from einsumgrad.compiler import plan

    spec, ops, wrt = problem
    J = eg.jacobian(spec, wrt=wrt)
    exact = exact_jacobian(spec, ops, wrt)
    g = np.random.default_rng(1).standard_normal(exact.shape[: exact.ndim - ops[wrt].ndim])
    names = dict(zip(J.names, ops))
    small = plan.SMALL
    plan.SMALL = 0
    eg.clear_caches()
    try:
        vjp = eg.compile(J.vjp_expression(*ops), optimize=optimize)(**names, **{J.cotangent_name: g})
        dense = eg.compile(J.expression(*ops), optimize=optimize)(**names)
    finally:
        plan.SMALL = small
        eg.clear_caches()
    np.testing.assert_allclose(dense, exact, atol=1e-12)
    np.testing.assert_allclose(vjp, contract_front(exact, g), atol=1e-12)
