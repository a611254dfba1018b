"""The ladder: the seed's torch loop with one remedy added at a time, each rung timed.

This is gradpoly's answer to the notebook's question ("autograd increases execution time
about 8 times ... comments that will result in faster autograd execution?"). Each rung runs
the same 100-point, degree-4, float32 fit; its manual and autograd variants are timed with
the harness and gated against the float64 reference. For eager rungs the ATen operators per
step are counted, so the cost per operator — framework dispatch, not arithmetic — shows.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradpoly.api import fit_problem
from gradpoly.bench.harness import Measurement, Outcome, Spec, measure, reference_check, unavailable
from gradpoly.engines import get_engine
from gradpoly.engines.aoti import aoti_package, exported, signature
from gradpoly.engines.base import Availability
from gradpoly.engines.torch_engine import Compiler, compiling_with, load_torch, make_step
from gradpoly.options import FitConfig, Gradient, Mode, Strategy, make_config
from gradpoly.problem import FitProblem
from gradpoly.seed import seed_data

Loop = Callable[[FitProblem, int, float, str], Outcome]
"""``loop(problem, steps, lr, device) -> Outcome``: one complete, synchronized run."""


def _sync(torch: Any, device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _column_data(torch: Any, problem: FitProblem, device: str) -> tuple[Any, Any]:
    """x and y as (N, 1) float32 tensors, as the notebook holds them."""
    x = torch.tensor(problem.x, dtype=torch.float32, device=device).reshape(-1, 1)
    y = torch.tensor(problem.y, dtype=torch.float32, device=device).reshape(-1, 1)
    return x, y


def _outcome(torch: Any, start: float, device: str, trace: Any, w: Any) -> Outcome:
    final = float(trace[-1])
    _sync(torch, device)
    seconds = time.perf_counter() - start
    coef = w.detach().reshape(-1).to("cpu", torch.float64).numpy()
    return Outcome(seconds, final, coef)


# --- rung 0: the notebook's loops as written ------------------------------------------------


def seed_numpy(problem: FitProblem, steps: int, lr: float, device: str) -> Outcome:
    """The notebook's numpy cell as written (float64, (N, 1) columns, powers twice a step)."""
    del device
    x, y = problem.x.reshape(-1, 1), problem.y.reshape(-1, 1)
    start = time.perf_counter()
    n, d = problem.n_points, problem.n_coef
    w = np.zeros((d, 1))
    trace = np.zeros(steps)
    for step in range(steps):
        y_model = (x ** range(d)) @ w
        grad = -2 / n * (x ** range(d)).T @ (y - y_model)
        w -= lr * grad
        trace[step] = ((y - y_model) ** 2).mean()
    return Outcome(time.perf_counter() - start, float(trace[-1]), w.reshape(-1))


def seed_manual(problem: FitProblem, steps: int, lr: float, device: str) -> Outcome:
    """The notebook's torch loop: powers of x recomputed twice a step (poly and dpoly_dw)."""
    torch = load_torch()
    x, y = _column_data(torch, problem, device)
    start = time.perf_counter()
    n, d = problem.n_points, problem.n_coef
    exponents = torch.arange(0.0, d, device=device)
    w = torch.zeros((d, 1), device=device)
    trace = torch.zeros(steps, device=device)
    for step in range(steps):
        y_model = (x**exponents).mm(w)
        grad = -2 / n * (x**exponents).t().mm(y - y_model)
        w -= lr * grad
        trace[step] = ((y - y_model) ** 2).mean()
    return _outcome(torch, start, device, trace, w)


