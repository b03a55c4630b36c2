"""Teaching output as the student asked for it: derivations in LaTeX, pictures of Jacobians,
the orthogonality question in its own axis order, and slice titles that say what a slice is."""
import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.notation import slices
from einsumgrad.doors.cli import main
from einsumgrad.doors.demos import DEMOS, NO_PLOT
from einsumgrad.notation.teach import latex_text
from einsumgrad.notation import fragments

WX_LATEX = r"""\begin{enumerate}
\item Write the einsum with its sum explicit:
\[ y_{i} = \sum_{j} W_{ij} x_{j} \]
\item Differentiate each occurrence of W: $\partial W_{ab} / \partial W_{jk} = \delta_{aj} \delta_{bk}$:
\[ \frac{\partial y_{i}}{\partial W_{jk}} = \sum_{l} \delta_{ij} \delta_{lk} x_{l} \]
\item Simplify: the sum over l eliminates $\delta$[l,k]: l becomes k:
\[ \frac{\partial y_{i}}{\partial W_{jk}} = \delta_{ij} x_{k} \]
\item Result, in the shape layout of jax.jacobian and torch ($J_{ijk} = \frac{\partial y_{i}}{\partial W_{jk}}$, shape y.shape + W.shape):
\[ \frac{\partial y_{i}}{\partial W_{jk}} = \delta_{ij} x_{k} \]
$\delta$[i,j] is structure, not a number: J is zero unless i = j, so of its |i|$\cdot$|j|$\cdot$|k| entries at most |i|$\cdot$|k| are non-zero.
\item Chain rule with $g = \partial L / \partial y$ (shaped like y), contracting over i:
\[ \frac{\partial L}{\partial W_{jk}} = \sum_{i} g_{i} \delta_{ij} x_{k} \]
\item Simplify: the sum over i eliminates $\delta$[i,j]: i becomes j:
\[ \frac{\partial L}{\partial W_{jk}} = g_{j} x_{k} \]
\item In matrix notation: $\partial L / \partial W = g x^{\top}$, shaped like W; the Jacobian itself is never built
\end{enumerate}"""

DIFFERENTIAL_LATEX = r"""\begin{enumerate}
\item The loss, with its sums explicit:
\[ L = \sum_{ij} W_{ij} g_{i} x_{j} \]
\item Its differential: the product rule d(A B) = dA B + A dB and, elementwise, d h(u) = h$'$(u) du, with dW for each read of W:
\[ \mathrm{d}L = \sum_{ij} \mathrm{dW}_{ij} g_{i} x_{j} = g^{\top} \mathrm{dW} x \]
\item Collect what multiplies dW into one tensor G shaped like W: the trace (Frobenius) form:
\[ \mathrm{d}L = \langle G, \mathrm{dW} \rangle = \sum_{ij} G_{ij} \mathrm{dW}_{ij} = \operatorname{tr}(G^{\top} \mathrm{dW}) = \operatorname{tr}(x g^{\top} \mathrm{dW}) \]
\item Read off the derivative: dL = $\langle$G, dW$\rangle$ for every dW means $\partial$L/$\partial$W = G:
\[ \frac{\partial L}{\partial W_{ij}} = g_{i} x_{j} = g x^{\top} \]
G is shaped like W: the shape layout (jax, torch) and Wikipedia's denominator layout; Wikipedia's numerator layout writes G$^{\top}$.
\item First order: for a small step $\Delta$W, $\Delta$L $\approx$ $\langle$G, $\Delta$W$\rangle$; with $\Delta$W = $-\eta$ G, $\Delta$L $\approx$ $-\eta$ $\langle$G, G$\rangle$ = $-\eta$ $\|$G$\|^{2}$, below 0 unless G = 0, so W $-$ $\eta$ G lowers L for small enough $\eta$ > 0:
\[ \langle G, G \rangle = \|G\|^{2} = \sum_{ij} G_{ij}^{2} \]
\end{enumerate}"""


def cli(capsys, *args):
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


# -- 1. derivations in LaTeX ---------------------------------------------------------------------------------------

def test_a_jacobian_derivation_in_latex():
    assert eg.jacobian("ij,j->i", names="W,x").explain().latex() == WX_LATEX


def test_jacobian_explain_latex_on_the_command_line(capsys):
    status, out, err = cli(capsys, "jacobian", "ij,j->i", "--names", "W,x", "--explain", "--latex")
    assert status == 0 and err == ""
    assert out == WX_LATEX + "\n"


def test_grad_differential_latex_on_the_command_line(capsys):
    status, out, _ = cli(capsys, "grad", "g @ (W @ x)", "--wrt", "W", "--differential", "--latex")
    assert status == 0 and out == DIFFERENTIAL_LATEX + "\n"


