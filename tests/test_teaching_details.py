"""Issue 21, items 6, 7 and 13: the identity of a Kronecker product carries its size (I_m), the
numerator layout of a gradient by a vector is the textbook's row, and the teaching output's details
(one letter per axis, labels a reader can read, no tautologies, the CLI's --ascii and exit codes,
the page's own words in its errors)."""
import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.doors import cli

RNG = np.random.default_rng(21)


def _cli(capsys, *argv):
    status = cli.main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


# item 6: ∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I_m, m the length of y


def test_the_kronecker_identity_carries_its_size_in_python():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    assert eg.jacobian(W @ x, W).formula("vec") == "∂vec(f)/∂vec(W)ᵀ = xᵀ ⊗ I_m (I_m is the m×m identity, m = |f|)"
    assert eg.jacobian("ij,j->i", names="W,x").formula("vec").startswith("∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I_m (")
    X, A, B = (eg.tensor(n, 2) for n in "XAB")
    assert eg.jacobian(X @ B, X).formula("vec").startswith("∂vec(f)/∂vec(X)ᵀ = Bᵀ ⊗ I_m (I_m is the m×m identity, "
                                                           "f being m×p)")
    assert eg.jacobian(A @ X, X).formula("vec").startswith("∂vec(f)/∂vec(X)ᵀ = I_p ⊗ A (I_p is the p×p identity")


def test_a_known_size_is_the_identitys_subscript_and_the_formula_evaluates():
    W, x = eg.tensor("W", (2, 3)), eg.tensor("x", (3,))
    assert eg.jacobian(W @ x, W).formula("vec") == "∂vec(f)/∂vec(W)ᵀ = xᵀ ⊗ I_2"
    W0, x0 = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
    J = eg.evaluate(eg.jacobian(W @ x, W), W=W0, x=x0).reshape(2, -1, order="F")
    np.testing.assert_allclose(J, np.kron(x0[None, :], np.eye(2)))  # xᵀ ⊗ I_2


def test_the_kronecker_steps_name_the_identity_in_unicode_and_latex(capsys):
    status, out, _ = _cli(capsys, "jacobian", "W @ x", "--wrt", "W", "--layout", "vec", "--explain")
    assert status == 0 and "∂vec(f)/∂vec(W)ᵀ = xᵀ ⊗ I_m\n" in out and "here I_m is the m×m identity, m = |f|" in out
    assert "∂L/∂vec(W)ᵀ = gᵀ (xᵀ ⊗ I_m) = vec(g xᵀ)ᵀ" in out
    status, out, _ = _cli(capsys, "jacobian", "W @ x", "--wrt", "W", "--layout", "vec", "--explain", "--latex")
    assert status == 0 and r"x^{\top} \otimes I_{m}" in out and r"\mathrm{I\_m}" not in out


# item 7: the numerator layout of a gradient by a vector is the textbook's row ∂L/∂y W, kept 1-D


def _chain():
    W, x, g = eg.tensor("W", (2, 3)), eg.tensor("x", (3,)), eg.tensor("g", (2,))
    a = {"W": RNG.standard_normal((2, 3)), "x": RNG.standard_normal(3), "g": RNG.standard_normal(2)}
    return W, x, g, a


def test_the_numerator_gradient_by_a_vector_is_the_row_in_python():
    W, x, g, a = _chain()
    row = eg.grad(g @ (W @ x), x, layout="numerator")
    assert row.matrix_notation() == "gᵀ W" and row.matrix_notation(latex=True) == r"g^{\top} W"
    assert eg.grad(g @ (W @ x), x).matrix_notation() == "Wᵀ g"  # the shape layout: the column, like x
    value = eg.evaluate(row, **a)
    assert value.shape == (3,)  # 1-D: x - η row keeps x's shape
    np.testing.assert_allclose(value, a["g"] @ a["W"])
    s = eg.tensor("s", ())
    assert eg.jacobian(W @ x * s, s, layout="denominator").matrix_notation() == "xᵀ Wᵀ"  # ∂y/∂s's row
    assert eg.jacobian(W @ x * s, s, layout="numerator").matrix_notation() == "W x"


def test_the_textbooks_chain_rule_multiplies_rows_by_jacobians():
    """∂L/∂x = ∂L/∂y ∂y/∂x in the numerator layout: a row (1×m) times an m×n Jacobian, with NumPy's @."""
    W, x, g, a = _chain()
    y = eg.tanh(W @ x)
    L = g @ y
    y0 = np.tanh(a["W"] @ a["x"])
    dL_dy = eg.evaluate(eg.grad(g @ eg.tensor("y", (2,)), "y", layout="numerator"), g=a["g"], y=y0)
    dy_dx = eg.evaluate(eg.jacobian(y, x, layout="numerator"), **{n: a[n] for n in "Wx"})
    np.testing.assert_allclose(dL_dy @ dy_dx, eg.evaluate(eg.grad(L, x, layout="numerator"), **a))