def seed_autograd(problem: FitProblem, steps: int, lr: float, device: str) -> Outcome:
    """The notebook's autograd loop: backward, zero the grad, ``.data`` update, host read."""
    torch = load_torch()
    x, y = _column_data(torch, problem, device)
    start = time.perf_counter()
    d = problem.n_coef
    exponents = torch.arange(0.0, d, device=device)
    w = torch.zeros((d, 1), device=device, requires_grad=True)
    trace = np.zeros(steps, dtype=np.float32)
    for step in range(steps):
        y_model = (x**exponents).mm(w)
        mse = ((y - y_model) ** 2).mean()
        if step > 0:
            w.grad.data.zero_()
        mse.backward()
        w.data -= lr * w.grad.data
        trace[step] = mse.item()  # the notebook's mse.data[0]: a device-to-host sync per step
    return _outcome(torch, start, device, torch.from_numpy(trace), w)


# --- rungs 1-5: one remedy at a time ---------------------------------------------------------


def vandermonde_manual(problem: FitProblem, steps: int, lr: float, device: str) -> Outcome:
    """Rung 1, manual: the powers of x computed once, before the loop."""
    torch = load_torch()
    x, y = _column_data(torch, problem, device)
    start = time.perf_counter()
    n, d = problem.n_points, problem.n_coef
    xp = x ** torch.arange(0.0, d, device=device)
    xpt = xp.t().contiguous()
    w = torch.zeros((d, 1), device=device)
    trace = torch.zeros(steps, device=device)
    for step in range(steps):
        r = y - xp.mm(w)
        w -= lr * (-2 / n * xpt.mm(r))
        trace[step] = (r**2).mean()
    return _outcome(torch, start, device, trace, w)


def vandermonde_autograd(problem: FitProblem, steps: int, lr: float, device: str) -> Outcome:
    """Rung 1, autograd: the powers of x computed once; still a host read per step."""
    torch = load_torch()
    x, y = _column_data(torch, problem, device)
    start = time.perf_counter()
    d = problem.n_coef
    xp = x ** torch.arange(0.0, d, device=device)
    w = torch.zeros((d, 1), device=device, requires_grad=True)
    trace = np.zeros(steps, dtype=np.float32)
    for step in range(steps):
        mse = ((y - xp.mm(w)) ** 2).mean()
        if step > 0:
            w.grad.data.zero_()
        mse.backward()
        w.data -= lr * w.grad.data
        trace[step] = mse.item()
    return _outcome(torch, start, device, torch.from_numpy(trace), w)


def nosync_autograd(problem: FitProblem, steps: int, lr: float, device: str) -> Outcome:
    """Rung 2, autograd: the loss stays on the device; the trace is copied back once."""
    torch = load_torch()
    x, y = _column_data(torch, problem, device)
    start = time.perf_counter()
    d = problem.n_coef
    xp = x ** torch.arange(0.0, d, device=device)
    w = torch.zeros((d, 1), device=device, requires_grad=True)
    trace = torch.zeros(steps, device=device)
    for step in range(steps):
        mse = ((y - xp.mm(w)) ** 2).mean()
        if step > 0:
            w.grad.data.zero_()
        mse.backward()
        w.data -= lr * w.grad.data
        trace[step] = mse.detach()
    return _outcome(torch, start, device, trace, w)


def inference_manual(problem: FitProblem, steps: int, lr: float, device: str) -> Outcome:
    """Rung 3, manual: ``torch.inference_mode`` drops autograd bookkeeping from every op."""
    torch = load_torch()
    with torch.inference_mode():
        return vandermonde_manual(problem, steps, lr, device)


def autograd_grad(problem: FitProblem, steps: int, lr: float, device: str) -> Outcome:
    """Rung 3, autograd: ``torch.autograd.grad`` (no .grad to zero), update under no_grad."""
    torch = load_torch()
    x, y = _column_data(torch, problem, device)
    start = time.perf_counter()
    d = problem.n_coef
    xp = x ** torch.arange(0.0, d, device=device)
    w = torch.zeros((d, 1), device=device, requires_grad=True)
    trace = torch.zeros(steps, device=device)
    for step in range(steps):
        mse = ((y - xp.mm(w)) ** 2).mean()
        (grad,) = torch.autograd.grad(mse, w)
        with torch.no_grad():
            w -= lr * grad
            trace[step] = mse
    return _outcome(torch, start, device, trace, w)


