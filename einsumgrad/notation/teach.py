"""Step-by-step derivations, written the way a textbook answer would: one rule per step.

Every step that shows an expression carries it (``Step.expr``), and that
expression is the true intermediate: it evaluates to the same tensor as the
final answer, which the tests check.

>>> from ..einsum_jacobian import Jacobian
>>> steps = explain(Jacobian("ij,j->i", names="W,x")).steps
>>> steps[1].line
'∂y[i]/∂W[j,k] = Σ_l δ[i,j] δ[l,k] x[l]'
>>> steps[-1].rule
'In matrix notation: ∂L/∂W = g xᵀ, shaped like W; the Jacobian itself is never built'
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core import functions
from . import render
from ..core.algebra import apply, leaf
from ..core.ir import Call, Delta, Expr, Ref, Term, Var, variables
from .label import Label
from ..core.differentiate import contract, product_rule, readable, variable
from ..expression import Expression
from .matrix import NoFormula, kronecker, latex as matrix_latex, matrix_notation, transposed
from .render import latex_text
from ..core.simplify import elimination_steps, simplify
from ..core.symmetric import along


@dataclass(frozen=True)
class Step:
    """One step: the rule applied, and the IR node it gives (if any), which ``expr`` makes
    an expression to print or evaluate."""

    rule: str
    node: Expr | None = None
    line: str = ""  # the expression as printed
    note: str = ""
    tex: str = ""  # the line in LaTeX

    @classmethod
    def equation(cls, rule: str, node: Expr, lhs: str | Label, out=(), note: str = "") -> Step:
        """A step showing ``lhs = node``: ``lhs`` a name read at ``out``, or a derivative's label
        (printed ``∂y[i]/∂W[j,k]``), in Unicode and in LaTeX."""
        def line(style):
            return render.equation(render.left_side(lhs, out, style), node, style)

        return cls(rule, node, line(render.UNICODE), note, line(render.LATEX))

    @property
    def expr(self) -> Expression | None:
        return None if self.node is None else Expression(self.node)


@dataclass(frozen=True)
class Derivation:
    steps: tuple[Step, ...]

    def __str__(self):
        lines = []
        for k, s in enumerate(self.steps, 1):
            lines.append(f"{k}. {s.rule}" + (":" if s.line else ""))
            if s.line:
                lines.append(f"     {s.line}")
            if s.note:
                lines.append(f"   {s.note}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<Derivation: {len(self.steps)} steps; print() shows them>"

    def _repr_html_(self):
        from . import fragments

        return fragments.notebook(fragments.derivation_html(self.steps))

    def to_html(self, path: str | None = None) -> str:
        """The derivation as one self-contained HTML page (MathML, no script); written to ``path`` if given."""
        from . import fragments

        page = fragments.document("Derivation", fragments.derivation_html(self.steps))
        if path is not None:
            with open(path, "w", encoding="utf-8") as out:
                out.write(page)
        return page

    def latex(self) -> str:
        """The derivation as a LaTeX ``enumerate``: each rule in prose (escaped), its line displayed.

        >>> from ..expression import tensor
        >>> W, x = tensor("W", 2), tensor("x", 1)
        >>> print(explain_expression((W @ x).node, W.node, "y").latex().splitlines()[2])
        \\[ y_{i} = \\sum_{j} W_{ij} x_{j} \\]
        """
        lines = [r"\begin{enumerate}"]
        for s in self.steps:
            lines.append(r"\item " + latex_text(s.rule) + (":" if s.tex else ""))
            if s.tex:
                lines.append(rf"\[ {s.tex} \]")
            if s.note:
                lines.append(latex_text(s.note))
        lines.append(r"\end{enumerate}")
        return "\n".join(lines)

    def _repr_markdown_(self):
        return "\n".join(f"{k}. {s.rule}" + (f"<br>`{s.line}`" if s.line else "") for k, s in enumerate(self.steps, 1))


def _eliminations(expr: Expr, lhs: Label) -> list[Step]:
    steps = []
    for what, e in elimination_steps(expr):
        steps.append(Step.equation(f"Simplify: {what}", e, lhs))
    final = simplify(expr)
    last = steps[-1].node if steps else None
    if last is not None and len(final.terms) != len(last.terms):
        steps.append(Step.equation("Collect equal terms", final, lhs))
    return steps


def _raw_derivative(expr: Expr, var: Var):
    """The product rule on ``expr`` before any simplification, with the final result's letters."""
    tidy, var, wrt = readable(expr, var)
    return product_rule(tidy, var, wrt), wrt


