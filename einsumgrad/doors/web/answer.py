"""What the teaching page answers: a request (expression, tensor, kind, shapes) in, HTML sections out.

A request is a :class:`~einsumgrad.doors.question.Question` taken through :mod:`einsumgrad.doors.question`, the pipeline
the command line uses: the same language (whitelisted, nothing evaluated), shapes, answers and messages; no file
is read or written. :data:`LIMITS` bounds the input, the derivative order and the tensors; the server adds a time
limit per request. Without shapes, each axis has :data:`~einsumgrad.doors.question.DEFAULT_SIZE` entries.

>>> reply = respond({"expression": "einsum('ij,j->i', W, x)", "wrt": "W", "kind": "jacobian",
...                  "shapes": {"W": [2, 3], "x": [3]}})
>>> reply["ok"], reply["text"], reply["shape"]
(True, '∂f[i]/∂W[j,k] = δ[i,j] x[k]', [2, 2, 3])
"""
from __future__ import annotations

import math
from typing import NamedTuple

from .. import question
from ...notation import slices
from ...core.algebra import resolve_dim
from ...core.errors import EinsumgradError, EinsumSyntaxError
from ..question import Derived, Question
from ...notation import fragments


class Limits(NamedTuple):
    characters: int = 2000  # in the expression
    tensors: int = 8  # names given shapes
    rank: int = 4  # axes of one tensor
    axis: int = 12  # the size of one axis
    entries: int = 4096  # in one input, and in the derivative evaluated
    seconds: float = 10.0  # per request (enforced by the server)


LIMITS = Limits()
KINDS = {"gradient": 1, "jacobian": 1, "hessian": 2}  # the derivatives offered, and their order


class Example(NamedTuple):
    title: str
    expression: str
    wrt: str
    kind: str
    shapes: dict
    seed: int = 0


EXAMPLES = (
    Example("Question: y = Wx — is ∂y/∂W equal to x? (a third-order tensor)", "einsum('ij,j->i', W, x)", "W",
            "jacobian", {"W": [2, 3], "x": [3]}),
    Example("Question: L = (XW + b) y — why must ∂L/∂W be shaped like W?", "sum((X @ W + b) @ y)", "W", "gradient",
            {"X": [1, 4], "W": [4, 3], "b": [1, 3], "y": [3, 1]}),
    Example("Question: half SSE L = ½ Σ (Y − h(XΘ))², h = tanh", "0.5 * sum((Y - tanh(X @ Θ))**2)", "Θ",
            "gradient", {"X": [4, 3], "Θ": [3, 2], "Y": [4, 2]}),
    Example("Question: orthogonality loss L = β Σ |Φᵢᵀ Φᵢ − I|, β = 0.5",
            "0.5 * sum(abs(einsum('lmj,lmk->mjk', Φ, Φ) - I))", "Φ", "gradient", {"Φ": [4, 2, 3], "I": [3, 3]}),
    Example("Demo: L = Σ tanh(Wx)", "sum(tanh(W @ x))", "W", "gradient", {"W": [3, 4], "x": [4]}),
    Example("Demo: the Hessian of xᵀAx", "einsum('i,ij,j->', x, A, x)", "x", "hessian", {"x": [3], "A": [3, 3]}),
    Example("Cookbook: ∂ tr(AXB)/∂X", "trace(A @ X @ B)", "X", "gradient", {"A": [3, 3], "X": [3, 3], "B": [3, 3]}),
    Example("Cookbook: ∂ tr(XᵀBX)/∂X", "trace(X.T @ B @ X)", "X", "gradient", {"X": [3, 3], "B": [3, 3]}),
    Example("Cookbook: ∂ log|det X|/∂X", "logdet(X)", "X", "gradient", {"X": [3, 3]}, seed=1),
    Example("Cookbook: ∂ tr(X⁻¹A)/∂X", "trace(inv(X) @ A)", "X", "gradient", {"X": [3, 3], "A": [3, 3]}),
)


def respond(request) -> dict:
    """The page's reply: ``{"ok": True, <sections>}`` or ``{"ok": False, "error": message}``; the message is the
    command line's, with a caret under the place for a syntax error."""
    try:
        r = question.read(read_request(request))
        for name, shape in r.sizes.items():  # every tensor, before any is made
            check_size(name, shape)
        derived = question.derive(r)
        arrays = None if question.own_functions(derived) else question.arrays(r)  # a function of your own: no values
        return {"ok": True, "notes": question.notes(r), **sections(derived, arrays)}
    except EinsumSyntaxError as err:
        return {"ok": False, "error": f"{question.message(err)}\n  {err.spec}\n  {' ' * err.position}^"}
    except EinsumgradError as err:
        return {"ok": False, "error": question.message(err)}
    except RecursionError:
        return {"ok": False, "error": "the expression nests too deeply to differentiate here"}


