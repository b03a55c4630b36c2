"""Evaluation: expressions + array shapes -> cached plans of opt_einsum contractions.

A plan is made once per (expressions, shapes, dtypes): every node becomes one step
(a tensor read, a function call, or a sum of terms), in dependency order, so a
node shared by several outputs or terms is computed once per call. A term is one
``opt_einsum.contract_expression`` over its tensor factors; its deltas are never
multiplied in — the contraction is written onto a diagonal view of the output.

>>> import numpy as np
>>> from .algebra import einsum, tensor
>>> f = Compiled(einsum("ij,j->i", tensor("W", 2), tensor("x", 1)))
>>> f(W=np.eye(2), x=np.array([1.0, 2.0]))
array([1., 2.])
"""
from __future__ import annotations

import importlib.util
import math
import numbers
import threading
from collections import OrderedDict
from functools import partial
from operator import itemgetter
from typing import Callable, NamedTuple

import numpy as np
import opt_einsum
from opt_einsum.parser import convert_to_valid_einsum_chars

from . import functions
from .algebra import MAX_RANK
from .errors import EinsumgradError, MemoryLimitError, ShapeError
from .ir import Call, Delta, Dim, Expr, Ref, Size, Var, children, variables
from .render import describe_factor
from .simplify import eliminate_deltas

OPTIMIZERS = tuple(sorted(opt_einsum.paths._PATH_OPTIONS))
SETTINGS = {"plan_cache_size": 128, "memory_limit": None}  # None: min(2 GiB, half the free memory)
_epoch = 0  # bumped by configure: plans made before re-check their memory against the new limit


def configure(*, plan_cache_size: int | None = None, memory_limit: int | str | None = None) -> dict:
    """Set the per-function plan-cache bound and the dense-result memory limit in bytes
    (``"auto"``: the smaller of 2 GiB and half the free memory); returns the settings.
    A lower limit applies at once, to plans already made too."""
    global _epoch
    size = None if plan_cache_size is None else whole_number("plan_cache_size", plan_cache_size)
    auto = isinstance(memory_limit, str) and memory_limit == "auto"
    if memory_limit is not None and not auto:
        memory_limit = whole_number("memory_limit", memory_limit, " of bytes, or 'auto'")
    if size is not None:
        SETTINGS["plan_cache_size"] = size
    if memory_limit is not None:
        SETTINGS["memory_limit"] = None if auto else memory_limit
        _epoch += 1
    return dict(SETTINGS)


