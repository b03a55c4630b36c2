"""The front door: ``Compiled``, a callable over named arrays with a plan per input shapes and
dtypes, and the program a plan is: every node one step (a tensor read, a function call, or a
sum of terms), in dependency order, so a node shared by several outputs or terms is computed
once per call.

>>> import numpy as np
>>> from ..core.algebra import einsum, tensor
>>> f = Compiled(einsum("ij,j->i", tensor("W", 2), tensor("x", 1)))
>>> f(W=np.eye(2), x=np.array([1.0, 2.0]))
array([1., 2.])
>>> f(np.eye(2), np.array([1.0, 2.0]))  # by position: in the order of args (here the names sorted)
array([1., 2.])
"""
from __future__ import annotations

import inspect
import math
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Generic

import numpy as np

from ..core import functions
from ..core.algebra import MAX_RANK, resolve_dim
from ..core.caches import LRU
from ..core.errors import EinsumgradError, MemoryLimitError, ShapeError, did_you_mean
from ..core.ir import Call, Dim, Expr, Ref, Var, postorder, variables
from ..core.ir import inputs as ir_inputs
from . import namespaces, settings
from .namespaces import FOREIGN
from .fusion import chain_step, chains, shown
from .kernels import Kernel, functional_sum, sum_kernel, term_kernel
from .plan import Layout, contraction, plan_term, reads, step_keys
from .settings import SETTINGS, check_backend, check_optimize, describe_bytes

if TYPE_CHECKING:  # what a call returns: np.ndarray (a tuple for several) on NumPy, as eg.compile declares
    from typing_extensions import TypeVar

    Result = TypeVar("Result", default=Any)
else:
    from typing import TypeVar

    Result = TypeVar("Result")


