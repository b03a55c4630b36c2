"""The ``einsumgrad`` command line.

Errors print one line on stderr and exit with status 2; so does no command (after the usage line). An
expression ``-`` is read from standard input. ``--json`` prints one JSON object (:func:`answer_json`) for
scripts; ``einsumgrad completion bash|zsh`` prints a shell completion script (:mod:`einsumgrad.doors.completion`).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys

import numpy as np

from .. import __version__
from ..core import functions
from ..notation import plot, slices
from ..core.errors import EinsumgradError
from ..core.extras import require
from ..notation.layouts import LAYOUTS
from .completion import SHELLS
from .question import KINDS, check_fits, message, parse_shape

EXAMPLES = {
    "jacobian": """examples:
  einsumgrad jacobian "W @ x" --wrt W                         # an expression, as grad takes
  einsumgrad jacobian "tanh(W @ x)" --wrt W --indices iab     # ∂f[i]/∂W[a,b]
  einsumgrad jacobian "ij,j->i" --wrt W --names W,x           # an einsum spec; --wrt a name or a position
  einsumgrad jacobian "ij,j->i" --wrt 0 --names W,x --latex
  einsumgrad jacobian "ij,j->i" --wrt 0 --names W,x --explain
  einsumgrad jacobian "ij,jk->ik" --wrt 1 --shapes 2x3,3x2 --seed 1
  einsumgrad jacobian "ii->" --layout denominator --einsum
  einsumgrad jacobian "ij,j->i" --names W,x --layout vec      # ∂vec(y)/∂vec(W)ᵀ = xᵀ ⊗ I
  einsumgrad jacobian "...ij,...j->...i" --shapes 5x2x3,5x3  # '...' shown as the batch axes""",
    "grad": """examples:
  einsumgrad grad "sum(tanh(einsum('ij,j->i', W, x)))" --wrt W
  einsumgrad grad "0.5 * sum((Y - tanh(X @ T))**2)" --wrt T --matrix
  einsumgrad grad "logdet(X)" --wrt X --shapes X=3x3
  einsumgrad grad "g @ (W @ x)" --wrt W --differential    # dL = gᵀ dW x = tr(x gᵀ dW), so ∂L/∂W = g xᵀ
  einsumgrad grad "sum((X @ W + b) @ y)" --wrt W --explain --shapes X=1x4,W=4x10,b=1x10,y=10x1
  einsumgrad grad "trace(A @ S)" --wrt S --symmetric S --matrix
  einsumgrad grad --index-input "z[i] = Σ_j W[i,j] x[j]; L = ½ Σ_i (y[i] - h(z[i]))²" --wrt W
  einsumgrad grad --latex-input 'L(\\Theta)=\\frac{1}{2}\\sum^{M}(y-h(X\\Theta))^2' --wrt '\\Theta'
shapes: --shapes first, then the einsum specs a tensor appears in, then its name
(upper case: a matrix, lower case: a vector)""",
    "hessian": """examples:
  einsumgrad hessian "einsum('i,ij,j->', x, A, x)" --wrt x
  einsumgrad hessian "sum(log(1 + exp(X @ w)))" --wrt w --matrix""",
    "demo": """examples:
  einsumgrad demo            # y = Wx: the third-order tensor dy/dW, slice by slice
  einsumgrad demo --list
  einsumgrad demo tanh --plot slices.png""",
    "completion": """examples:
  source <(einsumgrad completion bash)     # in ~/.bashrc
  source <(einsumgrad completion zsh)      # in ~/.zshrc (after compinit)
  einsumgrad completion zsh > ~/.zfunc/_einsumgrad    # with fpath+=(~/.zfunc) before compinit""",
    "serve": """examples:
  einsumgrad serve                 # http://127.0.0.1:8000/ in your browser
  einsumgrad serve --port 8001 --no-browser
  einsumgrad serve --host 0.0.0.0 --public    # every interface: other machines can reach it

By default the page listens on 127.0.0.1 only and answers only requests addressed to localhost.
A --host beyond loopback (an empty one is every interface) is refused unless --public is given;
then serve warns that other machines can reach the page, and it still answers only requests
addressed to an IP address, the --host given or this machine's name (no DNS rebinding).""",
}


COMMAND_KINDS = {command: kind for kind, command in KINDS.items()}  # grad -> gradient
COMMANDS = ("jacobian", "grad", "hessian", "demo", "serve", "completion")