@pytest.mark.parametrize("command", ["grad", "hessian"])
def test_grad_and_hessian_explain_latex_are_latex_not_unicode(capsys, command):
    status, out, _ = cli(capsys, command, "sum(tanh(W @ x))", "--wrt", "W", "--explain", "--latex")
    assert status == 0
    first = {"grad": r"\[ f = \sum_{i} \tanh\left(\sum_{j} W_{ij} x_{j}\right) \]",  # a Hessian: of the gradient
             "hessian": r"\[ \frac{\partial f}{\partial W_{ij}} = x_{j} \left(1 - {\tanh\left(\sum_{k} W_{ik} x_{k}\right)}^{2}\right) \]"}
    assert out.startswith("\\begin{enumerate}\n\\item The expression, with its sums explicit:\n" + first[command] + "\n")
    displayed = [line for line in out.splitlines() if line.startswith("\\[")]
    assert out.endswith("\\end{enumerate}\n") and displayed and not any("Σ" in line for line in displayed)
    without = cli(capsys, command, "sum(tanh(W @ x))", "--wrt", "W", "--explain")[1]
    assert out.count("\\item ") == sum(line[:1].isdigit() for line in without.splitlines())


def test_every_displayed_line_of_a_grad_derivation_is_the_unicode_line_in_latex():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    derivation = eg.explain(eg.sum(eg.tanh(W @ x)), W)
    shown = [s for s in derivation.steps if s.line]
    assert shown and all(s.tex for s in shown)
    assert derivation.steps[2].tex == (r"\frac{\partial f}{\partial W_{ij}} = \sum_{k} \delta_{ki} x_{j} "
                                       r"\left(1 - {\tanh\left(\sum_{l} W_{kl} x_{l}\right)}^{2}\right)")


def test_prose_is_escaped_for_latex():
    assert latex_text(r"Σ_i 50% of {a} #1 & x^2 ~ \ $") == (
        r"$\Sigma$\_i 50\% of \{a\} \#1 \& x\^{}2 \~{} \textbackslash{} \$")


# -- 2. pictures -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,wrt,shapes", [
    ("ij,j->i", "0", "2x3,3"),  # third order: slices J[:, :, k]
    ("ij,j->i", "1", "2x3,3"),  # a matrix
    ("i->", "0", "4"),  # a vector
    (",->", "0", ","),  # a number
    ("ij,j->i", "0", "2x3,3 --layout vec"),  # the vec matrix
])
def test_jacobian_plot_writes_a_png(tmp_path, capsys, spec, wrt, shapes):
    pytest.importorskip("matplotlib")
    path = tmp_path / "J.png"
    shape, *more = shapes.split()
    status, out, err = cli(capsys, "jacobian", spec, "--wrt", wrt, "--shapes", shape, *more, "--plot", str(path))
    assert status == 0, err
    assert f"wrote {path}" in out and path.stat().st_size > 0


@pytest.mark.parametrize("args,message", [
    (("ij,jk->ik", "--shapes", "2x3,3x2"), "--plot draws a Jacobian of rank at most 3 (one heatmap, or the slices "
     "J[:, :, k] of a third-order one); this one has rank 4, shape (2, 2, 2, 3): --layout vec draws it"),
    (("ij,j->i",), "--plot draws the Jacobian's numbers: give --shapes too"),
    (("ij,j->i", "--shapes", "2x3,4"), "index 'j' has size 4 in operand 1 (x) but size 3 in operand 0 (W)"),
    (("i,j->ij", "--wrt", "1", "--shapes", "2,17"), "--plot draws at most 16 slices J[:, :, k] side by side; this Jacobian has 17"),
])
def test_jacobian_plot_refusals_come_before_anything_is_printed(tmp_path, capsys, args, message):
    pytest.importorskip("matplotlib")
    path = tmp_path / "J.png"
    status, out, err = cli(capsys, "jacobian", *args, "--names", "W,x", "--plot", str(path))
    assert status == 2 and out == "" and not path.exists()
    assert err.count("\n") == 1 and err.startswith("einsumgrad: error: ") and message in err, err


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_every_demo_plots_or_says_why_not(tmp_path, capsys, name):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"{name}.png"
    status, out, err = cli(capsys, "demo", name, "--plot", str(path))
    if name in NO_PLOT:
        assert status == 2 and out == "" and not path.exists()
        assert err.count("\n") == 1 and f"demo {name!r} draws no plot: {NO_PLOT[name]}" in err
    else:
        assert status == 0, out[-2000:] + err
        assert f"wrote {path}" in out and path.stat().st_size > 0


def test_plot_refuses_a_fourth_order_tensor(tmp_path):
    from einsumgrad.notation.plot import plot

    with pytest.raises(eg.EinsumgradError, match=r"rank at most 3 .* this one has rank 4, shape \(1, 1, 1, 1\)"):
        plot(np.zeros((1, 1, 1, 1)), str(tmp_path / "x.png"), "four axes")
    assert not (tmp_path / "x.png").exists()


# -- 3. the orthogonality question in its own axis order -------------------------------------------------------

