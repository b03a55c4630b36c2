"""The passes of simplify.py, on IR built by hand: each result term exactly, and values kept."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from profiles import examples

import einsumgrad as eg
from einsumgrad.core.ir import Delta, Expr, Ref, Size, Term, Var
from einsumgrad.core.simplify import (_tidy, canonical, eliminate_deltas, elimination_steps, factor_common, merge,
                                 simplify, symmetry)

N = ("x", 0)  # every axis below has the length of x
x, v, u = Var("x", (N,)), Var("v", (N,)), Var("u", (N,))
W = Var("W", (N, N))


def X(a):
    return Ref(x, (a,))


def M(a, b):
    return Ref(W, (a, b))


def D(a, b, dim=N):
    return Delta(a, b, dim)


def weight(var: Var) -> Expr:
    """An elementwise weight node, ``var[k]`` as a sub-expression (what a derivative's f'(z) looks like)."""
    return Expr(("k",), (N,), (Term(1, (Ref(var, ("k",)),)),))


V, U = weight(v), weight(u)
INDICES = "ijkl"
INDEX = st.sampled_from(INDICES)


# -- eliminate_deltas ------------------------------------------------------------------
@pytest.mark.parametrize("factors, out, expected", [
    ((D("i", "j"), X("j")), ("i",), (X("i"),)),  # the summed j becomes i
    ((D("j", "i"), M("k", "j")), ("k", "i"), (M("k", "i"),)),  # whichever side the summed index is on
    ((D("i", "m"), D("m", "p")), ("i", "p"), (D("i", "p"),)),  # a chain through a summed index
    ((D("i", "i"), X("i")), ("i",), (X("i"),)),  # δ[i,i] on an output index is 1
    ((D("i", "p"), X("j"), D("j", "q")), ("i", "p", "q"), (X("q"), D("i", "p"))),  # the module's example
], ids=["summed-right", "summed-left", "chain", "output-diagonal", "jacobian"])
def test_eliminate_deltas(factors, out, expected):
    assert eliminate_deltas(Term(1, factors), out).factors == expected


W_ = eg.tensor("W", 2)
DIAG = eg.grad(eg.tensor("v", 1) @ eg.einsum("ii->i", W_), W_)  # δ[i,j] v[i]


def test_a_delta_summed_over_both_indices_is_the_size():
    assert eliminate_deltas(Term(1, (D("i", "j"),)), ()) == Term(1, (Size(N),))  # Σ_ij δ[i,j] = n


def test_the_sum_of_an_identity_jacobian_is_its_size():
    f = eg.compile(eg.sum(eg.grad(eg.trace(W_), W_)))  # Σ_ij δ[i,j]
    assert f(**{n: np.zeros((3, 3)) for n in f.names}) == 3


def test_a_summed_delta_on_a_read_index_is_one():
    result = eliminate_deltas(Term(1, (X("i"), D("i", "j"), D("j", "i"))), ())  # Σ_ij x[i] δ[i,j] δ[j,i] = Σ x
    assert result in (Term(1, (X("i"),)), Term(1, (X("j"),)))  # no size: one summed index, read by x


def test_a_contraction_of_two_diagonal_jacobians():
    v = np.array([1.0, 2.0, 3.0])
    assert eg.evaluate(eg.einsum("ij,ji->", DIAG, DIAG), v=v, W=np.zeros((3, 3))) == 14  # Σ v², not 42


def test_a_summed_trace_of_the_identity_is_the_size():
    assert eliminate_deltas(Term(2, (D("j", "j", 3), X("i"))), ("i",)) == Term(6, (X("i"),))  # known: a number
    assert eliminate_deltas(Term(2, (D("j", "j"), X("i"))), ("i",)) == Term(2, (X("i"), Size(N)))  # symbolic


@pytest.mark.parametrize("deltas", [
    (D("i", "j"), D("j", "k"), D("i", "k")),  # a cycle: one delta too many
    (D("k", "i"), D("j", "k")),  # the same tree, written the other way round
    (D("j", "i"), D("k", "j")),
    (D("i", "k"), D("j", "i"), D("k", "j"), D("i", "j")),
])
def test_output_deltas_are_kept_as_one_spanning_forest(deltas):
    assert eliminate_deltas(Term(1, deltas), ("i", "j", "k")).factors == (D("i", "j"), D("i", "k"))


def test_separate_trees_stay_separate():
    out = ("i", "j", "k", "l")
    assert eliminate_deltas(Term(1, (D("l", "j"), D("k", "i"))), out).factors == (D("i", "k"), D("j", "l"))


def test_elimination_steps_one_delta_at_a_time():
    e = Expr(("i", "p", "q"), (N,) * 3, (Term(1, (D("i", "j"), X("k"), D("k", "q"), D("p", "p"))),))
    steps = list(elimination_steps(e))
    assert [what for what, _ in steps] == ["the sum over j eliminates δ[i,j]: j becomes i",
                                           "the sum over k eliminates δ[k,q]: k becomes q",
                                           "δ[p,p] = 1"]
    assert [s.terms for _, s in steps] == [(Term(1, (X("k"), D("k", "q"), D("p", "p"))),),
                                           (Term(1, (X("q"), D("p", "p"))),),
                                           (Term(1, (X("q"),)),)]
    assert all(s.out == e.out and s.dims == e.dims for _, s in steps)


def test_elimination_steps_name_the_size_and_go_term_by_term():
    e = Expr(("i",), (N,), (Term(1, (D("j", "j"), X("i"))), Term(1, (D("i", "m"), X("m")))))
    steps = list(elimination_steps(e))
    assert [what for what, _ in steps] == ["the sum over j of δ[j,j] is the size of j",
                                           "the sum over m eliminates δ[i,m]: m becomes i"]
    assert steps[-1][1].terms == (Term(1, (X("i"), Size(N))), Term(1, (X("i"),)))
    assert list(elimination_steps(Expr(("i",), (N,), (Term(1, (X("i"),)),)))) == []


# -- canonical -------------------------------------------------------------------------
def test_terms_equal_up_to_renaming_become_equal():
    a = canonical(Term(1, (X("m"), M("i", "m"))), ("i",))
    b = canonical(Term(1, (M("i", "z"), X("z"))), ("i",))
    assert a == b == Term(1, (M("i", "j"), X("j")))


def test_summed_names_avoid_the_output_names():
    assert canonical(Term(1, (M("a", "j"), X("a"))), ("j",)) == Term(1, (M("i", "j"), X("i")))


def test_deltas_then_tensors_then_sizes_and_the_coefficient_kept():
    t = Term(3, (Size(N), X("z"), M("z", "i"), D("i", "k")))
    assert canonical(t, ("i", "k")) == Term(3, (D("i", "k"), M("j", "i"), X("j"), Size(N)))


def test_canonical_settles_where_factors_tie():
    # x[q] x[p] W[p,q] and W[p,q] x[q] x[p]: the two x's sort equal until the names are settled
    a = canonical(Term(1, (X("q"), X("p"), M("p", "q"))), ())
    b = canonical(Term(1, (M("p", "q"), X("q"), X("p"))), ())
    assert a == b == Term(1, (M("i", "j"), X("i"), X("j")))


B_ = Var("B", (N, N))


def B(a, b):
    return Ref(B_, (a, b))


@pytest.mark.parametrize("out, first, second", [
    # k and l tie: each is read by one x and one B; only the output index beside them tells them apart
    (("i", "j"), (X("k"), X("l"), B("i", "k"), B("j", "l")), (X("l"), X("k"), B("i", "l"), B("j", "k"))),
    # nothing but summed indices (found by a fuzzer; breaking ties by first appearance split them)
    ((), (B("a", "d"), B("b", "b")), (B("c", "c"), B("a", "b"))),  # Σ B ⋅ tr(B)
    ((), (X("d"), X("c"), X("c")), (X("a"), X("a"), X("b"))),  # Σ x ⋅ xᵀx
    ((), (M("c", "a"), B("a", "a"), X("b"), X("b"), B("c", "b")),
     (X("d"), B("a", "d"), B("b", "b"), X("d"), M("a", "b"))),
], ids=["hessian-pair", "sum-times-trace", "sum-times-square", "all-summed-diagonals"])
def test_terms_equal_up_to_renaming_merge_where_factors_tie(out, first, second):
    assert canonical(Term(1, first), out) == canonical(Term(1, second), out)
    assert merge([canonical(Term(1, first), out), canonical(Term(2, second), out)])[0].coef == 3


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.one_of(INDEX.map(X), st.tuples(INDEX, INDEX).map(lambda p: M(*p)),
                          st.tuples(INDEX, INDEX).map(lambda p: B(*p))), min_size=1, max_size=5),
       st.lists(INDEX, max_size=2, unique=True), st.permutations(INDICES), st.randoms(use_true_random=False))
def test_canonical_forgets_the_names_of_summed_indices_and_the_order_of_factors(factors, out, names, rnd):
    term, out = Term(1, tuple(factors)), tuple(out)
    summed = [a for a in INDICES if a not in out]
    renamed = term.rename(dict(zip(summed, [a for a in names if a not in out]))).factors
    assert canonical(term, out) == canonical(Term(1, tuple(rnd.sample(renamed, len(renamed)))), out)


def test_a_symmetric_node_is_read_with_its_symmetric_indices_sorted():
    gram = Expr(("i", "j"), (N, N), (Term(1, (M("k", "i"), M("k", "j"))),))  # Wᵀ W
    assert symmetry(gram) == (0, 0)
    assert symmetry(Expr(("i", "j"), (N, N), (Term(1, (M("k", "i"), B("k", "j"))),))) == (0, 1)  # Wᵀ B
    assert canonical(Term(1, (Ref(gram, ("j", "i")),)), ("i", "j")).factors == (Ref(gram, ("i", "j")),)


def test_symmetry_passes_through_elementwise_functions_and_names_each_axis_group():
    gram = eg.einsum("lmj,lmk->mjk", eg.tensor("P", 3), eg.tensor("P", 3)) - eg.eye(eg.tensor("P", 3).shape[2])
    assert symmetry(eg.sign(gram).node) == (0, 1, 1)
    assert symmetry(eg.softmax(eg.tensor("A", 2) @ eg.tensor("A", 2).T, axis=1).node) == (0, 1)  # not elementwise


# -- merge and _tidy ---------------------------------------------------------------------
def test_merge_adds_coefficients_of_equal_terms_in_first_order():
    wx, xi = (M("i", "j"), X("j")), (X("i"),)
    assert merge([Term(2, wx), Term(1, xi), Term(3, wx)]) == (Term(5, wx), Term(1, xi))


def test_merge_drops_zeros():
    wx = (M("i", "j"), X("j"))
    assert merge([Term(1, wx), Term(-1, wx)]) == ()
    assert merge([Term(0, (X("i"),))]) == ()


def test_merge_tidies_coefficients():
    (t,) = merge([Term(0.5, ()), Term(0.5, ())])
    assert t.coef == 1 and type(t.coef) is int


def test_merge_refuses_a_sum_beyond_a_float():
    with pytest.raises(eg.EinsumgradError, match="coefficients add up to inf, beyond a float; rescale"):
        merge([Term(1e308, ()), Term(1e308, ())])


@pytest.mark.parametrize("c, expected", [(2.0, 2), (3 + 0j, 3), (-0.0, 0), (2.0**52, 2**52), (7, 7),
                                         (2.5, 2.5), (1 + 2j, 1 + 2j), (2.0**53, 2.0**53)])
def test_tidy(c, expected):
    assert _tidy(c) == expected and type(_tidy(c)) is type(expected)


def test_tidy_refuses_infinity():
    with pytest.raises(eg.EinsumgradError, match=r"coefficients add up to -inf"):
        _tidy(float("-inf"))


# -- factor_common -----------------------------------------------------------------------
OUT2 = ("i", "j")


def test_weights_of_the_same_core_are_summed_first():
    t1 = Term(1, (M("k", "i"), M("k", "j"), Ref(V, ("k",))))
    t2 = Term(3, (M("m", "i"), M("m", "j"), Ref(U, ("m",))))  # the same core, its summed index named otherwise
    summed = Expr(("k",), (N,), (Term(1, (Ref(V, ("k",)),)), Term(3, (Ref(U, ("k",)),))))
    assert factor_common((t1, t2), OUT2) == (Term(1, (M("k", "i"), M("k", "j"), Ref(summed, ("k",)))),)


def test_weights_that_cancel_drop_the_term():
    t = (M("k", "i"), M("k", "j"), Ref(V, ("k",)))
    assert factor_common((Term(2, t), Term(-2, t)), OUT2) == ()


@pytest.mark.parametrize("t2", [
    Term(1, (M("i", "k"), M("k", "j"), Ref(U, ("k",)))),  # another core: W W, not Wᵀ W
    Term(1, (M("k", "i"), M("k", "j"), Ref(U, ("l",)))),  # a weight on an index no tensor carries
    Term(1, (M("k", "i"), X("j"), Ref(U, ("k",)))),  # another core
], ids=["product-core", "loose-index", "other-core"])
def test_terms_that_may_not_share_weights_stay_apart(t2):
    t1 = Term(1, (M("k", "i"), M("k", "j"), Ref(V, ("k",))))
    assert factor_common((t1, t2), OUT2) == (t1, t2)


def test_a_core_of_deltas_only_keeps_its_weights_apart():
    t1, t2 = Term(1, (D("i", "j"), Ref(V, ("i",)))), Term(1, (D("i", "j"), Ref(U, ("i",))))
    assert factor_common((t1, t2), OUT2) == (t1, t2)


def test_weights_on_different_indices_stay_apart():  # docs/design.md rule 6b: no weight over the union
    t1 = Term(1, (M("k", "i"), M("k", "j"), Ref(V, ("k",))))
    t2 = Term(1, (M("k", "i"), M("k", "j"), Ref(U, ("j",))))
    assert factor_common((t1, t2), OUT2) == (t1, t2)


# -- simplify: all passes ------------------------------------------------------------------
def test_simplify_eliminates_canonicalises_merges_and_factors():
    e = Expr(("i", "p", "q"), (N,) * 3, (Term(1, (D("i", "p"), X("j"), D("j", "q"))),
                                          Term(2, (X("q"), D("p", "i"))),
                                          Term(1, (D("k", "k", 3), X("i"), X("p"), X("q")))))
    assert simplify(e).terms == (Term(3, (D("i", "p"), X("q"))), Term(3, (X("i"), X("p"), X("q"))))
    core = (M("k", "i"), M("k", "j"))
    e = Expr(("i", "j"), (N, N), (Term(1, core + (Ref(V, ("k",)),)), Term(1, (M("m", "i"), D("m", "n"),
                                                                             M("n", "j"), Ref(U, ("m",))))))
    summed = Expr(("k",), (N,), (Term(1, (Ref(V, ("k",)),)), Term(1, (Ref(U, ("k",)),))))
    assert simplify(e).terms == (Term(1, core + (Ref(summed, ("k",)),)),)


# -- simplification keeps the value ------------------------------------------------------
def dense(node, arrays: dict) -> np.ndarray:
    """A node's value by the book: deltas as identity matrices, every term one np.einsum."""
    if isinstance(node, Var):
        return arrays[node.name]

    def length(dim):
        return dim if isinstance(dim, int) else arrays[dim[0]].shape[dim[1]]

    total = np.zeros(tuple(length(d) for d in node.dims))
    for t in node.terms:
        letters = {a: chr(ord("a") + k) for k, a in enumerate(dict.fromkeys(node.out + t.indices()))}
        ops, subs, coef = [], [], t.coef
        for f in t.factors:
            if isinstance(f, Size):
                coef *= length(f.dim)
            elif isinstance(f, Delta):
                ops.append(np.eye(length(f.dim)))
                subs.append(letters[f.a] + letters[f.b])
            else:
                ops.append(dense(f.node, arrays))
                subs.append("".join(letters[a] for a in f.idx))
        for a, d in zip(node.out, node.dims):
            ops.append(np.ones(length(d)))  # ones on every output index: one no factor carries is broadcast
            subs.append(letters[a])
        value = np.einsum(",".join(subs) + "->" + "".join(letters[a] for a in node.out), *ops) if ops else 1.0
        total = total + coef * value
    return total


