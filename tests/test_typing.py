"""The types einsumgrad ships (py.typed) check: mypy passes on the package with the project's
config, infers what a user's script holds (an Expression, an np.ndarray, not Any), and flags misuse."""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("mypy")

pytestmark = pytest.mark.slow  # mypy on the package and on user scripts

ROOT = Path(__file__).resolve().parents[1]

USER = """
    import numpy as np
    import einsumgrad as eg

    W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    y = eg.tanh(W @ x + 1.0)
    L = eg.sum(y * y) / 2
    g = eg.grad(L, W)
    H = eg.hessian(L, "x")
    J = eg.jacobian(W @ x, W)
    E = eg.jacobian("ij,j->i", wrt=0, names="W,x")
    f = eg.compile(g)
    value = f(W=np.ones((2, 3)), x=np.ones(3))
    both = eg.compile(L, g)(np.ones((2, 3)), np.ones(3))
    jx = eg.compile(L, backend="jax")
    report = eg.check(L, W, W=np.ones((2, 3)), x=np.ones(3))
    reveal_type(W @ x)
    reveal_type(2 * x - x ** 2)
    reveal_type(-x[0])
    reveal_type(y)
    reveal_type(g)
    reveal_type(J)
    reveal_type(E)
    reveal_type(f)
    reveal_type(value)
    reveal_type(both)
    reveal_type(jx)
    reveal_type(report.passed)
    reveal_type(eg.evaluate(H, x=np.ones(3), W=np.ones((2, 3))))
"""

REVEALED = [
    "einsumgrad.expression.Expression",
    "einsumgrad.expression.Expression",
    "einsumgrad.expression.Expression",
    "einsumgrad.expression.Expression",
    "einsumgrad.expression.Expression",
    "einsumgrad.expression.Expression",
    "einsumgrad.einsum_jacobian.Jacobian",
    "einsumgrad.compiler.compiled.Compiled[numpy.ndarray",
    "numpy.ndarray",
    "tuple[numpy.ndarray",
    "einsumgrad.compiler.compiled.Compiled[Any]",
    "bool",
    "numpy.ndarray",
]

MISUSE = {
    "eg.grad(1, 2)": 'Argument 1 to "grad" has incompatible type "int"',
    "(W @ x).nonexistent": '"Expression" has no attribute "nonexistent"',
    "W @ 'x'": 'Unsupported operand types for @ ("Expression" and "str")',
    "eg.hessian(W @ x, x, layout=2)": 'Argument "layout" to "hessian" has incompatible type "int"',
    "s: str = eg.compile(W @ x)(W=np.ones((2, 2)), x=np.ones(2))": "Incompatible types in assignment",
    "e: str = eg.tanh(x)": 'expression has type "Expression", variable has type "str"',
}


@pytest.fixture(scope="module")
def mypy(tmp_path_factory):
    """Run mypy with the project's config on files or the package, sharing one cache; (exit status, output)."""
    cache = tmp_path_factory.mktemp("mypy_cache")
    env = {**os.environ, "MYPYPATH": str(ROOT)}  # this checkout's einsumgrad, not an installed one

    def run(*targets: str) -> tuple[int, str]:
        done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                               "--cache-dir", str(cache), "--no-error-summary", "--show-error-codes", *targets],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        return done.returncode, done.stdout + done.stderr

    return run


def test_the_package_has_no_type_errors(mypy):
    status, output = mypy("einsumgrad")
    assert status == 0, output


def test_a_typed_user_script_checks_and_sees_real_types(mypy, tmp_path):
    script = tmp_path / "typed_user.py"
    script.write_text(textwrap.dedent(USER))
    status, output = mypy(str(script))
    assert status == 0, output
    revealed = re.findall(r'Revealed type is "(.*)"', output)
    assert len(revealed) == len(REVEALED), output
    for got, want in zip(revealed, REVEALED):
        assert got.startswith(want), (got, want)


@pytest.mark.parametrize("line", list(MISUSE))
def test_misuse_is_flagged(mypy, tmp_path, line):
    script = tmp_path / "misuse.py"
    script.write_text("import numpy as np\nimport einsumgrad as eg\n\nW, x = eg.tensor('W', 2), eg.tensor('x', 1)\n"
                      f"{line}\n")
    status, output = mypy(str(script))
    assert status == 1, output
    assert MISUSE[line] in output and "misuse.py:5:" in output, output
