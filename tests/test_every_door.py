"""Every registered function through every door, against jax as the oracle (issue 19).

Each function has one formula over an array namespace (``Function.formula``); these tests run each public
function (and the selections, ``reshape`` and ``concatenate``) through ``eg.evaluate``, ``eg.grad`` evaluated,
``eg.compile`` on NumPy as straight-line code and step by step, ``jax.jit`` and ``jax.grad`` over
``eg.compile(..., backend="jax")``, torch autograd through ``backend="torch"``, and the NumPy, JAX and torch source of ``eg.codegen`` run standalone: the value of
``y = f(X)`` and the gradient of ``L = Σ y ⊙ C`` by ``X``. A function added without a formula, or without an
oracle here, fails.
"""
from __future__ import annotations

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.compiler import Compiled
from einsumgrad.core import functions
from einsumgrad.library import generic

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

SHAPE = (3, 4)
SQUARE = (3, 3)
E = lambda name: lambda X: getattr(eg, name)(X)  # noqa: E731 - eg.<name>(X)

# name -> (the expression of the tensors X (and Z), the same in jax, the shape of X)
CASES = {
    **{name: (E(name), getattr(jnp, name), SHAPE) for name in (
        "abs", "arccos", "arcsin", "arctan", "cos", "cosh", "exp", "expm1", "log", "log1p", "sign", "sin", "sinh",
        "sqrt", "tan", "tanh")},
    "erf": (E("erf"), jax.scipy.special.erf, SHAPE),
    "relu": (E("relu"), jax.nn.relu, SHAPE),
    "sigmoid": (E("sigmoid"), jax.nn.sigmoid, SHAPE),
    "softplus": (E("softplus"), jax.nn.softplus, SHAPE),
    "step": (E("step"), lambda X: jnp.heaviside(X, 0.5), SHAPE),
    "maximum": (lambda X, Z: eg.maximum(X, Z), jnp.maximum, SHAPE),
    "minimum": (lambda X, Z: eg.minimum(X, Z), jnp.minimum, SHAPE),
    "softmax": (E("softmax"), jax.nn.softmax, SHAPE),
    "log_softmax": (lambda X: eg.log_softmax(X, axis=0), lambda X: jax.nn.log_softmax(X, axis=0), SHAPE),
    "logsumexp": (lambda X: eg.logsumexp(X, axis=1), lambda X: jax.scipy.special.logsumexp(X, axis=1), SHAPE),
    "max": (lambda X: eg.max(X, axis=0), lambda X: jnp.max(X, axis=0), SHAPE),
    "min": (E("min"), jnp.min, SHAPE),
    "norm": (lambda X: eg.norm(X, axis=1), lambda X: jnp.linalg.norm(X, axis=1), SHAPE),
    "stochastic": (E("stochastic"), lambda X: X, SHAPE),
    "inv": (E("inv"), jnp.linalg.inv, SQUARE),
    "det": (E("det"), jnp.linalg.det, SQUARE),
    "logdet": (E("logdet"), lambda X: jnp.linalg.slogdet(X)[1], SQUARE),
    "adj": (E("adj"), lambda X: jnp.linalg.det(X) * jnp.linalg.inv(X), SQUARE),
    # built-ins that are no eg.<name>: selections, reshape, concatenate (pad, and crop in its gradient)
    "select": (lambda X: X[1:, ::2][:, 0] + X[0, -1], lambda X: X[1:, ::2][:, 0] + X[0, -1], SHAPE),
    "reshape": (lambda X: eg.reshape(X, (2, 6)), lambda X: jnp.reshape(X, (2, 6)), SHAPE),
    "concatenate": (lambda X, Z: eg.concatenate([X, Z], axis=1), lambda X, Z: jnp.concatenate([X, Z], axis=1),
                    SHAPE),
}

# registered functions that need no formula, and why
NO_FORMULA = {
    "maximum": "a composition of relu, step, to_finite and from_finite (build), never a call of its own",
    "minimum": "a composition, as maximum",
}


def _inputs(name: str, shape, rng) -> dict:
    low, high = functions.get(name).domain if name in functions.REGISTRY else (-2.0, 2.0)
    X = rng.uniform(low, high, shape)
    if name == "stochastic":
        X = X - X.min() + 0.1
        X = X / X.sum(axis=-1, keepdims=True)
    if shape == SQUARE:
        X = X + 2 * np.eye(3)  # far from singular, det > 0 (logdet)
    return {"X": X, "Z": rng.uniform(-2.0, 2.0, shape)}


def _run(source: str, name: str):
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - our own generated source
    return namespace[name]


