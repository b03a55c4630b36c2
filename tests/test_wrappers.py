"""Framework-native wrappers (eg.jax_function, eg.torch_function: their gradients are einsumgrad's
symbolic ones) and a declared argument order (args=) for compile, codegen and the wrappers."""
import doctest
import importlib.util
import inspect
import pathlib
import re

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


# -- eg.jax_function: a jax.custom_vjp ------------------------------------------------------------

@pytest.fixture
def jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def split(a):
    """The parameters (a dict) and the data of an MLP's arrays."""
    return {n: a[n] for n in ("W1", "b1", "W2")}, a["x"], a["y"]


def mlp_function(make):
    (W1, b1, W2, x, y), L = mlp()
    return make(L, args=({"W1": W1, "b1": b1, "W2": W2}, x, y))


@pytest.mark.slow
def test_jax_grad_is_jaxs_own_under_jit_and_vmap_with_pytrees(jax, rng):
    jnp = jax.numpy
    loss = mlp_function(eg.jax_function)
    params, x0, y0 = jax.tree_util.tree_map(jnp.asarray, split(mlp_arrays(rng)))

    def own(p, x, y):
        return mlp_numpy(jnp, p, x, y)

    got, want = jax.jit(jax.grad(loss))(params, x0, y0), jax.grad(own)(params, x0, y0)
    assert set(got) == {"W1", "b1", "W2"}
    for n in got:
        np.testing.assert_allclose(got[n], want[n], rtol=1e-12, atol=1e-14)
    xs, ys = jnp.asarray(rng.standard_normal((5, 3))), jnp.asarray(rng.standard_normal((5, 2)))
    per_example = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0, 0)))(params, xs, ys)
    want = jax.vmap(jax.grad(own), in_axes=(None, 0, 0))(params, xs, ys)
    for n in per_example:
        assert per_example[n].shape == (5, *params[n].shape)
        np.testing.assert_allclose(per_example[n], want[n], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jax.vmap(loss, in_axes=(None, 0, 0))(params, xs, ys),
                               jax.vmap(own, in_axes=(None, 0, 0))(params, xs, ys), rtol=1e-12)


