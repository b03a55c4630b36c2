"""Forward-mode derivatives of sums of broadcasts whose first or second operand NumPy stretches
(issue 20): a tangent's terms inlined into a reader that sums over an output axis keep its range
(``ir.keep_ranges``), against jax in x64 with NumPy's broadcasting."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import einsumgrad as eg

jax.config.update("jax_enable_x64", True)

RNG = np.random.default_rng(2020)
A, B = eg.tensor("A", 2), eg.tensor("B", 2)

CASES = [  # (expression, the same in jax, shapes of A and B, the tensor differentiated by)
    (B + A @ A, lambda a, b: b + a @ a, ((1, 1), (1, 3)), "A"),  # the first operand stretched
    (B + A @ A, lambda a, b: b + a @ a, ((1, 1), (3, 2)), "A"),
    (A @ A + B, lambda a, b: a @ a + b, ((1, 1), (2, 3)), "A"),  # the second operand stretched
    (A * B + B * B, lambda a, b: a * b + b * b, ((3, 4), (1, 4)), "B"),
    (A * A + B, lambda a, b: a * a + b, ((1, 4), (3, 1)), "A"),  # each stretches the other
]


@pytest.mark.slow
@pytest.mark.parametrize("case", range(len(CASES)))
def test_forward_jacobian_and_hessian_of_the_sum(case):
    f, g, shapes, wrt = CASES[case]
    arrays = dict(zip("AB", (RNG.standard_normal(s) for s in shapes)))
    k = "AB".index(wrt)
    x = (A, B)[k]
    jac = eg.evaluate(eg.jacobian(eg.sum(f), x), **arrays)
    np.testing.assert_allclose(jac, jax.jacobian(lambda *xs: jnp.sum(g(*xs)), argnums=k)(arrays["A"], arrays["B"]))
    hess = eg.evaluate(eg.hessian(eg.sum(eg.tanh(f)), x), **arrays)
    oracle = jax.hessian(lambda *xs: jnp.sum(jnp.tanh(g(*xs))), argnums=k)(arrays["A"], arrays["B"])
    np.testing.assert_allclose(hess, oracle, atol=1e-12)