def test_orthogonality_demo_shows_the_slice_the_question_asks_for(capsys):
    status, out, _ = cli(capsys, "demo", "orthogonality")
    assert status == 0, out[-2000:]
    assert "Φ has shape (l, m, n) = (4, 2, 3); Φ_i = Φ[:, i, :] is an l×n matrix" in out
    assert "L = Σ_i,j,k β abs(Σ_l Φ[l,i,j] Φ[l,i,k] - δ[j,k])" in out  # β a scalar, I the identity δ
    assert "∂L/∂Φ[:, a, b] = g[:, 1, 2]" in out
    assert "[ok] g[:, 1, 2] equals 2β Φ_a sign(Φ_aᵀΦ_a − I)[:, b]" in out
    assert "FAILED" not in out


def test_the_orthogonality_slice_equals_the_closed_form(rng):
    l, m, n, a, b, beta = 3, 4, 2, 2, 1, 0.7
    P = rng.standard_normal((l, m, n))
    Phi, β = eg.tensor("Φ", 3), eg.scalar("β")
    L = β * eg.sum(eg.abs(eg.einsum("lij,lik->ijk", Phi, Phi) - eg.eye(Phi.shape[2])))
    value = eg.evaluate(eg.grad(L, Phi)[:, a, b], **{"Φ": P, "β": beta})
    Pa = P[:, a, :]
    assert value.shape == (l,)
    np.testing.assert_allclose(value, 2 * beta * Pa @ np.sign(Pa.T @ Pa - np.eye(n))[:, b])


# -- 4. slice titles say what the slice is ---------------------------------------------------------------------

def test_the_slices_of_dy_dw_are_x_k_times_the_identity():
    form = slices.identity_form(eg.jacobian("ij,j->i", names="W,x").expression().node)
    assert form(("k",)) == "x[k] I" and form((1,)) == "x[1] I"
    assert slices.title("J", (1,), 2.0 * np.eye(2), form) == "J[:, :, 1] = x[1] I = 2 I"
    assert slices.title("J", (0,), -np.eye(2), form) == "J[:, :, 0] = x[0] I = -I"
    assert slices.title("J", (2,), np.zeros((2, 2)), form) == "J[:, :, 2] = x[2] I = 0"
    assert slices.title("J", (2,), np.ones((2, 2))) == "J[:, :, 2]"


@pytest.mark.parametrize("spec,names,expected", [
    ("ij,jk,k->i", "W,A,x", "(Σ_l A[1,l] x[l]) I"),  # a summed multiple is bracketed
    ("ij->i", "W", "I"),  # the delta alone
])
def test_slice_forms_read_from_the_symbolic_jacobian(spec, names, expected):
    form = slices.identity_form(eg.jacobian(spec, names=names).expression().node)
    assert form((1,)) == expected


@pytest.mark.parametrize("make", [
    lambda: eg.jacobian("ij,jk->ik", names="A,B").expression().node,  # δ[i,p] B[q,k]: the delta is not on a slice
    lambda: eg.jacobian("ij,j->i", wrt=1, names="W,x").expression().node,  # rank 2: no slices
    lambda: eg.jacobian(eg.tanh(eg.tensor("W", 2) @ eg.tensor("x", 1)), eg.tensor("W", 2)).node,  # diagonal, not I
])
def test_no_form_where_slices_are_not_multiples_of_the_identity(make):
    assert slices.identity_form(make()) is None


def test_the_wx_demo_titles_its_slices_symbolically(capsys):
    status, out, _ = cli(capsys, "demo", "wx")
    assert status == 0
    assert "Every slice is J[:, :, k] = x[k] I" in out
    assert "J[:, :, 0] = x[0] I = I\n" in out and "J[:, :, 1] = x[1] I = -I\n" in out
    assert "J[:, :, 2] = x[2] I = 2 I\n" in out


def test_html_slices_say_their_symbolic_form():
    J = eg.jacobian("ij,j->i", names="W,x")
    W, x = np.arange(6.0).reshape(2, 3), np.array([1.0, -2.0, 3.0])
    html = fragments.tensor_html(J(W, x), "J", "ijk", slices.identity_form(J.expression().node))
    assert "J[:, :, 1] = x[1] I = -2 I (a multiple of the identity)" in html
    assert "J[:, :, 0] = x[0] I = I (a multiple of the identity)" in html


# -- 5. a size mismatch is reported before anything is printed -------------------------------------------------

@pytest.mark.parametrize("more", [(), ("--explain",), ("--latex",), ("--code", "numpy"), ("--layout", "vec")])
def test_jacobian_size_mismatch_prints_nothing(capsys, more):
    status, out, err = cli(capsys, "jacobian", "ij,j->i", "--names", "W,x", "--shapes", "2x3,4", *more)
    assert status == 2 and out == ""
    assert err == ("einsumgrad: error: index 'j' has size 4 in operand 1 (x) but size 3 in operand 0 (W) "
                   "(spec 'ij,j->i'); sizes must agree, or one be 1\n")
