"""One question, every door: read → derive → evaluate → check → render.

The command line (``einsumgrad grad`` / ``hessian``) and the teaching page (:mod:`einsumgrad.doors.web.answer`)
each pose a :class:`Question` and take it through these steps, so they read the same inputs (the
expression language, ``--shapes`` text with any Python identifier, functions of your own) and give the
same answers and the same messages. A door adds only its own limits and its own display.

>>> q = Question("sum(tanh(W @ Θ))", "Θ", shapes="W=2x3, Θ=3x4")
>>> d = derive(read(q))
>>> print(render(d).text)
∂f/∂Θ[i,j] = Σ_k W[k,i] (1 - tanh(Σ_l W[k,l] Θ[l,j])²)
>>> check(d, arrays(d.read)).passed
True
"""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from .. import api
from . import indexed, latex
from ..core.algebra import MAX_RANK, leaf
from ..core.ir import Call, postorder
from ..library import generic
from ..compiler import describe_bytes, memory_limit
from ..core.errors import EinsumgradError, EinsumSyntaxError, MemoryLimitError, did_you_mean
from ..expression import Expression, scalar_of
from .language import IDENTITY, read_expression
from ..notation.teach import Derivation, Step

KINDS = {"gradient": "grad", "hessian": "hessian", "jacobian": "jacobian"}  # each kind, and the command that asks it
DEFAULT_SIZE = 3  # an axis no shape names, where a door evaluates without shapes
NOTATIONS = ("python", "index", "latex")  # how a question's text is written


@dataclass(frozen=True)
class Question:
    """What a user asks: the derivative (``kind``) of ``text`` by the tensor ``wrt``.

    ``shapes``: ``--shapes`` text (``"X=3x4, w=4, s="``: ``s`` a scalar) or a mapping of names to shapes;
    None when none are given. ``symmetric``: comma-separated symmetric matrices (``--symmetric``).
    ``numbers``: the random arrays drawn, ``"normal"`` or ``"integers"`` (non-zero, readable: the page's).
    ``notation``: how ``text`` is written, ``"python"`` (the expression language), ``"index"``
    (index notation, :mod:`einsumgrad.doors.indexed`) or ``"latex"`` (:mod:`einsumgrad.doors.latex`).
    """

    text: str
    wrt: str
    kind: str = "gradient"
    shapes: str | Mapping | None = None
    symmetric: str = ""
    seed: int = 0
    numbers: str = "normal"
    notation: str = "python"
    door: str = "command line"  # or "page": whose controls the messages name (see Words)


class Words(NamedTuple):
    """How a door's messages name its controls: the command line's options, the page's boxes and choices."""

    wrt: str  # the tensor to differentiate by, given as {}
    shapes: str  # the shapes given
    shape_eg: str  # one shape given, as an example: {} is "X=3x4"
    scalar_fix: str  # how to make a non-scalar question one, or ask for its Jacobian


WORDS = {
    "command line": Words("--wrt {}", "--shapes", "--shapes {}",
                          "write sum(...) around it, or ask for its Jacobian: einsumgrad jacobian \"...\" --wrt W"),
    "page": Words("{} in the By box", "the Shapes box", "{} in the Shapes box",
                  "write sum(...) around it in the Expression box, or choose jacobian as the Derivative"),
}


class Read(NamedTuple):
    """A question read: the expression, the tensor ``x`` to differentiate by, the tensors read (``names``) and
    their ``sizes`` (as given, or :data:`DEFAULT_SIZE` where no shapes were given), and what was guessed."""

    question: Question
    expression: Expression
    x: Expression
    names: tuple[str, ...]
    sizes: dict[str, tuple[int, ...]]
    guessed: tuple[tuple[str, int], ...]
    declared: tuple[str, ...]
    symmetric: frozenset[str]
    remarks: tuple[str, ...] = ()  # what reading LaTeX guessed, or read in one of two ways


class Derived(NamedTuple):
    """A question answered symbolically: the ``derivative``, and ``of``, what is differentiated once to get it
    (the expression itself, or its gradient for a Hessian): what :func:`check` compares with finite differences."""

    read: Read
    derivative: Expression
    of: Expression


class Rendered(NamedTuple):
    """The derivative printed (``text``), its matrix formula (None when not asked, ``""`` when there is none)
    and ``why`` there is none."""

    text: str
    matrix: str | None
    why: str | None


