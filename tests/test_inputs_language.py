"""Issue 12, input side: scalars, the identity, Unicode names, ranks inferred from use, functions of
your own (h, h′, h″), basic indexing, chosen index letters, and the derivative by a scalar expression —
each checked against central differences, closed forms and the command line."""
import subprocess
import sys

import numpy as np
import pytest

import einsumgrad as eg
from einsumgrad.doors.language import parse_expression, read_expression
from oracles import central_difference

RNG = np.random.default_rng(12)


def run(*args):
    return subprocess.run([sys.executable, "-m", "einsumgrad", *args], capture_output=True, text=True, timeout=120)


def assert_gradient(L, wrt, at: dict, closed=None):
    """∂L/∂wrt against central differences in a random direction (and a closed form, if given)."""
    name = wrt.name
    g = eg.evaluate(eg.grad(L, wrt), **at)
    direction = RNG.standard_normal(at[name].shape)
    numeric = central_difference(lambda v: eg.evaluate(L, **{**at, name: v}), at[name], direction)
    np.testing.assert_allclose(np.sum(g * direction), numeric, rtol=1e-6, atol=1e-8)
    if closed is not None:
        np.testing.assert_allclose(g, closed, atol=1e-10)
    return g


# --- the orthogonality loss: β Σ_i |Φ_iᵀ Φ_i − I|, Φ of shape l×m×n, Φ_i = Φ[:, i, :] ---

def orthogonality_closed_form(P, beta):
    """2β Φ_i sign(Φ_iᵀΦ_i − I) for each i, with Φ_i = P[:, i, :] (l×n)."""
    G = np.einsum("lmj,lmk->mjk", P, P) - np.eye(P.shape[2])
    return 2 * beta * np.einsum("lmj,mjk->lmk", P, np.sign(G))


def test_orthogonality_loss_in_python():
    Φ, β = eg.tensor("Φ", 3), eg.scalar("β")
    L = β * eg.sum(eg.abs(eg.einsum("lmj,lmk->mjk", Φ, Φ) - eg.eye(Φ.shape[2])))
    assert "δ[j,k]" in str(L)
    at = {"Φ": RNG.standard_normal((4, 3, 2)), "β": 0.7}
    g = assert_gradient(L, Φ, at, orthogonality_closed_form(at["Φ"], 0.7))
    assert g.shape == (4, 3, 2)


@pytest.mark.slow
def test_orthogonality_loss_through_the_command_line():
    text = "β * sum(abs(einsum('lmj,lmk->mjk', Φ, Φ) - I))"
    r = run("grad", text, "--wrt", "Φ", "--shapes", "Φ=4x3x2,β=")
    assert r.returncode == 0, r.stderr
    assert "δ[" in r.stdout and "shape (4, 3, 2)" in r.stdout and "PASS" in r.stdout and r.stderr == ""
    L = parse_expression(text, {"Φ": (4, 3, 2), "β": ()})
    at = {"Φ": RNG.standard_normal((4, 3, 2)), "β": np.array(1.3)}
    assert_gradient(L, eg.tensor("Φ", (4, 3, 2)), at, orthogonality_closed_form(at["Φ"], 1.3))


# --- ½‖Y − h(XΘ)‖²: Y a matrix, h generic or tanh ---

def half_sse_closed_form(X, Y, T, h, dh):
    Z = X @ T
    return X.T @ ((h(Z) - Y) * dh(Z))


@pytest.mark.parametrize("spelling", ["generic", "tanh"])
def test_half_sse_in_python(spelling):
    X, Y, Θ = eg.tensor("X", 2), eg.tensor("Y", 2), eg.tensor("Θ", 2)
    dtanh = lambda z: 1 - np.tanh(z) ** 2  # noqa: E731
    h = eg.function("h_sse", np.tanh, dtanh) if spelling == "generic" else eg.tanh
    L = 0.5 * eg.sum((Y - h(X @ Θ)) ** 2)
    at = {"X": RNG.standard_normal((5, 3)), "Y": RNG.standard_normal((5, 2)), "Θ": RNG.standard_normal((3, 2))}
    g = assert_gradient(L, Θ, at, half_sse_closed_form(at["X"], at["Y"], at["Θ"], np.tanh, dtanh))
    assert g.shape == (3, 2)


def test_half_sse_with_a_function_of_your_own_prints_h_prime():
    X, Y, Θ = eg.tensor("X", 2), eg.tensor("Y", 2), eg.tensor("Θ", 2)
    h = eg.function("h_print")
    L = 0.5 * eg.sum((Y - h(X @ Θ)) ** 2)
    assert str(eg.grad(L, Θ)) == "∂f/∂Θ[i,j] = -Σ_k X[k,i] h_print′(Σ_l X[k,l] Θ[l,j]) (Y[k,j] - h_print(Σ_l X[k,l] Θ[l,j]))"
    assert eg.grad(L, Θ).matrix_notation() == "-Xᵀ (h_print′(X Θ) ⊙ (Y - h_print(X Θ)))"
    assert "h_print″" in str(eg.hessian(L, Θ))
    with pytest.raises(eg.EinsumgradError, match=r"function 'h_print′' has no implementation.*eg.function\('h_print'"):
        eg.evaluate(eg.grad(L, Θ), X=np.ones((2, 2)), Y=np.ones((2, 2)), Θ=np.ones((2, 2)))


