"""Tensors declared by rank whose size-1 axes NumPy stretches only at evaluation (issue 20, item 1):
every derivative sums over the stretched axes, whatever door evaluates it."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from profiles import examples

import einsumgrad as eg
from einsumgrad.core import ir
from oracles import central_difference
from test_codegen import run

jax.config.update("jax_enable_x64", True)

RNG = np.random.default_rng(20)


def bias_case():
    X, W, b, y = (eg.tensor(n, 2) for n in "XWby")
    arrays = dict(X=RNG.standard_normal((5, 4)), W=RNG.standard_normal((4, 10)), b=RNG.standard_normal((1, 10)),
                  y=RNG.standard_normal((10, 1)))
    return eg.sum((X @ W + b) @ y), b, arrays, 5 * arrays["y"].T


def vector_case():
    A, b = eg.tensor("A", 2), eg.tensor("b", 1)
    return eg.sum(A + b), b, dict(A=RNG.standard_normal((3, 4)), b=np.array([2.0])), np.array([12.0])


def tanh_case():
    A, B = eg.tensor("A", 2), eg.tensor("B", 2)
    arrays = dict(A=RNG.standard_normal((3, 4)), B=RNG.standard_normal((3, 1)))
    a, b = arrays["A"], arrays["B"]
    return eg.sum(eg.tanh(A * B)), B, arrays, (a * (1 - np.tanh(a * b) ** 2)).sum(axis=1, keepdims=True)


CASES = [bias_case, vector_case, tanh_case]


def numeric_gradient(f, wrt: str, arrays: dict) -> np.ndarray:
    """Central differences along each entry of ``arrays[wrt]``."""
    x = arrays[wrt]
    out = np.zeros(x.shape)
    for k in np.ndindex(x.shape):
        d = np.zeros(x.shape)
        d[k] = 1.0
        out[k] = central_difference(lambda v: eg.evaluate(f, **{**arrays, wrt: v}), x, d)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_gradient_sums_over_the_stretched_axis(case):
    f, wrt, arrays, closed = case()
    g = eg.grad(f, wrt)
    np.testing.assert_allclose(eg.evaluate(g, **arrays), closed, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(closed, numeric_gradient(f, wrt.name, arrays), rtol=1e-6, atol=1e-7)
    assert str(eg.check(f, wrt, **arrays)).startswith("PASS")


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_every_backend_and_generated_code(case, backend):
    f, wrt, arrays, closed = case()
    g = eg.grad(f, wrt)
    np.testing.assert_allclose(np.asarray(eg.compile(g, backend=backend)(**arrays)), closed, rtol=1e-10)
    if backend == "numpy":
        names = eg.compile(g).names
        shapes = {n: arrays[n].shape for n in names}
        got = run(eg.codegen(g, shapes=shapes))(**{n: arrays[n] for n in names})
        np.testing.assert_allclose(got, closed, rtol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_jacobian_hessian_and_hvp(case):
    """∂f/∂wrt through the Jacobian of the scalar, and the Hessian of Σ tanh(f) against jax's."""
    f, wrt, arrays, closed = case()
    np.testing.assert_allclose(eg.evaluate(eg.jacobian(f, wrt), **arrays), closed, rtol=1e-10)
    h = eg.tanh(f)
    names = sorted(arrays)
    k = names.index(wrt.name)
    oracle = jax.hessian(lambda *xs: jnp.tanh(_jax(f, names)(*xs)), argnums=k)(*(arrays[n] for n in names))
    np.testing.assert_allclose(eg.evaluate(eg.hessian(h, wrt), **arrays), oracle, rtol=1e-8, atol=1e-10)
    v = RNG.standard_normal(arrays[wrt.name].shape)
    hv = eg.evaluate(eg.hvp(h, wrt, eg.tensor("v", v.shape)), **arrays, v=v)
    np.testing.assert_allclose(hv, np.tensordot(oracle, v, axes=v.ndim), rtol=1e-8, atol=1e-10)


def _jax(f, names):
    """The three cases' scalars in jax, by NumPy's broadcasting (for the Hessian oracle)."""
    def value(*xs):
        a = dict(zip(names, xs))
        if "X" in a:
            return jnp.sum((a["X"] @ a["W"] + a["b"]) @ a["y"])
        if "B" in a:
            return jnp.sum(jnp.tanh(a["A"] * a["B"]))
        return jnp.sum(a["A"] + a["b"])
    return value


def test_a_vector_stretched_in_a_jacobian():
    """∂(A + b)[i,j]/∂b[p] with b of one entry: 1 everywhere (the stretch, not a delta)."""
    A, b = eg.tensor("A", 2), eg.tensor("b", 1)
    J = eg.evaluate(eg.jacobian(A + b, b), A=np.ones((3, 4)), b=np.array([2.0]))
    np.testing.assert_array_equal(J, np.ones((3, 4, 1)))
    J = eg.evaluate(eg.jacobian(A + b, b), A=np.ones((3, 4)), b=np.ones(4))
    np.testing.assert_array_equal(J, np.broadcast_to(np.eye(4), (3, 4, 4)))


