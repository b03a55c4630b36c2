"""How much do contraction order and delta elimination matter for a chain rule?

    python benchmarks/paths.py           # small and large sizes
    python benchmarks/paths.py --quick   # small sizes only (CI)

For each derivative contraction, compares (a) materialising the dense Jacobian
and contracting it, (b) the simplified expression with np.einsum(optimize=False),
(c) the simplified expression with each opt_einsum optimizer, and (d) the cached
einsumgrad call a user makes (``J.vjp``). FLOPs and the largest intermediate come
from opt_einsum's path info; time is the median of interleaved runs; memory is the
peak traced while one call runs. "auto" is opt_einsum's auto path, except that a
contraction of at most 2^15 loop iterations runs as a single np.einsum call (which
is faster than any planned path at that size); (d) is the same plan plus the cost of
the user-facing call.
"""
from __future__ import annotations

import math

import numpy as np
import opt_einsum

import einsumgrad as eg
from harness import arguments, human_bytes, interleaved, peak_memory, pinned, plot, spread, stage, table, time_spread

OPTIMIZERS = ["greedy", "optimal", "dp", "branch-2", "auto"]
DENSE_LIMIT = 1 << 30  # build dense Jacobians up to 1 GiB
NAIVE_LIMIT = 1e8  # np.einsum(optimize=False) loops over every index at once: skip beyond this


class Problem:
    """A vjp of one einsum spec with respect to one operand, at given sizes."""

    def __init__(self, label: str, spec: str, wrt: int, sizes: dict[str, int]):
        self.label, self.spec, self.wrt = label, spec, wrt
        terms = spec.split("->")[0].split(",")
        rng = np.random.default_rng(0)
        self.ops = [rng.standard_normal(tuple(sizes[c] for c in t)) for t in terms]
        self.J = eg.jacobian(spec, wrt=wrt)
        self.expr = self.J.vjp_expression(*self.ops)
        out_shape = np.einsum(spec, *self.ops, optimize="greedy").shape
        self.g = rng.standard_normal(out_shape)
        self.arrays = dict(zip(self.J.names, self.ops)) | {self.J.cotangent_name: self.g}
        self.naive_loop = math.prod(sizes.values())
        self.n = max(sizes.values())
        self.size = "×".join(str(sizes[c]) for c in sorted(sizes))

    def methods(self) -> dict:
        m = {}
        nbytes = self.J.nbytes(*[o.shape for o in self.ops])
        if nbytes <= DENSE_LIMIT:
            m["(a) dense J, then contract"] = lambda: np.tensordot(self.g, self.J(*self.ops), axes=self.g.ndim)
        if self.naive_loop <= NAIVE_LIMIT:
            naive = eg.compile(self.expr, optimize=False)
            m["(b) np.einsum, optimize=False"] = lambda: naive(**self.arrays)
        for name in OPTIMIZERS:
            f = eg.compile(self.expr, optimize=name)
            m[f"(c) opt_einsum {name}"] = (lambda f=f: f(**self.arrays))
        m["(d) einsumgrad J.vjp (cached)"] = lambda: self.J.vjp(self.g, *self.ops)
        return m

    def path_info(self, method: str) -> tuple[str, str]:
        if method.startswith("(a)"):
            return f"{self.J.nbytes(*[o.shape for o in self.ops]) // 8:,} (J)", "J itself"
        optimize = False if method.startswith("(b)") else method.split()[-1] if method.startswith("(c)") else "auto"
        flops, largest = 0, 0
        for eq, shapes in eg.compile(self.expr, optimize=optimize).contractions(**self.arrays):
            _, info = opt_einsum.contract_path(eq, *shapes, shapes=True, optimize=optimize if optimize else False)
            flops += int(info.opt_cost)
            largest = max(largest, int(info.largest_intermediate))
        return f"{flops:,}", f"{largest:,}"


