"""The per-call dispatch of compiled functions on small problems: contractions over fixed
registers, BLAS steps as ``@`` on the operands as they are, products that sum nothing as
broadcast multiplies, einsum's C loop called directly, and shapes broadcast without NumPy's
32-axis limit — each checked against ``np.einsum`` (bits where only products are rounded),
against itself with ``out=``, and on lazy arrays."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import einsumgrad as eg
from einsumgrad.compiler import Compiled
from einsumgrad.compiler.kernels import _broadcast_views, _last_into, _matmul, _pairwise, broadcast
from einsumgrad.compiler.plan import Step, pairwise
from einsumgrad.core import xp
from profiles import examples

LETTERS = "abcde"


@st.composite
def two_operands(draw, summed: bool):
    """A two-operand einsum equation (distinct letters per operand), sizes, and arrays; with ``summed``
    some index of both may be summed, else every index is kept (in a drawn order)."""
    letters = draw(st.permutations(LETTERS))[: draw(st.integers(1, 4))]
    left = "".join(draw(st.lists(st.sampled_from(letters), unique=True, min_size=0, max_size=len(letters))))
    rest = [c for c in letters if c not in left]
    right = "".join(draw(st.permutations(rest + draw(st.lists(st.sampled_from(left or "a"), unique=True, max_size=2))
                                         if left else rest)))
    kept = set(left) | set(right)
    if summed:
        both = [c for c in left if c in right]
        kept -= set(draw(st.lists(st.sampled_from(both), unique=True, max_size=len(both)))) if both else set()
    result = "".join(draw(st.permutations(sorted(kept))))
    sizes = {c: draw(st.integers(1, 4)) for c in letters}
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    a, b = (rng.standard_normal([sizes[c] for c in t]) for t in (left, right))
    return f"{left},{right}->{result}", sizes, a, b


@settings(max_examples=examples(150), deadline=None)
@given(two_operands(summed=False))
def test_a_product_that_sums_nothing_is_einsums_to_the_last_bit(case):
    eq, sizes, a, b = case
    views = _broadcast_views(eq)
    if not eq.split("->")[1]:  # a number: left to einsum
        assert views is None
        return
    first, second = ((v or (lambda x: x)) for v in views)
    want = np.einsum(eq, a, b)
    np.testing.assert_array_equal(first(a) * second(b), want)
    target = np.empty(want.shape)
    step = pairwise(Step((0, 0), frozenset(), eq, None, "DIRECT"), sizes)
    if step.presum is None and step.matmul is None:
        _last_into(step)(target, a, b)
        np.testing.assert_array_equal(target, want)
        np.testing.assert_array_equal(_pairwise(step, eager=True)(a, b), want)


@settings(max_examples=examples(150), deadline=None)
@given(two_operands(summed=True))
def test_every_pairwise_step_equals_einsum_and_writes_the_same_bits_into_out(case):
    eq, sizes, a, b = case
    step = pairwise(Step((0, 0), frozenset(), eq, None, "DIRECT"), sizes)
    want = np.einsum(eq, a, b)
    got = np.asarray(_pairwise(step, eager=True)(a, b))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    into = _last_into(step, eager=True)
    if into is not None:
        target = np.full(want.shape, np.nan)
        into(target, a, b)
        np.testing.assert_array_equal(target, got)  # the same operations as the step: the same bits
    if step.matmul is not None:
        assert _matmul(step)(a, b).shape == want.shape


@pytest.mark.parametrize("eq, plain", [("ab,b->a", True), ("b,bc->c", True), ("ab,bc->ac", True),
                                       ("ba,bc->ac", False), ("abc,acd->abd", True), ("ab,ab->", False)])
def test_a_blas_step_on_operands_as_they_are_is_the_matmul_operator_itself(eq, plain):
    import operator

    sizes = dict(zip("abcd", (2, 3, 4, 5)))
    step = pairwise(Step((0, 0), frozenset(), eq, None, "DIRECT"), sizes)
    assert step.matmul is not None
    assert (_matmul(step) is operator.matmul) == plain
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal([sizes[c] for c in t]) for t in eq.split("->")[0].split(","))
    np.testing.assert_allclose(_matmul(step)(a, b), np.einsum(eq, a, b), rtol=1e-12)


EXPRESSIONS = [
    ("ij,j->i", "W,x"), ("ij,jk->ik", "A,B"), ("ij,kj->ik", "A,B"), ("i,ij->ij", "x,A"), ("ij,i->ji", "A,x"),
    ("ij,jk,kl->il", "A,B,C"), ("ij,j,j->i", "A,x,y"), ("ij,ik,j->k", "A,B,x"), ("i,j->ij", "x,y"),
    ("ijk,kj->i", "T,A"), ("ij,ij->", "A,B"),
]


def _arrays(names: str, n: int, rng) -> dict:
    ranks = {"W": 2, "A": 2, "B": 2, "C": 2, "x": 1, "y": 1, "T": 3}
    return {name: rng.standard_normal((n,) * ranks[name]) for name in names.split(",")}


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(EXPRESSIONS), st.integers(1, 6), st.sampled_from(["auto", "greedy", False]),
       st.integers(0, 2 ** 16), st.sampled_from([1.0, -2.0]))
def test_compiled_contractions_and_their_derivatives_equal_einsum_at_small_sizes(runs, case, n, optimize, seed, coef):
    """Random small compositions (a contraction, its gradient and its Hessian terms) through every
    kernel form: one einsum call (optimize=False), the pairwise step of two operands (auto), and
    opt_einsum's path of broadcast products and BLAS steps (greedy), as straight-line code and step
    by step; with out= the same bits."""
    eq, names = case
    rng = np.random.default_rng(seed)
    arrays = _arrays(names, n, rng)
    tensors = [eg.tensor(name, arrays[name].shape) for name in names.split(",")]
    value = coef * eg.einsum(eq, *tensors)
    exprs = [value, eg.grad(eg.sum(eg.tanh(value) * value), tensors[0])]
    f = eg.compile(*exprs, optimize=optimize)
    got = f(**arrays)
    want = coef * np.einsum(eq, *(arrays[name] for name in names.split(",")))
    np.testing.assert_allclose(got[0], want, rtol=1e-10, atol=1e-12)
    reference = eg.compile(*exprs, optimize=False)(**arrays)
    np.testing.assert_allclose(got[1], reference[1], rtol=1e-10, atol=1e-12)
    again = f(**arrays, out=tuple(np.empty_like(g) for g in got))
    for a, b in zip(again, got):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_an_mlp_hessian_equals_jax_with_the_fast_kernels():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    rng = np.random.default_rng(5)
    depth, width = 4, 6
    x = eg.tensor("x", (width,))
    Ws = [eg.tensor(f"W{k}", (width, width)) for k in range(depth)]
    bs = [eg.tensor(f"b{k}", (width,)) for k in range(depth)]
    arrays = {"x": rng.standard_normal(width)}
    h = x
    for k in range(depth):
        arrays[f"W{k}"], arrays[f"b{k}"] = rng.standard_normal((width, width)) / 2, rng.standard_normal(width) / 4
        h = eg.tanh(Ws[k] @ h + bs[k])
    f = eg.compile(eg.hessian(0.5 * eg.sum(h ** 2), bs[0]))

    def loss(b0):
        z = jnp.asarray(arrays["x"])
        for k in range(depth):
            z = jnp.tanh(arrays[f"W{k}"] @ z + (b0 if k == 0 else arrays[f"b{k}"]))
        return 0.5 * jnp.sum(z ** 2)

    want = np.asarray(jax.hessian(loss)(jnp.asarray(arrays["b0"])))
    for _ in range(3):  # the workspace reused between calls
        np.testing.assert_allclose(f(**arrays), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(f(**arrays, out=np.empty((width, width))), f(**arrays))


def test_a_changed_shape_after_a_cached_call_is_still_refused_by_name():
    W, x = eg.tensor("W_shaped", 2), eg.tensor("x_shaped", 1)  # names of its own: eg.compile shares a Compiled
    f = eg.compile(W @ x)
    np.testing.assert_allclose(f(W_shaped=np.eye(3), x_shaped=np.ones(3)), np.ones(3))
    with pytest.raises(eg.EinsumgradError, match=r"index .* has size 4 .* but size 3"):
        f(W_shaped=np.eye(3), x_shaped=np.ones(4))
    with pytest.raises(eg.EinsumgradError, match="rank"):
        f(W_shaped=np.ones(3), x_shaped=np.ones(3))
    np.testing.assert_allclose(f(W_shaped=2 * np.eye(2), x_shaped=np.ones(2)), [2.0, 2.0])  # a new shape, a new plan
    assert f.plan_cache_size == 2


def test_lazy_arrays_stay_lazy_through_the_pairwise_and_broadcast_steps():
    da = pytest.importorskip("dask.array")
    A, x = eg.tensor("A", 2), eg.tensor("x", 1)
    f = eg.compile(A @ x, eg.einsum("j,ij->ji", x, A), optimize="greedy")
    a = np.arange(12.0).reshape(3, 4) % 5
    lazy = f(A=da.from_array(a, chunks=2), x=da.from_array(np.arange(4.0), chunks=2))
    assert all(hasattr(r, "dask") for r in lazy)
    eager = f(A=a, x=np.arange(4.0))
    for r, e in zip(lazy, eager):
        np.testing.assert_allclose(r.compute(), e)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.integers(1, 3), max_size=40), st.lists(st.integers(1, 3), max_size=40))
def test_broadcast_is_numpys_broadcast_and_takes_any_number_of_axes(a, b):
    a, b = tuple(a), tuple(b)
    try:
        want = np.broadcast_shapes(a, b) if max(len(a), len(b)) <= 32 else None
    except ValueError:
        want = False
    if want is not None:
        assert broadcast(a, b) == (None if want is False else want)
    elif broadcast(a, b) is not None:
        assert len(broadcast(a, b)) == max(len(a), len(b))


def test_a_namespace_keeps_a_modules_functions_and_a_source_writer_writes_afresh():
    numpy = xp.namespace("numpy")
    assert numpy.tanh is np.tanh and "tanh" in vars(numpy)

    class Writer:
        reads = 0

        def __getattr__(self, name):
            Writer.reads += 1
            return name

    written = xp.namespace("numpy", Writer())
    assert (written.exp, written.exp) == ("exp", "exp") and Writer.reads == 2


def test_arrays_the_expression_does_not_read_take_the_cached_path_and_still_set_the_precision(monkeypatch):
    """The Hessian of ‖T − UVᵀ‖² w.r.t. U reads V only; a call given U and T as well (as users call
    it) finds its plan without the checked path, and U's and T's dtypes still set the precision."""
    T, U, V = eg.tensor("T", (4, 3)), eg.tensor("U", (4, 2)), eg.tensor("V", (3, 2))
    f = eg.compile(eg.hessian(eg.sum((T - eg.einsum("ik,jk->ij", U, V)) ** 2), U))
    rng = np.random.default_rng(0)
    arrays = {"U": rng.standard_normal((4, 2)), "T": rng.standard_normal((4, 3)), "V": rng.standard_normal((3, 2))}
    want = 2 * np.einsum("ik,jl->ijkl", np.eye(4), arrays["V"].T @ arrays["V"])
    np.testing.assert_allclose(f(**arrays), want)
    single = {n: a.astype(np.float32) for n, a in arrays.items()}
    assert f(**single).dtype == np.float32  # a plan of its own
    assert f(**(single | {"T": arrays["T"]})).dtype == np.float64  # an array not read sets the precision
    assert f(**(single | {"U": arrays["U"].astype(np.complex128)})).dtype == np.float64  # its real part's
    monkeypatch.setattr(f, "_arrays", lambda arrays: pytest.fail("a cached call took the checked path"))
    np.testing.assert_allclose(f(**arrays), want)
    np.testing.assert_allclose(f(**(single | {"T": arrays["T"]})), want, rtol=1e-6)
    assert f(**single).dtype == np.float32
    monkeypatch.undo()
    assert f(**(single | {"T": arrays["T"].astype(int)})).dtype == np.float64  # an int array: checked and converted
    assert f(**arrays, Z=np.ones(2)).dtype == np.float64  # an array of no tensor here is left out, as before


@pytest.mark.parametrize("door", ["numpy", "jax", "jax.jit", "torch", "generated"])
def test_a_hessian_given_the_arrays_it_does_not_read_through_every_door(door):
    """The cached call given U and T besides V (which alone the Hessian reads), repeated, on each
    backend, under jax.jit, and as generated code: the closed form 2 δ VᵀV every time."""
    T, U, V = eg.tensor("T", (4, 3)), eg.tensor("U", (4, 2)), eg.tensor("V", (3, 2))
    H = eg.hessian(eg.sum((T - eg.einsum("ik,jk->ij", U, V)) ** 2), U)
    rng = np.random.default_rng(1)
    arrays = {"U": rng.standard_normal((4, 2)), "T": rng.standard_normal((4, 3)), "V": rng.standard_normal((3, 2))}
    want = 2 * np.einsum("ik,jl->ijkl", np.eye(4), arrays["V"].T @ arrays["V"])
    if door == "generated":
        namespace: dict = {}
        exec(eg.codegen(H), namespace)  # noqa: S102 - our own generated source
        f = namespace["f"]
    elif door == "numpy":
        f = eg.compile(H)
    elif door == "torch":
        torch = pytest.importorskip("torch")
        arrays = {n: torch.from_numpy(a) for n, a in arrays.items()}
        f = eg.compile(H, backend="torch")
    else:
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        arrays = {n: jax.numpy.asarray(a) for n, a in arrays.items()}
        compiled = eg.compile(H, backend="jax")
        f = jax.jit(lambda **a: compiled(**a)) if door == "jax.jit" else compiled
    for _ in range(2):
        np.testing.assert_allclose(np.asarray(f(**arrays)), want, rtol=1e-12, atol=1e-12)


def _steps(*exprs):
    """The same function run step by step: a Compiled without straight-line code."""
    return Compiled(*(e.node for e in exprs), accepted=frozenset().union(*(e.tensors for e in exprs)))


def test_a_small_program_runs_as_straight_line_code_with_the_steps_results():
    W, b, x = eg.tensor("W", 2), eg.tensor("b", 1), eg.tensor("x", 1)
    L = eg.sum(eg.tanh(W @ x + b) ** 2)
    exprs = (L, eg.grad(L, W), eg.hessian(L, b))
    rng = np.random.default_rng(5)
    arrays = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(4), "x": rng.standard_normal(3)}
    f = eg.compile(*exprs)
    got = f(**arrays)
    assert f._last.straight is not None
    for g, want in zip(got, _steps(*exprs)(**arrays), strict=True):
        assert type(g) is np.ndarray and g.flags.writeable and g.shape == want.shape  # the value too: a 0-d array
        np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-15)
        assert not any(np.shares_memory(g, a) for a in arrays.values())
    again = f(**arrays)
    assert all(np.array_equal(a, b) and a is not b for a, b in zip(again, got))  # the same bits, fresh arrays
    buffers = tuple(np.empty_like(g) for g in got)
    assert all(r is b for r, b in zip(f(**arrays, out=buffers), buffers, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(buffers, got))


@pytest.mark.parametrize("make", [
    lambda x, W: x, lambda x, W: W.T, lambda x, W: eg.reshape(W, (6,)), lambda x, W: eg.grad(eg.sum(x * W), W),
    lambda x, W: eg.grad(eg.sum(W * W) / 2, W),
], ids=["identity", "transpose", "reshape", "broadcast", "itself"])
def test_straight_line_results_never_share_memory_with_the_inputs(make):
    x, W = eg.tensor("x", 1), eg.tensor("W", 2)
    f = eg.compile(make(x, W))
    arrays = {"x": np.arange(3.0), "W": np.arange(6.0).reshape(2, 3)}
    got = f(**arrays)
    assert f._last.straight is not None
    assert not any(np.shares_memory(got, a) for a in arrays.values())
    np.testing.assert_array_equal(got, _steps(make(x, W))(**arrays))


def test_which_programs_run_as_straight_line_code(restore_settings):
    x = eg.tensor("x", 1)
    f = eg.compile(eg.grad(eg.sum(eg.tanh(x) ** 2), x))
    f(x=np.ones(4096))
    assert f._last.straight is not None
    f(x=np.ones(4097))  # over straight_limit: its steps
    assert f._last.straight is None
    f(x=np.ones(4, np.float32))  # NumPy's promotion may differ from the plan's precision: its steps
    assert f._last.straight is None
    eg.configure(straight_limit=0)
    eg.clear_caches()
    f = eg.compile(eg.grad(eg.sum(eg.tanh(x) ** 2), x))
    f(x=np.ones(4))
    assert f._last.straight is None
    with pytest.raises(eg.EinsumgradError, match="straight_limit must be a whole number"):
        eg.configure(straight_limit=-1)
    eg.clear_caches()  # no plan made step by step outlives the test


def test_straight_line_code_raises_what_the_steps_raise():
    A, Y = eg.tensor("A", 2), eg.tensor("Y", 2)
    with pytest.raises(eg.EinsumgradError, match="singular"):
        eg.compile(eg.inv(A))(A=np.zeros((2, 2)))
    f = eg.compile(eg.stochastic(Y))
    with pytest.raises(eg.EinsumgradError, match=r"declared to sum to one along axis \(1,\)"):
        f(Y=np.ones((2, 3)))
    assert f._last.straight is not None
