"""Elementwise chains fused (docs/design.md §4.5): the steps of a NumPy program that only combine values
entry by entry — a function that is one ufunc, a sum of products of broadcast reads — are merged into the
step that reads them where nothing else does, and each merged chain runs as NumPy ufuncs writing into
buffers the step keeps between calls (``out=``), never into fresh memory. ``1 − tanh(z r)²`` over 512×256
is then four passes over one buffer, where step by step it is five new arrays and a copy.

A value smaller than the chain's result (a row scale ``r[:, None]``) is computed at its own shape and
broadcast where it is read, never once per entry of the result.

>>> import numpy as np
>>> from ..core.algebra import apply, einsum, tensor
>>> from .compiled import Compiled
>>> z, r = tensor("z", 2), tensor("r", 1)
>>> f = Compiled(apply("exp", apply("tanh", einsum("ij,i->ij", z, r))))
>>> out = f(z=np.full((2, 3), 0.5), r=np.ones(2))
>>> bool(np.allclose(out, np.exp(np.tanh(0.5))))
True
>>> print(repr(f).splitlines()[-1])
  [6] as one chain: exp(tanh([0]·[1]))
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from ..core import functions, xp
from ..core.ir import Call, Expr
from .plan import reads

LONGEST = 64  # nodes merged into one chain along any path: the passes over a chain recurse, this deep at most
Axes = tuple  # per axis of a value, the axis of the chain's result it runs along (None: a size-1 axis dropped)


class Leaf(NamedTuple):
    """A value the chain reads as it is: its slot, and where its axes go."""
    slot: int
    axes: Axes


class Unary(NamedTuple):
    """A function applied entry by entry: ``apply(array)`` writes it into the array."""
    name: str
    params: tuple
    apply: Callable
    arg: object


class Sum(NamedTuple):
    """``Σ coef · Π factors + constant``, each factor a node of the chain."""
    terms: tuple  # of (coef, factors)
    constant: complex


def unary(name: str, params: tuple) -> Callable | None:
    """The elementwise function ``name`` as one in-place NumPy operation on an array (``np.tanh(a, out=a)``),
    read off its formula (a single ufunc of one argument, or a power); None where it is more than that.

    >>> a = np.array([4.0, 9.0])
    >>> unary("sqrt", ())(a) is a, a
    (True, array([2., 3.]))
    >>> unary("softplus", ()) is None  # a formula of two calls
    True
    """
    fn = functions.get(name)
    if fn.formula is None or fn.own_impl or not fn.elementwise:
        return None
    argument = _Argument()
    recorder = _Ufuncs(argument)
    try:
        found = fn.formula(xp.namespace("numpy", recorder, recorder), argument, *params)
    except (_NotOne, TypeError, AttributeError, ValueError):
        return None
    if isinstance(found, _Power):
        return _power(found.exponent)
    if isinstance(found, _Applied):
        ufunc = found.ufunc
        return lambda a: ufunc(a, out=a)
    return None


def _power(c) -> Callable | None:
    """``a ** c`` in place, by the ufunc NumPy's own ``**`` takes for that exponent."""
    if isinstance(c, bool) or not isinstance(c, (int, float)):
        return None
    fast = {2: np.square, -1: np.reciprocal, 0.5: np.sqrt, 1: None}
    if c in fast:
        ufunc = fast[c]
        return (lambda a: None) if ufunc is None else (lambda a: ufunc(a, out=a))
    return lambda a: np.power(a, c, out=a)


class _NotOne(Exception):
    """The formula is not a single ufunc of its argument."""


class _Argument:
    """What a formula is given for its argument while :func:`unary` reads it."""

    def __pow__(self, exponent):
        return _Power(exponent)

    def __getattr__(self, name):
        raise _NotOne(name)


class _Power(NamedTuple):
    exponent: object


class _Applied(NamedTuple):
    ufunc: np.ufunc


class _Ufuncs:
    """A namespace whose functions record a NumPy ufunc of one argument applied to the formula's argument."""

    def __init__(self, argument: _Argument):
        self.argument = argument

    def __getattr__(self, name: str):
        ufunc = getattr(np, name, None)
        if not isinstance(ufunc, np.ufunc) or ufunc.nin != 1 or ufunc.nout != 1:
            raise _NotOne(name)
        argument = self.argument

        def applied(*args, **kwargs):
            if len(args) != 1 or kwargs or args[0] is not argument:
                raise _NotOne(name)
            return _Applied(ufunc)

        return applied


