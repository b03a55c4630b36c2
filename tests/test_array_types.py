"""Arrays einsumgrad has no backend for: an Array API array (array-api-strict's) is read into NumPy
through DLPack at every door; jax and torch arrays where the call computes with NumPy are refused
with advice true for that call; lists are arrays, other objects are refused naming the argument."""
import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad import EinsumgradError

W, x = eg.tensor("W", 2), eg.tensor("x", 1)
Wn = np.arange(6.0).reshape(2, 3) / 7
xn = np.array([0.5, -1.0, 2.0])
SPEC = eg.jacobian("ij,j->i")


@pytest.fixture
def strict():
    return pytest.importorskip("array_api_strict")


def test_array_api_arrays_evaluate_as_numpy_arrays(strict):
    a, b = strict.asarray(Wn), strict.asarray(xn)
    y = eg.tanh(W @ x)
    want = np.tanh(Wn @ xn)
    for got in (eg.evaluate(y, W=a, x=b), eg.compile(y)(W=a, x=b), eg.compile(y, args=(W, x))(a, b)):
        assert type(got) is np.ndarray
        np.testing.assert_allclose(got, want, rtol=1e-14)
    np.testing.assert_allclose(eg.evaluate(eg.grad(eg.sum(y), W), W=a, x=b), np.outer(1 - want**2, xn), rtol=1e-12)


def test_array_api_arrays_at_the_jacobian_of_a_spec(strict):
    a, b = strict.asarray(Wn), strict.asarray(xn)
    np.testing.assert_allclose(SPEC(a, b), SPEC(Wn, xn))
    g = np.array([1.0, -2.0])
    np.testing.assert_allclose(SPEC.vjp(strict.asarray(g), a, b), np.outer(g, xn))
    np.testing.assert_allclose(SPEC.jvp(strict.asarray(np.ones((2, 3))), a, b), np.full(2, xn.sum()))


def test_array_api_arrays_in_check_and_other_backends(strict):
    a, b = strict.asarray(Wn), strict.asarray(xn)
    assert eg.check(eg.sum(eg.tanh(W @ x)), W, W=a, x=b).passed
    assert strict.asarray(np.ones(2, dtype=np.float32)).dtype == strict.float32
    assert eg.check(eg.tanh(x), x, x=strict.asarray(xn.astype(np.float32))).dtype == "float32"
    for backend in ("jax", "torch"):
        pytest.importorskip(backend)
        got = eg.compile(W @ x, backend=backend)(W=a, x=b)
        np.testing.assert_allclose(np.asarray(got), Wn @ xn, rtol=1e-6)  # jax computes in float32 unless x64


class _NoDLPack:
    """An Array API array whose library has no DLPack export (as a GPU array NumPy cannot read)."""
    shape, dtype = (3,), np.dtype(float)

    def __array_namespace__(self, api_version=None):
        return np


def test_an_array_api_array_numpy_cannot_read_is_named():
    with pytest.raises(EinsumgradError, match=r"array 'x' is a test_array_types array \(_NoDLPack\).*DLPack"):
        eg.evaluate(W @ x, W=Wn, x=_NoDLPack())
    with pytest.raises(EinsumgradError, match=r"array 'B' is a test_array_types array \(_NoDLPack\)"):
        SPEC(Wn, _NoDLPack())


def test_a_jax_array_where_numpy_computes_gets_advice_true_for_the_call():
    jnp = pytest.importorskip("jax.numpy")
    a = jnp.asarray(Wn)
    with pytest.raises(EinsumgradError, match=r"array 'W' is a jax array; eg.evaluate computes with NumPy") as err:
        eg.evaluate(W @ x, W=a, x=xn)
    assert "eg.compile(expr, backend='jax')" in str(err.value)
    for call in (lambda: SPEC(a, xn), lambda: SPEC.vjp(np.ones(2), a, xn)):
        with pytest.raises(EinsumgradError, match=r"operand 'A' is a jax array; eg.jacobian of an einsum string") as err:
            call()
        assert "pass backend" not in str(err.value)  # a Jacobian of a spec takes no backend
    with pytest.raises(EinsumgradError, match=r"operand 'dA' is a jax array"):
        SPEC.jvp(jnp.ones((2, 3)), Wn, xn)
    with pytest.raises(EinsumgradError, match=r"pass backend='jax' to eg.compile"):  # eg.compile takes one
        eg.compile(W @ x)(W=a, x=xn)
    assert eg.evaluate(W @ x, W=Wn, x=xn, unused=a).shape == (2,)  # an array not read is not looked at


def test_torch_tensors_in_check_are_read_for_their_values():
    torch = pytest.importorskip("torch")
    t = torch.tensor(Wn, requires_grad=True)
    report = eg.check(eg.sum(eg.tanh(W @ x)), W, W=t, x=torch.tensor(xn))
    assert report.passed and report.dtype == "float64"


def test_lists_are_arrays_and_other_objects_are_refused_by_name():
    np.testing.assert_allclose(eg.evaluate(W @ x, W=Wn.tolist(), x=list(xn)), Wn @ xn)
    np.testing.assert_allclose(SPEC(Wn.tolist(), list(xn)), SPEC(Wn, xn))
    assert eg.check(eg.tanh(x), x, x=[0.5, 1.0]).passed
    for value, kind in ((object(), "object"), (None, "NoneType"), ({"a": 1}, "dict")):
        with pytest.raises(EinsumgradError, match=rf"array 'x' has type {kind}: it is no array of numbers"):
            eg.evaluate(W @ x, W=Wn, x=value)
        with pytest.raises(EinsumgradError, match=rf"array 'B' has type {kind}"):
            SPEC(Wn, value)
    with pytest.raises(EinsumgradError, match=r"array 'W' is not a rectangular array of numbers"):
        eg.evaluate(W @ x, W=[[1.0, 2.0], [3.0]], x=xn)
    with pytest.raises(EinsumgradError, match=r"check takes arrays of numbers; x=.* is not one"):
        eg.check(eg.tanh(x), x, x=["a", "b"])
