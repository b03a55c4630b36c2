"""Build the example notebooks, one per question einsumgrad exists to answer, and store them with
their outputs (so they read on a code host, GitHub's viewer included).

    python examples/build_notebooks.py          # write every notebook, executed
    python examples/build_notebooks.py --check  # execute each afresh; exit 1 if a stored output differs

Each notebook uses einsumgrad's public API only (``import einsumgrad as eg``). The cells live here, so
a notebook is never edited by hand: change a cell here and run the script. ``--check`` (and
tests/test_notebooks.py) executes the notebooks as they are stored and compares every output, so the
stored outputs cannot go stale. Needs nbformat, nbclient and ipykernel.
"""
from __future__ import annotations

import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent

WX = [
    ("md", "# y = Wx: is ∂y/∂W equal to x?\n\n"
           "A student asks: with $y = Wx$, $x \\in \\mathbb{R}^n$, $W$ of shape $m \\times n$ and a loss $L = f(y)$, "
           "what is $\\partial y/\\partial W$ — is it $x$? And why does the chain rule lead to a Kronecker product? "
           "$y$ has $m$ entries and $W$ has $mn$, so the derivative has $m \\cdot m \\cdot n$ entries: a third-order "
           "tensor. einsumgrad derives it index by index."),
    ("code", "import numpy as np\nimport einsumgrad as eg\n\n"
             "J = eg.jacobian('ij,j->i', wrt=0, names='W,x')\n"
             "J  # ∂y[i]/∂W[j,k] = δ[i,j] x[k]: the Kronecker delta is the structure"),
    ("code", "J.explain()  # each rule, one step at a time"),
    ("md", "The tensor itself, slice by slice: each slice `J[:, :, k]` is `x[k]` times the identity."),
    ("code", "W0 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])\nx0 = np.array([1.0, -1.0, 2.0])\n"
             "dense = J(W0, x0)\nfor k in range(3):\n    assert np.array_equal(dense[:, :, k], x0[k] * np.eye(2))\n"
             "eg.show(dense, 'J', 'ijk', of=J.expression(W0, x0))"),
    ("md", "**Why a Kronecker product?** Stack the columns of $W$ into $\\mathrm{vec}(W)$ and of $y$ into "
           "$\\mathrm{vec}(y)$: the third-order tensor becomes the matrix $\\partial\\,\\mathrm{vec}(y)/\\partial\\,"
           "\\mathrm{vec}(W)^\\top = x^\\top \\otimes I_m$, and the chain rule is then a matrix product, "
           "$g^\\top (x^\\top \\otimes I_m) = \\mathrm{vec}(g x^\\top)^\\top$."),
    ("code", "vec = eg.jacobian('ij,j->i', wrt=0, names='W,x', layout='vec')\n"
             "assert np.array_equal(vec(W0, x0), np.kron(x0[None, :], np.eye(2)))  # x^T ⊗ I_2\n"
             "print(vec.formula('vec'))\nvec.explain()"),
    ("md", "The chain rule with $g = \\partial L/\\partial y$ contracts over $i$ and the delta collapses it: "
           "$\\partial L/\\partial W = g x^\\top$, shaped like $W$ — no third-order tensor is ever built, and "
           "$W \\leftarrow W - \\eta\\, g x^\\top$ is the gradient step."),
    ("code", "W, x, g = eg.tensor('W', 2), eg.tensor('x', 1), eg.tensor('g', 1)\n"
             "L = eg.einsum('i,i->', g, W @ x).named('L')\ngrad = eg.grad(L, W)\ngrad  # index and matrix notation"),
    ("code", "arrays = dict(W=W0, x=x0, g=np.array([0.5, -2.0]))\n"
             "assert np.allclose(eg.evaluate(grad, **arrays), np.outer(arrays['g'], x0))\n"
             "report = eg.check(L, W, **arrays)\nassert report.passed\nreport"),
]