class _Parser(argparse.ArgumentParser):
    """argparse's parser, with its errors one line on stderr (status 2), as every other error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    top = _Parser(
        prog="einsumgrad",
        description="Differentiate einsum expressions index-wise: explicit Jacobians with Kronecker deltas.",
        epilog="run 'einsumgrad COMMAND --help' for each command's options and examples",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"einsumgrad {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter

    jac = sub.add_parser("jacobian", help="the Jacobian of an expression or an einsum spec with respect to one tensor",
                         epilog=EXAMPLES["jacobian"], formatter_class=raw)
    jac.add_argument("expression", help="an expression, as grad takes ('W @ x'), or a NumPy einsum "
                     "spec ('ij,j->i') whose operands --names names; - reads it from standard input")
    jac.add_argument("--wrt", help="the tensor to differentiate by: its name, or for an einsum spec its operand's "
                     "position (default 0)")
    jac.add_argument("--names", help="an einsum spec's comma-separated operand names, e.g. W,x")
    _layout(jac)
    _formats(jac)
    jac.add_argument("--matrix", action="store_true", help="also print matrix notation where one exists")
    jac.add_argument("--explain", action="store_true", help="a numbered step-by-step derivation")
    notation = jac.add_mutually_exclusive_group()
    notation.add_argument("--index-input", action="store_true", help="read the expression as index notation")
    notation.add_argument("--latex-input", action="store_true", help="read the expression as LaTeX")
    jac.add_argument("--shapes", help="evaluate at random arrays: NAME=3x4,x=4 for an expression; for an einsum "
                     "spec the operands' shapes in order, e.g. 3x4,4 (an empty entry is a scalar: 3,,3)")
    jac.add_argument("--seed", type=int, default=0, help="random seed for the arrays of --shapes")
    jac.add_argument("--html", metavar="FILE.html", help="also write the answer as one self-contained HTML page")
    jac.add_argument("--symmetric", metavar="NAMES", help="comma-separated symmetric matrices, e.g. S")
    jac.add_argument("--plot", metavar="FILE.png", help="with --shapes: draw the Jacobian as heatmaps, a third-order "
                     "one slice by slice (needs matplotlib)")
    _indices(jac)

    for name, what in (("grad", "the gradient of a scalar expression"), ("hessian", "the Hessian of a scalar expression")):
        p = sub.add_parser(name, help=what, epilog=EXAMPLES[name], formatter_class=raw,
                           description=f"{what[0].upper() + what[1:]}, written in a small safe expression language: "
                           "names, numbers, + - * / ** @, the built-ins "
                           f"{' '.join(sorted(functions.BUILTINS))} (einsum('spec', ...)), and the functions "
                           f"{' '.join(functions.public())}. Nothing is eval'd.")
        p.add_argument("expression", help="the expression; - reads it from standard input")
        notation = p.add_mutually_exclusive_group()
        notation.add_argument("--index-input", action="store_true", help="read the expression as index notation, "
                              "as einsumgrad prints it: 'z[i] = Σ_j W[i,j] x[j]; L = Σ_i tanh(z[i])' (sum_j in ASCII)")
        notation.add_argument("--latex-input", action="store_true", help="read the expression as LaTeX: "
                              r"'L = \frac{1}{2}\|y - Xw\|^2', '\sum_{i=1}^{m}', '\Theta' (see einsumgrad.doors.latex)")
        p.add_argument("--wrt", required=True, help="the tensor to differentiate by")
        _formats(p)
        p.add_argument("--matrix", action="store_true", help="also print matrix notation where one exists")
        p.add_argument("--explain", action="store_true", help="a numbered step-by-step derivation")
        if name == "grad":
            p.add_argument("--differential", action="store_true",
                           help="the route through dL = ⟨G, dW⟩ = tr(Gᵀ dW) to ∂L/∂W = G and the update step")
        _layout(p)
        _indices(p)
        p.add_argument("--shapes", help="evaluate at random arrays: NAME=3x4,x=4 (every tensor); I is the "
                       "identity, never random: I=3x3 gives its size")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--html", metavar="FILE.html", help="also write the answer as one self-contained HTML page")
        p.add_argument("--symmetric", metavar="NAMES", help="comma-separated symmetric matrices, e.g. S: derivatives "
                       "by them are taken along symmetric directions, sym(G) = (G + Gᵀ)/2")

    demo = sub.add_parser("demo", help="teaching demos of third-order Jacobians and the chain rule",
                          epilog=EXAMPLES["demo"], formatter_class=raw)
    demo.add_argument("name", nargs="?", default="wx", help="which demo (default: wx); --list shows them")
    demo.add_argument("--list", action="store_true", help="list the demos")
    demo.add_argument("--plot", metavar="FILE.png", help="draw the Jacobian's slices as heatmaps (needs matplotlib)")

    serve = sub.add_parser("serve", help="the teaching page in your browser, served from this machine",
                           epilog=EXAMPLES["serve"], formatter_class=raw)
    serve.add_argument("--port", type=int, default=8000, help="0 to 65535; default 8000 (0: any free port)")
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1: only this machine can reach it; "
                       "another address needs --public")
    serve.add_argument("--public", action="store_true", help="let --host be an address other machines can reach "
                       "(0.0.0.0 or '': every interface)")
    serve.add_argument("--no-browser", action="store_true", help="do not open a browser")

    completion = sub.add_parser("completion", help="print a shell completion script (bash or zsh)",
                                epilog=EXAMPLES["completion"], formatter_class=raw)
    completion.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    return top


def _layout(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layout", choices=LAYOUTS, default="shape",
                   help="shape: y.shape + X.shape, as jax.jacobian (default); numerator / denominator: Wikipedia's "
                   "layouts (results of at most two axes); vec: Magnus–Neudecker's ∂vec(y)/∂vec(X)ᵀ, in Kronecker "
                   "products where a formula exists")


def _indices(p: argparse.ArgumentParser) -> None:
    p.add_argument("--indices", help="the letters naming the result's axes, e.g. iab for ∂f[i]/∂W[a,b] "
                   "(an expression's derivative)")


def _formats(p: argparse.ArgumentParser) -> None:
    p.add_argument("--code", choices=("numpy", "jax", "torch"), help="print the source of a function computing it")
    p.add_argument("-o", "--output", metavar="FILE", help="with --code: write the source to FILE")
    p.add_argument("--force", action="store_true", help="with -o: overwrite FILE if it exists")
    p.add_argument("--json", action="store_true", help="print one JSON object for scripts: the derivative as text, "
                   "LaTeX, ASCII and einsum terms, its matrix notation, and with --shapes its values and check")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--latex", action="store_true", help="print LaTeX")
    group.add_argument("--ascii", action="store_true", help="print plain ASCII")
    group.add_argument("--einsum", action="store_true", help="print each term as an einsum string")


def random_generator(seed: int) -> np.random.Generator:
    if seed < 0:
        raise EinsumgradError(f"--seed takes a whole number >= 0, got {seed}")
    return np.random.default_rng(seed)


_SPEC = re.compile(r"[A-Za-z.,\s]*")  # an einsum spec without its arrow: 'ij,jk', 'ii'


def is_spec(text: str, wrt: str | None) -> bool:
    """Whether the jacobian command's text is an einsum spec (``ij,j->i``; ``ii`` unless ``--wrt``
    names a tensor) rather than an expression (``W @ x``)."""
    return "->" in text or bool(_SPEC.fullmatch(text)) and ("," in text or wrt is None or wrt.strip().isdigit())


def _operand(wrt: str | None, names: str | None) -> int:
    """``--wrt`` as an einsum spec's operand: a position, or a name among ``--names``."""
    if wrt is None or wrt.strip().lstrip("-").isdigit():
        return int(wrt or 0)
    listed = [n.strip() for n in (names or "").split(",")]
    if wrt.strip() not in listed:
        raise EinsumgradError(f"--wrt {wrt.strip()}: " + (f"no operand of that name (--names {names})" if names else
                              "the operands of an einsum spec have no names; give them with --names, e.g. --names W,x, "
                              "or pick one by position, --wrt 0"))
    return listed.index(wrt.strip())


