"""The compiler package in parts: the cache type, plans without arrays, kernels on arrays."""
import math
import threading

import numpy as np
import opt_einsum
import pytest
from oracles import exact_jacobian

import einsumgrad as eg
from einsumgrad.core import caches
from einsumgrad.compiler.kernels import _view
from einsumgrad.compiler.plan import Layout, Step, contraction, diagonal_view, plan_term
from einsumgrad.core.ir import Delta, Expr, Ref, Size, Term, Var


# -- the one cache type ------------------------------------------------------------
def test_a_cache_is_bounded_and_forgets_the_least_recently_used():
    calls = []

    @caches.cache(maxsize=2)
    def double(n):
        calls.append(n)
        return 2 * n

    assert [double(1), double(2), double(1), double(3)] == [2, 4, 2, 6]  # 3 evicts 2, used least recently
    assert len(double.cache) == 2
    assert double(1) == 2 and double(2) == 4
    assert calls == [1, 2, 3, 2]


def test_a_bound_given_as_a_function_is_read_at_every_insert():
    bound = [3]
    store = caches.LRU(lambda: bound[0])
    for k in range(5):
        store.insert(k, k)
    assert len(store) == 3 and store.get(0) is None and store.get(4) == 4
    bound[0] = 1
    store.insert(5, 5)
    assert len(store) == 1 and store.get(5) == 5


def test_threads_filling_one_cache_agree_and_keep_the_bound():
    store = caches.LRU(64)
    results: list = []

    def work(seed):
        for k in range(2000):
            key = (k * 7 + seed) % 100
            got = store.get(key)
            results.append(got is None or got == (key, "value"))
            store.insert(key, (key, "value"))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results) and len(store) == 64


def test_racing_inserts_of_one_key_return_the_first_value():
    store = caches.LRU(4)
    first, second = object(), object()
    assert store.insert("k", first) is first
    assert store.insert("k", second) is first


def test_a_recursive_function_can_be_cached():
    @caches.cache(maxsize=8)
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert fib(30) == 832040  # fast only because it is cached; bounded, so some entries are recomputed


def test_clear_all_empties_every_cache_with_no_list():
    @caches.cache(maxsize=4)
    def square(n):
        return n * n

    square(2)
    W = eg.tensor("W", 2)
    f = eg.compile(eg.sum(W * W))
    f(W=np.ones((2, 2)))
    from einsumgrad.core.simplify import node_key

    assert len(square.cache) == 1 and len(node_key.cache) > 0 and f.plan_cache_size == 1
    eg.clear_caches()
    assert len(square.cache) == 0 and len(node_key.cache) == 0 and f.plan_cache_size == 0


# -- plans, without arrays ----------------------------------------------------------
W, x, v = Var("W", (3, 4)), Var("x", (4,)), Var("v", (3,))


def planned(out, shape, factors, optimize="auto", coef=1):
    expr = Expr(out, shape, (Term(coef, factors),))
    layout = Layout({W: 0, x: 1, v: 2, expr: 3}, {W: (3, 4), x: (4,), v: (3,), expr: shape}, int)
    return plan_term(expr, expr.terms[0], layout, optimize)


def test_a_matrix_vector_product_is_planned_as_a_contraction():
    p = planned(("i",), (3,), (Ref(W, ("i", "j")), Ref(x, ("j",))))
    assert (p.kind, p.slots, p.equation, p.shapes) == ("contract", (0, 1), "ab,b->a", ((3, 4), (4,)))
    assert (p.shape, p.diagonal, p.reshape, p.contraction) == ((3,), None, False, ("ab,b->a", ((3, 4), (4,))))


def test_a_delta_between_output_axes_is_a_diagonal_mapping():
    """∂(Wx)_i/∂W_pq = δ_ip x_q: computed over (i, q), written onto the diagonal i = p."""
    p = planned(("i", "p", "q"), (3, 3, 4), (Delta("i", "p", 3), Ref(x, ("q",))))
    assert (p.kind, p.equation, p.shape, p.view_shape) == ("read", "a->a", (1, 4), (3, 4))
    assert p.diagonal == ((0, 1), (2,)) and p.view == (None, "aa...->a...", None)
    assert p.reshape and "onto diagonal" in p.shown


def test_reads_sharing_every_index_are_a_hadamard_product_unless_optimize_is_false():
    factors = (Ref(v, ("i",)), Ref(v, ("i",)), Ref(W, ("i", "j")))
    assert planned(("i",), (3,), factors[:2]).kind == "hadamard"
    assert planned(("i",), (3,), factors[:2], optimize=False).kind == "contract"
    assert planned(("i",), (3,), (Ref(v, ("i",)),)).kind == "read"
    assert planned((), (), factors[2:]).kind == "einsum"


