"""Generated code does not get slower with information: with shapes= or without, eg.codegen
plans at large sizes (BLAS forms: ``@``, ``.T``, ``x[:, None] * y``), and the code is valid at
any sizes, or checks the one thing shapes= made it assume (a stretched length-1 axis) with a clear
message. The times are in benchmarks/codegen.py."""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from profiles import examples

import einsumgrad as eg
from einsumgrad.compiler.plan import contraction


def logistic():
    X, w, y = eg.tensor("X", 2), eg.tensor("w", 1), eg.tensor("y", 1)
    p = eg.sigmoid(X @ w)
    L = -eg.sum(y * eg.log(p) + (1 - y) * eg.log(1 - p))
    return (L, eg.grad(L, w), eg.hessian(L, w)), lambda m, n: {"X": (m, n), "w": (n,), "y": (m,)}


def mlp_layer():
    X, W, b, Y = eg.tensor("X", 2), eg.tensor("W", 2), eg.tensor("b", 1), eg.tensor("Y", 2)
    L = 0.5 * eg.sum((Y - eg.tanh(X @ W + b)) ** 2)
    return (eg.grad(L, W), eg.grad(L, b)), lambda m, n: {"X": (m, n), "W": (n, n), "b": (n,), "Y": (m, n)}


CASES = {"logistic": logistic, "mlp layer": mlp_layer}


def load(source: str, name: str = "f"):
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)
    return namespace[name]


def arrays_for(shapes: dict, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) * 0.5 for k, s in shapes.items()}


def einsum_operands(source: str) -> list[int]:
    """The operand count of every einsum the source calls."""
    return [len(spec.split(",")) for spec in re.findall(r'einsum\("([^"-]*)->', source)]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("sizes", [None, (5, 3), (3, 5), (2000, 256), (2, 2)])
def test_blas_forms_whatever_the_shapes(case, sizes):
    exprs, shapes = CASES[case]()
    source = eg.codegen(*exprs, shapes=None if sizes is None else shapes(*sizes))
    assert source.split('"""')[2] == eg.codegen(*exprs).split('"""')[2], "the same code as shapes=None"
    assert " @ " in source and max(einsum_operands(source), default=0) <= 2, source


def test_the_issue_case_is_a_matmul():
    """At 5×3 the plan was one np.einsum("ab,ac,a,a->bc", ...): 83× slower at 2000×256."""
    (_, _, H), shapes = logistic()
    source = eg.codegen(H, shapes=shapes(5, 3))
    assert "X.T @ " in source and "a,a->bc" not in source


def test_shapes_still_order_a_chain():
    """Planning scales the given lengths together: their proportions still choose the cheap end."""
    A, B, C = eg.tensor("A", 2), eg.tensor("B", 2), eg.tensor("C", 2)
    E = eg.einsum("ab,bc,cd->ad", A, B, C)
    first = {}
    for label, sizes in {"BC first": [(20, 2), (1000, 100)], "AB first": [(2, 20), (100, 1000)]}.items():
        for a, b in sizes:  # the same proportions, student-sized or real: the same order
            body = eg.codegen(E, shapes={"A": (a, b), "B": (b, a), "C": (a, b)}).split('"""')[2]
            first.setdefault(label, set()).add(body.strip().splitlines()[0])
    assert first["BC first"] == {"t1 = C.T @ B.T"} and first["AB first"] == {"t1 = B.T @ A.T"}


def test_a_stretched_axis_is_checked_with_a_clear_message():
    """x of length 1 stretches along W's axis: the code assumes it, says so, and checks it (it
    computed Σ_j W[i,j] · Σ x at x of length 3, a wrong answer, before)."""
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    source = eg.codegen(W @ x, shapes={"W": (5, 3), "x": (1,)}, name="affine")
    assert "valid at any sizes with x.shape[0] == 1 (checked)" in source
    f = load(source, "affine")
    a = arrays_for({"W": (5, 3), "x": (1,)})
    np.testing.assert_allclose(f(**a), eg.evaluate(W @ x, **a))
    with pytest.raises(ValueError, match=re.escape("affine: axis 0 of x has length 3, but this code was "
                                                   "generated for length 1")):
        f(W=a["W"], x=np.ones(3))


def test_planned_shapes_say_the_code_is_valid_at_any_sizes():
    exprs, shapes = logistic()
    source = eg.codegen(*exprs, shapes=shapes(5, 3))
    assert "scaled up to\n    large sizes: BLAS forms, valid at any sizes." in source


def test_compile_plans_per_shapes():
    """eg.compile plans again at each new shape: one np.einsum at 5×3, BLAS steps at 2000×256."""
    (_, _, H), shapes = logistic()
    f = eg.compile(H)
    f(**arrays_for(shapes(5, 3)))
    small = [contraction(eq, s, "auto") for eq, s in f.contractions(**arrays_for(shapes(5, 3)))]
    big = [contraction(eq, s, "auto") for eq, s in f.contractions(**arrays_for(shapes(2000, 256)))]
    assert big and all(c.steps and any(step.matmul for step in c.steps) for c in big)
    assert any(not c.steps for c in small)


SIZE = st.integers(1, 6)


@settings(max_examples=examples(40), deadline=None)
@given(case=st.sampled_from(sorted(CASES)), planned=st.tuples(SIZE, SIZE), called=st.tuples(SIZE, SIZE),
       stretch=st.sampled_from([None, ("X", 1), ("X", 0), ("y", 0), ("Y", 0), ("Y", 1)]), seed=st.integers(0, 3))
def test_generated_code_is_right_at_other_sizes(case, planned, called, stretch, seed):
    """Generated for one set of shapes (some with a stretched 1), called at others: equal to
    eg.evaluate, or the clear message about the stretched axis."""
    exprs, shapes = CASES[case]()
    given_shapes = shapes(*planned)
    stretched = stretch is not None and stretch[0] in given_shapes and given_shapes[stretch[0]][stretch[1]] > 1
    if stretched:
        name, k = stretch
        given_shapes[name] = tuple(1 if j == k else n for j, n in enumerate(given_shapes[name]))
    try:
        f = load(eg.codegen(*exprs, shapes=given_shapes))
    except eg.ShapeError as err:  # shapes that eg.compile refuses too, with the same message
        with pytest.raises(eg.ShapeError, match=re.escape(str(err))):
            eg.compile(*exprs)(**arrays_for(given_shapes))
        return
    arrays = arrays_for(shapes(*called), seed)
    if stretched and arrays[name].shape[k] != 1:
        with pytest.raises(ValueError, match=rf"f: axis {k} of {name} has length \d+, but this code was generated "
                                             "for length 1 \\(shapes=, where it stretches\\)"):
            f(**arrays)
        return
    got = f(**arrays)
    for g, e in zip(got if isinstance(got, tuple) else (got,), exprs):
        np.testing.assert_allclose(g, eg.evaluate(e, **arrays), rtol=1e-10, atol=1e-12)