class Compiled(Generic[Result]):
    """A callable over named arrays evaluating one or more expressions.

    Arrays are given by name, or by position in the order ``args`` declares (a name for each
    tensor read, and any of the others the expressions came from), by default the names sorted.
    Plans are cached per input shapes and dtypes (LRU-bounded, thread-safe);
    ``repr`` shows the last plan.

    Results are fresh arrays that the function never writes into again, unless given back as
    ``out=``: an array for one result, a tuple for several (a previous result will do), each of
    the result's shape and dtype; the call then writes into those arrays and returns them, and
    they are overwritten at every call given them. ``out`` must not overlap an input. (A tensor
    named ``out`` takes ``out=`` for its array instead.) On NumPy, intermediates are written into
    a workspace kept between calls (one per concurrent call), never into anything returned.

    Given ``straight`` (``codegen.straight``, as ``eg.compile`` passes it), a small NumPy program
    (float64 throughout, no array over ``straight_limit`` entries, see ``eg.configure``) runs as
    the source ``eg.codegen`` writes for its plan: the same steps without an interpreter between
    them (``out=`` gets a copy of the results: at these sizes a copy costs less than a dispatch).

    >>> from ..core.algebra import einsum, tensor
    >>> f = Compiled(einsum("ij,j->i", tensor("W", 2), tensor("x", 1)))
    >>> r = f(W=np.eye(2), x=np.array([1.0, 2.0]))
    >>> f(W=2 * np.eye(2), x=np.array([1.0, 2.0]), out=r) is r, r
    (True, array([2., 4.]))
    """

    def __init__(self, *exprs: Expr, optimize="auto", backend: str = "numpy", memory_limit: float | None = None,
                 inputs: tuple[str, ...] = (), accepted: frozenset[str] = frozenset(),
                 args: tuple[str, ...] | None = None, straight: Callable | None = None):
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
        # tensors read, with their ranks, and tensors whose axes only give sizes, with the least rank
        self.sizes = ir_inputs(*exprs).sizes
        self.ranks = {v.name: len(v.shape) for v in found.values()} | {n: a[-1] + 1 for n, a in self.sizes.items()}
        self.names = tuple(sorted(set(self.ranks) | set(inputs)))
        self.accepted = frozenset(self.names) | accepted  # also tensors the expressions came from (not needed)
        self.vars = found
        self.args = self.names if args is None else self._declared(args)
        if all(n.isidentifier() for n in self.args):  # what inspect.signature (and help) show: f(W, x, **others)
            self.__signature__ = inspect.Signature(
                [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in self.args]
                + [inspect.Parameter("others", inspect.Parameter.VAR_KEYWORD)])
        self._plans = LRU(lambda: SETTINGS["plan_cache_size"])
        self._recent: tuple = (None, None)  # (key, plan) of the last call, one tuple: read whole by any thread
        self.write_straight = straight  # a small program as a function (codegen.straight), or None

    def _declared(self, args: tuple[str, ...]) -> tuple[str, ...]:
        """The argument order ``args`` declares (NFKC-normalised names), checked: each a tensor
        the expressions came from, once, and every tensor they read among them."""
        names = tuple(unicodedata.normalize("NFKC", n) for n in args)
        for k, n in enumerate(names):
            if n in names[:k]:
                raise EinsumgradError(f"args names tensor {n!r} twice")
            if n not in self.accepted:
                raise EinsumgradError(f"args names {n!r}, which is no tensor of these expressions"
                                      f"{did_you_mean(n, sorted(self.accepted))}; they take: {', '.join(self.names)}")
        missing = [n for n in self.names if n not in names]
        if missing:
            raise EinsumgradError(f"args leaves out {', '.join(map(repr, missing))}, which the expressions read: "
                                  f"declare every one of {', '.join(self.names)}")
        return names

    def __call__(self, /, *positional: Any, out: Any = None, **arrays: Any) -> Result:
        if out is not None and "out" in self.accepted:  # a tensor of that name
            arrays["out"], out = out, None
        if positional:
            arrays = self._bind(positional, arrays)
        try:  # the hot path: the same names, shapes and dtypes as a cached plan
            key: tuple | None = tuple([(type(a), a.shape, a.dtype) for a in map(arrays.__getitem__, self.names)])
            if len(arrays) != len(self.names):  # arrays not read (a Hessian's own variable) set the precision too
                key += (self._real(arrays),)  # type: ignore[operator]  # key is a tuple here
        except (KeyError, AttributeError):
            key = None
        if key is None:
            plan = None
        else:  # the plan of the call before, most often; else the cache's
            recent = self._recent
            plan = recent[1] if recent[0] == key else self._plans.get(key)
        if plan is None:
            given = len(arrays)
            arrays, real = self._arrays(arrays)
            key = tuple([(type(a), a.shape, a.dtype) for a in map(arrays.__getitem__, self.names)])
            key += (real,) if given > len(self.names) else ()  # arrays not read set the precision too
            plan = self._plans.get(key) or self._plans.insert(key, _Program(self, arrays, real))
        self._recent = (key, plan)
        if out is None:
            results = plan.run(arrays)
        else:
            checked = plan.checked(out, arrays)  # the usual case, checked in one pass; else with messages
            results = plan.run(arrays, *checked) if checked else plan.run(arrays, self._buffers(out, plan))
        return results[0] if len(results) == 1 else tuple(results)  # type: ignore[return-value]  # as compile declares

    @property
    def _last(self) -> _Program | None:
        """The plan of the last call."""
        return self._recent[1]

    def _real(self, arrays: dict) -> np.dtype:
        """The precision of a call given arrays besides those read, as :meth:`_arrays` finds it, for
        arrays of real or complex dtypes under the names the expressions know; a KeyError otherwise
        (the call then takes the checked path). Arrays of other tensors are left out, as there."""
        dtypes = []
        for n, a in arrays.items():
            if n in self.accepted:
                dtypes.append(a.dtype)
            elif not n.isascii():  # maybe another spelling of a name: the checked path normalises it
                raise KeyError(n)
        return _precision(tuple(dtypes))

    def _buffers(self, out, plan: _Program) -> list:
        """``out=`` as a list of arrays, one per result, checked: the structure, shapes and dtypes
        of the results, each writeable, none overlapping another."""
        n = len(plan.outputs)
        buffers = [out] if n == 1 and not isinstance(out, (tuple, list)) else out
        if not isinstance(buffers, (tuple, list)) or len(buffers) != n:
            raise EinsumgradError(f"out= takes {'an array' if n == 1 else f'a tuple of {n} arrays'}, one per result "
                                  "(a previous result will do)")
        if plan.backend == "jax" or (plan.lazy and plan.backend == "numpy"):
            raise EinsumgradError(f"out= writes into arrays, and {'jax' if plan.backend == 'jax' else 'lazy'} arrays "
                                  "cannot be written into; call without out=")
        for k, (b, slot) in enumerate(zip(buffers, plan.outputs)):
            node = plan.nodes[slot]
            shape, dtype = plan.layout.shape_of[node], plan.dtype_of[node]
            what = "out" if n == 1 else f"out[{k}]"
            if not hasattr(b, "shape") or tuple(b.shape) != shape or namespaces.numpy_dtype(b) != dtype:
                got = f"shape {tuple(b.shape)}, dtype {namespaces.numpy_dtype(b)}" if hasattr(b, "shape") else type(b).__name__
                raise EinsumgradError(f"{what} must be an array of shape {shape} and dtype {dtype}, like the result; "
                                      f"got {got}")
            if isinstance(b, np.ndarray) and not b.flags.writeable:
                raise EinsumgradError(f"{what} is read-only")
            if plan.backend == "torch" and not hasattr(b, "copy_") or plan.backend == "numpy" \
                    and not isinstance(b, np.ndarray):
                raise EinsumgradError(f"{what} must be a {'torch tensor' if plan.backend == 'torch' else 'NumPy array'} "
                                      f"with backend={plan.backend!r}")
        for k, b in enumerate(buffers):
            if isinstance(b, np.ndarray) and any(isinstance(c, np.ndarray) and np.may_share_memory(b, c)
                                                 for c in buffers[:k]):
                raise EinsumgradError(f"out[{k}] overlaps another array of out=: each result needs its own")
        return list(buffers)

    def _bind(self, positional: tuple, arrays: dict) -> dict:
        """The arrays by name, those given by position named in the order of :attr:`args`."""
        if len(positional) > len(self.args):
            raise EinsumgradError(f"this function takes {len(self.args)} array(s) by position ({', '.join(self.args)}), "
                                  f"got {len(positional)}")
        named = dict(zip(self.args, positional))
        twice = [n for n in arrays if unicodedata.normalize("NFKC", n) in named]
        if twice:
            raise EinsumgradError(f"array {twice[0]!r} is given both by position and by name")
        return named | arrays

    def needed(self, arrays: dict) -> dict:
        """The arrays of :attr:`names` among ``arrays``, as given (any others are not needed, and
        left out); a missing one is an error naming it, and a name given that is near it."""
        missing = [n for n in self.names if n not in arrays]
        if missing:
            extra = [n for n in arrays if n not in self.names]
            raise EinsumgradError("; ".join(self._missing(n, extra) for n in missing)
                                  + f"; this expression takes: {', '.join(self.names)}")
        return {n: arrays[n] for n in self.names}

    def _missing(self, name: str, extra: list[str]) -> str:
        text = f"missing array {name!r}{did_you_mean(name, extra)}"
        if name in self.sizes:
            axes = ", ".join(map(str, self.sizes[name]))
            text += f": only its shape is read (axis {axes} giving sizes), so any array of that shape will do"
        return text

    def _arrays(self, arrays: dict) -> tuple[dict, np.dtype]:
        """The arrays the plan reads, checked and as the backend's, and the real dtype of all of
        them, and of those of other tensors the expression came from (not read): NumPy's promotion.

        >>> from ..core.algebra import einsum, tensor
        >>> f = Compiled(einsum("i->", tensor("x", 1)), accepted=frozenset("xy"))
        >>> f._arrays({"x": np.ones(2, "f")})[1], f._arrays({"x": np.ones(2, "f"), "y": np.ones(3)})[1]
        (dtype('float32'), dtype('float64'))
        """
        named: dict = {}  # keys as Python reads identifiers (ϕ= arrives as φ; **{"ϕ": a} too)
        for n, a in arrays.items():
            key = unicodedata.normalize("NFKC", n)
            if key in named:
                raise EinsumgradError(f"array {key!r} is given twice: {n!r} is another spelling of {key!r}")
            named[key] = a
        out = {n: self._array(n, a) for n, a in self.needed(named).items()}
        dtypes = [namespaces.numpy_dtype(a) for a in out.values()]  # and of tensors it came from, not of others
        dtypes += [namespaces.numpy_dtype(self._array(n, a)) for n, a in named.items() if n in self.accepted - set(out)]
        return out, np.result_type(*[np.finfo(d).dtype for d in dtypes] or [float])

    def _array(self, name: str, value):
        a = to_array(name, value)
        library = namespaces.library(a)
        if library in FOREIGN and self.backend == "numpy":
            raise EinsumgradError(f"array {name!r} is a {FOREIGN[library]} array; pass backend={FOREIGN[library]!r} to "
                                  "eg.compile to keep it one, or convert it to NumPy yourself")
        kind: str
        try:
            kind = namespaces.numpy_dtype(a).kind
        except TypeError:  # a dtype NumPy has no name for
            kind = "?"
        if kind in "biu":
            a = a.to(float) if library == "torch" else a.astype(np.float64)
        elif kind not in "fc":
            raise EinsumgradError(f"array {name!r} has dtype {a.dtype}; einsumgrad works on NumPy's numbers (bool, "
                                  "int, float, complex)")
        return namespaces.as_backend(self.backend, a) if self.backend in namespaces.MODULES else a

    def contractions(self, **arrays) -> list[tuple[str, tuple]]:
        """The multi-operand contractions of the plan for these arrays: ``(equation, shapes)``
        pairs, for ``opt_einsum.contract_path`` to report FLOPs and intermediates."""
        self(**arrays)
        assert self._last is not None  # the call made it
        return [k.plan.contraction for step in self._last.kernels for k in step if k.plan.contraction]

    def program(self, arrays: dict) -> _Program:
        """The plan for arrays like these (only their ``shape`` and ``dtype`` are read), uncached:
        for code generation, which writes the same steps as source."""
        return _Program(self, *self._arrays(arrays))

    @property
    def plan_cache_size(self) -> int:
        return len(self._plans)

    def _repr_html_(self):
        from ..notation import fragments

        return fragments.notebook(fragments.compiled_html(repr(self)))

    def __repr__(self):
        head = f"Compiled({len(self.exprs)} expression{'s' * (len(self.exprs) > 1)} of {', '.join(self.args)}"
        head += f"; optimize={self.optimize!r}, backend={self.backend!r}; {len(self._plans)} cached plan(s))"
        return head if self._last is None else head + "\n" + self._last.describe()