FACTOR = st.one_of(
    INDEX.map(X),
    st.tuples(INDEX, INDEX).map(lambda p: M(*p)),
    st.tuples(st.sampled_from([V, U]), INDEX).map(lambda p: Ref(p[0], (p[1],))),
    st.just(Size(N)),
)


@st.composite
def terms(draw, out):
    """A term of up to four factors and up to two deltas between any indices (summed, read or not)."""
    factors = draw(st.lists(FACTOR, max_size=4))
    for _ in range(draw(st.integers(0, 2))):
        factors.insert(draw(st.integers(0, len(factors))), D(draw(INDEX), draw(INDEX)))
    return Term(draw(st.integers(-2, 2)), tuple(factors))


@st.composite
def expressions(draw):
    """Sums of up to three terms over x, W, a delta and weights; the last may be the first with another weight."""
    out = tuple(draw(st.lists(INDEX, max_size=2, unique=True)))
    terms_ = draw(st.lists(terms(out), min_size=1, max_size=3))
    if draw(st.booleans()):  # the first term again with another weight, for factor_common
        t = terms_[0]
        terms_.append(Term(draw(st.integers(-2, 2)), t.factors + (Ref(draw(st.sampled_from([V, U])), ("k",)),)))
    return Expr(out, (N,) * len(out), tuple(terms_))


