"""Shape operations: values against NumPy, derivatives against central differences, printing, errors."""
import subprocess
import sys

import numpy as np
import pytest

import einsumgrad as eg
from oracles import central_difference, second_difference

X, Y = eg.tensor("X", (3, 4)), eg.tensor("Y", (6, 2))
A, B = eg.tensor("A", (2, 3)), eg.tensor("B", (2, 2))
a, b, c = eg.tensor("a", (2,)), eg.tensor("b", (3,)), eg.tensor("c", (4,))
M, N = eg.tensor("M", (2, 4)), eg.tensor("N", (3, 4))


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    shapes = dict(X=(3, 4), Y=(6, 2), A=(2, 3), B=(2, 2), a=(2,), b=(3,), c=(4,), M=(2, 4), N=(3, 4))
    return {n: rng.standard_normal(s) for n, s in shapes.items()}


def ev(e, v, **more):
    return eg.evaluate(e, **{n: x for n, x in {**v, **more}.items() if n in e.tensors})


VALUES = {
    "reshape": (eg.reshape(X, (2, 6)), lambda v: v["X"].reshape(2, 6)),
    "reshape -1": (eg.reshape(X, (-1, 3, 2)), lambda v: v["X"].reshape(-1, 3, 2)),
    "reshape to a vector": (eg.reshape(X, 12), lambda v: v["X"].reshape(12)),
    "reshape of a sum": (eg.reshape(X @ eg.tensor("c", (4,)) * 2, (3, 1)), lambda v: (v["X"] @ v["c"] * 2).reshape(3, 1)),
    "kron": (eg.kron(A, B), lambda v: np.kron(v["A"], v["B"])),
    "kron of vectors": (eg.kron(a, b), lambda v: np.kron(v["a"], v["b"])),
    "kron of mixed ranks": (eg.kron(b, B), lambda v: np.kron(v["b"], v["B"])),
    "concatenate": (eg.concatenate([a, b, a]), lambda v: np.concatenate([v["a"], v["b"], v["a"]])),
    "concatenate axis 0": (eg.concatenate([M, N], axis=0), lambda v: np.concatenate([v["M"], v["N"]])),
    "concatenate axis -1": (eg.concatenate([N, eg.tanh(N)], axis=-1),
                            lambda v: np.concatenate([v["N"], np.tanh(v["N"])], axis=-1)),
    "stack": (eg.stack([a, 2 * a]), lambda v: np.stack([v["a"], 2 * v["a"]])),
    "stack axis 1": (eg.stack([M, M * M], axis=1), lambda v: np.stack([v["M"], v["M"] ** 2], axis=1)),
    "stack axis -1": (eg.stack([M, M], axis=-1), lambda v: np.stack([v["M"], v["M"]], axis=-1)),
    "sum keepdims": (eg.sum(X, axis=1, keepdims=True), lambda v: v["X"].sum(axis=1, keepdims=True)),
    "sum keepdims all": (eg.sum(X, keepdims=True), lambda v: v["X"].sum(keepdims=True)),
    "sum keepdims tuple": (eg.sum(eg.stack([M, M]), axis=(0, 2), keepdims=True),
                           lambda v: np.stack([v["M"], v["M"]]).sum(axis=(0, 2), keepdims=True)),
    "expand_dims": (eg.expand_dims(M, 1), lambda v: np.expand_dims(v["M"], 1)),
}

@pytest.mark.parametrize("name", VALUES)
def test_values_match_numpy(name):
    e, numpy = VALUES[name]
    v = arrays()
    expected = numpy(v)
    assert tuple(e.shape) == expected.shape
    np.testing.assert_allclose(ev(e, v), expected, atol=1e-12)