def whole_number(name: str, value, unit: str = "") -> int:
    """``value`` if it is a whole number >= 0 (an int, or a float such as 2e9), else a clear error."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0:
        return int(value)
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    raise EinsumgradError(f"{name} must be a whole number >= 0{unit}; got {value!r}")


def memory_limit() -> int:
    """The configured limit in bytes, or the smaller of 2 GiB and half the free memory."""
    if SETTINGS["memory_limit"] is not None:
        return SETTINGS["memory_limit"]
    limit = 2 << 30
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        limit = min(limit, int(info["MemAvailable"].split()[0]) * 1024 // 2)
    except (OSError, KeyError, ValueError):
        pass
    return limit


def describe_bytes(n: int) -> str:
    """``216000000 -> '206 MiB'``: three significant digits in the largest unit that fits."""
    k = 0
    while k < 6 and n >= 1024 ** (k + 1):
        k += 1
    return f"{n / 1024**k:.3g} {('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB')[k]}"


def check_optimize(optimize):
    if isinstance(optimize, (bool, list, tuple)) or isinstance(optimize, opt_einsum.paths.PathOptimizer):
        return optimize
    if optimize not in OPTIMIZERS:
        raise EinsumgradError(f"unknown optimize={optimize!r}; choose one of {', '.join(OPTIMIZERS)} (or False)")
    return optimize


BACKENDS = ("numpy", "torch", "jax", "cupy", "tensorflow", "dask")


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise EinsumgradError(f"unknown backend={backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "numpy" and importlib.util.find_spec(backend) is None:
        raise EinsumgradError(f"backend={backend!r} needs the package {backend!r}, which is not installed")
    return backend


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
        self._plans: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._last = None

    def __call__(self, **arrays):
        try:  # the hot path: the same names, shapes and dtypes as a cached plan
            key = tuple([(type(a), a.shape, a.dtype) for a in map(arrays.__getitem__, self.names)])
            plan = self._plans[key]
            if len(arrays) != len(self.names):
                raise KeyError
            self._plans.move_to_end(key)
        except (KeyError, AttributeError):
            plan = None
        if plan is None:
            arrays = self._arrays(arrays)
            key = tuple([(type(a), a.shape, a.dtype) for a in map(arrays.__getitem__, self.names)])
            with self._lock:
                plan = self._plans.get(key)
            if plan is None:
                plan = _Plan(self, arrays)
                with self._lock:
                    self._plans[key] = plan
                    while len(self._plans) > SETTINGS["plan_cache_size"]:
                        self._plans.popitem(last=False)
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
            try:
                kind = np.dtype(a.dtype).kind
            except TypeError:  # another library's dtype (torch): its own arithmetic applies
                kind = "f"
            if kind in "biu":
                a = a.astype(np.float64)
            elif kind not in "fc":
                raise EinsumgradError(f"array {n!r} has dtype {a.dtype}; einsumgrad works on numbers")
            out[n] = a
        return out

    def contractions(self, **arrays) -> list[tuple[str, tuple]]:
        """The multi-operand contractions of the plan for these arrays: ``(equation, shapes)``
        pairs, for ``opt_einsum.contract_path`` to report FLOPs and intermediates."""
        self(**arrays)
        return [t.contraction for step in self._last.term_plans for t in step if t.contraction]

    @property
    def plan_cache_size(self) -> int:
        return len(self._plans)

    def __repr__(self):
        head = f"Compiled({len(self.exprs)} expression{'s' * (len(self.exprs) > 1)} of {', '.join(self.names)}"
        head += f"; optimize={self.optimize!r}, backend={self.backend!r}; {len(self._plans)} cached plan(s))"
        return head if self._last is None else head + "\n" + self._last.describe()


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


def _all_dims(expr: Expr):
    """Every axis length the expression refers to: its nodes' shapes, its deltas and sizes."""
    yield from expr.dims
    for node in _nodes(expr):
        if not isinstance(node, Expr):
            yield from node.shape
            continue
        yield from node.dims
        for t in node.terms:
            yield from (f.dim for f in t.factors if isinstance(f, (Delta, Size)))


def _nodes(*roots) -> list:
    """Every node reachable from ``roots``, each once, children before parents."""
    order: list = []
    seen: set = set()
    stack = [(r, False) for r in reversed(roots)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(children(node)) if c not in seen)
    return order


class _TermPlan(NamedTuple):
    compute: Callable  # values -> array over the term's reduced output (1 where broadcast)
    shape: tuple[int, ...]  # the shape ``compute`` returns
    owned: bool  # the array is fresh memory, safe to write into
    diagonal: tuple | None  # per reduced axis, the output axes it runs along
    view_shape: tuple[int, ...]  # the shape of that diagonal view
    einsum: str
    contraction: tuple | None  # (equation, operand shapes) where opt_einsum plans a path


