"""The rank of every name in an expression of the language, inferred from how it is used.

Known ranks (``--shapes``, einsum specs) are kept. Then, repeatedly: a name combined elementwise
(``+ - * /``) with an operand of known rank takes that rank (``y - tanh(X @ Θ)``: a matrix;
``β * sum(...)``: a scalar), and a name given to a function that takes one rank only (``inv``)
takes that one; a name nothing says anything about is guessed from its case (upper: a matrix,
lower: a vector), the names that no use could settle first. Only those guesses are reported.

>>> import ast
>>> tree = ast.parse("0.5 * sum((y - tanh(X @ T))**2)", mode="eval")
>>> infer(tree, {})
({'y': 2, 'X': 2, 'T': 2}, ['X', 'T'])
>>> infer(ast.parse("b * sum(abs(einsum('ij,jk->ik', A, A) - I))", mode="eval"), {"A": 2}, "I")
({'b': 0, 'A': 2}, [])
"""
from __future__ import annotations

import ast
from ..core import functions as registry
from ..core.errors import EinsumgradError
from ..core.parse import ELLIPSIS, parse

_ELEMENTWISE = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_RANKS_TRIED = range(5)


def guess(name: str, least: int = 0) -> int:
    """A rank from the name alone: upper case, a matrix; lower case (or Greek), a vector."""
    return max(2 if name[0].isupper() else 1, least)


def infer(tree: ast.Expression, known: dict[str, int], identity: str | None = None) -> tuple[dict[str, int], list[str]]:
    """``(ranks, guessed)``: the rank of every tensor name in ``tree``, and those guessed, in order.
    ``identity`` is the name read as the identity matrix, if any."""
    nodes = list(ast.walk(tree))[::-1]  # ast.walk goes breadth first: reversed, children come before parents
    calls = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    names = [n.id for n in sorted((n for n in nodes if isinstance(n, ast.Name)), key=lambda n: n.col_offset)
             if id(n) not in calls and n.id != identity]
    ranks = {name: rank for name, rank in known.items() if name in names}
    order = list(dict.fromkeys(names))
    least = _least_ranks(nodes)
    settled_by_use = _settled_by_use(nodes)
    guessed: list[str] = []
    while True:
        _propagate(nodes, ranks, identity)
        unknown = [n for n in order if n not in ranks]
        if not unknown:
            return {n: ranks[n] for n in order}, guessed
        first = [n for n in unknown if n not in settled_by_use] or unknown[:1]
        for name in first:
            ranks[name] = guess(name, least.get(name, 0))
        guessed += first


def _least_ranks(nodes) -> dict[str, int]:
    """The axes a subscript reads (``P[:, 0, 1]``: at least 3), per name."""
    least: dict[str, int] = {}
    for n in nodes:
        if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name):
            entries = n.slice.elts if isinstance(n.slice, ast.Tuple) else [n.slice]
            used = sum(not (isinstance(e, ast.Constant) and (e.value is None or e.value is Ellipsis)) for e in entries)
            least[n.value.id] = max(least.get(n.value.id, 0), used)
    return least


def _registered(node: ast.Call):
    """The registered function a call names, or None (a builtin, or unknown)."""
    return registry.REGISTRY.get(getattr(node.func, "id", ""))


def _settled_by_use(nodes) -> set[str]:
    """Names whose rank a use could settle: operands of ``+ - * /``, arguments of matrix functions."""
    found: set[str | None] = set()
    for n in nodes:
        if isinstance(n, ast.BinOp) and isinstance(n.op, _ELEMENTWISE):
            found.update(_bare(side) for side in (n.left, n.right))
        elif isinstance(n, ast.Call) and n.args and _registered(n) and not _registered(n).elementwise:
            found.add(_bare(n.args[0]))
    return {name for name in found if name is not None}


