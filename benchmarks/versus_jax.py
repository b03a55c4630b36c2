"""einsumgrad against jax.jit (and torch.func) on the rows an ML engineer meets first, and on
Laue et al.'s Hessians (NeurIPS 2018, AAAI 2020), with and without result buffers (``out=``).

    python benchmarks/versus_jax.py                  # every row (a few minutes)
    python benchmarks/versus_jax.py --quick          # few repeats (same sizes)
    python benchmarks/versus_jax.py --only attention # rows whose name contains the text
    python benchmarks/versus_jax.py --profile layer  # the top functions of one case's einsumgrad call
    python benchmarks/versus_jax.py --no-fuse        # elementwise chains run step by step (design.md §4.5)

One thread for every library (BLAS and OpenMP through threadpoolctl, torch.set_num_threads, and
XLA_FLAGS set before jax is imported; see harness.py); every function of a row runs once per
round in a rotating order (one faster than 2 ms as many times as fill 2 ms, their mean the
sample); times are medians (interquartile range), ratios the medians of the per-round ratios.
Values are checked against jax first. "einsumgrad out=" passes the previous result back as
``out=``, so the call writes into it instead of allocating.

Where a row has a reference besides jax, it is the least work NumPy can do for it, timed in the
same rounds: hand-written backpropagation (writing into buffers for the MLP gradients), the
straight-line code ``eg.codegen`` writes (MLP Hessians, which eg.compile runs as such code),
``A + A.T``, the Gram matrix ``XᵀX`` alone (a bound: the Hessian's one BLAS call, without its weights), the closed form
``2 δ VᵀV``; "reference ÷ jax.jit" is then the best ratio a NumPy program of that form reaches.

Targets (einsumgrad ÷ jax.jit):
- every gradient row ≤ 1.0 with out=, ≤ 1.2 without;
- MLP Hessians (depth 2–6, width 8–64) ≤ 1.0;
- Laue et al.'s Hessians: quadratic form ≤ 0.02, matrix factorization ≤ 0.05, logistic ≤ 0.3;
- the tiny-input call ≤ 1.0 × jax.jit and ≤ 2 × one np.einsum.
"""
from __future__ import annotations

import cProfile
import pstats

import numpy as np

import einsumgrad as eg
from harness import interleaved, parser, pin_jax_threads, pinned, spread, table, time_spread


class Row:
    """One problem: the compiled function and its arrays, the same problem for jax and torch
    (functions of the arrays in ``order``), the targets, and a reference besides jax (name, callable)."""

    def __init__(self, name: str, kind: str, ours, arrays: dict, jax_fn, torch_fn, order: tuple,
                 target: float, target_out: float | None = None, reference=None, reference_target=None,
                 bound: bool = False):
        self.name, self.kind, self.ours, self.arrays, self.order = name, kind, ours, arrays, order
        self.jax_fn, self.torch_fn, self.target, self.target_out = jax_fn, torch_fn, target, target_out
        self.reference, self.reference_target = reference, reference_target
        self.bound = bound  # the reference does part of the work only: its value is not the row's


