"""The ``einsumgrad`` command line.

Errors print one line on stderr and exit with status 2.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import unicodedata

import numpy as np

from . import __version__, functions, plot, slices
from .algebra import MAX_RANK
from .compiler import describe_bytes, memory_limit
from .errors import EinsumgradError, EinsumSyntaxError, MemoryLimitError, did_you_mean
from .layouts import LAYOUTS

EXAMPLES = {
    "jacobian": """examples:
  einsumgrad jacobian "ij,j->i" --wrt 0 --names W,x
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
shapes: --shapes first, then the einsum specs a tensor appears in, then its name
(upper case: a matrix, lower case: a vector)""",
    "hessian": """examples:
  einsumgrad hessian "einsum('i,ij,j->', x, A, x)" --wrt x
  einsumgrad hessian "sum(log(1 + exp(X @ w)))" --wrt w --matrix""",
    "demo": """examples:
  einsumgrad demo            # y = Wx: the third-order tensor dy/dW, slice by slice
  einsumgrad demo --list
  einsumgrad demo tanh --plot slices.png""",
    "serve": """examples:
  einsumgrad serve                 # http://127.0.0.1:8000/ in your browser
  einsumgrad serve --port 8001 --no-browser
  einsumgrad serve --host 0.0.0.0 --public    # every interface: other machines can reach it

By default the page listens on 127.0.0.1 only and answers only requests addressed to localhost.
A --host beyond loopback (an empty one is every interface) is refused unless --public is given;
then serve warns that other machines can reach the page, and it still answers only requests
addressed to an IP address, the --host given or this machine's name (no DNS rebinding).""",
}


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

    jac = sub.add_parser("jacobian", help="the Jacobian of an einsum spec with respect to one operand",
                         epilog=EXAMPLES["jacobian"], formatter_class=raw)
    jac.add_argument("spec", help="a NumPy einsum string, e.g. 'ij,j->i'")
    jac.add_argument("--wrt", type=int, default=0, help="which operand to differentiate by (default 0)")
    jac.add_argument("--names", help="comma-separated operand names, e.g. W,x")
    _layout(jac)
    _formats(jac)
    jac.add_argument("--explain", action="store_true", help="a numbered step-by-step derivation")
    jac.add_argument("--shapes", help="evaluate at random integer operands of these shapes, e.g. 3x4,4 "
                     "(an empty entry is a scalar: 3,,3)")
    jac.add_argument("--seed", type=int, default=0, help="random seed for the operands of --shapes")
    jac.add_argument("--plot", metavar="FILE.png", help="with --shapes: draw the Jacobian as heatmaps, a third-order "
                     "one slice by slice (needs matplotlib)")

    for name, what in (("grad", "the gradient of a scalar expression"), ("hessian", "the Hessian of a scalar expression")):
        p = sub.add_parser(name, help=what, epilog=EXAMPLES[name], formatter_class=raw,
                           description=f"{what[0].upper() + what[1:]}, written in a small safe expression language: "
                           "names, numbers, + - * / ** @, einsum('spec', ...), sum, trace, kron, reshape, "
                           "concatenate, stack, and the functions "
                           f"{' '.join(functions.public())}. Nothing is eval'd.")
        p.add_argument("expression")
        p.add_argument("--index-input", action="store_true", help="read the expression as index notation, as "
                       "einsumgrad prints it: 'z[i] = Σ_j W[i,j] x[j]; L = Σ_i tanh(z[i])' (sum_j in ASCII)")
        p.add_argument("--wrt", required=True, help="the tensor to differentiate by")
        _formats(p)
        p.add_argument("--matrix", action="store_true", help="also print matrix notation where one exists")
        p.add_argument("--explain", action="store_true", help="a numbered step-by-step derivation")
        if name == "grad":
            p.add_argument("--differential", action="store_true",
                           help="the route through dL = ⟨G, dW⟩ = tr(Gᵀ dW) to ∂L/∂W = G and the update step")
        _layout(p)
        p.add_argument("--shapes", help="evaluate at random arrays: NAME=3x4,x=4 (every tensor)")
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
    return top


def _layout(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layout", choices=LAYOUTS, default="shape",
                   help="shape: y.shape + X.shape, as jax.jacobian (default); numerator / denominator: Wikipedia's "
                   "layouts (results of at most two axes); vec: Magnus–Neudecker's ∂vec(y)/∂vec(X)ᵀ, in Kronecker "
                   "products where a formula exists")


def _formats(p: argparse.ArgumentParser) -> None:
    p.add_argument("--code", choices=("numpy", "jax", "torch"), help="print the source of a function computing it")
    p.add_argument("-o", "--output", metavar="FILE", help="with --code: write the source to FILE")
    p.add_argument("--force", action="store_true", help="with -o: overwrite FILE if it exists")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--latex", action="store_true", help="print LaTeX")
    group.add_argument("--ascii", action="store_true", help="print plain ASCII")
    group.add_argument("--einsum", action="store_true", help="print each term as an einsum string")


