"""Fuzzers: every string entry point, evaluate and the jacobian calls, with arrays of any shape;
only an EinsumgradError (with a message) may come out."""
import string

import numpy as np
from hypothesis import given, settings, strategies as st
from profiles import examples

import einsumgrad as eg


TEXT = st.text(alphabet=string.ascii_letters[:6] + ",->.()'*+ %_=1\n", max_size=16)


@settings(max_examples=examples(500), deadline=None)
@given(TEXT, TEXT)
def test_fuzz_string_entry_points(a, b):
    from einsumgrad.doors.language import parse_expression

    A = eg.tensor("A", 2)
    for call in (lambda: eg.jacobian(a, names=b or None), lambda: eg.einsum(a, A), lambda: eg.tensor(a, 1),
                 lambda: parse_expression(a), lambda: eg.jacobian("ij->", names=a),
                 lambda: eg.compile(A, optimize=a), lambda: eg.compile(A, backend=a)):
        try:
            call()
        except eg.EinsumgradError:
            pass


def _fuzz_expressions():
    W, x, A = eg.tensor("W", 2), eg.tensor("x", 1), eg.tensor("A", (3, 3))
    L = eg.sum(eg.tanh(W @ x))
    return [L, eg.grad(L, W), eg.grad(eg.sum(W), W), eg.hessian(x @ A @ x, x), eg.inv(A) @ x, eg.det(W),
            eg.jacobian(W @ x, W), W * x + 1, eg.einsum("ii->i", W), eg.sum(W, axis=0) / x]


@settings(max_examples=examples(400), deadline=None)
@given(st.integers(0, 9), st.dictionaries(st.sampled_from(["W", "x", "A", "y"]),
                                          st.lists(st.integers(0, 3), max_size=3), min_size=0, max_size=4))
def test_fuzz_evaluate_with_arrays_of_any_shape(which, shapes):
    expr = _fuzz_expressions()[which]
    arrays = {n: np.ones(s) for n, s in shapes.items()}
    try:
        with np.errstate(all="ignore"):
            eg.evaluate(expr, **arrays)
    except eg.EinsumgradError as err:
        assert str(err)
    except np.linalg.LinAlgError:
        pass  # a singular matrix for inv: NumPy's own verdict on the numbers, not on the input's form


@settings(max_examples=examples(300), deadline=None)
@given(st.sampled_from(["ij,j->i", "ii->", "...ij,...j->...i", "i,i", "ij,jk,kl->il", ",i->i"]),
       st.lists(st.lists(st.integers(0, 3), max_size=4), min_size=0, max_size=4), st.integers(0, 3))
def test_fuzz_jacobian_calls_with_arrays_of_any_shape(spec, shapes, wrt):
    try:
        J_fuzz = eg.jacobian(spec, wrt=wrt)
        ops = [np.ones(s) for s in shapes]
        J_fuzz(*ops)
        J_fuzz.vjp(np.ones(np.einsum(spec, *ops).shape), *ops)
        J_fuzz.jvp(np.ones(ops[J_fuzz.wrt].shape), *ops)
    except eg.EinsumgradError as err:
        assert str(err)
