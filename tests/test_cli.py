"""The command line, through subprocess as a user runs it."""
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "einsumgrad", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_jacobian_prints_index_notation_and_layout():
    r = run("jacobian", "ij,j->i", "--wrt", "0", "--names", "W,x")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "∂y[i]/∂W[j,k] = δ[i,j] x[k]"
    assert "shape layout" in r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("flag,expected", [
    ("--latex", r"\frac{\partial y_{i}}{\partial W_{jk}} = \delta_{ij} x_{k}"),
    ("--ascii", "d y[i] / d W[j,k] = delta(i,j) * x[k]"),
    ("--einsum", "'ij,k->ijk' (δ, x)"),
    ("--explain", "7. In matrix notation: ∂L/∂W = g xᵀ, shaped like W; the Jacobian itself is never built"),
])
def test_jacobian_formats(flag, expected):
    r = run("jacobian", "ij,j->i", "--wrt", "0", "--names", "W,x", flag)
    assert r.returncode == 0, r.stderr
    assert expected in r.stdout


@pytest.mark.slow
def test_jacobian_with_shapes_evaluates():
    r = run("jacobian", "ij,j->i", "--names", "W,x", "--shapes", "2x3,3", "--layout", "vec")
    assert r.returncode == 0, r.stderr
    assert "J (vec layout), shape (2, 6)" in r.stdout


@pytest.mark.slow
def test_grad_and_hessian():
    r = run("grad", "sum(tanh(einsum('ij,j->i', W, x)))", "--wrt", "W", "--matrix")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["∂f/∂W[i,j] = x[j] (1 - tanh(Σ_k W[i,k] x[k])²)",
                                     "matrix notation: (1 - tanh(W x)^∘2) xᵀ"]
    r = run("hessian", "einsum('i,ij,j->', x, A, x)", "--wrt", "x", "--matrix", "--shapes", "x=3,A=3x3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("∂²f/∂x[i]∂x[j] = A[i,j] + A[j,i]\nmatrix notation: A + Aᵀ\n")
    assert "PASS" in r.stdout
    r = run("grad", "0.5 * sum((Y - tanh(X @ T))**2)", "--wrt", "T", "--explain")
    assert r.returncode == 0 and "In matrix notation" in r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", ["wx", "tanh", "trace", "orthogonality"])
def test_demos_run_and_pass(name):
    r = run("demo", name)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert "checks passed." in r.stdout


@pytest.mark.slow
def test_default_demo_and_list():
    r = run("demo")
    assert r.returncode == 0 and "12 entries, 6 non-zero" in r.stdout
    r = run("demo", "--list")
    assert r.returncode == 0 and "orthogonality" in r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("args", [(), ("jacobian",), ("grad",), ("hessian",), ("demo",)])
def test_help_everywhere(args):
    r = run(*args, "--help")
    assert r.returncode == 0
    assert "usage: einsumgrad" in r.stdout
    if args:
        assert "examples:" in r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (("jacobian", "i%j->i"), "invalid character '%' in einsum spec, at column 2 of 'i%j->i'"),
    (("jacobian", "ij,j->i", "--wrt", "5"), "wrt=5 is out of range"),
    (("jacobian", "ij,j->i", "--shapes", "2x3,4"), "index 'j' has size 4 in operand 1 (B) but size 3 in operand 0 (A)"),
    (("jacobian", "ij,j->i", "--shapes", "2xq"), "a shape is sizes joined by 'x'"),
    (("grad", "x +", "--wrt", "x"), "expected a name, a number or '(', found the end of the expression"),
    (("grad", "__import__('os')", "--wrt", "x"), "unknown function '__import__'"),
    (("grad", "x @ x", "--wrt", "y"), "--wrt y: no tensor of that name in the expression"),
    (("grad", "W @ x", "--wrt", "x"), "grad needs a scalar expression; this one has rank 1: write sum"),
    (("demo", "nope"), "unknown demo 'nope'"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("einsumgrad: error: ") and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["demo"], ["grad", "sum(tanh(W @ x))", "--wrt", "W", "--shapes", "W=3x4,x=4"]])
def test_a_reader_that_goes_away_gets_no_traceback(argv):
    """`einsumgrad demo | head -1` printed a BrokenPipeError traceback."""
    child = subprocess.Popen([sys.executable, "-m", "einsumgrad", *argv], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    child.stdout.close()  # the reader is gone before anything is written
    err = child.stderr.read().decode()
    assert child.wait() == 0 and "Traceback" not in err and "BrokenPipe" not in err, err


@pytest.mark.slow
def test_advice_speaks_the_command_line_s_language():
    r = run("grad", "W @ x", "--wrt", "W")
    assert r.returncode == 2 and "write sum(...) around it" in r.stderr
    assert "eg." not in r.stderr and r.stderr.count("\n") == 1