def parse_shape(text: str) -> tuple[int, ...]:
    """``'3x4' -> (3, 4)``; an empty string is a scalar's shape ``()``."""
    text = text.strip()
    if not text:
        return ()
    try:
        shape = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        raise EinsumgradError(f"a shape is sizes joined by 'x', such as 3x4; got {text!r}") from None
    if any(n < 0 for n in shape):
        raise EinsumgradError(f"sizes cannot be negative: {text!r}")
    if len(shape) > MAX_RANK:
        raise EinsumgradError(f"shape {text!r} has {len(shape)} axes, over NumPy's limit of {MAX_RANK}")
    return shape


def check_fits(shapes) -> None:
    """Refuse random float64 arrays of these shapes if together they are over the memory limit."""
    nbytes, limit = 8 * sum(math.prod(s) for s in shapes), memory_limit()
    if nbytes > limit:
        raise MemoryLimitError(f"--shapes asks for random arrays of {describe_bytes(nbytes)}, over the memory limit "
                               f"of {describe_bytes(limit)}; use smaller sizes")


def random_generator(seed: int) -> np.random.Generator:
    if seed < 0:
        raise EinsumgradError(f"--seed takes a whole number >= 0, got {seed}")
    return np.random.default_rng(seed)


def _jacobian(args) -> None:
    from .einsum_jacobian import Jacobian

    _check_output(args)
    J = Jacobian(args.spec, args.wrt, names=args.names, layout=args.layout)
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
    if args.explain:
        from .teach import explain

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
    if args.layout == "vec" and not args.latex:
        print(J.formula("vec", shapes=shapes))
    if shapes is not None:
        for name, op in zip(J.names, ops):
            print(f"\n{name} =\n{op}")
        print(f"\nJ ({J.layout} layout), shape {dense.shape}:\n{dense}")
    if args.plot is not None:
        node = J.expression(*ops).node
        plot.plot(dense, args.plot, f"∂{J.output_name}/∂{J.names[J.wrt]} for {args.spec!r} ({J.layout} layout)",
                  axes=node.out, form=slices.identity_form(node))


def parse_shapes(text: str | None) -> dict[str, tuple[int, ...]]:
    """``'X=3x4,w=4'`` -> ``{'X': (3, 4), 'w': (4,)}``; an empty size list is a scalar."""
    shapes = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, eq, shape = item.partition("=")
        name = unicodedata.normalize("NFKC", name.strip())  # as Python reads identifiers: ϕ is φ
        if not eq or not name.isidentifier():
            raise EinsumgradError(f"--shapes takes NAME=3x4 items separated by commas; got {item.strip()!r}")
        if name in shapes:
            raise EinsumgradError(f"--shapes gives {name} twice")
        shapes[name] = parse_shape(shape)
    return shapes