def _jacobian(args) -> None:
    from ..einsum_jacobian import Jacobian

    if not is_spec(args.expression, args.wrt):
        if args.names is not None:
            raise EinsumgradError("--names names an einsum spec's operands; an expression names its tensors itself "
                                  f"({args.expression!r}): leave --names out")
        if args.wrt is None or args.wrt.strip().lstrip("-").isdigit():
            raise EinsumgradError(f"--wrt: name the tensor of {args.expression!r} to differentiate by, e.g. --wrt W "
                                  "(a position picks an einsum spec's operand)")
        if args.plot is not None:
            if args.shapes is None:
                raise EinsumgradError("--plot draws the Jacobian's numbers: give --shapes too, e.g. --shapes W=2x3,x=3")
            check_plot_path(args.plot)
        return _differentiate(args)
    for flag in ("indices", "matrix", "html", "symmetric", "index_input", "latex_input"):
        if getattr(args, flag):
            raise EinsumgradError(f"--{flag.replace('_', '-')} takes an expression, not an einsum spec: write "
                                  "einsum('ij,j->i', W, x) for the spec 'ij,j->i' with --names W,x")
    _check_output(args)
    J = Jacobian(args.expression, _operand(args.wrt, args.names), names=args.names, layout=args.layout)
    shapes = None if args.shapes is None else [parse_shape(s) for s in args.shapes.split(",")]
    if shapes is not None:
        J.nbytes(*shapes)  # checks them against the spec before anything is printed
        check_fits(shapes)
        rng = random_generator(args.seed)
        ops = [rng.integers(-3, 4, s).astype(float) for s in shapes]
        dense = J(*ops)
    if args.plot is not None:
        if shapes is None:
            raise EinsumgradError("--plot draws the Jacobian's numbers: give --shapes too, e.g. --shapes 2x3,3")
        check_plot_path(args.plot)
        plot.check(dense, "J")
    if _code(args, J):
        return
    if args.json:
        shown = shapes if J.spec.has_ellipsis else None
        print_json(args, text=J.formula(shapes=shown), latex=J.latex(), ascii=J.ascii(),
                   einsum=[t.einsum for t in J.terms], layout_note=J.formula("vec", shapes=shapes)
                   if args.layout == "vec" else J.layout_note(shapes=shown), wrt=J.names[J.wrt],
                   input_shapes=None if shapes is None else dict(zip(J.names, shapes)),
                   value=None if shapes is None else dense)
    elif args.explain:
        from ..notation.teach import explain

        _print_derivation(explain(J), args)
    elif args.latex:
        print(J.latex())
    elif args.ascii:
        print(J.ascii())
        print(f"  ({J.layout_note()}; repeated indices are summed only where 'sum_' says so)")
    elif args.einsum:
        for t in J.terms:
            print(t.einsum)
    else:
        print(J.text(shapes=shapes if J.spec.has_ellipsis else None))
    if args.layout == "vec" and not args.latex and not args.explain and not args.json:  # --explain: step by step
        print(J.formula("vec", shapes=shapes))
    if shapes is not None and not args.json:
        for name, op in zip(J.names, ops):
            print(f"\n{name} =\n{op}")
        print(f"\nJ ({J.layout} layout), shape {dense.shape}:\n{dense}")
    if args.plot is not None:
        node = J.expression(*ops).node
        with _reports(args):
            plot.plot(dense, args.plot, f"∂{J.output_name}/∂{J.names[J.wrt]} for {args.expression!r} "
                      f"({J.layout} layout)",
                      axes=plot.vec_axes(J.output_name, J.names[J.wrt]) if J.layout == "vec" else node.out,
                      form=slices.identity_form(node))


