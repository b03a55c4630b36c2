"""Every built-in function at extreme values (±1e17, ±inf, ±40, ±800, nan; float64 and float32) against jax:
values, gradients and second derivatives, parametrized over the registry so that a new function is covered (or
fails, asking for its jax reference).

Where the subgradient conventions legitimately differ from jax's they are listed in ``CONVENTIONS`` (elementwise)
and checked as einsumgrad's own: ``relu'(0) = step(0) = 1/2`` (jax: 0), ``abs'(0) = sign(0) = 0`` (jax: 1),
``step'`` is 0 everywhere, nan too (jax: 1 at nan), the gradient of ``maximum``/``minimum`` at nan is nan (jax:
0 or 1), ``arcsin'``/``arccos'`` at ±inf are ``(1 - x²)^-½ = 0``
where the value is nan (jax: nan); along axes, a row of -inf is the limit of a row of equal entries, so its
``softmax`` is uniform and so is the gradient of its ``logsumexp`` (jax: nan), and a row with +inf shares its
softmax among the +inf entries (jax: nan).
"""
import warnings

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.core.functions import REGISTRY, public
from einsumgrad.core.xp import _MathSpecial

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp, jsp = jax.numpy, pytest.importorskip("jax.scipy.special")

EXTREME = np.array([-np.inf, -1e17, -800, -40, -1, -0.5, 0, 0.5, 1, 40, 800, 1e17, np.inf, np.nan])
JAX = {"sigmoid": jax.nn.sigmoid, "softplus": jax.nn.softplus, "relu": jax.nn.relu, "erf": jsp.erf,
       "step": lambda x: jnp.heaviside(x, 0.5), "logsumexp": jsp.logsumexp, "softmax": jax.nn.softmax,
       "log_softmax": jax.nn.log_softmax, "norm": jnp.linalg.norm, "stochastic": lambda x, axis: x}
BINARY = ("maximum", "minimum")
# where einsumgrad's derivative is not jax's, by design: (name, order) -> x -> (where, einsumgrad's values there)
CONVENTIONS = {
    ("relu", 1): lambda x: _at(x, np.isnan(x) | (x == 0), np.where(x == 0, 0.5, np.nan)),  # step(0) = 1/2; jax 0
    ("abs", 1): lambda x: _at(x, np.isnan(x) | (x == 0), np.where(x == 0, 0.0, np.nan)),  # sign(0) = 0; jax 1
    ("step", 1): lambda x: _at(x, np.isnan(x), np.zeros_like(x)),  # step' = 0, at nan too (jax: 1)
    ("arcsin", 1): lambda x: _at(x, np.isinf(x), np.zeros_like(x)),  # (1 - x²)^-½ = 0 at ±inf, outside the domain
    ("arccos", 1): lambda x: _at(x, np.isinf(x), np.zeros_like(x)),
}


def _at(x, where, values):
    return where, values[where]


ELEMENTWISE = [n for n in public() if REGISTRY[n].kind == "elementwise" and n not in BINARY]
ALONG = [n for n in public() if REGISTRY[n].kind == "along axes"]
x, y, X = eg.tensor("x", 1), eg.tensor("y", 1), eg.tensor("X", 2)


def reference(name: str):
    found = JAX.get(name) or getattr(jnp, name, None)
    assert found is not None, f"add the jax reference of {name!r} to JAX in this file"
    return found


def assert_like(ours, want, rtol):
    """Equal up to ``rtol``, with infinities (and their signs) and nans where the reference has them."""
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(want, dtype=float), rtol=rtol, atol=0,
                               equal_nan=True)


def jax_derivative(f, order: int):
    for _ in range(order):
        f = jax.grad(f)
    return jax.vmap(f)


