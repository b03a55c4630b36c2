"""Hessians (and values, gradients, Jacobians) of compositions of rank-declared matrices whose axes
NumPy stretches from 1 at evaluation, against jax: every shape in {1, 3}² for each of three tensors.

The bug these pin down: ``simplify.factor_common`` summed the weights of ``D[i,j] w₁[i,j] + D[i,j]
w₂[i,j]`` into a node at ``D``'s lengths, so with ``D`` 1×1 and the weights 1×3 (they read ``C``)
the Hessian of ``Σ tanh(C D + tanh(C) + C)`` by ``C`` was a ShapeError ("index 'j' has size 3 …
but size 1 in the result"); the merged weight now takes the lengths its weights read."""
from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import einsumgrad as eg
from einsumgrad.core.ir import Expr, Ref, Term, Var, dim_broadcast
from einsumgrad.core.simplify import factor_common
from test_codegen import run
from test_stretch import compositions
from profiles import examples

jax.config.update("jax_enable_x64", True)

NAMES = "ABC"
N = 3
SHAPES = [(1, 1), (1, 3), (3, 1), (3, 3)]
COMPOSITIONS = {  # one function of (A, B, C) in einsumgrad, jax and NumPy (m = eg, jnp, np); elementwise, so
    # every shape broadcasts (a matmul's inner axis never stretches: test_stretch's random ones have them)
    "A*B+tanh(A)+C": lambda A, B, C, m: A * B + m.tanh(A) + C,
    "A*B+tanh(A)+A": lambda A, B, C, m: A * B + m.tanh(A) + A,
    "tanh(A*B)+A*C": lambda A, B, C, m: m.tanh(A * B) + A * C,
    "sin(A+B)*C+B": lambda A, B, C, m: m.sin(A + B) * C + B,
}


SWEEP = [(name, shapes) for name in COMPOSITIONS for shapes in itertools.product(SHAPES, repeat=3)]


def _case(name, shapes, seed=0):
    build = COMPOSITIONS[name]
    rng = np.random.default_rng(seed)
    arrays = {n: rng.standard_normal(s) * 0.7 for n, s in zip(NAMES, shapes)}
    tensors = tuple(eg.tensor(n, 2) for n in NAMES)
    return build, tensors, arrays


def _tiling(shape) -> np.ndarray:
    """The linear map NumPy's broadcasting of an array of ``shape`` to 3×3 is, as a (3, 3) + shape array."""
    return np.stack([np.broadcast_to(e.reshape(shape), (N, N)) for e in np.eye(int(np.prod(shape)))],
                    axis=-1).reshape((N, N) + shape)


def _oracles(build, arrays):
    """NumPy's value, and jax's gradient and Hessian (of Σ tanh) and Jacobian by each tensor. jax
    differentiates the composition of the 3×3 arrays NumPy broadcasts the inputs to (one jit for every
    shape), and the chain rule through each tiling P gives the derivatives by the tensor itself:
    Pᵀ g, Pᵀ H P, and J P read at the result's own entries."""
    value = build(*(arrays[n] for n in NAMES), np)
    full = [jnp.asarray(np.broadcast_to(arrays[n], (N, N))) for n in NAMES]
    _, g, h, j = (np.asarray(x) for x in _jitted(build)(*full))
    tilings = [_tiling(arrays[n].shape) for n in NAMES]
    rows = tuple(slice(0, d) for d in value.shape)  # the full result is constant along a stretched axis,
    share = value.size / N**2  # so its Σ tanh counts each of the result's entries N² / value.size times
    grads = [share * np.einsum("ij,ijkl->kl", g[k], P) for k, P in enumerate(tilings)]
    hessians = [share * np.einsum("ijmn,ijkl,mnpq->klpq", h[k], P, P) for k, P in enumerate(tilings)]
    jacobians = [np.einsum("abij,ijkl->abkl", j[k][rows], P) for k, P in enumerate(tilings)]
    return value, grads, hessians, jacobians


@functools.cache
def _jitted(build):
    f = lambda *x: build(*x, jnp)  # noqa: E731
    scalar = lambda *x: jnp.sum(jnp.tanh(f(*x)))  # noqa: E731
    every = (0, 1, 2)

    def oracles(*xs):
        hess = jax.hessian(scalar, argnums=every)(*xs)
        return (f(*xs), jnp.stack(jax.grad(scalar, argnums=every)(*xs)), jnp.stack([hess[k][k] for k in every]),
                jnp.stack(jax.jacobian(f, argnums=every)(*xs)))
    return jax.jit(oracles)


def _close(got, want):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-8, atol=1e-10)


def _generated(e, arrays):
    names = eg.compile(e).names
    return run(eg.codegen(e, shapes={n: arrays[n].shape for n in names}))(**{n: arrays[n] for n in names})


