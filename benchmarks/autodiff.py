"""einsumgrad against autodiff frameworks, each next to a floor.

    python benchmarks/autodiff.py            # the sizes of the targets
    python benchmarks/autodiff.py --quick    # small sizes (CI)

Frameworks are optional: jax (jacrev, jacfwd, grad, hessian, all under jit, after
warm-up, with block_until_ready), torch.func (torch==2.13.0 only) and HIPS autograd;
each missing one is skipped with a note. The floor next to every number is the
memory-write floor for dense Jacobians (allocate, fill with zeros, write the
diagonal) and the hand-written closed form for gradients and Hessians. Compile or
plan time (the first call) is reported apart from the steady-state median.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

import einsumgrad as eg
from harness import arguments, human_time, interleaved, pinned, plot, spread, stage, table, time_spread, write_floor

NOTES: list[str] = []
jax = jnp = torch = autograd = anp = None  # set by load_frameworks, after the thread settings


def _try(name: str):
    try:
        return __import__(name)
    except ImportError:
        NOTES.append(f"{name} is not installed: its rows are skipped")
        return None


def load_frameworks() -> None:
    """Import the installed frameworks; called after ``arguments`` has set jax's thread flags."""
    global jax, jnp, torch, autograd, anp
    jax, torch, autograd = _try("jax"), _try("torch"), _try("autograd")
    if torch is not None and not torch.__version__.startswith("2.13.0"):
        NOTES.append(f"torch {torch.__version__} is not 2.13.0: its rows are skipped")
        torch = None
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    if autograd is not None:
        import autograd.numpy as anp


class Case:
    """One problem: einsumgrad, a floor, and whichever frameworks are installed."""

    def __init__(self, problem: str, size: str, floor_name: str, floor: Callable, ours: Callable,
                 frameworks: dict[str, Callable[[], Callable]], target: float | None = None, n: int = 0):
        self.problem, self.size, self.floor_name, self.floor, self.n = problem, size, floor_name, floor, n
        self.ours, self.frameworks, self.target = ours, frameworks, target


def first_call(make: Callable[[], Callable]) -> tuple[Callable, float]:
    """Build a callable and call it once: the compile/plan time."""
    t0 = time.perf_counter()
    f = make()
    f()
    return f, time.perf_counter() - t0


def _jax(fn, *args):
    jitted = jax.jit(fn)
    device_args = [jnp.asarray(a) for a in args]
    return lambda: jitted(*device_args).block_until_ready()


def _torch(fn, *args):
    tensors = [torch.from_numpy(a) for a in args]
    return lambda: fn(*tensors)


def dense_wx(n: int) -> Case:
    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((n, n)), rng.standard_normal(n)

    def ours():
        J = eg.jacobian("ij,j->i", wrt=0, names="W,x")
        return lambda: J(W, x)

    fw = {}
    if jax is not None:
        fw["jax.jacrev (jit)"] = lambda: _jax(lambda W, x: jax.jacrev(lambda W: W @ x)(W), W, x)
        if n <= 64:  # jacfwd pushes a basis of n·n tangents: n^4 floats
            fw["jax.jacfwd (jit)"] = lambda: _jax(lambda W, x: jax.jacfwd(lambda W: W @ x)(W), W, x)
        else:
            NOTES.append(f"jax.jacfwd at {n}×{n} skipped: its tangent basis alone takes {n**4 * 8 / 2**30:.3g} GiB")
    if torch is not None:
        fw["torch.func.jacrev"] = lambda: _torch(lambda W, x: torch.func.jacrev(lambda W: W @ x)(W), W, x)
    if autograd is not None and n <= 128:
        fw["autograd.jacobian"] = lambda: (lambda j=autograd.jacobian(lambda W: anp.dot(W, x)): lambda: j(W))()
    return Case("dense ∂y/∂W, y = Wx", f"{n}×{n}", "write floor", lambda: write_floor(x), ours, fw,
                1.5 if n == 256 else None, n)