@pytest.mark.slow
@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_elementwise_functions_at_extreme_values_match_jax(name, dtype):
    f, ref = getattr(eg, name), reference(name)
    a = EXTREME.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log(-1) and the like, in both
        results = [eg.evaluate(f(x), x=a), eg.evaluate(eg.grad(eg.sum(f(x)), x), x=a),
                   np.diag(eg.evaluate(eg.hessian(eg.sum(f(x)), x), x=a))]
        wanted = [np.asarray(ref(jnp.asarray(a, dtype=np.float64)))] + [
            np.asarray(jax_derivative(ref, order)(jnp.asarray(a, dtype=np.float64))) for order in (1, 2)]
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    for order, (ours, want) in enumerate(zip(results, wanted)):
        assert ours.dtype == dtype, (order, ours.dtype)
        if (name, order) in CONVENTIONS:
            where, theirs = CONVENTIONS[name, order](EXTREME)
            assert_like(ours[where], theirs, rtol)
            ours, want = ours[~where], want[~where]
        if dtype == np.float32:  # the reference rounded to float32, as einsumgrad's result is
            want = want.astype(np.float32)
        assert_like(ours, want, rtol)


PAIRS = np.array([(1, -1e17), (-1e17, 1), (np.inf, 1), (1, np.inf), (-np.inf, 1), (1, -np.inf), (np.inf, np.inf),
                  (-np.inf, -np.inf), (np.inf, -np.inf), (2, 2), (0, -0.0), (-40, -800), (3e38, -3e38),
                  (np.nan, 1), (1e-300, -1e-300)]).T


@pytest.mark.slow
@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_maximum_and_minimum_are_exact_at_extreme_values(name, dtype):
    """``b + relu(a - b)`` gave maximum(1, -1e17) = 0 and minimum(inf, 1) = nan; ties share the gradient."""
    f, ref = getattr(eg, name), getattr(jnp, name)
    a, b = PAIRS.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inf - (-inf) overflows in the steps' argument
        value = eg.evaluate(f(x, y), x=a, y=b)
        grads = [eg.evaluate(eg.grad(eg.sum(f(x, y)), v), x=a, y=b) for v in (x, y)]
        compiled = [eg.compile(f(x, y), backend=backend)(x=a, y=b) for backend in ("numpy", "jax")]
    np.testing.assert_array_equal(value, getattr(np, name)(a, b))  # exact, not close
    assert value.dtype == dtype
    for c in compiled:
        np.testing.assert_array_equal(np.asarray(c), value)
    unknown = np.isnan(a) | np.isnan(b)  # the gradient at nan is nan (jax's picks a side)
    for k, g in enumerate(grads):
        want = np.asarray(jax.vmap(jax.grad(ref, argnums=k))(jnp.asarray(a), jnp.asarray(b)))
        assert_like(g, np.where(unknown, np.nan, want), 0)


def test_maximum_of_mixed_dtypes_and_its_generated_code():
    a32, b64 = np.array([1.0, -np.inf], np.float32), np.array([-1e17, 2.0])
    np.testing.assert_array_equal(eg.evaluate(eg.maximum(x, y), x=a32, y=b64), np.maximum(a32, b64))
    namespace = {}
    exec(eg.codegen(eg.minimum(x, y)), namespace)
    np.testing.assert_array_equal(namespace["f"](np.array([np.inf, 1.0]), np.array([1.0, -1e17])), [1, -1e17])
    assert str(eg.maximum(x, y)) == "f[i] = (step(x[i] - y[i]) x[i] + step(-x[i] + y[i]) y[i])"
    assert str(eg.maximum(x, 0)) == "y[i] = relu(x[i])" and str(eg.minimum(0, x)) == "y[i] = -relu(-x[i])"