def func_grad(problem: FitProblem, steps: int, lr: float, device: str) -> Outcome:
    """Rung 4, autograd: ``torch.func.grad_and_value``, the functional (compilable) form."""
    torch = load_torch()
    x, y = _column_data(torch, problem, device)
    start = time.perf_counter()
    d = problem.n_coef
    xp = x ** torch.arange(0.0, d, device=device)

    def loss(w: Any) -> Any:
        return ((y - xp.mm(w)) ** 2).mean()

    grad_and_value = torch.func.grad_and_value(loss)
    w = torch.zeros((d, 1), device=device)
    trace = torch.zeros(steps, device=device)
    with torch.no_grad():
        for step in range(steps):
            grad, mse = grad_and_value(w)
            w = w - lr * grad
            trace[step] = mse
    return _outcome(torch, start, device, trace, w)


WHILE_STEPS = 1_000
"""Steps per call of the while_loop rung's package (its trace is carried through the loop)."""


def _while_package(gradient: str, example: tuple[Any, ...]) -> Callable[..., Any]:
    """Rung 12: ``torch._higher_order_ops.while_loop`` over GD steps, as an AOTInductor package."""
    key = (gradient, repr(signature(example)))
    if key not in _WHILE:
        torch = load_torch()
        from torch._higher_order_ops import while_loop

        step = make_step(Strategy.GRAM, Gradient(gradient), Mode.COMPILED)

        module: Any = torch.nn.Module

        class Run(module):
            def forward(self, w: Any, n: Any, lr: Any, g: Any, c: Any, s: Any) -> Any:
                def body(i: Any, w: Any, trace: Any) -> tuple[Any, Any, Any]:
                    loss, grad = step(w, g, c, s)
                    trace = trace.index_put((i.reshape(1),), loss.reshape(1))
                    return i + 1, w - lr * grad, trace

                start = (torch.zeros((), dtype=n.dtype), w, torch.zeros(WHILE_STEPS))
                _, w, trace = while_loop(lambda i, w, trace: i < n, body, start)
                return w, trace

        # heap buffers (its loop carries the trace); exported after make_fx, as the blocks are
        _WHILE[key] = aoti_package(lambda: exported(Run(), example), stack=False)
    return _WHILE[key]


_WHILE: dict[tuple[Any, ...], Callable[..., Any]] = {}


def _while_loop(gradient: str) -> Loop:
    """The gram fit as a loop compiled as a loop, ``WHILE_STEPS`` steps per call."""

    def loop(problem: FitProblem, steps: int, lr: float, device: str) -> Outcome:
        torch = load_torch()
        g, c, s = (torch.tensor(np.asarray(v), dtype=torch.float32) for v in problem.gram.one())
        w = torch.zeros(problem.n_coef)
        rate = torch.tensor(lr, dtype=torch.float32)
        run = _while_package(gradient, (w, torch.tensor(WHILE_STEPS), rate, g, c, s))
        start = time.perf_counter()
        traces = []
        for k in range(0, steps, WHILE_STEPS):
            n = min(WHILE_STEPS, steps - k)
            w, trace = run(w, torch.tensor(n), rate, g, c, s)
            traces.append(trace[:n])
        return _outcome(torch, start, device, torch.cat(traces), w)

    loop.__doc__ = f"torch while_loop over gram steps, {gradient}"
    return loop


