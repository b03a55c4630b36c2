"""Elementwise chains fused (docs/design.md §4.5): which steps merge, and that a fused program computes what the
steps compute, into the buffers it is given, from several threads, at any depth."""
import threading

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.compiler.fusion import Leaf, Sum, chain_step, unary
from einsumgrad.core import functions


@pytest.fixture
def steps(restore_settings):
    """Programs run step by step (fusion applies to those)."""
    eg.configure(straight_limit=0)
    eg.clear_caches()
    yield
    eg.clear_caches()


def _both(exprs, **arrays):
    """The results fused and not, each program made afresh."""
    results = []
    for fuse in (True, False):
        eg.configure(fuse=fuse)
        eg.clear_caches()
        f = eg.compile(*exprs)
        results.append((f(**arrays), repr(f)))
    eg.configure(fuse=True)
    return results


def test_layer_norm_gradient_is_fused_and_matches_finite_differences(steps, rng):
    X, W, C = eg.tensor("X", (6, 5)), eg.tensor("W", (5, 4)), eg.tensor("C", (6, 4))
    Z = X @ W
    D = Z - eg.sum(Z, axis=1, keepdims=True) / 4
    L = eg.sum(C * eg.tanh(D / eg.sqrt(eg.sum(D ** 2, axis=1, keepdims=True) / 4 + 1e-5)))
    g = eg.grad(L, W)
    arrays = {"X": rng.normal(size=(6, 5)), "W": rng.normal(size=(5, 4)), "C": rng.normal(size=(6, 4))}
    (fused, shown), (plain, plain_shown) = _both([L, g], **arrays)
    assert "as one chain" in shown and "in the chain of" in shown
    assert "as one chain" not in plain_shown
    np.testing.assert_allclose(fused[0], plain[0], rtol=1e-12)
    np.testing.assert_allclose(fused[1], plain[1], rtol=1e-10, atol=1e-12)
    value = eg.compile(L)
    h, Wv, fd = 1e-6, arrays["W"], np.empty_like(arrays["W"])
    for idx in np.ndindex(Wv.shape):
        up, down = Wv.copy(), Wv.copy()
        up[idx] += h
        down[idx] -= h
        fd[idx] = (value(**{**arrays, "W": up}) - value(**{**arrays, "W": down})) / (2 * h)
    np.testing.assert_allclose(fused[1], fd, rtol=1e-6, atol=1e-7)


def test_a_row_scale_is_computed_at_its_own_shape_and_broadcast(steps, rng):
    z, r, s = eg.tensor("z", 2), eg.tensor("r", 2), eg.tensor("s", 2)
    e = eg.tanh(z * eg.exp(r) * 3 + s) ** 2 - eg.sqrt(eg.exp(r))
    arrays = {"z": rng.normal(size=(7, 5)), "r": rng.normal(size=(7, 1)), "s": rng.normal(size=(1, 5))}
    (fused, shown), (plain, _) = _both([e], **arrays)
    z_, r_, s_ = arrays["z"], arrays["r"], arrays["s"]
    np.testing.assert_allclose(fused, np.tanh(z_ * np.exp(r_) * 3 + s_) ** 2 - np.sqrt(np.exp(r_)), rtol=1e-13)
    np.testing.assert_allclose(fused, plain, rtol=1e-13)
    assert shown.count("as one chain") == 2  # exp(r), read twice, and the rest


def test_chain_step_computes_a_smaller_value_once_and_spreads_it():
    # 2·x[i] over a (3, 4) result whose second axis the chain never reads
    step = chain_step(Sum(((2, (Leaf(0, (0, None)),)),), 1), lambda s: (3, 1), (3, 4), np.dtype(float))
    x = np.arange(3.0)[:, None]
    np.testing.assert_array_equal(step([x]), np.broadcast_to(2 * x + 1, (3, 4)))


def test_results_go_into_out_and_never_share_memory(steps, rng):
    z, r = eg.tensor("z", 2), eg.tensor("r", 2)
    a, b = 1 - eg.tanh(z * r) ** 2, eg.exp(z) * 2 + 1
    f = eg.compile(a, b)
    zv, rv = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    first = f(z=zv, r=rv)
    kept = [x.copy() for x in first]
    second = f(z=zv + 1, r=rv)
    np.testing.assert_array_equal(first[0], kept[0])  # a later call leaves an earlier result alone
    np.testing.assert_array_equal(first[1], kept[1])
    assert not any(np.shares_memory(x, y) for x in first for y in second)
    out = (np.empty((4, 3)), np.empty((4, 3)))
    got = f(z=zv, r=rv, out=out)
    assert got[0] is out[0] and got[1] is out[1]
    np.testing.assert_allclose(out[0], 1 - np.tanh(zv * rv) ** 2, rtol=1e-14)
    np.testing.assert_allclose(out[1], np.exp(zv) * 2 + 1, rtol=1e-14)