def _differentiate(args) -> None:
    from ..notation import layouts
    from . import question

    _check_output(args)
    kind = COMMAND_KINDS[args.command]
    q = question.Question(args.expression, args.wrt, kind, args.shapes, args.symmetric or "", args.seed,
                          notation="index" if args.index_input else "latex" if args.latex_input else "python")
    read = question.read(q)
    derived = question.derive(read, "shape" if args.layout == "vec" else args.layout, indices=args.indices)
    for line in question.notes(read):
        print(f"einsumgrad: note: {line}", file=sys.stderr)
    derivative = derived.derivative
    assert derivative.label is not None  # a derivative is labelled
    if _code(args, derivative):
        return
    own = question.own_functions(derived)
    if args.shapes is not None and own:  # answered symbolically: nothing to evaluate, and no failure
        print(f"einsumgrad: note: {question.no_values_note(own)}", file=sys.stderr)
    arrays = None if args.shapes is None or own else question.arrays(read)
    value = None if arrays is None else question.evaluate(derived, arrays)
    layout_line = None
    if args.layout != "shape":
        layout_line = (derivative.formula("vec") if args.layout == "vec" else
                       layouts.note(args.layout, derivative.label.f, read.x.name, derivative.node.out,
                                    k=len(derivative.label.f_idx)))
    if args.json:
        shown = question.render(derived, matrix=True)
        report = None if arrays is None else question.check(derived, arrays)
        print_json(args, text=shown.text, latex=derivative.latex(), ascii=derivative.ascii(),
                   einsum=derivative.einsum_terms(), matrix=shown.matrix or None, matrix_why=shown.why,
                   layout_note=layout_line, notes=question.notes(read), wrt=read.x.name,
                   input_shapes=None if arrays is None else {n: a.shape for n, a in arrays.items()},
                   value=value, check=report)
    else:
        _print_answer(args, read, derived, kind, layout_line, value, arrays)
    if getattr(args, "plot", None) is not None and value is not None:  # --plot asks for --shapes first
        node = derivative.node
        with _reports(args):
            plot.plot(value, args.plot, f"∂{read.expression.name or 'f'}/∂{read.x.name} for {args.expression!r}",
                      axes=node.out, form=slices.identity_form(node))
    if args.html:
        from .web import answer

        answer.write(args.html, answer.document(derived, arrays))
        print(f"wrote {args.html}", file=sys.stderr if args.json else sys.stdout)


