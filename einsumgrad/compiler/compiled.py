"""The front door: ``Compiled``, a callable over named arrays with a plan per input shapes and
dtypes, and the program a plan is: every node one step (a tensor read, a function call, or a
sum of terms), in dependency order, so a node shared by several outputs or terms is computed
once per call.

>>> import numpy as np
>>> from ..algebra import einsum, tensor
>>> f = Compiled(einsum("ij,j->i", tensor("W", 2), tensor("x", 1)))
>>> f(W=np.eye(2), x=np.array([1.0, 2.0]))
array([1., 2.])
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .. import functions
from ..algebra import MAX_RANK
from ..caches import LRU
from ..errors import EinsumgradError, MemoryLimitError, ShapeError
from ..ir import Call, Delta, Dim, Expr, Size, Stretch, Var, postorder, variables
from . import namespaces, settings
from .kernels import Kernel, functional_sum, sum_kernel, term_kernel
from .plan import Layout, contraction, plan_term
from .settings import SETTINGS, check_backend, check_optimize, describe_bytes


class Compiled:
    """A callable over named arrays evaluating one or more expressions.

    Plans are cached per input shapes and dtypes (LRU-bounded, thread-safe);
    ``repr`` shows the last plan.
    """

    def __init__(self, *exprs: Expr, optimize="auto", backend: str = "numpy", memory_limit: int | None = None,
                 inputs: tuple[str, ...] = (), accepted: frozenset[str] = frozenset()):
        if not exprs or not all(isinstance(e, Expr) for e in exprs):
            raise EinsumgradError("compile takes one or more expressions built with eg.tensor / eg.einsum")
        self.exprs = exprs
        self.optimize = check_optimize(optimize)
        self.backend = check_backend(backend)
        self.memory_limit = memory_limit
        found: dict[str, Var] = {}
        for v in sorted(frozenset().union(*map(variables, exprs)), key=lambda v: v.name):
            if v.name in found:
                raise EinsumgradError(f"two different tensors are named {v.name!r} ({found[v.name].shape} and {v.shape})")
            found[v.name] = v
        # tensors read, with their ranks, and tensors whose axes only give sizes, with the axes needed
        self.ranks = {v.name: len(v.shape) for v in found.values()}
        for e in exprs:
            for d in _all_dims(e):
                if not isinstance(d, int) and d[0] not in found:
                    self.ranks[d[0]] = max(self.ranks.get(d[0], 0), d[1] + 1)
        self.names = tuple(sorted(set(self.ranks) | set(inputs)))
        self.accepted = frozenset(self.names) | accepted  # also arrays of tensors the expressions came from
        self.vars = found
        self._plans = LRU(lambda: SETTINGS["plan_cache_size"])
        self._last = None

    def __call__(self, **arrays):
        try:  # the hot path: the same names, shapes and dtypes as a cached plan
            key = tuple([(type(a), a.shape, a.dtype) for a in map(arrays.__getitem__, self.names)])
        except (KeyError, AttributeError):
            key = None
        plan = None if key is None or len(arrays) != len(self.names) else self._plans.get(key)
        if plan is None:
            arrays = self._arrays(arrays)
            key = tuple([(type(a), a.shape, a.dtype) for a in map(arrays.__getitem__, self.names)])
            plan = self._plans.get(key) or self._plans.insert(key, _Program(self, arrays))
        self._last = plan
        results = plan.run(arrays)
        return results[0] if len(results) == 1 else tuple(results)

    def _arrays(self, arrays: dict) -> dict:
        unknown = sorted(set(arrays) - self.accepted)
        missing = [n for n in self.names if n not in arrays]
        if unknown or missing:
            problem = f"unknown array {unknown[0]!r}" if unknown else f"missing array {missing[0]!r}"
            raise EinsumgradError(f"{problem}; this expression takes: {', '.join(sorted(self.accepted))}")
        out = {}
        for n in self.names:  # arrays of other tensors the expression came from are not needed
            a = to_array(n, arrays[n])
            library = type(a).__module__.partition(".")[0]
            if library in FOREIGN and self.backend == "numpy":
                raise EinsumgradError(f"array {n!r} is a {FOREIGN[library]} array; pass backend={FOREIGN[library]!r} to "
                                      "eg.compile to keep it one, or convert it to NumPy yourself")
            try:
                kind = np.dtype(a.dtype).kind
            except TypeError:  # another library's dtype (torch): its own arithmetic applies
                kind = "f"
            if kind in "biu":
                a = a.astype(np.float64)
            elif kind not in "fc":
                raise EinsumgradError(f"array {n!r} has dtype {a.dtype}; einsumgrad works on numbers")
            out[n] = namespaces.as_backend(self.backend, a) if self.backend in namespaces.MODULES else a
        return out

    def contractions(self, **arrays) -> list[tuple[str, tuple]]:
        """The multi-operand contractions of the plan for these arrays: ``(equation, shapes)``
        pairs, for ``opt_einsum.contract_path`` to report FLOPs and intermediates."""
        self(**arrays)
        return [k.plan.contraction for step in self._last.kernels for k in step if k.plan.contraction]

    def program(self, arrays: dict) -> _Program:
        """The plan for arrays like these (only their ``shape`` and ``dtype`` are read), uncached:
        for code generation, which writes the same steps as source."""
        return _Program(self, self._arrays(arrays))

    @property
    def plan_cache_size(self) -> int:
        return len(self._plans)

    def _repr_html_(self):
        from ..web import fragments

        return fragments.notebook(fragments.compiled_html(repr(self)))

    def __repr__(self):
        head = f"Compiled({len(self.exprs)} expression{'s' * (len(self.exprs) > 1)} of {', '.join(self.names)}"
        head += f"; optimize={self.optimize!r}, backend={self.backend!r}; {len(self._plans)} cached plan(s))"
        return head if self._last is None else head + "\n" + self._last.describe()


FOREIGN = {"jax": "jax", "jaxlib": "jax", "torch": "torch"}  # array libraries the NumPy backend refuses to convert


def to_array(name: str, value):
    """A plain ``np.ndarray`` for NumPy input (subclasses such as ``np.matrix``, whose ``*`` is a
    matrix product, are converted; masked arrays with masked entries are refused), another
    library's array as it is, anything else through ``np.asarray``."""
    if isinstance(value, np.ma.MaskedArray):
        if np.ma.getmaskarray(value).any():
            raise EinsumgradError(f"array {name!r} is a masked array with masked entries; einsumgrad would count "
                                  "them: fill them (a.filled(...)) or select the unmasked part first")
        return np.ma.getdata(value)
    if isinstance(value, np.ndarray):
        return value if type(value) is np.ndarray else np.asarray(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return value
    try:
        return np.asarray(value)
    except ValueError as err:
        raise EinsumgradError(f"array {name!r} is not a rectangular array of numbers: {err}") from None


def check_symmetric(name: str, a) -> None:
    """Refuse an array for a symmetric tensor that is not symmetric, to within rounding: the largest
    ``|a - aᵀ|`` over ``sqrt(eps)`` of the dtype times the largest ``|a|``. A lazy array (dask) is trusted."""
    if hasattr(a, "dask"):
        return
    a = np.asarray(a)
    gap = float(np.abs(a - a.T).max(initial=0))
    tol = math.sqrt(np.finfo(a.dtype).eps) * float(np.abs(a).max(initial=0))
    if not gap <= tol:
        raise EinsumgradError(f"tensor {name!r} is declared symmetric, but its array is not: the largest |{name} - "
                              f"{name}ᵀ| is {gap:.3g}, over the tolerance {tol:.3g}; pass (a + a.T) / 2")


def _all_dims(expr: Expr):
    """Every axis length the expression refers to: its nodes' shapes, its deltas, sizes and stretches."""
    yield from expr.dims
    for node in postorder(expr):
        if not isinstance(node, Expr):
            yield from node.shape
            continue
        yield from node.dims
        for t in node.terms:
            yield from (f.dim for f in t.factors if isinstance(f, (Delta, Size, Stretch)))


PLAN_GUARD = 1024  # an intermediate this much larger than every operand and the result is a planning bug


class _Program:
    """The plan of one call signature: the steps over a list of values, one slot per node."""

    def __init__(self, compiled: Compiled, arrays: dict):
        self.dtype = np.result_type(*map(namespaces.numpy_dtype, arrays.values())) if arrays else np.dtype(np.float64)
        if self.dtype.kind != "c" and self.dtype.kind != "f":
            self.dtype = np.dtype(np.float64)
        self.optimize, self.backend = compiled.optimize, compiled.backend
        # NumPy arrays are written in place (deltas onto diagonal views); other array types
        # (dask, ...) are combined functionally and stay lazy
        self.lazy = compiled.backend in namespaces.MODULES or any(type(a) is not np.ndarray for a in arrays.values())
        self.memory_limit = compiled.memory_limit  # None: the configured limit
        self.needs: list[tuple[int, str, str]] = []  # (bytes, what takes them, advice) for the memory guard
        self.sizes = {n: a.shape for n, a in arrays.items()}
        for n, rank in compiled.ranks.items():  # every rank first: a shape may refer to another tensor's axes
            got = len(arrays[n].shape)
            if (got != rank) if n in compiled.vars else (got < rank):
                raise ShapeError(f"tensor {n!r} has rank {rank}, but its array has shape {tuple(arrays[n].shape)}")
        for n, v in compiled.vars.items():
            expected = tuple(self.dim(d) for d in v.shape)
            if expected != tuple(arrays[n].shape):
                raise ShapeError(f"tensor {n!r} needs shape {expected} here, but its array has shape "
                                 f"{tuple(arrays[n].shape)}")
        self.nodes = nodes = postorder(*compiled.exprs)
        self.layout = Layout({node: k for k, node in enumerate(nodes)}, {}, self.dim)
        self.steps: list[tuple[int, Callable]] = []
        self.lines: list[str] = []
        self.kernels: list[list[Kernel]] = []
        slot = self.layout.slot
        for node in nodes:
            self.layout.shape_of[node] = self._shape(node)
            if isinstance(node, Call):
                self.steps.append((slot[node], self._call_step(node)))
            elif isinstance(node, Expr):
                self.steps.append((slot[node], self._expr_step(node, owned_result=node in compiled.exprs)))
        self.outputs = [slot[e] for e in compiled.exprs]
        self.var_slots = [(slot[v], n) for n, v in compiled.vars.items() if v in slot]
        self.symmetric = [n for n, v in compiled.vars.items() if v.symmetric]
        self._check_memory()

    def _check_memory(self) -> None:
        """Refuse the plan if a result or intermediate it makes is over the memory limit."""
        limit = settings.memory_limit() if self.memory_limit is None else self.memory_limit
        for nbytes, what, advice in self.needs:
            if nbytes > limit:
                raise MemoryLimitError(f"{what}: {describe_bytes(nbytes)}, over the limit of {describe_bytes(limit)}. "
                                       f"{advice}; or raise the limit with eg.configure(memory_limit=...)")
        self.epoch = settings.epoch()

    def run(self, arrays: dict) -> list:
        if self.epoch != settings.epoch():  # the limit changed since the last check
            self._check_memory()
        for n in self.symmetric:
            check_symmetric(n, arrays[n])
        values: list = [None] * len(self.layout.slot)
        for k, n in self.var_slots:
            values[k] = arrays[n]
        for k, step in self.steps:
            values[k] = step(values)
        return [values[k] for k in self.outputs]

    def describe(self) -> str:
        return "\n".join(self.lines)

    def dim(self, d: Dim) -> int:
        return d if isinstance(d, int) else self.sizes[d[0]][d[1]]

    def _shape(self, node) -> tuple[int, ...]:
        if isinstance(node, Var):
            return tuple(self.sizes[node.name])
        if isinstance(node, Call):
            arg = self.layout.shape_of[node.arg]
            fn = functions.get(node.fn)
            fn.check(arg, *node.params)
            if self.dtype.kind == "c" and not fn.holomorphic:
                raise EinsumgradError(f"{node.fn} is not holomorphic: its derivative is undefined for complex input")
            reshaped = len(node.shape) != len(arg) or not fn.elementwise
            return tuple(self.dim(d) for d in node.shape) if reshaped else arg
        return tuple(self.dim(d) for d in node.dims)

    def _call_step(self, node: Call) -> Callable:
        impl, arg, params = functions.get(node.fn).impl, self.layout.slot[node.arg], node.params
        if self.backend in namespaces.MODULES:  # the same formula on that library's arrays (jax traces it)
            impl = namespaces.function(self.backend, node.fn)
        self.lines.append(f"  [{self.layout.slot[node]}] = {node.fn}([{arg}]{''.join(f', {p}' for p in params)})")
        return lambda values: impl(values[arg], *params)

    def _expr_step(self, expr: Expr, owned_result: bool) -> Callable:
        shape = self.layout.shape_of[expr]
        if len(shape) > MAX_RANK:
            raise ShapeError(f"this result would have {len(shape)} axes, but NumPy arrays have at most {MAX_RANK}. "
                             "Use vjp/jvp/grad, which never build it")
        plans = [plan_term(expr, t, self.layout, self.optimize) for t in expr.terms]
        kernels = [term_kernel(p, self.dtype, self.optimize, self.backend) for p in plans]
        terms = " + ".join(p.shown for p in plans) or "0"
        self.lines.append(f"  [{self.layout.slot[expr]}] shape {shape} = {terms}")
        self.kernels.append(kernels)
        if self.lazy:
            return functional_sum(kernels, shape, self.dtype, self.backend)
        self._guard(shape, plans)
        return sum_kernel(kernels, shape, self.dtype, owned_result)

    def _guard(self, shape: tuple[int, ...], plans) -> None:
        """Note the bytes of this result and of the largest intermediate of each term's contraction."""
        itemsize = self.dtype.itemsize
        self.needs.append((math.prod(shape) * itemsize, f"this result has shape {shape}",
                           "Use vjp/jvp/grad, which never build it, or smaller sizes"))
        for p in plans:
            if p.contraction is not None:
                largest = contraction(p.equation, p.shapes, self.optimize).largest
                bound = PLAN_GUARD * max([math.prod(shape)] + [math.prod(s) for s in p.shapes])
                if largest > max(bound, 1 << 20):
                    raise EinsumgradError(
                        f"planning bug: {p.shown} makes an intermediate of {largest:,} entries, over {PLAN_GUARD}× "
                        "its largest operand or result; please report it with this expression")
                self.needs.append((largest * itemsize,
                                   f"contracting {p.equation} over shapes {', '.join(map(str, p.shapes))} pairwise "
                                   "makes an intermediate", "Use smaller sizes or another optimize="))
