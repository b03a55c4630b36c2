"""Matrix formulas as trees (issue 21 item 8, issue 19 item 2): every formula printed is evaluated
from the tree it is printed from, here in NumPy, and checked against the derivative and central
differences; broadcasts (``Σ((XW + b) Y)``, batched biases) have formulas, printed in one form
(``X W + 𝟙 bᵀ``); the LaTeX comes from the same tree and compiles."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.core.functions import get
from einsumgrad.core.ir import Broadcast
from einsumgrad.notation import formula as fm, matrix as mx
from test_matrix import DERIVATIVES, FORMULAS, FOUND
from test_teaching_doors import _compiles


# the evaluator: a formula's value, read from its tree (vectors are columns, scalars 0-d) -----------
def _length(dim, arrays) -> int:
    if isinstance(dim, int):
        return dim
    if isinstance(dim, Broadcast):
        return max(_length(d, arrays) for d in dim.dims)
    name, axis = dim
    return np.shape(arrays[name])[axis]


def _matrix(a) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a.reshape(-1, 1) if a.ndim == 1 else a


def _times(a, b):
    """A matrix product, or a scalar times anything (a 1×1 result of ``xᵀ y`` is a scalar too)."""
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:
        return a @ b
    assert a.size == 1 or b.size == 1, f"shapes {a.shape} and {b.shape} do not multiply"
    return a * b if a.ndim and b.ndim else (a.reshape(()) if a.size == 1 else a) * (b.reshape(()) if b.size == 1 else b)


def value(f, arrays) -> np.ndarray:
    """What formula ``f`` stands for: vectors as columns, numbers 0-d; shapes must agree as written."""
    v = lambda g: value(g, arrays)  # noqa: E731
    if isinstance(f, fm.Name):
        return _matrix(arrays[f.name])
    if isinstance(f, fm.Ones):
        return np.ones((_length(f.dim, arrays), 1))
    if isinstance(f, fm.Identity):
        return np.eye(_length(f.dim, arrays))
    if isinstance(f, fm.Number):
        return np.asarray(f.value, dtype=float)
    if isinstance(f, fm.Paren):
        return v(f.body)
    if isinstance(f, fm.Transpose):
        return v(f.body).T
    if isinstance(f, fm.Inverse):
        inverse = np.linalg.inv(v(f.body))
        return inverse.T if f.transposed else inverse
    if isinstance(f, fm.Power):
        return v(f.base) ** f.exponent
    if isinstance(f, fm.Product):
        out = v(f.factors[0])
        for g in f.factors[1:]:
            out = _times(out, v(g))
        return out
    if isinstance(f, fm.Hadamard):
        a, b = v(f.left), v(f.right)
        assert a.shape == b.shape or not a.ndim or not b.ndim, (a.shape, b.shape)
        return a * b
    if isinstance(f, fm.Kron):
        out = v(f.factors[0])
        for g in f.factors[1:]:
            out = np.kron(out, v(g))
        return out
    if isinstance(f, fm.Sum):
        parts = [v(g) for g in f.parts]
        shapes = {p.shape for p in parts if p.size > 1}
        assert len(shapes) <= 1, f"a sum of shapes {shapes}"
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out
    if isinstance(f, fm.Scaled):
        return f.coef * v(f.body)
    if isinstance(f, fm.Apply):
        arg = v(f.arg)
        if get(f.fn).elementwise:
            return np.asarray(get(f.fn).impl(arg, *f.params))
        native = arg.reshape(-1) if f.rank == 1 else arg.reshape(()) if f.rank == 0 else arg
        return _matrix(get(f.fn).impl(native, *f.params))
    if isinstance(f, fm.Trace):
        return np.asarray(np.trace(v(f.body)))
    if isinstance(f, fm.Diag):
        return np.diag(v(f.body).reshape(-1))
    raise TypeError(f)


def assert_formula_is(expr, arrays, expected=None):
    """The matrix formula of ``expr`` exists and evaluates, from its tree, to ``expr``'s value (and ``expected``)."""
    tree = mx.matrix_formula(expr.node)
    assert tree is not None, expr.matrix_notation_reason()
    assert fm.unicode(tree) == expr.matrix_notation()
    got = value(tree, arrays)
    want = np.asarray(eg.evaluate(expr, **{n: arrays[n] for n in expr.tensors}))
    got = got.reshape(want.shape) if got.size == want.size else got
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11, err_msg=fm.unicode(tree))
    if expected is not None:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8, err_msg=fm.unicode(tree))
    return tree


