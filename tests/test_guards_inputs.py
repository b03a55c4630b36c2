"""Inputs at the edges (huge slice numbers, sizes of axes a tensor lacks, functions of your own that
return the wrong thing, 53 to 64 axes, internal function names) get NumPy's answer or our error,
in Python, the CLI and the page."""
import contextlib
import io
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from profiles import examples

import einsumgrad as eg
from einsumgrad.doors.cli import main
from einsumgrad.doors.language import parse_expression
from einsumgrad.doors.web.answer import respond

HUGE = 10**30


def cli(*args):
    """The CLI run in this process (an uncaught exception fails the test, as a traceback would show)."""
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            status = main(list(args))
        except SystemExit as exit:
            status = exit.code
    return subprocess.CompletedProcess(args, status or 0, out.getvalue(), err.getvalue())


def refused(result, *words):
    """The CLI's answer to bad input: one line on stderr, status 2, no traceback."""
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for w in words:
        assert w in result.stderr
    return result.stderr


# -- 11: slices with huge bounds and steps -----------------------------------------------------
SLICES = [slice(None, None, HUGE), slice(0, HUGE), slice(-HUGE, 2), slice(None, None, -HUGE), slice(HUGE, None),
          slice(-HUGE, HUGE, 2), slice(HUGE, -HUGE, -1), slice(None, -HUGE), slice(3, None, -HUGE)]


@pytest.mark.parametrize("key", SLICES, ids=str)
def test_huge_slice_numbers_give_numpys_answer(key):
    a = np.arange(5.0)
    x = eg.tensor("x", (5,))
    np.testing.assert_array_equal(eg.evaluate(x[key], x=a), a[key])
    read = np.isin(np.arange(5), np.arange(5)[key])  # the positions the slice reads
    np.testing.assert_array_equal(eg.evaluate(eg.grad(eg.sum(x[key]), x), x=a), read)


@pytest.mark.parametrize("key", [slice(None, None, HUGE), slice(0, HUGE), slice(-HUGE, 2), slice(None, None, -HUGE),
                                 slice(HUGE, None), slice(None, -HUGE), slice(-HUGE, None)], ids=str)
def test_huge_slice_numbers_of_an_axis_of_unknown_length(key):
    a, x = np.arange(5.0), eg.tensor("x", 1)
    np.testing.assert_array_equal(eg.evaluate(x[key], x=a), a[key])
    read = np.isin(np.arange(5), np.arange(5)[key])  # the positions the slice reads
    np.testing.assert_array_equal(eg.evaluate(eg.grad(eg.sum(x[key]), x), x=a), read)


def test_a_huge_integer_index_is_out_of_range_for_any_axis():
    for x in (eg.tensor("x", 1), eg.tensor("x", (5,))):
        with pytest.raises(eg.ShapeError, match=f"index {HUGE} is out of range for axis 0"):
            x[HUGE]


bounds = st.one_of(st.none(), st.integers(-8, 8), st.integers(-2 * HUGE, 2 * HUGE),
                   st.sampled_from([HUGE, -HUGE, sys.maxsize, -sys.maxsize, sys.maxsize + 1, -sys.maxsize - 1]))
steps = st.one_of(st.none(), st.integers(-3, 3).filter(bool), st.sampled_from([HUGE, -HUGE, sys.maxsize, -sys.maxsize]))


@settings(max_examples=examples(150), deadline=None)
@given(n=st.integers(0, 6), start=bounds, stop=bounds, step=steps, known=st.booleans())
def test_slices_against_numpy(n, start, stop, step, known):
    """Any slice of an axis of known length is NumPy's; of unknown length, NumPy's or our error (a
    slice whose length depends on the axis's, positions past its end, a length over the memory limit)."""
    key, a = slice(start, stop, step), np.arange(1.0, n + 1)
    x = eg.tensor("x", (n,) if known else 1)
    try:
        value = eg.evaluate(x[key], x=a)
        gradient = eg.evaluate(eg.grad(eg.sum(x[key] * x[key]), x), x=a)
    except eg.EinsumgradError:
        assert not known
        return
    np.testing.assert_array_equal(value, a[key])
    expected = np.zeros(n)
    np.add.at(expected, np.arange(n)[key], 2 * a[key])
    np.testing.assert_array_equal(gradient, expected)