@lru_cache(maxsize=256)
def _precision(dtypes: tuple) -> np.dtype:
    """The real dtype of arrays of ``dtypes``, all real or complex (NumPy's promotion); a KeyError for any other.

    >>> _precision((np.dtype("f"), np.dtype("D"))), _precision((np.dtype("f"),))
    (dtype('float64'), dtype('float32'))
    """
    if any(d.kind not in "fc" for d in dtypes):
        raise KeyError(dtypes)
    return np.result_type(*[np.finfo(d).dtype for d in dtypes])


def to_array(name: str, value):
    """A plain ``np.ndarray`` for NumPy input (subclasses such as ``np.matrix``, whose ``*`` is a
    matrix product, are converted; masked arrays with masked entries are refused), an Array API
    array of a library with no backend here (``array_api_strict``) through DLPack, as NumPy's, another
    library's array as it is, anything else through ``np.asarray`` (an object that is no array of
    numbers is refused, naming its type)."""
    if isinstance(value, np.ma.MaskedArray):
        if np.ma.getmaskarray(value).any():
            raise EinsumgradError(f"array {name!r} is a masked array with masked entries; einsumgrad would count "
                                  "them: fill them (a.filled(...)) or select the unmasked part first")
        return np.ma.getdata(value)
    if isinstance(value, np.ndarray):
        return value if type(value) is np.ndarray else np.asarray(value)
    converted = namespaces.from_array_api(name, value)
    if converted is not None:
        return converted
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return value
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise EinsumgradError(f"array {name!r} is not a rectangular array of numbers: {err}") from None
    if array.dtype == object and array.ndim == 0:  # no number, no sequence: object(), a dict, None
        raise EinsumgradError(f"array {name!r} has type {type(value).__name__}: it is no array of numbers")
    return array