class HessianVector(Problem):
    """H v for the Hessian of xᵀAx, never building H — against building it."""

    def __init__(self, n: int):
        x, A, v = eg.tensor("x", 1), eg.tensor("A", 2), eg.tensor("v", 1)
        f = eg.einsum("i,ij,j->", x, A, x)
        H = eg.hessian(f, x)
        self.label, self.size = "Hessian-vector product of xᵀAx", f"n={n}"
        self.expr = eg.grad(eg.sum(eg.grad(f, x) * v), x)  # forward over reverse: H v without H
        rng = np.random.default_rng(0)
        self.arrays = dict(x=rng.standard_normal(n), A=rng.standard_normal((n, n)), v=rng.standard_normal(n))
        self.H = eg.compile(H)
        self.naive_loop = n * n
        self.n = n

    def methods(self) -> dict:
        a = self.arrays
        m = {"(a) dense H, then H v": lambda: self.H(x=a["x"], A=a["A"]) @ a["v"],
             "(b) np.einsum, optimize=False": (lambda f=eg.compile(self.expr, optimize=False): f(**a))}
        for name in OPTIMIZERS:
            m[f"(c) opt_einsum {name}"] = (lambda f=eg.compile(self.expr, optimize=name): f(**a))
        m["(d) einsumgrad compiled (cached)"] = (lambda f=eg.compile(self.expr): f(**a))
        return m

    def path_info(self, method: str) -> tuple[str, str]:
        if method.startswith("(a)"):
            return f"{self.arrays['A'].size:,} (H)", "H itself"
        return super().path_info(method)


def problems(quick: bool):
    for n in (8,) if quick else (8, 256, 2048):
        yield Problem("vjp of ij,j->i w.r.t. W", "ij,j->i", 0, {"i": n, "j": n})
    for n in (8,) if quick else (8, 512):
        for k in (1, 2, 3):
            yield Problem(f"i,ij,jk,kl,l-> w.r.t. operand {k}", "i,ij,jk,kl,l->", k, dict.fromkeys("ijkl", n))
    for n in (4,) if quick else (4, 128):
        yield Problem("ijk,i,k->j w.r.t. T (third order)", "ijk,i,k->j", 0, dict.fromkeys("ijk", n))
        yield Problem("ijk,i,k->j w.r.t. a", "ijk,i,k->j", 1, dict.fromkeys("ijk", n))
    small, big = (4, 32) if quick else (8, 256)
    yield Problem("5-matrix chain w.r.t. C (large a, f)", "ab,bc,cd,de,ef->af", 2,
                  dict(a=big, b=small, c=small, d=small, e=small, f=big))
    for n in (8,) if quick else (8, 2048):
        yield HessianVector(n)


def main():
    args = arguments(__doc__)
    rows = []
    series: dict = {}
    with pinned(args):
        for p in problems(args.quick):
            stage(f"{p.label}, n = {p.n}")
            methods = p.methods()
            t = interleaved(methods, repeats=args.repeats or (3 if args.quick else 9), budget=8 if args.quick else 30)
            ref = next(v for k, v in t.items() if k.startswith("(d)"))
            results = {k: f() for k, f in methods.items()}
            want = next(v for k, v in results.items() if k.startswith("(d)"))
            for name, timing in t.items():
                np.testing.assert_allclose(results[name], want, rtol=1e-8, atol=1e-8, err_msg=name)
                flops, largest = p.path_info(name)
                series.setdefault(p.label, {}).setdefault(name, []).append((p.n, timing.median))
                rows.append({"problem": p.label, "size": p.size, "method": name, "time": time_spread(timing),
                             "× (d)": spread(timing / ref), "FLOPs": flops, "largest intermediate": largest,
                             "peak memory": human_bytes(peak_memory(methods[name]))})
            for name in ("(a) dense J, then contract", "(b) np.einsum, optimize=False"):
                if not any(k.startswith(name[:3]) for k in methods):
                    reason = "dense J over 1 GiB" if name.startswith("(a)") else f"{p.naive_loop:.1e} loop iterations"
                    rows.append({"problem": p.label, "size": p.size, "method": name, "time": f"skipped ({reason})"})
    columns = ["problem", "size", "method", "time", "× (d)", "FLOPs", "largest intermediate", "peak memory"]
    print(table(rows, columns, args.csv))
    if args.plot:
        plot(series, args.plot, "size (largest dimension)")


if __name__ == "__main__":
    main()
