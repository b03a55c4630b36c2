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
from ..core.ir import Call, Delta, Expr, Ref, Term, Var, instantiate, variables
from .label import Label
from ..core.differentiate import contract, product_rule, readable, variable
from ..expression import Expression
from . import formula as fm, matrix as mx
from .matrix import NoFormula, identity_sizes
from .render import latex_text
from ..core.simplify import elimination_steps, simplify
from ..core.symmetric import along


@dataclass(frozen=True)
class Formula:
    """A formula inside a step's words, printed (Unicode) and in LaTeX."""

    text: str
    tex: str


@dataclass(frozen=True)
class Step:
    """One step: the rule applied, and the IR node it gives (if any), which ``expr`` makes
    an expression to print or evaluate. ``said`` is the rule as words and :class:`Formula` pieces,
    where it holds formulas worth typesetting (the page and the LaTeX set them as math)."""

    rule: str
    node: Expr | None = None
    line: str = ""  # the expression as printed
    note: str = ""
    tex: str = ""  # the line in LaTeX
    said: tuple = ()  # the rule in pieces: str (words) and Formula; empty for words alone
    ascii: str = ""  # the line in plain ASCII (else the Unicode line, transliterated by ascii_text)

    @classmethod
    def worded(cls, *pieces, node: Expr | None = None) -> Step:
        """A step whose rule is ``pieces`` (words and :class:`Formula`), printed with each formula's text.

        >>> Step.worded("In matrix notation: ", Formula("g xᵀ", r"g x^{\\top}")).rule
        'In matrix notation: g xᵀ'
        """
        return cls(_joined(pieces), node, said=tuple(pieces))

    @classmethod
    def equation(cls, rule: str | tuple, node: Expr, lhs: str | Label, out=(), note: str = "") -> Step:
        """A step showing ``lhs = node``: ``lhs`` a name read at ``out``, or a derivative's label
        (printed ``∂y[i]/∂W[j,k]``), in Unicode and in LaTeX; ``rule`` words, or words and formulas
        (as :meth:`worded` takes them)."""
        def line(style):
            return render.equation(render.left_side(lhs, out, style), node, style)

        said = rule if isinstance(rule, tuple) else ()
        return cls(_joined(said) if said else rule, node, line(render.UNICODE), note, line(render.LATEX), said,
                   line(render.ASCII))

    @property
    def expr(self) -> Expression | None:
        return None if self.node is None else Expression(self.node)


def _joined(pieces) -> str:
    """Words and formulas as one line of printed text."""
    return "".join(p if isinstance(p, str) else p.text for p in pieces)


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

    def ascii(self) -> str:
        """The derivation in plain ASCII: each line in ASCII index notation (``d f / d W[i,j]``,
        ``sum_k``, ``delta(i,j)``), the prose transliterated by :func:`ascii_text`."""
        lines = []
        for k, s in enumerate(self.steps, 1):
            lines.append(f"{k}. {ascii_text(s.rule)}" + (":" if s.line else ""))
            if s.line:
                lines.append(f"     {ascii_text(s.ascii or s.line)}")  # names too: Θ -> Theta
            if s.note:
                lines.append(f"   {ascii_text(s.note)}")
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
            words = "".join(latex_text(p) if isinstance(p, str) else f"${p.tex}$" for p in s.said or (s.rule,))
            lines.append(r"\item " + words + (":" if s.tex else ""))
            if s.tex:
                lines.append(rf"\[ {s.tex} \]")
            if s.note:
                lines.append(latex_text(s.note))
        lines.append(r"\end{enumerate}")
        return "\n".join(lines)

    def _repr_markdown_(self):
        return "\n".join(f"{k}. {s.rule}" + (f"<br>`{s.line}`" if s.line else "") for k, s in enumerate(self.steps, 1))


_ASCII = {"∂": "d", "Σ": "sum", "δ": "delta", "ᵀ": "^T", "⊗": "kron", "⊙": "*", "·": "*", "×": "x", "−": "-",
          "—": "--", "–": "-", "‖": "||", "′": "'", "″": "''", "⁻¹": "^-1", "⁻ᵀ": "^-T", "∘": "o", "²": "^2", "³": "^3",
          "½": "1/2", "≈": "~", "≠": "!=", "≤": "<=", "≥": ">=", "→": "->", "←": "<-", "𝟙": "1", "⟨": "<", "⟩": ">",
          "η": "eta", "|": "|"}