def check_symmetric(name: str, a) -> None:
    """Refuse an array for a symmetric tensor that is not symmetric, to within rounding: the largest
    ``|a - aᵀ|`` over ``sqrt(eps)`` of the dtype times the largest ``|a|``. A lazy array (dask) is trusted."""
    if hasattr(a, "dask"):
        return
    a = namespaces.to_numpy(a)
    gap = float(np.abs(a - a.T).max(initial=0))
    tol = math.sqrt(np.finfo(a.dtype).eps) * float(np.abs(a).max(initial=0))
    if not gap <= tol:
        raise EinsumgradError(f"tensor {name!r} is declared symmetric, but its array is not: the largest |{name} - "
                              f"{name}ᵀ| is {gap:.3g}, over the tolerance {tol:.3g}; pass (a + a.T) / 2")


def _live(nodes: list, outputs, plans: dict, slot) -> set:
    """The nodes a program computes: the outputs and, from the last node back, what the plans of
    those computed read (a selection that every term reads by indexing, ``x[1:3]``, is never built).

    >>> from ..core.algebra import tensor
    >>> from ..library.selection import index
    >>> f = Compiled(index(tensor("x", 1), slice(1, 3)))
    >>> f(x=np.arange(5.0)), len(f._last.nodes), len(f._last.steps)  # x, zeros, the selection, y: y computed
    (array([1., 2.]), 4, 1)
    """
    live = set(outputs)
    for node in reversed(nodes):
        if node in live:
            live.update(nodes[s] for s in reads(node, plans, slot))
    return live


