"""Differential tests of random compositions with NumPy broadcasting.

A hypothesis strategy builds a random composition — elementwise arithmetic that broadcasts
scalars, vectors and size-1 axes against matrices, sums over broadcast axes, traces, ``@``,
``.T``, random einsums, elementwise functions and inv/det/logdet near the identity — as one
Python function of a namespace and the leaves. Applied to ``eg`` and the symbolic tensors it
is the expression; applied to ``NP`` (NumPy's own functions) and arrays it is the
independent oracle. For ``L = eg.sum(e)`` and a random input ``t`` and direction ``d``:

- ``eg.evaluate(L)`` equals the NumPy value;
- ``⟨eg.grad(L, t), d⟩`` equals central differences of the NumPy value;
- ``eg.hessian(L, t) · d`` equals central differences of the gradient, and ``dᵀ H d`` the
  second difference of the NumPy value (so a gradient and Hessian wrong alike are caught).

Tensors are declared by concrete shape, or by rank with only their size-1 axes fixed.
The curated cases at the end are the regressions these tests were written to catch.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Callable, NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from profiles import examples

import einsumgrad as eg
from oracles import central_difference, second_difference

SHAPES = {"a": (), "u": (3,), "v": (2,), "X": (2, 3), "Q": (3, 3), "c": (1, 3), "k": (2, 1), "T": (2, 1, 3),
          "R": (3, 3)}  # R is drawn near the identity: the argument of inv, det and logdet
MAX_RANK = 3
RTOL = 1e-5  # jax's float64 gradient tolerance (public_test_util), relative to the scale of the values
EPS = 1e-6

NP = SimpleNamespace(  # NumPy's twin of every eg function a composition calls: the oracle
    tanh=np.tanh, sin=np.sin, cos=np.cos, exp=np.exp, log=np.log, sqrt=np.sqrt,
    sum=np.sum, trace=np.trace, einsum=np.einsum,
    sigmoid=lambda x: 1 / (1 + np.exp(-x)), softplus=lambda x: np.logaddexp(0, x),
    inv=np.linalg.inv, det=np.linalg.det, logdet=lambda x: np.linalg.slogdet(x)[1],
)


class Node(NamedTuple):
    """A composition: ``fn(namespace, leaves)``, its shape, the tensors it reads, its source."""

    fn: Callable
    shape: tuple[int, ...]
    names: frozenset
    code: str

    def __repr__(self):
        return self.code


def leaf(name: str) -> Node:
    return Node(lambda m, x: x[name], SHAPES[name], frozenset({name}), name)


def combine(fn, shape, code, *children: Node) -> Node:
    """``fn(m, *child values)`` over ``children``, with ``code`` formatted from theirs."""
    return Node(lambda m, x: fn(m, *(c.fn(m, x) for c in children)), shape,
                frozenset().union(*(c.names for c in children)), code.format(*children))


UNARY = [  # smooth and real on all of ℝ: log and sqrt only of 1 + e²
    (lambda m, e: m.tanh(e), "eg.tanh({})"),
    (lambda m, e: m.sin(e), "eg.sin({})"),
    (lambda m, e: m.cos(e), "eg.cos({})"),
    (lambda m, e: m.exp(e), "eg.exp({})"),
    (lambda m, e: m.sigmoid(e), "eg.sigmoid({})"),
    (lambda m, e: m.softplus(e), "eg.softplus({})"),
    (lambda m, e: m.log(1 + e**2), "eg.log(1 + ({})**2)"),
    (lambda m, e: m.sqrt(1 + e**2), "eg.sqrt(1 + ({})**2)"),
    (lambda m, e: (1 + e**2) ** -0.5, "(1 + ({})**2)**-0.5"),
    (lambda m, e: e**3, "({})**3"),
    (lambda m, e: 1 - 2 * e, "1 - 2 * ({})"),
    (lambda m, e: 2 / (1 + e**2), "2 / (1 + ({})**2)"),
]
BINARY = {
    "+": (lambda m, a, b: a + b, "({}) + ({})"),
    "-": (lambda m, a, b: a - b, "({}) - ({})"),
    "*": (lambda m, a, b: a * b, "({}) * ({})"),
    "/": (lambda m, a, b: a / (1 + b**2), "({}) / (1 + ({})**2)"),
}


def vector(n: int) -> Node:
    """A vector of size ``n`` read from the leaves."""
    if n == 1:
        return combine(lambda m, c: m.sum(c, axis=1), (1,), "eg.sum({}, axis=1)", leaf("c"))
    return leaf({3: "u", 2: "v"}[n])


def base(draw, shape) -> Node:
    """A leaf of this shape, else the outer product of vectors."""
    names = [n for n, s in SHAPES.items() if s == shape]
    if names:
        return leaf(draw(st.sampled_from(names)))
    if len(shape) == 1:
        return vector(shape[0])
    letters = "ijk"[: len(shape)]
    spec = ",".join(letters) + "->" + letters
    code = f"eg.einsum('{spec}', " + ", ".join(["{}"] * len(shape)) + ")"
    return combine(lambda m, *vs: m.einsum(spec, *vs), shape, code, *map(vector, shape))


def broadcast_operand(draw, shape, required) -> tuple[int, ...]:
    """A shape that broadcasts into ``shape``: leading axes maybe dropped, others kept or made 1,
    except the ``required`` positions, kept whole."""
    first_required = next((i for i, r in enumerate(required) if r), len(shape))
    drop = draw(st.integers(0, first_required))
    return tuple(n if required[i] else draw(st.sampled_from([n, 1])) for i, n in enumerate(shape) if i >= drop)


def broadcast_pair(draw, shape):
    """Two shapes whose NumPy broadcast is ``shape``."""
    r = len(shape)
    first = broadcast_operand(draw, shape, [False] * r)
    offset = r - len(first)
    covered = [i >= offset and first[i - offset] == shape[i] for i in range(r)]
    second = broadcast_operand(draw, shape, [not c for c in covered])
    return (first, second) if draw(st.booleans()) else (second, first)


def insert_axes(draw, shape):
    """``shape`` with one or two new axes, and their positions (a sum over them gives back ``shape``)."""
    new = list(shape)
    for _ in range(draw(st.integers(1, MAX_RANK - len(shape)))):
        new.insert(draw(st.integers(0, len(new))), None)
    axes = tuple(i for i, n in enumerate(new) if n is None)
    return tuple(draw(st.integers(1, 3)) if n is None else n for n in new), axes


def matmul_shapes(draw, shape):
    """Operand shapes of a NumPy matmul with result ``shape``, size-1 batch axes included."""
    k = draw(st.integers(1, 3))
    if len(shape) == 0:
        return (k,), (k,)
    if len(shape) == 1:
        return draw(st.sampled_from([((shape[0], k), (k,)), ((k,), (k, shape[0]))]))
    if len(shape) == 2:
        return (shape[0], k), (k, shape[1])
    b, m, n = shape
    batches = [(b, b), (b, None), (None, b)] + ([(1, b), (b, 1)] if b > 1 else [])
    lb, rb = draw(st.sampled_from(batches))
    return (() if lb is None else (lb,)) + (m, k), (() if rb is None else (rb,)) + (k, n)


def einsum_spec(draw, shape):
    """A random valid einsum spec with output of ``shape`` (implicit where NumPy's rule gives the same),
    and the operand shapes it needs."""
    out = "ijk"[: len(shape)]
    sizes = dict(zip(out, shape)) | {s: draw(st.integers(1, 3)) for s in "pq"[: draw(st.integers(0 if out else 1, 2))]}
    letters = sorted(sizes)
    terms = [draw(st.lists(st.sampled_from(letters), max_size=MAX_RANK)) for _ in range(draw(st.integers(1, 2)))]
    for a in out:
        if not any(a in t for t in terms):
            room = [t for t in terms if len(t) < MAX_RANK]
            if not room:
                terms.append([])
                room = terms[-1:]
            room[draw(st.integers(0, len(room) - 1))].append(a)
    inputs = ",".join("".join(t) for t in terms)
    implicit = "".join(sorted(a for a in set(inputs) - {","} if inputs.count(a) == 1))
    spec = inputs if implicit == out and draw(st.booleans()) else inputs + "->" + out
    return spec, [tuple(sizes[a] for a in t) for t in terms]


def build(draw, shape, depth) -> Node:
    """A random composition of this shape, nested at most ``depth`` deep."""
    rules = ["leaf", "unary", "binary", "binary", "einsum", "matmul"]
    rules += ["sum", "sum"] if len(shape) < MAX_RANK else []
    rules += ["transpose"] if shape else []
    rules += ["trace", "trace", "matrix", "matrix"] if shape == () else ["matrix", "matrix"] if shape == (3, 3) else []
    rule = draw(st.sampled_from(rules)) if depth > 0 else "leaf"
    sub = lambda s: build(draw, s, depth - 1)  # noqa: E731
    if rule == "leaf":
        return base(draw, shape)
    if rule == "unary":
        fn, code = draw(st.sampled_from(UNARY))
        return combine(fn, shape, code, sub(shape))
    if rule == "binary":
        fn, code = BINARY[draw(st.sampled_from(sorted(BINARY)))]
        return combine(fn, shape, code, *map(sub, broadcast_pair(draw, shape)))
    if rule == "sum":
        inner, axes = insert_axes(draw, shape)
        axis = axes[0] - len(inner) * draw(st.booleans()) if len(axes) == 1 else axes
        return combine(lambda m, e: m.sum(e, axis=axis), shape, f"eg.sum({{}}, axis={axis})", sub(inner))
    if rule == "matmul":
        operands = matmul_shapes(draw, shape)
        return combine(lambda m, a, b: a @ b, shape, "({}) @ ({})", *map(sub, operands))
    if rule == "transpose":
        return combine(lambda m, e: e.T, shape, "({}).T", sub(shape[::-1]))
    if rule == "einsum":
        spec, shapes = einsum_spec(draw, shape)
        code = f"eg.einsum('{spec}', " + ", ".join(["{}"] * len(shapes)) + ")"
        return combine(lambda m, *es: m.einsum(spec, *es), shape, code, *map(sub, shapes))
    if rule == "trace":
        n = draw(st.integers(1, 3))
        return combine(lambda m, e: m.trace(e), shape, "eg.trace({})", sub((n, n)))
    near_identity = leaf("R")
    if draw(st.booleans()):  # well conditioned: R is within 0.1 of I, tanh adds at most 0.1 per entry
        near_identity = combine(lambda m, r, e: r + 0.1 * m.tanh(e), (3, 3), "{} + 0.1 * eg.tanh({})",
                                near_identity, sub((3, 3)))
    name = "inv" if shape else draw(st.sampled_from(["det", "logdet"]))
    return combine(lambda m, e: getattr(m, name)(e), shape, f"eg.{name}({{}})", near_identity)


def by_shape(name: str, shape) -> eg.Expr:
    return eg.tensor(name, shape)


def by_rank(name: str, shape) -> eg.Expr:
    """A tensor declared by its rank, its size-1 axes fixed so that they broadcast."""
    return eg.tensor(name, tuple(1 if n == 1 else None for n in shape))


class Problem(NamedTuple):
    node: Node
    declared: str  # "shape": every size fixed; "rank": only the size-1 axes fixed
    wrt: str
    seed: int

    def __repr__(self):
        return f"L = eg.sum({self.node.code}), d/d{self.wrt}, tensors declared by {self.declared}, seed {self.seed}"

    def tensors(self) -> dict:
        declare = by_shape if self.declared == "shape" else by_rank
        return {n: declare(n, s) for n, s in SHAPES.items()}

    def arrays(self) -> dict:
        rng = np.random.default_rng(self.seed)
        env = {n: np.asarray(rng.uniform(-1, 1, SHAPES[n])) for n in sorted(self.node.names)}
        if "R" in env:
            env["R"] = np.eye(3) + 0.1 * env["R"]
        return env


TARGETS = st.one_of(st.sampled_from(sorted(set(SHAPES.values()))),
                    st.lists(st.integers(1, 3), max_size=MAX_RANK).map(tuple))


@st.composite
def problems(draw, max_depth=3):
    declared = draw(st.sampled_from(["shape", "rank"]))
    node = build(draw, draw(TARGETS), draw(st.integers(1, max_depth)))
    wrt = draw(st.sampled_from(sorted(node.names)))
    return Problem(node, declared, wrt, draw(st.integers(0, 2**32 - 1)))


def close(symbolic, numeric, scale) -> bool:
    """jax-style: |symbolic - numeric| ≤ rtol · (scale + |numeric|), elementwise."""
    return bool(np.all(np.abs(np.asarray(symbolic) - numeric) <= RTOL * (scale + np.abs(numeric))))


def evaluate(expr, env: dict) -> np.ndarray:
    """``eg.evaluate`` on every array of the problem (it ignores those ``expr`` does not take)."""
    return np.asarray(eg.evaluate(expr, **env))


def prepare(problem: Problem):
    """L, the tensor to differentiate by, the arrays, L's oracle as a function of that tensor's
    array, a random direction and the step."""
    tensors, env = problem.tensors(), problem.arrays()
    L = eg.sum(problem.node.fn(eg, tensors))
    oracle = lambda x: np.sum(problem.node.fn(NP, {**env, problem.wrt: x}))  # noqa: E731
    x0 = env[problem.wrt]
    value = oracle(x0)
    assume(np.isfinite(value) and abs(value) < 1e6)
    direction = np.random.default_rng(problem.seed + 1).standard_normal(x0.shape)
    return L, tensors[problem.wrt], env, oracle, direction, EPS * max(1.0, float(np.abs(x0).max(initial=0)))


@settings(max_examples=examples(1000), deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(problems())
def test_value_and_gradient_against_numpy(runs, problem):
    L, t, env, oracle, d, eps = prepare(problem)
    x0 = env[problem.wrt]
    value = oracle(x0)
    assert close(evaluate(L, env), value, 1e-5), f"value {evaluate(L, env)}, NumPy {value}"
    g = evaluate(eg.grad(L, t), env)
    assert g.shape == x0.shape
    numeric = central_difference(oracle, x0, d, eps)
    assert close(np.vdot(g, d), numeric, max(1.0, abs(value))), f"⟨grad, d⟩ {np.vdot(g, d)}, differences {numeric}"


@settings(max_examples=examples(400), deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(problems())
def test_hessian_vector_product_against_differences_of_the_gradient(runs, problem):
    L, t, env, oracle, d, eps = prepare(problem)
    x0 = env[problem.wrt]
    G = eg.grad(L, t)
    gradient = lambda x: evaluate(G, {**env, problem.wrt: x})  # noqa: E731
    H = evaluate(eg.hessian(L, t), env)
    assert H.shape == x0.shape * 2
    hvp = np.tensordot(H, d, axes=d.ndim)
    numeric = central_difference(gradient, x0, d, eps)
    scale = max(1.0, float(np.abs(gradient(x0)).max(initial=0)))
    assert close(hvp, numeric, scale), f"H·d = {hvp}, differences {numeric}"
    curvature = second_difference(oracle, x0, d, 100 * eps)
    assert close(np.vdot(d, hvp), curvature, max(1.0, abs(oracle(x0)))), f"dᵀHd {np.vdot(d, hvp)}, NumPy {curvature}"


# Regressions: wrong answers and errors these tests found, each against its closed form,
# with tensors declared by shape and by rank (eg.tensor("X", 2)).

X7, W3 = np.random.default_rng(7).standard_normal((7, 3)), np.random.default_rng(3).standard_normal(3)


def bias_gradient_counts_rows(tensor):
    """∂/∂b Σ(Xw + b) = the number of rows of X (was 1)."""
    X, w, b = tensor("X", (7, 3)), tensor("w", (3,)), tensor("b", ())
    return eg.evaluate(eg.grad(eg.sum(X @ w + b), b), X=X7, w=W3, b=0.5), 7.0


def trace_of_trace_plus_matrix(tensor):
    """∂ tr(tr(Q) + Q)/∂Q = (n + 1) I (was 2 I)."""
    Q = tensor("Q", (3, 3))
    return eg.evaluate(eg.grad(eg.trace(eg.trace(Q) + Q), Q), Q=X7[:3]), 4 * np.eye(3)


def hessian_over_broadcast_axis(tensor):
    """∂²/∂b² Σ(Xw + b)² = 2 · rows (was 2)."""
    X, w, b = tensor("X", (7, 3)), tensor("w", (3,)), tensor("b", ())
    return eg.evaluate(eg.hessian(eg.sum((X @ w + b) ** 2), b), X=X7, w=W3, b=0.5), 14.0


def row_broadcast_against_its_own_sum(tensor):
    """∂/∂c Σ(c + Σ_j c[:, j]) over c (1, 3) = 1 + 3 = 4 everywhere (found by the strategy; was 2)."""
    c = tensor("c", (1, 3))
    return eg.evaluate(eg.grad(eg.sum(c + eg.sum(c, axis=1)), c), c=X7[:1]), np.full((1, 3), 4.0)


def cached_plan_of_a_namesake_gradient(tensor):
    """∂ΣR/∂R after ∂ΣQ/∂Q: the two gradients are the same constant, and the cached plan of the
    first refused R (found by the strategy: "unknown array 'R'; this expression takes: Q")."""
    Q, R = tensor("Q", (3, 3)), tensor("R", (3, 3))
    eg.evaluate(eg.grad(eg.sum(Q), Q), Q=np.eye(3))
    return eg.evaluate(eg.grad(eg.sum(R), R), R=np.eye(3)), np.ones((3, 3))


def cancelled_tensor(tensor):
    """Σ(a - a) is 0 at any a, but evaluate refused the array of the tensor it was built from
    ("unknown array 'a'; this expression takes: ", found by the strategy)."""
    a = tensor("a", ())
    return eg.evaluate(eg.sum(a - a), a=0.5), 0.0


REGRESSIONS = [
    bias_gradient_counts_rows, trace_of_trace_plus_matrix, hessian_over_broadcast_axis,
    row_broadcast_against_its_own_sum, cached_plan_of_a_namesake_gradient,
    cancelled_tensor,
]


@pytest.mark.parametrize("tensor", [by_shape, by_rank], ids=["by-shape", "by-rank"])
@pytest.mark.parametrize("case", REGRESSIONS, ids=lambda case: case.__name__)
def test_regression(case, tensor):
    value, expected = case(tensor)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12, err_msg=case.__doc__)


def test_regression_batch_axis_broadcast_by_rank():
    """A (1, 2, 2) @ B (3, 2, 2) broadcasts the batch axis as NumPy does; with B declared by rank it
    had shape (1, 2, B.shape[2]) and evaluating raised "index 'i' has size 3 in B[i,k,l] but size 1
    in A[i,j,k]" (found by the strategy; A + B broadcasts)."""
    A, B = eg.tensor("A", (1, 2, 2)), eg.tensor("B", 3)
    a, b = np.arange(1.0, 5.0).reshape(1, 2, 2), np.arange(12.0).reshape(3, 2, 2)
    np.testing.assert_allclose(eg.evaluate(A @ B, A=a, B=b), a @ b, rtol=1e-12)
