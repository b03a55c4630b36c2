"""Dtypes and backends (issue 20, items 6, 9, 10 and the first half of 25): complex
coefficients are kept, on every backend; a result's dtype is NumPy's promotion of the inputs
and the coefficients (float32 in, float32 out); torch tensors that require grad go through
the call, and torch autograd through it agrees with ``eg.grad``; the memory guard holds on
every backend."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import einsumgrad as eg
from oracles import central_difference
import profiles

BACKENDS = ["numpy", "jax", "torch"]


def backend_array(backend: str, a: np.ndarray):
    """``a`` as an array of ``backend``, its dtype kept (jax in 64-bit mode, as the other tests run it)."""
    if backend == "jax":
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        return jax.numpy.asarray(a)
    if backend == "torch":
        return pytest.importorskip("torch").from_numpy(np.array(a))
    return a


def as_numpy(r) -> np.ndarray:
    return np.asarray(r.detach() if hasattr(r, "detach") else r)


def dtype_name(r) -> str:
    return str(r.dtype).removeprefix("torch.")


# complex coefficients (item 6) -----------------------------------------------------------
def test_a_complex_coefficient_survives_the_gradient_and_prints():
    x = eg.tensor("x", ())
    g = eg.grad(x * (1 + 0.2j), x)
    assert "(1+0.2j)" in str(x * (1 + 0.2j)) and "(1+0.2j)" in str(g)
    assert eg.evaluate(g, x=np.array(1 + 0j)) == 1 + 0.2j
    assert eg.evaluate(g, x=np.array(1.0)) == 1 + 0.2j  # a real input, a complex coefficient: complex


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype, expected", [("float32", "complex64"), ("float64", "complex128"),
                                             ("complex64", "complex64")])
def test_the_jacobian_of_a_complex_multiple_is_complex_on_every_backend(backend, dtype, expected):
    y = eg.tensor("y", 1)
    J = eg.jacobian(2j * y + y, y)
    r = eg.compile(J, backend=backend)(y=backend_array(backend, np.ones(3, dtype)))
    assert dtype_name(r) == expected
    np.testing.assert_array_equal(as_numpy(r), (1 + 2j) * np.eye(3))
    fixed = eg.tensor("z", (3,))  # a constant Jacobian that reads no array
    assert eg.evaluate(eg.jacobian(2j * fixed, fixed), z=np.ones(3, dtype)).dtype == expected
    np.testing.assert_array_equal(eg.evaluate(eg.jacobian(2j * fixed, fixed)), 2j * np.eye(3))


def test_equal_terms_merge_their_complex_coefficients():
    x = eg.tensor("x", 1)
    assert str(x * (1 + 0.2j) + x * (1 - 0.2j)) == "y[i] = 2 x[i]"
    np.testing.assert_array_equal(eg.evaluate(x * 1j - x * 1j, x=np.ones(2)), np.zeros(2))


def test_a_function_of_a_real_input_stays_real_under_a_complex_coefficient():
    """Only the nodes that read complex values are complex: relu of a real x is allowed."""
    x = eg.tensor("x", 1)
    a = np.array([-1.0, 2.0])
    np.testing.assert_array_equal(eg.evaluate(eg.relu(x) * 2j, x=a), [0, 4j])
    np.testing.assert_array_equal(eg.evaluate(eg.grad(eg.sum(eg.relu(x) * 2j), x), x=a), [0, 2j])


def holomorphic(m, x):
    """A holomorphic function of a complex vector with complex coefficients, over ``m`` (eg or np)."""
    return m.sum(m.tanh(x * (1 + 0.5j)) * x * (0.3 - 2j) + m.exp(x * 0.5j))


def closed_form_gradient(x):
    return (0.3 - 2j) * ((1 + 0.5j) * x / np.cosh((1 + 0.5j) * x) ** 2 + np.tanh((1 + 0.5j) * x)) \
        + 0.5j * np.exp(0.5j * x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_complex_coefficients_against_closed_forms_and_complex_differences(backend, rng):
    x = eg.tensor("x", 1)
    z = rng.uniform(-1, 1, 3) + 1j * rng.uniform(-1, 1, 3)
    d = rng.standard_normal(3) + 1j * rng.standard_normal(3)  # a complex direction
    f = holomorphic(eg, x)
    value, g, H = eg.compile(f, eg.grad(f, x), eg.hessian(f, x), backend=backend)(x=backend_array(backend, z))
    np.testing.assert_allclose(as_numpy(value), holomorphic(np, z), rtol=1e-12)
    np.testing.assert_allclose(as_numpy(g), closed_form_gradient(z), rtol=1e-12)
    # holomorphic: f(z + εd) − f(z − εd) ≈ 2ε Σ f′ d, unconjugated
    np.testing.assert_allclose(np.sum(as_numpy(g) * d), central_difference(lambda v: holomorphic(np, v), z, d),
                               rtol=1e-7)
    np.testing.assert_allclose(as_numpy(H) @ d, central_difference(closed_form_gradient, z, d), rtol=1e-7)


# NumPy's promotion: float32 in, float32 out (item 25) -------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_slices_and_their_gradients_keep_float32(backend):
    x = eg.tensor("x", 1)
    L = eg.sum(x[1:3] * 0.5 + x[0:4:2][0])
    a = np.arange(4, dtype=np.float32)
    value, g = eg.compile(x[1:3], eg.grad(L, x), backend=backend)(x=backend_array(backend, a))
    assert dtype_name(value) == dtype_name(g) == "float32"
    np.testing.assert_array_equal(as_numpy(value), [1, 2])
    np.testing.assert_array_equal(as_numpy(g), [2, 0.5, 0.5, 0])  # x[0] is added to both entries


@pytest.mark.parametrize("expr", ["eg.grad(eg.det(R), R)", "eg.grad(eg.sum(eg.function('max')(x)), x)",
                                  "eg.hessian(eg.sum(x * x) * 2.5, x)", "eg.trace(R) * 1.5 + eg.sum(x)",
                                  "eg.grad(eg.trace(R) + eg.sum(eg.sum(R)), R)", "eg.jacobian(x, x)"])
def test_sizes_deltas_constants_and_python_floats_keep_float32(expr):
    R, x = eg.tensor("R", 2), eg.tensor("x", (3,))
    e = eval(expr, {"eg": eg, "R": R, "x": x})  # our own test strings, not a user's
    arrays = {"R": np.eye(3, dtype=np.float32) + 0.1, "x": np.arange(3, dtype=np.float32)}
    r = eg.evaluate(e, **{n: a for n, a in arrays.items() if n in eg.compile(e).accepted})
    assert r.dtype == np.float32


def test_arrays_the_plan_does_not_read_set_the_precision_too():
    x = eg.tensor("x", (3,))
    g = eg.grad(eg.sum(2 * x), x)  # reads no array
    assert eg.evaluate(g, x=np.ones(3, np.float32)).dtype == np.float32
    assert eg.evaluate(g, x=np.ones(3)).dtype == np.float64
    assert eg.evaluate(g).dtype == np.float64


def _float32_fuzz(backend, examples):
    from test_compositions import problems

    @settings(max_examples=profiles.examples(examples), deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(problems(max_depth=3))
    def check(problem):
        tensors = problem.tensors()
        arrays = {n: a.astype(np.float32) for n, a in problem.arrays().items()}
        L = eg.sum(problem.node.fn(eg, tensors))
        for e in (L, eg.grad(L, tensors[problem.wrt])):
            f = eg.compile(e, backend=backend)
            given_arrays = {n: backend_array(backend, a) for n, a in arrays.items() if n in f.accepted}
            with np.errstate(all="ignore"):
                r = f(**given_arrays)
            assert dtype_name(r) == "float32", f"{problem}: {r.dtype}"

    check()


@pytest.mark.slow
@pytest.mark.parametrize("backend, examples", [("numpy", 200), ("torch", 40), ("jax", 10)])  # jax runs op by op
def test_random_compositions_in_float32_give_float32_values_and_gradients(backend, examples):
    """Random compositions (test_compositions' strategy: broadcasting, sums, traces, @, einsums,
    elementwise functions, inv/det/logdet), tensors declared by shape or by rank."""
    if backend != "numpy":
        pytest.importorskip(backend)
    _float32_fuzz(backend, examples)


# torch tensors that require grad (item 9) -------------------------------------------------
def test_torch_autograd_through_the_call_agrees_with_grad(rng):
    torch = pytest.importorskip("torch")
    W, x, S = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("S", 2, symmetric=True)
    L = eg.sum(eg.tanh(W @ x) * x[0:3]) + eg.trace(S @ W.T @ W) + eg.sum(eg.jacobian(W @ x, x))
    W0, x0 = rng.standard_normal((3, 3)), rng.standard_normal(3)
    S0 = rng.standard_normal((3, 3))
    S0 = S0 + S0.T
    tensors = {n: torch.tensor(a, requires_grad=True) for n, a in dict(W=W0, x=x0, S=S0).items()}
    value = eg.compile(L, backend="torch")(**tensors)
    assert value.requires_grad
    np.testing.assert_allclose(value.item(), eg.evaluate(L, W=W0, x=x0, S=S0), rtol=1e-12)
    value.backward()
    for t in (W, x):
        np.testing.assert_allclose(tensors[t.name].grad.numpy(), eg.evaluate(eg.grad(L, t), W=W0, x=x0, S=S0),
                                   rtol=1e-12)


def test_torch_float32_tensors_that_require_grad(rng):
    torch = pytest.importorskip("torch")
    x = eg.tensor("x", 1)
    L = eg.sum(x[1:3] * eg.sigmoid(x[0:2]))
    t = torch.tensor(rng.standard_normal(4), dtype=torch.float32, requires_grad=True)
    value = eg.compile(L, backend="torch")(x=t)
    value.backward()
    assert value.dtype == t.grad.dtype == torch.float32
    np.testing.assert_allclose(t.grad.numpy(), eg.evaluate(eg.grad(L, x), x=t.detach().numpy()), rtol=1e-6)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_a_function_with_no_backend_form_is_refused_where_its_gradient_would_be_cut(backend):
    x = eg.tensor("x", 1)
    h = eg.function("h_no_form", np.sinh, np.cosh, np.sinh)
    f = eg.compile(eg.sum(h(x)), backend=backend)
    a = np.array([0.5, -1.0])
    if backend == "torch":
        torch = pytest.importorskip("torch")
        np.testing.assert_allclose(f(x=torch.tensor(a)).item(), np.sum(np.sinh(a)))  # no grad: its NumPy values
        with pytest.raises(eg.EinsumgradError, match="function 'h_no_form' has no torch form"):
            f(x=torch.tensor(a, requires_grad=True))
    else:
        jax = pytest.importorskip("jax")
        with pytest.raises(eg.EinsumgradError, match="function 'h_no_form' has no jax form"):
            jax.grad(lambda v: f(x=v))(backend_array("jax", a))


# the memory guard (item 10) ---------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_memory_guard_holds_on_every_backend(backend, restore_settings):
    a, b = eg.tensor("a", 1), eg.tensor("b", 1)
    outer = eg.compile(eg.einsum("i,j->ij", a, b), backend=backend)
    v = backend_array(backend, np.ones(2000))
    eg.configure(memory_limit=10**6)
    with pytest.raises(eg.MemoryLimitError, match=r"shape \(2000, 2000\): 30.5 MiB, over the limit of 977 KiB"):
        outer(a=v, b=v)
    J = eg.compile(eg.jacobian(eg.tanh(a), a), backend=backend)  # a diagonal written into a 2000 x 2000 result
    with pytest.raises(eg.MemoryLimitError, match="over the limit of 977 KiB"):
        J(a=v)
    eg.configure(memory_limit=10**8)
    assert tuple(outer(a=v, b=v).shape) == (2000, 2000)


def test_slices_run_under_jax_jit_and_grad(rng):
    jax = pytest.importorskip("jax")
    x = eg.tensor("x", 1)
    L = eg.sum(x[1:3] * eg.tanh(x[0:2]))
    f = eg.compile(L, backend="jax")
    a = rng.standard_normal(4)
    np.testing.assert_allclose(jax.jit(lambda v: f(x=v))(backend_array("jax", a)), eg.evaluate(L, x=a), rtol=1e-12)
    np.testing.assert_allclose(jax.grad(lambda v: f(x=v))(backend_array("jax", a)), eg.evaluate(eg.grad(L, x), x=a),
                               rtol=1e-12)
