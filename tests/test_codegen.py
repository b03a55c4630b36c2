"""Generated source: golden files for the classic cases, and every closed-form case of the suite run
from its NumPy, JAX (under jit) and PyTorch source against eg.evaluate."""
import numpy as np
import pytest

import einsumgrad as eg
from closed_forms import CASES, arrays_for


def run(source: str, name: str = "f"):
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - our own generated source
    return namespace[name]


def expected(exprs, arrays):
    result = eg.compile(*exprs)(**arrays)
    return result if isinstance(result, tuple) else (result,)


def as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("case", [build for _, build in CASES], ids=[name for name, _ in CASES])
def test_numpy_source_matches_evaluate(case, rng):
    exprs, arrays = case(rng)
    arrays = arrays_for(exprs, arrays)
    got = as_tuple(run(eg.codegen(*exprs))(**arrays))
    for g, e in zip(got, expected(exprs, arrays), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", [build for _, build in CASES], ids=[name for name, _ in CASES])
def test_jax_source_under_jit_matches_evaluate(case, rng):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    exprs, arrays = case(rng)
    arrays = arrays_for(exprs, arrays)
    f = jax.jit(run(eg.codegen(*exprs, backend="jax")))
    got = as_tuple(f(**{n: jax.numpy.asarray(a) for n, a in arrays.items()}))
    for g, e in zip(got, expected(exprs, arrays), strict=True):
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", [build for _, build in CASES], ids=[name for name, _ in CASES])
def test_torch_source_matches_evaluate(case, rng):
    torch = pytest.importorskip("torch")
    exprs, arrays = case(rng)
    arrays = arrays_for(exprs, arrays)
    got = as_tuple(run(eg.codegen(*exprs, backend="torch"))(**{n: torch.from_numpy(a) for n, a in arrays.items()}))
    for g, e in zip(got, expected(exprs, arrays), strict=True):
        assert isinstance(g, torch.Tensor)
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-10, atol=1e-12)
