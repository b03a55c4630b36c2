"""Derivatives by a symmetric matrix ``S = Sᵀ`` (``eg.tensor("S", 2, symmetric=True)``).

Only symmetric directions ``E`` move ``S``, so the gradient of a scalar ``L`` is the symmetric ``G``
with ``⟨G, E⟩ = dL(E)`` for every symmetric ``E``: ``G = sym(∂L/∂S) = ½(∂L/∂S + ∂L/∂Sᵀ)`` of the
gradient that treats the entries as independent. It is the one gradient descent on symmetric matrices
needs (``S - η G`` stays symmetric and is the steepest descent in the Frobenius inner product), and
Jacobians and Hessians are symmetrised the same way over their axes of ``S``.

Textbooks (Magnus–Neudecker's duplication matrix, the Matrix Cookbook) also give
``G + Gᵀ - diag(G)``: the derivative by each *distinct* entry ``S[i,j] = S[j,i]``, laid out as a
matrix. It is not a gradient in this sense — ``⟨G + Gᵀ - diag(G), E⟩ ≠ dL(E)``, off-diagonal
entries are counted twice — so a step along it is not steepest descent and it does not give the
directional derivative (Srinivasan & Panda, "What is the gradient of a scalar function of a
symmetric matrix?", 2023). It is available on request: ``eg.grad(L, S, convention="duplication")``.

>>> from .algebra import tensor
>>> from ..notation.render import index_notation
>>> print(index_notation(symmetrize(tensor("A", 2), 0)))
y[i,j] = 0.5 (A[i,j] + A[j,i])
"""
from __future__ import annotations

from itertools import permutations

from .errors import DerivativeError
from .ir import Delta, Expr, Ref, Term, Var, instantiate
from .simplify import canonical, simplify

CONVENTIONS = ("symmetric", "duplication")
MATCHED = 4  # summed indices of a term tried in every order (4! = 24 renamings)


def symmetrize(expr: Expr, k: int) -> Expr:
    """``½(E + E with axes k and k+1 swapped)``, printed as ``0.5 (…)``; ``E`` itself where it is
    already symmetric in them."""
    out = expr.out
    swapped = out[:k] + (out[k + 1], out[k]) + out[k + 2:]
    transposed = simplify(Expr(out, expr.dims, instantiate(expr, swapped, out)))
    both = simplify(Expr(out, expr.dims, expr.terms + _matched(transposed.terms, expr.terms, out)))
    if both == simplify(Expr(out, expr.dims, tuple(Term(2 * t.coef, t.factors) for t in expr.terms))):
        return expr
    coefs = {t.coef for t in both.terms}
    c = coefs.pop() if len(coefs) == 1 else 1  # a coefficient every term shares goes outside the brackets
    inner = simplify(Expr(out, expr.dims, tuple(Term(t.coef / c, t.factors) for t in both.terms)))
    return inner if c == 2 else Expr(out, expr.dims, (Term(c / 2, (Ref(inner, out),)),))


def _matched(terms, others, out) -> tuple[Term, ...]:
    """``terms``, each written as the one of ``others`` it equals up to renaming its summed indices
    (tried in every order, up to :data:`MATCHED` of them), so that the two merge: canonical forms
    tell ``x[k] x[l] B[i,k] B[j,l]`` from ``x[k] x[l] B[i,l] B[j,k]`` by the order of a tie."""
    known = {t.factors for t in others}
    result = []
    for t in terms:
        summed = [a for a in t.indices() if a not in out]
        renamed = (canonical(t.rename(dict(zip(summed, p))), out) for p in permutations(summed))
        same = next((r for r in renamed if r.factors in known), t) if len(summed) <= MATCHED else t
        result.append(same)
    return tuple(result)


def along(expr: Expr, var: Var, k: int) -> Expr:
    """``expr``, a derivative by ``var`` whose axes of ``var`` start at ``k``, taken along symmetric
    directions where ``var`` is symmetric."""
    return symmetrize(expr, k) if var.symmetric else expr


def duplication(g: Expr) -> Expr:
    """``G + Gᵀ - diag(G)`` of the gradient ``g`` that treats the entries as independent."""
    i, j = g.out
    diagonal = tuple(Term(-t.coef, t.factors + (Delta(i, j, g.dims[0]),)) for t in instantiate(g, (i, i), g.out))
    return simplify(Expr(g.out, g.dims, g.terms + instantiate(g, (j, i), g.out) + diagonal))


def check_convention(convention: str, var: Var) -> None:
    if convention not in CONVENTIONS:
        raise DerivativeError(f"convention={convention!r}: choose 'symmetric' (the gradient, sym(∂L/∂S)) "
                              "or 'duplication' (G + Gᵀ - diag(G), by the distinct entries)")
    if convention == "duplication" and not var.symmetric:
        raise DerivativeError(f"convention='duplication' is for a symmetric matrix; {var.name!r} is not one "
                              f"(declare it with eg.tensor({var.name!r}, 2, symmetric=True))")