def _sparsity(jac: Expr) -> str:
    deltas = [f for t in jac.terms for f in t.factors if isinstance(f, Delta)]
    if len(jac.terms) != 1 or not deltas:
        return ""
    tied = {d.b for d in deltas}
    ties = " and ".join(f"{d.a} = {d.b}" for d in deltas)
    total = "·".join(f"|{a}|" for a in jac.out)
    nonzero = "·".join(f"|{a}|" for a in jac.out if a not in tied) or "1"
    names = " ".join(f"δ[{d.a},{d.b}]" for d in deltas)
    return (f"{names} {'is structure, not a number' if len(deltas) == 1 else 'are structure, not numbers'}: "
            f"J is zero unless {ties}, "
            f"so of its {total} entries at most {nonzero} are non-zero.")


def explain(jacobian) -> Derivation:
    """The derivation of a :class:`~einsumgrad.einsum_jacobian.Jacobian`, through the chain rule."""
    sym = jacobian.symbolic
    y, var = sym.y, sym.var
    yname, xname = jacobian.output_name, var.name
    steps = [Step.equation("Write the einsum with its sum explicit" if any(
        a not in y.out for t in y.terms for a in t.indices()) else "Write the einsum in index notation",
        y, yname, y.out)]
    raw, wrt = _raw_derivative(y, var)
    lhs = Label(yname, f_idx=y.out).by(xname, wrt)
    generic = tuple(c for c in "abcdefgh" if c not in wrt)[: len(wrt)]  # X[a,b] for any read of X
    rule = " ".join(f"δ[{a},{p}]" for a, p in zip(generic, wrt)) or "1"
    steps.append(Step.equation(
        f"Differentiate each occurrence of {xname}: ∂{xname}{render.UNICODE.indices(generic)}/∂{xname}"
        f"{render.UNICODE.indices(wrt)} = {rule}", raw, lhs))
    steps += _eliminations(raw, lhs)
    jac = simplify(raw)
    shape = f"{yname}.shape + {xname}.shape"
    asked = "" if jacobian.layout == "shape" else f"; you asked for {jacobian.layout_note()}"
    steps.append(Step.equation(
        f"Result, in the shape layout of jax.jacobian and torch (J{render.UNICODE.indices(jac.out)} = "
        f"{render.left_side(lhs, (), render.UNICODE)}, "
        f"shape {shape}){asked}", jac, lhs, note=_sparsity(jac)))
    if not y.out:
        steps.append(Step(f"{yname} is a scalar, so this is already the gradient, shaped like {xname}"))
        return Derivation(tuple(steps))
    g = leaf(sym.cotangent, y.dims)
    if jacobian.layout == "vec":
        steps += vec_steps(jac, y.ndim, yname, xname, sym.cotangent)
    chained = Expr(wrt, jac.dims[y.ndim:], tuple(
        Term(t.coef, (Ref(variable(g), y.out),) + t.factors) for t in jac.terms))
    lhs_l = Label("L").by(xname, wrt)
    summed = ",".join(y.out)
    steps.append(Step.equation(
        f"Chain rule with {sym.cotangent} = ∂L/∂{yname} (shaped like {yname}), contracting over {summed}",
        chained, lhs_l))
    steps += _eliminations(chained, lhs_l)
    final = contract(jac, g, y.out, wrt)
    matrix = matrix_notation(final) if len(wrt) <= 2 else None
    if matrix:
        steps.append(Step(f"In matrix notation: ∂L/∂{xname} = {matrix}, shaped like {xname}; "
                          "the Jacobian itself is never built", final))
    return Derivation(tuple(steps))


