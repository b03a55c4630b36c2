"""Limits that hold: the dense-result memory limit, the plan-cache bound, long specs and all 52 letters."""
import string

import numpy as np
import pytest

import einsumgrad as eg

J = eg.jacobian("ij,j->i", wrt=0, names="W,x")


def test_dense_results_above_the_limit_raise_and_suggest_vjp(restore_settings):
    W, x = np.ones((300, 300)), np.ones(300)
    assert J.nbytes(W.shape, x.shape) == 300**3 * 8
    with pytest.raises(eg.MemoryLimitError, match=r"shape \(300, 300, 300\): 206 MiB, over the limit of 1 MiB"
                                                  r"(.|\n)*Use vjp/jvp/grad"):
        J(W, x, memory_limit=1 << 20)
    eg.configure(memory_limit=1 << 20)
    with pytest.raises(eg.MemoryLimitError):
        J(W, x)
    np.testing.assert_array_equal(J.vjp(np.ones(300), W, x), np.ones((300, 300)))  # vjp is fine
    assert eg.configure(memory_limit="auto")["memory_limit"] is None
    from einsumgrad.compiler import memory_limit

    assert 0 < memory_limit() <= 2 << 30


def test_plan_cache_is_bounded(restore_settings):
    W = eg.tensor("W", 2)
    f = eg.compile(eg.sum(W * W))
    eg.configure(plan_cache_size=2)
    for n in (2, 3, 4, 5):
        f(W=np.ones((n, n)))
    assert f.plan_cache_size == 2
    assert f(W=np.ones((5, 5))) == 25.0


def test_very_long_specs_plan():
    letters = string.ascii_letters  # 52 distinct indices, 51 operands in a chain
    spec = ",".join(letters[k] + letters[k + 1] for k in range(51)) + "->" + letters[0] + letters[51]
    rng = np.random.default_rng(2)
    ops = [rng.standard_normal((2, 2)) / 2 for _ in range(51)]
    J_long = eg.jacobian(spec, wrt=25)
    g = rng.standard_normal((2, 2))
    left = np.linalg.multi_dot(ops[:25])
    right = np.linalg.multi_dot(ops[26:])
    np.testing.assert_allclose(J_long.vjp(g, *ops), left.T @ g @ right.T)
    assert len(J_long.names) == 51


def test_ellipsis_when_all_52_letters_are_taken():
    spec = "..." + string.ascii_letters + "->..."
    A = np.arange(2.0).reshape((2,) + (1,) * 52)
    assert eg.jacobian(spec)(A).shape == (2, 2) + (1,) * 52
    np.testing.assert_array_equal(eg.jacobian(spec).vjp(np.array([1.0, 2.0]), A).ravel(), [1.0, 2.0])