def mlp_rows(jnp, torch):
    from codegen import generated
    from deep import backprop, by_one, mlp, mlp_loss

    for depth, width in ((2, 1024), (8, 256), (16, 1024)):
        L, params, arrays = mlp(depth, width, np.random.default_rng(depth * width))
        ours = eg.compile(*(eg.grad(L, params[f"W{k}"]) for k in range(depth)))

        def jax_loss(*a, depth=depth):
            return mlp_loss(jnp, depth)(list(a[:depth]), list(a[depth:2 * depth]), 1.0, a[-2], a[-1])

        def torch_loss(*a, depth=depth):
            return mlp_loss(torch, depth)(list(a[:depth]), list(a[depth:2 * depth]), 1.0, a[-2], a[-1])

        order = tuple(f"W{k}" for k in range(depth)) + tuple(f"b{k}" for k in range(depth)) + ("x", "y")
        buffers = [np.empty((width, width)) for _ in range(depth)]
        yield Row(f"MLP ∇ every W, depth {depth} width {width}", "grad", ours, arrays, (jax_loss, tuple(range(depth))),
                  (torch_loss, tuple(range(depth))), order, 1.2, 1.0,
                  ("NumPy backprop, out=", lambda arrays=arrays, depth=depth, buffers=buffers:
                   backprop(arrays, depth, buffers)[:depth]))
    for depth, width in ((4, 16), (6, 8)):
        L, params, arrays = mlp(depth, width, np.random.default_rng(7 * depth + width))
        ours = eg.compile(eg.hessian(L, params["b0"]))
        order = ("b0",) + tuple(f"W{k}" for k in range(depth)) + tuple(f"b{k}" for k in range(depth)) + ("x", "y")

        def unpack(loss, depth=depth):
            return lambda v, *a: by_one(loss, False)(v, list(a[:depth]), list(a[depth:2 * depth]), 1.0, a[-2], a[-1])

        straight = generated((eg.hessian(L, params["b0"]),), {n: a.shape for n, a in arrays.items()})
        yield Row(f"MLP Hessian w.r.t. b0, depth {depth} width {width}", "hessian", ours, arrays,
                  (unpack(mlp_loss(jnp, depth)), None), (unpack(mlp_loss(torch, depth)) if torch else None, None),
                  order, 1.0, None, ("eg.codegen's NumPy code", lambda g=straight, arrays=arrays: g(**arrays)))


def layer_norm_row(jnp, torch):
    n, m, eps = 512, 256, 1e-5
    rng = np.random.default_rng(1)
    X, W, C = eg.tensor("X", (n, m)), eg.tensor("W", (m, m)), eg.tensor("C", (n, m))
    Z = X @ W
    D = Z - eg.sum(Z, axis=1, keepdims=True) / m
    L = eg.sum(C * eg.tanh(D / eg.sqrt(eg.sum(D ** 2, axis=1, keepdims=True) / m + eps)))
    arrays = {"X": rng.standard_normal((n, m)), "W": rng.standard_normal((m, m)) / np.sqrt(m),
              "C": rng.standard_normal((n, m))}

    def loss(xp):
        def f(W, X, C):
            Z = X @ W
            D = Z - Z.sum(1, keepdims=True) / m
            return (C * xp.tanh(D / xp.sqrt((D ** 2).sum(1, keepdims=True) / m + eps))).sum()
        return f

    def by_hand():
        """The gradient as backpropagation in NumPy, one pass per operation."""
        X, C = arrays["X"], arrays["C"]
        D = X @ arrays["W"]
        D -= D.mean(1, keepdims=True)
        r = 1 / np.sqrt((D * D).mean(1, keepdims=True) + eps)
        t = np.tanh(D * r)
        G = C * (1 - t * t)
        dD = G * r - D * ((G * D).sum(1, keepdims=True) * r ** 3 / m)
        dD -= dD.mean(1, keepdims=True)
        return X.T @ dD

    return Row(f"layer-norm loss ∇W, Z = XW {n}×{m}", "grad", eg.compile(eg.grad(L, W)), arrays, (loss(jnp), 0),
               (loss(torch) if torch else None, 0), ("W", "X", "C"), 1.2, 1.0, ("NumPy backprop", by_hand))