def elementwise_sum(plans: list, shape: tuple) -> Sum | None:
    """The sum of ``plans`` (a node's terms) as ``Σ coef · Π reads`` over the output's axes, each read a
    :class:`Leaf` (its slot, where its axes go); None where a term sums an index of more than one entry, ties
    a diagonal, reads part of a value or writes part of the output."""
    terms, constant = [], 0
    for p in plans:
        if p.placed or any(g is not None for g in p.gathers) or len(p.carried) != len(shape):
            return None
        if p.kind == "constant":
            constant += p.coef
            continue
        inputs, result = p.equation.split("->")
        where = dict(zip(result, (k for k, carried in enumerate(p.carried) if carried)))
        factors = []
        for slot, letters, sizes in zip(p.slots, inputs.split(","), p.shapes):
            if len(set(letters)) != len(letters) or any(a not in where and n != 1 for a, n in zip(letters, sizes)):
                return None
            factors.append(Leaf(slot, tuple(where.get(a) for a in letters)))
        terms.append((p.coef, tuple(factors)))
    return Sum(tuple(terms), constant) if terms else None


def chains(nodes: list, live: set, plans: dict, layout, dtype_of: dict, outputs: set) -> tuple[dict, dict]:
    """The program's elementwise chains: per node that ends one (read by several steps, or by one that is
    not elementwise, or a result), the chain as a tree of :class:`Leaf`, :class:`Unary` and :class:`Sum`
    over its result's axes; and per slot of a node merged into a chain (computed by no step of its own), the
    slot of the node ending it. A node that is a value as it is (a plain read) merging nothing is left to its step."""
    slot = layout.slot
    own: dict = {}  # node -> its elementwise form, reading its arguments as leaves
    for node in nodes:
        if node not in live:
            continue
        if isinstance(node, Call) and layout.shape_of[node] == layout.shape_of[node.arg] \
                and dtype_of[node] == dtype_of[node.arg]:
            fn = functions.get(node.fn)
            params = fn.bind(layout.dim, *node.params)
            apply = unary(node.fn, params)
            if apply is not None:
                axes = tuple(range(len(layout.shape_of[node])))
                own[node] = Unary(node.fn, params, apply, Leaf(slot[node.arg], axes))
        elif isinstance(node, Expr):
            found = elementwise_sum(plans[node], layout.shape_of[node])
            if found is not None:
                own[node] = found
    readers: dict = {}
    for node in nodes:
        if node in live:
            for s in reads(node, plans, slot):
                readers.setdefault(s, []).append(node)
    by_slot = {slot[n]: n for n in own}
    merged: set[int] = set()
    height: dict = {}  # node -> the longest run of merged nodes down from it, at most LONGEST
    for node in own:
        below = [by_slot[s] for s in reads(node, plans, slot) if s in by_slot and s not in outputs
                 and len(readers[s]) == 1 and dtype_of[by_slot[s]] == dtype_of[node] and height[by_slot[s]] < LONGEST]
        merged.update(slot[n] for n in below)
        height[node] = 1 + max((height[n] for n in below), default=0)
    into: dict = {}

    def grown(tree, axes_of: Callable, end: int):
        """``tree`` with the values merged into it put in, their axes taken to the chain's."""
        if isinstance(tree, Leaf):
            axes = tuple(None if a is None else axes_of(a) for a in tree.axes)
            if tree.slot not in merged:
                return Leaf(tree.slot, axes)
            into[tree.slot] = end
            return grown(own[by_slot[tree.slot]], axes.__getitem__, end)
        if isinstance(tree, Unary):
            return tree._replace(arg=grown(tree.arg, axes_of, end))
        return Sum(tuple((c, tuple(grown(f, axes_of, end) for f in fs)) for c, fs in tree.terms), tree.constant)

    ends = {}
    for node, tree in own.items():
        if slot[node] not in merged and not (_plain(tree) and tree.terms[0][1][0].slot not in merged):
            ends[node] = grown(tree, lambda a: a, slot[node])
    return ends, into


def _plain(tree) -> bool:
    """Whether the chain only reads a value (once, unscaled): its step may hand the value on as it is."""
    return isinstance(tree, Sum) and not tree.constant and len(tree.terms) == 1 and tree.terms[0][0] == 1 \
        and len(tree.terms[0][1]) == 1 and isinstance(tree.terms[0][1][0], Leaf)


