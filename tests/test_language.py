"""The expression language is parsed with a whitelist, never evaluated."""
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from profiles import examples

import einsumgrad as eg
from einsumgrad.doors.language import MAX_LENGTH, parse_expression


@pytest.mark.parametrize("text,expected", [
    ("sum(tanh(einsum('ij,j->i', W, x)))", "y = Σ_i tanh(Σ_j W[i,j] x[j])"),
    ("x @ A @ x", "y = Σ_i,j A[i,j] x[i] x[j]"),
    ("W.T @ x", "y[i] = Σ_j W[j,i] x[j]"),
    ("sum(A, axis=0)", "y[j] = Σ_i A[i,j]"),
    ("-x ** 2 + 2**3 * x", "y[i] = -x[i]² + 8 x[i]"),
    ("trace(inv(X))", "y = Σ_i inv(X)[i,i]"),
])
def test_parses_to_the_expected_expression(text, expected):
    assert str(parse_expression(text)) == expected


def test_ranks_come_from_specs_then_shapes_then_case():
    assert parse_expression("einsum('ijk->i', T)").terms[0].factors[0].node.shape == (("T", 0), ("T", 1), ("T", 2))
    assert parse_expression("sum(a)", {"a": (2, 3)}).terms[0].factors[0].node.shape == (2, 3)
    assert parse_expression("sum(A)").terms[0].factors[0].node.shape == (("A", 0), ("A", 1))
    value = eg.evaluate(parse_expression("sum(x * x)"), x=np.arange(3.0))
    assert value == 5.0


DEEP = {
    "1,000 nested parentheses": "(" * 1000 + "x" + ")" * 1000,
    "300 nested calls": "tanh(" * 300 + "x" + ")" * 300,
    "1,000 chained **": "x" + " ** 2" * 1000,
    "101 levels of nesting": "x + (" * 101 + "x" + ")" * 101,
}


@pytest.mark.parametrize("text,match", [
    ("x +", r"expected a name, a number or '\(', found the end"),
    ("x y", "unexpected character 'y'"),
    ("x;y", "unexpected character ';'"),
    ("(x", r"'\(' was never closed"),
    ("x\0", r"unexpected character '\\x00'"),
    ("foo(x)", "unknown function 'foo'"),
    ("__import__('os')", "unknown function '__import__'"),
    ("x.system('true')", "only the named functions can be called"),
    ("x.T(1)", "only the named functions can be called"),
    ("x.shape", "'x.shape' is not part of the expression language"),
    ("lambda: x", "'lambda: x' is not part of the expression language"),
    ("x[[0]]", "an index is a whole number, a slice"),
    ("x < y", "'x < y' is not part"),
    ("x % y", "'x % y' is not part"),
    ("~x", "'~x' is not part"),
    ("f'{x}'", "f'{x}'\" is not part"),
    ("tanh(*x)", r"'\*x' is not part"),
    ("x, y", "'x, y' is not part"),
    ("True * x", "'True' is not part"),
    ("1j * x", "'1j' is not part"),
    ("x ** y", r"exponent of \*\* must be a number"),
    ("W @ 2", "use \\* for a scalar"),
    ("2 @ 3", "use \\* for a scalar"),
    ("'ij'", "a quoted string can only be the spec of einsum"),
    ("tanh('x')", "a quoted string can only be the spec of einsum"),
    ("einsum(x, 'ij')", "einsum takes a quoted spec first"),
    ("einsum()", "einsum takes a quoted spec first"),
    ("einsum(r'ij->', A)", "one plain quoted string"),
    ("einsum('i' 'j->', A)", "one plain quoted string"),
    ("einsum('ij->ii', A)", "output index 'i' is repeated"),
    ("einsum('ij,j->i', W, x) + einsum('i->', W)", "W is used with rank 2 and 1"),
    ("tanh", r"tanh is a function: call it as tanh\(...\)"),
    ("tanh(x, x)", "tanh takes one expression, got 2"),
    ("sum(x, keepdims=1)", "unknown keyword 'keepdims'"),
    ("sum(x, **d)", r"unknown keyword '\*\*'"),
    ("sum(x, axis=0, axis=0)", "unknown keyword 'axis'"),
    ("sum(X, axis=(0, 0))", r"axis \(0, 0\) names axis 0 twice"),
    ("sum(X, axis=(0, -2))", r"axis \(0, -2\) names axis 0 twice"),
    ("sum(X, axis=0.0)", "an axis is a whole number"),
    ("sum(X, axis='0')", "an axis is a whole number"),
    ("sum(X, axis=True)", "an axis is a whole number"),
    ("sum(X, axis=((0,),))", "an axis is a whole number"),
    ("sum(X, axis=2)", "axis 2 is out of range for an expression of rank 2"),
    ("2.0 ** 10000 * x", "arithmetic on numbers failed"),
    ("sum(x) * 10**400", "arithmetic on numbers failed"),
    ("x" + " ** 2" * 5, "arithmetic on numbers failed"),
    ("1 / 0 * x", "arithmetic on numbers failed: division by zero"),
    ("1e999 * x", "not a finite real number"),
    ("x * 1e300 * 1e300", "must be a finite number, got inf"),
    ("9" * 400 + " * x", "not a finite real number"),
    ("5" * 5000 + " * x", r"more digits than Python reads \(4300\)"),
    ("sqrt(0 * x - 1)", "not a finite real number"),
    *[(text, "nested more than 100 levels deep") for text in DEEP.values()],
])
def test_errors_point_at_the_problem(text, match):
    with pytest.raises(eg.ExpressionSyntaxError, match=match) as err:
        parse_expression(text)
    assert "^" in str(err.value)