def ascii_text(text: str) -> str:
    """Prose with its mathematical symbols in plain ASCII: ``∂L/∂Φ`` -> ``dL/dPhi``, ``xᵀ ⊗ I_m`` -> ``x^T kron I_m``.

    >>> ascii_text("∂L/∂Φ = 2β Φ sign(ΦᵀΦ − I)")
    'dL/dPhi = 2beta Phi sign(Phi^TPhi - I)'
    """
    out = []
    k = 0
    while k < len(text):
        pair = text[k:k + 2]
        if pair in _ASCII:
            out.append(_ASCII[pair])
            k += 2
            continue
        c = text[k]
        k += 1
        if c.isascii():
            out.append(c)
        elif c in _ASCII:
            out.append(_ASCII[c])
        else:
            symbol = (render.latex_symbol(c) or "").strip()
            out.append(symbol.lstrip("\\") if symbol.startswith("\\") and symbol[1:].isalpha() else "?")
    return "".join(out)


def _eliminations(expr: Expr, lhs: Label) -> list[Step]:
    steps = []
    for what, e in elimination_steps(expr):
        steps.append(Step.equation(f"Simplify: {what}", e, lhs))
    final = simplify(expr)
    last = steps[-1].node if steps else None
    if last is not None and len(final.terms) != len(last.terms):
        steps.append(Step.equation("Collect equal terms", final, lhs))
    return steps


def _raw_derivative(expr: Expr, var: Var, indices=None):
    """The product rule on ``expr`` before any simplification, with the final result's letters
    (``indices`` where given)."""
    tidy, var, wrt = readable(expr, var)
    if indices is not None:
        wrt = tuple(indices)
        tidy = Expr(expr.out, expr.dims, instantiate(expr, expr.out, wrt))
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
    def each(style):
        deltas = " ".join(render.render_factor(Delta(a, p, 0), (), style) for a, p in zip(generic, wrt)) or "1"
        x, d = (render.latex_name(xname), r"\partial ") if style.latex else (xname, "∂")
        return f"{d}{x}{style.indices(generic)}{' / ' * style.latex or '/'}{d}{x}{style.indices(wrt)} = {deltas}"

    steps.append(Step.equation((f"Differentiate each occurrence of {xname}: ",
                                Formula(each(render.UNICODE), each(render.LATEX))), raw, lhs))
    steps += _eliminations(raw, lhs)
    jac = simplify(raw)
    shape = f"{yname}.shape + {xname}.shape"
    asked = "" if jacobian.layout == "shape" else f"; you asked for {jacobian.layout_note()}"
    def entry(style):
        return f"J{style.indices(jac.out)} = {render.left_side(lhs, (), style)}"

    steps.append(Step.equation(
        ("Result, in the shape layout of jax.jacobian and torch (", Formula(entry(render.UNICODE), entry(render.LATEX)),
         f", shape {shape}){asked}"), jac, lhs, note=_sparsity(jac)))
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
    cotangent = Formula(f"{sym.cotangent} = ∂L/∂{yname}", rf"{render.latex_name(sym.cotangent)} = \partial L / "
                        rf"\partial {render.latex_name(yname)}")
    steps.append(Step.equation(
        ("Chain rule with ", cotangent, f" (shaped like {yname}), contracting over {summed}"), chained, lhs_l))
    steps += _eliminations(chained, lhs_l)
    final = contract(jac, g, y.out, wrt)
    matrix = mx.matrix_formula(final) if len(wrt) <= 2 else None
    if matrix is not None:
        steps.append(Step.worded("In matrix notation: ", _gradient_formula("L", xname, matrix),
                                 f", shaped like {xname}; the Jacobian itself is never built", node=final))
    return Derivation(tuple(steps))