def name(text: str) -> str:
    """A name as Python reads identifiers (NFKC: ``ϕ`` is ``φ``), spaces around it dropped."""
    return unicodedata.normalize("NFKC", text.strip())


def parse_shape(text: str) -> tuple[int, ...]:
    """``'3x4' -> (3, 4)``; an empty string is a scalar's shape ``()``."""
    text = text.strip()
    if not text:
        return ()
    try:
        shape = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        raise EinsumgradError(f"a shape is sizes joined by 'x', such as 3x4; got {text!r}") from None
    return _sizes(shape, text)


def _sizes(shape: tuple[int, ...], text: str) -> tuple[int, ...]:
    if any(n < 0 for n in shape):
        raise EinsumgradError(f"sizes cannot be negative: {text!r}")
    if len(shape) > MAX_RANK:
        raise EinsumgradError(f"shape {text!r} has {len(shape)} axes, over NumPy's limit of {MAX_RANK}")
    return shape


def parse_shapes(given: str | Mapping | None) -> dict[str, tuple[int, ...]]:
    """``'X=3x4,Θ=4,s='`` (or ``{'X': (3, 4), ...}``) -> ``{'X': (3, 4), 'Θ': (4,), 's': ()}``.

    >>> parse_shapes("Φ=4x3x2, x=")
    {'Φ': (4, 3, 2), 'x': ()}
    """
    if isinstance(given, Mapping):
        items: list[tuple] = [(str(k), k, tuple(v)) for k, v in given.items()]
    else:
        items = [(item.strip(), *item.partition("=")[::2]) for item in (given or "").split(",") if item.strip()]
    shapes = {}
    for item, key, shape in items:
        key = name(key) if isinstance(key, str) else ""
        if not key.isidentifier() or (isinstance(shape, str) and "=" not in item):
            raise EinsumgradError(f"--shapes takes NAME=3x4 items separated by commas; got {item!r}")
        if key in shapes:
            raise EinsumgradError(f"--shapes gives {key} twice")
        shapes[key] = parse_shape(shape) if isinstance(shape, str) else _sizes(shape, "x".join(map(str, shape)))
    return shapes


def check_fits(shapes) -> None:
    """Refuse random float64 arrays of these shapes if together they are over the memory limit."""
    nbytes, limit = 8 * sum(math.prod(s) for s in shapes), memory_limit()
    if nbytes > limit:
        raise MemoryLimitError(f"--shapes asks for random arrays of {describe_bytes(nbytes)}, over the memory limit "
                               f"of {describe_bytes(limit)}; use smaller sizes")