def central(loss, arrays, name, eps=1e-6) -> np.ndarray:
    """∂loss/∂name by central differences, loss a scalar expression."""
    base = {n: np.array(a, dtype=float) for n, a in arrays.items() if n in loss.tensors}
    grad = np.zeros_like(base[name])
    for k in np.ndindex(grad.shape):
        up, down = dict(base), dict(base)
        up[name], down[name] = base[name].copy(), base[name].copy()
        up[name][k] += eps
        down[name][k] -= eps
        grad[k] = (float(eg.evaluate(loss, **up)) - float(eg.evaluate(loss, **down))) / (2 * eps)
    return grad


# the hand-checked formulas of test_matrix, now evaluated from their trees ---------------------------
@pytest.fixture
def square(rng):
    a = {n: rng.standard_normal((3, 3)) for n in ("B", "C", "W", "W1", "W2")}
    a |= {n: rng.standard_normal(3) for n in ("x", "y", "g", "w", "b1", "b2")}
    return a | {"A": rng.standard_normal((3, 3)) + 3 * np.eye(3), "s": np.float64(rng.uniform(1, 2))}


@pytest.mark.parametrize("what, expr, text, numpy", FORMULAS + DERIVATIVES + FOUND,
                         ids=[c[0] for c in FORMULAS + DERIVATIVES + FOUND])
def test_each_tree_evaluates_to_the_hand_written_numpy(square, what, expr, text, numpy):
    assert fm.unicode(assert_formula_is(expr, square, numpy(square))) == text


# Σ((XW + b) Y) with b a matrix: the derivatives have formulas -----------------------------------------
X, W, B, Y = (eg.tensor(n, 2) for n in ("X", "W", "b", "Y"))


@pytest.fixture
def batch(rng):
    """X 5×3, W 3×4, b 5×4 and Y 4×2 for the matrix product; Z 5×4 for the elementwise one."""
    shapes = {"X": (5, 3), "W": (3, 4), "b": (5, 4), "Y": (4, 2), "Z": (5, 4)}
    return {n: rng.standard_normal(s) for n, s in shapes.items()}


@pytest.mark.parametrize("wrt, text", [
    (W, "(Xᵀ 𝟙) (Y 𝟙)ᵀ"), (B, "𝟙 (Y 𝟙)ᵀ"), (X, "𝟙 (W (Y 𝟙))ᵀ"), (Y, "((X W + b)ᵀ 𝟙) 𝟙ᵀ")])
def test_sum_of_a_product_with_a_bias_matrix_has_formulas(batch, wrt, text):
    """Σ_kij (XW + b)[k,i] Y[i,j]: ∂/∂W = Xᵀ 𝟙𝟙ᵀ Yᵀ = (Xᵀ 𝟙)(Y 𝟙)ᵀ; it was refused as "a broadcast axis
    that another factor also reads" (the gradient of XW + b, 𝟙 (Y 𝟙)ᵀ, is kept as one row)."""
    L = eg.sum((X @ W + B) @ Y)
    g = eg.grad(L, wrt)
    assert g.matrix_notation() == text
    assert g.matrix_notation_reason() is None
    assert_formula_is(g, batch, central(L, batch, wrt.name))