def vec_steps(jac: Expr, k: int, y: str, x: str, g: str = "g") -> list[Step]:
    """Why the chain rule meets a Kronecker product: the Jacobian ``jac`` (``k`` axes of ``y``, then
    ``x``'s) stacked into Magnus–Neudecker's matrix ``∂vec(y)/∂vec(x)ᵀ`` (``xᵀ ⊗ I_m`` for ``y = W x``),
    and the chain rule as the product ``vec(g)ᵀ (xᵀ ⊗ I_m) = vec(g xᵀ)ᵀ``; each step carries the
    tensor it claims (the Jacobian, then the gradient ``Σ g J``), to reshape and compare. Empty where
    there is no Kronecker formula."""
    try:
        tree = mx.kronecker(jac, k)
    except NoFormula:
        return []
    formula = fm.unicode(tree)
    ys, xs = jac.out[:k], jac.out[k:]
    sizes = identity_sizes(jac, k, y)
    at = render.UNICODE.indices
    vec = "column-major: " + ", ".join(
        f"vec({name})[{axes[0]}{f' + |{axes[0]}|·{axes[1]}' if len(axes) > 1 else ''}] = {name}{at(axes)}"
        for name, axes in ((y, ys), (x, xs)) if axes)
    jacobian = mx.vec_jacobian(y, x)
    lhs = fm.unicode(jacobian)
    stacked = Step(
        f"Stack columns ({vec}): {lhs} is the |{y}|×|{x}| matrix holding ∂{y}{at(ys)}/∂{x}{at(xs)} at row vec({y})'s "
        f"position, column vec({x})'s. A Kronecker product is exactly that arrangement: (P ⊗ Q)[r + p·s, c + q·t] = "
        "P[s,t] Q[r,c] for Q of shape p×q, so a Jacobian whose first axes meet through Q and second axes through P "
        f"(δ[i,j] is an identity matrix{'; here ' + sizes if sizes else ''}) stacks into P ⊗ Q", jac, f"{lhs} = {formula}",
        tex=fm.latex(fm.Equation((jacobian, tree))))
    if not k:
        return [stacked]
    G = leaf(g, jac.dims[:k])
    grad = contract(jac, G, ys, xs)
    shown = mx.matrix_formula(grad)
    cot = fm.Transpose(fm.Name(g) if k == 1 else fm.Vec(fm.Name(g)))
    sides = (fm.Partial(fm.Name("L"), fm.Transpose(fm.Vec(fm.Name(x)))), fm.product(cot, fm.paren(tree)))
    equation = fm.Equation(sides + ((fm.Transpose(fm.Vec(shown)),) if shown is not None else ()))
    line = fm.unicode(equation)
    chained = Step(
        f"The chain rule is the matrix product of the vec forms, ∂L/∂vec({x})ᵀ = ∂L/∂vec({y})ᵀ {lhs}; with "
        f"(Cᵀ ⊗ D) vec(G) = vec(D G C) it is vec of a matrix shaped like {x} again", grad, line, tex=fm.latex(equation))
    return [stacked, chained]


def explain_expression(expr: Expr, wrt: Expr | Var, label: str | Label = "", indices=None) -> Derivation:
    """The derivation of ``∂expr/∂wrt`` for an expression printed as ``label`` (a name, or a
    derivative's :class:`~einsumgrad.notation.label.Label`), ``wrt``'s axes named ``indices`` (or the
    next free letters): the rules used, the product and chain rules, each simplification, and the
    matrix formula if there is one."""
    var = variable(wrt, expr)
    steps = [Step.equation("The expression, with its sums explicit", expr, label or "f", expr.out)]
    shown = label if not isinstance(label, Label) else render.left_side(label if label.partial else label.bare(), (),
                                                                         render.UNICODE)
    name = shown if shown.isidentifier() else f"({shown})" if shown else "f"
    if isinstance(label, Label) and not name.isidentifier():
        name_tex = render.fenced(render.left_side(label if label.partial else label.bare(), (), render.LATEX),
                                 render.LATEX)
    else:
        name_tex = render.latex_name(name) if name.isidentifier() else rf"\text{{{latex_text(name)}}}"
    for call in _calls(expr, var):
        steps.append(Step.worded(*_rule_text(call)))
    raw, wrt_idx = _raw_derivative(expr, var, indices)
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
    matrix = mx.matrix_formula(final)
    if matrix is not None:
        steps.append(Step.worded("In matrix notation: ", _gradient_formula(name, var.name, matrix, name_tex),
                                 node=final))
    if not expr.out and len(var.shape) == 2:
        steps.append(_layouts_step(final, name, var, name_tex))
    if not expr.out and len(var.shape) == 1 and matrix is not None:
        steps.append(_vector_layouts_step(final, fm.unicode(matrix), name, var))
    return Derivation(tuple(steps))