def test_sizes_fold_into_the_coefficient_and_a_constant_has_no_reads():
    p = planned(("i",), (3,), (Size(4),), coef=2)
    assert (p.kind, p.coef, p.slots, p.shape) == ("constant", 8, (), (1,))


def test_a_size_mismatch_is_refused_with_the_index_and_both_sizes():
    with pytest.raises(eg.ShapeError, match="index 'j' has size 3 in v.* but size 4"):
        planned(("i",), (3,), (Ref(W, ("i", "j")), Ref(v, ("j",))))


def test_a_large_contraction_is_planned_as_named_blas_steps():
    c = contraction("ab,bc,cd->ad", ((300, 200), (200, 100), (100, 50)), "greedy")
    assert len(c.steps) == 2 and c.largest > 0
    assert all(s.matmul is not None and s.einsum is None for s in c.steps)
    first = c.steps[0].matmul
    assert first.m * first.n == math.prod(first.shape)
    assert contraction("ab,bc->ac", ((2, 2), (2, 2)), "auto") == ("ab,bc->ac", (), 0)  # small: one np.einsum


@pytest.mark.parametrize("eq, shapes", [
    ("lmi,lmj->lij", ((4, 50, 6), (4, 50, 7))),  # the orthogonality loss's Gram matrices
    ("bij,bjk->bki", ((3, 40, 30), (3, 30, 20))),  # batched, result transposed
    ("xab,bcx->xca", ((5, 30, 40), (40, 20, 5))),  # batch index in different places
])
def test_a_batched_contraction_is_a_batched_matmul(rng, eq, shapes):
    c = contraction(eq, shapes, "greedy")
    (step,) = c.steps
    assert step.einsum is None and step.matmul.b == shapes[0][eq.index(eq[0])]
    arrays = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(eg.compile(eg.einsum(eq, *(eg.tensor(n, len(s)) for n, s in zip("AB", shapes))))(
        A=arrays[0], B=arrays[1]), np.einsum(eq, *arrays), rtol=1e-12)


def test_opt_einsum_steps_are_read_by_name():
    _, info = opt_einsum.contract_path("ij,jk,kl->il", (2, 3), (3, 4), (4, 5), shapes=True)
    step = Step(*info.contraction_list[0])
    assert set(step.positions) <= {0, 1, 2} and len(step.removed) == 1 and "->" in step.equation


# -- kernels on arrays ---------------------------------------------------------------
@pytest.mark.parametrize("diagonal, where", [
    (((0, 1), (2,)), lambda i, j, k: i == j),  # δ_ij, then an axis of its own
    (((0, 2), (1,)), lambda i, j, k: i == k),  # the tied axes apart: transposed first
    (((0,), (1, 2)), lambda i, j, k: j == k),  # the view's axes back in the reduced order
])
def test_a_diagonal_is_written_through_a_writeable_einsum_view(diagonal, where):
    out = np.zeros((3, 3, 3))
    view = _view(out, diagonal_view(diagonal))
    assert view.base is not None and view.shape == (3, 3)
    view += np.arange(9.0).reshape(3, 3)  # view[a, b]: a along the first reduced axis, b the second
    for i, j, k in np.ndindex(out.shape):
        reduced = [(i, j, k)[axes[0]] for axes in diagonal]
        assert out[i, j, k] == (3 * reduced[0] + reduced[1] if where(i, j, k) else 0)


@pytest.mark.parametrize("spec, wrt", [("ij,j->i", 0), ("ij,jk->ik", 1), ("ii->i", 0), ("iij->j", 0), ("ij->", 0)])
def test_dense_jacobians_written_onto_diagonal_views_equal_the_linearity_oracle(spec, wrt):
    rng = np.random.default_rng(0)
    ops = [rng.standard_normal(tuple({"i": 3, "j": 4, "k": 2}[c] for c in term))
           for term in spec.split("->")[0].split(",")]
    np.testing.assert_allclose(eg.jacobian(spec, wrt=wrt)(*ops), exact_jacobian(spec, ops, wrt), atol=1e-12)


@pytest.mark.slow
def test_the_lazy_path_stays_a_dask_array_and_equals_numpy():
    da = pytest.importorskip("dask.array")
    W0, x0 = np.arange(12.0).reshape(3, 4), np.arange(4.0)
    J = eg.jacobian("ij,j->i", wrt=0, names="W,x")
    f = eg.compile(J.expression(W0, x0) * 2 + J.expression(W0, x0))  # two terms on one diagonal
    lazy = f(W=da.from_array(W0, chunks=2), x=da.from_array(x0, chunks=2))
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), 3 * exact_jacobian("ij,j->i", [W0, x0], 0))

