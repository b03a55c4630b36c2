"""Framework-native wrappers (eg.jax_function, eg.torch_function: their gradients are einsumgrad's
symbolic ones) and a declared argument order (args=) for compile, codegen and the wrappers."""
import inspect

import numpy as np
import pytest

import einsumgrad as eg


def mlp():
    """A two-layer network's squared loss: W1, b1, W2 parameters, x, y data."""
    W1, b1, W2, x, y = eg.tensor("W1", 2), eg.tensor("b1", 1), eg.tensor("W2", 2), eg.tensor("x", 1), eg.tensor("y", 1)
    r = W2 @ eg.tanh(W1 @ x + b1) - y
    return (W1, b1, W2, x, y), eg.sum(r * r)


def mlp_arrays(rng):
    return {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal(4), "W2": rng.standard_normal((2, 4)),
            "x": rng.standard_normal(3), "y": rng.standard_normal(2)}


def mlp_numpy(xp, p, x, y):
    r = p["W2"] @ xp.tanh(p["W1"] @ x + p["b1"]) - y
    return (r * r).sum()


# -- args=: a declared argument order --------------------------------------------------------------

def test_positional_calls_equal_keyword_calls(rng):
    (W1, b1, W2, x, y), L = mlp()
    a = mlp_arrays(rng)
    f = eg.compile(L, eg.grad(L, W1), args=(x, y, W1, b1, W2))
    by_name = f(**a)
    by_position = f(a["x"], a["y"], a["W1"], a["b1"], a["W2"])
    mixed = f(a["x"], a["y"], W2=a["W2"], b1=a["b1"], W1=a["W1"])
    for got in (by_position, mixed):
        for u, v in zip(got, by_name):
            np.testing.assert_array_equal(u, v)
    assert str(inspect.signature(f)) == "(x, y, W1, b1, W2, **others)"
    default = eg.compile(L)  # without args: the names sorted, as codegen writes them
    assert str(inspect.signature(default)) == "(W1, W2, b1, x, y, **others)"
    assert default(*(a[n] for n in ("W1", "W2", "b1", "x", "y"))) == by_name[0]


def test_declared_order_reaches_codegen(rng):
    (W1, b1, W2, x, y), L = mlp()
    a = mlp_arrays(rng)
    source = eg.codegen(L, eg.grad(L, W1), args=(x, y, W1, b1, W2), name="step")
    assert "def step(x, y, W1, b1, W2):" in source
    space: dict = {}
    exec(source, space)  # noqa: S102 - the source einsumgrad wrote
    for u, v in zip(space["step"](a["x"], a["y"], a["W1"], a["b1"], a["W2"]), eg.compile(L, eg.grad(L, W1))(**a)):
        np.testing.assert_allclose(u, v, rtol=1e-12)
    s = eg.tensor("s", 1)  # a tensor that cancels out: positional where declared, else an optional keyword
    assert "def f(s, x):" in eg.codegen(eg.sum(x) + eg.sum(s - s), args=(s, x))
    assert "def f(x, *, s=None):" in eg.codegen(eg.sum(x) + eg.sum(s - s))


def test_positional_arguments_reach_vmap_in_axes(rng):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    f = eg.compile(eg.tanh(W @ x), backend="jax", args=(W, x))
    W0, xs = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    got = jax.vmap(f, in_axes=(None, 0))(W0, xs)
    np.testing.assert_allclose(np.asarray(got), np.tanh(xs @ W0.T), rtol=1e-12)


@pytest.mark.parametrize("args, message", [
    (("x",), "args leaves out 'W'"),
    (("W", "x", "W"), "names tensor 'W' twice"),
    (("W", "x", "z"), "'z', which is no tensor of these expressions"),
    ("Wx", "a tuple of tensors or names, got str"),
    ((eg.tensor("W", 1), "x"), "two different tensors are named 'W'"),
    ((eg.tensor("W", 2) + 1, "x"), "args lists tensors made with eg.tensor"),
])
def test_bad_args_are_named(args, message):
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    for make in (eg.compile, eg.codegen):
        with pytest.raises(eg.EinsumgradError, match=message):
            make(W @ x, args=args)


def test_bad_positional_calls_are_named():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    f = eg.compile(W @ x, args=(W, x))
    with pytest.raises(eg.EinsumgradError, match=r"takes 2 array\(s\) by position \(W, x\), got 3"):
        f(np.eye(2), np.ones(2), np.ones(2))
    with pytest.raises(eg.EinsumgradError, match="'W' is given both by position and by name"):
        f(np.eye(2), W=np.eye(2), x=np.ones(2))
    with pytest.raises(eg.EinsumgradError, match="missing array 'x'"):
        f(np.eye(2))