def shown(tree, names: Callable[[int], str]) -> str:
    """The chain as one line, its values named by ``names(slot)``.

    >>> print(shown(Sum(((2, (Leaf(3, (0,)), Leaf(4, (None, 0)))),), 1), "[{}]".format))
    2·[3]·[4] + 1
    """
    if isinstance(tree, Leaf):
        return names(tree.slot)
    if isinstance(tree, Unary):
        return f"{tree.name}({shown(tree.arg, names)}{''.join(f', {p}' for p in tree.params)})"
    parts = []
    for c, factors in tree.terms:
        text = "·".join(shown(f, names) if not isinstance(f, Sum) else f"({shown(f, names)})" for f in factors)
        parts.append(text if c == 1 else f"{c}·{text}")  # as the plan's lines show coefficients
    if tree.constant:
        parts.append(str(tree.constant))
    return " + ".join(parts)


class _Emitter:
    """Turns a chain into ufunc calls over a register file: register 0 is the result, the others are
    buffers of the shapes their values take (kept by the step between calls)."""

    def __init__(self, shape_of: Callable[[int], tuple], frame: tuple, dtype: np.dtype):
        self.shape_of, self.frame, self.dtype = shape_of, frame, dtype
        self.shapes: list[tuple] = [frame]
        self.free: dict[tuple, list[int]] = {}
        self.code: list[Callable] = []

    def take(self, shape: tuple) -> int:
        free = self.free.get(shape)
        if free:
            return free.pop()
        self.shapes.append(shape)
        return len(self.shapes) - 1

    def give(self, r: int) -> None:
        self.free.setdefault(self.shapes[r], []).append(r)

    def natural(self, tree) -> tuple:
        """The shape of ``tree``'s value in the chain's axes: 1 along an axis none of its reads carries."""
        if isinstance(tree, Leaf):
            shape = [1] * len(self.frame)
            for k, a in enumerate(tree.axes):
                if a is not None:
                    shape[a] = self.shape_of(tree.slot)[k]
            return tuple(shape)
        if isinstance(tree, Unary):
            return self.natural(tree.arg)
        shapes = zip(*(self.natural(f) for _, fs in tree.terms for f in fs))  # per axis, 1 or its length (0 too)
        return tuple(next((n for n in lengths if n != 1), 1) for lengths in shapes)

    def leaf(self, tree: Leaf) -> Callable:
        """``values ->`` the value, its axes put where the chain's are (a view)."""
        k = tree.slot
        dropped = tuple(a for a, pos in enumerate(tree.axes) if pos is None)
        kept = [pos for pos in tree.axes if pos is not None]
        order = tuple(sorted(range(len(kept)), key=kept.__getitem__))
        index = tuple(slice(None) if a in kept else None for a in range(len(self.frame)))
        transpose = order != tuple(range(len(kept)))
        expand = len(kept) != len(self.frame)
        if not dropped and not transpose and not expand:
            return lambda values: values[k]

        def aligned(values):
            a = values[k]
            if dropped:
                a = a.squeeze(dropped)
            if transpose:
                a = a.transpose(order)
            return a[index] if expand else a

        return aligned

    def operand(self, tree) -> tuple[Callable, int | None]:
        """``(values, registers) ->`` the value of ``tree``, and the register it was computed into (None: a
        leaf, read as it is); its code is emitted first."""
        if isinstance(tree, Leaf):
            read = self.leaf(tree)
            return (lambda values, registers: read(values)), None
        r = self.take(self.natural(tree))
        self.emit(tree, r)
        return (lambda values, registers: registers[r]), r

    def emit(self, tree, r: int) -> None:
        """Code writing the value of ``tree`` into register ``r`` (whose shape it broadcasts to)."""
        if isinstance(tree, Unary):
            self.emit(tree.arg, r)
            apply = tree.apply
            self.code.append(lambda values, registers: apply(registers[r]))
        elif isinstance(tree, Leaf):
            read = self.leaf(tree)
            self.code.append(lambda values, registers: np.copyto(registers[r], read(values)))
        else:
            self._sum(tree, r)

    def _sum(self, tree: Sum, r: int) -> None:
        (c, factors), rest = tree.terms[0], tree.terms[1:]
        self._product(c, factors, r)
        for c, factors in rest:
            if c in (1, -1) and len(factors) == 1:  # r ± value: no buffer for the term
                value, held = self.operand(factors[0])
                self.code.append(lambda values, registers, v=value, u=np.add if c == 1 else np.subtract:
                                 u(registers[r], v(values, registers), out=registers[r]))
            else:
                held = self.take(self.natural(Sum(((c, factors),), 0)))
                self._product(c, factors, held)
                self.code.append(lambda values, registers, t=held: np.add(registers[r], registers[t],
                                                                          out=registers[r]))
            if held is not None:
                self.give(held)
        if tree.constant:
            constant = tree.constant
            self.code.append(lambda values, registers: np.add(registers[r], constant, out=registers[r]))

    def _product(self, c, factors: tuple, r: int) -> None:
        """Code writing ``c · Π factors`` into register ``r``: a factor of ``r``'s shape computed in ``r``
        itself, the others computed into buffers of their own shapes (or read as they are) and multiplied in,
        those of one shape smaller than ``r``'s together first (``x[a] (u[b] v[b])``: one pass over ``r``);
        ``c`` scales the smallest operand where that one is much smaller than ``r``, else ``r``."""
        shape = self.shapes[r]
        base = next((f for f in factors if not isinstance(f, Leaf) and self.natural(f) == shape), None)
        if base is not None:
            self.emit(base, r)
            factors = tuple(f for f in factors if f is not base)
        groups: dict[tuple, list] = {}  # factors of one shape smaller than r's are multiplied together first
        for f in factors:
            groups.setdefault(self.natural(f), []).append(f)
        operands: list[tuple[tuple[Callable, int | None], int]] = []  # ((value, its register), its size)
        for small, group in groups.items():
            if len(group) > 1 and small != shape:
                temp = self.take(small)
                self._product(1, tuple(group), temp)
                operands.append((((lambda values, registers, t=temp: registers[t]), temp), math.prod(small)))
            else:
                operands.extend((self.operand(f), math.prod(small)) for f in group)
        if c != 1:
            smallest = min(range(len(operands)), key=lambda k: operands[k][1]) if operands else None
            if smallest is not None and operands[smallest][1] * 8 <= math.prod(shape) \
                    and (base is not None or len(operands) > 1):
                (value, held), size = operands[smallest]
                operands[smallest] = ((lambda values, registers, v=value, k=c: v(values, registers) * k), held), size
                c = 1
        reads = [value for (value, _), _ in operands]
        if base is None:
            first = reads.pop(0)
            if reads:
                second = reads.pop(0)
                self.code.append(lambda values, registers: np.multiply(first(values, registers),
                                                                       second(values, registers), out=registers[r]))
            elif c != 1:
                self.code.append(lambda values, registers, k=c: np.multiply(first(values, registers), k,
                                                                            out=registers[r]))
                c = 1
            else:
                self.code.append(lambda values, registers: np.copyto(registers[r], first(values, registers)))
        for value in reads:
            self.code.append(lambda values, registers, v=value: np.multiply(registers[r], v(values, registers),
                                                                            out=registers[r]))
        if c != 1:
            self.code.append(lambda values, registers, k=c: np.multiply(registers[r], k, out=registers[r]))
        for (_, held), _ in operands:
            if held is not None:
                self.give(held)


