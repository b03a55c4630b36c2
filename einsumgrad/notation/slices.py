"""What a slice ``J[:, :, k]`` of a Jacobian is, said in its title: ``J[:, :, k] = x[k] I``.

A Jacobian term ``c δ[i,j] f[k]`` (its delta between the two axes a slice shows, its other
factors free of them) makes every slice a multiple of the identity, the multiple read off the
term itself; the numbers follow where the slice is one.

>>> from ..core.algebra import einsum, tensor
>>> from ..core.differentiate import derivative
>>> W, x = tensor("W", 2), tensor("x", 1)
>>> form = identity_form(derivative(einsum("ij,j->i", W, x), W.terms[0].factors[0].node))
>>> form(("k",)), form((1,))
('x[k] I', 'x[1] I')
>>> title("J", (1,), 2 * np.eye(2), form)
'J[:, :, 1] = x[1] I = 2 I'
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import render
from ..core.ir import Delta, Expr, Term, factor_indices

Form = Callable[[tuple], str]


def identity_form(jac: Expr) -> Form | None:
    """For ``J[i,j,k…] = c δ[i,j] f[k…]``: the function from a slice's position ``(k, …)`` (ints, or
    index letters) to its form ``f[k…] I``; None where the slices are not multiples of the identity."""
    if jac.ndim < 3 or len(jac.terms) != 1:
        return None
    (t,) = jac.terms
    rows = set(jac.out[:2])
    deltas = [f for f in t.factors if isinstance(f, Delta) and {f.a, f.b} == rows]
    rest = tuple(f for f in t.factors if f not in deltas[:1])
    if len(deltas) != 1 or any(rows & set(factor_indices(f)) for f in rest):
        return None
    multiple, sliced = Term(t.coef, rest), jac.out[2:]

    def form(at: tuple) -> str:
        text = render.render_term(multiple.rename(dict(zip(sliced, map(str, at)))), tuple(map(str, at)), render.UNICODE)
        if text in ("1", "-1"):
            return text[:-1] + "I"
        return f"{text} I" if render.atomic(text) else f"({text}) I"

    return form


def title(name: str, at: tuple, matrix: np.ndarray, form: Form | None = None) -> str:
    """``J[:, :, 1]``, with its form (``= x[1] I``) where known and its value where the slice is
    zero or a multiple of the identity (``= -1 I``)."""
    head = f"{name}[:, :, {', '.join(map(str, at))}]"
    shown = f"{head} = {form(at)}" if form else head
    c = _multiple(matrix)
    if c is None:
        return shown
    value = {0: "0", 1: "I", -1: "-I"}.get(c, f"{c:.4g} I")
    return shown if form and form(at) == value else f"{shown} = {value}"


def _multiple(matrix: np.ndarray):
    """The c with ``matrix = c I``, or None."""
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or not np.isfinite(matrix).all():
        return None
    c = matrix[0, 0] if matrix.size else 0
    return c if np.array_equal(matrix, c * np.eye(len(matrix))) else None