def test_sigmoid_keeps_its_digits_and_log_sigmoid_is_minus_softplus():
    a = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    np.testing.assert_allclose(eg.evaluate(eg.sigmoid(x), x=a), jax.nn.sigmoid(a), rtol=1e-15, atol=0)
    assert eg.evaluate(eg.sigmoid(x), x=a)[1] == pytest.approx(4.248354255291589e-18, rel=1e-15)
    loss = eg.sum(eg.log(eg.sigmoid(x)))  # built as -Σ softplus(-x): finite where sigmoid underflows
    assert str(loss) == "y = -Σ_i softplus(-x[i])"
    np.testing.assert_allclose(eg.evaluate(loss, x=a[:2]), -840.0)
    np.testing.assert_allclose(eg.evaluate(eg.grad(loss, x), x=a), jax.vmap(jax.grad(jax.nn.log_sigmoid))(a))
    z = np.array([1 + 2j, -30 + 1j])  # complex, where sigmoid is holomorphic
    np.testing.assert_allclose(eg.evaluate(eg.sigmoid(x), x=z), 1 / (1 + np.exp(-z)), rtol=1e-14)
    assert str(eg.log(eg.softmax(X, axis=0))) == "y[i,j] = log_softmax(X, axis=0)[i,j]"


ROWS = np.array([[-np.inf, -np.inf, -np.inf], [0, -np.inf, 1], [1e17, -1e17, 0], [-800, -800, -801],
                 [np.inf, 1, 2], [-40, 40, 0]])


