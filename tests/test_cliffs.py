"""Cliffs: derivatives whose size must grow linearly with the expression (issue 20, item 23).

The Hessian of a softmax recurrence (each softmax's rule reads its argument's tangent twice: inlined, the
terms grew ×8 a step) and the gradient of Σ_i x[i] x[i+1] built by a loop of + (each + re-canonicalised
every term before it, then simplified the whole sum again). Sizes and calls are counted, never timed.
"""
import cProfile

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.core import algebra, simplify
from einsumgrad.core.ir import Expr, postorder

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


@pytest.mark.slow
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


BUILDS = {
    "f = f + x[i] x[i+1]": lambda x, n: _looped(x, n, lambda f, t: f + t),
    "f = x[i] x[i+1] + f": lambda x, n: _looped(x, n, lambda f, t: t + f),
    "sum(x[i] x[i+1] for i ...)": lambda x, n: sum(x[i] * x[i + 1] for i in range(n - 1)),
}


def _looped(x, n, add):
    f = 0
    for i in range(n - 1):
        f = add(f, x[i] * x[i + 1])
    return f


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("n", [2, 5, 40])
def test_neighbour_sum_built_every_way_matches_closed_form(build, n):
    x = eg.tensor("x", (n,))
    f = BUILDS[build](x, n)
    a = np.random.default_rng(n).standard_normal(n)
    want = np.zeros(n)
    want[:-1] += a[1:]
    want[1:] += a[:-1]
    np.testing.assert_allclose(eg.evaluate(f, x=a), a[:-1] @ a[1:], rtol=1e-12)
    np.testing.assert_allclose(eg.evaluate(eg.grad(f, x), x=a), want, rtol=1e-12)
    assert not (f - f).node.terms and len(f.node.terms) == n - 1


def calls(run) -> int:
    """The function calls ``run()`` makes, but ``__hash__``'s (hashing a tuple of n terms calls each one's,
    from C: as cheap as copying the tuple, which each + does)."""
    profile = cProfile.Profile()
    profile.runcall(run)
    return sum(s.callcount for s in profile.getstats() if getattr(s.code, "co_name", s.code) != "__hash__")


@pytest.mark.slow
@pytest.mark.parametrize("build", BUILDS)
def test_neighbour_sum_work_is_linear(build):
    """Twice the terms, at most 2.25 times the calls: building f (each + simplified the whole sum again:
    3.3 times from 100 to 200 terms), and, for the first, deriving its gradient and planning and running it."""
    work: dict[str, list[int]] = {"build": [], "derive": [], "plan and run": []}
    for n in (50, 100, 200):
        eg.clear_caches()
        x = eg.tensor("x", (n,))
        built = []
        work["build"].append(calls(lambda: built.append(BUILDS[build](x, n))))
        if build == "f = f + x[i] x[i+1]":
            grad = []
            work["derive"].append(calls(lambda: grad.append(eg.grad(built[0], x))))
            work["plan and run"].append(calls(lambda: eg.compile(grad[0])(x=np.ones(n))))
    for phase, counts in work.items():
        for few, more in zip(counts, counts[1:]):
            assert more <= 2.25 * few, (phase, counts)


def sums():
    """Sums that merge, group and cancel as terms are added: each built term by term."""
    x, y, a, b = eg.tensor("x", (6,)), eg.tensor("y", (3,)), eg.tensor("a", (4,)), eg.tensor("b", (4,))
    X = eg.tensor("X", (4, 3))
    f, g, h = 0, 0, 0
    for i in range(5):
        f = f + x[i] * x[i + 1] + x[i + 1] * x[i] - (i % 2) * x[i] ** 2
        g = g + x[i] * y + eg.exp(y) * x[i]
        h = h + eg.einsum("ki,kj,k->ij", X, X, a if i % 2 else b) + i * eg.sum(a)
    u, v = eg.tensor("u", 1), eg.tensor("v", 1)  # sizes unknown: u + (v + ...) has u's
    w = eg.sum(v) * v
    for i in range(3):
        w = (i + 1) * v + w
    return [f, g, h, f - f, g - g + eg.sum(y), h + h.T, w, u + w, w + u]


def test_extended_sums_are_simplified_as_whole_sums(monkeypatch):
    """Adding to a simplified sum in time for the new terms gives the very nodes simplifying the whole sum
    gave: what prints, merges and cancels is unchanged."""
    fast = sums()
    monkeypatch.setattr(algebra, "extend", lambda s, terms, before=False: simplify.simplify(
        Expr(s.out, s.dims, terms + s.terms if before else s.terms + terms)))
    eg.clear_caches()
    slow = sums()
    assert [e.node for e in fast] == [e.node for e in slow]
    assert [str(e) for e in fast] == [str(e) for e in slow]
