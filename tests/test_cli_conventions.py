"""The command line's conventions, run as a user runs it: no command is an error (status 2, usage on stderr),
``-`` reads the expression from stdin, ``--json`` prints one object a script can read (checked against closed
forms), and ``completion bash|zsh`` prints scripts that complete the parser's commands, options and choices."""
import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from einsumgrad.doors import question
from einsumgrad.doors.cli import _parser

KEYS = ["schema", "command", "kind", "expression", "wrt", "layout", "text", "latex", "ascii", "einsum", "matrix",
        "matrix_why", "layout_note", "notes", "input_shapes", "seed", "shape", "value", "passed", "max_abs_error",
        "max_rel_error", "eps"]


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "einsumgrad", *args], capture_output=True, text=True, timeout=120,
                          input=stdin)


def strict_json(text: str) -> dict:
    """JSON as the standard defines it: NaN and Infinity refused."""
    def refuse(name):
        raise AssertionError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def arrays(text, wrt, kind, shapes, seed=0):
    """The random arrays the command line draws for this question."""
    return question.arrays(question.read(question.Question(text, wrt, kind, shapes, "", seed)))


@pytest.mark.slow
def test_no_command_is_an_error_with_the_usage_on_stderr():
    r = run()
    assert r.returncode == 2 and r.stdout == ""
    usage, error = r.stderr.splitlines()
    assert usage.startswith("usage: einsumgrad ")
    assert error == ("einsumgrad: error: give a command: jacobian, grad, hessian, demo, serve, completion "
                     "(see einsumgrad --help)")
    assert run("--help").returncode == 0  # asking for help is not an error


@pytest.mark.slow
@pytest.mark.parametrize("args,text", [
    (("grad", "-", "--wrt", "W", "--matrix"), "sum(tanh(W @ x))\n"),
    (("jacobian", "-", "--names", "W,x"), "  ij,j->i  \n"),
    (("hessian", "-", "--wrt", "x", "--index-input"), "L = Σ_i Σ_j x[i] A[i,j] x[j]\n"),
])
def test_a_dash_reads_the_expression_from_stdin(args, text):
    r = run(*args, stdin=text)
    assert r.returncode == 0, r.stderr
    given = run(*(text.strip() if a == "-" else a for a in args))
    assert r.stdout == given.stdout and r.stdout


@pytest.mark.slow
def test_an_empty_stdin_is_one_line_of_error():
    r = run("grad", "-", "--wrt", "W", stdin="  \n")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == ["einsumgrad: error: the expression - is read from standard input, which is "
                                     "empty; e.g. echo 'sum(W @ x)' | einsumgrad grad - --wrt W"]


@pytest.mark.slow
def test_grad_json_is_the_printed_answer_and_the_closed_form():
    text, shapes = "sum(tanh(W @ x))", "W=2x3,x=3"
    r = run("grad", text, "--wrt", "W", "--shapes", shapes, "--seed", "3", "--json")
    assert r.returncode == 0, r.stderr
    got = strict_json(r.stdout)
    assert list(got) == KEYS and got["schema"] == 1
    printed = run("grad", text, "--wrt", "W", "--matrix").stdout.splitlines()
    assert printed == [got["text"], "matrix notation: " + got["matrix"]]
    assert got["latex"] == run("grad", text, "--wrt", "W", "--latex").stdout.strip()
    assert got["ascii"] == run("grad", text, "--wrt", "W", "--ascii").stdout.strip()
    assert got["einsum"] == run("grad", text, "--wrt", "W", "--einsum").stdout.splitlines()
    a = arrays(text, "W", "gradient", shapes, seed=3)
    W, x = a["W"], a["x"]
    np.testing.assert_allclose(got["value"], np.outer(1 - np.tanh(W @ x) ** 2, x), rtol=1e-12)
    assert got["input_shapes"] == {"W": [2, 3], "x": [3]} and got["shape"] == [2, 3] and got["seed"] == 3
    assert got["passed"] is True and 0 <= got["max_abs_error"] < 1e-6 and got["eps"] == 1e-6
    assert (got["command"], got["kind"], got["wrt"], got["layout"]) == ("grad", "gradient", "W", "shape")


@pytest.mark.slow
def test_hessian_json_and_without_shapes_nulls():
    text = "einsum('i,ij,j->', x, A, x)"
    got = strict_json(run("hessian", text, "--wrt", "x", "--shapes", "x=3,A=3x3", "--json").stdout)
    A = arrays(text, "x", "hessian", "x=3,A=3x3")["A"]
    np.testing.assert_allclose(got["value"], A + A.T, rtol=1e-12)
    assert got["matrix"] == "A + Aᵀ" and got["kind"] == "hessian" and got["passed"] is True
    bare = strict_json(run("hessian", text, "--wrt", "x", "--json").stdout)
    assert list(bare) == KEYS
    assert all(bare[k] is None for k in ("input_shapes", "seed", "shape", "value", "passed", "max_abs_error"))