def test_huge_slice_numbers_in_the_cli_and_the_page():
    text = f"sum(x[0:{HUGE}]) + sum(x[::{HUGE}]) + sum(x[::-{HUGE}])"
    result = cli("grad", text, "--wrt", "x", "--shapes", "x=5")
    assert result.returncode == 0 and "[2. 1. 1. 1. 2.]" in result.stdout, result.stderr
    reply = respond({"expression": text, "wrt": "x", "kind": "gradient", "shapes": {"x": [5]}})
    assert reply["ok"] and reply["shape"] == [5], reply
    refused(cli("grad", f"sum(x[{HUGE}])", "--wrt", "x"), f"index {HUGE} is out of range")


# -- 12: a size naming an axis the tensor lacks ------------------------------------------------
def test_a_size_beyond_a_tensors_rank_is_refused_where_built():
    X = eg.tensor("X", 2)
    message = r"the size X.shape\[5\] names axis 5 of tensor 'X', which has rank 2 \(axes 0 to 1\)"
    with pytest.raises(eg.ShapeError, match=message):
        X @ eg.eye(("X", 5))
    with pytest.raises(eg.ShapeError, match=r"X.shape\[2\] names axis 2"):
        eg.eye(("X", 2)) @ X.T
    with pytest.raises(eg.EinsumgradError, match="eye\\(n\\) takes a size"):
        eg.eye(("X", -1))


def test_a_size_beyond_a_tensors_rank_is_refused_where_evaluated():
    I5 = eg.eye(("X", 5))  # X is not in the expression: its array gives the size
    with pytest.raises(eg.ShapeError, match=r"tensor 'X' has rank 6, but its array has shape \(3, 4\)"):
        eg.evaluate(I5, X=np.ones((3, 4)))
    with pytest.raises(eg.ShapeError, match=r"X.shape\[5\] names axis 5 of tensor 'X', which has rank 2"):
        eg.compile(eg.tensor("X", 2), I5)(X=np.ones((3, 4)))  # X read by one, sized by the other
    np.testing.assert_array_equal(eg.evaluate(eg.eye(("X", 1)), X=np.ones((3, 4))), np.eye(4))


# -- 13: a function of your own that returns the wrong thing -----------------------------------
@pytest.mark.parametrize("impl, problem", [
    (lambda v: v[:2], r"function 'h_bad' returned an array of shape \(2,\) for an argument of shape \(3,\)"),
    (lambda v: 1.0, r"function 'h_bad' returned a float, 1.0, not an array: .* shaped like its argument, \(3,\) here"),
    (lambda v: list(v), r"function 'h_bad' returned a list, .*, not an array"),
    (lambda v: np.float64(2.0), r"function 'h_bad' returned an array of shape \(\) for an argument of shape \(3,\)"),
    (lambda v: np.array(["a"] * len(v)), r"function 'h_bad' returned an array of dtype <U1 \(shape \(3,\)\)"),
    (lambda v: np.ones((3, 1)), r"function 'h_bad' returned an array of shape \(3, 1\)"),
])
def test_a_function_of_your_own_returning_the_wrong_thing_is_named(impl, problem):
    x = eg.tensor("x", 1)
    h = eg.function("h_bad", impl, np.cos)
    with pytest.raises(eg.EinsumgradError, match=problem):
        eg.evaluate(eg.sum(h(x)), x=np.ones(3))
    wrong_derivative = eg.function("h_bad", np.sin, impl)
    with pytest.raises(eg.EinsumgradError, match=problem.replace("h_bad", "h_bad′")):
        eg.evaluate(eg.grad(eg.sum(wrong_derivative(x) * x), x), x=np.ones(3))


def test_a_function_of_your_own_returning_right_is_evaluated():
    s, x = eg.tensor("s", ()), eg.tensor("x", 1)
    h = eg.function("h_good", np.sin, np.cos)
    assert eg.evaluate(eg.grad(h(s), s), s=np.array(0.5)) == pytest.approx(np.cos(0.5))  # np.float64 for 0-d
    np.testing.assert_allclose(eg.evaluate(eg.grad(eg.sum(h(x)), x), x=np.arange(3.0)), np.cos(np.arange(3.0)))
    step = eg.function("h_step", lambda v: (v > 0).astype(float), lambda v: v > 0)  # a boolean derivative is numbers
    np.testing.assert_array_equal(eg.evaluate(eg.grad(eg.sum(step(x) * 0 + x), x), x=np.arange(3.0) - 1), np.ones(3))


# -- 15: the language reaches public functions only --------------------------------------------
INTERNAL = ["inverse_norm", "select", "pad", "crop", "pow"]


