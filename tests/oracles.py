"""Independent oracles the tests compare against (NumPy only, no einsumgrad code), and the check of
an einsum Jacobian against them."""
from __future__ import annotations

import itertools

import numpy as np


def exact_jacobian(spec: str, operands, wrt: int) -> np.ndarray:
    """∂einsum/∂operands[wrt] by linearity: feed every basis tensor through np.einsum.

    Shape ``out.shape + operands[wrt].shape`` (the shape layout, as jax.jacobian).
    """
    x = np.asarray(operands[wrt])
    out = np.einsum(spec, *operands)
    jac = np.zeros(np.shape(out) + x.shape, dtype=np.result_type(out, float))
    for idx in itertools.product(*map(range, x.shape)):
        basis = np.zeros(x.shape)
        basis[idx] = 1.0
        ops = list(operands)
        ops[wrt] = basis
        jac[(Ellipsis,) + idx] = np.einsum(spec, *ops)
    return jac


def contract_front(jac: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Σ_I g[I] J[I, P] — the vjp by the dense Jacobian."""
    return np.tensordot(g, jac, axes=g.ndim)


def contract_back(jac: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Σ_P J[I, P] t[P] — the jvp by the dense Jacobian."""
    return np.tensordot(jac, t, axes=t.ndim)


def central_difference(f, x: np.ndarray, direction: np.ndarray, eps: float = 1e-6):
    return (np.asarray(f(x + eps * direction)) - np.asarray(f(x - eps * direction))) / (2 * eps)


def assert_directional(gradient: np.ndarray, f, x: np.ndarray, rng) -> None:
    """``⟨gradient, d⟩`` equals the central difference of the scalar ``f`` at ``x`` along a random ``d``."""
    d = rng.standard_normal(x.shape)
    assert np.isclose(np.vdot(gradient, d), central_difference(f, x, d, 1e-6), rtol=1e-6, atol=1e-8)


def second_difference(f, x: np.ndarray, direction: np.ndarray, eps: float = 1e-4):
    """dᵀ (∂²f/∂x²) d by the central second difference of a scalar f."""
    return (f(x + eps * direction) - 2 * f(x) + f(x - eps * direction)) / eps**2


def assert_matches_linearity(J, spec: str, operands, wrt: int) -> None:
    """``J`` (an einsum Jacobian: dense, vjp and jvp) against :func:`exact_jacobian` of ``spec``."""
    exact = exact_jacobian(spec, operands, wrt)
    dense = J(*operands)
    assert dense.shape == exact.shape
    np.testing.assert_allclose(dense, exact, atol=1e-12)
    rng = np.random.default_rng(0)
    g = rng.standard_normal(exact.shape[: exact.ndim - np.ndim(operands[wrt])])
    t = rng.standard_normal(np.shape(operands[wrt]))
    np.testing.assert_allclose(J.vjp(g, *operands), contract_front(exact, g), atol=1e-12)
    np.testing.assert_allclose(J.jvp(t, *operands), contract_back(exact, t), atol=1e-12)