def read_request(request) -> Question:
    """The request's fields as a :class:`~einsumgrad.doors.question.Question`, checked against :data:`LIMITS`, or a
    clear error. ``shapes`` is the command line's ``--shapes`` text (``"Φ=4x3x2, x=3"``) or a JSON object of
    sizes (``{"W": [2, 3]}``); ``symmetric`` its ``--symmetric`` text."""
    if not isinstance(request, dict):
        raise EinsumgradError("a request is a JSON object")
    text, wrt, kind = request.get("expression"), request.get("wrt"), request.get("kind", "gradient")
    if not isinstance(text, str) or not text.strip():
        raise EinsumgradError("write an expression, e.g. sum(tanh(W @ x))")
    if not text.isascii() and any(0xD800 <= ord(c) < 0xE000 for c in text):  # no character: JSON's lone \ud800
        raise EinsumgradError("the expression holds a lone surrogate (such as \\ud800), which is not a character")
    if len(text) > LIMITS.characters:
        raise EinsumgradError(f"an expression here has at most {LIMITS.characters:,} characters; "
                              f"this one has {len(text):,}")
    if not isinstance(wrt, str) or not wrt.strip() or len(wrt) > 64:
        raise EinsumgradError("name the tensor to differentiate by, e.g. W")
    if not isinstance(kind, str) or kind not in KINDS:
        raise EinsumgradError(f"kind: choose one of {', '.join(KINDS)} (derivatives up to order "
                              f"{max(KINDS.values())}); got {_shown(kind)}")
    seed = request.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise EinsumgradError("the seed is a whole number from 0 to 2³² − 1")
    symmetric = request.get("symmetric", "")
    if not isinstance(symmetric, str) or len(symmetric) > LIMITS.characters:
        raise EinsumgradError("symmetric: the symmetric matrices' names, separated by commas, e.g. S")
    notation = request.get("notation", "python")
    if notation not in question.NOTATIONS:
        raise EinsumgradError(f"notation: choose one of {', '.join(question.NOTATIONS)}; got {_shown(notation)}")
    shapes = _shapes(request.get("shapes"))
    return Question(text, wrt, kind, shapes, symmetric, seed, numbers="integers", notation=notation, door="page")


def _shapes(given) -> dict[str, tuple[int, ...]] | None:
    """The shapes given, parsed as the command line's (None for none), each within :data:`LIMITS`."""
    if isinstance(given, dict):
        for name, shape in given.items():
            if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in shape):
                raise EinsumgradError(f"shapes: {str(name)[:64]} is a list of sizes, each from 1 to {LIMITS.axis}; "
                                      f"got {_shown(shape)}")
    elif not isinstance(given, (str, type(None))):
        raise EinsumgradError(f'shapes is a JSON object of sizes, such as {{"W": [2, 3]}}, or the command line\'s '
                              f'text, such as "W=2x3, x=3"; got {_shown(given)}')
    if isinstance(given, str) and len(given) > LIMITS.characters:
        raise EinsumgradError(f"shapes here have at most {LIMITS.characters:,} characters")
    shapes = question.parse_shapes(given)
    if len(shapes) > LIMITS.tensors:
        raise EinsumgradError(f"shapes: at most {LIMITS.tensors} tensors, each NAME=3x4")
    for name, shape in shapes.items():
        if not all(1 <= n <= LIMITS.axis for n in shape):
            raise EinsumgradError(f"shapes: {name}={'x'.join(map(str, shape))}: sizes here are each from 1 to "
                                  f"{LIMITS.axis}")
        check_size(name, shape, "shapes: ")
    return shapes or None


def _shown(value) -> str:
    """A request's value in an error message, in short (never the whole of a nested list).

    >>> _shown("Jacobian"), _shown([2, 0.5]), _shown([[1, 2]]), _shown({})
    ("'Jacobian'", '[2, 0.5]', 'a list of 1 item(s)', 'a JSON object of 0 item(s)')
    """
    flat = isinstance(value, list) and all(isinstance(v, (int, float, str, type(None))) for v in value)
    if isinstance(value, dict) or (isinstance(value, list) and not flat):
        return f"{'a list' if isinstance(value, list) else 'a JSON object'} of {len(value):,} item(s)"
    text = repr(value)
    return text if len(text) <= 64 else text[:60] + " ..."