@pytest.mark.slow
def test_half_sse_through_the_command_line_infers_Y_as_a_matrix():
    r = run("grad", "0.5 * sum((Y - h(X @ Θ))**2)", "--wrt", "Θ", "--matrix")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == "matrix notation: -Xᵀ (h′(X Θ) ⊙ (Y - h(X Θ)))"
    assert "h is not a known function" in r.stderr and "Y" not in r.stderr.replace("you", "")
    r = run("grad", "0.5 * sum((y - tanh(X @ Theta))**2)", "--wrt", "Theta", "--shapes", "X=5x3,y=5x2,Theta=3x2")
    assert r.returncode == 0 and "PASS" in r.stdout and "shape (3, 2)" in r.stdout, r.stderr
    r = run("grad", "0.5 * sum((y - tanh(X @ Theta))**2)", "--wrt", "Theta", "--matrix")
    assert "matrix notation: -Xᵀ ((y - tanh(X Theta)) ⊙ (1 - tanh(X Theta)^∘2))" in r.stdout
    assert r.stderr.splitlines() == [
        "einsumgrad: note: X is taken as a matrix (rank 2), a guess from its name; to change it, give its shape, "
        "e.g. --shapes X=3x4",
        "einsumgrad: note: Theta is taken as a matrix (rank 2), a guess from its name; to change it, give its shape, "
        "e.g. --shapes Theta=3x4"]


# --- ranks from use ---

@pytest.mark.parametrize("text,ranks,guessed", [
    ("0.5 * sum((y - tanh(X @ T))**2)", {"y": 2, "X": 2, "T": 2}, ("X", "T")),
    ("beta * sum(einsum('ij,jk->ik', A, A))", {"beta": 0, "A": 2}, ()),
    ("sum(logdet(s) * w)", {"s": 2, "w": 0}, ()),
    ("sum(x + y)", {"x": 1, "y": 1}, ("x",)),
    ("sum(P[:, 0, 1])", {"P": 3}, ("P",)),
])
def test_ranks_are_inferred_from_use(text, ranks, guessed):
    reading = read_expression(text)
    assert {v.name: len(v.shape) for v in reading.expression.node.leaves} == ranks
    assert tuple(n for n, _ in reading.guessed) == guessed


def test_shapes_stay_authoritative():
    reading = read_expression("beta * sum(X)", {"beta": (3,)})
    assert {v.name: v.shape for v in reading.expression.node.leaves}["beta"] == (3,)


@pytest.mark.slow
def test_a_wrong_guess_is_named_in_the_error():
    r = run("grad", "W @ x", "--wrt", "x")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "ranks guessed from names: W a matrix (rank 2), x a vector (rank 1); give --shapes" in r.stderr


# --- scalars, the identity, Unicode ---

def test_scalar_and_eye():
    β, P = eg.scalar("β"), eg.tensor("P", (5, 3))
    assert β.shape == () and str(eg.eye(3)) == "y[i,j] = δ[i,j]"
    L = β * eg.sum((P.T @ P - eg.eye(P.shape[1])) ** 2)
    P0 = RNG.standard_normal((5, 3))
    closed = 4 * 0.3 * P0 @ (P0.T @ P0 - np.eye(3))
    assert_gradient(L, P, {"P": P0, "β": 0.3}, closed)
    np.testing.assert_array_equal(eg.evaluate(eg.eye(P.shape[1])), np.eye(3))
    Q = eg.tensor("Q", 2)  # a size known only from Q's array
    np.testing.assert_array_equal(eg.evaluate(eg.eye(Q.shape[1]), Q=np.ones((2, 4))), np.eye(4))


def test_the_identity_has_derivative_zero():
    x = eg.tensor("x", 1)
    J = eg.jacobian(eg.eye(x.shape[0]) + 0 * x, x)
    assert not J.terms


@pytest.mark.parametrize("text,match", [
    ("sum(I)", "size of the identity I is not known here"),
    ("sum(-I + X)", "size of the identity I is not known here"),
    ("sum(eye(x))", "eye takes one whole number"),
])
def test_identity_errors(text, match):
    with pytest.raises(eg.ExpressionSyntaxError, match=match):
        parse_expression(text)