class _Plan:
    def __init__(self, compiled: Compiled, arrays: dict):
        self.dtype = np.result_type(*(a.dtype for a in arrays.values())) if arrays else np.dtype(np.float64)
        if self.dtype.kind != "c" and self.dtype.kind != "f":
            self.dtype = np.dtype(np.float64)
        self.optimize, self.backend = compiled.optimize, compiled.backend
        # NumPy arrays are written in place (deltas onto diagonal views); other array types
        # (dask, ...) are combined functionally, deltas as identity matrices, and stay lazy
        self.lazy = any(type(a) is not np.ndarray for a in arrays.values())
        self.einsum_backend = "auto" if self.lazy and self.backend == "numpy" else self.backend
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
        nodes = _nodes(*compiled.exprs)
        self.slot = {node: k for k, node in enumerate(nodes)}
        self.steps: list[tuple[int, Callable]] = []
        self.lines: list[str] = []
        self.term_plans: list[list[_TermPlan]] = []
        self.shape_of: dict = {}
        for node in nodes:
            self.shape_of[node] = self._shape(node)
            if isinstance(node, Var):
                continue
            if isinstance(node, Call):
                self.steps.append((self.slot[node], self._call_step(node)))
            else:
                self.steps.append((self.slot[node], self._expr_step(node, owned_result=node in compiled.exprs)))
        self.outputs = [self.slot[e] for e in compiled.exprs]
        self.var_slots = [(self.slot[v], n) for n, v in compiled.vars.items() if v in self.slot]
        self._check_memory()

    def _check_memory(self) -> None:
        """Refuse the plan if a result or intermediate it makes is over the memory limit."""
        limit = memory_limit() if self.memory_limit is None else self.memory_limit
        for nbytes, what, advice in self.needs:
            if nbytes > limit:
                raise MemoryLimitError(f"{what}: {describe_bytes(nbytes)}, over the limit of {describe_bytes(limit)}. "
                                       f"{advice}; or raise the limit with eg.configure(memory_limit=...)")
        self.epoch = _epoch

    def run(self, arrays: dict) -> list:
        if self.epoch != _epoch:  # the limit changed since the last check
            self._check_memory()
        values: list = [None] * len(self.slot)
        for k, n in self.var_slots:
            values[k] = arrays[n]
        for k, step in self.steps:
            values[k] = step(values)
        return [values[k] for k in self.outputs]

    def describe(self) -> str:
        return "\n".join(self.lines)

    # shapes -------------------------------------------------------------
    def dim(self, d: Dim) -> int:
        return d if isinstance(d, int) else self.sizes[d[0]][d[1]]

    def _shape(self, node) -> tuple[int, ...]:
        if isinstance(node, Var):
            return tuple(self.sizes[node.name])
        if isinstance(node, Call):
            arg = self.shape_of[node.arg]
            fn = functions.get(node.fn)
            fn.check(arg)
            if self.dtype.kind == "c" and not fn.holomorphic:
                raise EinsumgradError(f"{node.fn} is not holomorphic: its derivative is undefined for complex input")
            return tuple(self.dim(d) for d in node.shape) if len(node.shape) != len(arg) else arg
        return tuple(self.dim(d) for d in node.dims)

    def _sizes(self, expr: Expr, term) -> dict[str, int]:
        """The length of every index in a term, checked for agreement.

        As in NumPy, a tensor factor's size-1 axis stretches to the index's length elsewhere
        (``_term`` reads it apart); the result's axes and deltas never stretch, and the axes of
        one factor that share an index agree exactly.
        """
        sizes: dict[str, tuple[int, str]] = {
            a: (n, "the result") for a, n in zip(expr.out, self.shape_of[expr])
        }
        fixed = set(sizes)  # indices whose length is not a read's, so cannot grow
        reads = []
        for f in term.factors:
            if isinstance(f, Delta):
                for a in (f.a, f.b):
                    fixed.add(a)
                    self._agree(sizes, a, self.dim(f.dim), describe_factor(f))
            elif isinstance(f, Ref):
                reads.append(f)
        for f in reads:
            own: dict[str, int] = {}
            for a, n in zip(f.idx, self.shape_of[f.node]):
                if own.setdefault(a, n) != n:
                    raise ShapeError(f"index {a!r} has sizes {own[a]} and {n} in {describe_factor(f)}; "
                                     "a repeated index needs one size")
            for a, n in own.items():
                self._agree(sizes, a, n, describe_factor(f), read=True, fixed=a in fixed)
        return {a: n for a, (n, _) in sizes.items()}

    @staticmethod
    def _agree(sizes: dict, a: str, n: int, where: str, read: bool = False, fixed: bool = True) -> None:
        """Record that index ``a`` has length ``n`` in ``where``. A read of length 1 stretches to any
        length (NumPy broadcasting); an index not ``fixed`` by the result or a delta grows from 1."""
        seen = sizes.setdefault(a, (n, where))
        if seen[0] == n or (read and n == 1):
            return
        if read and seen[0] == 1 and not fixed:
            sizes[a] = (n, where)
            return
        hint = "; a size-1 axis stretches where it is read, never in a result" if seen[0] == 1 and read else ""
        raise ShapeError(f"index {a!r} has size {n} in {where} but size {seen[0]} in {seen[1]}{hint}")

    # steps --------------------------------------------------------------
    def _guard(self, shape: tuple[int, ...], terms: list[_TermPlan]) -> None:
        """Note the bytes of this result and of the largest intermediate of each term's contraction."""
        itemsize = self.dtype.itemsize
        self.needs.append((math.prod(shape) * itemsize, f"this result has shape {shape}",
                           "Use vjp/jvp/grad, which never build it, or smaller sizes"))
        for t in terms:
            if t.contraction is not None:
                eq, shapes = t.contraction
                self.needs.append((_planned(eq, shapes, self.optimize).largest * itemsize,
                                   f"contracting {eq} over shapes {', '.join(map(str, shapes))} pairwise makes "
                                   "an intermediate", "Use smaller sizes or another optimize="))

    def _call_step(self, node: Call) -> Callable:
        impl, arg, params = functions.get(node.fn).impl, self.slot[node.arg], node.params
        self.lines.append(f"  [{self.slot[node]}] = {node.fn}([{arg}]{''.join(f', {p}' for p in params)})")
        return lambda values: impl(values[arg], *params)

    def _expr_step(self, expr: Expr, owned_result: bool) -> Callable:
        shape = self.shape_of[expr]
        if len(shape) > MAX_RANK:
            raise ShapeError(f"this result would have {len(shape)} axes, but NumPy arrays have at most {MAX_RANK}. "
                             "Use vjp/jvp/grad, which never build it")
        terms = [self._term(expr, t) for t in expr.terms]
        if not self.lazy:
            self._guard(shape, terms)
        self.lines.append(f"  [{self.slot[expr]}] shape {shape} = " + (" + ".join(t.einsum for t in terms) or "0"))
        self.term_plans.append(terms)
        if self.lazy:
            return self._functional(terms, shape)
        dtype = self.dtype
        if len(terms) == 1 and terms[0].diagonal is None and terms[0].shape == shape:
            if terms[0].owned or not owned_result:
                return terms[0].compute

        def run(values):
            acc, owned = None, False  # owned: acc is fresh memory of the full shape and dtype
            for t in terms:
                r = t.compute(values)
                if t.diagonal is not None:
                    if not owned:
                        acc, owned = _filled(acc, shape, dtype), True
                    strides = tuple(sum(acc.strides[a] for a in axes) for axes in t.diagonal)
                    view = np.lib.stride_tricks.as_strided(acc, t.view_shape, strides)
                    view += r
                elif acc is None:
                    acc, owned = r, t.owned and r.shape == shape and r.dtype == dtype
                elif owned and r.dtype == dtype:
                    acc += r
                else:  # one pass that also allocates: A + A.T, not a copy of A and then += A.T
                    acc = acc + r
                    owned = acc.shape == shape and acc.dtype == dtype
            if not owned and (acc is None or owned_result or acc.shape != shape):
                acc = _filled(acc, shape, dtype)
            return acc

        return run

    def _functional(self, terms: list[_TermPlan], shape) -> Callable:
        """A sum of terms without writing into arrays: for lazy and immutable array types."""
        expanders = [self._expander(t, shape) for t in terms]

        def run(values):
            parts = [expand(t.compute(values)) for t, expand in zip(terms, expanders)]
            if not parts:
                return np.zeros(shape, self.dtype)
            total = parts[0]
            for p in parts[1:]:
                total = total + p
            return np.broadcast_to(total, shape) if total.shape != shape else total

        return run

    def _expander(self, t: _TermPlan, shape) -> Callable:
        """Reduced term -> full shape: an einsum with one identity matrix per tied axis."""
        if t.diagonal is None:
            return lambda r: r
        letters = [opt_einsum.get_symbol(k) for k in range(len(shape))]
        reduced = "".join(letters[axes[0]] for axes in t.diagonal)
        eyes = [(axes[0], a) for axes in t.diagonal for a in axes[1:]]
        eq = reduced + "".join("," + letters[a] + letters[b] for a, b in eyes) + "->" + "".join(letters)
        identities = [np.eye(shape[a], dtype=self.dtype) for a, _ in eyes]
        return lambda r: np.einsum(eq, np.broadcast_to(r, t.view_shape), *identities)

    def _term(self, expr: Expr, term) -> _TermPlan:
        term = eliminate_deltas(term, expr.out)  # a no-op on simplified terms; the rest need it
        sizes = self._sizes(expr, term)
        rep = {a: a for a in expr.out}
        for f in term.factors:
            if isinstance(f, Delta):
                rep[f.b] = rep[f.a]
        reduced = list(dict.fromkeys(rep[a] for a in expr.out))
        coef = term.coef
        refs = []
        for f in term.factors:
            if isinstance(f, Size):
                coef *= self.dim(f.dim)
            elif isinstance(f, Ref):  # a size-1 axis at a longer index is read at a summed index of size 1
                shape = self.shape_of[f.node]
                refs.append((self.slot[f.node], tuple(
                    rep.get(a, a) if n == sizes[a] else ("stretched", a) for a, n in zip(f.idx, shape))))
        sizes.update({a: 1 for _, idx in refs for a in idx if isinstance(a, tuple)})
        carried = {a for _, idx in refs for a in idx}
        result = [a for a in reduced if a in carried]
        r_shape = tuple(sizes[a] if a in carried else 1 for a in reduced)
        view_shape = tuple(sizes[a] for a in reduced)
        has_delta = any(isinstance(f, Delta) for f in term.factors)
        diagonal = tuple(tuple(k for k, b in enumerate(expr.out) if rep[b] == a) for a in reduced) if has_delta else None
        symbol = {a: opt_einsum.get_symbol(k) for k, a in enumerate(dict.fromkeys(
            [a for _, idx in refs for a in idx] + reduced))}
        eq = ",".join("".join(symbol[a] for a in idx) for _, idx in refs) + "->" + "".join(symbol[a] for a in result)
        shown = eq if refs else "const"
        if has_delta:
            shown += " onto diagonal " + "".join(symbol[rep[a]] for a in expr.out)
        dtype = self.dtype
        if not refs:
            const = np.full(r_shape, coef, dtype)
            return _TermPlan(lambda values: const, r_shape, False, diagonal, view_shape, f"{coef}·{shown}", None)
        slots = [s for s, _ in refs]
        info = None
        if len(refs) == 1 and refs[0][1] == tuple(result):
            (s,) = slots
            compute, owned = (lambda values: values[s]), False
        elif len(refs) == 1:
            (s,) = slots
            compute, owned = (lambda values: np.einsum(eq, values[s])), False
        elif all(idx == tuple(result) for _, idx in refs) and self.optimize is not False:
            first, rest = slots[0], slots[1:]  # a Hadamard product: multiply, no einsum needed

            def compute(values):
                r = values[first]
                for k in rest:
                    r = r * values[k]
                return r

            owned = True
        else:
            shapes = [tuple(sizes[a] for a in idx) for _, idx in refs]
            info = (eq, tuple(shapes))
            get = itemgetter(*slots)
            if self.backend == "numpy":
                contract = _contraction(eq, tuple(shapes), self.optimize)
            else:
                contract = partial(opt_einsum.contract_expression(eq, *shapes, optimize=self.optimize),
                                   backend=self.einsum_backend)
            compute, owned = (lambda values: contract(*get(values))), True
        if r_shape != tuple(sizes[a] for a in result):
            inner, compute = compute, (lambda values: inner(values).reshape(r_shape))
        if coef != 1:
            inner_c = compute
            if owned and not isinstance(coef, complex):
                def compute(values):
                    r = inner_c(values)
                    r *= coef
                    return r
            else:
                compute, owned = (lambda values: inner_c(values) * coef), True
        return _TermPlan(compute, r_shape, owned, diagonal, view_shape, (f"{coef}·" if coef != 1 else "") + shown, info)