def _differentiate(args) -> None:
    from . import api, layouts
    from .algebra import leaf
    from .expression import Expression
    from .language import read_expression

    _check_output(args)
    shapes = parse_shapes(args.shapes)
    symmetric = {unicodedata.normalize("NFKC", n.strip()) for n in (args.symmetric or "").split(",") if n.strip()}
    if args.index_input:
        from .indexed import parse

        expr, guessed, declared = parse(args.expression, shapes), (), ()
    else:
        expr, guessed, declared = read_expression(args.expression, shapes, functions_of_your_own=True,
                                                  symmetric=symmetric)
    compiled = api.compile(expr)
    if symmetric - set(compiled.vars):
        raise EinsumgradError(f"--symmetric names {', '.join(sorted(symmetric - set(compiled.vars)))}, which the "
                              f"expression does not read (it reads {', '.join(compiled.vars) or 'no tensor'})")
    args.wrt = unicodedata.normalize("NFKC", args.wrt.strip())
    if not args.wrt.isidentifier():
        raise EinsumgradError(f"--wrt {args.wrt!r} is an expression, not the name of a tensor (here: "
                              f"{', '.join(compiled.vars)}): " + api.by_a_scalar(
                                  "W", "L", f"einsumgrad {args.command} 'L' --wrt W, with L the loss written out"))
    if expr.ndim:
        raise EinsumgradError(f"{args.command} needs a scalar expression; this one has rank {expr.ndim}: write "
                              "sum(...) around it, or take an einsum spec's Jacobian with `einsumgrad jacobian`"
                              + _guesses(guessed))
    if args.wrt not in compiled.vars:
        raise EinsumgradError(f"--wrt {args.wrt}: no tensor of that name in the expression "
                              f"(it has {', '.join(compiled.vars) or 'none'})")
    unused = sorted(set(shapes) - compiled.accepted)
    if unused:
        near = did_you_mean(unused[0], compiled.accepted - set(shapes)) if len(unused) == 1 else ""
        raise EinsumgradError(f"--shapes names {', '.join(unused)}{near}, which the expression does not read "
                              f"(it reads {', '.join(sorted(compiled.accepted)) or 'no tensor'})")
    if args.shapes is not None:
        for n in compiled.names:  # a tensor whose every size is known (a scalar) needs no --shapes entry
            if n not in shapes and all(isinstance(d, int) for d in compiled.vars[n].shape):
                shapes[n] = compiled.vars[n].shape
        missing = [n for n in compiled.names if n not in shapes]
        if missing:
            raise EinsumgradError(f"--shapes needs a shape for every tensor; missing {', '.join(missing)}")
        check_fits(shapes[n] for n in compiled.names)
        rng = random_generator(args.seed)
    var = compiled.vars[args.wrt]
    wrt = Expression(leaf(args.wrt, var.shape, var.symmetric), args.wrt)
    layout = "shape" if args.layout == "vec" else args.layout
    try:
        derivative = (api.grad if args.command == "grad" else api.hessian)(expr, wrt, layout=layout)
    except EinsumgradError as err:
        if not guessed:
            raise
        raise EinsumgradError(f"{err}{_guesses(guessed)}") from err
    for name, rank in guessed:
        print(f"einsumgrad: note: {name} is taken as {_rank_name(rank)}, a guess from its name; to change it, give "
              f"its shape, e.g. --shapes {name}={'x'.join('3456789'[:rank])}", file=sys.stderr)
    for name in declared:
        print(f"einsumgrad: note: {name} is not a known function: it is taken as an elementwise function of your "
              f"own, its derivative written {name}′", file=sys.stderr)
    if _code(args, derivative):
        return
    if getattr(args, "differential", False):
        from .differential import differential

        _print_derivation(differential(expr, wrt), args)
    elif args.explain:  # a Hessian is explained as the derivative of the gradient
        derivation = api.explain(expr if args.command == "grad" else api.grad(expr, wrt), wrt)
        if args.index_input:
            from .teach import Derivation, Step

            read = Step.equation("Read the input as index notation", expr.node, expr.name or "y", expr.node.out)
            derivation = Derivation((read, *derivation.steps))
        _print_derivation(derivation, args)
    elif args.latex:
        print(derivative.latex())
    elif args.ascii:
        print(derivative.ascii())
    elif args.einsum:
        for line in derivative.einsum_terms():
            print(line)
    else:
        print(derivative)
    if args.matrix:
        formula = derivative.matrix_notation(latex=args.latex)
        print(f"matrix notation: {formula}" if formula else f"matrix notation: none ({derivative.matrix_notation_reason()})")
    if args.layout != "shape":
        print(derivative.formula("vec") if args.layout == "vec" else
              layouts.note(args.layout, "f", args.wrt, derivative.node.out))
    if args.shapes is not None:
        arrays = {n: rng.standard_normal(shapes[n]) for n in compiled.names}
        arrays.update({n: (arrays[n] + arrays[n].T) / 2 for n in symmetric})
        value = api.evaluate(derivative, **arrays)
        with np.printoptions(precision=4, suppress=True):
            print(f"\nat random arrays (seed {args.seed}), shape {value.shape}:\n{value}")
        report = api.check(expr if args.command == "grad" else api.grad(expr, wrt), wrt, **arrays)
        print(report)
    if args.html:
        from .web import answer

        kind = "gradient" if args.command == "grad" else "hessian"
        answer.write(args.html, answer.document(expr, args.wrt, kind, arrays if args.shapes is not None else None))
        print(f"wrote {args.html}")


def _print_derivation(derivation, args) -> None:
    print(derivation.latex() if args.latex else derivation)


def _rank_name(rank: int) -> str:
    return ("a scalar", "a vector (rank 1)", "a matrix (rank 2)")[rank] if rank < 3 else f"a tensor of rank {rank}"


def _guesses(guessed) -> str:
    """What an error adds where ranks were guessed from names: they may be why it failed."""
    if not guessed:
        return ""
    named = ", ".join(f"{n} {_rank_name(r)}" for n, r in guessed)
    return f" (ranks guessed from names: {named}; give --shapes to change them)"


def _check_output(args) -> None:
    """Refuse -o before anything is derived or printed: without --code, or onto a file without --force."""
    if args.output is not None and args.code is None:
        raise EinsumgradError("-o writes generated source: use it with --code numpy|jax|torch")
    if args.output is not None and os.path.exists(args.output) and not args.force:
        raise EinsumgradError(f"-o {args.output}: the file exists; pass --force to overwrite it")


def _code(args, result) -> bool:
    """With --code: print the generated source, or write it to -o FILE; whether it did."""
    if args.code is None:
        return False
    from .codegen import codegen

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
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise EinsumgradError("--plot needs matplotlib: pip install 'einsumgrad[plot]'") from None
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


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "jacobian":
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
    except EinsumSyntaxError as err:
        print(f"einsumgrad: error: {err.problem}, at column {err.position + 1} of {err.spec!r}", file=sys.stderr)
        return 2
    except EinsumgradError as err:
        print("einsumgrad: error: " + " ".join(str(err).split()), file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
