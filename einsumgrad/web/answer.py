"""What the teaching page answers: a request (expression, tensor, kind, shapes) in, HTML sections out.

Every expression goes through :func:`einsumgrad.language.parse_expression`, the CLI's whitelisted
parser; nothing is evaluated, no file is read or written. :data:`LIMITS` bounds the input, the
derivative order and the tensors; the server adds a time limit per request.

>>> reply = respond({"expression": "einsum('ij,j->i', W, x)", "wrt": "W", "kind": "jacobian",
...                  "shapes": {"W": [2, 3], "x": [3]}})
>>> reply["ok"], reply["text"], reply["shape"]
(True, '∂f[i]/∂W[j,k] = δ[i,j] x[k]', [2, 2, 3])
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import api, slices
from ..algebra import leaf
from ..errors import EinsumgradError, EinsumSyntaxError
from ..expression import Expression
from ..ir import dim_value
from ..language import parse_expression
from . import fragments


class Limits(NamedTuple):
    characters: int = 2000  # in the expression
    tensors: int = 8  # names given shapes
    rank: int = 4  # axes of one tensor
    axis: int = 12  # the size of one axis
    entries: int = 4096  # in one input, and in the derivative evaluated
    seconds: float = 10.0  # per request (enforced by the server)


LIMITS = Limits()
KINDS = {"gradient": 1, "jacobian": 1, "hessian": 2}  # the derivatives offered, and their order
DEFAULT_SIZE = 3  # an axis no shape names


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
    Example("Question: half SSE ½ Σ (Y − h(XΘ))², h = tanh, Θ written T", "0.5 * sum((Y - tanh(X @ T))**2)", "T",
            "gradient", {"X": [4, 3], "T": [3, 2], "Y": [4, 2]}),
    Example("Question: orthogonality loss β Σ |Φᵢᵀ Φᵢ − I|, β = 0.5, Φ written P",
            "0.5 * sum(abs(einsum('iaj,iak->ijk', P, P) - I))", "P", "gradient", {"P": [2, 4, 3], "I": [3, 3]}),
    Example("Demo: L = Σ tanh(Wx)", "sum(tanh(W @ x))", "W", "gradient", {"W": [3, 4], "x": [4]}),
    Example("Demo: the Hessian of xᵀAx", "einsum('i,ij,j->', x, A, x)", "x", "hessian", {"x": [3], "A": [3, 3]}),
    Example("Cookbook: ∂ tr(AXB)/∂X", "trace(A @ X @ B)", "X", "gradient", {"A": [3, 3], "X": [3, 3], "B": [3, 3]}),
    Example("Cookbook: ∂ tr(XᵀBX)/∂X", "trace(X.T @ B @ X)", "X", "gradient", {"X": [3, 3], "B": [3, 3]}),
    Example("Cookbook: ∂ log|det X|/∂X", "logdet(X)", "X", "gradient", {"X": [3, 3]}, seed=1),
    Example("Cookbook: ∂ tr(X⁻¹A)/∂X", "trace(inv(X) @ A)", "X", "gradient", {"X": [3, 3], "A": [3, 3]}),
)


def respond(request) -> dict:
    """The page's reply: ``{"ok": True, <sections>}`` or ``{"ok": False, "error": message}``."""
    try:
        text, wrt, kind, shapes, seed = read_request(request)
        expr = parse_expression(text, shapes)
        return {"ok": True, **sections(expr, wrt, kind, _arrays(expr, shapes, seed))}
    except EinsumSyntaxError as err:
        return {"ok": False, "error": str(err)}
    except EinsumgradError as err:
        return {"ok": False, "error": " ".join(str(err).split())}
    except RecursionError:
        return {"ok": False, "error": "the expression nests too deeply to differentiate here"}


def read_request(request) -> tuple[str, str, str, dict, int]:
    """The request's fields, checked against :data:`LIMITS`, or a clear error."""
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
    if not isinstance(wrt, str) or not wrt.isidentifier() or len(wrt) > 64:
        raise EinsumgradError("name the tensor to differentiate by, e.g. W")
    if not isinstance(kind, str) or kind not in KINDS:
        raise EinsumgradError(f"kind: choose one of {', '.join(KINDS)} (derivatives up to order "
                              f"{max(KINDS.values())}); got {_shown(kind)}")
    seed = request.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise EinsumgradError("the seed is a whole number from 0 to 2³² − 1")
    shapes = request.get("shapes")
    return text, wrt, kind, _shapes({} if shapes is None else shapes), seed