def test_the_package_never_evaluates_strings():
    """No module evaluates a string, but compiled straight-line code: the source codegen writes from the
    IR (tensors' names, each an identifier checked where the tensor is made, and numbers), run once a plan."""
    files = {p.relative_to(pathlib.Path(eg.__file__).parent).as_posix(): p.read_text()
             for p in pathlib.Path(eg.__file__).parent.rglob("*.py")}
    calls = {name: re.findall(r"\b(eval|exec)\s*\(", text) for name, text in files.items()}
    assert {name: found for name, found in calls.items() if found} == {"compiler/codegen.py": ["exec"]}
    assert "exec(compile(source, \"<einsumgrad: straight-line code>\"" in files["compiler/codegen.py"]
    assert not any("pickle" in text for text in files.values())


@settings(max_examples=examples(600), deadline=None)
@given(st.text(alphabet="xyAW()+-*/@.,'=_ 0123456789eTsumtanhinvrace[]{}:;!%~<>|&\"\\é\n\t", max_size=30))
def test_fuzzed_expressions_raise_only_clean_errors(text):
    try:
        parse_expression(text)
    except eg.EinsumgradError as err:
        assert str(err)


def test_constant_folding_found_by_the_fuzzer():
    assert str(parse_expression("0/-1 + x")) == "y[i] = x[i]"
    assert eg.evaluate(parse_expression("x / (-1)"), x=np.array([2.0])).tolist() == [-2.0]
    assert str(eg.tensor("x", 1) * 0 + eg.sqrt(eg.tensor("x", 1) * 0 - 1)) == "y[i] = nan"


