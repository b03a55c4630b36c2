"""Deep compositions: where reverse-mode gradients with shared cotangents stand.

    python benchmarks/deep.py            # the sizes of the targets (several minutes)
    python benchmarks/deep.py --quick    # a few small cases (CI; jax and torch optional)

Sections, each einsumgrad's public API against references, ratios from interleaved rounds:
1. MLP gradients: h₀ = x, h_{k+1} = tanh(W_k h_k + b_k), loss ½‖y − h_d‖²; the gradients w.r.t.
   every W_k and b_k compiled together in one eg.compile, against hand-written NumPy backprop
   (values checked first), jax.jit(jax.grad) (x64) and torch.func.grad.
2. MLP Hessians of the same loss w.r.t. the first bias b₀, and w.r.t. an input-scaling weight
   vector s (h₀ = s ⊙ x; a readout vector's Hessian would be zero, the loss being linear in
   it), against jax.jit(jax.hessian) and torch.func.hessian (values checked first). The first
   call (symbolic derivation, then plan and one run, after eg.clear_caches()) is apart from the
   cached call.
3. Symbolic: the derivation time of every gradient of an MLP against depth, after
   eg.clear_caches(), and the printed size (characters of str() of every gradient); the
   gradient of Σ tanh(tanh(…(x))) against the number of nested tanh.
4. The orthogonality loss ½ β Σ_lij |Φ_lᵀ Φ_l − I|_ij, gradient w.r.t. Φ (l, m, n), against
   jax.jit(jax.grad) and the closed form ½β Φ_l (S_l + S_lᵀ), S = sign(Φ_lᵀ Φ_l − I).
5. A mixed-size chain: the vjp of ab,bc,cd,de->ae w.r.t. operand 1 (sizes alternating 1000/10),
   by eg.jacobian(spec, wrt=1).vjp, against the equivalent contraction ae,ab,cd,de->bc run by
   opt_einsum.contract_expression with each optimizer's path.
"""
from __future__ import annotations

import time

import numpy as np
import opt_einsum

import autodiff
import einsumgrad as eg
from harness import arguments, human_time, interleaved, pinned, spread, table, time_spread

GRADIENT_TARGETS = {"NumPy backprop": 1.1, "jax.jit(jax.grad)": 1.2}
HESSIAN_TARGET = 1.0
DERIVATION_TARGET, GROWTH_TARGET, NESTED_TARGET = 0.3, 3.5, 0.1
ORTHOGONALITY_TARGET, CHAIN_TARGET = 1.2, 1.1
OPTIMIZERS = ("optimal", "dp", "auto-hq", "greedy")


def frameworks() -> tuple:
    """jax (x64) and torch.func where installed: autodiff.py's loader, after the thread settings."""
    autodiff.load_frameworks()
    return autodiff.jax, autodiff.jnp, autodiff.torch


def notes() -> list[str]:
    return [n.replace("its rows", "its columns") for n in dict.fromkeys(autodiff.NOTES) if not n.startswith("autograd")]


def mlp(depth: int, width: int, rng, scaled: bool = False):
    """½‖y − h_d‖² (h₀ = s ⊙ x when ``scaled``), its parameters by name, and arrays for every tensor."""
    x, y, s = eg.tensor("x", (width,)), eg.tensor("y", (width,)), eg.tensor("s", (width,))
    arrays = {"x": rng.standard_normal(width), "y": rng.standard_normal(width)}
    params = {}
    h = s * x if scaled else x
    for k in range(depth):
        params[f"W{k}"], params[f"b{k}"] = eg.tensor(f"W{k}", (width, width)), eg.tensor(f"b{k}", (width,))
        arrays[f"W{k}"] = rng.standard_normal((width, width)) / np.sqrt(width)
        arrays[f"b{k}"] = 0.1 * rng.standard_normal(width)
        h = eg.tanh(params[f"W{k}"] @ h + params[f"b{k}"])
    if scaled:
        params["s"], arrays["s"] = s, 1 + 0.1 * rng.standard_normal(width)
    return 0.5 * eg.sum((y - h) ** 2), params, arrays