@pytest.mark.parametrize("name", VALUES)
def test_the_jacobian_applies_the_operation_to_the_tangent(name):
    e, numpy = VALUES[name]
    v = arrays()
    wrt = eg.tensor(sorted(e.tensors)[0], v[sorted(e.tensors)[0]].shape)
    J = ev(eg.jacobian(e, wrt), v)
    t = np.random.default_rng(1).standard_normal(v[wrt.name].shape)
    jvp = np.tensordot(J, t, axes=t.ndim)
    np.testing.assert_allclose(jvp, central_difference(lambda x: numpy({**v, wrt.name: x}), v[wrt.name], t), atol=1e-8)


LOSSES = {  # a scalar through each operation, with a nonlinearity so that Hessians are not zero
    "reshape": (eg.sum(eg.tanh(eg.reshape(X, (6, 2)) * Y)), X),
    "reshape then matmul": (eg.sum(eg.sin(eg.reshape(X, (2, 6)) @ Y)), X),
    "kron by A": (eg.sum(eg.tanh(eg.kron(A, B)) ** 2), A),
    "kron by B": (eg.sum(eg.kron(A, B) * eg.kron(A, B) * eg.kron(A, B)), B),
    "concatenate": (eg.sum(eg.concatenate([a, b, a]) ** 3), a),
    "concatenate axis 0": (eg.sum(eg.tanh(eg.concatenate([M, N], axis=0) @ c)), N),
    "concatenate axis 1": (eg.sum(eg.exp(eg.concatenate([B, A], axis=1) * 0.5)), A),
    "stack": (eg.sum(eg.stack([a, a ** 2], axis=1) @ eg.stack([a, a])), a),
    "sum keepdims": (eg.sum(eg.tanh(eg.sum(X, axis=1, keepdims=True) * X)), X),
    "expand_dims": (eg.sum(eg.tanh(eg.expand_dims(c, 0) * X)), c),
}


@pytest.mark.parametrize("name", LOSSES)
def test_gradient_and_hessian_against_central_differences(name):
    L, wrt = LOSSES[name]
    v = arrays(2)
    x0 = v[wrt.name]
    rng = np.random.default_rng(3)
    d, t = rng.standard_normal(x0.shape), rng.standard_normal(x0.shape)
    f = lambda x: ev(L, v, **{wrt.name: x})  # noqa: E731
    G = ev(eg.grad(L, wrt), v)
    np.testing.assert_allclose(np.sum(G * d), central_difference(f, x0, d), rtol=1e-6, atol=1e-8)
    H = ev(eg.hessian(L, wrt), v)
    k = x0.ndim
    np.testing.assert_allclose(np.tensordot(np.tensordot(H, d, k), d, k), second_difference(f, x0, d),
                               rtol=1e-4, atol=1e-5)
    dG = central_difference(lambda x: ev(eg.grad(L, wrt), v, **{wrt.name: x}), x0, t)
    np.testing.assert_allclose(np.tensordot(H, t, k), dG, rtol=1e-6, atol=1e-7)
    assert eg.check(L, wrt, **{n: x for n, x in v.items() if n in L.tensors}).passed


def test_einsum_takes_every_shape_an_expression_has():
    v = arrays()
    e = eg.einsum("ij,jk->ik", eg.reshape(X, (2, 6)), Y)  # known sizes
    np.testing.assert_allclose(ev(e, v), v["X"].reshape(2, 6) @ v["Y"])
    e = eg.einsum("ij,ij->ij", eg.sum(X, axis=1, keepdims=True), X)  # a size-1 axis stretches
    np.testing.assert_allclose(ev(e, v), v["X"].sum(1, keepdims=True) * v["X"])
    e = eg.einsum("...j,j->...", eg.stack([M, M]), c)  # ellipsis over a stacked, concatenated operand
    np.testing.assert_allclose(ev(e, v), np.stack([v["M"], v["M"]]) @ v["c"])
    e = eg.einsum(",i->i", eg.sum(eg.kron(a, b)), eg.concatenate([a, b]))  # a scalar
    np.testing.assert_allclose(ev(e, v), np.kron(v["a"], v["b"]).sum() * np.concatenate([v["a"], v["b"]]))
    s = eg.tensor("s", 0)
    np.testing.assert_allclose(eg.evaluate(eg.einsum(",->", s, s), s=np.array(3.0)), 9.0)


