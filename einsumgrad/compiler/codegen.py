"""Code generation: the source of one plain function computing what ``eg.compile`` computes.

The function imports only its backend (NumPy, JAX or PyTorch), computes each shared node once
as a named local, follows einsumgrad's plan (``@`` for a BLAS step, sums and broadcast products
where a step reduces to them, ``einsum`` for the others) and writes a term with deltas onto the
diagonal it spans by indexing, never by multiplying an identity in.

>>> import einsumgrad as eg
>>> W, x = eg.tensor("W", 2), eg.tensor("x", 1)
>>> codegen(W @ x).splitlines()[-2:]
['    y = W @ x', '    return y']
"""
from __future__ import annotations

import keyword
import math
import sys
from typing import Callable, NamedTuple

import numpy as np

from ..core import functions, xp
from . import Compiled
from .kernels import basic_index, forwards
from .plan import contraction, planned, shown_index, spread
from ..einsum_jacobian import Jacobian
from ..core.errors import EinsumgradError, ShapeError
from ..expression import Expression, argument_names
from ..core.algebra import resolve_dim
from ..core.ir import (
    Broadcast, Call, Delta, Expr, Ref, Size, Stretch, Var, all_dims, dim_atoms, node_shape, postorder,
)

NOMINAL = 1000  # the size of every symbolic axis when planning without shapes: large enough for BLAS steps
# (or less, so that the largest input still fits in FITS entries of 16 bytes)
FITS = sys.maxsize // 16


class Backend(NamedTuple):
    name: str
    module: str
    xp: str  # the name of the array namespace in the source, unless a tensor has it


BACKENDS = {
    "numpy": Backend("numpy", "numpy", "np"),
    "jax": Backend("jax", "jax.numpy", "jnp"),
    "torch": Backend("torch", "torch", "torch"),
}


class _Source:
    """Source text standing for a value: arithmetic, attributes, calls and indexing on it give the
    source of the result, so that a registered function's formula over a namespace writes itself.
    The text is made of parts, strings and the values read (``(value, as an operand)``), so that a
    value read twice can be named once (see :func:`_written`).

    >>> print(functions.get("softplus").formula(xp.namespace("numpy", _Source("np")), _Source("z1")))
    np.logaddexp(z1, np.zeros_like(z1))
    """

    def __init__(self, parts, atom: bool = True, computed: bool = False, negated: _Source | None = None):
        self.parts = (parts,) if isinstance(parts, str) else tuple(parts)
        self.atom = atom  # needs no parentheses as an operand
        self.computed = computed  # an operation or a call, worth a name where read twice
        self.negated = negated  # x, for -x
        self.read = False  # whether an attribute was read off it (a module the code then imports)

    def render(self, names: dict) -> str:
        """The text, with the values in ``names`` (by ``id``) read by their names."""
        out = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
            elif id(p[0]) in names:
                out.append(names[id(p[0])])
            else:
                text = p[0].render(names)
                out.append(f"({text})" if p[1] and not p[0].atom else text)
        return "".join(out)

    @property
    def text(self) -> str:
        return self.render({})

    def __str__(self):
        return self.text

    def children(self) -> list[_Source]:
        return [p[0] for p in self.parts if not isinstance(p, str)]

    def _binary(self, op: str, other, reflected: bool = False) -> _Source:
        if not isinstance(other, _Source) and (op, other) in (("+", 0), ("*", 1)):  # x + 0, 1 * x: x
            return self
        theirs = [(other, True)] if isinstance(other, _Source) else _parts(other)
        left, right = (theirs, [(self, True)]) if reflected else ([(self, True)], theirs)
        if op == "+" and isinstance(right[0], tuple) and right[0][0].negated is not None:  # a + -b: a - b
            op, right = "-", [(right[0][0].negated, True)]
        elif op == "+" and isinstance(right[0], str) and right[0].startswith("-"):
            op, right = "-", [right[0][1:]]
        return _Source([*left, f" {op} ", *right], atom=False, computed=True)

    def __getattr__(self, name: str) -> _Source:
        if name.startswith("__"):  # not a module's attribute (copy asks for some)
            raise AttributeError(name)
        self.read = True
        return _Source([(self, True), f".{name}"])

    def __call__(self, *args, **kwargs) -> _Source:
        arguments = [_parts(a) for a in args] + [[f"{k}=", *_parts(v)] for k, v in kwargs.items()]
        return _Source([(self, True), "(", *_joined(arguments), ")"], computed=True)

    def __getitem__(self, key) -> _Source:
        entries = [_entry(e) for e in (key if isinstance(key, tuple) else (key,))]
        return _Source([(self, True), "[", *_joined(entries), "]"], computed=True)

    def __add__(self, other):
        return self._binary("+", other)

    def __radd__(self, other):
        return self._binary("+", other, True)

    def __mul__(self, other):
        return self._binary("*", other)

    def __rmul__(self, other):
        return self._binary("*", other, True)

    def __sub__(self, other):
        return self._binary("-", other)

    def __rsub__(self, other):
        return self._binary("-", other, True)

    def __truediv__(self, other):
        return self._binary("/", other)

    def __rtruediv__(self, other):
        return self._binary("/", other, True)

    def __and__(self, other):
        return self._binary("&", other)

    def __gt__(self, other):
        return self._binary(">", other)

    def __lt__(self, other):
        return self._binary("<", other)

    def __neg__(self):
        return _Source(["-", (self, True)], atom=False, computed=True, negated=self)

    def __pow__(self, other):
        return self._binary("**", other)

    def __eq__(self, other):
        return self._binary("==", other)

    __hash__ = None  # type: ignore[assignment]  # unhashable, as __eq__ builds an expression