def _shapes(given) -> dict[str, tuple[int, ...]]:
    if not isinstance(given, dict):
        raise EinsumgradError(f'shapes is a JSON object of sizes, such as {{"W": [2, 3]}}; got {_shown(given)}')
    if len(given) > LIMITS.tensors:
        raise EinsumgradError(f"shapes: at most {LIMITS.tensors} tensors, each NAME=3x4")
    shapes = {}
    for name, shape in given.items():
        if not isinstance(name, str) or not name.isidentifier() or len(name) > 64:
            raise EinsumgradError(f"shapes: {str(name)[:64]!r} is not a tensor name")
        if not isinstance(shape, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= LIMITS.axis for n in shape):
            raise EinsumgradError(f"shapes: {name} is a list of sizes, each from 1 to {LIMITS.axis}; "
                                  f"got {_shown(shape)}")
        shapes[name] = check_size(name, tuple(shape), "shapes: ")
    return shapes


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
    einsumgrad.errors.EinsumgradError: x has 8 axes, over the page's limit of 4
    """
    if len(shape) > LIMITS.rank:
        raise EinsumgradError(f"{where}{name} has {len(shape)} axes, over the page's limit of {LIMITS.rank}")
    if math.prod(shape) > LIMITS.entries:
        raise EinsumgradError(f"{where}{name} would have {math.prod(shape):,} entries, over the page's limit of "
                              f"{LIMITS.entries:,}")
    return shape


def _arrays(expr: Expression, shapes: dict, seed: int) -> dict[str, np.ndarray]:
    """Random non-zero integers (readable, and away from the kinks of abs and sign) for every tensor
    the expression reads; an axis no shape names has :data:`DEFAULT_SIZE` entries."""
    rng = np.random.default_rng(seed)
    unused = sorted(set(shapes) - expr.tensors)
    if unused:
        raise EinsumgradError(f"shapes names {', '.join(unused)}, which the expression does not read "
                              f"(it reads {', '.join(sorted(expr.tensors)) or 'no tensor'})")
    sized = {name: shapes.get(name) or tuple(d if isinstance(d, int) else DEFAULT_SIZE for d in var.shape)
             for name, var in api.compile(expr).vars.items()}
    for name, shape in sized.items():  # every tensor, before any is made
        check_size(name, shape)
    return {name: (rng.integers(1, 4, shape) * rng.choice([-1, 1], shape)).astype(float)
            for name, shape in sized.items()}


def sections(expr: Expression, wrt: str, kind: str, arrays: dict | None = None) -> dict:
    """The answer as HTML sections: ``result`` (index and matrix notation, layout), ``derivation``,
    and, at ``arrays``, ``inputs``, ``tensor`` (the derivative's values, sliced) and ``check``."""
    variables = api.compile(expr).vars
    if wrt not in variables:
        raise EinsumgradError(f"{wrt}: no tensor of that name in the expression "
                              f"(it has {', '.join(variables) or 'none'})")
    x = Expression(leaf(wrt, variables[wrt].shape), wrt)
    if kind == "jacobian":
        derivative, of = api.jacobian(expr, x), expr
    else:
        derivative = (api.grad if kind == "gradient" else api.hessian)(expr, x)
        of = expr if kind == "gradient" else api.grad(expr, x)
    text, matrix = str(derivative), derivative.matrix_notation()
    layout = _layout(kind, wrt, derivative.node.out, expr.ndim)
    reply = {"text": text, "matrix": matrix, "layout": layout, "kind": kind,
             "result": fragments.result_html(text, matrix or "", layout, derivative.matrix_notation_reason()),
             "derivation": fragments.derivation_html(api.explain(of, x).steps)}
    if arrays is not None:
        reply.update(_values(derivative, of, x, kind, arrays))
    return reply


def _layout(kind: str, wrt: str, out, rank: int) -> str:
    idx = ",".join(out)
    if kind == "gradient":
        return f"Gradient layout: ∂f/∂{wrt}[{idx}] sits at position [{idx}], so the gradient is shaped like {wrt}."
    if kind == "hessian":
        return f"Hessian layout: H[{idx}], shape {wrt}.shape + {wrt}.shape."
    return (f"Shape layout: J[{idx}] = ∂f[{','.join(out[:rank])}]/∂{wrt}[{','.join(out[rank:])}], "
            f"shape f.shape + {wrt}.shape (as jax.jacobian and torch.autograd.functional.jacobian)"
            + ("; Wikipedia's numerator and denominator layouts define none for more than two axes." if len(out) > 2
               else "."))


def _values(derivative: Expression, of: Expression, x: Expression, kind: str, arrays: dict) -> dict:
    size = {name: a.shape for name, a in arrays.items()}
    entries = int(math.prod(dim_value(d, lambda a: size[a[0]][a[1]]) for d in derivative.shape))
    if entries > LIMITS.entries:
        raise EinsumgradError(f"the {kind} would have {entries:,} entries, over the page's limit of "
                              f"{LIMITS.entries:,}; give smaller shapes")
    value = api.evaluate(derivative, **arrays)
    report = api.check(of, x, **arrays)
    name = {"gradient": "G", "jacobian": "J", "hessian": "H"}[kind]
    inputs = "".join(fragments.label(f"{n} =") + fragments.tensor_html(a, n, ()) for n, a in arrays.items())
    return {"shape": list(value.shape), "inputs": inputs,
            "tensor": fragments.tensor_html(value, name, derivative.node.out, slices.identity_form(derivative.node)), "check": fragments.check_html(report)}


def document(expr: Expression, wrt: str, kind: str, arrays: dict | None = None) -> str:
    """One self-contained HTML file (MathML, CSS-only tabs; no script, nothing fetched) with the answer."""
    parts = sections(expr, wrt, kind, arrays)
    body = [f"<h2>The {kind}</h2>", parts["result"], "<h2>Derivation</h2>", parts["derivation"]]
    if arrays is not None:
        body += ["<h2>At random arrays</h2>", parts["inputs"], "<h3>Values</h3>", parts["tensor"], parts["check"]]
    return fragments.document(f"{kind} of {expr.name or 'f'} with respect to {wrt}", "\n".join(body))


def write(path: str, html: str) -> None:
    """Write an HTML file, or a clear error."""
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(html)
    except OSError as err:
        raise EinsumgradError(f"--html {path}: {err.strerror}") from None