def vec_steps(jac: Expr, k: int, y: str, x: str, g: str = "g") -> list[Step]:
    """Why the chain rule meets a Kronecker product: the Jacobian ``jac`` (``k`` axes of ``y``, then
    ``x``'s) stacked into Magnus–Neudecker's matrix ``∂vec(y)/∂vec(x)ᵀ`` (``xᵀ ⊗ I`` for ``y = W x``),
    and the chain rule as the product ``vec(g)ᵀ (xᵀ ⊗ I) = vec(g xᵀ)ᵀ``; each step carries the
    tensor it claims (the Jacobian, then the gradient ``Σ g J``), to reshape and compare. Empty where
    there is no Kronecker formula."""
    try:
        formula = kronecker(jac, k)
    except NoFormula:
        return []
    ys, xs = jac.out[:k], jac.out[k:]
    at = render.UNICODE.indices
    vec = "column-major: " + ", ".join(
        f"vec({name})[{axes[0]}{f' + |{axes[0]}|·{axes[1]}' if len(axes) > 1 else ''}] = {name}{at(axes)}"
        for name, axes in ((y, ys), (x, xs)) if axes)
    lhs = f"∂vec({y})/∂vec({x})ᵀ"
    stacked = Step(
        f"Stack columns ({vec}): {lhs} is the |{y}|×|{x}| matrix holding ∂{y}{at(ys)}/∂{x}{at(xs)} at row vec({y})'s "
        f"position, column vec({x})'s. A Kronecker product is exactly that arrangement: (P ⊗ Q)[r + p·s, c + q·t] = "
        "P[s,t] Q[r,c] for Q of shape p×q, so a Jacobian whose first axes meet through Q and second axes through P "
        "(δ[i,j] is I) stacks into P ⊗ Q", jac, f"{lhs} = {formula}", tex=matrix_latex(f"{lhs} = {formula}"))
    if not k:
        return [stacked]
    G = leaf(g, jac.dims[:k])
    grad = contract(jac, G, ys, xs)
    shown = matrix_notation(grad)
    cot = f"{g}ᵀ" if k == 1 else f"vec({g})ᵀ"
    product = f"{cot} ({formula})" if " " in formula else f"{cot} {formula}"
    line = f"∂L/∂vec({x})ᵀ = {product}" + (f" = vec({shown})ᵀ" if shown else "")
    chained = Step(
        f"The chain rule is the matrix product of the vec forms, ∂L/∂vec({x})ᵀ = ∂L/∂vec({y})ᵀ {lhs}; with "
        f"(Cᵀ ⊗ D) vec(G) = vec(D G C) it is vec of a matrix shaped like {x} again", grad, line, tex=matrix_latex(line))
    return [stacked, chained]


def explain_expression(expr: Expr, wrt: Expr | Var, label: str | Label = "") -> Derivation:
    """The derivation of ``∂expr/∂wrt`` for an expression printed as ``label`` (a name, or a
    derivative's :class:`~einsumgrad.notation.label.Label`): the rules used, the product and chain rules,
    each simplification, and the matrix formula if there is one."""
    var = variable(wrt, expr)
    steps = [Step.equation("The expression, with its sums explicit", expr, label or "f", expr.out)]
    shown = label if not isinstance(label, Label) else render.left_side(label if label.partial else label.bare(), (),
                                                                         render.UNICODE)
    name = shown if shown.isidentifier() else f"({shown})" if shown else "f"
    for call in _calls(expr, var):
        steps.append(Step(_rule_text(call)))
    raw, wrt_idx = _raw_derivative(expr, var)
    base = label if isinstance(label, Label) and label.partial else Label(name, f_idx=expr.out)
    lhs = base.by(var.name, wrt_idx)
    steps.append(Step.equation(f"Differentiate: the product rule over each factor that depends on {var.name}, "
                               "the chain rule through each function", raw, lhs))
    steps += _eliminations(raw, lhs)
    final = simplify(raw)
    steps.append(Step.equation("Result" + (", shaped like " + var.name if not expr.out else
                                           f", in the shape layout of jax.jacobian (shape {name}.shape + "
                                           f"{var.name}.shape)"), final, lhs))
    if var.symmetric:
        final = along(final, var, len(expr.out))
        steps.append(Step.equation(
            f"{var.name} is symmetric, so it moves only along symmetric directions E: the derivative along them is "
            f"the part symmetric in {var.name}'s axes, sym(G) = ½(G + Gᵀ), the one with ⟨sym(G), E⟩ = ⟨G, E⟩ for "
            "every symmetric E (the steps above treat its entries as independent)", final, lhs))
    matrix = matrix_notation(final)
    if matrix:
        steps.append(Step(f"In matrix notation: ∂{name}/∂{var.name} = {matrix}", final))
    if not expr.out and len(var.shape) == 2:
        steps.append(_layouts_step(final, name, var))
    if not expr.out and len(var.shape) == 1 and matrix:
        steps.append(_vector_layouts_step(final, matrix, name, var))
    return Derivation(tuple(steps))


