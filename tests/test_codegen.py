"""Generated source: golden files for the classic cases, and every closed-form case of the suite run
from its NumPy, JAX (under jit) and PyTorch source against eg.evaluate."""
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import einsumgrad as eg
from closed_forms import CASES, arrays_for
from einsumgrad.compiler.codegen import _lowered
from einsumgrad.doors.cli import main
from profiles import examples


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


@pytest.mark.slow
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


GOLDEN = Path(__file__).parent / "golden"


def _wx():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    return W, x, eg.sum(eg.tanh(W @ x))


@pytest.mark.parametrize("file,make", [
    ("jacobian_wx.py.golden", lambda: eg.codegen(eg.jacobian("ij,j->i", wrt=0, names="W,x"))),
    ("grad_tanh_wx.py.golden", lambda: eg.codegen(_wx()[2], eg.grad(_wx()[2], _wx()[0]), name="value_and_grad")),
    ("logistic_hessian.py.golden", lambda: eg.codegen(eg.hessian(eg.sum(eg.softplus(eg.tensor("X", 2) @ eg.tensor("w", 1))),
                                                          eg.tensor("w", 1)), name="hessian")),
    ("logistic_hessian_torch.py.golden", lambda: eg.codegen(eg.hessian(eg.sum(eg.softplus(eg.tensor("X", 2) @ eg.tensor("w", 1))),
                                                                eg.tensor("w", 1)), name="hessian", backend="torch")),
])
def test_golden_source(file, make):
    assert make() + "\n" == (GOLDEN / file).read_text(encoding="utf-8")


def test_source_imports_only_its_backend():
    W, x, L = _wx()
    for backend, module in (("numpy", "numpy"), ("jax", "jax"), ("torch", "torch")):
        source = eg.codegen(L, eg.grad(L, W), backend=backend)
        imports = [line for line in source.splitlines() if line.startswith(("import", "from"))]
        assert len(imports) == 1 and module in imports[0] and "einsumgrad" not in imports[0]


def test_jacobian_is_a_diagonal_write_for_any_sizes(rng):
    f = run(eg.codegen(eg.jacobian("ij,j->i", wrt=0, names="W,x")))
    W, x = rng.standard_normal((5, 2)), rng.standard_normal(2)
    np.testing.assert_array_equal(f(W=W, x=x), np.einsum("ij,k->ijk", np.eye(5), x))


def test_planned_shapes_are_stated(rng):
    W, x, L = _wx()
    source = eg.codegen(W @ x, shapes={"W": (3, 4), "x": (4,)})
    assert "plan for the shapes it was generated for" in source
    np.testing.assert_allclose(run(source)(W=np.ones((3, 4)), x=np.ones(4)), np.full(3, 4.0))


@pytest.mark.parametrize("kwargs,match", [
    (dict(backend="cupy"), "codegen writes numpy, jax, torch; got backend='cupy'"),
    (dict(name="def"), "codegen needs a Python identifier as the function name, got 'def'"),
    (dict(shapes={"W": (2, 2)}), "codegen shapes= needs exactly W, x; missing 'x'"),
])
def test_codegen_errors(kwargs, match):
    W, x, _ = _wx()
    with pytest.raises(eg.EinsumgradError, match=re.escape(match)):
        eg.codegen(W @ x, **kwargs)


def test_codegen_refuses_what_is_not_an_expression():
    with pytest.raises(eg.EinsumgradError, match="codegen takes expressions"):
        eg.codegen("ij,j->i")


def test_cli_prints_and_writes_code(tmp_path, capsys):
    assert main(["jacobian", "ij,j->i", "--names", "W,x", "--code", "numpy"]) == 0
    assert capsys.readouterr().out == (GOLDEN / "jacobian_wx.py.golden").read_text(encoding="utf-8")
    target = tmp_path / "grad.py"
    assert main(["grad", "sum(tanh(W @ x))", "--wrt", "W", "--code", "jax", "-o", str(target)]) == 0
    assert "import jax.numpy as jnp" in target.read_text(encoding="utf-8")
    capsys.readouterr()  # the notes on ranks guessed from names
    assert main(["hessian", "sum(softplus(X @ w))", "--wrt", "w", "--code", "torch", "-o", str(target)]) == 2
    assert capsys.readouterr().err == f"einsumgrad: error: -o {target}: the file exists; pass --force to overwrite it\n"
    assert main(["hessian", "sum(softplus(X @ w))", "--wrt", "w", "--code", "torch", "-o", str(target), "--force"]) == 0
    assert "torch.exp" in target.read_text(encoding="utf-8")
    assert main(["grad", "sum(W)", "--wrt", "W", "-o", str(target)]) == 2
    assert "use it with --code" in capsys.readouterr().err