DIMENSIONS = [
    ("md", "# L = (XW + b) y: why must ∂L/∂W be shaped like W?\n\n"
           "A student has $X$ of shape $1 \\times m$, $W$ of shape $m \\times 10$, $b$ of shape $1 \\times 10$ and "
           "$y$ of shape $10 \\times 1$, and by the chain rule gets $\\partial L/\\partial W = y X$, of shape "
           "$10 \\times m$, not $W$'s. Here $L$ is $1 \\times 1$: einsumgrad takes it as the scalar $L[0,0]$."),
    ("code", "import numpy as np\nimport einsumgrad as eg\n\n"
             "X, W, b, y = eg.tensor('X', (1, 4)), eg.tensor('W', (4, 10)), eg.tensor('b', (1, 10)), "
             "eg.tensor('y', (10, 1))\nL = ((X @ W + b) @ y).named('L')\nL"),
    ("code", "G = eg.grad(L, W)\nprint(G.matrix_notation())\nG"),
    ("md", "The derivation ends with the layouts: the shape layout (jax, torch) and Wikipedia's denominator layout "
           "give $X^\\top y^\\top$, $m \\times 10$ like $W$; the numerator layout writes its transpose $y X$, the "
           "student's $10 \\times m$. Both hold the same numbers."),
    ("code", "eg.explain(L, W)"),
    ("code", "eg.differential(L, W)  # dL = tr(...) dW: the derivative read off the differential"),
    ("code", "rng = np.random.default_rng(3)\n"
             "arrays = {'X': rng.standard_normal((1, 4)), 'W': rng.standard_normal((4, 10)), "
             "'b': rng.standard_normal((1, 10)), 'y': rng.standard_normal((10, 1))}\n"
             "value = eg.evaluate(G, **arrays)\nassert value.shape == (4, 10)  # like W\n"
             "assert np.allclose(value, arrays['X'].T @ arrays['y'].T)\n"
             "numerator = eg.evaluate(eg.grad(L, W, layout='numerator'), **arrays)\n"
             "assert np.allclose(numerator, arrays['y'] @ arrays['X'])  # the student's y X, 10 × m\n"
             "eg.check(L, W, **arrays)"),
]

ORTHOGONALITY = [
    ("md", "# β Σᵢ |Φᵢᵀ Φᵢ − I|: from the differential to ∂L/∂Φ[:, a, b]\n\n"
           "A student has $\\Phi$ of shape $l \\times m \\times n$, $\\Phi_i = \\Phi[:, i, :]$ an $l \\times n$ "
           "matrix, and $\\mathscr{L} = \\beta \\sum_i \\sum_{j,k} |\\Phi_i^\\top \\Phi_i - I_n|_{jk}$; they want "
           "$\\partial \\mathscr{L}/\\partial \\Phi[:, a, b]$, an $l$-vector. The steps name $\\Phi$'s axes as the "
           "question does: $l$ along the first axis, $i$ along $m$ (which $\\Phi_i$), $j$ along $n$."),
    ("code", "import numpy as np\nimport einsumgrad as eg\n\n"
             "Φ, β = eg.tensor('Φ', (4, 2, 3)), eg.scalar('β')\n"
             "L = (β * eg.sum(eg.abs(eg.einsum('lij,lik->ijk', Φ, Φ) - eg.eye(3)))).named('L')\nL"),
    ("code", "eg.explain(L, Φ, indices='lij')"),
    ("md", "The slice the question asks for, at $a = 1$, $b = 2$: no third-order tensor and no δ against a "
           "number is left."),
    ("code", "a, b = 1, 2\ng = eg.grad(L, Φ, indices='lab')\nasked = g[:, a, b]\nasked"),
    ("code", "rng = np.random.default_rng(2)\narrays = {'Φ': rng.standard_normal((4, 2, 3)), 'β': 0.5}\n"
             "P = arrays['Φ'][:, a, :]\n"
             "closed = 2 * 0.5 * P @ np.sign(P.T @ P - np.eye(3))[:, b]  # 2β Φ_a sign(Φ_aᵀΦ_a − I)[:, b]\n"
             "assert np.allclose(eg.evaluate(asked, **arrays), closed)\n"
             "eg.check(L, Φ, **arrays)"),
    ("code", "eg.show(eg.evaluate(g, **arrays), '∂L/∂Φ', 'lab')  # shaped like Φ, slice by slice"),
]

