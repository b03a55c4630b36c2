"""What the mypy clean-up asserted: ``None`` (a 𝟙 of length 1, or nothing) never reaches a matrix
formula's Hadamard product or ``diag``; the typed helpers keep their ``None`` in, ``None`` out; the
sign of a transpose or an inverse moves out of it in a sum (``a - B⁻ᵀ``); a function along an index
(``softmax_j``) builds."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from profiles import examples

from einsumgrad.core.algebra import add, apply, einsum, tensor
from einsumgrad.core.differentiate import derivative, variable
import einsumgrad as eg
from einsumgrad.notation import formula as fm
from einsumgrad.notation.matrix import matrix_formula

SPECS = ["ij->", "ij->i", "ij->j", "ij,jk->ik", "ij,kj->ik", "ij,ij->i", "ij,ij->", "ij,ji->", "ij,j->i",
         "i,j->ij", "ij,jk,k->i", "ij,jk,ki->", "i,i->"]


def _operands(spec, sizes):
    names = iter("ABC")
    return [tensor(next(names) if len(t) == 2 else next(names).lower(), tuple(sizes[a] for a in t))
            for t in spec.split("->")[0].split(",")]


@settings(max_examples=examples(150), deadline=None)
@given(st.sampled_from(SPECS), st.fixed_dictionaries({a: st.sampled_from([1, 1, 2, 3]) for a in "ijk"}),
       st.booleans(), st.booleans())
def test_length_one_axes_never_reach_a_hadamard_or_a_diag_as_nothing(spec, sizes, tanh, plus):
    """Axes of length 1 (where 𝟙 is written as nothing) through the matrix formula of an einsum, a
    function of it, a broadcast sum and each derivative: a formula or none, never an AssertionError."""
    ops = _operands(spec, sizes)
    e = einsum(spec, *ops)
    if tanh:
        e = apply("tanh", e)
    if plus and e.ndim:
        e = add(e, tensor("b", (e.dims[-1],)))
    for x in [e] + [derivative(e, variable(op)) for op in ops]:
        f = matrix_formula(x)
        assert f is None or isinstance(fm.unicode(f), str) and isinstance(fm.latex(f), str)


def test_a_scalar_sum_over_two_length_one_axes_is_the_matrix_itself():
    assert fm.unicode(matrix_formula(einsum("ij->", tensor("X", (1, 1))))) == "X"


def test_nothing_stays_nothing():
    assert fm.paren(None) is fm.transpose(None) is fm.factor(None) is fm.product() is fm.product(None, None) is None


@pytest.mark.parametrize("tree, text", [
    (fm.Sum((fm.Name("a"), fm.Inverse(fm.Scaled(-1, fm.Name("B")), True))), "a - B⁻ᵀ"),
    (fm.Sum((fm.Name("x"), fm.Product((fm.Transpose(fm.Scaled(-1, fm.Name("y"))), fm.Name("z"))))), "x - yᵀ z"),
    (fm.Sum((fm.Name("a"), fm.Transpose(fm.Number(-2)))), "a - 2ᵀ"),
])
def test_a_minus_moves_out_of_a_transpose_or_an_inverse(tree, text):
    assert fm.unicode(tree) == text


def test_a_function_along_an_index_builds():
    x = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -3.0]])
    got = eg.evaluate(eg.parse("y[i,j] = softmax_j(x[i,j])"), x=x)
    want = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, want)