@pytest.mark.parametrize("name", INTERNAL)
def test_internal_functions_are_unknown_to_the_language(name):
    text = f"sum({name}(x))"
    with pytest.raises(eg.ExpressionSyntaxError, match=rf"unknown function '{name}'; known: abs, .*, tanh, trace"):
        parse_expression(text)
    reply = respond({"expression": text, "wrt": "x", "kind": "gradient"})
    inside = f"unknown function '{name}' ('{name}' is a name einsumgrad uses inside"
    assert not reply["ok"] and reply["error"].startswith(inside), reply  # the page's message is the CLI's
    refused(cli("grad", text, "--wrt", "x"), inside)


@pytest.mark.parametrize("name", INTERNAL)
def test_internal_functions_are_not_functions_of_your_own(name):
    with pytest.raises(eg.EinsumgradError, match=f"'{name}' is a name einsumgrad uses inside"):
        eg.function(name)
    with pytest.raises(eg.EinsumgradError, match=f"'{name}' is a name einsumgrad uses inside"):
        eg.function(name, np.sin)


# -- 14: 53 to 64 axes ------------------------------------------------------------------------
def _squeezed_einsum(terms, result, operands):
    """The reference: NumPy's einsum over the indices of size > 1 only (letters enough for them)."""
    size = {c: n for t, a in zip(terms, operands) for c, n in zip(t, a.shape)}
    letters = {c: chr(97 + k) for k, c in enumerate(c for c in size if size[c] > 1)}
    squeezed = [a.reshape([n for n in a.shape if n > 1]) for a in operands]
    spell = lambda t: "".join(letters[c] for c in t if size[c] > 1)  # noqa: E731
    out = np.einsum(",".join(map(spell, terms)) + "->" + spell(result), *squeezed)
    return out.reshape([size[c] for c in result])