def read(q: Question) -> Read:
    """Read the expression at the shapes given (ranks guessed where none are), and check the question against it:
    the tensor ``wrt``, the symmetric ones and the shapes must be tensors the expression reads."""
    if q.kind not in KINDS:
        raise EinsumgradError(f"kind: choose one of {', '.join(KINDS)}; got {q.kind!r}")
    words = WORDS[q.door]
    command = KINDS[q.kind]
    if isinstance(q.seed, bool) or not isinstance(q.seed, int) or q.seed < 0:
        raise EinsumgradError(f"--seed takes a whole number >= 0, got {q.seed}")
    shapes = parse_shapes(q.shapes)
    symmetric = frozenset(name(n) for n in q.symmetric.split(",") if n.strip())
    if q.notation not in NOTATIONS:
        raise EinsumgradError(f"notation: choose one of {', '.join(NOTATIONS)}; got {q.notation!r}")
    remarks: tuple[str, ...] = ()
    guessed: tuple[tuple[str, int], ...]
    declared: tuple[str, ...]
    if q.notation == "index":
        expr, guessed, declared = indexed.parse(q.text, shapes), (), ()
    elif q.notation == "latex":
        (expr, remarks), guessed, declared = latex.read_latex(q.text, shapes), (), ()
    else:
        expr, guessed, declared = read_expression(q.text, shapes, functions_of_your_own=True, symmetric=symmetric)
    compiled = api.compile(expr)
    variables = compiled.vars
    if symmetric - set(variables):
        raise EinsumgradError(f"--symmetric names {', '.join(sorted(symmetric - set(variables)))}, which the "
                              f"expression does not read (it reads {', '.join(variables) or 'no tensor'})")
    wrt = latex.name(q.wrt) if q.notation == "latex" else name(q.wrt)
    tensor = expr.name if expr.name in variables else ""  # the expression is one tensor, Θ
    if not wrt.isidentifier() or (tensor and wrt not in variables):  # ∂Θ/∂(the loss) asked for
        raise EinsumgradError(_upside_down(wrt, tensor, tuple(variables), words))
    if q.kind != "jacobian" and scalar_of(expr) is None:
        asked = command if q.door == "command line" else f"the {q.kind}"
        raise EinsumgradError(f"{asked} needs a scalar expression; this one has rank {expr.ndim}: "
                              f"{words.scalar_fix}; a result whose every axis has size 1 "
                              "(1×1 at the shapes given) is taken as a scalar" + guesses(guessed, words))
    if wrt not in variables:
        raise EinsumgradError(f"{words.wrt.format(wrt)}: no tensor of that name in the expression "
                              f"(it has {', '.join(variables) or 'none'})")
    read_names = compiled.accepted | ({IDENTITY} if q.notation == "python" else set())  # I=3x3: the identity's size
    unused = sorted(set(shapes) - read_names)
    if unused:
        near = did_you_mean(unused[0], compiled.accepted - set(shapes)) if len(unused) == 1 else ""
        raise EinsumgradError(f"{words.shapes} names {', '.join(unused)}{near}, which the expression does not read "
                              f"(it reads {', '.join(sorted(compiled.accepted)) or 'no tensor'})")
    sizes = {n: shapes[n] if n in shapes else tuple(d if isinstance(d, int) else DEFAULT_SIZE for d in variables[n].shape)
             for n in compiled.names}
    if q.shapes is not None:
        # a tensor whose every size is known (a scalar) needs no --shapes entry
        missing = [n for n in compiled.names if n not in shapes and not all(
            isinstance(d, int) for d in variables[n].shape)]
        if missing:
            raise EinsumgradError(f"{words.shapes} needs a shape for every tensor; missing {', '.join(missing)}")
        check_fits(sizes.values())
    var = variables[wrt]
    x = Expression(leaf(wrt, var.shape, var.symmetric), wrt)
    return Read(q, expr, x, compiled.names, sizes, guessed, declared, symmetric, remarks)


def derive(r: Read, layout: str = "shape", indices=None) -> Derived:
    """The derivative the question asks for, in ``layout`` (see :mod:`einsumgrad.notation.layouts`), its axes named
    ``indices`` if given (``"iab"``)."""
    kind, expr, x = r.question.kind, r.expression, r.x
    try:
        if kind == "jacobian":
            return Derived(r, api.jacobian(expr, x, layout=layout, indices=indices), expr)
        derivative = (api.grad if kind == "gradient" else api.hessian)(expr, x, layout=layout, indices=indices)
    except EinsumgradError as err:
        if not r.guessed:
            raise
        raise EinsumgradError(f"{err}{guesses(r.guessed, WORDS[r.question.door])}") from err
    of = scalar_of(expr) if kind == "gradient" else api.grad(expr, x)
    assert of is not None  # a gradient was taken: expr is a scalar
    return Derived(r, derivative, of)


def arrays(r: Read) -> dict[str, np.ndarray]:
    """Random arrays (of the question's seed and ``numbers``) for every tensor the expression reads, at its sizes;
    symmetric matrices symmetrized."""
    q = r.question
    rng = np.random.default_rng(q.seed)
    if q.numbers == "integers":  # readable, and away from the kinks of abs and sign
        out = {n: (rng.integers(1, 4, r.sizes[n]) * rng.choice([-1, 1], r.sizes[n])).astype(float) for n in r.names}
    else:
        out = {n: rng.standard_normal(r.sizes[n]) for n in r.names}
    out.update({n: (out[n] + out[n].T) / 2 for n in r.symmetric})
    return out


def evaluate(d: Derived, given: dict) -> np.ndarray:
    """The derivative's values at the arrays ``given``."""
    return api.evaluate(d.derivative, **given)


def check(d: Derived, given: dict):
    """The derivative against central differences of ``d.of`` at ``given`` (a :class:`einsumgrad.api` report)."""
    return api.check(d.of, d.read.x, **given)


def render(d: Derived, form: str = "text", matrix: bool = False) -> Rendered:
    """The derivative printed in ``form`` (text, latex, ascii, or einsum: one line per term), with its matrix
    formula if ``matrix`` (in LaTeX when ``form`` is)."""
    derivative = d.derivative
    forms: dict[str, Callable[[Expression], str]] = {"text": str, "latex": Expression.latex, "ascii": Expression.ascii,
                                                     "einsum": lambda e: "\n".join(e.einsum_terms())}
    text = forms[form](derivative)
    if not matrix:
        return Rendered(text, None, None)
    formula = derivative.matrix_notation(latex=form == "latex")
    return Rendered(text, formula or "", None if formula else derivative.matrix_notation_reason())