def _layouts_step(grad: Expr, name: str, var: Var) -> Step:
    """Which matrix each convention calls ``∂f/∂W``, for W's own shape, and why they differ."""
    turned = Expr(grad.out[::-1], grad.dims[::-1], grad.terms)  # Gᵀ, printed only: the steps' nodes equal G
    m, n = (str(d) if isinstance(d, int) else letter for d, letter in zip(var.shape, "mn"))  # m×n for unknown sizes
    as_w, as_wt = matrix_notation(grad) or "G", matrix_notation(turned) or "Gᵀ"
    return Step(
        f"Layouts: the shape layout (jax, torch) and Wikipedia's denominator layout give ∂{name}/∂{var.name} = "
        f"{as_w}, {m}×{n} like {var.name}, so that {var.name} − η ∂{name}/∂{var.name} is a gradient step; Wikipedia's "
        f"numerator layout lays it out by {var.name}ᵀ: {as_wt}, {n}×{m}. Both hold the same numbers "
        f"∂{name}/∂{var.name}[i,j], arranged transposed")


def _vector_layouts_step(grad: Expr, column: str, name: str, var: Var) -> Step:
    """The column and the row: ``∂f/∂x`` shaped like ``x`` (jax, the denominator layout), and the
    textbooks' numerator layout, the row ``∂f/∂y W`` that the chain rule multiplies out from the left."""
    n = str(var.shape[0]) if isinstance(var.shape[0], int) else "n"
    return Step(
        f"Layouts: the shape layout (jax, torch) and Wikipedia's denominator layout give ∂{name}/∂{var.name} = "
        f"{column}, a column of {n} like {var.name}; Wikipedia's numerator layout, the textbooks' (∂{name}/∂{var.name} = "
        f"∂{name}/∂y ∂y/∂{var.name}, rows times Jacobians), writes the row {_row(column)}, 1×{n}. Both hold the same numbers "
        f"∂{name}/∂{var.name}[i]", grad)


def _row(column: str) -> str:
    """The transpose of a matrix formula, a product of two read as ``(A v)ᵀ = vᵀ Aᵀ``: ``Wᵀ g`` -> ``gᵀ W``."""
    parts, depth, start = [], 0, 0
    for k, c in enumerate(column + " "):
        depth += (c in "([") - (c in ")]")
        if c == " " and depth == 0:
            parts.append(column[start:k])
            start = k + 1
    if len(parts) == 2 and parts[0].replace(".", "").isdigit():  # a number times a column
        return f"{parts[0]} {transposed(parts[1])}"
    if len(parts) == 2:
        return f"{transposed(parts[1])} {transposed(parts[0])}"
    return transposed(column)


def _calls(expr: Expr, var: Var) -> list[Call]:
    """The distinct functions applied on the way from ``expr`` down to ``var``."""
    found: dict[tuple, Call] = {}
    seen: set = set()
    stack: list[Expr | Var | Call] = [expr]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, Call):
            if var in variables(node):
                found.setdefault((node.fn, repr(node.params)), node)
            stack.append(node.arg)
        elif isinstance(node, Expr):
            stack.extend(f.node for t in node.terms for f in t.factors if isinstance(f, Ref))
    return [found[k] for k in sorted(found)]


def _rule_text(call: Call) -> str:
    fn = functions.get(call.fn)
    if fn.derivative is not None:  # elementwise
        u = leaf("u", ())
        y = apply(call.fn, u, *call.params)
        return f"Rule: ∂{_show(y)}/∂u = {_show(fn.derivative(u, y, *call.params))}, applied elementwise"
    if fn.vjp is not None:
        return f"Rule: {call.fn} is linear, so the derivative of {call.fn}(U) is {call.fn} of the derivative of U"
    U = leaf("U", call.arg.dims)
    Y = apply(call.fn, U, *call.params)
    assert fn.jvp is not None, call.fn  # a function a node calls has a forward rule
    dY = fn.jvp(U, Y, leaf("dU", call.arg.dims), *call.params)
    return f"Rule: d {_show(Y)}{render.UNICODE.indices(Y.out)} = {_show(dY)}"


def _show(e: Expr) -> str:
    return render.render_sum(e.terms, e.out, render.UNICODE, e.index_set())