def _engine(
    engine: str, gradient: str, mode: str, strategy: str, compiler: Compiler | None = None
) -> Loop:
    """A rung that is a gradpoly engine configuration (its own timing, synchronized)."""

    def loop(problem: FitProblem, steps: int, lr: float, device: str) -> Outcome:
        dev = device if engine == "torch" else "cpu"
        config = make_config(engine, gradient, dev, mode, strategy, "float32", steps, lr)
        with compiling_with(compiler) if compiler else contextlib.nullcontext():
            result = fit_problem(problem, config)
        return Outcome(result.seconds, result.final_mse, result.coef)

    loop.__doc__ = f"gradpoly engine {engine}, {gradient}, {mode}, {strategy}, {compiler}"
    return loop


@dataclass(frozen=True)
class Rung:
    """One step up the ladder: what changed, and the manual and autograd loops (None: n/a)."""

    name: str
    change: str
    manual: Loop | None
    autograd: Loop | None
    engine: str = "torch"
    mode: str = "eager"
    cpu_only: bool = False
    """A CPU compile route (CUDA blocks are always torch.compile'd CUDA graphs)."""

    @property
    def counts_ops(self) -> bool:
        """Eager torch rungs: their ATen operators per step can be counted."""
        return self.engine == "torch" and self.mode == "eager"


RUNGS: tuple[Rung, ...] = (
    Rung("0 seed", "the notebook's loops as written", seed_manual, seed_autograd),
    Rung("1 vandermonde", "powers of x computed once", vandermonde_manual, vandermonde_autograd),
    Rung(
        "2 no sync",
        "no per-step .item(): trace stays on device",
        vandermonde_manual,
        nosync_autograd,
    ),
    Rung(
        "3 no tracking",
        "inference_mode (manual); autograd.grad, no zero_ (autograd)",
        inference_manual,
        autograd_grad,
    ),
    Rung(
        "4 torch.func", "torch.func.grad_and_value instead of backward", inference_manual, func_grad
    ),
    Rung(
        "5 gram, eager",
        "O(D^2) steps on X^T X: ~30x fewer flops, more ops",
        _engine("torch", "manual", "eager", "gram"),
        _engine("torch", "autograd", "eager", "gram"),
    ),
    Rung(
        "6 compiled",
        "torch.compile over 20-step blocks, per-sample",
        _engine("torch", "manual", "compiled", "per-sample", Compiler.DYNAMO),
        _engine("torch", "autograd", "compiled", "per-sample", Compiler.DYNAMO),
        mode="compiled",
    ),
    Rung(
        "7 compiled gram",
        "torch.compile over 20-step blocks, gram",
        _engine("torch", "manual", "compiled", "gram", Compiler.DYNAMO),
        _engine("torch", "autograd", "compiled", "gram", Compiler.DYNAMO),
        mode="compiled",
    ),
    Rung(
        "8 unguarded",
        "as 7, dynamo's guard checks skipped after the first call",
        _engine("torch", "manual", "compiled", "gram", Compiler.UNGUARDED),
        _engine("torch", "autograd", "compiled", "gram", Compiler.UNGUARDED),
        mode="compiled",
        cpu_only=True,
    ),
    Rung(
        "9 AOTInductor",
        "the block as an AOTInductor package, no dynamo; buffers on the stack, gram",
        _engine("torch", "manual", "compiled", "gram", Compiler.AOTI_STACK),
        _engine("torch", "autograd", "compiled", "gram", Compiler.AOTI_STACK),
        mode="compiled",
        cpu_only=True,
    ),
    Rung(
        "10 AOTI per-sample",
        "as 9, per-sample (torch's compiled default)",
        _engine("torch", "manual", "compiled", "per-sample", Compiler.AOTI_STACK),
        _engine("torch", "autograd", "compiled", "per-sample", Compiler.AOTI_STACK),
        mode="compiled",
        cpu_only=True,
    ),
    Rung(
        "11 heap buffers",
        "as 9, intermediates allocated per call (rejected)",
        _engine("torch", "manual", "compiled", "gram", Compiler.AOTI),
        _engine("torch", "autograd", "compiled", "gram", Compiler.AOTI),
        mode="compiled",
        cpu_only=True,
    ),
    Rung(
        "12 while_loop",
        "a loop compiled as a loop: while_loop in an AOTI package, gram (rejected)",
        _while_loop("manual"),
        _while_loop("autograd"),
        mode="compiled",
        cpu_only=True,
    ),
    Rung(
        "jax gram",
        "jax.jit + lax.scan of 10,000 steps, gram",
        _engine("jax", "manual", "compiled", "gram"),
        _engine("jax", "autograd", "compiled", "gram"),
        engine="jax",
        mode="compiled",
    ),
    Rung(
        "numba gram",
        "numba-compiled loop, gram (no autodiff)",
        _engine("numba", "manual", "compiled", "gram"),
        None,
        engine="numba",
        mode="compiled",
    ),
    Rung(
        "numpy spectral",
        "no loop: the trajectory in closed form (no autodiff)",
        _engine("numpy", "manual", "eager", "spectral"),
        None,
        engine="numpy",
    ),
)
"""The ladder, bottom to top; the last three are other engines' endpoints."""