def test_the_numerator_row_on_the_command_line_and_in_the_einsum_jacobian(capsys):
    status, out, _ = _cli(capsys, "grad", "g @ (W @ x)", "--wrt", "x", "--layout", "numerator", "--matrix")
    assert status == 0 and "matrix notation: gᵀ W\n" in out
    assert ("Wikipedia's numerator layout: the row J[i], 1×|x|, as the textbooks write it; kept a 1-D array of |x| "
            "(NumPy's vectors have no orientation: row @ J is the chain rule's product)") in out
    J = eg.jacobian("i,ij,j->", names="g,W,x", wrt=2, layout="numerator")
    assert "Wikipedia's numerator layout: the row J[i], 1×|x|" in str(J)
    assert "the row" not in str(eg.jacobian("ij,j->i", names="W,x", wrt=1, layout="numerator"))  # m×n
    status, out, _ = _cli(capsys, "grad", "g @ (W @ x)", "--wrt", "x", "--layout", "numerator", "--explain")
    assert status == 0 and "Wikipedia's numerator layout, the textbooks' (∂f/∂x = ∂f/∂y ∂y/∂x, rows times " \
                           "Jacobians), writes the row gᵀ W, 1×n" in out


# item 13: teaching output details


def test_the_orthogonality_demo_names_each_axis_with_one_letter(capsys):
    from einsumgrad.doors.demos import demo_orthogonality

    assert demo_orthogonality() == 0
    out = capsys.readouterr().out
    assert "L = Σ_i,j,k β abs(Σ_l Φ[l,i,j] Φ[l,i,k] - δ[j,k])" in out  # i along m (which Φ_i), j, k along n
    assert "∂L/∂Φ[l,i,j] = Σ_k 2 Φ[l,i,k] β sign(Σ_m Φ[m,i,j] Φ[m,i,k] - δ[j,k])" in out  # the same i, j; l along l
    assert "∂L/∂Φ[i,j,k]" not in out


def test_explain_takes_the_indices_of_the_variable():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    steps = eg.explain(eg.sum(eg.tanh(W @ x)), W, indices="ab").steps
    assert any(s.line.startswith("∂f/∂W[a,b] = x[b] (1 - tanh(") for s in steps)
    a = {"W": RNG.standard_normal((2, 3)), "x": RNG.standard_normal(3)}
    result = next(s for s in steps if s.rule.startswith("Result"))
    np.testing.assert_allclose(eg.evaluate(result.expr, **a), np.outer(1 - np.tanh(a["W"] @ a["x"]) ** 2, a["x"]))
    with pytest.raises(eg.EinsumgradError, match="give 2 different index names"):
        eg.explain(eg.sum(eg.tanh(W @ x)), W, indices="aa")


def _drawn(monkeypatch, module):
    calls = []
    monkeypatch.setattr(module, "draw" if hasattr(module, "draw") else "plot",
                        lambda value, path, title, **kw: calls.append((np.shape(value), title, kw)))
    return calls