@pytest.mark.slow
def test_identity_in_the_language_takes_its_size_from_its_neighbour():
    r = run("grad", "sum((P.T @ P - I)**2)", "--wrt", "P", "--shapes", "P=5x3")
    assert r.returncode == 0 and "δ[" in r.stdout and "PASS" in r.stdout, r.stderr
    r = run("grad", "sum((X - I)**2)", "--wrt", "X", "--shapes", "X=3x4")
    assert r.returncode == 2 and "the identity I is square, but the matrix beside it is 3x4" in r.stderr
    assert "PASS" in run("grad", "sum((X - eye(3))**2)", "--wrt", "X", "--shapes", "X=3x3").stdout


@pytest.mark.parametrize("n,match", [(-1, "eye\\(n\\) takes a size"), (2.5, "eye\\(n\\) takes a size"),
                                     (True, "eye\\(n\\) takes a size")])
def test_eye_errors(n, match):
    with pytest.raises(eg.EinsumgradError, match=match):
        eg.eye(n)


@pytest.mark.slow
def test_unicode_names_everywhere():
    Θ = eg.tensor("Θ", 2)
    assert str(eg.grad(eg.sum(Θ * Θ), Θ)) == "∂f/∂Θ[i,j] = 2 Θ[i,j]"
    r = run("grad", "sum(Θ * Θ)", "--wrt", "Θ", "--shapes", "Θ=2x2")
    assert r.returncode == 0 and "PASS" in r.stdout, r.stderr
    r = run("grad", "sum(ϕ * ϕ)", "--wrt", "ϕ", "--shapes", "ϕ=2")  # Python reads ϕ as φ: so do --wrt and --shapes
    assert r.returncode == 0 and "PASS" in r.stdout, r.stderr
    with pytest.raises(eg.EinsumgradError, match="Python-style identifier"):
        eg.tensor("Θ-1", 2)


# --- functions of your own ---

def test_function_of_your_own_evaluates_with_derivatives():
    x = eg.tensor("x", 1)
    g = eg.function("g_own", np.sin, np.cos, lambda a: -np.sin(a))
    f = eg.sum(g(x) * x)
    x0 = RNG.standard_normal(4)
    assert_gradient(f, x, {"x": x0}, np.sin(x0) + x0 * np.cos(x0))
    H = eg.evaluate(eg.hessian(f, x), x=x0)
    np.testing.assert_allclose(H, np.diag(2 * np.cos(x0) - x0 * np.sin(x0)), atol=1e-12)
    eg.function("g_own", np.exp, np.exp)  # defined again: the new implementation is used, h″ forgotten
    np.testing.assert_allclose(eg.evaluate(eg.grad(f, x), x=x0), np.exp(x0) + x0 * np.exp(x0))
    with pytest.raises(eg.EinsumgradError, match="function 'g_own″' has no implementation"):
        eg.evaluate(eg.hessian(f, x), x=x0)


@pytest.mark.parametrize("call,match", [
    (lambda: eg.function("tanh", np.tanh, np.cos), "'tanh' is a built-in function"),
    (lambda: eg.function("k_own", None, np.cos), "give the implementation first"),
    (lambda: eg.function("k_own", 3), "must be callable"),
    (lambda: eg.function("not a name"), "a function name is an identifier"),
])
def test_function_errors(call, match):
    with pytest.raises(eg.EinsumgradError, match=match):
        call()


def test_registered_functions_are_unchanged():
    assert eg.function("tanh") is eg.tanh and "h_print" not in dir(eg)


# --- basic indexing ---

@pytest.mark.parametrize("key", [(slice(None), 0, 1), 0, -1, (Ellipsis, 1), (1, None), (slice(1, 3),),
                                 (slice(None, None, -2),), (slice(-2, None), Ellipsis, 0), (Ellipsis, None)])
def test_indexing_matches_numpy_and_differentiates(key):
    P = eg.tensor("P", (4, 3, 2))
    P0 = RNG.standard_normal((4, 3, 2))
    np.testing.assert_allclose(eg.evaluate(P[key], P=P0), P0[key])
    W = RNG.standard_normal(P0[key].shape)
    L = eg.sum(P[key] ** 2 * eg.tensor("W", len(W.shape)))
    closed = np.zeros_like(P0)
    closed[key] = 2 * P0[key] * W
    assert_gradient(L, P, {"P": P0, "W": W}, closed)


def test_indexing_symbolic_sizes_and_printing():
    x, P = eg.tensor("x", 1), eg.tensor("P", 3)
    assert str(x[1:3]) == "y[j] = x[j+1]"
    assert str(eg.grad(eg.sum(P[:, 0, 1]), P)) == "∂f/∂P[i,j,k] = δ[j,0] δ[k,1]"
    np.testing.assert_allclose(eg.evaluate(x[-2:], x=np.arange(5.0)), [3.0, 4.0])
    with pytest.raises(eg.ShapeError, match=r"positions 1\.\.2 \(a slice\) is out of range for axis 0 .* size 2"):
        eg.evaluate(x[1:3], x=np.ones(2))
    with pytest.raises(eg.ShapeError, match=r"index 5 is out of range for axis 1 .* size 3"):
        eg.evaluate(P[:, 5], P=np.ones((2, 3, 2)))