def check_size(name: str, shape: tuple[int, ...], where: str = "") -> tuple[int, ...]:
    """``shape`` if a tensor of it is within :data:`LIMITS` (rank and entries), else a clear error.

    >>> check_size("x", (3,) * 8)
    Traceback (most recent call last):
    ...
    einsumgrad.core.errors.EinsumgradError: x has 8 axes, over the page's limit of 4
    """
    if len(shape) > LIMITS.rank:
        raise EinsumgradError(f"{where}{name} has {len(shape)} axes, over the page's limit of {LIMITS.rank}")
    if math.prod(shape) > LIMITS.entries:
        raise EinsumgradError(f"{where}{name} would have {math.prod(shape):,} entries, over the page's limit of "
                              f"{LIMITS.entries:,}")
    return shape


def sections(d: Derived, arrays: dict | None = None) -> dict:
    """The answer as HTML sections: ``result`` (index and matrix notation, layout), ``derivation``,
    and, at ``arrays``, ``inputs``, ``tensor`` (the derivative's values, sliced) and ``check``."""
    kind, wrt = d.read.question.kind, d.read.x.name
    shown, typeset = question.render(d, matrix=True), question.render(d, "latex", matrix=True)
    assert d.derivative.label is not None  # a derivative is labelled
    layout = _layout(kind, wrt, d.derivative.node.out, d.read.expression.ndim, d.derivative.label.f)
    reply = {"text": shown.text, "matrix": shown.matrix or None, "layout": layout, "kind": kind,
             "result": fragments.result_html(typeset.text, typeset.matrix, layout, typeset.why),
             "derivation": fragments.derivation_html(question.explain(d).steps)}
    if arrays is not None:
        reply.update(_values(d, arrays))
    return reply


def _layout(kind: str, wrt: str, out, rank: int, f: str = "f") -> str:
    idx = ",".join(out)
    if kind == "gradient":
        return f"Gradient layout: ∂{f}/∂{wrt}[{idx}] sits at position [{idx}], so the gradient is shaped like {wrt}."
    if kind == "hessian":
        return f"Hessian layout: H[{idx}], shape {wrt}.shape + {wrt}.shape."
    return (f"Shape layout: J[{idx}] = ∂{f}[{','.join(out[:rank])}]/∂{wrt}[{','.join(out[rank:])}], "
            f"shape {f}.shape + {wrt}.shape (as jax.jacobian and torch.autograd.functional.jacobian)"
            + ("; Wikipedia's numerator and denominator layouts define none for more than two axes." if len(out) > 2
               else "."))


def _values(d: Derived, arrays: dict) -> dict:
    kind, derivative = d.read.question.kind, d.derivative
    size = {name: a.shape for name, a in arrays.items()}
    entries = math.prod(resolve_dim(n, size) for n in derivative.shape)
    if entries > LIMITS.entries:
        raise EinsumgradError(f"the {kind} would have {entries:,} entries, over the page's limit of "
                              f"{LIMITS.entries:,}; give smaller shapes")
    value = question.evaluate(d, arrays)
    report = question.check(d, arrays)
    name = {"gradient": "G", "jacobian": "J", "hessian": "H"}[kind]
    inputs = "".join(fragments.label(f"{n} =") + fragments.tensor_html(a, n, ()) for n, a in arrays.items())
    return {"shape": list(value.shape), "inputs": inputs,
            "tensor": fragments.tensor_html(value, name, derivative.node.out, slices.identity_form(derivative.node)),
            "check": fragments.check_html(report)}


def document(d: Derived, arrays: dict | None = None) -> str:
    """One self-contained HTML file (MathML, CSS-only tabs; no script, nothing fetched) with the answer."""
    parts = sections(d, arrays)
    kind = d.read.question.kind
    body = [f"<h2>The {kind}</h2>", parts["result"], "<h2>Derivation</h2>", parts["derivation"]]
    if arrays is not None:
        body += ["<h2>At random arrays</h2>", parts["inputs"], "<h3>Values</h3>", parts["tensor"], parts["check"]]
    assert d.derivative.label is not None  # a derivative is labelled
    return fragments.document(f"{kind} of {d.derivative.label.f} with respect to {d.read.x.name}", "\n".join(body))


def write(path: str, html: str) -> None:
    """Write an HTML file, or a clear error."""
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(html)
    except OSError as err:
        raise EinsumgradError(f"--html {path}: {err.strerror}") from None