def _joined(items: list[list]) -> list:
    """The parts of ``items`` separated by commas."""
    return [part for k, item in enumerate(items) for part in ([", "] if k else []) + item]


def _parts(value) -> list:
    """The parts of a formula's operand: source as it is, a tuple (of sizes, source among them), a number."""
    if isinstance(value, _Source):
        return [(value, False)]
    if isinstance(value, (tuple, list)):
        brackets = "()" if isinstance(value, tuple) else "[]"
        trailing = [","] if isinstance(value, tuple) and len(value) == 1 else []
        return [brackets[0], *_joined([_parts(v) for v in value]), *trailing, brackets[1]]
    return [repr(value) if isinstance(value, (str, bool)) or value is None else _number(value)]


def _entry(e) -> list:
    """The parts of one entry of an index: ``:3``, ``None``, ``-1``, ``:m``."""
    if not isinstance(e, slice):
        return _parts(e)
    bounds = (e.start, e.stop) + ((e.step,) if e.step else ())
    return [part for k, v in enumerate(bounds) for part in ([":"] if k else []) + ([] if v is None else _parts(v))]


def _written(value: _Source, fresh) -> tuple[list[str], str]:
    """Lines naming each computed part of ``value`` read more than once (``fresh()`` gives the names),
    children first, and the text of ``value`` reading them.

    >>> x = _Source("x")
    >>> e = _Source("np").exp(x)
    >>> _written(e / (1 + e), iter(["t1"]).__next__)
    (['t1 = np.exp(x)'], 't1 / (1 + t1)')
    """
    uses: dict[int, int] = {}
    order: list[_Source] = []

    def visit(node: _Source) -> None:
        for child in node.children():
            uses[id(child)] = uses.get(id(child), 0) + 1
            if uses[id(child)] == 1:
                visit(child)
                order.append(child)

    visit(value)
    names: dict[int, str] = {}
    lines = []
    for node in order:
        if node.computed and uses[id(node)] > 1:
            name = fresh()
            lines.append(f"{name} = {node.render(names)}")
            names[id(node)] = name
    return lines, value.render(names)


def codegen(*exprs, backend: str = "numpy", name: str = "f", optimize="auto", shapes: dict | None = None,
            args=None) -> str:
    """The source of a function ``name(<tensors>)`` returning what ``eg.compile(*exprs)`` returns
    (one array for one expression, a tuple otherwise), for ``backend`` ("numpy", "jax", "torch").
    Its parameters are the tensors in the order of ``args``, as ``eg.compile`` takes it (by
    default their names sorted); tensors that cancel out, and are not in ``args``, are optional
    keywords.

    >>> import einsumgrad as eg
    >>> W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    >>> codegen(W @ x, args=(x, W)).splitlines()[3]
    'def f(x, W):'

    The contraction order is einsumgrad's plan at large sizes: equal ones, or ``shapes``
    (``{"W": (3, 4), ...}``) scaled up in proportion, so that tiny shapes still give BLAS forms
    (``@``, ``.T``, ``x[:, None] * y``). The code works for any sizes the expressions allow; a
    length-1 axis that ``shapes`` stretches (NumPy broadcasting) is checked at each call.
    """
    if backend not in BACKENDS:
        raise EinsumgradError(f"codegen writes {', '.join(BACKENDS)}; got backend={backend!r}")
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise EinsumgradError(f"codegen needs a Python identifier as the function name, got {name!r}")
    exprs = tuple(_expression(e) for e in exprs)
    if not exprs:
        raise EinsumgradError("codegen takes one or more expressions built with eg.tensor / eg.einsum")
    accepted = frozenset().union(*(e.tensors for e in exprs))  # a tensor that cancels out, too: as eg.compile
    # no memory limit: planning allocates nothing, and its sizes are large on purpose
    compiled = Compiled(*(e.node for e in exprs), optimize=optimize, memory_limit=math.inf, accepted=accepted,
                        args=argument_names(args, exprs, "codegen"))
    return _source(compiled, exprs, backend, name, shapes)


def straight(compiled: Compiled, program) -> Callable | None:
    """``program`` (a plan of ``compiled`` for one call signature) as the NumPy function codegen
    writes for it, loaded, taking the arrays of ``compiled.names`` by position: what ``eg.compile``
    runs for a small program, a line of source per step with no interpreter between them, and a
    function with a NumPy implementation of its own (and its checks) calling it. None where codegen
    cannot write the program (an einsum over more than 52 indices, a tensor named as a keyword).

    >>> import einsumgrad as eg
    >>> W, x = eg.tensor("W", 2), eg.tensor("x", 1)
    >>> f = Compiled(eg.tanh(W @ x).node)
    >>> straight(f, f.program({"W": np.ones((2, 3)), "x": np.zeros(3)}))(np.ones((2, 3)), np.zeros(3))
    array([0., 0.])
    """
    if any(keyword.iskeyword(n) or not n.isidentifier() for n in compiled.accepted):
        return None
    exprs = tuple(Expression(e) for e in compiled.exprs)
    namespace: dict = {}  # and each function's NumPy implementation, as the steps call it (its checks too)
    try:
        writer = _Writer(compiled, program, BACKENDS["numpy"], "f", exprs, True, (), compiled.names, namespace)
        source = writer.source()
    except EinsumgradError:
        return None
    exec(compile(source, "<einsumgrad: straight-line code>", "exec"), namespace)  # noqa: S102 - our own source;
    # its names are the tensors' identifiers, checked where each tensor is made
    return namespace["f"]