def _bare(node) -> str | None:
    """The name a node is, through signs: ``y``, ``-y``."""
    while isinstance(node, ast.UnaryOp):
        node = node.operand
    return node.id if isinstance(node, ast.Name) else None


def _propagate(nodes, ranks: dict[str, int], identity) -> None:
    """One pass, children before parents, settling what can be settled; repeated until nothing changes."""
    while True:
        before = len(ranks)
        rank: dict[int, int | None] = {}
        for n in nodes:
            rank[id(n)] = _rank(n, rank, ranks, identity)
        if len(ranks) == before:
            return


def _rank(n, rank: dict, ranks: dict[str, int], identity):
    """The rank of node ``n`` (None: not known yet); settles the ranks of names its use decides."""
    if isinstance(n, ast.Name):
        return 2 if n.id == identity else ranks.get(n.id)
    if isinstance(n, ast.UnaryOp):
        return rank.get(id(n.operand))
    if isinstance(n, ast.Attribute):
        return rank.get(id(n.value))
    if isinstance(n, ast.Subscript):
        return _subscripted(rank.get(id(n.value)), n.slice)
    if isinstance(n, ast.BinOp):
        left, right = rank.get(id(n.left)), rank.get(id(n.right))
        if isinstance(n.op, ast.Pow):
            return left
        if isinstance(n.op, ast.MatMult):
            return None if left is None or right is None else _matmul(left, right)
        for side, other in ((n.left, right), (n.right, left)):
            name = _bare(side)
            if name and name not in ranks and name != identity and other is not None:
                ranks[name] = other
        known = [r for r in (left, right, *(ranks.get(_bare(s) or "") for s in (n.left, n.right))) if r is not None]
        return max(known, default=None)
    if isinstance(n, ast.Call):
        return _called(n, rank, ranks)
    return None


def _subscripted(rank: int | None, key) -> int | None:
    entries = key.elts if isinstance(key, ast.Tuple) else [key]
    if rank is None:
        return None
    dropped = sum(not isinstance(e, ast.Slice) and not (isinstance(e, ast.Constant) and e.value in (None, Ellipsis))
                  for e in entries)
    return rank - dropped + sum(isinstance(e, ast.Constant) and e.value is None for e in entries)


def _matmul(a: int, b: int) -> int:
    if a == 1 or b == 1:
        return a + b - 2
    return max(a, b)


def _called(n: ast.Call, rank: dict, ranks: dict[str, int]):
    name = getattr(n.func, "id", "")
    args = [rank.get(id(a)) for a in n.args]
    if name in ("sum", "trace"):
        axis = next((k.value for k in n.keywords if k.arg == "axis"), None)
        if axis is None or name == "trace":
            return 0
        count = len(axis.elts) if isinstance(axis, ast.Tuple) else 1
        return None if args[0] is None else args[0] - count
    if name == "eye":
        return 2
    if name == "einsum":
        spec = getattr(n.args[0], "value", None) if n.args else None
        try:
            output = parse(spec).output if isinstance(spec, str) else None
        except EinsumgradError:
            return None
        return None if output is None or ELLIPSIS in output else len(output)
    fn = _registered(n)
    if fn is None or len(n.args) != 1 or fn.build is not None:  # a signature of its own: axis=, keepdims=
        return None
    if fn.elementwise:
        accepted = None
    else:
        accepted = [r for r in _RANKS_TRIED if _result_rank(fn, r) is not None]
    arg = _bare(n.args[0])
    if arg and arg not in ranks and accepted is not None and len(accepted) == 1:
        ranks[arg] = args[0] = accepted[0]
    if args[0] is None:
        return None
    return args[0] if fn.elementwise else _result_rank(fn, args[0])


def _result_rank(fn, rank: int) -> int | None:
    """The rank of ``fn``'s result for an argument of this rank; None where it takes no such rank."""
    try:
        return len(fn.result_shape(tuple(("?", k) for k in range(rank))))
    except EinsumgradError:
        return None