@settings(max_examples=examples(200), deadline=None)
@given(expressions(), st.integers(0, 2**16), st.integers(1, 3))
def test_simplify_keeps_the_value(e, seed, n):
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.standard_normal(n), "W": rng.standard_normal((n, n)), "v": rng.standard_normal(n),
              "u": rng.standard_normal(n)}
    before = dense(e, arrays)
    s = simplify(e)
    np.testing.assert_allclose(dense(s, arrays), before, rtol=1e-9, atol=1e-9)
    f = eg.compile(eg.Expression(s))
    np.testing.assert_allclose(f(**{k: arrays[k] for k in f.names}), before, rtol=1e-9, atol=1e-9)
    assert simplify(s) == s  # simplified once is simplified


# -- symmetric nodes ---------------------------------------------------------------------
def test_the_orthogonality_gradient_adds_its_two_symmetric_terms():
    """sign(Φ_iᵀΦ_i − I) is symmetric in (j, k): the gradient's two terms are one, twice."""
    phi, beta = eg.tensor("Φ", 3), eg.tensor("β", 0)
    loss = beta * eg.sum(eg.abs(eg.einsum("lmj,lmk->mjk", phi, phi) - eg.eye(phi.shape[2])))
    g = eg.grad(loss, phi)
    assert str(g) == "∂f/∂Φ[i,j,k] = Σ_l 2 Φ[i,j,l] β sign(Σ_m Φ[m,j,k] Φ[m,j,l] - δ[k,l])"
    arrays = {"Φ": np.random.default_rng(0).standard_normal((4, 3, 2)), "β": np.float64(0.5)}
    assert eg.check(loss, phi, **arrays).passed
    gram = np.einsum("lmj,lmk->mjk", arrays["Φ"], arrays["Φ"]) - np.eye(2)
    np.testing.assert_allclose(eg.evaluate(g, **arrays), np.einsum("imj,mjk->imk", arrays["Φ"], np.sign(gram)))