def _shared(nodes: list, live: set, plans: dict, optimize, first: int) -> dict:
    """A slot (from ``first`` on) for each intermediate of a contraction that several steps of the
    program's contractions compute (the same values, indices and result: :func:`~.plan.step_keys`):
    the first to compute it in a call leaves it there for the others. Ones computed once are not
    kept, so that memory is freed as it is with none shared."""
    count: dict = {}
    for node in nodes:
        if isinstance(node, Expr) and node in live:
            for p in plans[node]:
                for key in step_keys(p, optimize):
                    if key is not None:
                        count[key] = count.get(key, 0) + 1
    return {key: first + k for k, key in enumerate(key for key, n in count.items() if n > 1)}


PLAN_GUARD = 1024  # an intermediate this much larger than every operand and the result is a planning bug


class _Program:
    """The plan of one call signature: the steps over a list of values, one slot per node."""

    def __init__(self, compiled: Compiled, arrays: dict, real: np.dtype):
        self.real = real  # the program's precision; complex where a node needs it
        self.dtype_of: dict = {}
        self.optimize, self.backend = compiled.optimize, compiled.backend
        # NumPy arrays are written in place (deltas onto diagonal views); other array types
        # (dask, ...) are combined functionally and stay lazy
        self.lazy = compiled.backend in namespaces.MODULES or any(type(a) is not np.ndarray for a in arrays.values())
        self.chunked = any(hasattr(a, "dask") for a in arrays.values())  # never whole in memory: not guarded
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
        self.buffered: dict[int, tuple] = {}  # slot -> (shape, dtype) of an intermediate kept in the workspace
        self._workspaces: list[list] = []  # free workspaces (see _workspace): a call takes one, or makes one
        self.layout = Layout({node: k for k, node in enumerate(nodes)}, {}, self.dim)
        self.steps: list[tuple[int, Callable]] = []
        self.lines: list[str] = []
        self.kernels: list[list[Kernel]] = []
        slot = self.layout.slot
        plans = {}
        for node in nodes:
            self.dtype_of[node] = self._dtype(node, arrays)
            self.layout.shape_of[node] = self._shape(node)
            if isinstance(node, Expr):
                plans[node] = [plan_term(node, t, self.layout, self.optimize) for t in node.terms]
        self.live = _live(nodes, compiled.exprs, plans, slot)
        self.shared = _shared(nodes, self.live, plans, self.optimize, len(nodes)) if not self.lazy else {}
        self.outputs = [slot[e] for e in compiled.exprs]
        straight = compiled.write_straight is not None and not self.lazy \
            and all(d == np.float64 for d in self.dtype_of.values()) \
            and all(a.dtype == np.float64 for a in arrays.values()) \
            and max(map(math.prod, self.layout.shape_of.values())) <= SETTINGS["straight_limit"]
        fused = not self.lazy and not straight and SETTINGS["fuse"]  # elementwise chains as single steps (fusion.py)
        ends, into = ({}, {}) if not fused else chains(nodes, self.live, plans, self.layout, self.dtype_of,
                                                       set(self.outputs))
        for node in nodes:  # every live node planned (its line, its kernels: codegen's); a merged one is not run
            if node not in self.live:
                continue
            if isinstance(node, Call):
                step = self._call_step(node)
            elif isinstance(node, Expr):
                step = self._expr_step(node, plans[node], node in compiled.exprs)
            else:
                continue
            if slot[node] in into:
                self.lines[-1] += f"  (in the chain of [{into[slot[node]]}])"
                continue
            if node in ends:
                shape, dtype = self.layout.shape_of[node], self.dtype_of[node]
                step = chain_step(ends[node], lambda k: self.layout.shape_of[nodes[k]], shape, dtype)
                self.lines.append(f"  [{slot[node]}] as one chain: {shown(ends[node], '[{}]'.format)}")
            self.steps.append((slot[node], step))
        if not self.lazy:
            self.buffered = {k: (self.layout.shape_of[nodes[k]], self.dtype_of[nodes[k]]) for k, _ in self.steps
                             if (isinstance(nodes[k], Expr) or nodes[k] in ends) and k not in self.outputs}
        self.viewing = [k for k in dict.fromkeys(self.outputs) if isinstance(nodes[k], Call)]  # may view their arg
        self.var_slots = [(slot[v], n) for n, v in compiled.vars.items() if v in slot]
        self.symmetric = [n for n, v in compiled.vars.items() if v.symmetric]
        self._check_memory()
        self.straight = compiled.write_straight(compiled, self) if straight and compiled.write_straight else None
        self.read = tuple(self.sizes)  # the straight-line code's parameters
        self.scalars = [k for k, slot in enumerate(self.outputs) if not self.layout.shape_of[nodes[slot]]]

    def _check_memory(self) -> None:
        """Refuse the plan if a result or intermediate it makes is over the memory limit."""
        limit = settings.memory_limit() if self.memory_limit is None else self.memory_limit
        for nbytes, what, advice in self.needs:
            if nbytes > limit:
                raise MemoryLimitError(f"{what}: {describe_bytes(nbytes)}, over the limit of {describe_bytes(limit)}. "
                                       f"{advice}; or raise the limit with eg.configure(memory_limit=...)")
        self.epoch = settings.epoch()

    def checked(self, out, arrays: dict) -> tuple | None:
        """``(buffers, targets)`` for ``out=`` when it is what it should be on NumPy — C-contiguous,
        writeable arrays like the results, overlapping no input and no other — else None (the
        caller checks it again, to say what is wrong, or to copy into it)."""
        if self.lazy:
            return None
        buffers = out if type(out) in (tuple, list) else (out,)
        if len(buffers) != len(self.outputs):
            return None
        targets: dict = {}
        inputs = [a for a in arrays.values() if type(a) is np.ndarray]
        for q, (b, k) in enumerate(zip(buffers, self.outputs)):
            node = self.nodes[k]
            if type(b) is not np.ndarray or b.shape != self.layout.shape_of[node] or b.dtype != self.dtype_of[node] \
                    or not b.flags.writeable or not b.flags.c_contiguous or not isinstance(node, Expr):
                return None
            for a in inputs + list(buffers[:q]):
                if np.may_share_memory(a, b):
                    return None
            targets.setdefault(k, b)
        return list(buffers), targets

    def run(self, arrays: dict, out: list | None = None, targets: dict | None = None) -> list:
        """The results for these arrays, written into ``out`` (one array per result) where given
        (into the arrays of ``targets``, by slot, by the steps, where :meth:`checked` found them)."""
        if self.epoch != settings.epoch():  # the limit changed since the last check
            self._check_memory()
        for n in self.symmetric:
            check_symmetric(n, arrays[n])
        if targets is None:
            targets = {} if out is None else self._targets(arrays, out)
        if self.straight is not None:
            try:
                results = self.straight(*map(arrays.__getitem__, self.read))
            except Exception:  # noqa: BLE001 - where the code meets NumPy's own error, the steps run again
                pass  # and raise theirs, which says what went wrong
            else:
                results = [results] if len(self.outputs) == 1 else list(results)
                for k in self.scalars:  # a sum comes back a NumPy scalar: a fresh array, as the steps give it
                    results[k] = np.array(results[k])
                if out is None:
                    return results
                for b, r in zip(out, results):
                    np.copyto(b, r)
                return out
        values: list = [None] * (len(self.layout.slot) + len(self.shared))  # then intermediates computed once
        for k, n in self.var_slots:
            values[k] = arrays[n]
        free = self._workspaces
        workspace = free.pop() if free else self._workspace()  # list.pop and append are atomic: one per call
        try:
            if targets:
                for (k, step), buffer in zip(self.steps, workspace):
                    values[k] = step(values, targets.get(k, buffer))
            else:
                for (k, step), buffer in zip(self.steps, workspace):
                    values[k] = step(values, buffer)
            for k in self.viewing:  # a function's result that views an intermediate (a reshape) is copied
                if any(b is not None and np.may_share_memory(values[k], b) for b in workspace):
                    values[k] = values[k].copy()
        finally:
            free.append(workspace)
        if out is None:
            return [values[k] for k in self.outputs]
        for b, k in zip(out, self.outputs):
            if values[k] is not b:
                b.copy_(values[k]) if hasattr(b, "copy_") else np.copyto(b, values[k])
        return out

    def _workspace(self) -> list:
        """Per step, the array its intermediate is written into (None: a function's value, a
        result, or an array type not written into)."""
        return [np.empty(*self.buffered[k]) if k in self.buffered else None for k, _ in self.steps]

    def _targets(self, arrays: dict, out: list) -> dict:
        """The arrays of ``out`` that steps write into, by slot (C-contiguous NumPy arrays on the
        NumPy backend; any other is copied into after the call); an overlap with an input is refused."""
        targets: dict = {}
        for q, (b, k) in enumerate(zip(out, self.outputs)):
            if isinstance(b, np.ndarray):
                for n, a in arrays.items():
                    if isinstance(a, np.ndarray) and np.may_share_memory(a, b):
                        raise EinsumgradError(f"{'out' if len(out) == 1 else f'out[{q}]'} overlaps the input {n!r}; "
                                              "a result written into it would overwrite what is still to be read")
                if not self.lazy and b.flags.c_contiguous and isinstance(self.nodes[k], Expr):
                    targets.setdefault(k, b)
        return targets

    def describe(self) -> str:
        return "\n".join(self.lines)

    def dim(self, d: Dim) -> int:
        return resolve_dim(d, self.sizes)

    def _dtype(self, node, arrays: dict) -> np.dtype:
        """The program's precision, complex for a complex input and where a node reads a complex
        value or has a complex coefficient (``2j x`` of a real x), as NumPy's promotion makes it."""
        if isinstance(node, Var):
            complex_ = namespaces.numpy_dtype(arrays[node.name]).kind == "c"
        elif isinstance(node, Call):
            complex_ = self.dtype_of[node.arg].kind == "c"
        else:
            complex_ = any(complex(t.coef).imag or any(isinstance(f, Ref) and self.dtype_of[f.node].kind == "c"
                                                       for f in t.factors) for t in node.terms)
        return np.result_type(self.real, 1j) if complex_ else self.real

    def _shape(self, node) -> tuple[int, ...]:
        if isinstance(node, Var):
            return tuple(self.sizes[node.name])
        if isinstance(node, Call):
            arg = self.layout.shape_of[node.arg]
            fn = functions.get(node.fn)
            fn.check(arg, *fn.bind(self.dim, *node.params))
            if self.dtype_of[node.arg].kind == "c" and not fn.holomorphic:
                raise EinsumgradError(f"{node.fn} is not holomorphic: its derivative is undefined for complex input")
            reshaped = len(node.shape) != len(arg) or not fn.elementwise
            return tuple(self.dim(d) for d in node.shape) if reshaped else arg
        return tuple(self.dim(d) for d in node.dims)

    def _call_step(self, node: Call) -> Callable:
        fn, arg = functions.get(node.fn), self.layout.slot[node.arg]
        impl, params = fn.impl, fn.bind(self.dim, *node.params)
        if self.backend in namespaces.MODULES:  # the same formula on that library's arrays (jax traces it)
            impl = namespaces.function(self.backend, node.fn)
        assert impl is not None  # a function a node calls has an implementation
        self.lines.append(f"  [{self.layout.slot[node]}] = {node.fn}([{arg}]{''.join(f', {p}' for p in params)})")
        if not params:
            return lambda values, out=None: impl(values[arg])
        return lambda values, out=None: impl(values[arg], *params)

    def _expr_step(self, expr: Expr, plans: list, owned_result: bool) -> Callable:
        shape = self.layout.shape_of[expr]
        if len(shape) > MAX_RANK:
            raise ShapeError(f"this result would have {len(shape)} axes, but NumPy arrays have at most {MAX_RANK}. "
                             "Use vjp/jvp/grad, which never build it")
        dtype = self.dtype_of[expr]
        kernels = [term_kernel(p, dtype, self.optimize, self.backend, self.shared, not self.lazy) for p in plans]
        terms = " + ".join(p.shown for p in plans) or "0"
        self.lines.append(f"  [{self.layout.slot[expr]}] shape {shape} = {terms}")
        self.kernels.append(kernels)
        if not self.chunked:
            self._guard(shape, plans, dtype.itemsize)
        if self.lazy:
            run = functional_sum(kernels, shape, dtype, self.backend)
            return lambda values, out=None: run(values)
        return sum_kernel(kernels, shape, dtype, owned_result)

    def _guard(self, shape: tuple[int, ...], plans, itemsize: int) -> None:
        """Note the bytes of this result and of the largest intermediate of each term's contraction."""
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