@settings(max_examples=examples(40), deadline=None)
@given(st.data())
def test_einsum_past_52_letters_against_numpy(data):
    import opt_einsum
    from einsumgrad.compiler.kernels import einsum

    symbols = [opt_einsum.get_symbol(k) for k in range(data.draw(st.integers(53, 60)))]
    big = dict.fromkeys(data.draw(st.lists(st.sampled_from(symbols), max_size=4, unique=True)), 2)
    terms = []
    for _ in range(data.draw(st.integers(1, 2))):
        term = data.draw(st.lists(st.sampled_from(symbols), min_size=1, max_size=40))
        terms.append(term)
    carried = list(dict.fromkeys(c for t in terms for c in t))
    result = data.draw(st.lists(st.sampled_from(carried), unique=True, max_size=min(len(carried), 30)))
    rng = np.random.default_rng(0)
    operands = [rng.standard_normal([big.get(c, 1) for c in t]) for t in terms]
    equation = ",".join("".join(t) for t in terms) + "->" + "".join(result)
    if len(set(equation) - set(",->")) <= 52:
        return
    np.testing.assert_allclose(einsum(equation, *operands), _squeezed_einsum(terms, result, operands), atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("rank", [53, 64])
def test_tensors_of_53_to_64_axes_evaluate_and_differentiate(rank):
    x, y, s = eg.tensor("x", rank), eg.tensor("y", rank), eg.tensor("s", ())
    shape = (1,) * (rank - 2) + (2, 3)
    a, b = np.random.default_rng(1).standard_normal(shape), np.random.default_rng(2).standard_normal(shape)
    assert eg.evaluate(eg.sum(x), x=a) == pytest.approx(a.sum())
    assert eg.evaluate(eg.sum(eg.tanh(x) * y), x=a, y=b) == pytest.approx((np.tanh(a) * b).sum())
    np.testing.assert_allclose(eg.evaluate(x * s, x=a, s=np.array(2.0)), 2 * a)
    np.testing.assert_allclose(eg.evaluate(eg.sum(x, axis=(0, rank - 1)), x=a), a.sum(axis=(0, rank - 1)))
    np.testing.assert_allclose(eg.evaluate(eg.grad(eg.sum(eg.tanh(x) * x * s), x), x=a, s=np.array(2.0)),
                               2 * (np.tanh(a) + a / np.cosh(a) ** 2))
    assert eg.check(eg.sum(eg.tanh(x) * y), x, x=a, y=b).passed
    printed = str(eg.grad(eg.sum(x * y), x))  # ∂f/∂x[i,j,…,H,i1,…] = y[i,j,…,H,i1,…]: names past the letters
    left, right = (part[part.index("[") + 1: part.rindex("]")].split(",") for part in printed.split(" = "))
    assert left == right and len(set(left)) == rank and left[52:] == [f"{c}1" for c in "ijklmnopqrstuvwxyz"[:rank - 52]]
    with pytest.raises(eg.EinsumgradError, match="torch's einsum takes 52 indices"):
        eg.compile(eg.sum(x), backend="torch")(x=a)


@pytest.mark.slow
def test_codegen_of_many_axes_plans_or_says_why_not():
    x = eg.tensor("x", 53)
    a = np.random.default_rng(3).standard_normal((1,) * 51 + (2, 3))
    g = eg.grad(eg.sum(eg.tanh(x) * x), x)
    namespace = {}
    exec(eg.codegen(g), namespace)  # planned at smaller nominal sizes
    np.testing.assert_allclose(namespace["f"](x=a), eg.evaluate(g, x=a))
    y = eg.tensor("y", 53)
    namespace = {}
    exec(eg.codegen(eg.sum(eg.tanh(x) * y)), namespace)  # a product and a sum: no einsum
    np.testing.assert_allclose(namespace["f"](x=a, y=2 * a), eg.evaluate(eg.sum(eg.tanh(x) * y), x=a, y=2 * a))
    with pytest.raises(eg.EinsumgradError, match="generated code would call einsum over 53 indices at once"):
        eg.codegen(eg.sum(eg.tanh(x) * y.T))
    with pytest.raises(eg.EinsumgradError, match="codegen cannot plan tensor 'x' of 64 axes without sizes"):
        eg.codegen(eg.sum(eg.tensor("x", 64)))


@pytest.mark.slow
def test_the_cli_with_53_to_65_axes():
    ones = lambda rank: "x=" + "x".join(["1"] * rank)  # noqa: E731
    for rank in (53, 64):
        result = cli("grad", "sum(tanh(x) * x)", "--wrt", "x", "--shapes", ones(rank))
        assert result.returncode == 0 and "PASS" in result.stdout, result.stderr
    refused(cli("grad", "sum(x)", "--wrt", "x", "--shapes", ones(65)), "has 65 axes, over NumPy's limit of 64")
    refused(cli("hessian", "sum(x * x)", "--wrt", "x", "--shapes", ones(40)), "this result would have 80 axes")


# -- the CLI under huge numbers, odd types and deep ranks --------------------------------------
NUMBERS = [str(HUGE), str(-HUGE), str(2**63), str(-2**63), "0", "-1", "3", "1e400", "nan", "9" * 400]
TEXTS = ["sum(x[{a}:{b}:{c}])", "sum(x[{a}])", "sum(x ** {a})", "sum(reshape(x, ({a},)))", "sum(softmax(X, axis={a}))",
         "sum(eye({a}) @ x)", "sum(X[{a}, {b}])", "sum(concatenate([x, x], axis={a}))", "sum(tanh(x)[::{c}])",
         "sum(inverse_norm(x))", "sum(select(x))", "trace(X[{a}:, {b}:])", "sum(stack([x, x], axis={a}))"]
SHAPES = ["x=3", "X=3x2", "x=" + "x".join(["1"] * 64), "x=" + "x".join(["1"] * 65), "x=-1", "x=1.5", "x=", "x=a",
          f"x={HUGE}", "x=0", "X=0x3", "x=3x" + "1" * 30]


@settings(max_examples=examples(60), deadline=None)
@given(kind=st.sampled_from(["grad", "hessian"]), text=st.sampled_from(TEXTS), shapes=st.sampled_from(SHAPES),
       wrt=st.sampled_from(["x", "X"]), numbers=st.tuples(*[st.sampled_from(NUMBERS)] * 3),
       extra=st.sampled_from([(), ("--seed", "1e400"), ("--seed", str(HUGE)), ("--format",), ("--bogus",)]))
def test_the_cli_answers_or_refuses_in_one_line(kind, text, shapes, wrt, numbers, extra):
    args = [kind, text.format(a=numbers[0], b=numbers[1], c=numbers[2]), "--wrt", wrt, "--shapes", shapes, *extra]
    result = cli(*args)
    err = result.stderr
    errors = [line for line in err.splitlines() if ": error:" in line]
    assert result.returncode == 0 or (result.returncode == 2 and len(errors) == 1), (args, err)
    assert "Traceback" not in err and "usage:" not in err, (args, err)


@pytest.mark.slow
def test_argparse_errors_are_one_line():
    """Through a subprocess, as a user runs it."""
    result = subprocess.run([sys.executable, "-m", "einsumgrad", "grad", "sum(x)", "--wrt", "x", "--seed", "1e400"],
                            capture_output=True, text=True, timeout=120)
    stderr = refused(result, "argument --seed: invalid int value")
    assert stderr.startswith("einsumgrad grad: error:") and "(see einsumgrad grad --help)" in stderr