@pytest.mark.parametrize("key,match", [
    (5, r"index 5 is out of range for axis 0 of an expression of shape \(4, 3\), which has size 4"),
    ((0, -4), r"index -4 is out of range for axis 1 .* size 3"),
    ((0, 0, 0), "too many indices: 3 for an expression of rank 2"),
    (1.5, "an index is an int, a slice"),
    ((Ellipsis, Ellipsis), "single ellipsis"),
    (slice(0, 2, 0), "slice step cannot be zero"),
])
def test_indexing_errors(key, match):
    with pytest.raises(eg.EinsumgradError, match=match):
        eg.tensor("A", (4, 3))[key]


def test_slices_of_unknown_length_are_refused():
    with pytest.raises(eg.ShapeError, match="the slice 1: of axis 0 .* depends on that size; give the tensor a shape"):
        eg.tensor("x", 1)[1:]


@pytest.mark.slow
def test_indexing_in_the_language():
    r = run("grad", "sum(P[:, 0, 1]**2) + sum(x[1:3] * x[-1])", "--wrt", "P", "--shapes", "P=4x3x2,x=5")
    assert r.returncode == 0 and "PASS" in r.stdout and "δ[j,0] δ[k,1]" in r.stdout, r.stderr
    r = run("grad", "sum(x[1:3] * x[-1])", "--wrt", "x", "--shapes", "x=5")
    assert r.returncode == 0 and "PASS" in r.stdout, r.stderr
    r = run("grad", "sum(x[7])", "--wrt", "x", "--shapes", "x=5")
    assert r.returncode == 2 and "index 7 is out of range for axis 0" in r.stderr


# --- chosen index letters ---

def test_indices_of_a_derivative():
    Φ = eg.tensor("Φ", 3)
    L = eg.Expression(eg.sum(Φ * Φ).node, "L")
    assert str(eg.grad(L, Φ, indices="lab")) == "∂L/∂Φ[l,a,b] = 2 Φ[l,a,b]"
    assert str(eg.hessian(L, Φ, indices=("l", "a", "b", "p", "q", "r"))) == "∂²L/∂Φ[l,a,b]∂Φ[p,q,r] = 2 δ[l,p] δ[a,q] δ[b,r]"
    assert eg.jacobian(Φ * 2, Φ, indices="ijkpqr").node.out == tuple("ijkpqr")
    for bad in ("la", "laa", "l1b", ("l", "a", 3)):
        with pytest.raises(eg.EinsumgradError, match="give 3 different index names"):
            eg.grad(L, Φ, indices=bad)


def test_indices_avoid_summed_letters():
    A, x = eg.tensor("A", 2), eg.tensor("x", 1)
    g = eg.grad(eg.einsum("i,ij,j->", x, A, x), x, indices="j")
    assert str(g).startswith("∂f/∂x[j] = ")
    x0, A0 = RNG.standard_normal(3), RNG.standard_normal((3, 3))
    np.testing.assert_allclose(eg.evaluate(g, x=x0, A=A0), (A0 + A0.T) @ x0)


# --- ∂Θ/∂L ---

def test_derivative_by_a_scalar_expression_explains_the_gradient():
    X, Y, Θ = eg.tensor("X", 2), eg.tensor("Y", 2), eg.tensor("Θ", 2)
    L = eg.Expression((0.5 * eg.sum((Y - eg.tanh(X @ Θ)) ** 2)).node, "L")
    for call in (eg.grad, eg.jacobian, eg.hessian):
        with pytest.raises(eg.DerivativeError, match=r"wrt is the scalar expression L, not a tensor.*∂L/∂Θ "
                                                      r"\(eg.grad\(L, Θ\)\), shaped like Θ.* Θ ← Θ − η ∂L/∂Θ"):
            call(Θ, L)
    with pytest.raises(eg.DerivativeError, match="wrt must be a tensor"):
        eg.grad(eg.sum(Θ), Θ * 2)


@pytest.mark.slow
def test_wrt_an_expression_in_the_command_line():
    r = run("grad", "0.5 * sum((Y - tanh(X @ Θ))**2)", "--wrt", "0.5 * sum((Y - tanh(X @ Θ))**2)")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "is an expression, not the name of a tensor: derivatives are taken with respect to tensors, here one " \
           "of X, Y, Θ" in r.stderr
    assert "--wrt Θ gives ∂L/∂Θ, shaped like Θ, for the update Θ ← Θ − η ∂L/∂Θ" in r.stderr