def _print_answer(args, read, derived, kind: str, layout_line: str | None, value, arrays) -> None:
    """The answer as text: the derivative (or its derivation), its matrix notation, layout and values."""
    from . import question
    from ..notation.render import latex_text
    from ..notation.teach import Derivation, vec_steps

    derivative = derived.derivative
    form = "latex" if args.latex else "ascii" if args.ascii else "einsum" if args.einsum else "text"
    shown = question.render(derived, form, matrix=args.matrix)
    if getattr(args, "differential", False):
        from ..notation.differential import differential

        _print_derivation(differential(read.expression, read.x), args)
    elif args.explain:
        derivation = question.explain(derived)
        stacked = vec_steps(derivative.node, read.expression.ndim, derivative.label.f, read.x.name) \
            if args.layout == "vec" and kind == "jacobian" else []
        _print_derivation(Derivation((*derivation.steps, *stacked)), args)
    else:
        print(shown.text)
    if args.matrix:
        print(f"matrix notation: {shown.matrix}" if shown.matrix else f"matrix notation: none ({shown.why})")
    if layout_line is not None and not (args.explain and kind == "jacobian" and args.layout == "vec"):
        print(latex_text(layout_line) if args.latex else layout_line)
    if arrays is not None:
        with np.printoptions(precision=4, suppress=True):
            print(f"\nat random arrays (seed {args.seed}), shape {value.shape}:\n{value}")
        print(question.check(derived, arrays))


SCHEMA = 1  # the version of --json's object; a key is only ever added to it


def answer_json(args, *, text: str, latex: str, ascii: str, einsum: list, wrt: str, layout_note: str | None = None,
                matrix: str | None = None, matrix_why: str | None = None, notes: list | None = None,
                input_shapes: dict | None = None, value=None, check=None) -> dict:
    """``--json``'s object: one flat level, every key always there (None where it does not apply).

    ``text``/``latex``/``ascii``: the derivative in index notation, LaTeX and ASCII; ``einsum``: its terms as
    einsum strings; ``matrix``: its matrix notation (None when it has none, ``matrix_why`` saying why);
    ``layout_note``: the line naming a layout other than shape; ``notes``: what reading the expression guessed;
    with ``--shapes``: ``input_shapes``, ``seed``, the derivative's ``shape`` and ``value`` (nested lists), and
    its check against central differences (``passed``, ``max_abs_error``, ``max_rel_error``, ``eps``; None for
    an einsum spec's Jacobian, which is not checked). A number that is not finite is None (JSON has no NaN)."""
    kind = COMMAND_KINDS[args.command]
    evaluated = value is not None
    if evaluated:
        value = np.asarray(value, dtype=float)
    return {"schema": SCHEMA, "command": args.command, "kind": kind, "expression": args.expression, "wrt": wrt,
            "layout": args.layout, "text": text, "latex": latex, "ascii": ascii, "einsum": list(einsum),
            "matrix": matrix, "matrix_why": matrix_why, "layout_note": layout_note, "notes": list(notes or ()),
            "input_shapes": None if input_shapes is None else {n: list(s) for n, s in input_shapes.items()},
            "seed": args.seed if evaluated else None, "shape": list(value.shape) if evaluated else None,
            "value": _finite_values(value) if evaluated else None,
            "passed": None if check is None else bool(check.passed),
            "max_abs_error": None if check is None else _finite(check.max_abs_error),
            "max_rel_error": None if check is None else _finite(check.max_rel_error),
            "eps": None if check is None else float(check.eps)}


def _finite_values(value: np.ndarray) -> list:
    """An array as nested lists of numbers, None for one that is not finite."""
    out = value.astype(object)
    out[~np.isfinite(value)] = None
    return out.tolist()