def test_a_sum_not_symmetric_in_two_axes_keeps_both_terms():
    phi, t = eg.tensor("Φ", 3), eg.tensor("T", 3)  # T[m,j,k] is no symmetric tensor
    loss = eg.sum(eg.abs(eg.einsum("lmj,lmk->mjk", phi, phi) - t))
    assert len(eg.grad(loss, phi).node.terms) == 2
    rng = np.random.default_rng(1)
    assert eg.check(loss, phi, Φ=rng.standard_normal((4, 3, 2)), T=rng.random((3, 2, 2))).passed


A_, X_, S_, x_ = eg.tensor("A", 2), eg.tensor("X", 2), eg.tensor("S", 2, symmetric=True), eg.tensor("x", 1)


@pytest.mark.parametrize("f, wrt, text", [
    (x_ @ (A_ + A_.T) @ x_, x_, "∂²f/∂x[i]∂x[j] = 2 (A[i,j] + A[j,i])"),
    (eg.trace(X_.T @ (A_ + A_.T) @ X_), X_, "∂²f/∂X[i,j]∂X[k,l] = 2 δ[j,l] (A[i,k] + A[k,i])"),
    (eg.trace(X_.T @ S_ @ X_), X_, "∂²f/∂X[i,j]∂X[k,l] = 2 δ[j,l] S[i,k]"),
    (eg.sum((A_ @ X_) ** 2), X_, "∂²f/∂X[i,j]∂X[k,l] = Σ_m 2 δ[j,l] A[m,i] A[m,k]"),
], ids=["xᵀ(A + Aᵀ)x", "tr(Xᵀ(A + Aᵀ)X)", "tr(XᵀSX)", "Σ(AX)²"])
def test_hessian_terms_equal_under_a_symmetry_print_once_twice(f, wrt, text):
    assert str(eg.hessian(f, wrt)) == text
    rng = np.random.default_rng(3)
    s = rng.standard_normal((3, 3))
    arrays = {"A": rng.standard_normal((3, 3)), "X": rng.standard_normal((3, 3)), "S": s + s.T,
              "x": rng.standard_normal(3)}
    h, g = eg.hessian(f, wrt), eg.compile(eg.grad(f, wrt))
    name, eps = str(wrt.name), 1e-6
    central = np.empty(arrays[name].shape * 2)
    for k in np.ndindex(arrays[name].shape):  # the printed Hessian against central differences of the gradient
        step = np.zeros_like(arrays[name])
        step[k] = eps
        at = {n: arrays[n] for n in g.names}
        central[(...,) + k] = (g(**at | {name: at[name] + step}) - g(**at | {name: at[name] - step})) / (2 * eps)
    np.testing.assert_allclose(eg.evaluate(h, **{n: arrays[n] for n in eg.compile(h).names}), central, atol=1e-6)
