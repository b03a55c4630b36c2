"""Issue 21 items 2-3 for slices: a slice of a derivative (or of a named result) prints its label read at
the slice's positions (``∂L/∂Φ[l,1,0]``, ``z[0]``), a delta of a function's argument read at a fixed
position prints as the identity's entry ``I[j,0]``, and a slice of a slice reads the composed position
(``x[2]``, never ``x[1+1]``); every value unchanged, against central differences and jax."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import einsumgrad as eg
from test_teaching_doors import _compiles
from profiles import examples

RNG = np.random.default_rng(2103)


def _question_3():
    Phi, beta = eg.tensor("Φ", 3), eg.scalar("β")
    L = (beta * eg.sum(eg.abs(eg.einsum("lmj,lmk->mjk", Phi, Phi) - eg.eye(Phi.shape[2])))).named("L")
    return Phi, beta, L, eg.grad(L, Phi, indices="lab")


def _loss(P, beta):
    return beta * np.abs(np.einsum("lmj,lmk->mjk", P, P) - np.eye(P.shape[2])).sum()


def _central_gradient(f, P, eps=1e-6):
    g = np.zeros_like(P)
    for k in np.ndindex(P.shape):
        e = np.zeros_like(P)
        e[k] = eps
        g[k] = (f(P + e) - f(P - e)) / (2 * eps)
    return g


def test_a_slice_of_the_gradient_prints_its_label_at_the_fixed_positions():
    _, _, _, G = _question_3()
    S = G[:, 1, 0]
    assert str(G) == "∂L/∂Φ[l,a,b] = Σ_i 2 Φ[l,a,i] β sign(Σ_j Φ[j,a,b] Φ[j,a,i] - δ[b,i])"
    assert str(S) == "∂L/∂Φ[l,1,0] = Σ_j 2 Φ[l,1,j] β sign(Σ_m Φ[m,1,j] Φ[m,1,0] - I[j,0])"
    assert S.ascii() == "d L / d Φ[l,1,0] = sum_j 2 * Φ[l,1,j] * β * sign(sum_m Φ[m,1,j] * Φ[m,1,0] - I[j,0])"
    assert S.latex() == (r"\frac{\partial L}{\partial \Phi_{l,1,0}} = \sum_{j} 2 \Phi_{l,1,j} \beta "
                         r"\operatorname{sign}\left(\sum_{m} \Phi_{m,1,j} \Phi_{m,1,0} - I_{j,0}\right)")
    assert S.formula("unicode") == str(S) and S.label.shown().indices == ("l", "1", "0")
    assert "δ" not in str(S) and r"\delta" not in S.latex() and S.matrix_notation() is None


def test_slices_of_the_gradient_keep_their_values():
    Phi, _, _, G = _question_3()
    P, beta = RNG.standard_normal((4, 3, 2)), 0.7
    numeric = _central_gradient(lambda Q: _loss(Q, beta), P)
    arrays = {"Φ": P, "β": beta}
    keys = [(slice(None), 1, 0), (slice(None), slice(1, 3), 0), (0, slice(None), -1), (slice(None), 2)]
    for key in keys:
        np.testing.assert_allclose(eg.evaluate(G[key], **arrays), numeric[key], atol=1e-6)
    Pa = P[:, 1, :]
    closed = 2 * beta * Pa @ np.sign(Pa.T @ Pa - np.eye(2))[:, 0]
    np.testing.assert_allclose(eg.evaluate(G[:, 1, 0], **arrays), closed)


def test_a_range_prints_its_positions_as_the_body_reads_them():
    _, _, _, G = _question_3()
    assert str(G[:, 1:3, 0]) == ("∂L/∂Φ[l,i+1,0] = "
                                 "Σ_k 2 Φ[l,i+1,k] β sign(Σ_n Φ[n,i+1,k] Φ[n,i+1,0] - I[k,0])")
    assert G[:, 1:3, 0].latex().startswith(r"\frac{\partial L}{\partial \Phi_{l,i+1,0}} = ")


def test_jacobian_slices_keep_the_derivative_and_the_kronecker_delta_of_a_free_index():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    J = eg.jacobian(W @ x, W)
    assert str(J[:, 1, :]) == "∂f[i]/∂W[1,k] = x[k] δ[i,1]"
    assert str(J[:, 1:3, 0]) == "∂f[i]/∂W[l+1,0] = x[0] δ[i,l+1]"
    assert str(J[0, 1, 2]) == "∂f[0]/∂W[1,2] = 0"  # was "y = x[2]": two ints on one index read as one
    assert str(J[1, 1, 2]) == "∂f[1]/∂W[1,2] = x[2]"
    a = {"W": RNG.standard_normal((3, 4)), "x": RNG.standard_normal(4)}
    dense = eg.evaluate(J, **a)
    for key in [(slice(None), 1), (0, 1, 2), (1, 1, 2), (slice(None), slice(1, 3), 0)]:
        np.testing.assert_allclose(eg.evaluate(J[key], **a), dense[key])
    assert eg.evaluate(J[0, 1, 2], **a) == 0


@pytest.mark.slow
def test_hessian_slices_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    H = eg.hessian(eg.sum(eg.tanh(W @ x)), x)
    assert str(H[0]).startswith("∂²f/∂x[0]∂x[j] = ")
    assert H[0, 1].ascii().startswith("d^2 f / d x[0] d x[1] = ")
    assert H[0, 1].latex().startswith(r"\frac{\partial^{2} f}{\partial x_{0} \partial x_{1}} = ")
    a = {"W": RNG.standard_normal((3, 4)), "x": RNG.standard_normal(4)}
    oracle = np.asarray(jax.hessian(lambda v: jnp.tanh(a["W"] @ v).sum())(a["x"]))
    np.testing.assert_allclose(eg.evaluate(H[0], **a), oracle[0])
    np.testing.assert_allclose(eg.evaluate(H[1:3, 2], **a), oracle[1:3, 2])


def test_a_named_result_keeps_its_name_and_an_unnamed_or_a_tensor_does_not():
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    z = (W @ x).named("z")
    assert str(z[0]) == "z[0] = Σ_j W[0,j] x[j]"
    assert z[0].latex() == r"z_{0} = \sum_{j} W_{0,j} x_{j}"
    assert str((W @ x)[0]) == "y = Σ_j W[0,j] x[j]" and str(x[0]) == "y = x[0]"
    _, beta, L, _ = _question_3()
    assert str(eg.grad(z[0], W)).startswith("∂f/∂W[i,j] = ")  # a slice's derivative is named as its own
    a = {"W": RNG.standard_normal((3, 4)), "x": RNG.standard_normal(4)}
    np.testing.assert_allclose(eg.evaluate(eg.grad(z[0], W), **a), np.outer(np.eye(3)[0], a["x"]))


def test_a_slice_of_a_slice_reads_the_composed_position():
    y = eg.tensor("y", (10,))
    assert str(y[1:7:2][1:][1]) == "f = y[5]" and str(y[2:9][::-2][1:3]) == "f[j] = y[-2j+6]"
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    assert str(eg.jacobian(W @ x, W)[:, 1:3][:, 1]) == "y[i,k] = x[k] δ[i,2]"  # was δ[i,1+1]
    _, _, _, G = _question_3()
    assert "Φ[l,2,j]" in str(G[:, 1:3][:, 1, 0])  # was Φ[l,m+1,j], m unbound
    yy = RNG.standard_normal(10)
    for e, ref in [(y[1:7:2][1:][1], yy[1:7:2][1:][1]), (y[2:9][::-2][1:3], yy[2:9][::-2][1:3]),
                   (y[-6::2][1:3][::-1], yy[-6::2][1:3][::-1])]:
        np.testing.assert_allclose(eg.evaluate(e, y=yy), ref)
    v = eg.tensor("y", 1)  # its length unknown: positions counted from the end stay so
    assert str(v[-5:][1:3][-1]) == "f = y[-3]" and str(v[-6::2][1:3]) == "f[i] = y[2i-4+N]"
    for e, ref in [(v[-5:][1:3][-1], yy[-5:][1:3][-1]), (v[-6::2][1:3], yy[-6::2][1:3]), (v[1:9:3][1], yy[1:9:3][1])]:
        np.testing.assert_allclose(eg.evaluate(e, y=yy), ref)
    P = RNG.standard_normal((4, 3, 2))
    np.testing.assert_allclose(eg.evaluate(G[:, 1:3][:, 1, 0], **{"Φ": P, "β": 0.3}),
                               eg.evaluate(G[:, 2, 0], **{"Φ": P, "β": 0.3}))


@pytest.mark.slow
def test_the_slice_latex_compiles(tmp_path):
    import shutil

    _, _, _, G = _question_3()
    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    outputs = [G[:, 1, 0].latex(), G[:, 1:3, 0].latex(), eg.jacobian(W @ x, W)[0, 1, 2].latex(),
               eg.hessian(eg.sum(eg.tanh(W @ x)), x)[0].latex(), (W @ x).named("z")[0].latex()]
    assert all(s.isascii() for s in outputs) and outputs[0].startswith(r"\frac{\partial L}{\partial \Phi_{l,1,0}}")
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (Debian: texlive-latex-base)")
    assert not _compiles("\n".join(rf"\[ {m} \]" for m in outputs), tmp_path)


@pytest.mark.slow
def test_the_cli_offers_no_slices():
    """The CLI takes no slice (issue 21's slices are Python's); should it grow one, test its label here."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "einsumgrad", "grad", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "slice" not in run.stdout.lower()


_KEYS = st.one_of(st.integers(-4, 3), st.builds(slice, st.one_of(st.none(), st.integers(-5, 5)),
                                                st.one_of(st.none(), st.integers(-5, 5)),
                                                st.one_of(st.none(), st.sampled_from([-2, -1, 1, 2, 3]))))


@settings(max_examples=examples(60), deadline=None)
@given(st.builds(slice, st.integers(0, 3), st.integers(6, 12), st.sampled_from([1, 2])), _KEYS, _KEYS)
def test_composed_selections_read_what_numpy_reads(first, second, third):
    """Two and three successive indexings of a vector (its length known) read NumPy's entries."""
    yy = np.arange(12.0)
    e, a = eg.tensor("y", (12,))[first], yy[first]
    for key in (second, third):
        if a.ndim == 0 or isinstance(key, int) and not -len(a) <= key < len(a):
            break
        e, a = e[key], a[key]
    np.testing.assert_array_equal(eg.evaluate(e, y=yy), a)