def _finite(x: float) -> float | None:
    """A number as JSON has it: None for one that is not finite (JSON has no NaN)."""
    return float(x) if np.isfinite(x) else None


def print_json(args, **fields) -> None:
    print(json.dumps(answer_json(args, **fields), ensure_ascii=False, allow_nan=False))


def _reports(args):
    """Where a written file is reported: stdout, or stderr under --json (stdout is the JSON alone)."""
    return contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()


def _print_derivation(derivation, args) -> None:
    print(derivation.latex() if args.latex else derivation.ascii() if getattr(args, "ascii", False) else derivation)


def _check_output(args) -> None:
    """Refuse -o before anything is derived or printed: without --code, or onto a file without --force; and
    --json with an output that is not data (--code, --explain, --differential)."""
    if args.json:
        for flag in ("code", "explain", "differential"):
            if getattr(args, flag, None):
                raise EinsumgradError(f"--json prints the answer as one JSON object; --{flag} prints "
                                      f"{'source' if flag == 'code' else 'a derivation'} instead: leave one out")
    if args.output is not None and args.code is None:
        raise EinsumgradError("-o writes generated source: use it with --code numpy|jax|torch")
    if args.output is not None and os.path.exists(args.output) and not args.force:
        raise EinsumgradError(f"-o {args.output}: the file exists; pass --force to overwrite it")


def _code(args, result) -> bool:
    """With --code: print the generated source, or write it to -o FILE; whether it did."""
    if args.code is None:
        return False
    from ..compiler.codegen import codegen

    source = codegen(result, backend=args.code) + "\n"
    if args.output is None:
        print(source, end="")
        return True
    try:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(source)
    except OSError as err:
        raise EinsumgradError(f"-o {args.output}: {err.strerror}") from None
    return True


def _demo(args) -> int:
    from .demos import DEMOS, NO_PLOT, run_demo

    if args.plot is not None and args.name in DEMOS:
        if args.name in NO_PLOT:
            raise EinsumgradError(f"demo {args.name!r} draws no plot: {NO_PLOT[args.name]}; --plot works with "
                                  f"{', '.join(n for n in DEMOS if n not in NO_PLOT)}")
        check_plot_path(args.plot)
    return run_demo(args)


def check_plot_path(path: str) -> None:
    """Refuse, before any work, a --plot file in a missing folder or of a type matplotlib cannot write."""
    FigureCanvasBase = require("matplotlib.backend_bases", "--plot").FigureCanvasBase
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise EinsumgradError(f"--plot {path}: there is no folder {folder!r}")
    if not os.access(folder, os.W_OK):
        raise EinsumgradError(f"--plot {path}: the folder {folder!r} is not writable")
    kinds = FigureCanvasBase.get_supported_filetypes()
    kind = os.path.splitext(path)[1].lower().lstrip(".")
    if kind not in kinds:
        problem = f"matplotlib cannot write .{kind} files" if kind else "the file name needs an extension"
        raise EinsumgradError(f"--plot {path}: {problem}; use one of {', '.join('.' + k for k in sorted(kinds))}")


def read_stdin() -> str:
    """The expression ``-`` stands for: standard input, without the whitespace around it."""
    text = sys.stdin.read().strip()
    if not text:
        raise EinsumgradError("the expression - is read from standard input, which is empty; e.g. "
                              "echo 'sum(W @ x)' | einsumgrad grad - --wrt W")
    return text


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # as a missing argument: the usage, one line of error, status 2
        parser.print_usage(sys.stderr)
        print(f"einsumgrad: error: give a command: {', '.join(COMMANDS)} (see einsumgrad --help)", file=sys.stderr)
        return 2
    try:
        if getattr(args, "expression", None) == "-":
            args.expression = read_stdin()
        if args.command == "completion":
            from .completion import script
            from .demos import DEMOS

            print(script(args.shell, parser, {("demo", "name"): tuple(DEMOS)}), end="")
        elif args.command == "jacobian":
            _jacobian(args)
        elif args.command in ("grad", "hessian"):
            _differentiate(args)
        elif args.command == "serve":
            from .web.server import serve

            serve(args.host, args.port, browser=not args.no_browser, public=args.public)
        else:
            status = _demo(args)
            sys.stdout.flush()
            return status
        sys.stdout.flush()  # here, where a reader that went away is caught, not at exit
    except EinsumgradError as err:
        print("einsumgrad: error: " + message(err), file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
