"""Bad input gets a ValueError subclass that says what is wrong and where."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from profiles import examples

import einsumgrad as eg
from einsumgrad.core.parse import parse


@pytest.mark.parametrize("spec,match", [
    ("i%j->i", r"invalid character '%'(.|\n)*  i%j->i\n   \^"),
    ("ij->k", r"output index 'k' appears in no input(.|\n)*      \^"),
    ("ij->ii", r"output index 'i' is repeated(.|\n)*       \^"),
    ("ij->i->j", r"at most one '->'(.|\n)*       \^"),
    ("i-j", r"stray '-'"),
    ("i>j", r"stray '>'"),
    ("i.j", r"'\.' must be part of '\.\.\.'"),
    ("......i", r"at most one '\.\.\.'"),
    ("ij,jk->i,k", r"single term"),
    ("ij->...", r"output '\.\.\.' appears in no input"),
])
def test_syntax_errors_point_a_caret(spec, match):
    with pytest.raises(eg.EinsumSyntaxError, match=match):
        eg.jacobian(spec)


def test_operand_errors_name_operand_index_and_sizes():
    J = eg.jacobian("ij,j->i", names="W,x")
    with pytest.raises(eg.ShapeError, match=r"takes 2 operand\(s\) \(W, x\), got 3"):
        J(np.ones((2, 3)), np.ones(3), np.ones(3))
    with pytest.raises(eg.ShapeError, match=r"operand 1 \(x\) has rank 2, but its subscripts 'j' .* need rank 1"):
        J(np.ones((2, 3)), np.ones((3, 1)))
    with pytest.raises(eg.ShapeError, match=r"index 'j' has size 4 in operand 1 \(x\) but size 3 in operand 0 \(W\)"):
        J(np.ones((2, 3)), np.ones(4))
    with pytest.raises(eg.ShapeError, match=r"index 'i' has size 3 in operand 0 \(A\) but size 2 earlier"):
        eg.jacobian("ii->")(np.ones((2, 3)))
    with pytest.raises(eg.ShapeError, match=r"needs shape \(2,\) here, but its array has shape \(3,\)"):
        J.vjp(np.ones(3), np.ones((2, 3)), np.ones(3))
    with pytest.raises(eg.ShapeError, match=r"broadcast axis -1 of '\.\.\.' has size 3 in operand 1"):
        eg.jacobian("...ij,...j->...i")(np.ones((2, 2, 3)), np.ones((3, 3)))


def test_wrt_layout_and_names_errors():
    with pytest.raises(eg.DerivativeError, match=r"wrt=2 is out of range: .* so wrt is one of 0, 1"):
        eg.jacobian("ij,j->i", wrt=2)
    with pytest.raises(eg.DerivativeError, match="out of range"):
        eg.jacobian("ij,j->i", wrt="W")
    with pytest.raises(eg.EinsumgradError, match="layout='row'"):
        eg.jacobian("ij,j->i", layout="row")
    with pytest.raises(eg.EinsumgradError, match="gives 1 name"):
        eg.jacobian("ij,j->i", names="W")
    with pytest.raises(eg.EinsumgradError, match="must differ"):
        eg.jacobian("ij,j->i", names="W,W")
    assert eg.jacobian("ij,j->i", wrt=-1).wrt == 1


def test_every_error_is_a_value_error():
    for cls in (eg.EinsumSyntaxError, eg.ShapeError, eg.DerivativeError, eg.MemoryLimitError):
        assert issubclass(cls, ValueError)


@settings(max_examples=examples(500), deadline=None)
@given(st.text(alphabet="ijkIJ,->. %1é\t", max_size=14))
def test_fuzzed_specs_raise_only_clean_errors(spec):
    try:
        J = eg.jacobian(spec)
        str(J)
    except eg.EinsumgradError as err:
        assert str(err)
        return
    parsed = parse(spec)
    ops = [np.ones((2,) * sum(c != "..." for c in term)) for term in parsed.inputs]
    try:
        J(*ops)
    except eg.EinsumgradError:
        pass