@pytest.mark.parametrize("wrt, text", [(W, "Xᵀ Z"), (B, "Z"), (X, "Z Wᵀ"), (eg.tensor("Z", 2), "X W + b")])
def test_sum_of_a_hadamard_product_with_a_bias_matrix(batch, wrt, text):
    L = eg.sum((X @ W + B) * eg.tensor("Z", 2))
    g = eg.grad(L, wrt)
    assert g.matrix_notation() == text
    assert_formula_is(g, batch, central(L, batch, wrt.name))


@pytest.mark.slow
def test_the_cli_prints_the_formula_it_used_to_refuse():
    r = subprocess.run([sys.executable, "-m", "einsumgrad", "grad", "sum((X @ W + b) @ Y)", "--wrt", "W", "--matrix"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "matrix notation: (Xᵀ 𝟙) (Y 𝟙)ᵀ" in r.stdout.splitlines()


# an MLP with biases, three layers deep, on a batch -------------------------------------------------------
def _mlp():
    Xb, Yb = eg.tensor("X", 2), eg.tensor("Y", 2)
    Ws = [eg.tensor(f"W{k}", 2) for k in (1, 2, 3)]
    bs = [eg.tensor(f"b{k}", 1) for k in (1, 2, 3)]
    h = eg.tanh(Xb @ Ws[0] + bs[0])
    h = eg.sigmoid(h @ Ws[1] + bs[1])
    out = h @ Ws[2] + bs[2]
    return 0.5 * eg.sum((out - Yb) ** 2), Ws, bs, out


@pytest.fixture
def mlp_arrays(rng):
    shapes = {"X": (6, 3), "W1": (3, 4), "b1": (4,), "W2": (4, 5), "b2": (5,), "W3": (5, 2), "b3": (2,), "Y": (6, 2)}
    return {n: rng.standard_normal(s) for n, s in shapes.items()}


@pytest.mark.parametrize("name", ["W1", "b1", "W2", "b2", "W3", "b3", "X"])
def test_mlp_gradients_at_depth_three_evaluate_to_central_differences(mlp_arrays, name):
    L, Ws, bs, _ = _mlp()
    by = {v.name: v for v in Ws + bs} | {"X": eg.tensor("X", 2)}
    g = eg.grad(L, by[name])
    tree = assert_formula_is(g, mlp_arrays, central(L, mlp_arrays, name))
    _assert_biases_with_ones(tree)


def _assert_biases_with_ones(tree) -> None:
    """Every broadcast row-bias is written ``𝟙 bᵀ``: a transposed b beside the 𝟙 that spreads it."""
    found = []

    def walk(f, before=None):
        if isinstance(f, fm.Transpose) and isinstance(f.body, fm.Name) and f.body.name.startswith("b"):
            found.append(before)
        if isinstance(f, fm.Product):
            for k, g in enumerate(f.factors):
                walk(g, f.factors[k - 1] if k else None)
            return
        for name in ("body", "base", "arg", "left", "right"):
            if getattr(f, name, None) is not None:
                walk(getattr(f, name))
        for g in getattr(f, "parts", ()) or ():
            walk(g)

    walk(tree)
    assert found and all(isinstance(b, fm.Ones) for b in found), fm.unicode(tree)


def test_a_row_bias_prints_in_one_form_at_every_depth():
    """NumPy's broadcast ``X W + bᵀ`` inside a function and the textbook's ``𝟙 bᵀ`` at the top, in one
    formula, was issue 21 item 8; now ``𝟙 bᵀ`` everywhere."""
    _, Ws, bs, out = _mlp()
    Xb = eg.tensor("X", 2)
    assert (Xb @ Ws[0] + bs[0]).matrix_notation() == "X W1 + 𝟙 b1ᵀ"
    assert eg.tanh(Xb @ Ws[0] + bs[0]).matrix_notation() == "tanh(X W1 + 𝟙 b1ᵀ)"
    text = out.matrix_notation()
    assert text == "sigmoid(tanh(X W1 + 𝟙 b1ᵀ) W2 + 𝟙 b2ᵀ) W3 + 𝟙 b3ᵀ"
    assert text.count("𝟙 b") == text.count("b") == 3


def test_a_column_bias_needs_no_ones():
    W1, x, b1 = eg.tensor("W1", 2), eg.tensor("x", 1), eg.tensor("b1", 1)
    assert eg.tanh(W1 @ x + b1).matrix_notation() == "tanh(W1 x + b1)"


def test_the_bias_gradient_sums_the_rows_with_ones(mlp_arrays):
    L, _, bs, _ = _mlp()
    tree = mx.matrix_formula(eg.grad(L, bs[2]).node)  # (Gᵀ 𝟙): the gradient at the output, summed over the batch
    assert isinstance(tree, fm.Paren) and isinstance(tree.body, fm.Product)
    assert isinstance(tree.body.factors[0], fm.Transpose) and isinstance(tree.body.factors[-1], fm.Ones)
    assert fm.unicode(tree) == "((sigmoid(tanh(X W1 + 𝟙 b1ᵀ) W2 + 𝟙 b2ᵀ) W3 + 𝟙 b3ᵀ - Y)ᵀ 𝟙)"


@pytest.mark.parametrize("loss, text", [
    (lambda r: eg.sum((X @ W + r) @ Y), "𝟙ᵀ 𝟙 (Y 𝟙)"),  # Σ over the batch of a gradient that is the same on every row
    (lambda r: eg.sum(X @ W + r), "(𝟙ᵀ 𝟙) 𝟙"),  # size(X,0) on every entry
])
def test_a_row_bias_gradient_counts_the_rows(batch, loss, text):
    """∂/∂r of a row bias sums the upstream gradient over the batch; where that gradient is itself a
    broadcast (𝟙 gᵀ), the sum is 𝟙ᵀ 𝟙 = the batch size times g — not g (which a printer reading the
    broadcast as one row would write)."""
    r = eg.tensor("r", 1)
    arrays = batch | {"r": np.arange(4.0)}
    L = loss(r)
    g = eg.grad(L, r)
    assert g.matrix_notation() == text
    assert_formula_is(g, arrays, central(L, arrays, "r"))


def test_where_no_formula_is_found_the_reason_is_about_the_structure():
    """Σ_k Y[j,k] Z[i,j] N[i,k] (Z ⊙ (N Yᵀ)) mixes a Hadamard and a matrix product over one output index:
    the printer finds no chain and says which index is read twice."""
    Z = eg.tensor("Z", 2)
    g = eg.grad(eg.sum(((X @ W + B) * Z @ Y) ** 2), Z)
    assert g.matrix_notation() is None
    assert g.matrix_notation_reason() == "an output index is read by two matrices"


# LaTeX from the same tree ------------------------------------------------------------------------------
@pytest.mark.parametrize("module", [mx, fm], ids=["matrix", "formula"])
def test_matrix_printing_has_no_regular_expressions(module):
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "re" not in imported


@pytest.mark.parametrize("expr, tex", [
    (eg.grad(eg.sum((X @ W + B) @ Y), W), r"(X^{\top} \mathbf{1}) (Y \mathbf{1})^{\top}"),
    (eg.tensor("X", 2) @ eg.tensor("W1", 2) + eg.tensor("b1", 1), r"X \mathrm{W1} + \mathbf{1} \mathrm{b1}^{\top}"),
    (eg.inv(eg.tensor("Φ", 2)).T @ eg.tensor("x", 1), r"\Phi^{-\top} x"),
    (eg.tanh(eg.tensor("A", 2)) ** 2, r"\tanh(A)^{\circ 2}"),
    (eg.einsum("ji->ij", eg.tanh(eg.tensor("A", 2)) ** 2), r"(\tanh(A)^{\circ 2})^{\top}"),
    (eg.einsum("ij,ij->ij", eg.tensor("A", 2), eg.tensor("B", 2)), r"(A \odot B)"),
])
def test_latex_is_printed_from_the_tree(expr, tex):
    assert expr.matrix_notation(latex=True) == tex
    assert fm.latex(mx.matrix_formula(expr.node)) == tex


def test_a_transposed_power_is_braced_in_latex():
    f = fm.Power(fm.Transpose(fm.Name("A")), 2, True)
    assert fm.latex(f) == r"{A^{\top}}^{\circ 2}" and fm.unicode(f) == "Aᵀ^∘2"


def _latex_formulas():
    L, Ws, bs, out = _mlp()
    Xb = eg.tensor("X", 2)
    Θ, x = eg.tensor("Θ", 2), eg.tensor("x", 1)
    h = eg.function("h_forms")
    exprs = [eg.grad(L, v) for v in Ws + bs + [Xb]] + [out]
    exprs += [eg.grad(eg.sum((X @ W + B) @ Y), v) for v in (X, W, B, Y)]
    exprs += [eg.grad(eg.sum(h(Xb @ Θ)), Θ), eg.grad(eg.logsumexp(Θ @ x), x), eg.grad(eg.norm(Θ @ x), x),
              eg.grad(eg.logdet(Θ), Θ), eg.grad(eg.det(Θ), Θ), eg.softmax(Θ @ x), eg.grad(x @ eg.inv(Θ) @ x, Θ)]
    texts = [e.matrix_notation(latex=True) for e in exprs]
    jac = eg.jacobian(Θ @ Xb, Θ)
    texts.append(fm.latex(fm.Equation((mx.vec_jacobian("Y", "Θ"), mx.kronecker(jac.node, 2)))))
    assert all(texts), [e.matrix_notation_reason() for e, t in zip(exprs, texts) if not t]
    return texts


@pytest.mark.slow
def test_matrix_latex_compiles_with_pdflatex(tmp_path):
    texts = _latex_formulas()
    assert all(t.isascii() for t in texts), [t for t in texts if not t.isascii()][:1]
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (Debian: texlive-latex-base)")
    body = "\n\n".join(rf"\[ {t} \]" for t in texts)
    if _compiles(body, tmp_path):
        failures = {t[:80]: why for t in texts if (why := _compiles(rf"\[ {t} \]", tmp_path))}
        assert not failures, failures


def test_the_vec_form_prints_from_its_tree():
    Wv, xv = eg.tensor("W", 2), eg.tensor("x", 1)
    jac = eg.jacobian(Wv @ xv, Wv)
    tree = mx.kronecker(jac.node, 1)
    assert fm.unicode(tree) == "xᵀ ⊗ I_m" and fm.latex(tree) == r"x^{\top} \otimes I_{m}"
    assert jac.formula("vec") == "∂vec(f)/∂vec(W)ᵀ = xᵀ ⊗ I_m (I_m is the m×m identity, m = |f|)"
    crossed = eg.jacobian(eg.einsum("ij->ji", Wv), Wv)
    assert fm.commutes(mx.kronecker(crossed.node, 2))
    assert "K is the commutation matrix" in crossed.formula("vec")


# broadcasts in many shapes: every formula printed evaluates to the derivative ------------------------------
def _broadcast_cases():
    """Expressions that broadcast (row and column biases, a bias matrix, keepdims sums, scalars), as losses
    and as they are; each with the tensors it reads."""
    Xs, Ws, Zs, Ys = (eg.tensor(n, 2) for n in ("X", "W", "Z", "Y"))
    r, c, s = eg.tensor("r", 1), eg.tensor("c", (5, 1)), eg.tensor("s", 0)
    B = eg.tensor("b", 2)
    forms = [Xs @ Ws + r, Xs @ Ws + B, Xs @ Ws + c, (Xs @ Ws + r) * Zs, eg.tanh(Xs @ Ws + r) * Zs,
             Xs @ Ws - eg.sum(Xs @ Ws, axis=1, keepdims=True), Xs @ Ws - eg.sum(Xs @ Ws, axis=0, keepdims=True),
             (Xs @ Ws + s) * Zs, eg.sigmoid(Xs @ Ws + B) - Zs, (Xs @ Ws + r) ** 2, Zs * r + Xs @ Ws,
             eg.exp(Xs @ Ws + c) * (Zs + r)]
    cases = []
    for f in forms:
        cases.append(f)
        for L in (eg.sum(f), eg.sum(f * Zs), eg.sum(eg.tanh(f)), eg.sum(f @ Ys), eg.sum((f @ Ys) ** 2)):
            cases += [L] + [eg.grad(L, eg.tensor(n, 2 if n in "XWZYb" else 1 if n == "r" else 0 if n == "s" else (5, 1)))
                            for n in sorted(L.tensors)]
    return cases


@pytest.fixture
def shapes_apart(rng):
    """Every length different, so that a transpose or a missing 𝟙 shows: X 5×3, W 3×4, Z 5×4, Y 4×2."""
    shapes = {"X": (5, 3), "W": (3, 4), "Z": (5, 4), "Y": (4, 2), "r": (4,), "c": (5, 1), "b": (5, 4), "s": ()}
    return {n: rng.standard_normal(sh) for n, sh in shapes.items()}


@pytest.mark.slow
def test_every_broadcast_formula_evaluates_to_its_expression(shapes_apart):
    found = 0
    for expr in _broadcast_cases():
        if expr.matrix_notation() is not None:
            assert_formula_is(expr, shapes_apart)
            found += 1
        else:
            assert "broadcast axis that another factor also reads" not in expr.matrix_notation_reason()
    assert found >= 60, found


def test_broadcast_gradients_agree_with_central_differences(shapes_apart):
    Xs, Ws, Zs = (eg.tensor(n, 2) for n in ("X", "W", "Z"))
    r, c = eg.tensor("r", 1), eg.tensor("c", (5, 1))
    L = eg.sum(eg.tanh(Xs @ Ws + r) * Zs + (Xs @ Ws - eg.sum(Xs @ Ws, axis=1, keepdims=True)) ** 2 + c * Zs)
    for v in (Xs, Ws, r, c):
        g = eg.grad(L, v)
        assert_formula_is(g, shapes_apart, central(L, shapes_apart, v.name))


def test_diag_of_a_row_sum_has_one_pair_of_brackets(mlp_arrays):
    Xb, W1, W2, b1 = eg.tensor("X", 2), eg.tensor("W1", 2), eg.tensor("W2", 2), eg.tensor("b1", 1)
    L = eg.sum(eg.tanh(Xb @ W1 + b1) @ W2)
    g = eg.grad(L, W1)
    assert g.matrix_notation() == "Xᵀ (1 - tanh(X W1 + 𝟙 b1ᵀ)^∘2) diag(W2 𝟙)"
    assert_formula_is(g, mlp_arrays, central(L, mlp_arrays, "W1"))


def test_the_dimensions_question_has_no_ones_of_length_one(rng):
    """L = (X W + b) y with X 1×m, b 1×10, y 10×1: ∂L/∂W = Xᵀ yᵀ and ∂L/∂b = yᵀ (not 𝟙 yᵀ, a 𝟙 of length 1)."""
    Xq, Wq, bq, yq = (eg.tensor(n, s) for n, s in (("X", (1, 4)), ("W", (4, 10)), ("b", (1, 10)), ("y", (10, 1))))
    L = eg.sum((Xq @ Wq + bq) @ yq)
    arrays = {"X": rng.standard_normal((1, 4)), "W": rng.standard_normal((4, 10)), "b": rng.standard_normal((1, 10)),
              "y": rng.standard_normal((10, 1))}
    for v, text in ((Wq, "Xᵀ yᵀ"), (bq, "yᵀ"), (Xq, "(W y)ᵀ")):
        g = eg.grad(L, v)
        assert g.matrix_notation() == text
        assert_formula_is(g, arrays, central(L, arrays, v.name))