def doors(y: eg.Expression, L: eg.Expression, X: eg.Expression, arrays: dict) -> dict:
    """``door -> (y, ∂L/∂X)`` as NumPy arrays, by every door."""
    tensors = sorted(set(y.tensors) | set(L.tensors))
    arrays = {n: arrays[n] for n in tensors}
    g = eg.grad(L, X)
    out = {"evaluate": (eg.evaluate(y, **arrays), eg.evaluate(g, **arrays))}
    straight = eg.compile(y, g)
    out["eg.compile as straight-line code"] = straight(**arrays)
    assert straight._last.straight is not None, "a small program runs as straight-line code"
    saved = eg.configure()["fuse"]
    for fuse in (True, False):  # no writer: its steps, elementwise chains fused (design.md §4.5) and not
        eg.configure(fuse=fuse)
        try:
            steps = Compiled(y.node, g.node, accepted=frozenset(y.tensors | g.tensors))
            out[f"eg.compile step by step{'' if fuse else ', unfused'}"] = steps(**arrays)
        finally:
            eg.configure(fuse=saved)
    both = eg.compile(y, L, backend="jax")
    rest = {n: jnp.asarray(a) for n, a in arrays.items() if n != "X"}
    step = jax.jit(jax.value_and_grad(lambda X_: both(X=X_, **rest)[::-1], has_aux=True))
    (_, value), grad = step(jnp.asarray(arrays["X"]))
    out["jax.jit"] = (value, grad)
    t = {n: torch.tensor(a, requires_grad=n == "X") for n, a in arrays.items()}
    value, loss = eg.compile(y, L, backend="torch")(**t)
    loss.backward()
    out["torch autograd"] = (value.detach().numpy(), t["X"].grad.numpy())
    for backend in ("numpy", "jax", "torch"):
        f = _run(eg.codegen(y, g, backend=backend, name="f"), "f")
        given = {n: (torch.tensor(a) if backend == "torch" else a) for n, a in arrays.items()}
        out[f"codegen {backend}"] = tuple(np.asarray(r) for r in f(**given))
    return {door: tuple(np.asarray(r) for r in pair) for door, pair in out.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(functions.public()) | {"select", "reshape", "concatenate"}))
def test_every_function_through_every_door(name):
    assert name in CASES, f"function {name!r} has no case here: add one (and its jax oracle) to CASES"
    build, oracle, shape = CASES[name]
    rng = np.random.default_rng(sorted(CASES).index(name))
    arrays = _inputs(name, shape, rng)
    X, Z = eg.tensor("X", shape), eg.tensor("Z", shape)
    binary = build.__code__.co_argcount == 2
    y = build(X, Z) if binary else build(X)
    C = eg.tensor("C", y.shape)
    arrays["C"] = rng.uniform(-1.0, 1.0, y.shape)
    L = eg.sum(y * C)
    ref = oracle(*(jnp.asarray(arrays[n]) for n in ("XZ" if binary else "X")))
    ref_grad = jax.grad(lambda X_: jnp.sum(oracle(*((X_, arrays["Z"]) if binary else (X_,))) * arrays["C"]))(
        jnp.asarray(arrays["X"]))
    for door, (value, grad) in doors(y, L, X, arrays).items():
        np.testing.assert_allclose(value, ref, rtol=1e-9, atol=1e-12, err_msg=f"{name}: the value by {door}")
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-8, atol=1e-10, err_msg=f"{name}: the gradient by {door}")


def test_every_registered_function_has_a_formula():
    """Compiled jax and torch code and generated code run the formula: every built-in has one, but the
    compositions in NO_FORMULA (functions that users declare with eg.function run on NumPy only)."""
    missing = [name for name, fn in functions.REGISTRY.items()
               if fn.formula is None and name not in NO_FORMULA and name not in generic.DECLARED]
    assert not missing, f"no formula: {missing}"
    for name in NO_FORMULA:
        assert functions.get(name).impl is None and functions.get(name).build is not None


LOGITS = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [-1000.0, -1000.0, -999.0]])


def _logsumexp(a, axis=None):
    top = a.max(axis=axis, keepdims=True)
    return np.squeeze(top + np.log(np.exp(a - top).sum(axis=axis, keepdims=True)), axis=axis)


def _softmax(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.slow
@pytest.mark.parametrize("what", ["cross-entropy", "logsumexp", "norm", "max"])
def test_logits_at_1000_are_exact_by_every_door(what):
    """Softmax cross-entropy ``-Σ Y ⊙ log_softmax(X)``, logsumexp, norm and max at logits ±1000: finite, and
    the stable closed form, by every door."""
    X = eg.tensor("X", LOGITS.shape)
    Y = np.array([[0.0, 1.0, 0.0], [0.25, 0.25, 0.5], [1.0, 0.0, 0.0]])
    arrays = {"X": LOGITS, "Y": Y}
    if what == "cross-entropy":
        y = -eg.sum(eg.tensor("Y", Y.shape) * eg.log_softmax(X, axis=1))
        value, grad = np.sum(_logsumexp(LOGITS, axis=1) - np.sum(Y * LOGITS, axis=1)), _softmax(LOGITS) - Y
    elif what == "logsumexp":
        y = eg.logsumexp(X)
        value, grad = _logsumexp(LOGITS), np.exp(LOGITS - _logsumexp(LOGITS))
    elif what == "norm":
        y = eg.norm(X)
        value = np.sqrt(np.sum(LOGITS**2))
        grad = LOGITS / value
    else:
        y = eg.max(X)
        value, grad = 1000.0, (LOGITS == 1000.0) / 2  # a tie of two: each gets half
    for door, (got, got_grad) in doors(y, y, X, arrays).items():
        assert np.all(np.isfinite(got)) and np.all(np.isfinite(got_grad)), f"{what} by {door}: {got}, {got_grad}"
        np.testing.assert_allclose(got, value, rtol=1e-13, err_msg=f"{what}: the value by {door}")
        np.testing.assert_allclose(got_grad, grad, rtol=1e-12, atol=1e-300, err_msg=f"{what}: the gradient by {door}")
