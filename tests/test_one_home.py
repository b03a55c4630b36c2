"""One home per function (issue 19, item 1): a function is one entry of the registry, and every door reads it.

Three throwaway entries are registered here, each in one place (``functions.register``) and nowhere else: an
elementwise function ``qube(x) = x³ - x``, a reduction along axes ``sumsq(X, axis=…)`` (the sum of squares, a
call node with a formula over the array namespace and its forward rule), and a built-in shape operation
``twice(X, axis=0)`` (``X`` concatenated with itself, a composition with no node of its own). Each then works
through every door without another file knowing it: ``eg.<name>``, the expression language, rank inference,
``eg.evaluate`` and ``eg.grad``, ``eg.compile`` on NumPy, jax and torch, the generated NumPy, JAX and torch source
run standalone, the command line and the page. Values and gradients are checked against closed forms.

Then the structural check behind "the language, rank inference and codegen read the registry": their sources
hold no function names of their own; and loading is explicit: ``einsumgrad.core.functions`` fills the registry
from the library when first asked, with nothing else imported.
"""
from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.core import algebra, functions
from einsumgrad.core.functions import Builtin, Function
from einsumgrad.core.ir import fresh
from einsumgrad.doors import ranks
from einsumgrad.doors.cli import main
from einsumgrad.doors.language import read_expression
from einsumgrad.doors.web.answer import respond
from einsumgrad.library import entries, shapes
from einsumgrad.library.rules import elementwise

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
jax.config.update("jax_enable_x64", True)

PACKAGE = pathlib.Path(__file__).parents[1] / "einsumgrad"
SHAPE = (3, 4)


def _sumsq_jvp(x, y, dx, axes):
    """``d Σ_axes x² = Σ_axes 2 x ⊙ dx`` (``dx``'s extra axes after ``x``'s own)."""
    idx = fresh(dx.ndim, ())
    out = tuple(a for k, a in enumerate(idx[:x.ndim]) if k not in axes) + idx[x.ndim:]
    dims = dict(zip(idx, dx.dims))
    return algebra.product([(algebra.scale(x, 2), idx[:x.ndim]), (dx, idx)], out, tuple(dims[a] for a in out), dims)


def _sumsq_build(x, axis=None):
    """``sumsq(x, axis=None)``: the sum of squares along the axes."""
    x = algebra.as_expr(x)
    return algebra.apply("sumsq", x, algebra.axes(x.ndim, axis))


# the three entries, each written once; nothing else in the package names them
QUBE = elementwise("qube", lambda xp, x: x * x * x - x, lambda x, y: 3 * x**2 - 1)
SUMSQ = Function("sumsq", formula=lambda xp, a, axes: xp.sum(a * a, axis=axes), jvp=_sumsq_jvp, build=_sumsq_build,
                 result_shape=lambda dims, axes: tuple(d for k, d in enumerate(dims) if k not in axes),
                 holomorphic=False)
TWICE = Builtin("twice", lambda x, axis=0: shapes.concatenate([x, x], axis), "one expression")

# name -> (the language's loss over X (3x4) and C, its value and gradient by X in NumPy, C's shape)
CASES = {
    "qube": ("sum(C * qube(X))", lambda X, C: np.sum(C * (X**3 - X)), lambda X, C: C * (3 * X**2 - 1), SHAPE),
    "sumsq": ("sum(C * sumsq(X, axis=1))", lambda X, C: np.sum(C * np.sum(X**2, axis=1)),
              lambda X, C: 2 * C[:, None] * X, (3,)),
    "twice": ("sum(C * twice(X, axis=1))", lambda X, C: np.sum(C * np.concatenate([X, X], axis=1)),
              lambda X, C: C[:, :4] + C[:, 4:], (3, 8)),
}


@pytest.fixture
def registered(monkeypatch):
    """The three entries in the registry, for one test; the process-wide tables and caches as they were after."""
    monkeypatch.setattr(functions, "REGISTRY", dict(functions.REGISTRY))
    monkeypatch.setattr(functions, "BUILTINS", dict(functions.BUILTINS))
    for entry in (QUBE, SUMSQ, TWICE):
        functions.register(entry)
    eg.clear_caches()
    yield
    eg.clear_caches()