def chain_step(tree, shape_of: Callable[[int], tuple], shape: tuple, dtype: np.dtype) -> Callable:
    """``(values, out=None) ->`` the chain's value, written into ``out`` (an array of ``shape`` and ``dtype``),
    or into fresh memory; its other buffers are kept between calls, one set per concurrent call.

    >>> step = chain_step(Sum(((1, (Leaf(0, (0,)), Leaf(1, (0,)))),), 1), lambda s: (3,), (3,), np.dtype(float))
    >>> step([np.arange(3.0), np.full(3, 2.0)])
    array([1., 3., 5.])
    """
    emitter = _Emitter(shape_of, shape, dtype)
    root = emitter.natural(tree)
    if root == shape:
        emitter.emit(tree, 0)
    else:  # a value smaller than the result (a broadcast), computed at its shape and spread
        r = emitter.take(root)
        emitter.emit(tree, r)
        emitter.code.append(lambda values, registers: np.copyto(registers[0], registers[r]))
    code, shapes = emitter.code, emitter.shapes[1:]
    pool: list[list] = []

    def step(values, out=None):
        registers = pool.pop() if pool else [None, *(np.empty(s, dtype) for s in shapes)]
        registers[0] = np.empty(shape, dtype) if out is None else out
        try:
            for line in code:
                line(values, registers)
            return registers[0]
        finally:
            registers[0] = None
            pool.append(registers)

    return step