_CONTRACTIONS: OrderedDict = OrderedDict()
_LOCK = threading.Lock()


def _filled(a, shape, dtype) -> np.ndarray:
    """A fresh array of ``shape`` holding ``a`` broadcast (zeros for None)."""
    if a is None:
        return np.zeros(shape, dtype)
    out = np.empty(shape, np.result_type(a.dtype, dtype))
    out[...] = a
    return out


def clear_contractions() -> None:
    with _LOCK:
        _CONTRACTIONS.clear()


SMALL = 1 << 15  # up to this many loop iterations one np.einsum call beats any planned path
MAX_OPERANDS = 32  # np.einsum takes at most 32 operands in NumPy 1 (64 in NumPy 2): more go pairwise


class _Contraction(NamedTuple):
    run: Callable  # operands -> result
    largest: int  # entries of the largest intermediate (0: one np.einsum call makes none)


def _contraction(eq: str, shapes: tuple, optimize) -> Callable:
    """A planned contraction, cached: see :func:`_planned`."""
    return _planned(eq, shapes, optimize).run


def _planned(eq: str, shapes: tuple, optimize) -> _Contraction:
    """``np.einsum`` as written for ``optimize=False`` and for small problems under ``"auto"``;
    else (and always from 32 operands on) opt_einsum's path, greedy for ``optimize=False``, with
    every pairwise step prepared once (:func:`_step`), so that a call runs only the array operations."""
    key = (eq, shapes, repr(optimize))
    hit = _CONTRACTIONS.get(key)
    if hit is None:
        size = {c: n for term, shape in zip(eq.split("->")[0].split(","), shapes) for c, n in zip(term, shape)}
        direct = optimize is False or (optimize == "auto" and math.prod(size.values()) <= SMALL)
        if direct and len(shapes) < MAX_OPERANDS and len(size) <= 52:  # np.einsum reads 52 letters
            hit = _Contraction(partial(np.einsum, convert_to_valid_einsum_chars(eq)), 0)
        else:
            path = "greedy" if optimize is False else optimize
            try:
                _, info = opt_einsum.contract_path(eq, *shapes, shapes=True, optimize=path)
            except (TypeError, ValueError, IndexError):
                if not isinstance(path, (list, tuple)):
                    raise
                raise EinsumgradError(f"optimize={path!r} is not a contraction path for {eq}: a path is a list of "
                                      f"tuples of operand positions that contracts all {len(shapes)} operands into "
                                      "one, such as [(0, 1)] * " + str(len(shapes) - 1)) from None
            steps = [_step(c[0], c[1], c[2], c[4], size) for c in info.contraction_list]
            hit = _Contraction(_pairwise(steps), int(info.largest_intermediate))
        with _LOCK:
            _CONTRACTIONS[key] = hit
            while len(_CONTRACTIONS) > 4096:
                _CONTRACTIONS.popitem(last=False)
    return hit