HALF_SSE = [
    ("md", "# ½ Σ (Y − h(XΘ))²: ∂L/∂Θ, shaped like Θ — and why not ∂Θ/∂L\n\n"
           "A student multiplies partial derivatives along the path from $L$ to $\\Theta$ and gets a result of "
           "shape $M \\times in$, not $\\Theta$'s $in \\times out$, then wonders whether they want "
           "$\\partial \\Theta/\\partial L$. Here $h$ is a function of their own: einsumgrad derives with it "
           "symbolically, its derivative written $h'$."),
    ("code", "import numpy as np\nimport einsumgrad as eg\n\n"
             "X, Y, Θ = eg.tensor('X', (5, 3)), eg.tensor('Y', (5, 2)), eg.tensor('Θ', (3, 2))\n"
             "h = eg.function('h')  # an elementwise function of your own\n"
             "L = (0.5 * eg.sum((Y - h(X @ Θ)) ** 2)).named('L')\neg.grad(L, Θ)"),
    ("code", "try:\n    eg.grad(Θ, L)  # ∂Θ/∂L, as the student asked\nexcept eg.DerivativeError as err:\n"
             "    print(err)"),
    ("code", "eg.explain(L, Θ)"),
    ("md", "With $h = \\tanh$ there are numbers: the gradient has $\\Theta$'s shape, passes central differences, "
           "and a step against it lowers $L$."),
    ("code", "L2 = (0.5 * eg.sum((Y - eg.tanh(X @ Θ)) ** 2)).named('L')\n"
             "rng = np.random.default_rng(5)\n"
             "arrays = {'X': rng.standard_normal((5, 3)), 'Y': rng.standard_normal((5, 2)), "
             "'Θ': rng.standard_normal((3, 2))}\n"
             "G = eg.evaluate(eg.grad(L2, Θ), **arrays)\nassert G.shape == (3, 2)  # like Θ\n"
             "before = eg.evaluate(L2, **arrays)\n"
             "after = eg.evaluate(L2, **{**arrays, 'Θ': arrays['Θ'] - 0.01 * G})  # Θ ← Θ − η ∂L/∂Θ\n"
             "assert after < before\nprint(f'L: {before:.4f} -> {after:.4f}')\neg.check(L2, Θ, **arrays)"),
]

NOTEBOOKS = {
    "wx_question.ipynb": WX,
    "dimensions_question.ipynb": DIMENSIONS,
    "orthogonality_question.ipynb": ORTHOGONALITY,
    "half_sse_question.ipynb": HALF_SSE,
}


def build(cells):
    """The notebook of ``cells`` (``("md" | "code", source)``), without outputs."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
                for kind, src in cells]
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{k}"  # stable ids: a rebuild changes nothing that did not change
    return nb


def execute(nb):
    """``nb`` run top to bottom in a fresh kernel, in this folder; its outputs filled in."""
    import nbclient

    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(HERE)}}).execute()
    nb.metadata.pop("language_info", None)  # the kernel's Python version: not the notebook's content
    return nb


ROUND_OFF = re.compile(r"\d+(?:\.\d+)?e-(?:0[7-9]|[1-9]\d)")  # 1.53e-09: a check's error, round-off


def outputs(nb) -> list:
    """Every code cell's outputs, as comparable data (what a reader sees), with numbers below 1e-6 written in
    exponent form (a check's errors against central differences: round-off, which BLAS and CPU change) as ``~0``."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        text = "".join(value) if isinstance(value, list) else value
        return ROUND_OFF.sub("~0", text) if isinstance(text, str) else text

    shown = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        shown.append([{k: clean(v) for k, v in out.items() if k in ("output_type", "name", "text", "data", "ename",
                                                                    "evalue")} for out in cell.get("outputs", [])])
    return shown


def main(argv: list[str]) -> int:
    import copy

    import nbformat

    stale = []
    for name, cells in NOTEBOOKS.items():
        path = HERE / name
        if "--check" in argv:
            stored = nbformat.read(path, as_version=4)
            fresh = execute(copy.deepcopy(stored))
            if not _same_sources(stored, cells) or outputs(fresh) != outputs(stored):
                stale.append(name)
            continue
        nbformat.write(execute(build(cells)), path)
        print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print(f"stale: {', '.join(stale)}: run python examples/build_notebooks.py", file=sys.stderr)
    return 1 if stale else 0


def _same_sources(nb, cells) -> bool:
    """Whether the stored notebook holds exactly ``cells`` (the script and the notebook agree)."""
    return [(c.cell_type, c.source) for c in nb.cells] == [("markdown" if k == "md" else "code", s) for k, s in cells]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