def _gradient_formula(f: str, x: str, matrix: fm.Formula, f_tex: str = "") -> Formula:
    """``∂f/∂x = matrix`` as a :class:`Formula`: ``f_tex`` is ``f`` in LaTeX where it is not a name."""
    top = f_tex or render.latex_name(f)
    return Formula(f"∂{f}/∂{x} = {fm.unicode(matrix)}",
                   rf"\partial {top} / \partial {render.latex_name(x)} = {fm.latex(matrix)}")


def _layouts_step(grad: Expr, name: str, var: Var, name_tex: str = "") -> Step:
    """Which matrix each convention calls ``∂f/∂W``, for W's own shape, and why they differ."""
    turned = Expr(grad.out[::-1], grad.dims[::-1], grad.terms)  # Gᵀ, printed only: the steps' nodes equal G
    m, n = (str(d) if isinstance(d, int) else letter for d, letter in zip(var.shape, "mn"))  # m×n for unknown sizes
    as_w = mx.matrix_formula(grad) or fm.Name("G")
    as_wt = mx.matrix_formula(turned) or fm.Transpose(fm.Name("G"))
    return Step.worded(
        "Layouts: the shape layout (jax, torch) and Wikipedia's denominator layout give ",
        _gradient_formula(name, var.name, as_w, name_tex),
        f", {m}×{n} like {var.name}, so that {var.name} − η ∂{name}/∂{var.name} is a gradient step; Wikipedia's "
        f"numerator layout lays it out by {var.name}ᵀ: ", Formula(fm.unicode(as_wt), fm.latex(as_wt)),
        f", {n}×{m}. Both hold the same numbers ∂{name}/∂{var.name}[i,j], arranged transposed")


def _vector_layouts_step(grad: Expr, column: str, name: str, var: Var) -> Step:
    """The column and the row: ``∂f/∂x`` shaped like ``x`` (jax, the denominator layout), and the
    textbooks' numerator layout, the row ``∂f/∂y W`` that the chain rule multiplies out from the left."""
    n = str(var.shape[0]) if isinstance(var.shape[0], int) else "n"
    row = fm.unicode(fm.row(mx.matrix_formula(grad)))
    return Step(
        f"Layouts: the shape layout (jax, torch) and Wikipedia's denominator layout give ∂{name}/∂{var.name} = "
        f"{column}, a column of {n} like {var.name}; Wikipedia's numerator layout, the textbooks' (∂{name}/∂{var.name} = "
        f"∂{name}/∂y ∂y/∂{var.name}, rows times Jacobians), writes the row {row}, 1×{n}. Both hold the same numbers "
        f"∂{name}/∂{var.name}[i]", grad)


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


def _rule_text(call: Call) -> tuple:
    """The rule for ``call``'s function, as words and :class:`Formula` pieces (see :meth:`Step.worded`)."""
    fn = functions.get(call.fn)
    if fn.derivative is not None:  # elementwise
        u = leaf("u", ())
        y = apply(call.fn, u, *call.params)
        dy = fn.derivative(u, y, *call.params)
        return ("Rule: ", Formula(f"∂{_show(y)}/∂u = {_show(dy)}",
                                  rf"\partial {_show(y, render.LATEX)} / \partial u = {_show(dy, render.LATEX)}"),
                ", applied elementwise")
    if fn.vjp is not None:
        return (f"Rule: {call.fn} is linear, so the derivative of {call.fn}(U) is {call.fn} of the derivative of U",)
    U = leaf("U", call.arg.dims)
    Y = apply(call.fn, U, *call.params)
    assert fn.jvp is not None, call.fn  # a function a node calls has a forward rule
    dY = fn.jvp(U, Y, leaf("dU", call.arg.dims), *call.params)
    dY = Expr(Y.out, dY.dims, instantiate(dY, Y.out, set()))  # at Y's own indices: d Y[i,j] = … [i,j]
    return ("Rule: ", Formula(f"d {_show(Y)} = {_show(dY)}", rf"\mathrm{{d}} {_show(Y, render.LATEX)} = {_show(dY, render.LATEX)}"))


def _show(e: Expr, style=render.UNICODE) -> str:
    return render.render_sum(e.terms, e.out, style, e.index_set())
