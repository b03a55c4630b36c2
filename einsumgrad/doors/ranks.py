"""The rank of every name in an expression of the language, inferred from how it is used.

Known ranks (``--shapes``, einsum specs) are kept. Then, repeatedly: a name combined elementwise
(``+ - * /``) with an operand of known rank takes that rank (``y - tanh(X @ Θ)``: a matrix;
``β * sum(...)``: a scalar), and a name given to a function that takes one rank only (``inv``)
takes that one. A call's rank is read off its registry entry: an elementwise function keeps its argument's, a
matrix function's is its ``result_shape``'s, and a call with a signature of its own (``softmax(X, axis=0)``,
``kron(A, B)``, ``reshape(X, (2, 6))``) has the rank of what its ``build`` builds on tensors of its arguments' ranks,
or the one its ``rank`` rule gives before those are known (``sum(x)``: 0); a name nothing says anything about is guessed from its case (upper: a matrix,
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
from ..core import algebra
from ..core import functions as registry
from ..core.errors import EinsumgradError
from ..core.functions import EXPRESSION, EXPRESSIONS, Builtin

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
    calls, memo = registry.calls(), {}
    while True:
        _propagate(nodes, ranks, identity, lambda n, rank: _called(n, rank, ranks, calls, memo))
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
    """The registered function a call names, or None (a built-in call such as ``sum``, or an unknown name)."""
    return registry.REGISTRY.get(getattr(node.func, "id", ""))


def _settled_by_use(nodes) -> set[str]:
    """Names whose rank a use could settle: operands of ``+ - * /``, arguments of matrix functions (not of a call
    with a signature of its own, which takes any rank: ``softmax(X)``)."""
    found: set[str | None] = set()
    for n in nodes:
        if isinstance(n, ast.BinOp) and isinstance(n.op, _ELEMENTWISE):
            found.update(_bare(side) for side in (n.left, n.right))
        elif isinstance(n, ast.Call) and n.args and (fn := _registered(n)) and not fn.elementwise and fn.build is None:
            found.add(_bare(n.args[0]))
    return {name for name in found if name is not None}


def _bare(node) -> str | None:
    """The name a node is, through signs: ``y``, ``-y``."""
    while isinstance(node, ast.UnaryOp):
        node = node.operand
    return node.id if isinstance(node, ast.Name) else None


def _propagate(nodes, ranks: dict[str, int], identity, called) -> None:
    """One pass, children before parents, settling what can be settled; repeated until nothing changes.
    ``called(n, rank)`` is the rank of the call ``n``."""
    while True:
        before = len(ranks)
        rank: dict[int, int | None] = {}
        for n in nodes:
            rank[id(n)] = _rank(n, rank, ranks, identity, called)
        if len(ranks) == before:
            return


def _rank(n, rank: dict, ranks: dict[str, int], identity, called):
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
        return called(n, rank)
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


def _called(n: ast.Call, rank: dict, ranks: dict[str, int], calls: dict, memo: dict):
    name = getattr(n.func, "id", "")
    fn = calls.get(name) or registry.REGISTRY.get(name)  # a public function, a built-in, a function of your own
    if fn is None:
        return None
    if isinstance(fn, Builtin) or fn.build is not None:  # a signature of its own: axis=, keepdims=, lists, specs
        return _built(n, fn, rank, memo)
    if len(n.args) != 1:
        return None
    args = [rank.get(id(a)) for a in n.args]
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


_UNREAD = object()  # an argument that is not a literal


def _literal(node):
    """The value a literal argument gives (``'ij,j->i'``, ``(2, 6)``, ``-1``, ``True``), a list as a tuple."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNREAD
    return tuple(value) if isinstance(value, list) else value


def _built(n: ast.Call, fn, rank: dict, memo: dict) -> int | None:
    """The rank of a call with a signature of its own: its ``rank`` rule's, else that of what it builds on
    tensors of its arguments' ranks; None until they are known (or where the call does not fit)."""
    kinds = fn.arguments if isinstance(fn, Builtin) else ()
    args: list = []
    for k, a in enumerate(n.args):
        kind = kinds[k] if k < len(kinds) else EXPRESSION
        if kind == EXPRESSIONS:
            args.append(tuple(rank.get(id(e)) for e in a.elts) if isinstance(a, (ast.List, ast.Tuple)) else _UNREAD)
        else:
            args.append(rank.get(id(a)) if kind == EXPRESSION else _literal(a))
    options = {kw.arg: _literal(kw.value) for kw in n.keywords}
    if _UNREAD in args or _UNREAD in options.values() or None in options:
        return None
    key = (id(n), tuple(args), tuple(options.items()))
    try:
        if key not in memo:
            memo[key] = _built_rank(fn, kinds, args, options)
    except TypeError:  # a literal that cannot be a key
        return _built_rank(fn, kinds, args, options)
    return memo[key]


def _built_rank(fn, kinds: tuple, args: list, options: dict) -> int | None:
    rule = getattr(fn, "rank", None)
    try:
        known = None if rule is None else rule(*args, **options)
    except (TypeError, ValueError):
        known = None
    if known is not None:
        return known
    kind = [kinds[k] if k < len(kinds) else EXPRESSION for k in range(len(args))]
    ranks = [r for a, c in zip(args, kind) if c in (EXPRESSION, EXPRESSIONS) for r in (a if c == EXPRESSIONS else (a,))]
    if None in ranks or not all(isinstance(r, int) for r in ranks):
        return None
    names = iter(f"p{k}" for k in range(len(ranks)))
    built = [[algebra.tensor(next(names), r) for r in a] if c == EXPRESSIONS else
             algebra.tensor(next(names), a) if c == EXPRESSION else a for a, c in zip(args, kind)]
    try:
        return fn.build(*built, **options).ndim
    except (TypeError, ValueError, ArithmeticError):
        return None


def _result_rank(fn, rank: int) -> int | None:
    """The rank of ``fn``'s result for an argument of this rank; None where it takes no such rank."""
    try:
        return len(fn.result_shape(tuple(("?", k) for k in range(rank))))
    except EinsumgradError:
        return None