@pytest.mark.parametrize("text,expected", [
    ("+".join(["x"] * 1000), "y[i] = 1000 x[i]"),
    ("x" + " - x" * 999, "y[i] = -998 x[i]"),
    ("X" + ".T" * 1000, "y[i,j] = X[i,j]"),
    ("X" + ".T" * 1001, "y[j,i] = X[i,j]"),
    ("-" * 1000 + "x", "y[i] = x[i]"),
    ("x" + " * 1" * 1000, "y[i] = x[i]"),
    ("(" * 199 + "x" + ")" * 199, "x[i]"),  # the tensor itself, not the tautology x[i] = x[i]
    ("tanh(" * 49 + "x" + ")" * 49, "\n".join(["h₁[i] = tanh(x[i])"] + [  # 99 nodes deep: printed as equations
        f"h{k + 1}[i] = tanh(h{k}[i])".translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")) for k in range(1, 49)]
        + ["y[i] = h₄₉[i]"])),
    ("x\n + y", "f[i] = x[i] + y[i]"),  # the result never takes an input's name
    ("+".join(f"x{k}" for k in range(300)), "y[i] = " + " + ".join(f"x{k}[i]" for k in range(300))),  # balanced
])
def test_long_chains_do_not_nest(text, expected):
    assert str(parse_expression(text)) == expected


@pytest.mark.parametrize("text,column", [
    ("ä + einsum('ij->ii', A)", 17),  # ast counts UTF-8 bytes: ä is two
    ("ä + einsum('ij,j->i', W, W)", 25),
    ("'é' + ;", 6),  # Python's SyntaxError counts characters
    ("x + y @ 2", 6),
    ("sum(x) + tanh(x, x)", 9),
])
def test_the_caret_is_under_the_bad_character(text, column):
    with pytest.raises(eg.ExpressionSyntaxError) as err:
        parse_expression(text)
    assert err.value.position == column
    assert str(err.value).splitlines()[1:] == ["  " + text, "  " + " " * column + "^"]


@pytest.mark.slow
def test_an_expression_of_100k_characters_is_read_and_a_longer_one_refused():
    group = "(" + " + ".join(["tanh(a_rather_long_name_for_a_vector) * 2"] * 50) + ")"
    text = " - ".join([group] * (MAX_LENGTH // (len(group) + 3)))
    assert len(text) > 0.95 * MAX_LENGTH
    assert str(parse_expression(text)).startswith("y[i] = -")
    with pytest.raises(eg.EinsumgradError, match="an expression has at most 100,000 characters; this one has 100,001"):
        parse_expression("x" * (MAX_LENGTH + 1))


def test_a_chain_too_long_for_pythons_parser_is_refused_cleanly():
    try:  # Python 3.11 refuses about 3,000 operands in a row; a later Python may read them
        assert str(parse_expression("+".join(["x"] * 5000))) == "y[i] = 5000 x[i]"
    except eg.EinsumgradError as err:
        assert "too deep for Python's parser" in str(err)


def test_only_the_front_ends_import_the_language():
    package = pathlib.Path(eg.__file__).parent
    importers = {p.name for p in package.rglob("*.py")
                 if re.search(r"^\s*(from\s+\S*language\s+import|from\s+\S+\s+import.*\blanguage\b|import\s+\S*language)",
                              p.read_text(), re.M)}
    assert importers == {"question.py"}  # the pipeline behind the front ends: the command line and the teaching page


def run(*args):
    return subprocess.run([sys.executable, "-m", "einsumgrad", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("text,message", [
    (DEEP["1,000 nested parentheses"], "nested more than 100 levels deep"),
    (DEEP["300 nested calls"], "nested more than 100 levels deep"),
    ("5" * 5000 + " * sum(x)", "more digits than Python reads (4300)"),
    ("1e999 * sum(x)", "not a finite real number"),
    ("sum(x) * 10**400", "arithmetic on numbers failed"),
    ("sum(X, axis=(0, 0))", "names axis 0 twice"),
    ("sum(lambda: x)", "'lambda: x' is not part of the expression language"),
    ("einsum('\\)', x)", "invalid character"),
    ("x" * (MAX_LENGTH + 1), "an expression has at most 100,000 characters"),
])
def test_the_command_line_reports_bad_expressions_in_one_line(text, message):
    r = run("grad", text, "--wrt", "x")
    assert r.returncode == 2, (r.stdout, r.stderr[-2000:])
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.startswith("einsumgrad: error: ") and message in r.stderr, r.stderr[-2000:]


@pytest.mark.slow
def test_the_command_line_reads_a_1000_term_sum():
    r = run("grad", "sum(" + "+".join(["x"] * 1000) + ")", "--wrt", "x")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines()[0] == "∂f/∂x[i] = 1000"


def test_a_registered_function_is_callable_from_python_and_the_language(monkeypatch):
    """Adding a function is one line in one place: the registry."""
    from einsumgrad.core import functions
    from einsumgrad.library.rules import elementwise

    monkeypatch.setattr(functions, "REGISTRY", dict(functions.REGISTRY))
    functions.register(elementwise("cube", lambda xp, a: a**3, lambda x, y: 3 * x**2))
    x = eg.tensor("x", 1)
    assert str(eg.grad(eg.sum(eg.cube(x)), x)) == "∂f/∂x[i] = 3 x[i]²"
    parsed = parse_expression("sum(cube(x))")
    assert eg.evaluate(eg.grad(parsed, x), x=np.array([1.0, 2.0])).tolist() == [3.0, 12.0]
    assert "cube" in eg.__all__ or "cube" in dir(eg)


def test_the_docs_list_exactly_the_registered_functions():
    from einsumgrad.core import functions

    page = pathlib.Path(__file__).parents[1] / "docs" / "guide" / "expressions.md"
    text = " ".join(page.read_text(encoding="utf-8").split())
    assert functions.listing() in text