def attention_row(jnp, torch):
    s, d = 256, 64
    rng = np.random.default_rng(2)
    X, C = eg.tensor("X", (s, d)), eg.tensor("C", (s, d))
    Wq, Wk, Wv = (eg.tensor(n, (d, d)) for n in ("Wq", "Wk", "Wv"))
    A = eg.softmax(eg.einsum("id,jd->ij", X @ Wq, X @ Wk) / np.sqrt(d), axis=-1)
    L = eg.sum(C * (A @ (X @ Wv)))
    arrays = {"X": rng.standard_normal((s, d)), "C": rng.standard_normal((s, d)),
              **{n: rng.standard_normal((d, d)) / np.sqrt(d) for n in ("Wq", "Wk", "Wv")}}

    def loss(xp, softmax):
        def f(Wq, Wk, Wv, X, C):
            return (C * (softmax((X @ Wq) @ (X @ Wk).T / np.sqrt(d)) @ (X @ Wv))).sum()
        return f

    def by_hand():
        """The three gradients as backpropagation in NumPy, one pass per operation."""
        X, C = arrays["X"], arrays["C"]
        Q, K, V = X @ arrays["Wq"], X @ arrays["Wk"], X @ arrays["Wv"]
        S = Q @ K.T / np.sqrt(d)
        A = np.exp(S - S.max(1, keepdims=True))
        A /= A.sum(1, keepdims=True)
        dA = C @ V.T
        dS = A * (dA - (dA * A).sum(1, keepdims=True)) / np.sqrt(d)
        return X.T @ (dS @ K), X.T @ (dS.T @ Q), X.T @ (A.T @ C)

    jax_softmax = __import__("jax").nn.softmax
    return Row(f"attention loss ∇Wq, ∇Wk, ∇Wv, seq {s} d {d}", "grad",
               eg.compile(eg.grad(L, Wq), eg.grad(L, Wk), eg.grad(L, Wv)), arrays,
               (loss(jnp, lambda a: jax_softmax(a, axis=-1)), (0, 1, 2)),
               (loss(torch, lambda a: torch.softmax(a, -1)) if torch else None, (0, 1, 2)),
               ("Wq", "Wk", "Wv", "X", "C"), 1.2, 1.0, ("NumPy backprop", by_hand))


def tiny_row(jax, jnp, torch):
    rng = np.random.default_rng(3)
    A, B, G = (rng.standard_normal((8, 8)) for _ in range(3))
    AB = eg.jacobian("ij,jk->ik", wrt=0, names="A,B")
    ours = eg.compile(AB.vjp_expression(A, B))

    def vjp(A, B, g):
        return jax.vjp(lambda A: A @ B, A)[1](g)[0]

    def torch_vjp(A, B, g):
        return torch.func.vjp(lambda A: A @ B, A)[1](g)[0]

    return Row("tiny input: vjp of ij,jk->ik, 8×8", "tiny", ours, {"A": A, "B": B, "g": G}, (vjp, None),
               (torch_vjp if torch else None, None), ("A", "B", "g"), 1.0, None,
               ("one np.einsum", lambda: np.einsum("ik,jk->ij", G, B)), 2.0)


def laue_rows(jax, jnp, torch):
    rng = np.random.default_rng(4)
    n = 1000
    x, A = eg.tensor("x", 1), eg.tensor("A", 2)
    quadratic = {"x": rng.standard_normal(n), "A": rng.standard_normal((n, n))}
    yield Row(f"Laue: Hessian of xᵀAx, n={n}", "hessian", eg.compile(eg.hessian(eg.einsum("i,ij,j->", x, A, x), x)),
              quadratic, (lambda x, A: x @ A @ x, None),
              (lambda x, A: x @ A @ x, None), ("x", "A"), 0.02, None,
              ("A + A.T", lambda: quadratic["A"] + quadratic["A"].T))
    m, d = 2000, 300
    X, w = eg.tensor("X", 2), eg.tensor("w", 1)
    logistic = {"w": rng.standard_normal(d) / np.sqrt(d), "X": rng.standard_normal((m, d))}
    yield Row(f"Laue: Hessian of Σ log(1+exp(Xw)), X {m}×{d}", "hessian",
              eg.compile(eg.hessian(eg.sum(eg.log(1 + eg.exp(X @ w))), w)), logistic,
              (lambda w, X: jnp.log(1 + jnp.exp(X @ w)).sum(), None),
              ((lambda w, X: torch.log(1 + torch.exp(X @ w)).sum()) if torch else None, None), ("w", "X"), 0.3, None,
              ("Xᵀ X alone (syrk)", lambda: logistic["X"].T @ logistic["X"]), bound=True)
    p, q, r = 60, 50, 8
    T, U, V = eg.tensor("T", (p, q)), eg.tensor("U", (p, r)), eg.tensor("V", (q, r))
    factors = {"U": rng.standard_normal((p, r)), "T": rng.standard_normal((p, q)), "V": rng.standard_normal((q, r))}
    yield Row(f"Laue: Hessian of ‖T − UVᵀ‖² w.r.t. U, T {p}×{q}, rank {r}", "hessian",
              eg.compile(eg.hessian(eg.sum((T - eg.einsum("ik,jk->ij", U, V)) ** 2), U)), factors,
              (lambda U, T, V: ((T - U @ V.T) ** 2).sum(), None), (lambda U, T, V: ((T - U @ V.T) ** 2).sum(), None),
              ("U", "T", "V"), 0.05, None, ("2 δ VᵀV by hand", lambda: factorization_hessian(factors["V"], p)))