def grad_tanh(n: int) -> Case:
    rng = np.random.default_rng(1)
    W, x = rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n)

    def ours():
        Wt, xt = eg.tensor("W", 2), eg.tensor("x", 1)
        f = eg.compile(eg.grad(eg.sum(eg.tanh(Wt @ xt)), Wt))
        return lambda: f(W=W, x=x)

    fw = {}
    if jax is not None:
        fw["jax.grad (jit)"] = lambda: _jax(jax.grad(lambda W, x: jnp.tanh(W @ x).sum()), W, x)
    if torch is not None:
        fw["torch.func.grad"] = lambda: _torch(torch.func.grad(lambda W, x: torch.tanh(W @ x).sum()), W, x)
    if autograd is not None:
        fw["autograd.grad"] = lambda: (lambda g=autograd.grad(lambda W: anp.tanh(anp.dot(W, x)).sum()): lambda: g(W))()
    return Case("∂/∂W Σ tanh(Wx)", f"{n}×{n}", "closed form", lambda: np.outer(1 - np.tanh(W @ x) ** 2, x),
                ours, fw, 1.3 if n == 1024 else None, n)


def hessian_quadratic(n: int) -> Case:
    rng = np.random.default_rng(2)
    A, x = rng.standard_normal((n, n)), rng.standard_normal(n)

    def ours():
        xt, At = eg.tensor("x", 1), eg.tensor("A", 2)
        f = eg.compile(eg.hessian(eg.einsum("i,ij,j->", xt, At, xt), xt))
        return lambda: f(x=x, A=A)

    fw = {}
    if jax is not None:
        fw["jax.hessian (jit)"] = lambda: _jax(lambda x, A: jax.hessian(lambda x: x @ A @ x)(x), x, A)
    if torch is not None:
        fw["torch.func.hessian"] = lambda: _torch(lambda x, A: torch.func.hessian(lambda x: x @ A @ x)(x), x, A)
    if autograd is not None and n <= 256:
        fw["autograd.hessian"] = lambda: (lambda h=autograd.hessian(lambda x: anp.dot(x, anp.dot(A, x))): lambda: h(x))()
    return Case("Hessian of xᵀAx", f"n={n}", "closed form", lambda: A + A.T, ours, fw, 1.5 if n == 512 else None, n)


def hessian_logistic(m: int, d: int) -> Case:
    rng = np.random.default_rng(3)
    X, w = rng.standard_normal((m, d)), rng.standard_normal(d) / np.sqrt(d)

    def closed():
        s = 1 / (1 + np.exp(-X @ w))
        return (X.T * (s * (1 - s))) @ X

    def ours():
        Xt, wt = eg.tensor("X", 2), eg.tensor("w", 1)
        f = eg.compile(eg.hessian(eg.sum(eg.log(1 + eg.exp(Xt @ wt))), wt))
        return lambda: f(X=X, w=w)

    fw = {}
    if jax is not None:
        fw["jax.hessian (jit)"] = lambda: _jax(lambda X, w: jax.hessian(
            lambda w: jnp.log1p(jnp.exp(X @ w)).sum())(w), X, w)
    if torch is not None and d <= 256:
        fw["torch.func.hessian"] = lambda: _torch(lambda X, w: torch.func.hessian(
            lambda w: torch.log1p(torch.exp(X @ w)).sum())(w), X, w)
    elif torch is not None:
        NOTES.append(f"torch.func.hessian at X {m}×{d} skipped: over 30 s a call on one thread")
    if autograd is not None and d <= 256:
        fw["autograd.hessian"] = lambda: (lambda h=autograd.hessian(
            lambda w: anp.log1p(anp.exp(anp.dot(X, w))).sum()): lambda: h(w))()
    return Case("Hessian of Σ log(1+exp(Xw))", f"X {m}×{d}", "closed form", closed, ours, fw,
                1.5 if (m, d) == (2000, 256) else None, d)