def test_printing():
    assert str(eg.reshape(X, (2, 6))) == "y[i,j] = reshape(X, (2, 6))[i,j]"
    assert str(eg.kron(A, B)) == "y[i,j] = reshape([i,j,k,l] -> A[i,k] B[j,l], (4, 6))[i,j]"
    assert str(eg.concatenate([a, b])) == "y[i] = pad(a, axis=0, width=(0, 3))[i] + pad(b, axis=0, width=(2, 0))[i]"
    assert str(eg.sum(X, axis=1, keepdims=True)) == "y[i,k] = Σ_j X[i,j]"
    assert str(eg.expand_dims(c, 0)) == "y[i,j] = c[j]"
    assert str(eg.grad(eg.sum(eg.reshape(X, (2, 6)) @ Y), X)) == (
        "∂f/∂X[i,j] = reshape([i,j] -> (Σ_k Y[j,k]), (3, 4))[i,j]")
    assert str(eg.grad(eg.sum(eg.concatenate([a, b]) ** 2), b)) == (
        "∂f/∂b[i] = crop([i] -> 2 (pad(a, axis=0, width=(0, 3))[i] + pad(b, axis=0, width=(2, 0))[i]), "
        "axis=0, [2:5])[i]")
    assert eg.reshape(X, (2, 6)).ascii() == "y[i,j] = reshape(X, (2, 6))[i,j]"
    assert eg.reshape(X, (2, 6)).matrix_notation() == "reshape(X, (2, 6))"
    assert "\\operatorname{reshape}(X, (2, 6))" in eg.reshape(X, (2, 6)).latex()


def test_explain_names_the_linear_rule():
    rules = [s.rule for s in eg.explain(eg.sum(eg.tanh(eg.reshape(X, (2, 6)))), X).steps]
    assert "Rule: reshape is linear, so the derivative of reshape(U) is reshape of the derivative of U" in rules


@pytest.mark.parametrize("make,match", [
    (lambda: eg.reshape(X, (5, 2)), r"cannot reshape an expression of shape \(3, 4\) \(12 entries\) into shape \(5, 2\)"),
    (lambda: eg.reshape(X, (-1, 5)), r"into shape \(-1, 5\)"),
    (lambda: eg.reshape(X, (-1, -1)), r"reshape: a shape is an int or a tuple of ints >= 0 \(one may be -1\)"),
    (lambda: eg.reshape(X, "2x6"), r"reshape: a shape is an int or a tuple"),
    (lambda: eg.concatenate([M, A]), r"concatenate: operand 1 has size 3 on axis 1, but operand 0 has 4; every axis but "
                                     r"axis 0 must agree"),
    (lambda: eg.concatenate([a, M]), r"concatenate: operand 1 has rank 2, but operand 0 has rank 1"),
    (lambda: eg.concatenate([a, b], axis=1), r"concatenate: axis 1 is out of range for rank 1"),
    (lambda: eg.concatenate([eg.sum(a), eg.sum(b)]), r"operands of rank 0 \(numbers\) cannot be joined; use stack"),
    (lambda: eg.concatenate(a), r"concatenate takes a non-empty list of expressions"),
    (lambda: eg.stack([]), r"stack takes a non-empty list of expressions"),
    (lambda: eg.stack([a, b]), r"concatenate: operand 1 has size 3 on axis 1, but operand 0 has 2"),
    (lambda: eg.stack([a, M]), r"stack: operand 1 has rank 2, but operand 0 has rank 1"),
    (lambda: eg.stack([a, a], axis=2.0), r"stack: axis is an int, got 2.0"),
    (lambda: eg.expand_dims(a, 3), r"expand_dims: axis 3 is out of range for rank 2"),
])
def test_errors(make, match):
    with pytest.raises(eg.ShapeError, match=match):
        make()