def _arrays(name: str) -> dict:
    rng = np.random.default_rng(sorted(CASES).index(name))
    return {"X": rng.uniform(-1.5, 1.5, SHAPE), "C": rng.uniform(-1.0, 1.0, CASES[name][3])}


def _loss(name: str):
    """``(L, X)`` read by the language."""
    text, _, _, c_shape = CASES[name]
    L = read_expression(text, {"X": SHAPE, "C": c_shape}).expression
    return L, eg.tensor("X", SHAPE)


def _expected(name: str, arrays: dict):
    _, value, grad, _ = CASES[name]
    return value(arrays["X"], arrays["C"]), grad(arrays["X"], arrays["C"])


def _run(source: str):
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - our own generated source
    return namespace["f"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_eg_name_and_the_language_build_the_same_expression(registered, name):
    X, C = eg.tensor("X", SHAPE), eg.tensor("C", CASES[name][3])
    by_python = {"qube": lambda: eg.sum(C * eg.qube(X)), "sumsq": lambda: eg.sum(C * eg.sumsq(X, axis=1)),
                 "twice": lambda: eg.sum(C * eg.twice(X, axis=1))}[name]()
    L, _ = _loss(name)
    assert str(L) == str(by_python)
    assert name in dir(eg)


@pytest.mark.parametrize("name", sorted(CASES))
def test_evaluate_and_grad(registered, name):
    L, X = _loss(name)
    arrays = _arrays(name)
    value, grad = _expected(name, arrays)
    np.testing.assert_allclose(eg.evaluate(L, **arrays), value, rtol=1e-12)
    np.testing.assert_allclose(eg.evaluate(eg.grad(L, X), **arrays), grad, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(eg.evaluate(eg.jacobian(L, X), **arrays), grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_on_every_backend(registered, name, backend):
    L, X = _loss(name)
    arrays = _arrays(name)
    value, grad = _expected(name, arrays)
    given = {n: torch.tensor(a) if backend == "torch" else jax.numpy.asarray(a) if backend == "jax" else a
             for n, a in arrays.items()}
    got_value, got_grad = eg.compile(L, eg.grad(L, X), backend=backend)(**given)
    np.testing.assert_allclose(np.asarray(got_value), value, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(got_grad), grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_source_runs_standalone(registered, name, backend):
    L, X = _loss(name)
    arrays = _arrays(name)
    value, grad = _expected(name, arrays)
    source = eg.codegen(L, eg.grad(L, X), backend=backend, name="f")
    assert "einsumgrad" not in source.split('"""')[-1]  # the function imports only its backend
    f = _run(source)
    given = {n: torch.tensor(a) if backend == "torch" else a for n, a in arrays.items()}
    got_value, got_grad = f(**given)
    np.testing.assert_allclose(np.asarray(got_value), value, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(got_grad), grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rank_inference_reads_the_entry(registered, name):
    """``Y * f(X…)``: Y takes the rank of the call, read off the entry (not guessed from Y's case)."""
    call = {"qube": "qube(x)", "sumsq": "sumsq(X, axis=1)", "twice": "twice(x)"}[name]
    got, guessed = ranks.infer(ast.parse(f"sum(Y * {call})", mode="eval"), {})
    assert got["Y"] == 1 and "Y" not in guessed, (got, guessed)
    reading = read_expression(f"sum(Y * {call})")
    assert "Y" not in dict(reading.guessed) and reading.expression.ndim == 0


def test_the_language_reads_the_signature_from_the_entry(registered):
    with pytest.raises(eg.ExpressionSyntaxError, match="unknown keyword 'keepdims' here"):
        read_expression("sumsq(X, keepdims=1)")
    with pytest.raises(eg.ExpressionSyntaxError, match=r"twice takes one expression, got 2"):
        read_expression("twice(X, X)")
    with pytest.raises(eg.ExpressionSyntaxError, match=r"qube takes one expression, got 2"):
        read_expression("qube(x, x)")
    with pytest.raises(eg.ExpressionSyntaxError, match="unknown function 'qube'"):
        functions.REGISTRY.pop("qube")
        read_expression("qube(x)")


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_command_line_and_the_page(registered, name, capsys):
    text, _, _, c_shape = CASES[name]
    shapes_ = f"X={SHAPE[0]}x{SHAPE[1]},C={'x'.join(map(str, c_shape))}"
    assert main(["grad", text, "--wrt", "X", "--shapes", shapes_]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out, out
    reply = respond({"expression": text, "wrt": "X", "shapes": shapes_})
    assert reply["ok"], reply
    assert reply["text"] == out.splitlines()[0]
    assert "eg-pass" in reply["check"], reply["check"]


def test_after_the_test_the_entries_are_gone():
    assert not {"qube", "sumsq", "twice"} & (set(functions.REGISTRY) | set(functions.calls()))
    with pytest.raises(AttributeError):
        eg.qube  # noqa: B018


# -- the doors hold no lists of their own -----------------------------------------------------------------------

READERS = ["doors/language.py", "doors/ranks.py", "compiler/codegen.py"]
# string literals that equal a registered name but are no function's: (file, literal) -> why
NOT_FUNCTIONS = {("compiler/codegen.py", "einsum"): "plan.kind == 'einsum': a kind of planned step, not the call"}


def _named(path: str) -> list[tuple[int, str]]:
    """``(line, literal)`` for every string literal in the file equal to a registered name (docstrings aside)."""
    tree = ast.parse((PACKAGE / path).read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    names = {e.name for e in entries()}  # the library's (the process may hold functions of your own: h, f)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
            and id(node) not in docstrings and (path, node.value) not in NOT_FUNCTIONS]


@pytest.mark.parametrize("path", READERS)
def test_the_readers_name_no_function(path):
    """No tuple, set, dict or comparison of function names (``("sum", "trace")``, ``name == "eye"``): each reads
    the registry."""
    assert _named(path) == []


def test_the_structural_check_can_fail(tmp_path, monkeypatch):
    """The check sees a hard-coded list (and the old language's table)."""
    (tmp_path / "doors").mkdir()
    (tmp_path / "doors" / "bad.py").write_text('BUILTINS = ("einsum", "sum", "trace")\nif name in ("inv", "det"):\n'
                                               '    pass\n')
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert [value for _, value in _named("doors/bad.py")] == ["einsum", "sum", "trace", "inv", "det"]


# -- explicit loading -------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_registry_loads_itself_without_the_package(tmp_path):
    """With ``einsumgrad/__init__.py`` not run (a bare package stands in), ``core.functions`` alone gives every
    built-in entry when first asked: loading is the registry's, not a side effect of importing einsumgrad."""
    script = textwrap.dedent(f"""
        import sys, types
        package = types.ModuleType("einsumgrad")
        package.__path__ = [{str(PACKAGE)!r}]
        sys.modules["einsumgrad"] = package
        from einsumgrad.core import functions
        before = sorted(m for m in sys.modules if m.startswith("einsumgrad.library."))
        print(before)
        print(sorted(functions.BUILTINS))
        print(len(functions.REGISTRY), "tanh" in functions.public(), "softmax" in functions.calls())
        print(sorted(m for m in sys.modules if m.startswith("einsumgrad.library.")))
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    before, builtins, counts, after = r.stdout.splitlines()
    assert before == "[]"  # nothing of the library was imported before the registry was read
    assert builtins == str(sorted(["concatenate", "einsum", "expand_dims", "eye", "kron", "reshape", "stack", "sum",
                                   "trace"]))
    library = [e for e in entries() if isinstance(e, functions.Function)]  # the process's own may hold more: h, h′
    assert counts == f"{len(library)} True True"
    assert {"einsumgrad.library.rules", "einsumgrad.library.shapes"} <= set(ast.literal_eval(after))


def test_importing_a_library_module_registers_nothing():
    """Each library module lists its entries; none calls register (the registry reads the lists)."""
    for path in sorted((PACKAGE / "library").glob("*.py")):
        calls = [node for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "register"]
        module_level = [c for c in calls if path.name != "generic.py"]  # generic registers your functions when declared
        assert not module_level, f"{path.name} calls register"
    from einsumgrad import library
    from einsumgrad.library import generic

    listed = {entry.name for entry in library.entries()}
    assert listed == (set(functions.REGISTRY) - generic.DECLARED) | set(functions.BUILTINS)