def mlp_loss(xp, depth: int, scaled: bool = False):
    """The same loss for jax.numpy or torch: f(Ws, bs, s, x, y)."""
    def loss(Ws, bs, s, x, y):
        h = s * x if scaled else x
        for k in range(depth):
            h = xp.tanh(Ws[k] @ h + bs[k])
        return 0.5 * ((y - h) ** 2).sum()
    return loss


def by_one(loss, scaled: bool):
    """The loss as a function of s (``scaled``) or of b₀ first, the other arguments after it."""
    def of(v, Ws, bs, s, x, y):
        return loss(Ws, bs, v, x, y) if scaled else loss(Ws, [v, *bs[1:]], s, x, y)
    return of


def mlp_args(arrays: dict, depth: int) -> tuple:
    """(Ws, bs, s, x, y) from the arrays; s = 1 when the network has no scaling vector."""
    return ([arrays[f"W{k}"] for k in range(depth)], [arrays[f"b{k}"] for k in range(depth)],
            arrays.get("s", np.ones_like(arrays["x"])), arrays["x"], arrays["y"])


def backprop(a: dict, depth: int, buffers: list | None = None) -> list[np.ndarray]:
    """Hand-written NumPy backpropagation: the gradients of every W_k, then of every b_k; each
    outer product written into ``buffers[k]`` where given (no fresh memory for them)."""
    hs = [a["x"]]
    for k in range(depth):
        hs.append(np.tanh(a[f"W{k}"] @ hs[-1] + a[f"b{k}"]))
    delta = (hs[-1] - a["y"]) * (1 - hs[-1] ** 2)
    gW, gb = [None] * depth, [None] * depth
    for k in reversed(range(depth)):
        gW[k], gb[k] = np.outer(delta, hs[k], out=None if buffers is None else buffers[k]), delta
        if k:
            delta = (a[f"W{k}"].T @ delta) * (1 - hs[k] ** 2)
    return gW + gb


def on_jax(jax, jnp, fn, *args):
    """A jitted call on device arrays that waits for its (pytree) result."""
    jitted, device = jax.jit(fn), jax.tree_util.tree_map(jnp.asarray, args)
    return lambda: jax.block_until_ready(jitted(*device))


def on_torch(torch, fn, *args):
    tensors = [[torch.from_numpy(a) for a in x] if isinstance(x, list) else torch.from_numpy(x) for x in args]
    return lambda: fn(*tensors)


def flat(values) -> np.ndarray:
    """Every array of a (nested) result, raveled into one vector."""
    if isinstance(values, (list, tuple)):
        return np.concatenate([flat(v) for v in values]) if values else np.zeros(0)
    return np.ravel(np.asarray(values))


def verdict(value: float, target: float, unit: str = "") -> str:
    return f"≤ {target}{unit} ({'met' if value <= target else 'MISSED'})"


def first_call(make) -> tuple:
    """``make()`` then one call of what it returns, after eg.clear_caches(): (callable, seconds)."""
    eg.clear_caches()
    return autodiff.first_call(make)