@pytest.mark.slow
def test_backends():
    jnp = pytest.importorskip("jax.numpy")
    da = pytest.importorskip("dask.array")
    columns = eg.stack([eg.concatenate([b, b]), eg.concatenate([b, 2 * b])], axis=1)
    L = eg.sum(eg.tanh(eg.kron(A, B)) @ columns) + eg.sum(eg.concatenate([a, c]) ** 3) \
        + eg.sum(eg.reshape(X, (2, 6)) ** 2)
    wrts = (X, a, b, c, A, B)
    exprs = (L, *(eg.grad(L, w) for w in wrts))
    v = {n: x for n, x in arrays().items() if n in L.tensors}
    expected = eg.compile(*exprs)(**v)
    for got in (eg.compile(*exprs, backend="jax")(**{n: jnp.asarray(x) for n, x in v.items()}),
                eg.compile(*exprs, backend="dask")(**{n: da.from_array(x, chunks=x.shape if n == "X" else 1)
                                                    for n, x in v.items()})):
        for g, e in zip(got, expected):
            np.testing.assert_allclose(np.asarray(getattr(g, "compute", lambda: g)()), e, rtol=1e-5)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "einsumgrad", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("command,expression,wrt,shapes", [
    ("grad", "sum(kron(A, B) * C)", "A", "A=2x3,B=2x2,C=4x6"),
    ("hessian", "sum(tanh(kron(A, B)))", "B", "A=2x3,B=2x2"),
    ("hessian", "sum(reshape(X, (2, 6)) ** 3)", "X", "X=3x4"),
    ("hessian", "sum(tanh(concatenate([a, b], axis=0)))", "a", "a=2,b=3"),
    ("hessian", "sum(exp(stack([a, 2 * a], axis=1)))", "a", "a=2"),
])
def test_the_command_line_checks_each_operation(command, expression, wrt, shapes):
    r = cli(command, expression, "--wrt", wrt, "--shapes", shapes)
    assert r.returncode == 0, r.stderr
    assert "PASS" in r.stdout


@pytest.mark.slow
def test_the_command_line_prints_and_refuses():
    r = cli("grad", "sum(reshape(X, (2, 6)) @ Y)", "--wrt", "X", "--shapes", "X=3x4,Y=6x2")
    assert r.stdout.splitlines()[0] == "∂f/∂X[i,j] = reshape([i,j] -> (Σ_k Y[j,k]), (3, 4))[i,j]"
    r = cli("grad", "sum(reshape(X, (5, 2)))", "--wrt", "X", "--shapes", "X=3x4")
    assert r.returncode == 2
    assert r.stderr == ("einsumgrad: error: cannot reshape an expression of shape (3, 4) (12 entries) into shape "
                        "(5, 2), at column 5 of 'sum(reshape(X, (5, 2)))'\n")
    r = cli("grad", "sum(concatenate(a, b))", "--wrt", "a", "--shapes", "a=2,b=3")
    assert r.returncode == 2
    assert "concatenate takes a list of expressions: concatenate([a, b], axis=0)" in r.stderr


@pytest.mark.parametrize("text,match", [
    ("kron(A)", r"kron takes two expressions, got 1"),
    ("reshape(X)", r"reshape takes an expression and a shape: reshape\(X, \(2, 6\)\)"),
    ("reshape(X, (2, x))", r"an axis is a whole number"),
    ("stack([], axis=0)", r"stack takes a list of expressions: stack\(\[a, b\], axis=0\)"),
    ("concatenate([a, b], keepdims=1)", r"unknown keyword 'keepdims'"),
    ("concatenate([a, X])", r"concatenate: operand 1 has rank 2, but operand 0 has rank 1"),
])
def test_language_errors_point_at_the_call(text, match):
    from einsumgrad.doors.language import parse_expression

    with pytest.raises(eg.ExpressionSyntaxError, match=match):
        parse_expression(text, {"A": (2, 2), "X": (3, 4), "a": (2,), "b": (3,)})