def _source(compiled: Compiled, exprs, backend: str, name: str, shapes: dict | None) -> str:
    for n in sorted(compiled.accepted):
        if keyword.iskeyword(n):
            raise EinsumgradError(f"tensor {n!r} is a Python keyword, so it cannot name a parameter; rename it")
    arrays, ones = _planning_arrays(compiled, shapes)
    try:
        program = compiled.program(arrays)
    except ShapeError as err:  # a size fixed by a function (a reshape's target) does not scale up
        if shapes is None:
            raise ShapeError(f"codegen plans each symbolic axis at {NOMINAL} without shapes=, and there {err}; "
                             "give codegen(..., shapes=...)") from None
        program = compiled.program({n: np.broadcast_to(np.zeros(()), tuple(shapes[n])) for n in compiled.names})
    return _Writer(compiled, program, BACKENDS[backend], name, exprs, shapes is not None, ones).source()


def _expression(e) -> Expression:
    if isinstance(e, Jacobian):
        return e.expression()
    if not isinstance(e, Expression):
        raise EinsumgradError(f"codegen takes expressions (eg.tensor, eg.grad, ...) or eg.jacobian(...), "
                              f"got {type(e).__name__}")
    return e


def _planning_arrays(compiled: Compiled, shapes: dict | None) -> tuple[dict, tuple]:
    """Arrays of the planning shapes that take no memory (every entry is one zero), and the axes
    the code assumes are 1: ``((tensor, axis), ...)``.

    The plan must pay at every size, not only at the given ones (at 5×3 one ``np.einsum`` call
    beats ``@``; at 2000×256 it is some 60× slower). So every symbolic length is planned large:
    ``NOMINAL`` without shapes; with shapes, the given lengths, checked as ``eg.compile``
    checks them, scaled together until the shortest is ``NOMINAL`` (their proportions still
    order a chain). Only a given 1 that stretches (NumPy broadcasting: against a longer axis, or
    in a derivative by it, whose terms sum onto it) stays 1: the code assumes it, and checks it.
    """
    classes = _classes(_tied(postorder(*compiled.exprs)), lambda a, b: 1 not in (a, b))  # a 1 may stretch
    known = {c: d for d, c in classes.items() if isinstance(d, int)}
    zero = np.zeros(())

    def dims(n: str) -> tuple:
        return compiled.vars[n].shape if n in compiled.vars else tuple((n, k) for k in range(compiled.ranks[n]))

    rank = max((len(dims(n)) for n in compiled.names), default=0)
    nominal = next((k for k in range(NOMINAL, 1, -1) if k ** rank <= FITS), 1)  # so that an array fits
    if shapes is None:
        planned = {n: tuple(d if isinstance(d, int) else known.get(classes.get(d), nominal) for d in dims(n))
                   for n in compiled.names}
        too_large = next((n for n, shape in planned.items() if math.prod(shape) > FITS or nominal == 1), None)
        if too_large is not None:
            raise EinsumgradError(f"codegen cannot plan tensor {too_large!r} of {len(planned[too_large])} axes without "
                                  "sizes (an array of more than 58 axes of 2 or more is too large): give "
                                  "codegen(..., shapes=...)")
        return {n: np.broadcast_to(zero, shape) for n, shape in planned.items()}, ()
    unknown = sorted(set(shapes) - compiled.accepted)
    missing = [n for n in compiled.names if n not in shapes]
    if unknown or missing:
        raise EinsumgradError(f"codegen shapes= needs exactly {', '.join(compiled.names)}; "
                              + (f"unknown {unknown[0]!r}" if unknown else f"missing {missing[0]!r}"))
    given = {n: np.broadcast_to(zero, tuple(shapes[n])) for n in compiled.names}
    compiled.program(given)  # the given shapes, checked: a mismatch is named at the sizes given
    symbolic = {(n, k): classes.get(d, d) for n in compiled.names for k, d in enumerate(dims(n))
                if not isinstance(d, int)}
    longest = {c: known.get(c, 1) for c in symbolic.values()}
    for (n, k), c in symbolic.items():
        longest[c] = max(longest[c], given[n].shape[k])
    sizes = {n: a.shape for n, a in given.items()}
    by_stretch = {atom for node in postorder(*compiled.exprs) if isinstance(node, Expr) for t in node.terms
                  for f in t.factors if isinstance(f, Stretch) and f.a in node.out and resolve_dim(f.dim, sizes) > 1
                  for atom in dim_atoms(node.dims[node.out.index(f.a)])}  # a result axis a derivative sums onto
    stretched = tuple(a for a, c in symbolic.items()
                      if given[a[0]].shape[a[1]] == 1 and (longest[c] > 1 or a in by_stretch))
    free = {a for a, c in symbolic.items() if c not in known and a not in stretched}
    scale = -(-nominal // min([longest[symbolic[a]] for a in free if longest[symbolic[a]] > 1], default=1))
    planned = {n: tuple(size * scale if (n, k) in free else size for k, size in enumerate(given[n].shape))
               for n in compiled.names}
    if any(math.prod(shape) > FITS for shape in planned.values()):  # many long axes: plan at the given sizes
        planned = {n: a.shape for n, a in given.items()}
    return {n: np.broadcast_to(zero, shape) for n, shape in planned.items()}, stretched


def _number(c) -> str:
    c = complex(c)
    if c.imag:
        return repr(c)
    return str(int(c.real)) if c.real.is_integer() and abs(c.real) < 1e15 else repr(c.real)


class _Writer:
    """Writes one program as source, line by line."""

    def __init__(self, compiled: Compiled, program, backend: Backend, name: str, exprs, planned: bool,
                 ones: tuple, params: tuple[str, ...] | None = None, impls: dict | None = None):
        self.program, self.backend, self.name, self.exprs, self.planned = program, backend, name, exprs, planned
        self.impls = impls  # given: a function's own NumPy implementation is called, put here by its name
        self.ones = ones  # (tensor, axis) the code assumes has length 1, as shapes= gave it
        self.params = compiled.args if params is None else params  # the parameters in their declared order
        self.read = tuple(n for n in compiled.args if n in compiled.names)  # those whose arrays it reads
        self.unread = sorted(compiled.accepted - set(compiled.names))  # tensors that cancel out
        self.taken = set(compiled.accepted) | ({name, "np", "jnp", "jax", "torch", "scipy"} - {backend.xp})
        self.lines: list[str] = []
        self.imports: set[str] = set()  # modules beyond the backend's that the code reads (scipy.special for erf)
        self.sizes = _size_classes(program)
        self.size_names: dict = {}  # size class -> its name in the source
        self.used: set = set()  # the size classes the code reads
        self.ranges: dict[str, str] = {}  # size text -> the name of its arange
        self.temps: dict[str, str] = {}  # an intermediate's text -> its name: each computed once (its operands
        # are names of values never written into after they are made, so equal text is an equal value)
        self.counts: dict[str, int] = {}
        self.names: dict = {}  # node -> its name in the source
        self.vars = compiled.vars
        self.bound = {self.sizes.get(d, d) for p in self.read for d in self.param_dims(p)}  # an input's axis
        self.xp = self.fresh(backend.xp)  # np2 where a tensor is named np: the user's names stay the arguments

    # names ------------------------------------------------------------------
    def fresh(self, preferred: str, numbered: bool = False) -> str:
        k = self.counts.get(preferred, 0)
        while True:
            k += 1
            candidate = f"{preferred}{k}" if numbered or k > 1 else preferred
            if candidate not in self.taken:
                self.counts[preferred] = k
                self.taken.add(candidate)
                return candidate

    def result_name(self, expr: Expression) -> str:
        label = expr.label
        if label is not None and label.direction:
            return self.fresh("Hv")
        if label is not None and label.partial:
            xs = label.variables
            if len(xs) == 2 and xs[0] == xs[1] and not label.f_idx:
                return self.fresh(f"hess_{xs[0]}")
            if len(xs) == 1 and not label.f_idx:
                return self.fresh(f"grad_{xs[0]}")
            order = "" if len(xs) == 1 else len(xs)
            return self.fresh(f"d{order}{label.f}_" + "_".join(f"d{x}" for x in xs))
        if expr.name and expr.name.isidentifier() and expr.name not in self.params:
            return self.fresh(expr.name)
        return self.fresh("value" if expr.ndim == 0 else "y")

    def size(self, d) -> str:
        """The source text of an axis length: a literal, or the name it was read into."""
        if isinstance(d, int):
            return str(d)
        cls = self.sizes.get(d, d)
        if isinstance(d, Broadcast) and cls not in self.bound:  # no input has it: the longest of its parts
            return f"max({', '.join(self.size(x) for x in d.dims)})"
        if cls not in self.size_names:
            self.size_names[cls] = self.fresh(next((c for c in "mnpqrstuvw" if c not in self.taken), "size"))
        self.used.add(cls)
        return self.size_names[cls]

    def shape(self, dims) -> str:
        texts = [self.size(d) for d in dims]
        return "(" + ", ".join(texts) + ("," if len(texts) == 1 else "") + ")"

    # the program -----------------------------------------------------------
    def source(self) -> str:
        for p in self.read:  # sizes named in the order the inputs have them: W (m, n), x (n,)
            self.shape(self.param_dims(p))
        self.used.clear()
        outputs: dict = {}
        for e in self.exprs:
            outputs.setdefault(e.node, self.result_name(e))
        arguments = {n.arg for n in self.program.nodes if isinstance(n, Call)}
        kernels = iter(self.program.kernels)
        for node in self.program.nodes:
            if node not in self.program.live:  # a selection read by indexing only
                continue
            if isinstance(node, Var):
                self.names[node] = node.name
            elif isinstance(node, Call):
                self.names[node] = outputs.get(node) or self.fresh(functions.get(node.fn).local, numbered=True)
                self.call(node)
            else:
                plans = [k.plan for k in next(kernels)]
                if node not in outputs and len(plans) == 1 and plans[0].kind == "read" and not plans[0].placed \
                        and plans[0].gathers == (None,) \
                        and node.terms[0].coef == 1 and not plans[0].reshape \
                        and plans[0].shape == self.program.layout.shape_of[node]:
                    self.names[node] = self.value_name(plans[0].slots[0])  # a node reading another as it is
                    continue
                target = outputs.get(node) or self.fresh("z" if node in arguments else "v", numbered=True)
                self.names[node] = target
                self.expr(node, plans, target, node in outputs)
        results = ", ".join(self.names[e.node] for e in self.exprs)
        used = set(self.used)
        docstring = self.docstring() if self.impls is None else []  # code no one reads: no docstring to print
        body = docstring + self.unpack_sizes(used) + self.checks() + self.lines + [f"return {results}"]
        optional = [n for n in self.unread if n not in self.params]
        unread = ["*", *(f"{n}=None" for n in optional)] if optional else []  # optional, as for eg.evaluate
        head = f"def {self.name}({', '.join([*self.params, *unread])}):"
        module = self.backend.module
        imports = f"import {module}" if module == self.xp else f"import {module} as {self.xp}"
        imports += "".join(f"\nimport {m}" for m in sorted(self.imports))
        return imports + "\n\n\n" + head + "\n" + "\n".join("    " + line if line else "" for line in body)

    def docstring(self) -> list[str]:
        names = [self.names[e.node] for e in self.exprs]
        lines = [f'"""Return {", ".join(names)} (generated by einsumgrad).', ""]
        for e, n in zip(self.exprs, names):
            text = str(e.expression if isinstance(e, Jacobian) else e)
            formula = text if "\n" not in text and len(text) <= 80 else (e.name or "the expression")
            lines.append(f"{n}: {formula}, shape {self.shape(e.node.dims)}{_layout_note(e, self.vars)}.")
        inputs = ", ".join(f"{n} {self.shape(self.param_dims(n))}" for n in self.read)
        unread = f" ({', '.join(self.unread)}: cancelled out, so not read)" if self.unread else ""
        lines.append(f"Inputs: {inputs or 'none'}{unread}.")
        if not self.planned:
            return lines + ["Contraction order: einsumgrad's plan for large, equal sizes.", '"""']
        ones = ", ".join(f"{n}.shape[{k}]" for n, k in self.ones)
        valid = f"valid at any sizes with {ones} == 1 (checked)." if ones else "valid at any sizes."
        return lines + ["Contraction order: einsumgrad's plan for the shapes it was generated for, scaled up to",
                        f"large sizes: BLAS forms, {valid}", '"""']

    def checks(self) -> list[str]:
        """A clear error where an axis the code assumes has length 1 (it stretches) has another."""
        lines = []
        for n, k in self.ones:
            axis = f"{n}.shape[{k}]"
            message = f"{self.name}: axis {k} of {n} has length {{{axis}}}, but this code was generated for length 1 "
            lines += [f"if {axis} != 1:", f'    raise ValueError(f"{message}"',
                      '                     "(shapes=, where it stretches); generate it again for these sizes")']
        return lines

    def param_dims(self, name: str) -> tuple:
        var = self.vars.get(name)
        return var.shape if var is not None else tuple((name, k) for k in range(len(self.program.sizes[name])))

    def unpack_sizes(self, used: set) -> list[str]:
        """``m, n = W.shape`` for the sizes the code uses, each read from the first tensor that has it."""
        lines: list[str] = []
        bound: set = set()
        for p in self.read:
            dims = self.param_dims(p)
            new: dict = {}
            for k, d in enumerate(dims):
                if not isinstance(d, int) and self.sizes.get(d, d) in used and self.sizes.get(d, d) not in bound:
                    new.setdefault(self.sizes.get(d, d), k)
            if not new:
                continue
            if len(new) == len(dims) and p in self.vars:  # a tensor that only gives sizes may have more axes
                names = ", ".join(self.size_names[c] for c in new)
                lines.append(f"{names}{',' * (len(new) == 1)} = {p}.shape")
            else:
                lines += [f"{self.size_names[c]} = {p}.shape[{k}]" for c, k in new.items()]
            bound.update(new)
        return lines

    def call(self, node: Call) -> None:
        fn = functions.get(node.fn)
        if self.impls is not None and fn.own_impl:  # its NumPy implementation (and checks), at the plan's sizes
            local = self.fresh(f"_{fn.local}", numbered=True)
            impl, params = fn.impl, fn.bind(self.program.dim, *node.params)
            self.impls[local] = impl if not params else lambda a, impl=impl, params=params: impl(a, *params)
            self.lines.append(f"{self.names[node]} = {local}({self.names[node.arg]})")
            return
        if fn.formula is None:
            raise EinsumgradError(f"function {node.fn!r} has no {self.backend.name} form (a formula over an array "
                                  "namespace), only a NumPy implementation, so codegen cannot write it; evaluate it "
                                  "with eg.compile")
        if fn.note:
            self.lines.append(f"# {fn.note}")
        torch = self.backend.name == "torch"  # torch.special comes with torch; SciPy's, jax's are imported
        special = _Source(f"{self.xp}.special" if torch else xp.SPECIAL[self.backend.name])
        namespace = xp.namespace(self.backend.name, _Source(self.xp), special)
        params = fn.bind(lambda d: d if isinstance(d, int) else _Source(self.size(d)), *node.params)
        lines, value = _written(fn.formula(namespace, _Source(self.names[node.arg]), *params),
                                lambda: self.fresh("t", numbered=True))
        if special.read and not torch:
            self.imports.add(special.text)
        self.lines += [*lines, f"{self.names[node]} = {value}"]

    # sums of terms -----------------------------------------------------------
    def expr(self, node: Expr, plans, target: str, output: bool) -> None:
        full = self.program.layout.shape_of[node]
        terms = [self.term(node, t, plan) for t, plan in zip(node.terms, plans)]
        plain = [t for t, plan in zip(terms, plans) if not plan.placed]
        diagonal = [(t, plan) for t, plan in zip(terms, plans) if plan.placed]
        whole = any(not plan.placed and plan.kind != "constant" and plan.shape == full for plan in plans)
        if whole:
            text = _sum(plain)
            fresh = len(plain) > 1 or plain[0][2] or plain[0][0] != "1"
            if (output or diagonal) and not fresh and self.backend.name != "jax":
                text += ".clone()" if self.backend.name == "torch" else ".copy()"
            self.lines.append(f"{target} = {text}")
            written = True
        else:
            self.lines.append(f"{target} = {self.zeros(node, plans)}")
            written = False
            if plain:
                self.lines.append(f"{target} = {target} + {_sum(plain)}" if self.backend.name == "jax"
                                  else f"{target} += {_sum(plain)}")
                written = True
        for (coef, value, _), plan in diagonal:
            if plan.diagonal is None:
                index, comment, value = self.scatter_index(plan, target, value)
            else:
                index, comment = self.diagonal_index(node, plan, target)
            value = value if coef == "1" else f"{_scaled(coef, value)}"
            self.lines.append(f"# {comment}")
            if self.backend.name == "jax":
                self.lines.append(f"{target} = {target}.at[{index}].{'add' if written else 'set'}({value})")
            else:
                self.lines.append(f"{target}[{index}] {'+=' if written else '='} {value}")
            written = True

    def zeros(self, node: Expr, plans) -> str:
        shape = self.shape(node.dims)
        like = next((self.value_name(plan.slots[0]) for plan in plans if plan.slots), None)
        like = like or (self.read[0] if self.read else None)
        complex_ = any(complex(t.coef).imag for t in node.terms)
        if self.backend.name == "torch":
            if complex_:  # a complex coefficient (2j δ[i,j]) makes the sum complex
                return (f"{like}.new_zeros({shape}, dtype={self.xp}.promote_types({like}.dtype, {self.xp}.complex64))"
                        if like else f"{self.xp}.zeros({shape}, dtype={self.xp}.complex128)")
            return f"{like}.new_zeros({shape})" if like else f"{self.xp}.zeros({shape}, dtype={self.xp}.float64)"
        if complex_:
            return f"{self.xp}.zeros({shape}, dtype={self.xp}.result_type({like}, 1j))" if like else \
                f"{self.xp}.zeros({shape}, dtype=complex)"
        return f"{self.xp}.zeros({shape}, dtype={like}.dtype)" if like else f"{self.xp}.zeros({shape})"

    def value_name(self, slot: int) -> str:
        return self.names[self.program.nodes[slot]]

    def term(self, node: Expr, term, plan) -> tuple[str, str, bool]:
        """``(coefficient, value, fresh)``: the term's product as source (temporaries written as
        lines) and its coefficient, sizes included, as source."""
        term = planned(node, term, self.program.layout)
        coef = _number(term.coef)
        sizes = [self.size(f.dim) for f in term.factors if isinstance(f, Size)]
        sizes += map(self.size, spread(node, term, self.program.layout))
        if sizes:
            coef = " * ".join(([] if coef == "1" else [coef]) + sizes)
            coef = coef.replace("-1 * ", "-")
        ops = [self.value_name(s) if g is None else basic_index(_Source(self.value_name(s)), g, self.backend.name).text
               for s, g in zip(plan.slots, plan.gathers)]
        if plan.kind == "constant":
            return "1", coef, False
        if plan.kind == "read":
            value, fresh = ops[0], False
        elif plan.kind == "einsum":
            value, fresh = (f"{ops[0]}.T", False) if plan.equation in ("ab->ba", "ba->ab") else (
                self.einsum(plan.equation, ops), True)
        elif plan.kind == "hadamard":
            value, fresh = " * ".join(ops), True
        else:
            value, fresh = self.contraction(plan, ops), True
        if plan.reshape:
            value = _broadcast(value, plan.carried, leading=not plan.placed)
        return coef, value, fresh

    def einsum(self, equation: str, ops) -> str:
        inputs, result = equation.split("->")
        lowered = _lowered(equation, ops)
        if lowered is not None:
            return lowered
        if len(set(inputs) - {","}) > 52:
            raise EinsumgradError(f"generated code would call einsum over {len(set(inputs) - {','})} indices at once, "
                                  "but einsum takes 52 (one per letter); use smaller ranks, or eg.compile")
        return f'{self.xp}.einsum("{equation}", {", ".join(ops)})'

    def contraction(self, plan, ops) -> str:
        c = contraction(plan.equation, plan.shapes, self.program.optimize)
        if not c.steps:
            return self.einsum(c.equation, ops)
        pool = list(ops)
        for step in c.steps:
            operands = [pool.pop(p) for p in step.positions]
            text = ((step.matmul and _matmul(step.equation, *operands)) or (len(operands) == 2 and _product(
                step.equation, *operands)) or self.einsum(step.equation, operands))
            if step is not c.steps[-1]:
                temp = self.temps.get(text)
                if temp is None:
                    temp = self.temps[text] = self.fresh("t", numbered=True)
                    self.lines.append(f"{temp} = {text}")
                text = temp
            pool.append(text)
        return pool[0]

    def scatter_index(self, plan, target: str, value: str) -> tuple[str, str, str]:
        """The slices of ``target`` a term is written onto (the adjoint of ``x[1:3]``), a comment,
        and the value (torch takes no negative step: there it is read forwards, the value flipped)."""
        index, flips = forwards(plan.scatter, self.backend.name)
        flips = tuple(q - len(plan.view_shape) for q in flips if plan.carried[q])  # the value's axes, from the end
        if flips:
            value = f"{_operand(value)}.flip({flips!r})"
        text = shown_index(index)
        return text, f"this term lies on {target}[{shown_index(plan.scatter)}], zero elsewhere", value

    def diagonal_index(self, node: Expr, plan, target: str) -> tuple[str, str]:
        """The index of ``target`` selecting the diagonal the term is written onto — aranges on the
        tied axes, slices elsewhere — and a comment saying which delta put it there."""
        groups = plan.diagonal
        tied = [g for g in groups if len(g) > 1]
        index = [":"] * len(node.out)
        for q, g in enumerate(tied):
            name = self.arange(node.dims[g[0]], node.out[g[0]], target)
            suffix = "" if q == len(tied) - 1 else "[:" + ", None" * (len(tied) - 1 - q) + "]"
            for a in g:
                index[a] = name + suffix
        if _advanced_order(groups, len(node.out)) != list(range(len(groups))):  # numpy would reorder: index every axis
            for q, g in enumerate(groups):
                name = self.arange(node.dims[g[0]], node.out[g[0]], target)
                suffix = "" if q == len(groups) - 1 else "[:" + ", None" * (len(groups) - 1 - q) + "]"
                for a in g:
                    index[a] = name + suffix
        while index and index[-1] == ":":
            index.pop()
        ties = " ".join(f"δ[{','.join(node.out[a] for a in g)}]" for g in tied)
        where = ", ".join(" = ".join(node.out[a] for a in g) for g in tied)
        return ", ".join(index) or "...", f"{ties}: this term lies on the diagonal {where} of {target}, zero elsewhere"

    def arange(self, dim, letter: str, target: str) -> str:
        size = self.size(dim)
        if size not in self.ranges:
            name = self.fresh(letter if letter.isidentifier() else "i")
            device = f", device={target}.device" if self.backend.name == "torch" else ""
            self.lines.append(f"{name} = {self.xp}.arange({size}{device})")
            self.ranges[size] = name
        return self.ranges[size]


def _advanced_order(groups, rank: int) -> list[int]:
    """The order of the reduced axes in ``out[index]`` under NumPy's rules, with aranges on the
    tied axes: adjacent aranges leave their axes in place, separated ones move them to the front."""
    tied_axes = sorted(a for g in groups if len(g) > 1 for a in g)
    tied = [q for q, g in enumerate(groups) if len(g) > 1]
    first = {g[0]: q for q, g in enumerate(groups) if len(g) == 1}
    if tied_axes and tied_axes[-1] - tied_axes[0] + 1 != len(tied_axes):
        return tied + [first[a] for a in range(rank) if a in first]
    order = []
    for a in range(rank):
        if a in first:
            order.append(first[a])
        elif tied_axes and a == tied_axes[0]:
            order += tied
    return order


def _matmul(equation: str, a: str, b: str) -> str | None:
    """``a @ b`` or ``b @ a`` (with ``.T`` where needed, the fewest) for a two-operand step with one
    summed index, at most one kept index per operand and no batch index; None for any other step."""
    inputs, result = equation.split("->")
    left, right = inputs.split(",")
    summed = [c for c in left if c in right and c not in result]
    if len(summed) != 1 or any(c in right and c in result for c in left) or len(set(left + right)) != len(left + right) - 1:
        return None
    k = summed[0]
    keep_left, keep_right = left.replace(k, ""), right.replace(k, "")
    if len(keep_left) > 1 or len(keep_right) > 1:
        return None
    if set(keep_left + keep_right) != set(result):
        return None
    forms = []
    if result == keep_left + keep_right:
        forms.append(f"{_oriented(a, left, keep_left + k)} @ {_oriented(b, right, k + keep_right)}")
    if result == keep_right + keep_left:  # the transposed product: (A B)ᵀ = Bᵀ Aᵀ
        forms.append(f"{_oriented(b, right, keep_right + k)} @ {_oriented(a, left, k + keep_left)}")
    return min(forms, key=lambda form: form.count(".T"))


def _product(equation: str, a: str, b: str) -> str | None:
    """``a * b`` with length-1 axes put in (``v[:, None] * x``) for a step that sums nothing and
    keeps each operand's axes in order (or a matrix's reversed: ``v[:, None] * W.T``); None for any
    other step."""
    inputs, result = equation.split("->")
    operands = inputs.split(",")
    if len(set(result)) != len(result) or set("".join(operands)) != set(result):
        return None
    factors = []
    for name, letters in zip((a, b), operands):
        ordered = "".join(c for c in result if c in letters)
        if letters != ordered and not (len(letters) == 2 and letters == ordered[::-1]):
            return None
        factors.append(_broadcast(_oriented(name, letters, ordered), [c in letters for c in result], leading=False))
    return " * ".join(factors)


def _lowered(equation: str, ops) -> str | None:
    """An einsum as sums, products and ``@``, which cost NumPy a fraction of an ``einsum`` call's
    overhead: each operand's indices found nowhere else summed first, then an operand whose indices
    another carries multiplied into the smallest such, until two operands make a matmul or a product
    (or one is left: itself, transposed or summed); None where an einsum remains (a diagonal, a
    transpose past rank 2, three operands none of which holds another's indices).

    >>> _lowered("ab,a,a->b", ["W", "u", "v"])
    '(u * v) @ W'
    >>> _lowered("ab,ab->a", ["A", "B"])
    '(A * B).sum(1)'
    """
    inputs, result = equation.split("->")
    pool = list(zip(inputs.split(","), ops))
    if len(set(result)) != len(result) or any(len(set(letters)) != len(letters) for letters, _ in pool):
        return None
    for k, (letters, name) in enumerate(pool):
        alone = [q for q, c in enumerate(letters)
                 if c not in result and not any(c in other for j, (other, _) in enumerate(pool) if j != k)]
        if alone:
            axes = alone[0] if len(alone) == 1 else tuple(alone)
            pool[k] = ("".join(c for q, c in enumerate(letters) if q not in alone),
                       f"{_operand(name)}.sum({'' if len(alone) == len(letters) else axes})")
    while len(pool) > 1:
        if len(pool) == 2:
            (left, a), (right, b) = pool
            two = f"{left},{right}->{result}"
            text = _matmul(two, _operand(a), _operand(b)) or _product(two, _operand(a), _operand(b))
            if text is not None:
                return text
        held = [(len(outer), k, j) for k, (inner, _) in enumerate(pool) for j, (outer, _) in enumerate(pool)
                if j != k and set(inner) <= set(outer)]
        if not held:
            return None
        _, k, j = min(held)
        (inner, a), (outer, b) = pool[k], pool[j]
        text = _product(f"{inner},{outer}->{outer}", _operand(a), _operand(b))
        if text is None:
            return None
        pool = [p for q, p in enumerate(pool) if q not in (j, k)] + [(outer, f"({text})")]
    (letters, name), = pool
    if letters == result:
        return name
    if len(letters) == 2 and letters == result[::-1]:
        return f"{_operand(name)}.T"
    summed = tuple(q for q, c in enumerate(letters) if c not in result)
    if "".join(c for c in letters if c in result) != result:
        return None
    return f"{_operand(name)}.sum({'' if not result else summed[0] if len(summed) == 1 else summed})"


def _operand(text: str) -> str:
    """``text`` as an operand of ``@``, ``*`` or an attribute: parenthesized unless a name (perhaps
    indexed or transposed) or in parentheses already."""
    name, _, index = text.removesuffix(".T").partition("[")
    if name.isidentifier() and (not index or index.endswith("]") and not {"[", "]"} & set(index[:-1])):
        return text
    if text.startswith("(") and _closes(text):
        return text
    return f"({text})"


def _closes(text: str) -> bool:
    """Whether the parenthesis ``text`` opens with closes at its end."""
    depth = 0
    for q, c in enumerate(text):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0:
            return q == len(text) - 1
    return False


def _oriented(name: str, letters: str, wanted: str) -> str:
    return name if letters == wanted else f"{name}.T"


def _broadcast(value: str, carried: list[bool], leading: bool = True) -> str:
    """The value with its broadcast axes put back as length 1 (without ``leading``: not the leading
    ones, which NumPy's broadcasting adds itself)."""
    index = [":" if c else "None" for c in carried]
    while index and index[0] == "None" and not leading:
        index.pop(0)
    while index and index[-1] == ":":
        index.pop()
    if not index:
        return value
    return f"{_operand(value)}[{', '.join(index)}]"


def _scaled(coef: str, value: str) -> str:
    if coef == "1":
        return value
    if coef == "-1":
        return f"-{value}"
    return f"{coef} * {value}"


def _sum(terms) -> str:
    text = ""
    for coef, value, _ in terms:
        part = _scaled(coef, value)
        if not text:
            text = part
        elif part.startswith("-"):
            text += f" - {part[1:]}"
        else:
            text += f" + {part}"
    return text


def _layout_note(e: Expression, vars) -> str:
    """How the result's axes are laid out, where its label says: a gradient, a Hessian."""
    label = e.label
    if label is None or not label.partial or label.f_idx or e.node.out != label.indices:
        return ""
    xs = label.variables
    if not set(xs) <= set(vars):
        return ""
    return f", like {xs[0]}" if len(xs) == 1 else f" ({' + '.join(f'{x}.shape' for x in xs)})"


def _tied(nodes):
    """Pairs of axis lengths that share an index (or a delta, or a function's elementwise axis), and
    a broadcast with each of its parts (which NumPy stretches to one length)."""
    for d in dict.fromkeys(all_dims(nodes)):
        if isinstance(d, Broadcast):
            yield from ((d, x) for x in d.dims)
    for node in nodes:
        if isinstance(node, Call):
            if len(node.shape) == len(node_shape(node.arg)):
                yield from zip(node.shape, node_shape(node.arg))
        elif isinstance(node, Expr):
            for t in node.terms:
                at = dict(zip(node.out, node.dims))
                for f in t.factors:
                    if isinstance(f, Ref):
                        pairs = zip(f.idx, node_shape(f.node))
                    elif isinstance(f, Delta):
                        pairs = ((f.a, f.dim), (f.b, f.dim))
                    else:
                        continue
                    for a, d in pairs:
                        yield at.setdefault(a, d), d


def _classes(pairs, same) -> dict:
    """Union-find: every length met -> its class's representative, joining pairs that are ``same``."""
    parent: dict = {}

    def find(d):
        while parent.setdefault(d, d) != d:
            d = parent[d]
        return d

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb and same(a, b):
            parent[max(ra, rb, key=repr)] = min(ra, rb, key=repr)
    return {d: find(d) for d in list(parent)}


def _size_classes(program) -> dict:
    """Each symbolic axis length -> one class per length that the plan found equal (through a
    shared index or a delta), so that each is read from the inputs once."""
    pairs = list(_tied(program.nodes)) + [(d, d) for v in program.nodes if isinstance(v, Var) for d in v.shape]
    symbolic = [(a, b) for a, b in pairs if not isinstance(a, int) and not isinstance(b, int)]
    return _classes(symbolic, lambda a, b: program.dim(a) == program.dim(b))