def _step(positions, removed, eq: str, blas, size: dict[str, int]) -> tuple:
    """One pairwise step of an opt_einsum path: the operands it takes and a function of them.
    A BLAS step becomes transpose, reshape to matrices, ``@``, reshape, transpose — each
    permutation and shape worked out here, once; any other step is ``np.einsum``."""
    inputs, result = eq.split("->")
    if not blas or "EINSUM" in blas:  # np.einsum takes ASCII letters only; opt_einsum numbers indices past 52
        return positions, partial(np.einsum, convert_to_valid_einsum_chars(eq))
    left, right = inputs.split(",")
    summed = [c for c in left if c in removed]
    keep_left = [c for c in left if c not in removed]
    keep_right = [c for c in right if c not in removed]
    to_left = tuple(left.index(c) for c in keep_left + summed)
    to_right = tuple(right.index(c) for c in summed + keep_right)
    m, k, n = (math.prod(size[c] for c in part) for part in (keep_left, summed, keep_right))
    natural = keep_left + keep_right
    shape = tuple(size[c] for c in natural)
    order = tuple(natural.index(c) for c in result)

    def blas_step(a, b):
        product = a.transpose(to_left).reshape(m, k) @ b.transpose(to_right).reshape(k, n)
        return product.reshape(shape).transpose(order)

    return positions, blas_step


def _pairwise(steps: list[tuple]) -> Callable:
    """Run the prepared steps, popping operands and appending results as opt_einsum does."""
    if len(steps) == 1:
        positions, only = steps[0]
        return lambda *operands: only(*[operands[k] for k in positions])

    def contract(*operands):
        pool = list(operands)
        for positions, fn in steps:
            pool.append(fn(*[pool.pop(k) for k in positions]))
        return pool[0]

    return contract