def test_einsum_string_jacobian_with_unknown_shapes():
    """The einsum-string Jacobian, its vjp and jvp, where the stretch is decided by the arrays."""
    J = eg.jacobian("ij,j->i", wrt=1, names="A,b")
    a, b = RNG.standard_normal((2, 3)), np.array([0.5])
    g, t = RNG.standard_normal(2), np.array([1.5])
    np.testing.assert_allclose(J.vjp(g, a, b), [g @ a.sum(axis=1)])
    np.testing.assert_allclose(J.jvp(t, a, b), a.sum(axis=1) * 1.5)


# the property: random compositions of rank-2 tensors whose axes are 1 or 3 ------------------------
N = 3
LEAVES = "ABCD"


@st.composite
def compositions(draw):
    """``(expression, jax function, shapes)``: a tree of +, *, tanh, sin, @, an einsum and a
    transpose over rank-declared matrices, each axis drawn 1 (stretched) or 3; + and * stretch
    either operand or both; where a matmul's inner sizes differ it is left out, its first operand kept."""
    shapes = {n: tuple(draw(st.sampled_from([1, N])) for _ in range(2)) for n in LEAVES}

    def node(depth):
        kind = draw(st.sampled_from(["leaf"] * 2 + ["add", "mul", "tanh", "sin", "matmul", "einsum", "T"]
                                    if depth else ["leaf"]))
        if kind == "leaf":
            n = draw(st.sampled_from(LEAVES))
            return eg.tensor(n, 2), (lambda a, n=n: a[n]), shapes[n]
        if kind in ("tanh", "sin", "T"):
            e, f, s = node(depth - 1)
            if kind == "T":
                return e.T, (lambda a: f(a).T), s[::-1]
            fn = getattr(jnp, kind)
            return getattr(eg, kind)(e), (lambda a: fn(f(a))), s
        (e1, f1, s1), (e2, f2, s2) = node(depth - 1), node(depth - 1)
        if kind in ("add", "mul"):  # either may stretch the other, or each the other (3×1 + 1×3)
            op = (lambda x, y: x + y) if kind == "add" else (lambda x, y: x * y)
            return op(e1, e2), (lambda a: op(f1(a), f2(a))), tuple(np.broadcast_shapes(s1, s2))
        if s1[1] != s2[0]:  # NumPy's matmul and einsum never stretch a summed axis against another
            return e1, f1, s1
        if kind == "matmul":
            return e1 @ e2, (lambda a: f1(a) @ f2(a)), (s1[0], s2[1])
        return eg.einsum("ij,jk->ik", e1, e2), (lambda a: jnp.einsum("ij,jk->ik", f1(a), f2(a))), (s1[0], s2[1])

    e, f, _ = node(draw(st.integers(1, 3)))
    return e, f, shapes


@pytest.mark.slow
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compositions(), st.integers(0, 2**31 - 1))
def test_random_compositions_against_jax(case, seed):
    """The composition's value, and its sum's gradient by every leaf it reads (evaluated and as
    generated code) against jax; the Jacobian of the matrix itself and the Hessian of the scalar by
    its first leaf against jax's."""
    e, f, shapes = case
    rng = np.random.default_rng(seed)
    arrays = {n: rng.standard_normal(s) * 0.7 for n, s in shapes.items()}
    read = sorted(eg.compile(e).names)
    np.testing.assert_allclose(eg.evaluate(e, **{k: arrays[k] for k in read}), f(arrays), rtol=1e-10, atol=1e-12)
    s = eg.sum(e)
    by = {n: eg.tensor(n, 2) for n in read}
    for n in read:
        oracle = jax.grad(lambda x: jnp.sum(f({**arrays, n: x})))(arrays[n])
        g = eg.grad(s, by[n])
        got = eg.evaluate(g, **{k: arrays[k] for k in read})
        np.testing.assert_allclose(got, oracle, rtol=1e-8, atol=1e-10)
        names = eg.compile(g).names
        generated = run(eg.codegen(g, shapes={k: shapes[k] for k in names}))(**{k: arrays[k] for k in names})
        np.testing.assert_allclose(generated, oracle, rtol=1e-8, atol=1e-10)
    first = read[0]
    jac = jax.jacobian(lambda x: f({**arrays, first: x}))(arrays[first])
    got = eg.evaluate(eg.jacobian(e, by[first]), **{k: arrays[k] for k in read})
    np.testing.assert_allclose(got, jac, rtol=1e-8, atol=1e-10)
    hess = jax.hessian(lambda x: jnp.sum(jnp.tanh(f({**arrays, first: x}))))(arrays[first])
    got = eg.evaluate(eg.hessian(eg.sum(eg.tanh(e)), by[first]), **{k: arrays[k] for k in read})
    np.testing.assert_allclose(got, hess, rtol=1e-7, atol=1e-9)