def test_plot_labels_are_mathtext_and_vec_positions(monkeypatch, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from matplotlib.mathtext import MathTextParser

    from einsumgrad.doors import demos
    from einsumgrad.notation import plot as plot_module

    calls = _drawn(monkeypatch, demos)
    assert demos.demo_orthogonality(plot=str(tmp_path / "o.png")) == 0
    (_, _, kw), = calls
    label = kw["axes"][1]
    assert "Φ_i" not in label and r"$\Phi_i$" in label
    MathTextParser("path").parse(label[label.index("$"):label.rindex("$") + 1])  # matplotlib reads it
    calls = _drawn(monkeypatch, plot_module)
    status, _, _ = _cli(capsys, "jacobian", "ij,j->i", "--names", "W,x", "--layout", "vec", "--shapes", "2x3,3",
                        "--plot", str(tmp_path / "v.png"))
    (shape, _, kw), = calls
    assert status == 0 and shape == (2, 6)
    assert kw["axes"] == ("position in vec(y)", "position in vec(W) (its columns stacked)")


def test_a_bare_tensor_prints_as_itself_not_a_tautology():
    W1 = eg.tensor("W1", 2)
    assert str(W1) == "W1[i,j]" and repr(W1) == "<Expression W1[i,j]>"
    assert W1.latex() == r"\mathrm{W1}_{ij}" and W1.ascii() == "W1[i,j]"
    assert str(eg.scalar("β")) == "β"
    assert str(W1.T) == "y[j,i] = W1[i,j]" and str(W1 @ eg.tensor("x", 1)).startswith("y[i] = Σ_j ")
    np.testing.assert_allclose(eg.evaluate(eg.parse(str(W1)), W1=np.eye(2)), np.eye(2))


@pytest.mark.parametrize("make, printed", [
    (lambda W, X, x: eg.softmax(W @ x), "y[i] = softmax_i(Σ_j W[i,j] x[j])"),
    (lambda W, X, x: eg.softmax(W @ X), "y[i,j] = softmax_j(Σ_k W[i,k] X[k,j])"),
    (lambda W, X, x: eg.softmax(W @ X, axis=0), "y[i,j] = softmax_i(Σ_k W[i,k] X[k,j])"),
    (lambda W, X, x: eg.log_softmax(W @ X), "y[i,j] = log_softmax_j(Σ_k W[i,k] X[k,j])"),
    (lambda W, X, x: eg.logsumexp(W @ X, axis=1), "y[i] = logsumexp_j(Σ_k W[i,k] X[k,j])"),
    (lambda W, X, x: eg.max(W @ X, axis=0), "y[i] = max_j(Σ_k W[j,k] X[k,i])"),
])
def test_a_function_along_an_axis_names_the_axis_and_reads_back(make, printed):
    W, X, x = eg.tensor("W", (2, 3)), eg.tensor("X", (3, 4)), eg.tensor("x", (3,))
    e = make(W, X, x)
    assert str(e) == printed and "->" not in e.ascii() and "->" not in e.latex()
    a = {"W": RNG.standard_normal((2, 3)), "X": RNG.standard_normal((3, 4)), "x": RNG.standard_normal(3)}
    for text in (str(e), e.ascii()):
        back = eg.parse(text, shapes={"W": (2, 3), "X": (3, 4), "x": (3,)})
        used = {n: v for n, v in a.items() if n in eg.compile(back).accepted}
        np.testing.assert_allclose(eg.evaluate(back, **used), eg.evaluate(e, **{n: a[n] for n in used}))


def test_softmax_in_latex_and_in_a_gradient():
    W, x, g = eg.tensor("W", (2, 3)), eg.tensor("x", (3,)), eg.tensor("g", (2,))
    assert eg.softmax(W @ x).latex() == r"y_{i} = \operatorname{softmax}_{i}\left(\sum_{j} W_{ij} x_{j}\right)"
    G = eg.grad(eg.softmax(W @ x) @ g, W)
    assert "softmax_i(Σ_k W[i,k] x[k])" in str(G) and "->" not in str(G)


def test_explain_with_ascii_prints_plain_ascii(capsys):
    for argv in (("grad", "0.5 * sum((Y - h(X @ Θ))**2)", "--wrt", "Θ", "--explain", "--ascii"),
                 ("grad", "0.5 * sum((Y - h(X @ Θ))**2)", "--wrt", "Θ", "--differential", "--ascii"),
                 ("jacobian", "W @ x", "--wrt", "W", "--layout", "vec", "--explain", "--ascii"),
                 ("grad", "β * sum(abs(einsum('lmj,lmk->mjk', Φ, Φ) - I))", "--wrt", "Φ", "--explain", "--ascii")):
        status, out, _ = _cli(capsys, *argv)
        assert status == 0 and out.isascii(), (argv, [c for c in out if not c.isascii()][:5])
        assert "1. " in out and "sum_" in out
    status, out, _ = _cli(capsys, "jacobian", "W @ x", "--wrt", "W", "--layout", "vec", "--explain", "--ascii")
    assert "dvec(f)/dvec(W)^T = x^T kron I_m" in out and "d f[i] / d W[j,k] = delta(i,j) * x[k]" in out


def test_a_function_of_your_own_with_shapes_answers_and_exits_0(capsys):
    argv = ("grad", "0.5 * sum((Y - h(X @ Θ))**2)", "--wrt", "Θ", "--shapes", "X=4x3,Θ=3x2,Y=4x2")
    status, out, err = _cli(capsys, *argv)
    assert status == 0 and out.startswith("∂f/∂Θ[i,j] = -Σ_k X[k,i] h′(")
    assert "einsumgrad: note: no values or check: h and h′ are functions of your own, with no implementation to " \
           "evaluate; the answer above is symbolic" in err and "error" not in err
    status, out, err = _cli(capsys, "grad", "--index-input", "L = Σ_i,j ½ (Y[i,j] - h(Σ_k X[i,k] Θ[k,j]))²",
                            "--wrt", "Θ", "--shapes", "X=4x3,Θ=3x2,Y=4x2")
    assert status == 0 and "no values or check" in err


def test_the_pages_messages_name_the_pages_controls():
    from einsumgrad.doors.web import answer

    def error(**change):
        request = {"expression": "sum(W @ x)", "wrt": "W", "kind": "gradient", "shapes": "W=2x3,x=3", **change}
        return answer.respond(request)["error"]

    page = [error(expression="tanh(W @ x)"), error(wrt="q"), error(shapes="W=2x3,x=3,z=3"), error(shapes="W=2x3"),
            error(expression="Θ", wrt="L", shapes="Θ=3x2")]
    assert page[0].startswith("the gradient needs a scalar expression; this one has rank 1: write sum(...) around it "
                              "in the Expression box, or choose jacobian as the Derivative")
    assert page[1] == "q in the By box: no tensor of that name in the expression (it has W, x)"
    assert page[2].startswith("the Shapes box names z") and page[3].startswith("the Shapes box needs a shape")
    assert page[4].startswith("L in the By box: Θ is a tensor, not a function of L")
    assert not any(w in m for m in page for w in ("--", "eg.", "einsumgrad "))
    notes = answer.respond({"expression": "sum(W @ x)", "wrt": "W", "shapes": ""})["notes"]
    assert notes[0].endswith("give its shape, e.g. W=3x4 in the Shapes box")