def two_layer(batch: int, width: int) -> Case:
    rng = np.random.default_rng(4)
    X = rng.standard_normal((batch, width))
    W1 = rng.standard_normal((width, width)) / np.sqrt(width)
    W2 = rng.standard_normal((width, 10)) / np.sqrt(width)
    Y = rng.standard_normal((batch, 10))

    def closed():  # backpropagation by hand
        H = np.tanh(X @ W1)
        R = H @ W2 - Y
        return X.T @ ((R @ W2.T) * (1 - H**2))

    def ours():
        Xt, W1t, W2t, Yt = eg.tensor("X", 2), eg.tensor("W1", 2), eg.tensor("W2", 2), eg.tensor("Y", 2)
        L = 0.5 * eg.sum((eg.tanh(Xt @ W1t) @ W2t - Yt) ** 2)
        f = eg.compile(eg.grad(L, W1t))
        return lambda: f(X=X, W1=W1, W2=W2, Y=Y)

    def loss(np_):
        return lambda W1, X, W2, Y: 0.5 * ((np_.tanh(X @ W1) @ W2 - Y) ** 2).sum()

    fw = {}
    if jax is not None:
        fw["jax.grad (jit)"] = lambda: _jax(jax.grad(loss(jnp)), W1, X, W2, Y)
    if torch is not None:
        fw["torch.func.grad"] = lambda: _torch(torch.func.grad(loss(torch)), W1, X, W2, Y)
    if autograd is not None:
        fw["autograd.grad"] = lambda: (lambda g=autograd.grad(loss(anp)): lambda: g(W1, X, W2, Y))()
    return Case("∂/∂W1 of ½‖tanh(X W1) W2 − Y‖²", f"batch {batch}, width {width}", "closed form", closed, ours, fw,
                n=width)


def cases(quick: bool):
    for n in (32, 64) if quick else (64, 128, 256, 512):
        yield dense_wx(n)
    for n in (256,) if quick else (1024, 4096):
        yield grad_tanh(n)
    for n in (64,) if quick else (256, 512, 1024):
        yield hessian_quadratic(n)
    for m, d in ((200, 32),) if quick else ((2000, 256), (2000, 1024)):
        yield hessian_logistic(m, d)
    yield two_layer(64, 64) if quick else two_layer(512, 512)


def main():
    args = arguments(__doc__)
    load_frameworks()
    rows = []
    series: dict = {}
    with pinned(args):
        for case in cases(args.quick):
            stage(f"{case.problem}, {case.size}")
            rows += run(case, args.quick, args.repeats, series)
    print(table(rows, ["problem", "size", "method", "time", "× floor", "first call", "target"], args.csv))
    print("\n'first call' is one call: compile or plan time plus one run")
    for note in dict.fromkeys(NOTES):
        print(f"note: {note}")
    if args.plot:
        plot(series, args.plot, "size (n, or the columns of X)")


def run(case: Case, quick: bool, repeats: int | None, series: dict) -> list[dict]:
    """Time einsumgrad, the floor and each framework on one case, interleaved; one row each."""
    ours, plan_time = first_call(case.ours)
    callables = {"einsumgrad": ours, case.floor_name: case.floor}
    compile_times = {"einsumgrad": plan_time}
    for name, make in case.frameworks.items():
        try:
            callables[name], compile_times[name] = first_call(make)
        except Exception as err:  # noqa: BLE001 - a framework failing (out of memory) is a result
            NOTES.append(f"{name} on {case.problem} {case.size} failed: {type(err).__name__}: {str(err)[:80]}")
    want = case.floor()
    for name, f in callables.items():
        np.testing.assert_allclose(np.asarray(f()), want, rtol=1e-6, atol=1e-8, err_msg=f"{name} {case.problem}")
    # the first call and the check above have warmed every callable up
    t = interleaved(callables, repeats=repeats or (3 if quick else 11), warmup=0, budget=10 if quick else 40)
    rows = []
    for name, timing in t.items():
        ratio = timing / t[case.floor_name]
        target = case.target if name == "einsumgrad" and case.target else None
        series.setdefault(case.problem, {}).setdefault(name, []).append((case.n, timing.median))
        rows.append({
            "problem": case.problem, "size": case.size, "method": name, "time": time_spread(timing),
            "× floor": spread(ratio), "first call": human_time(compile_times[name]) if name in compile_times else "",
            "target": f"≤ {target} ({'met' if ratio.median <= target else 'MISSED'})" if target else "",
        })
    return rows


if __name__ == "__main__":
    main()