def test_first_operand_stretched():
    """A + B and A * B with A 1×1 and B 1×3, both declared by rank: the result's axes are the
    broadcast of both operands' (ir.Broadcast), so the value is 1×3 and the gradient by A sums over
    the stretch, on every door."""
    A, B = eg.tensor("A", 2), eg.tensor("B", 2)
    arrays = dict(A=np.full((1, 1), 2.0), B=np.arange(1.0, 4.0).reshape(1, 3))
    a, b = arrays["A"], arrays["B"]
    for e, value, by_a, by_b in ((A + B, a + b, [[3.0]], np.ones((1, 3))),
                                 (A * B, a * b, b.sum(keepdims=True), np.full((1, 3), 2.0))):
        np.testing.assert_array_equal(eg.evaluate(e, **arrays), value)
        for wrt, closed in ((A, by_a), (B, by_b)):
            g = eg.grad(eg.sum(e), wrt)
            np.testing.assert_array_equal(eg.evaluate(g, **arrays), closed)
            for backend in ("numpy", "jax", "torch"):
                np.testing.assert_allclose(np.asarray(eg.compile(g, backend=backend)(**arrays)), closed)
            shapes = {n: arrays[n].shape for n in eg.compile(g).names}
            np.testing.assert_array_equal(run(eg.codegen(g, shapes=shapes))(**{n: arrays[n] for n in shapes}), closed)
        np.testing.assert_array_equal(run(eg.codegen(e, shapes={"A": (1, 1), "B": (1, 3)}))(**arrays), value)
        assert str(eg.check(eg.sum(e), A, **arrays)).startswith("PASS")


@pytest.mark.slow
def test_each_operand_stretches_the_other():
    """A 3×1 plus B 1×3: each stretches the other; the Jacobian, the Hessian and generated code at
    other sizes (a 4×1 beside a 4×3 through code made for 1×1 and 1×3) follow NumPy."""
    A, B = eg.tensor("A", 2), eg.tensor("B", 2)
    a, b = RNG.standard_normal((3, 1)), RNG.standard_normal((1, 3))
    np.testing.assert_allclose(eg.evaluate(A * B, A=a, B=b), a * b)
    jac = jax.jacobian(lambda x: x * b)(a)
    np.testing.assert_allclose(eg.evaluate(eg.jacobian(A * B, A), A=a, B=b), jac)
    hess = jax.hessian(lambda x: jnp.sum(jnp.tanh(x * b)))(a)
    np.testing.assert_allclose(eg.evaluate(eg.hessian(eg.sum(eg.tanh(A * B)), A), A=a, B=b), hess, rtol=1e-10)
    f = run(eg.codegen(B + A, shapes={"A": (1, 1), "B": (1, 3)}))
    np.testing.assert_array_equal(f(A=np.ones((4, 1)), B=np.ones((4, 3))), np.full((4, 3), 2.0))


def test_broadcast_sizes_print_and_refuse_a_mismatch():
    """The broadcast of two sizes prints as their max, and sizes that do not broadcast are an error
    naming both (not a wrong answer)."""
    A, B = eg.tensor("A", 1), eg.tensor("B", 1)
    assert (A + B).shape == (ir.dim_broadcast(("B", 0), ("A", 0)),)
    assert "max(size(A,0), size(B,0))" in str(eg.grad(eg.sum((A + B) * 2 + eg.sum(A)), A))
    with pytest.raises(eg.ShapeError, match=r"A.shape\[0\] = 2 and B.shape\[0\] = 3"):
        eg.evaluate(A + B, A=np.ones(2), B=np.ones(3))
    with pytest.raises(eg.ShapeError, match=r"size 3 in the stretch over size\(B,0\) but size 2"):
        eg.evaluate(eg.grad(eg.sum(A * B), A), A=np.ones(2), B=np.ones(3))
    np.testing.assert_array_equal(eg.evaluate(eg.eye((A + B).shape[0]), A=np.ones(1), B=np.ones(2)), np.eye(2))


def test_an_output_axis_summed_by_the_vjp_keeps_its_range():
    """Σ(B + A @ A), A 1×1 and B 1×3: the vjp of A[i,k] A[k,j] sums j over B's 3 columns though A
    carries j at length 1 (reverse.py: a Stretch keeps the range), so the gradient is 6a, not 4a."""
    A, B = eg.tensor("A", 2), eg.tensor("B", 2)
    a, b = np.array([[0.7]]), np.ones((1, 3))
    np.testing.assert_allclose(eg.evaluate(eg.grad(eg.sum(B + A @ A), A), A=a, B=b), 6 * a)
    np.testing.assert_allclose(eg.evaluate(eg.hessian(eg.sum(B + A @ A), A), A=a, B=b), [[[[6.0]]]])


def test_forward_jacobian_of_the_scalar_keeps_the_range():
    A, B = eg.tensor("A", 2), eg.tensor("B", 2)
    a, b = np.array([[0.7]]), np.ones((1, 3))
    np.testing.assert_allclose(eg.evaluate(eg.jacobian(eg.sum(B + A @ A), A), A=a, B=b), 6 * a)