@pytest.mark.slow
def test_an_einsum_spec_s_jacobian_json_holds_its_values():
    got = strict_json(run("jacobian", "ij,j->i", "--names", "W,x", "--shapes", "2x3,3", "--seed", "1",
                          "--json").stdout)
    rng = np.random.default_rng(1)  # the command line's integers for an einsum spec
    rng.integers(-3, 4, (2, 3))
    x = rng.integers(-3, 4, 3).astype(float)
    np.testing.assert_array_equal(got["value"], np.einsum("ij,k->ijk", np.eye(2), x))
    assert got["text"] == "∂y[i]/∂W[j,k] = δ[i,j] x[k]" and got["wrt"] == "W" and got["passed"] is None
    assert got["layout_note"].startswith("shape layout") and got["input_shapes"] == {"W": [2, 3], "x": [3]}
    vec = strict_json(run("jacobian", "ij,j->i", "--names", "W,x", "--layout", "vec", "--json").stdout)
    assert vec["layout_note"].startswith("∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I")


@pytest.mark.slow
def test_json_values_that_are_not_finite_are_null_and_notes_are_kept():
    r = run("grad", "sum(log(x))", "--wrt", "x", "--shapes", "x=4", "--seed", "0", "--json")
    got = strict_json(r.stdout)
    x = arrays("sum(log(x))", "x", "gradient", "x=4")["x"]
    assert got["value"] == [1 / v for v in x]  # log's gradient is finite even where log is not
    r = run("grad", "sum(sqrt(x))", "--wrt", "x", "--shapes", "x=4", "--json")
    x = arrays("sum(sqrt(x))", "x", "gradient", "x=4")["x"]
    assert (x < 0).any() and [v is None for v in strict_json(r.stdout)["value"]] == list(x < 0)
    r = run("grad", "sum(W @ x)", "--wrt", "W", "--json")
    notes = [line.removeprefix("einsumgrad: note: ") for line in r.stderr.splitlines()]
    assert notes and strict_json(r.stdout)["notes"] == notes


@pytest.mark.slow
def test_json_keeps_stdout_for_the_object_and_errors_one_line(tmp_path):
    page = tmp_path / "answer.html"
    r = run("grad", "sum(W @ x)", "--wrt", "W", "--shapes", "W=2x3,x=3", "--html", str(page), "--json")
    assert r.returncode == 0 and page.exists() and strict_json(r.stdout)["passed"] is True
    assert r.stderr == f"wrote {page}\n"
    for args in (("grad", "sum(W @ x", "--wrt", "W", "--json"), ("grad", "sum(W @ x)", "--wrt", "W", "--json",
                                                                  "--explain"),
                 ("grad", "sum(W @ x)", "--wrt", "W", "--json", "--code", "numpy")):
        r = run(*args)
        assert r.returncode == 2 and r.stdout == "" and len(r.stderr.splitlines()) == 1, r.stderr
        assert r.stderr.startswith("einsumgrad: error: ")


def _options(command: str) -> list[str]:
    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return [flag for a in sub._actions for flag in a.option_strings]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_completes_commands_options_and_choices(tmp_path):
    r = run("completion", "bash")
    assert r.returncode == 0 and r.stdout.startswith("# bash completion for einsumgrad")
    (tmp_path / "einsumgrad.bash").write_text(r.stdout)
    harness = textwrap.dedent(f"""\
        source {tmp_path / 'einsumgrad.bash'}
        complete_words() {{ COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMPREPLY=(); _einsumgrad;
                            echo "${{COMPREPLY[*]}}"; }}
        complete_words einsumgrad ""
        complete_words einsumgrad h
        complete_words einsumgrad grad "sum(W @ x)" --
        complete_words einsumgrad grad x --layout n
        complete_words einsumgrad jacobian x --code ""
        complete_words einsumgrad demo or
        complete_words einsumgrad completion ""
        complete_words einsumgrad grad x --wrt ""
        complete_words einsumgrad grad x --html {tmp_path}/ein
        """)
    out = subprocess.run(["bash", "-c", harness], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["-h --help --version jacobian grad hessian demo serve completion", "hessian"]
    assert lines[2].split() == [f for f in _options("grad") if f.startswith("--")] and "--json" in lines[2].split()
    assert lines[3:8] == ["numerator", "numpy jax torch", "orthogonality", "-h --help bash zsh", ""]
    assert lines[8] == f"{tmp_path}/einsumgrad.bash"  # a file name


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
@pytest.mark.parametrize("typed,listed", [("einsumgrad hes", "hessian"), ("einsumgrad grad x --js", "--json"),
                                          ("einsumgrad grad x --layout ", "numerator"),
                                          ("einsumgrad demo ", "orthogonality"), ("einsumgrad compl", "completion")])
def test_zsh_completion_completes_in_an_interactive_zsh(tmp_path, typed, listed):
    r = run("completion", "zsh")
    assert r.returncode == 0 and r.stdout.startswith("#compdef einsumgrad\n")
    script = tmp_path / "_einsumgrad"
    script.write_text(r.stdout)
    assert subprocess.run(["zsh", "-n", str(script)], capture_output=True).returncode == 0
    drive = textwrap.dedent(f"""\
        zmodload zsh/zpty
        zpty z zsh -f -i
        zpty -w z "PS1='> '; autoload -U compinit; compinit -u; source {script}; einsumgrad() {{}}"
        zpty -w -n z {typed!r}$'\\t\\t'
        zpty -r z out {'*' + listed + '*'!r} && print found
        """)
    out = subprocess.run(["zsh", "-f", "-c", drive], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "found", out.stderr


@pytest.mark.slow
def test_completion_of_an_unknown_shell_is_one_line_of_error():
    r = run("completion", "fish")
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.splitlines()) == 1
    assert "invalid choice: 'fish'" in r.stderr