def gradient_rows(quick: bool, repeats: int, fw: tuple) -> list[dict]:
    jax, jnp, torch = fw
    cases = [(1, 64), (2, 64)] if quick else [(d, w) for w in (64, 256, 1024) for d in (1, 2, 4, 8, 16)]
    rows = []
    for depth, width in cases:
        L, params, arrays = mlp(depth, width, np.random.default_rng(depth * width))
        names = [f"W{k}" for k in range(depth)] + [f"b{k}" for k in range(depth)]

        def ours():
            f = eg.compile(*(eg.grad(L, params[n]) for n in names))
            return lambda: f(**arrays)

        calls, firsts = {}, {}
        calls["einsumgrad"], firsts["einsumgrad"] = first_call(ours)
        calls["NumPy backprop"] = lambda: backprop(arrays, depth)
        args = mlp_args(arrays, depth)
        if jax is not None:
            calls["jax.jit(jax.grad)"], firsts["jax"] = autodiff.first_call(
                lambda: on_jax(jax, jnp, jax.grad(mlp_loss(jnp, depth), argnums=(0, 1)), *args))
        if torch is not None:
            calls["torch.func.grad"] = on_torch(torch, torch.func.grad(mlp_loss(torch, depth), argnums=(0, 1)), *args)
        want = flat(backprop(arrays, depth))
        for name, f in calls.items():
            np.testing.assert_allclose(flat(f()), want, rtol=1e-7, atol=1e-10, err_msg=f"{name}, depth {depth}")
        t = interleaved(calls, repeats=repeats, warmup=1, budget=5 if quick else 20)
        row = {"depth": depth, "width": width, "einsumgrad": time_spread(t["einsumgrad"]),
               "first call": human_time(firsts["einsumgrad"]),
               "jax first call": human_time(firsts["jax"]) if "jax" in firsts else "—"}
        targets = []
        for name in calls:
            if name != "einsumgrad":
                ratio = t["einsumgrad"] / t[name]
                row[f"÷ {name}"] = spread(ratio)
                if name in GRADIENT_TARGETS and width >= 256:
                    targets.append(f"{name.split('(')[0].split()[0]} {verdict(ratio.median, GRADIENT_TARGETS[name])}")
        row["target"] = "; ".join(targets) or "—"
        rows.append(row)
    return rows


def hessian_rows(quick: bool, repeats: int, fw: tuple) -> list[dict]:
    jax, jnp, torch = fw
    cases = [(2, 8)] if quick else [(2, 8), (2, 64), (4, 16), (4, 64), (6, 8), (6, 32)]
    rows = []
    for scaled in (False, True):
        for depth, width in cases:
            L, params, arrays = mlp(depth, width, np.random.default_rng(7 * depth + width), scaled)
            wrt = "s" if scaled else "b0"
            eg.clear_caches()
            t0 = time.perf_counter()
            H = eg.hessian(L, params[wrt])
            derive = time.perf_counter() - t0
            f = eg.compile(H)
            f(**arrays)
            plan = time.perf_counter() - t0 - derive
            calls, firsts = {"einsumgrad": lambda: f(**arrays)}, {}
            args = (arrays[wrt], *mlp_args(arrays, depth))
            if jax is not None:
                calls["jax.jit(jax.hessian)"], firsts["jax"] = autodiff.first_call(lambda: on_jax(
                    jax, jnp, jax.hessian(by_one(mlp_loss(jnp, depth, scaled), scaled)), *args))
            if torch is not None:
                calls["torch.func.hessian"], firsts["torch"] = autodiff.first_call(lambda: on_torch(
                    torch, torch.func.hessian(by_one(mlp_loss(torch, depth, scaled), scaled)), *args))
            want = f(**arrays)
            for name, call in calls.items():
                np.testing.assert_allclose(np.asarray(call()), want, rtol=1e-8, atol=1e-11, err_msg=f"{name} {wrt}")
            t = interleaved(calls, repeats=repeats, warmup=1, budget=5 if quick else 15)
            row = {"w.r.t.": wrt, "depth": depth, "width": width, "einsumgrad (cached)": time_spread(t["einsumgrad"]),
                   "derivation": human_time(derive), "plan + first run": human_time(plan),
                   "jax first call": human_time(firsts["jax"]) if "jax" in firsts else "—",
                   "torch first call": human_time(firsts["torch"]) if "torch" in firsts else "—", "target": "—"}
            for name in calls:
                if name != "einsumgrad":
                    row[f"÷ {name}"] = spread(t["einsumgrad"] / t[name])
            if "jax" in firsts:
                row["target"] = verdict((t["einsumgrad"] / t["jax.jit(jax.hessian)"]).median, HESSIAN_TARGET)
            rows.append(row)
    return rows


def derivation_time(depth: int, repeats: int) -> tuple[float, list]:
    """Median seconds to derive every gradient of a depth-``depth`` MLP (width 64) from cold caches."""
    times = []
    for _ in range(repeats):
        eg.clear_caches()
        L, params, _ = mlp(depth, 64, np.random.default_rng(0))
        t0 = time.perf_counter()
        grads = [eg.grad(L, p) for p in params.values()]
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), grads