def _masked(name: str, a):
    """The rows where einsumgrad's convention is not jax's nan: all -inf, or with +inf (see the module's doc)."""
    if name not in ("softmax", "log_softmax", "logsumexp"):
        return np.zeros(len(a), bool)
    return np.all(a == -np.inf, axis=1) | np.any(a == np.inf, axis=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", ALONG)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_functions_along_axes_at_extreme_values_match_jax(name, dtype):
    f, ref = getattr(eg, name), reference(name)
    a = ROWS.astype(dtype)
    if name == "stochastic":
        a = np.abs(np.nan_to_num(a, posinf=1, neginf=1, nan=1)) + 1
        a /= a.sum(1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = eg.evaluate(f(X, axis=1), X=a)
        weights = np.linspace(0.5, 2, value.size).reshape(value.shape)  # a gradient that is not constant
        w = eg.tensor("w", value.ndim)
        grad = eg.evaluate(eg.grad(eg.sum(f(X, axis=1) * w), X), X=a, w=weights)
        a64 = jnp.asarray(a, dtype=np.float64)
        want = np.asarray(ref(a64, axis=1))
        wanted_grad = np.asarray(jax.grad(lambda t: jnp.sum(ref(t, axis=1) * weights))(a64))
    rtol = 1e-12 if dtype == np.float64 else 1e-5  # softmax's gradient cancels in float32
    assert value.dtype == dtype  # (the gradient's dtype is issue 20's item 25, not checked here)
    keep = ~_masked(name, a)
    if name == "norm":  # at ±inf the gradient x/‖x‖ is inf/inf in both; jax's is nan where einsumgrad's is too
        keep &= np.all(np.isfinite(a), axis=1)
    cast = (lambda w: w.astype(np.float32)) if dtype == np.float32 else (lambda w: w)
    assert_like(value[keep], cast(want[keep]), rtol)
    assert_like(grad[keep], cast(wanted_grad[keep]), rtol)


def test_a_row_of_minus_infinity_masked_attention():
    """logsumexp of a row of -inf is -inf (was nan); its softmax, the gradient, is the uniform limit."""
    rows = np.array([[-np.inf, -np.inf], [0.0, -np.inf], [np.inf, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(eg.evaluate(eg.logsumexp(X, axis=1), X=rows), [-np.inf, 0, np.inf])
        np.testing.assert_array_equal(eg.evaluate(eg.softmax(X), X=rows), [[0.5, 0.5], [1, 0], [1, 0]])
        np.testing.assert_array_equal(eg.evaluate(eg.grad(eg.sum(eg.logsumexp(X, axis=1)), X), X=rows),
                                      [[0.5, 0.5], [1, 0], [1, 0]])
        np.testing.assert_allclose(eg.evaluate(eg.log_softmax(X), X=rows)[0], [-np.log(2)] * 2)
        np.testing.assert_allclose(eg.evaluate(eg.hessian(eg.logsumexp(x), x), x=rows[0]),
                                   [[0.25, -0.25], [-0.25, 0.25]])


@pytest.mark.slow
def test_norm_takes_axis_and_keepdims_as_numpy():
    """``eg.norm(X, axis=1)`` raised a raw TypeError; its Hessian reads 1/‖x‖ along the kept axes."""
    a = np.random.default_rng(0).standard_normal((3, 4))
    for axis, keepdims in ((1, False), (0, True), ((0, 1), False), (None, True)):
        np.testing.assert_allclose(eg.evaluate(eg.norm(X, axis=axis, keepdims=keepdims), X=a),
                                   np.linalg.norm(a, axis=axis, keepdims=keepdims), rtol=1e-14)
    assert str(eg.norm(X, axis=1)) == "y[i] = norm(X, axis=1)[i]" and str(eg.norm(X, axis=(0, 1))) == "y = ‖X‖"
    hessian = eg.evaluate(eg.hessian(eg.sum(eg.norm(X, axis=1)), X), X=a)
    np.testing.assert_allclose(hessian, jax.hessian(lambda t: jnp.linalg.norm(t, axis=1).sum())(a), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float16, np.longdouble, np.clongdouble])
def test_matrix_functions_take_the_dtypes_numpy_linalg_lacks(dtype):
    """float16 and longdouble raised NumPy's TypeError; they are computed in float32/float64 and come back as given."""
    A, m = eg.tensor("A", 2), np.array([[2.0, 1.0], [1.0, 3.0]])
    exprs = [eg.inv(A), eg.det(A), eg.adj(A), eg.hessian(eg.det(A), A)]
    if not np.issubdtype(dtype, np.complexfloating):  # logdet is not holomorphic
        exprs += [eg.logdet(A), eg.grad(eg.logdet(A), A)]
    for e in exprs:
        got = eg.evaluate(e, A=m.astype(dtype))
        assert got.dtype == dtype
        rtol = 1e-2 if dtype == np.float16 else 1e-14
        np.testing.assert_allclose(got.astype(complex), eg.evaluate(e, A=m), rtol=rtol)


@pytest.mark.slow
def test_the_hessian_of_det_at_a_singular_matrix():
    """det is a polynomial: its Hessian exists everywhere (it was refused where inv(A) does not exist)."""
    A = eg.tensor("A", 2)
    levi_civita = np.zeros((3, 3, 3))
    for p in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        levi_civita[p], levi_civita[p[::-1]] = 1, -1

    def det3(a):  # the polynomial itself, which jax differentiates anywhere
        return jnp.einsum("ijk,i,j,k->", levi_civita, a[0], a[1], a[2])

    regular = np.random.default_rng(1).standard_normal((3, 3))
    for m in (regular, np.outer([1.0, 2, 3], [1.0, -1, 2]), np.diag([1.0, 0, 0]), np.zeros((3, 3))):
        np.testing.assert_allclose(eg.evaluate(eg.hessian(eg.det(A), A), A=m), jax.hessian(det3)(m), atol=1e-12)
    with pytest.raises(eg.EinsumgradError, match="third derivative of det"):
        eg.jacobian(eg.hessian(eg.det(A), A), A)


def test_erf_of_complex_input(monkeypatch):
    """erf is entire: complex input is computed by SciPy's erf (jax's needs SciPy); without SciPy, a clear error."""
    pytest.importorskip("scipy")
    z = np.array([1 + 1j, -0.5 + 2j, 3 - 0.1j])
    got = eg.evaluate(eg.erf(x), x=z)
    np.testing.assert_allclose(got[0], 1.3161512816979477 + 0.19045346923783471j, rtol=1e-14)
    np.testing.assert_allclose(eg.evaluate(eg.grad(eg.sum(eg.erf(x)), x), x=z), 2 / np.sqrt(np.pi) * np.exp(-z**2))
    monkeypatch.setattr("einsumgrad.core.xp._special", lambda backend: _MathSpecial())  # as without SciPy
    with pytest.raises(eg.EinsumgradError, match=r"erf of complex input needs SciPy"):
        eg.evaluate(eg.erf(x), x=z)