def ops_per_step(loop: Loop, problem: FitProblem, device: str) -> float:
    """ATen operators dispatched per step (forward, backward and update), by counting."""
    torch = load_torch()
    from torch.utils._python_dispatch import TorchDispatchMode

    class Counter(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.count += 1
            return func(*args, **(kwargs or {}))

    counts = []
    for steps in (4, 8):
        with Counter() as counter:
            loop(problem, steps, 1e-5, device)
        counts.append(counter.count)
    del torch
    return (counts[1] - counts[0]) / 4


@dataclass(frozen=True)
class LadderRow:
    """A rung's two measurements (manual, autograd) and its operator count per step."""

    rung: Rung
    manual: Measurement | None
    autograd: Measurement | None
    manual_ops: float = float("nan")
    autograd_ops: float = float("nan")


def _bind(
    loop: Loop, problem: FitProblem, steps: int, lr: float, device: str
) -> Callable[[], Outcome]:
    return lambda: loop(problem, steps, lr, device)


def _spec(rung: Rung, gradient: str, device: str, steps: int) -> Spec:
    return Spec(
        rung.name,
        rung.engine,
        gradient,
        device if rung.engine == "torch" else "cpu",
        rung.mode,
        "",
        "float32",
        steps,
        rung.change,
    )


def run_ladder(
    steps: int = 20_000,
    repeats: int = 3,
    device: str = "cpu",
    threads: int = 1,
    on_done: Callable[[LadderRow], None] | None = None,
) -> list[LadderRow]:
    """Time every rung (manual and autograd) on the seed problem; count ops on eager rungs."""
    x, y = seed_data()
    problem = FitProblem.from_data(x, y, 4)
    lr = 1e-5
    check = reference_check(problem, FitConfig(steps=steps, lr=lr))
    rows = []
    for rung in RUNGS:
        results: dict[str, Measurement | None] = {}
        ops: dict[str, float] = {}
        for gradient, loop in (("manual", rung.manual), ("autograd", rung.autograd)):
            if loop is None:
                results[gradient] = None
                continue
            spec = _spec(rung, gradient, device, steps)
            config = make_config(rung.engine, device=spec.device, mode=rung.mode)
            available = get_engine(rung.engine).availability(config)
            if rung.cpu_only and device != "cpu":
                available = Availability(False, "a CPU compile route; CUDA uses CUDA graphs")
            if not available.ok:
                results[gradient] = unavailable(spec, available.reason)
                continue
            results[gradient] = measure(
                spec, _bind(loop, problem, steps, lr, device), repeats, check, threads
            )
            if rung.counts_ops:
                ops[gradient] = ops_per_step(loop, problem, device)
        row = LadderRow(
            rung,
            results["manual"],
            results["autograd"],
            ops.get("manual", float("nan")),
            ops.get("autograd", float("nan")),
        )
        rows.append(row)
        if on_done is not None:
            on_done(row)
    return rows