def symbolic_rows(quick: bool) -> list[dict]:
    rows, times = [], {}
    for depth in (1, 2, 4) if quick else (1, 2, 4, 8, 16, 32, 48):
        times[depth], grads = derivation_time(depth, 3)
        t0 = time.perf_counter()
        chars = sum(len(str(g)) for g in grads)
        rows.append({"problem": f"every ∂L/∂W_k, ∂L/∂b_k, depth {depth}", "derivation": human_time(times[depth]),
                     "printed size": f"{chars:,} characters (str in {human_time(time.perf_counter() - t0)})",
                     "target": verdict(times[depth], DERIVATION_TARGET, " s") if depth == 48 else "—"})
    if 16 in times and 48 in times:
        growth = times[48] / times[16]
        rows.append({"problem": "derivation depth 48 ÷ depth 16", "derivation": f"{growth:.2f}",
                     "printed size": "", "target": verdict(growth, GROWTH_TARGET)})
    x = eg.tensor("x", (8,))
    for n in (10, 200) if quick else (10, 25, 50, 100, 200, 400):
        e = x
        for _ in range(n):
            e = eg.tanh(e)
        seconds = []
        for _ in range(3):
            eg.clear_caches()
            t0 = time.perf_counter()
            g = eg.grad(eg.sum(e), x)
            seconds.append(time.perf_counter() - t0)
        rows.append({"problem": f"∂/∂x Σ tanh(tanh(…(x))), {n} nested tanh",
                     "derivation": human_time(float(np.median(seconds))), "printed size": f"{len(str(g)):,} characters",
                     "target": verdict(float(np.median(seconds)), NESTED_TARGET, " s") if n == 200 else "—"})
    return rows


def orthogonality_rows(quick: bool, repeats: int, fw: tuple) -> list[dict]:
    jax, jnp, _ = fw
    beta = 0.1
    rows = []
    for l, m, n in [(4, 16, 4)] if quick else [(16, 64, 8), (64, 256, 32), (64, 1024, 64)]:
        rng = np.random.default_rng(l * m + n)
        P0, I0 = rng.standard_normal((l, m, n)) / np.sqrt(m), np.eye(n)
        P, I = eg.tensor("P", (l, m, n)), eg.tensor("I", (n, n))

        def ours():
            f = eg.compile(eg.grad(0.5 * beta * eg.sum(eg.abs(eg.einsum("lmi,lmj->lij", P, P) - I)), P))
            return lambda: f(P=P0, I=I0)

        def closed():
            S = np.sign(np.matmul(P0.transpose(0, 2, 1), P0) - I0)
            return 0.5 * beta * np.matmul(P0, S + S.transpose(0, 2, 1))

        calls, firsts = {}, {}
        calls["einsumgrad"], firsts["einsumgrad"] = first_call(ours)
        calls["closed form"] = closed
        if jax is not None:
            loss = jax.grad(lambda P, I: 0.5 * beta * jnp.abs(jnp.einsum("lmi,lmj->lij", P, P) - I).sum())
            calls["jax.jit(jax.grad)"], firsts["jax"] = autodiff.first_call(lambda: on_jax(jax, jnp, loss, P0, I0))
        want = closed()
        for name, f in calls.items():
            np.testing.assert_allclose(np.asarray(f()), want, rtol=1e-8, atol=1e-12, err_msg=name)
        t = interleaved(calls, repeats=repeats, warmup=1, budget=5 if quick else 20)
        row = {"Φ (l, m, n)": f"({l}, {m}, {n})", "einsumgrad": time_spread(t["einsumgrad"]),
               "÷ closed form": spread(t["einsumgrad"] / t["closed form"]),
               "first call": human_time(firsts["einsumgrad"]), "target": "—"}
        if jax is not None:
            ratio = t["einsumgrad"] / t["jax.jit(jax.grad)"]
            row["÷ jax.jit(jax.grad)"] = spread(ratio)
            row["target"] = verdict(ratio.median, ORTHOGONALITY_TARGET)
        rows.append(row)
    return rows