def test_jax_sgd_steps_lower_the_loss_as_jaxs_own(jax, rng):
    jnp = jax.numpy
    loss = mlp_function(eg.jax_function)
    params, x0, y0 = jax.tree_util.tree_map(jnp.asarray, split(mlp_arrays(rng)))

    def trainer(f):
        @jax.jit
        def step(p, x, y):
            value, g = jax.value_and_grad(f)(p, x, y)
            return jax.tree_util.tree_map(lambda w, d: w - 0.05 * d, p, g), value
        return step

    ours, theirs = trainer(loss), trainer(lambda p, x, y: mlp_numpy(jnp, p, x, y))
    p, q, values = params, params, []
    for _ in range(5):
        (p, u), (q, v) = ours(p, x0, y0), theirs(q, x0, y0)
        np.testing.assert_allclose(u, v, rtol=1e-12)
        values.append(float(u))
    assert values == sorted(values, reverse=True) and values[-1] < values[0]
    for n in p:
        np.testing.assert_allclose(p[n], q[n], rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tanh", "exp", "log", "sigmoid", "softplus", "relu"])
def test_jax_vjp_of_a_vector_function_is_jaxs_own(jax, rng, name):
    jnp = jax.numpy
    own = {"tanh": jnp.tanh, "exp": jnp.exp, "log": jnp.log, "sigmoid": jax.nn.sigmoid, "softplus": jax.nn.softplus,
           "relu": jax.nn.relu}[name]
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    f = eg.jax_function(eg.function(name)(W @ x) * 2, args=(W, x))
    W0, x0 = jnp.asarray(rng.uniform(0.1, 1, (4, 3))), jnp.asarray(rng.uniform(0.1, 1, 3) * np.array([1, -1, 1]))
    for k in (0, 1):
        np.testing.assert_allclose(jax.jit(jax.jacrev(f, argnums=k))(W0, x0),
                                   jax.jacrev(lambda w, v: 2 * own(w @ v), argnums=k)(W0, x0), rtol=1e-12, atol=1e-14)


def test_jax_second_derivatives_are_jaxs_of_the_symbolic_gradient(jax, rng):
    jnp = jax.numpy
    x, A = eg.tensor("x", 1), eg.tensor("A", 2)
    L = eg.sum(eg.tanh(A @ x) ** 3)
    f = eg.jax_function(L, args=(x, A))
    x0, A0 = rng.standard_normal(3), rng.standard_normal((4, 3))
    H = jax.jit(jax.jacrev(jax.grad(f)))(jnp.asarray(x0), jnp.asarray(A0))
    np.testing.assert_allclose(H, eg.evaluate(eg.hessian(L, x), x=x0, A=A0), rtol=1e-11)


@pytest.mark.slow
def test_jax_function_of_softmax_and_logsumexp(jax, rng):
    jnp = jax.numpy
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    z = W @ x
    f = eg.jax_function(eg.logsumexp(z) + eg.sum(eg.softmax(z) * z), args=(W, x))
    W0, x0 = jnp.asarray(rng.standard_normal((4, 3))), jnp.asarray(rng.standard_normal(3))

    def own(w, v):
        z = w @ v
        return jax.nn.logsumexp(z) + (jax.nn.softmax(z) * z).sum()

    np.testing.assert_allclose(jax.jit(jax.grad(f))(W0, x0), jax.grad(own)(W0, x0), rtol=1e-12)


def test_jax_function_arguments_are_checked(jax):
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    f = eg.jax_function(eg.sum(W @ x), args=({"W": W}, x))
    assert str(inspect.signature(f)) == "(arg0, x, /)"
    with pytest.raises(eg.EinsumgradError, match="structured as its args"):
        f({"V": np.eye(2)}, np.ones(2))
    with pytest.raises(eg.EinsumgradError, match="args leaves out 'x'"):
        eg.jax_function(eg.sum(W @ x), args=(W,))
    with pytest.raises(eg.EinsumgradError, match="args holds tensors made with eg.tensor, got 'x'"):
        eg.jax_function(eg.sum(W @ x), args=(W, "x"))
    b = eg.tensor("b", 1)  # a parameter the loss does not read: its gradient is 0
    g = jax.grad(eg.jax_function(eg.sum(W @ x), args=({"W": W, "b": b}, x)))({"W": np.eye(2), "b": np.ones(3)}, np.ones(2))
    np.testing.assert_array_equal(g["b"], np.zeros(3))
    with pytest.raises(eg.EinsumgradError, match="jax_function takes an expression"):
        eg.jax_function("ij,j->i", args=(W, x))


# -- eg.torch_function: a torch.autograd.Function ---------------------------------------------------

@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.slow
def test_torch_gradcheck_and_gradgradcheck(torch, rng):
    loss = mlp_function(eg.torch_function)
    params, x0, y0 = split({n: torch.tensor(a, requires_grad=True) for n, a in mlp_arrays(rng).items()})

    def flat(W1, b1, W2, x, y):
        return loss({"W1": W1, "b1": b1, "W2": W2}, x, y)

    inputs = (params["W1"], params["b1"], params["W2"], x0, y0)
    assert torch.autograd.gradcheck(flat, inputs)
    assert torch.autograd.gradgradcheck(flat, inputs)
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)  # a vector result: the VJP with a cotangent
    f = eg.torch_function(eg.sigmoid(W @ x) * eg.softplus(W @ x), args=(W, x))
    assert torch.autograd.gradcheck(f, (params["W1"], x0))
    assert torch.autograd.gradgradcheck(f, (params["W1"], x0))