@pytest.mark.slow
def test_minimal_reproduction():
    """C 1×3, D 1×1: Σ tanh(C D + tanh(C) + C) by C was a ShapeError; now jax's Hessian, by C and D,
    evaluated and as generated code (and without the outer tanh, which had worked)."""
    C, D = eg.tensor("C", 2), eg.tensor("D", 2)
    rng = np.random.default_rng(1)
    arrays = dict(C=rng.standard_normal((1, 3)), D=rng.standard_normal((1, 1)))
    for outer in (eg.tanh, lambda x: x):
        jouter = jnp.tanh if outer is eg.tanh else (lambda x: x)
        f = eg.sum(outer(C * D + eg.tanh(C) + C))
        for k, wrt in enumerate((C, D)):
            oracle = jax.hessian(lambda c, d: jnp.sum(jouter(c * d + jnp.tanh(c) + c)), argnums=k)(
                arrays["C"], arrays["D"])
            h = eg.hessian(f, wrt)
            _close(eg.evaluate(h, **arrays), oracle)
            _close(_generated(h, arrays), oracle)


def test_a_merged_weight_has_its_weights_lengths():
    """factor_common on D[i,j] w[i,j] + D[i,j] v[i,j], D declared 1×1 and w, v nodes of C's lengths:
    the summed weight (w + v) is a node of C's lengths, which D's read then stretches to."""
    D, C = Var("D", (1, 1)), Var("C", (("C", 0), ("C", 1)))
    w = Expr(("i", "j"), C.shape, (Term(2, (Ref(C, ("i", "j")),)),))
    v = Expr(("i", "j"), C.shape, (Term(1, (Ref(C, ("i", "j")), Ref(C, ("i", "j")))),))
    out = ("i", "j")
    [merged] = factor_common((Term(1, (Ref(D, out), Ref(w, out))), Term(1, (Ref(D, out), Ref(v, out)))), out)
    [weight] = [f.node for f in merged.factors if isinstance(f, Ref) and f.node is not D]
    assert weight.dims == C.shape
    u = Expr(out, (1, ("C", 1)), (Term(1, (Ref(C, ("i", "j")),)),))  # weights of different lengths: broadcast
    [merged] = factor_common((Term(1, (Ref(D, out), Ref(w, out))), Term(1, (Ref(D, out), Ref(u, out)))), out)
    [weight] = [f.node for f in merged.factors if isinstance(f, Ref) and f.node is not D]
    assert weight.dims == (dim_broadcast(("C", 0), 1), ("C", 1))


@pytest.mark.slow
@pytest.mark.parametrize("name,shapes", SWEEP, ids=[f"{n}-{'-'.join(f'{a}x{b}' for a, b in s)}" for n, s in SWEEP])
def test_every_shape_against_jax(name, shapes):
    """The value, and the gradient and Hessian of Σ tanh and the Jacobian by each of A, B, C."""
    build, tensors, arrays = _case(name, shapes)
    e = build(*tensors, eg)
    value, grads, hessians, jacobians = _oracles(build, arrays)
    _close(eg.evaluate(e, **arrays), value)
    s = eg.sum(eg.tanh(e))
    for k, x in enumerate(tensors):
        _close(eg.evaluate(eg.grad(s, x), **arrays), grads[k])
        _close(eg.evaluate(eg.hessian(s, x), **arrays), hessians[k])
        _close(eg.evaluate(eg.jacobian(e, x), **arrays), jacobians[k])


CODE_SWEEP = [(name, shapes) for name, shapes in SWEEP if name == "A*B+tanh(A)+A" and shapes[2] == (1, 1)]  # C unread


@pytest.mark.parametrize("name,shapes", CODE_SWEEP, ids=["-".join(f"{a}x{b}" for a, b in s[:2]) for _, s in CODE_SWEEP])
def test_every_shape_as_generated_code(name, shapes):
    """The Hessians and gradients of the bug's composition through eg.codegen, at every shape of A and B."""
    build, tensors, arrays = _case(name, shapes, seed=2)
    _, grads, hessians, _ = _oracles(build, arrays)
    s = eg.sum(eg.tanh(build(*tensors, eg)))
    for k, x in enumerate(tensors):
        _close(_generated(eg.grad(s, x), arrays), grads[k])
        _close(_generated(eg.hessian(s, x), arrays), hessians[k])


@pytest.mark.slow
@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compositions(), st.integers(0, 2**31 - 1))
def test_random_composition_hessians(case, seed):
    """tests/test_stretch.py's random compositions, more of them, for the Hessian of Σ tanh by each leaf."""
    e, f, shapes = case
    rng = np.random.default_rng(seed)
    arrays = {n: rng.standard_normal(s) * 0.7 for n, s in shapes.items()}
    read = sorted(eg.compile(e).names)
    s = eg.sum(eg.tanh(e))
    for n in read:
        hess = jax.hessian(lambda x: jnp.sum(jnp.tanh(f({**arrays, n: x}))))(arrays[n])
        got = eg.evaluate(eg.hessian(s, eg.tensor(n, 2)), **{k: arrays[k] for k in read})
        np.testing.assert_allclose(got, hess, rtol=1e-7, atol=1e-9)
