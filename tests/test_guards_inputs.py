"""Inputs at the edges (huge slice numbers, sizes of axes a tensor lacks, functions of your own that
return the wrong thing, 53 to 64 axes, internal function names) get NumPy's answer or our error,
in Python, the CLI and the page."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import einsumgrad as eg
from einsumgrad.language import parse_expression
from einsumgrad.web.answer import respond

HUGE = 10**30


def cli(*args):
    return subprocess.run([sys.executable, "-m", "einsumgrad", *args], capture_output=True, text=True, timeout=120)


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
    np.testing.assert_array_equal(eg.evaluate(eg.grad(eg.sum(x[key]), x), x=a), np.isin(np.arange(5), np.arange(5)[key]))


@pytest.mark.parametrize("key", [slice(None, None, HUGE), slice(0, HUGE), slice(-HUGE, 2), slice(None, None, -HUGE),
                                 slice(HUGE, None), slice(None, -HUGE), slice(-HUGE, None)], ids=str)
def test_huge_slice_numbers_of_an_axis_of_unknown_length(key):
    a, x = np.arange(5.0), eg.tensor("x", 1)
    np.testing.assert_array_equal(eg.evaluate(x[key], x=a), a[key])
    np.testing.assert_array_equal(eg.evaluate(eg.grad(eg.sum(x[key]), x), x=a), np.isin(np.arange(5), np.arange(5)[key]))


def test_a_huge_integer_index_is_out_of_range_for_any_axis():
    for x in (eg.tensor("x", 1), eg.tensor("x", (5,))):
        with pytest.raises(eg.ShapeError, match=f"index {HUGE} is out of range for axis 0"):
            x[HUGE]


bounds = st.one_of(st.none(), st.integers(-8, 8), st.integers(-2 * HUGE, 2 * HUGE),
                   st.sampled_from([HUGE, -HUGE, sys.maxsize, -sys.maxsize, sys.maxsize + 1, -sys.maxsize - 1]))
steps = st.one_of(st.none(), st.integers(-3, 3).filter(bool), st.sampled_from([HUGE, -HUGE, sys.maxsize, -sys.maxsize]))


@settings(max_examples=150, deadline=None)
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
    assert not reply["ok"] and reply["error"].startswith(f"unknown function '{name}'; known: abs,"), reply
    refused(cli("grad", text, "--wrt", "x"), f"unknown function '{name}' ('{name}' is a name einsumgrad uses inside")


@pytest.mark.parametrize("name", INTERNAL)
def test_internal_functions_are_not_functions_of_your_own(name):
    with pytest.raises(eg.EinsumgradError, match=f"'{name}' is a name einsumgrad uses inside"):
        eg.function(name)
    with pytest.raises(eg.EinsumgradError, match=f"'{name}' is a name einsumgrad uses inside"):
        eg.function(name, np.sin)