def factorization_hessian(V: np.ndarray, p: int) -> np.ndarray:
    """The closed form 2 δ_ik (VᵀV)_jl in NumPy: zeros, and 2 VᵀV written onto the blocks i = k."""
    r = V.shape[1]
    H = np.zeros((p, r, p, r))
    np.einsum("ijil->ijl", H)[...] = 2 * (V.T @ V)
    return H


def rows(jax, jnp, torch):
    yield from mlp_rows(jnp, torch)
    yield layer_norm_row(jnp, torch)
    yield attention_row(jnp, torch)
    yield tiny_row(jax, jnp, torch)
    yield from laue_rows(jax, jnp, torch)


def differentiated(row: Row, lib, kind: str):
    """The row's derivative by jax (jax.grad / jax.hessian / the function itself) or torch.func."""
    fn, argnums = row.jax_fn if lib.__name__ == "jax" else row.torch_fn
    if fn is None:
        return None
    grad, hessian = (lib.grad, lib.hessian) if lib.__name__ == "jax" else (lib.func.grad, lib.func.hessian)
    if kind == "grad":
        return grad(fn, argnums=argnums)
    if kind == "hessian":
        return hessian(fn)
    return fn


def takes_out(f, arrays: dict) -> bool:
    """Whether this version of einsumgrad writes into ``out=`` (older ones ignore the name: no column)."""
    buffers = f(**arrays)
    return all(a is b for a, b in zip(_listed(f(**arrays, out=buffers)), _listed(buffers)))


def calls_of(row: Row, jax, torch) -> dict:
    from deep import on_jax, on_torch

    args = [row.arrays[n] for n in row.order]
    calls = {"einsumgrad": lambda: row.ours(**row.arrays)}
    if takes_out(row.ours, row.arrays):
        buffers = row.ours(**row.arrays)
        calls["einsumgrad out="] = lambda: row.ours(**row.arrays, out=buffers)
    calls["jax.jit"] = on_jax(jax, jax.numpy, differentiated(row, jax, row.kind), *args)
    fn = differentiated(row, torch, row.kind) if torch is not None else None
    if fn is not None:
        calls["torch.func"] = on_torch(torch, fn, *args)
    if row.reference is not None:
        calls[row.reference[0]] = row.reference[1]
    return calls


def checked(row: Row, calls: dict) -> None:
    """Every value against jax's, the reference's too unless it is a bound (part of the work only)."""
    want = [np.asarray(v) for v in _listed(calls["jax.jit"]())]
    for name, f in calls.items():
        if name.startswith("einsumgrad") or name == "torch.func" or (row.reference and name == row.reference[0]
                                                                     and not row.bound):
            got = [np.asarray(v) for v in _listed(f())]
            for g, v in zip(got, want):
                np.testing.assert_allclose(g.reshape(v.shape), v, rtol=1e-7, atol=1e-9, err_msg=f"{row.name}: {name}")


