"""Cliffs: derivatives whose size must grow linearly with the expression (issue 20, item 23).

The Hessian of a softmax recurrence (each softmax's rule reads its argument's tangent twice: inlined, the
terms grew ×8 a step) and the gradient of Σ_i x[i] x[i+1] built by a loop of + (each + re-canonicalised
every term before it). Sizes are counted, never timed.
"""
import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad import simplify
from einsumgrad.ir import Expr, postorder

WIDTH = 3


def size(e) -> int:
    """The terms of every node of an expression, each node counted once."""
    return sum(len(n.terms) for n in postorder(e.node) if isinstance(n, Expr))


def recurrence(depth: int):
    """Σ y ⊙ h_d with h₀ = x, h_{k+1} = softmax(W h_k + b); its tensors by name; arrays for them."""
    rng = np.random.default_rng(depth)
    tensors = {n: eg.tensor(n, (WIDTH, WIDTH) if n == "W" else (WIDTH,)) for n in "Wbxy"}
    arrays = {n: rng.standard_normal((WIDTH, WIDTH) if n == "W" else WIDTH) for n in "Wbxy"}
    h = tensors["x"]
    for _ in range(depth):
        h = eg.softmax(tensors["W"] @ h + tensors["b"])
    return eg.sum(tensors["y"] * h), tensors, arrays


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_softmax_recurrence_hessian_matches_jax(depth):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    f, tensors, arrays = recurrence(depth)

    def loss(W, b, x, y):
        h = x
        for _ in range(depth):
            h = jax.nn.softmax(W @ h + b)
        return (y * h).sum()

    for k, name in enumerate("Wbx"):
        want = jax.hessian(loss, argnums=k)(*(arrays[n] for n in "Wbxy"))
        got = eg.evaluate(eg.hessian(f, tensors[name]), **arrays)
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-9, atol=1e-12,
                                   err_msg=f"∂²/∂{name}², depth {depth}")


@pytest.mark.parametrize("wrt", ["b", "W"])
def test_softmax_recurrence_hessian_grows_linearly(wrt):
    """At most 40 terms a step (about 25 now); the exponential code had 291 at depth 3, 1293 at 4."""
    for depth in range(1, 7):
        eg.clear_caches()
        f, tensors, _ = recurrence(depth)
        assert size(eg.hessian(f, tensors[wrt])) <= 40 * depth, f"depth {depth}"


def neighbours(n: int):
    """Σ_i x[i] x[i+1] over a vector of ``n``, built term by term."""
    x = eg.tensor("x", (n,))
    f = x[0] * x[1]
    for i in range(1, n - 1):
        f = f + x[i] * x[i + 1]
    return f, x


@pytest.mark.parametrize("n", [2, 5, 40])
def test_neighbour_sum_gradient_and_hessian(n):
    f, x = neighbours(n)
    a = np.random.default_rng(n).standard_normal(n)
    want = np.zeros(n)
    want[:-1] += a[1:]
    want[1:] += a[:-1]
    np.testing.assert_allclose(eg.evaluate(eg.grad(f, x), x=a), want, rtol=1e-12)
    np.testing.assert_allclose(eg.evaluate(f, x=a), a[:-1] @ a[1:], rtol=1e-12)
    if n <= 5:
        np.testing.assert_array_equal(eg.evaluate(eg.hessian(f, x), x=a), np.eye(n, k=1) + np.eye(n, k=-1))


def test_neighbour_sum_is_canonicalised_linearly(monkeypatch):
    """Building the sum and its gradient brings each term to canonical form a bounded number of times: twice
    the terms, at most 2.2 times the work (the quadratic code did 3.8 times)."""
    counted = []

    def canonical(term, out, original=simplify.canonical):
        counted.append(term)
        return original(term, out)

    monkeypatch.setattr(simplify, "canonical", canonical)
    work = {}
    for n in (40, 80):
        eg.clear_caches()
        counted.clear()
        f, x = neighbours(n)
        g = eg.grad(f, x)
        work[n] = len(counted)
        assert size(g) == 2 * (n - 1)
    assert work[80] <= 2.2 * work[40], work