def _upside_down(wrt: str, tensor: str, variables: tuple[str, ...], words: Words) -> str:
    """What ``--wrt`` given the loss means (``wrt`` a name, or the loss written out), in the question's letters:
    for the expression one tensor Θ, why ``∂Θ/∂L`` is not the question."""
    what = f"{words.wrt.format(wrt)}: {tensor} is a tensor, not a function of {wrt}" if wrt.isidentifier() else (
        f"{words.wrt.format(repr(wrt))} is an expression, not the name of a tensor")
    if not tensor:  # the loss itself: by which of its tensors?
        θ = variables[-1] if variables else "W"
        return (f"{what}: derivatives are taken with respect to tensors, here one of {', '.join(variables) or 'none'}"
                f": {words.wrt.format(θ)} gives ∂L/∂{θ}, shaped like {θ}, for the update {θ} ← {θ} − η ∂L/∂{θ}")
    loss = wrt if wrt.isidentifier() else "L"
    how = "the loss as the expression" if wrt.isidentifier() else f"the expression L = {wrt}"
    return f"{what}: " + api.by_a_scalar(tensor, loss, f"{how}, differentiated by {tensor}")


def explain(d: Derived):
    """The numbered derivation (a Hessian's as the derivative of the gradient); for index notation and LaTeX, its
    first step shows how the text was read, in index notation."""
    derivation = api.explain(d.of, d.read.x)
    notation = d.read.question.notation
    if notation == "python":
        return derivation
    expr = d.read.expression
    title = "Read the input as index notation" if notation == "index" else "Read the LaTeX, in index notation"
    read = Step.equation(title, expr.node, expr.name or "y", expr.node.out)
    return Derivation((read, *derivation.steps))


def notes(r: Read) -> list[str]:
    """What the reading guessed: ranks from names, functions of your own, and a 1×1 result taken as a scalar."""
    one_entry = r.expression.ndim and r.question.kind != "jacobian"
    return ([api.one_entry_note(r.expression)] * bool(one_entry)
            + [f"{n} is taken as {rank_name(rank)}, a guess from its name; to change it, give its shape, e.g. "
               + WORDS[r.question.door].shape_eg.format(f"{n}={'x'.join('3456789'[:rank])}") for n, rank in r.guessed]
            + [f"{n} is not a known function: it is taken as an elementwise function of your own, its derivative "
               f"written {n}′" for n in r.declared] + list(r.remarks))


def own_functions(d: Derived) -> tuple[str, ...]:
    """The functions of your own with no implementation that the expression or its derivative applies (``h``,
    ``h′``, however they were written): they have no values, so the question is answered symbolically only."""
    return tuple(sorted({n.fn for n in postorder(d.read.expression.node, d.derivative.node) if isinstance(n, Call)
                         and n.fn in generic.DECLARED and generic.IMPLEMENTATIONS.get(n.fn) is None}))


def no_values_note(own: tuple[str, ...]) -> str:
    """Why a question with a function of your own has no values or check."""
    names = " and ".join(own)
    return (f"no values or check: {names} {'is a function' if len(own) == 1 else 'are functions'} of your own, with no "
            f"implementation to evaluate; the answer above is symbolic (in Python, eg.function('{own[0]}', impl, "
            "derivative) gives one)")


def message(err: EinsumgradError) -> str:
    """An error in one line, as every door shows it."""
    if isinstance(err, EinsumSyntaxError):
        return f"{err.problem}, at column {err.position + 1} of {err.spec!r}"
    return " ".join(str(err).split())


def rank_name(rank: int) -> str:
    return ("a scalar", "a vector (rank 1)", "a matrix (rank 2)")[rank] if rank < 3 else f"a tensor of rank {rank}"


def guesses(guessed, words: Words = WORDS["command line"]) -> str:
    """What an error adds where ranks were guessed from names: they may be why it failed."""
    if not guessed:
        return ""
    named = ", ".join(f"{n} {rank_name(r)}" for n, r in guessed)
    give = "give --shapes" if words.shapes == "--shapes" else f"give shapes in {words.shapes}"
    return f" (ranks guessed from names: {named}; {give} to change them)"