def _listed(values):
    return list(values) if isinstance(values, (list, tuple)) else [values]


def verdict(ratio: float, target: float) -> str:
    return f"≤ {target} ({'met' if ratio <= target else 'MISSED'})"


def measure(row: Row, jax, torch, repeats: int, budget: float) -> dict:
    calls = calls_of(row, jax, torch)
    checked(row, calls)
    t = interleaved(calls, repeats=repeats, warmup=2, budget=budget)
    out = {"problem": row.name, "einsumgrad": time_spread(t["einsumgrad"]), "jax.jit": time_spread(t["jax.jit"])}
    ratio = t["einsumgrad"] / t["jax.jit"]
    out["÷ jax.jit"] = spread(ratio)
    targets = [f"{verdict(ratio.median, row.target)}"]
    if "einsumgrad out=" in t:
        out["einsumgrad out="] = time_spread(t["einsumgrad out="])
        with_out = t["einsumgrad out="] / t["jax.jit"]
        out["out= ÷ jax.jit"] = spread(with_out)
        if row.target_out is not None:
            targets.append(f"out= {verdict(with_out.median, row.target_out)}")
    if "torch.func" in t:
        out["÷ torch.func"] = spread(t["einsumgrad"] / t["torch.func"])
    if row.reference is not None:
        r = t["einsumgrad"] / t[row.reference[0]]
        out["÷ reference"] = f"{spread(r)} ({row.reference[0]})"
        out["reference ÷ jax.jit"] = spread(t[row.reference[0]] / t["jax.jit"])
        if row.reference_target is not None:
            targets.append(f"÷ {row.reference[0]} {verdict(r.median, row.reference_target)}")
    out["target"] = "; ".join(targets)
    return out


def profile(row: Row, calls: int = 0) -> None:
    """cProfile of einsumgrad's call on the row's arrays: the top functions by own time."""
    row.ours(**row.arrays)
    calls = calls or max(3, min(2000, int(0.5 / max(_once(row), 1e-6))))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        row.ours(**row.arrays)
    profiler.disable()
    print(f"### profile: {row.name}, {calls} calls\n")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(18)


def _once(row: Row) -> float:
    import time

    t0 = time.perf_counter()
    row.ours(**row.arrays)
    return time.perf_counter() - t0


COLUMNS = ["problem", "einsumgrad", "einsumgrad out=", "jax.jit", "÷ jax.jit", "out= ÷ jax.jit", "÷ torch.func",
           "÷ reference", "reference ÷ jax.jit", "target"]


def main():
    p = parser(__doc__)
    p.add_argument("--repeats", type=int, default=None, help="rounds of interleaved calls")
    p.add_argument("--only", metavar="TEXT", help="only the rows whose name contains TEXT")
    p.add_argument("--profile", metavar="TEXT", help="profile einsumgrad on the first row whose name contains TEXT")
    p.add_argument("--no-fuse", action="store_true", help="run einsumgrad without fused elementwise chains")
    args = p.parse_args()
    eg.configure(fuse=not args.no_fuse)
    pin_jax_threads(args.threads)  # before jax is imported
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy  # noqa: F401
    try:
        import torch
    except ImportError:
        torch = None
    repeats = args.repeats or (5 if args.quick else 21)
    with pinned(args):
        chosen = [r for r in rows(jax, jax.numpy, torch)
                  if not (args.only or args.profile) or (args.only or args.profile).lower() in r.name.lower()]
        if args.profile:
            profile(chosen[0])
            return
        result = [measure(r, jax, torch, repeats, 6 if args.quick else 25) for r in chosen]
    print(table(result, [c for c in COLUMNS if any(c in r for r in result)], args.csv))


if __name__ == "__main__":
    main()