def test_concurrent_calls_keep_their_own_buffers(steps, rng):
    z, r = eg.tensor("z", 2), eg.tensor("r", 2)
    L = eg.sum(eg.tanh(z * r) ** 3 * r)
    f = eg.compile(eg.grad(L, z))
    inputs = [(rng.normal(size=(64, 32)), rng.normal(size=(64, 32))) for _ in range(8)]
    expected = [3 * np.tanh(zv * rv) ** 2 * (1 - np.tanh(zv * rv) ** 2) * rv * rv for zv, rv in inputs]
    wrong = []

    def work(k):
        for _ in range(30):
            if not np.allclose(f(z=inputs[k][0], r=inputs[k][1]), expected[k], rtol=1e-12):
                wrong.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong


def test_a_chain_of_three_hundred_functions_is_cut_into_chains(steps, rng):
    x = eg.tensor("x", 1)
    e = x
    for _ in range(300):
        e = eg.sin(e) + 0.5
    f = eg.compile(e, eg.grad(eg.sum(e), x))
    xv = rng.normal(size=5)
    value, gradient = f(x=xv)
    want, slope = xv.copy(), np.ones(5)
    for _ in range(300):
        slope *= np.cos(want)
        want = np.sin(want) + 0.5
    np.testing.assert_allclose(value, want, rtol=1e-12)
    np.testing.assert_allclose(gradient, slope, rtol=1e-9)
    assert repr(f).count("as one chain") > 300 * 2 // 64


@pytest.mark.parametrize("dtype", [np.int32, np.float32, np.complex128])
def test_each_precision_fused_as_the_steps_compute_it(steps, rng, dtype):
    x, y = eg.tensor("x", 1), eg.tensor("y", 1)
    e = eg.exp(x * y * 3 + 1) - 2 * y
    arrays = {"x": (rng.normal(size=6) * 2).astype(dtype), "y": rng.normal(size=6).astype(dtype)}
    (fused, shown), (plain, _) = _both([e], **arrays)
    assert fused.dtype == plain.dtype and "as one chain" in shown
    np.testing.assert_allclose(fused, plain, rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_fuse_takes_a_bool(restore_settings):
    with pytest.raises(eg.EinsumgradError, match="fuse takes True or False"):
        eg.configure(fuse="yes")
    assert eg.configure(fuse=False)["fuse"] is False


ELEMENTWISE = sorted(n for n, f in functions.REGISTRY.items() if f.elementwise and n != "pow")


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if unary(n, ()) is not None])
def test_each_in_place_function_is_its_own_impl(name):
    apply = unary(name, ())
    low, high = functions.get(name).domain
    a = np.linspace(low, high, 9)
    want = functions.get(name).impl(a.copy())
    got = a.copy()
    apply(got)
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_a_formula_of_more_than_one_ufunc_is_left_to_its_step():
    assert {"sigmoid", "softplus", "relu"} <= {n for n in ELEMENTWISE if unary(n, ()) is None}
    assert {"tanh", "exp", "sqrt", "log1p"} <= {n for n in ELEMENTWISE if unary(n, ()) is not None}


@pytest.mark.parametrize("exponent", [2, -1, 0.5, 1, 3, -2.5])
def test_each_power_in_place(exponent):
    a = np.linspace(0.1, 0.9, 7)
    got = a.copy()
    unary("pow", (exponent,))(got)
    np.testing.assert_allclose(got, a ** exponent, rtol=1e-14)


@pytest.mark.parametrize("shapes", [((0, 3), (1, 3)), ((0, 3), (0, 1)), ((2, 0), (2, 1)), ((41,) + (1,) * 39, (1,) * 40)])
def test_empty_and_many_axis_arrays_in_a_chain(steps, rng, shapes):
    x, y = eg.tensor("x", len(shapes[0])), eg.tensor("y", len(shapes[1]))
    e = eg.tanh(x * y * 2) + 1
    xv, yv = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    (fused, _), (plain, _) = _both([e], x=xv, y=yv)
    assert fused.shape == (xv * yv).shape
    np.testing.assert_allclose(fused, np.tanh(xv * yv * 2) + 1, rtol=1e-14)
    np.testing.assert_allclose(fused, plain, rtol=1e-14)


def test_an_outer_product_of_vector_products_passes_over_the_matrix_once(steps, rng):
    x, u, v = eg.tensor("x", 1), eg.tensor("u", 1), eg.tensor("v", 1)
    e = -2 * eg.einsum("a,b->ab", x, eg.tanh(u) * eg.exp(v))
    arrays = {"x": rng.normal(size=5), "u": rng.normal(size=4), "v": rng.normal(size=4)}
    (fused, shown), (plain, _) = _both([e], **arrays)
    assert "as one chain" in shown
    np.testing.assert_allclose(fused, -2 * np.outer(arrays["x"], np.tanh(arrays["u"]) * np.exp(arrays["v"])),
                               rtol=1e-14)
    np.testing.assert_allclose(fused, plain, rtol=1e-14)