def test_cli_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out == f"einsumgrad {eg.__version__}\n"


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_an_intermediate_is_computed_once_in_generated_code(backend, rng):
    """The Hessian of a 4-layer network w.r.t. b0 has terms whose contractions share their first
    steps (W1 scaled by σ′, its product with W2, ...): each is one line of the source, read again
    by name; the source is still the compiled function's value."""
    pytest.importorskip({"numpy": "numpy", "jax": "jax", "torch": "torch"}[backend])
    width, depth = 6, 4
    h = eg.tensor("x", (width,))
    bs = [eg.tensor(f"b{k}", (width,)) for k in range(depth)]
    for k in range(depth):
        h = eg.tanh(eg.tensor(f"W{k}", (width, width)) @ h + bs[k])
    H = eg.hessian(0.5 * eg.sum((eg.tensor("y", (width,)) - h) ** 2), bs[0])
    arrays = {f"W{k}": rng.standard_normal((width, width)) / 2 for k in range(depth)}
    arrays |= {f"b{k}": rng.standard_normal(width) for k in range(depth)} | {"x": rng.standard_normal(width),
                                                                            "y": rng.standard_normal(width)}
    source = eg.codegen(H, backend=backend, shapes={n: a.shape for n, a in arrays.items()})
    right = [line.split(" = ", 1)[1] for line in source.splitlines() if re.match(r"\s+t\d+ = ", line)]
    assert len(right) > 10 and len(set(right)) == len(right), "an intermediate is computed twice"
    if backend == "numpy":
        np.testing.assert_allclose(run(source)(**arrays), eg.compile(H)(**arrays), rtol=1e-10, atol=1e-12)


@st.composite
def einsums(draw):
    """A random einsum without repeated indices in an operand: 1–4 operands over a, b, c, d."""
    letters = "abcd"
    operands = [draw(st.lists(st.sampled_from(letters), unique=True, max_size=3).map("".join))
                for _ in range(draw(st.integers(1, 4)))]
    present = sorted(set("".join(operands)))
    result = "".join(draw(st.permutations(present))[:draw(st.integers(0, len(present)))])
    sizes = {c: draw(st.integers(1, 3)) for c in letters}
    return f"{','.join(operands)}->{result}", [tuple(sizes[c] for c in ops) for ops in operands]


@settings(max_examples=examples(300), deadline=None)
@given(einsums(), st.integers(0, 2 ** 32 - 1))
def test_an_einsum_lowered_to_sums_products_and_matmuls_equals_it(case, seed):
    equation, shapes = case
    names = [f"o{k}" for k in range(len(shapes))]
    text = _lowered(equation, names)
    assume(text is not None)
    rng = np.random.default_rng(seed)
    arrays = {n: rng.standard_normal(s) for n, s in zip(names, shapes)}
    assert "einsum" not in text
    got = run(f"import numpy as np\ndef f({', '.join(names)}):\n    return {text}")(**arrays)
    np.testing.assert_allclose(got, np.einsum(equation, *arrays.values()), rtol=1e-12, atol=1e-12)


def test_most_small_einsums_lower():
    lowered = ["ab,b->a", "ab,a,a->b", "b,ab->ba", "a,ba->ab", "ab,a,ac->bc", "a,ab->ab", "ab,ab->", "abc->ab", "a,a->"]
    assert all(_lowered(eq, [f"o{k}" for k in range(eq.count(",") + 1)]) for eq in lowered)
    assert _lowered("aa->a", ["o0"]) is None and _lowered("abc->cba", ["o0"]) is None


def test_a_reshape_to_fixed_sizes_is_planned_at_the_given_shapes(rng):
    x = eg.tensor("x", 2)
    g = eg.grad(eg.sum(eg.tanh(eg.reshape(x, (6,))) * eg.tensor("c", (6,))), x)
    a = {"x": rng.standard_normal((2, 3)), "c": rng.standard_normal(6)}
    f = run(eg.codegen(g, shapes={n: v.shape for n, v in a.items()}))  # scaled up, (2000, 3) would not reshape
    np.testing.assert_allclose(f(**a), (1 - np.tanh(a["x"]) ** 2) * a["c"].reshape(2, 3), rtol=1e-12)
    with pytest.raises(eg.EinsumgradError, match=r"codegen plans each symbolic axis at 1000 without shapes=.*reshape"):
        eg.codegen(g)