def chain_rows(quick: bool, repeats: int) -> list[dict]:
    big, small = (100, 10) if quick else (1000, 10)
    rows = []
    for a, b, c, d, e in [(big, small, big, small, big)] + ([] if quick else [(small, big, small, big, small)]):
        rng = np.random.default_rng(a + b)
        A, B, C, D = (rng.standard_normal(s) for s in ((a, b), (b, c), (c, d), (d, e)))
        g = rng.standard_normal((a, e))
        J = eg.jacobian("ab,bc,cd,de->ae", wrt=1)
        calls = {"einsumgrad J.vjp": lambda: J.vjp(g, A, B, C, D)}
        flops = {}
        for name in OPTIMIZERS:
            shapes = (g.shape, A.shape, C.shape, D.shape)
            path, info = opt_einsum.contract_path("ae,ab,cd,de->bc", *shapes, shapes=True, optimize=name)
            flops[name] = int(info.opt_cost)
            run = opt_einsum.contract_expression("ae,ab,cd,de->bc", *shapes, optimize=path)
            calls[name] = lambda run=run: run(g, A, C, D)
        want = np.einsum("ae,ab,cd,de->bc", g, A, C, D, optimize=True)
        for name, f in calls.items():
            np.testing.assert_allclose(f(), want, rtol=1e-9, err_msg=name)
        t = interleaved(calls, repeats=repeats, warmup=1, budget=5 if quick else 20)
        best = max(OPTIMIZERS, key=lambda n: (t["einsumgrad J.vjp"] / t[n]).median)  # fastest, paired
        ratio = t["einsumgrad J.vjp"] / t[best]
        rows.append({"sizes (a, b, c, d, e)": f"({a}, {b}, {c}, {d}, {e})",
                     "einsumgrad": time_spread(t["einsumgrad J.vjp"]),
                     **{f"÷ {n}": f"{spread(t['einsumgrad J.vjp'] / t[n])} [{flops[n]:,} FLOPs]" for n in OPTIMIZERS},
                     "target": f"÷ best ({best}) {verdict(ratio.median, CHAIN_TARGET)}"})
    return rows


def section(title: str, rows: list[dict], csv: bool, note: str = "") -> None:
    columns = [k for k in dict.fromkeys(k for r in rows for k in r) if k != "target"] + ["target"]
    print(f"\n{'# ' if csv else '### '}{title}\n")
    print(table(rows, columns, csv))
    if note:
        print(f"\n{note}")


def main():
    args = arguments(__doc__, plots=False)
    fw = frameworks()
    repeats = args.repeats or (3 if args.quick else 15)
    with pinned(args):
        section("1. MLP gradients: every W_k and b_k of ½‖y − h_d‖², one eg.compile", gradient_rows(
            args.quick, repeats, fw), args.csv,
            "÷ X: einsumgrad's time over X's, per round. First call: derivation of every gradient, plan, one run "
            "(after eg.clear_caches()); jax's: jit compilation and one run. Targets at widths 256–1024.")
        section("2. MLP Hessians of ½‖y − h_d‖² w.r.t. b₀ and w.r.t. the input scaling s (h₀ = s ⊙ x)",
                hessian_rows(args.quick, repeats, fw), args.csv,
                "Derivation: eg.hessian after eg.clear_caches(); plan + first run: eg.compile and one call.")
        section("3. Symbolic derivation (width 64 MLP; median of 3 from cold caches)", symbolic_rows(args.quick),
                args.csv)
        section("4. Orthogonality loss ½β Σ|ΦᵀΦ − I| (β = 0.1), gradient w.r.t. Φ",
                orthogonality_rows(args.quick, repeats, fw), args.csv)
        section("5. Mixed-size chain: vjp of ab,bc,cd,de->ae w.r.t. operand 1 (bc)", chain_rows(args.quick, repeats),
                args.csv, "Each optimizer's path is found once, then run by opt_einsum.contract_expression on "
                "ae,ab,cd,de->bc; FLOPs are opt_einsum's count for that path.")
    for note in notes():
        print(f"note: {note}")


if __name__ == "__main__":
    main()
