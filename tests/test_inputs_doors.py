"""Arrays an expression does not need are ignored, through every door (evaluate, check, compiled
calls on each backend); a missing one is an error naming it, with a near name given, and for a
tensor that only gives sizes, the axes it gives. ``Expression.inputs`` tells the two apart."""
import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.core import ir

RNG = np.random.default_rng(7)
W0, X0, B0 = RNG.standard_normal((3, 4)), RNG.standard_normal((5, 3)), RNG.standard_normal(4)
x0, A0 = RNG.standard_normal(4), RNG.standard_normal((3, 3))
W, x, b, X = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("b", 1), eg.tensor("X", 2)
A, S = eg.tensor("A", 2), eg.tensor("S", 2)
PARAMS = {"X": X0, "W": W0, "b": B0, "Y": RNG.standard_normal((5, 4)), "A": A0, "S": A0.T @ A0}

# (loss, wrt, arrays, the gradient, or the message of the error it gives)
CASES = {
    "extra arrays ignored": (eg.sum(eg.tanh(W @ x)), W, {"W": W0, "x": x0, "v": np.ones(7), "lr": 0.1,
                                                         "tag": "run 7"},
                             (1 - np.tanh(W0 @ x0) ** 2)[:, None] * x0),
    "a typo": (eg.sum(eg.tanh(W @ x)), W, {"w": W0, "x": x0}, r"missing array 'W' \(did you mean 'w'\?\)"),
    "a size-only tensor": (eg.trace(S), S, {"S": A0}, np.eye(3)),
    "a size-only tensor missing": (eg.trace(A @ S), S, {"A": A0, "s": A0},
                                   r"missing array 'S' \(did you mean 's'\?\)"),
    "the full parameter dict (∂/∂W)": (eg.sum(X @ W + b), W, PARAMS, np.repeat(X0.sum(0)[:, None], 4, axis=1)),
    "the full parameter dict (∂/∂b)": (eg.sum(X @ W + b), b, PARAMS, np.full(4, 5.0)),
    "the full parameter dict (issue 19)": (eg.trace(A @ S), S, PARAMS, A0.T),
}


def _compiled(backend):
    def call(g, arrays):
        pytest.importorskip(backend)
        value = eg.compile(g, backend=backend)(**arrays)
        return value.numpy() if backend == "torch" else np.asarray(value)
    return call


DOORS = {"evaluate": lambda g, arrays: eg.evaluate(g, **arrays),
         **{f"compile {b}": _compiled(b) for b in ("numpy", "jax", "torch")}}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("door", [*DOORS, "check"])
def test_arrays_not_needed_are_ignored_and_a_missing_one_is_named(door, case):
    loss, wrt, arrays, expected = CASES[case]
    if door == "check":
        if isinstance(expected, str):
            with pytest.raises(eg.EinsumgradError, match=expected):
                eg.check(loss, wrt, **arrays)
        else:
            assert eg.check(loss, wrt, **arrays).passed
        return
    g = eg.grad(loss, wrt)
    if isinstance(expected, str):
        with pytest.raises(eg.EinsumgradError, match=expected):
            DOORS[door](g, arrays)
    else:
        np.testing.assert_allclose(DOORS[door](g, arrays), expected, rtol=1e-6, atol=1e-6)


def test_a_missing_size_only_tensor_is_named_with_the_axes_it_sizes():
    g = eg.grad(eg.trace(A @ S), S)
    assert g.inputs == ir.Inputs(reads=("A",), sizes={"S": (0, 1)})
    with pytest.raises(eg.EinsumgradError, match=r"^missing array 'S': only its shape is read \(axis 0, 1 giving "
                                                 r"sizes\), so any array of that shape will do; this expression "
                                                 r"takes: A, S$"):
        eg.evaluate(g, A=A0)
    # its entries are never read: an array that holds one number, seen at every position, will do
    np.testing.assert_array_equal(eg.evaluate(g, A=A0, S=np.broadcast_to(np.nan, (3, 3))), A0.T)


def test_no_near_name_no_suggestion_and_every_missing_array_is_named():
    with pytest.raises(eg.EinsumgradError, match=r"^missing array 'W'; missing array 'x'; this expression takes: "
                                                 r"W, x$"):
        eg.evaluate(W @ x, q=np.ones(2))


def test_inputs_reads_and_sizes():
    assert (W @ x).inputs == ir.Inputs(("W", "x"), {})
    # b of one entry stretches to W's columns too: the gradient needs that length
    assert eg.grad(eg.sum(X @ W + b), b).inputs == ir.Inputs((), {"b": (0,), "W": (1,), "X": (0,)})
    assert eg.grad(eg.sum(X @ W + b), W).inputs.reads == ("X",)
    assert eg.sum(x - x).inputs == ir.Inputs((), {})  # built from x, needs nothing of it
    assert eg.evaluate(eg.sum(x - x)) == 0


def test_the_command_line_names_a_near_tensor(capsys):
    from einsumgrad.doors import cli

    assert cli.main(["grad", "sum(W @ x)", "--wrt", "x", "--shapes", "w=3x4,x=4"]) == 2
    assert capsys.readouterr().err == ("einsumgrad: error: --shapes names w (did you mean 'W'?), which the "
                                       "expression does not read (it reads W, x)\n")