def test_torch_sgd_steps_equal_torchs_own_autograd(torch, rng):
    loss = mlp_function(eg.torch_function)
    a = mlp_arrays(rng)
    x0, y0 = torch.tensor(a["x"]), torch.tensor(a["y"])
    ours = {n: torch.tensor(a[n], requires_grad=True) for n in ("W1", "b1", "W2")}
    theirs = {n: torch.tensor(a[n], requires_grad=True) for n in ("W1", "b1", "W2")}
    values = []
    for _ in range(5):
        u, v = loss(ours, x0, y0), mlp_numpy(torch, theirs, x0, y0)
        torch.testing.assert_close(u, v, rtol=1e-12, atol=0)
        values.append(float(u))
        u.backward()
        v.backward()
        with torch.no_grad():
            for p in (ours, theirs):
                for w in p.values():
                    w -= 0.05 * w.grad
                    w.grad = None
    assert values == sorted(values, reverse=True) and values[-1] < values[0]
    for n in ours:
        torch.testing.assert_close(ours[n], theirs[n], rtol=1e-12, atol=1e-14)


def test_torch_function_arguments_are_checked(torch):
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    f = eg.torch_function(eg.sum(W @ x), args=({"W": W}, [x]))
    assert float(f({"W": torch.eye(2)}, [torch.ones(2)])) == 2
    with pytest.raises(eg.EinsumgradError, match=r"the arguments\[0\] must be a dict with keys \['W'\]"):
        f({"V": torch.eye(2)}, [torch.ones(2)])
    with pytest.raises(eg.EinsumgradError, match=r"the arguments\[1\] must be 1 \(a list"):
        f({"W": torch.eye(2)}, torch.ones(2))
    b = eg.tensor("b", 1)  # a parameter the loss does not read: its gradient is 0
    W0, b0 = torch.eye(2, requires_grad=True), torch.ones(3, requires_grad=True)
    eg.torch_function(eg.sum(W @ x), args=(W, b, x))(W0, b0, torch.ones(2)).backward()
    assert b0.grad.tolist() == [0, 0, 0]


def test_a_jax_plan_made_in_one_trace_serves_the_next(jax, rng):
    """A plan outlives the jax trace it was made in: its constant terms are made at each call (an
    array made while tracing a custom_vjp's forward is that trace's, which a later program would read)."""
    jnp = jax.numpy
    x = eg.tensor("x", 1)
    L = eg.sum(eg.tanh(x))  # its gradient 1 - tanh² has a constant term
    f = eg.jax_function(L, args=(x,))
    x0 = jnp.asarray(rng.standard_normal(7))  # a shape no other test uses, so that the plans are made here
    with jax.checking_leaks():  # a tracer kept past its trace is an error
        jax.jit(jax.grad(f))(x0)
    value, g = jax.jit(jax.value_and_grad(f))(x0)
    np.testing.assert_allclose(g, 1 / np.cosh(x0) ** 2, rtol=1e-12)


@pytest.mark.slow
def test_the_docs_training_steps_run():
    """The docs' jax and torch training steps (docs/guide/training.md: the expression, then one step each)."""
    page = (pathlib.Path(__file__).parents[1] / "docs" / "guide" / "training.md").read_text(encoding="utf-8")
    model, with_jax, with_torch = map(doctest.script_from_examples, re.findall(r"```pycon\n(.*?)```", page, re.S))
    space: dict = {}
    exec(model, space)  # noqa: S102 - the docs' own code
    before = None
    for block, library in ((with_jax, "jax"), (with_torch, "torch")):
        if importlib.util.find_spec(library) is None:
            continue
        exec(block, space)  # noqa: S102
        params = {n: np.asarray(v.detach() if hasattr(v, "detach") else v) for n, v in space["params"].items()}
        assert before is None or all(np.allclose(params[n], before[n], rtol=1e-6) for n in params)  # the same step
        before = params
    assert before is None or not np.allclose(before["W1"], 0.1)  # a step was taken
