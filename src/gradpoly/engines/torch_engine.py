"""The torch engine: CPU or CUDA, manual or autograd, eager or compiled, per-sample or gram.

Every variant keeps w and the MSE trace on the device and never syncs inside a chunk; the
trace is copied back once, at the end. ``compiled`` compiles a block of steps (unrolled,
masked so one compilation serves any step count). On the CPU the block is an AOTInductor
package called without dynamo, its intermediates on the stack (``Compiler``; the ladder
measures each way); on CUDA it is ``torch.compile``'d and captured as a CUDA graph
(``mode="reduce-overhead"``). torch is imported only when used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import losses as _losses_module
from gradpoly import updates
from gradpoly.engines import aoti as _aoti_module
from gradpoly.engines import register
from gradpoly.engines.aoti import (
    Block,
    aoti_package,
    cached_package,
    exported,
    package_paths,
    safe_inductor_folder,
    signature,
)
from gradpoly.engines.base import (
    Availability,
    LoopEngine,
    OptionalLibrary,
    Runner,
    trace_room,
    trace_start,
)
from gradpoly.engines.package_builds import (
    EAGER_SLICE,
    PendingPackage,
    background_builds,
    start_builder,
    waiting_for_packages,
)
from gradpoly.losses import Loss, check_value, describe, penalty
from gradpoly.options import Device, FitConfig, Gradient, Mode, Optimizer, Strategy
from gradpoly.problem import Problem

BLOCK_STEPS = 20
"""Steps unrolled into one compiled block: compile time grows with it, call overhead shrinks."""

Step = Callable[..., tuple[Any, Any]]
"""``step(w, *data) -> (loss, grad)``: one gradient evaluation, pure."""


TORCH = OptionalLibrary("torch", "torch")
load_torch = TORCH.load


def cuda_availability() -> Availability:
    """Whether torch sees a CUDA device here, and if not, why."""
    torch = TORCH.module_or_reason()
    if isinstance(torch, str):
        return Availability(False, torch)
    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        return Availability(
            False,
            f"no CUDA device: torch {torch.__version__} ({build}) sees no GPU on this machine",
        )
    return Availability(True)


# --- the losses and hand-written gradients, pure functions of (w, *data) --------------------


def per_sample_loss(w: Any, a: Any, at: Any, b: Any) -> Any:
    """``mean((b - A w)**2)``: touches all N points."""
    del at
    return ((b - a @ w) ** 2).mean()


def per_sample_manual(w: Any, a: Any, at: Any, b: Any) -> tuple[Any, Any]:
    """Loss and the hand-written gradient ``-2/N A^T (b - A w)``."""
    r = b - a @ w
    return (r * r).mean(), (-2.0 / a.shape[0]) * (at @ r)


def fused_residual(w: Any, at: Any, b: Any) -> Any:
    """``b - A w`` read from ``A^T`` row by row as multiply + sum, which inductor fuses into
    one pass over the points (a compiled block's layout; eager keeps one BLAS matvec)."""
    return b - (at * w[:, None]).sum(0)


def per_sample_loss_fused(w: Any, a: Any, at: Any, b: Any) -> Any:
    """:func:`per_sample_loss` in the compiled layout: its derivative reads ``A^T`` as the
    forward does, so autograd's backward fuses as the hand-written gradient does."""
    del a
    return (fused_residual(w, at, b) ** 2).mean()


def per_sample_manual_fused(w: Any, a: Any, at: Any, b: Any) -> tuple[Any, Any]:
    """:func:`per_sample_manual` in the compiled layout: ``-2/N sum_i A^T[:, i] r_i``."""
    del a
    r = fused_residual(w, at, b)
    return (r * r).mean(), (-2.0 / at.shape[1]) * (at * r).sum(1)


def gram_loss(w: Any, g: Any, c: Any, s: Any) -> Any:
    """``s - 2 c.w + w.G w``; matvecs as multiply + sum so the compiler can fuse them."""
    return s - 2 * (c * w).sum() + (w * (g * w).sum(-1)).sum()


def gram_manual(w: Any, g: Any, c: Any, s: Any) -> tuple[Any, Any]:
    """Loss and the hand-written gradient ``2 (G w - c)``."""
    gw = (g * w).sum(-1)
    return s - 2 * (c * w).sum() + (w * gw).sum(), 2 * (gw - c)


_FUNCTIONS: dict[tuple[Strategy, Mode], tuple[Callable[..., Any], Step]] = {
    (Strategy.PER_SAMPLE, Mode.EAGER): (per_sample_loss, per_sample_manual),
    (Strategy.PER_SAMPLE, Mode.COMPILED): (per_sample_loss_fused, per_sample_manual_fused),
    (Strategy.GRAM, Mode.EAGER): (gram_loss, gram_manual),
    (Strategy.GRAM, Mode.COMPILED): (gram_loss, gram_manual),
}
"""The MSE and its hand-written gradient per strategy and mode: the compiled per-sample pair
reads the transposed design with fusable sums (measured: 1.6x faster compiled, and autograd's
derivative of it as fast as the hand-written one); eager keeps BLAS matvecs."""


def _autograd_eager(loss: Callable[..., Any]) -> Step:
    """The notebook's way, modernised: build the graph, ``torch.autograd.grad`` it."""
    torch = load_torch()

    def step(w: Any, *data: Any) -> tuple[Any, Any]:
        with torch.enable_grad():
            w = w.detach().requires_grad_(True)
            value = loss(w, *data)
            (grad,) = torch.autograd.grad(value, w)
        return value.detach(), grad

    return step


def _autograd_functional(loss: Callable[..., Any]) -> Step:
    """``torch.func.grad_and_value``: traceable, so torch.compile fuses forward and backward."""
    grad_and_value = load_torch().func.grad_and_value(loss)

    def step(w: Any, *data: Any) -> tuple[Any, Any]:
        grad, value = grad_and_value(w, *data)
        return value, grad

    return step


def objective(
    strategy: Strategy, loss: Any = Loss.MSE, delta: float = 1.0, mode: Mode = Mode.EAGER
) -> Callable[..., Any]:
    """``loss(w, *data)``: MSE for the strategy, or ``mean(rho(r))``, or a user's ``f(r)``,
    in the mode's layout (:data:`_FUNCTIONS`)."""
    if not callable(loss) and Loss.parse(loss) is Loss.MSE:
        return _FUNCTIONS[strategy, mode][0]
    torch = load_torch()
    reduce = loss if callable(loss) else _mean_of(penalty(Loss.parse(loss), delta, torch.where))
    if mode is Mode.COMPILED:

        def robust_fused(w: Any, a: Any, at: Any, b: Any) -> Any:
            del a
            return reduce(fused_residual(w, at, b))

        return robust_fused

    def robust(w: Any, a: Any, at: Any, b: Any) -> Any:
        del at
        return reduce(b - a @ w)

    return robust


def _mean_of(rho: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda r: rho(r).mean()


def make_step(
    strategy: Strategy, gradient: Gradient, mode: Mode, loss: Any = Loss.MSE, delta: float = 1.0
) -> Step:
    """The step function for one strategy x gradient x mode (x loss, with autograd)."""
    if gradient is Gradient.MANUAL:
        return _FUNCTIONS[strategy, mode][1]
    loss = objective(strategy, loss, delta, mode)
    return _autograd_eager(loss) if mode is Mode.EAGER else _autograd_functional(loss)


def make_block(step: Step, steps: int) -> Callable[..., tuple[Any, Any]]:
    """``block(w, n, lr, *data)``: ``steps`` unrolled GD steps, only the first ``n`` applied.

    The mask lets one compiled block serve a last, shorter chunk without recompiling.
    """
    torch = load_torch()

    def block(w: Any, n: Any, lr: Any, *data: Any) -> tuple[Any, Any]:
        losses = []
        for j in range(steps):
            loss, grad = step(w, *data)
            w = torch.where(n > j, w - lr * grad, w)
            losses.append(loss)
        return w, torch.stack(losses)

    return block


class Compiler(StrEnum):
    """How a CPU block is compiled and called; each is a rung of the ladder."""

    DYNAMO = "dynamo"
    """``torch.compile``: dynamo checks the block's guards and wrappers on every call."""
    UNGUARDED = "unguarded"
    """``torch.compile``, guard evaluation skipped after the first call (``set_stance``)."""
    AOTI = "aoti"
    """An AOTInductor package, called without dynamo; intermediates allocated per call."""
    AOTI_STACK = "aoti-stack"
    """An AOTInductor package whose intermediates are stack arrays: no allocation per step."""


_COMPILER: ContextVar[Compiler] = ContextVar("gradpoly_torch_compiler", default=Compiler.AOTI_STACK)


@contextlib.contextmanager
def compiling_with(compiler: Compiler) -> Iterator[None]:
    """Compile CPU blocks started inside this context the given way (the ladder's rungs)."""
    token = _COMPILER.set(Compiler(compiler))
    try:
        yield
    finally:
        _COMPILER.reset(token)


@cache
def compiled_block(
    strategy: Strategy,
    gradient: Gradient,
    device: Device,
    loss: Any = Loss.MSE,
    delta: float = 1.0,
) -> Callable[..., tuple[Any, Any]]:
    """One torch.compile'd block per strategy x gradient x device x loss, reused across fits."""
    torch = load_torch()
    block = make_block(make_step(strategy, gradient, Mode.COMPILED, loss, delta), BLOCK_STEPS)
    if device is Device.CUDA:
        return torch.compile(block, mode="reduce-overhead", fullgraph=True, dynamic=False)
    return torch.compile(block, fullgraph=True, dynamic=False, options={"cpp_wrapper": True})


_PACKAGES: dict[tuple[Any, ...], Block] = {}
"""Loaded AOTInductor packages, by block and input signature (one process)."""

_BUILDS: dict[tuple[Any, ...], PendingPackage] = {}
"""Packages being built by a builder process, by the same key (one process)."""


def block_key(
    strategy: Strategy,
    gradient: Gradient,
    example: tuple[Any, ...],
    stack: bool,
    loss: Any,
    delta: float,
) -> tuple[Any, ...]:
    """A package's key in this process: its block and its inputs' shapes, strides and dtypes."""
    return (strategy, gradient, loss, delta, stack, repr(signature(example)))


def packaged_block(
    strategy: Strategy,
    gradient: Gradient,
    example: tuple[Any, ...],
    stack: bool = True,
    loss: Any = Loss.MSE,
    delta: float = 1.0,
) -> Block:
    """The block as an AOTInductor package for ``example``'s shapes, strides and dtypes, built once.

    The autograd step is traced by ``make_fx``, so the package holds torch's own derivative
    as plain operators; no dynamo runs per call. Packages of built-in losses are kept in
    gradpoly's private cache (:mod:`gradpoly.engines.aoti`), so later processes load them
    instead of compiling; a user's own loss is compiled in memory only.
    """
    key = block_key(strategy, gradient, example, stack, loss, delta)
    if key not in _PACKAGES:
        block = make_block(make_step(strategy, gradient, Mode.COMPILED, loss, delta), BLOCK_STEPS)
        _PACKAGES[key] = aoti_package(
            lambda: exported(block, example),
            stack,
            None if callable(loss) else package_key(key, example),
        )
    return _PACKAGES[key]


def package_soon(
    strategy: Strategy,
    gradient: Gradient,
    example: tuple[Any, ...],
    stack: bool = True,
    loss: Any = Loss.MSE,
    delta: float = 1.0,
) -> Block | PendingPackage:
    """The package when it is loaded or cached; else, where it can be cached, its build in a
    builder process (:mod:`gradpoly.engines.package_builds`); else built here and now."""
    key = block_key(strategy, gradient, example, stack, loss, delta)

    def build_here() -> Block:
        return packaged_block(strategy, gradient, example, stack, loss, delta)

    if key in _PACKAGES or callable(loss) or not background_builds():
        return build_here()
    if key in _BUILDS:
        return _BUILDS[key]
    stored = package_key(key, example)
    if package_paths(stored) is None:
        return build_here()
    found = cached_package(stored)
    if found is not None:
        _PACKAGES[key] = found
        return found
    request = {**stored["block"], "inputs": stored["inputs"]}

    def loaded() -> Block:  # the builder's package from the cache, or built here if it failed
        _BUILDS.pop(key, None)
        return build_here()

    _BUILDS[key] = PendingPackage(lambda: start_builder(request), loaded)
    return _BUILDS[key]


def build_requested(request_text: str) -> None:
    """A builder process's work (:func:`~gradpoly.engines.package_builds.start_builder`): the
    package a request names (its block and input signature), built and cached as a fit would."""
    request = json.loads(request_text)
    torch = load_torch()
    example = tuple(
        torch.empty_strided(
            shape, stride, dtype=getattr(torch, dtype.removeprefix("torch."))
        ).zero_()
        for shape, stride, dtype in request["inputs"]
    )
    with waiting_for_packages():
        packaged_block(
            Strategy(request["strategy"]),
            Gradient(request["gradient"]),
            example,
            bool(request["stack"]),
            Loss.parse(request["loss"]),
            float(request["delta"]),
        )


_SOURCE = hashlib.sha256(
    Path(__file__).read_bytes()
    + Path(_aoti_module.__file__).read_bytes()
    + Path(_losses_module.__file__).read_bytes()
).hexdigest()
"""The code a package is built from, as imported: an edited engine never loads an old package."""


def package_key(block: tuple[Any, ...], example: tuple[Any, ...]) -> dict[str, Any]:
    """Everything a cached package depends on: torch, the code, the block and its inputs."""
    strategy, gradient, loss, delta, stack, _ = block
    return {
        "torch": load_torch().__version__,
        "source": _SOURCE,
        "block": {
            "strategy": str(strategy),
            "gradient": str(gradient),
            "loss": str(Loss.parse(loss)),
            "delta": float(delta),
            "stack": bool(stack),
            "steps": BLOCK_STEPS,
        },
        "inputs": signature(example),
    }


class _TorchRunner:
    """Tensors on the configured device and dtype; steps eager or in compiled blocks."""

    def __init__(self, problem: Problem, config: FitConfig) -> None:
        torch = self.torch = load_torch()
        self.device = torch.device(str(config.device))
        self.dtype = getattr(torch, str(config.dtype))
        self.data = self._data(problem, config.strategy)
        self.w = torch.zeros(problem.n_coef, dtype=self.dtype, device=self.device)
        self.steps = config.steps
        self.trace = self._nan(trace_start(config.steps))
        self.lr = config.lr_value
        self.compiled = config.mode is Mode.COMPILED
        self.manual = config.gradient is Gradient.MANUAL
        self.optimizer = config.optimizer
        self.beta = config.momentum_value
        self.v = self.torch.zeros_like(self.w)
        self.loss = objective(config.strategy, config.loss, config.huber_delta)
        if callable(config.loss):
            value = self.loss(self.w, *self.data)
            check_value(value, describe(config.loss), "torch")
        self.counts: dict[int, Any] = {}
        self.compiler = Compiler.DYNAMO if config.device is Device.CUDA else _COMPILER.get()
        self.pending: PendingPackage | None = None
        self.eager_steps = 0
        if self.compiled:
            self.lr_tensor = torch.tensor(config.lr_value, dtype=self.dtype, device=self.device)
            self.block = self._block(config)
        if not self.compiled or self.pending is not None:  # eager steps, or until it is built
            self.step = make_step(
                config.strategy, config.gradient, Mode.EAGER, config.loss, config.huber_delta
            )

    def _block(self, config: FitConfig) -> Callable[..., tuple[Any, Any]]:
        """The compiled block the runner's compiler gives; a package not built yet is set
        pending (built in the background) and an eager step stands in until it is loaded."""
        if self.compiler in (Compiler.AOTI, Compiler.AOTI_STACK):
            example = (self.w, self._count(BLOCK_STEPS), self.lr_tensor, *self.data)
            stack = self.compiler is Compiler.AOTI_STACK
            soon = package_soon(
                config.strategy, config.gradient, example, stack, config.loss, config.huber_delta
            )
            if isinstance(soon, PendingPackage):
                self.pending = soon
                return lambda *args: soon.wait()(*args)
            return soon
        safe_inductor_folder()  # torch.compile builds and loads its libraries there
        block = compiled_block(
            config.strategy, config.gradient, config.device, config.loss, config.huber_delta
        )
        if self.compiler is Compiler.UNGUARDED:  # one guarded call (no step applied) first
            block(self.w, self._count(0), self.lr_tensor, *self.data)
        return block

    def _tensor(self, values: Any) -> Any:
        """Row-major on the device (a Chebyshev design arrives column-major from NumPy)."""
        array = np.asarray(values, order="C")  # (ascontiguousarray would make a scalar 1-d)
        return self.torch.as_tensor(array, dtype=self.dtype, device=self.device)

    def _data(self, problem: Problem, strategy: Strategy) -> tuple[Any, ...]:
        if strategy is Strategy.GRAM:
            g, c, s = problem.gram.one()
            return self._tensor(g), self._tensor(c), self._tensor(s)
        a, b = problem.design(np.float64)
        a_t = self._tensor(a)
        return a_t, a_t.T.contiguous(), self._tensor(b)

    def _advance_eager(self, start: int, stop: int) -> None:
        step, data, w, trace, lr = self.step, self.data, self.w, self.trace, self.lr
        # inference_mode is cheaper than no_grad, but autograd steps need a graph inside.
        context = self.torch.inference_mode if self.manual else self.torch.no_grad
        with context():
            for k in range(start, stop):
                loss, grad = step(w, *data)
                w = w - lr * grad
                trace[k] = loss
        self.w = w

    def _advance_momentum(self, start: int, stop: int) -> None:
        """Heavy ball or Nesterov, eager: ``v = beta v - lr grad(point)``, ``w = w + v``."""
        step, data, w, v, trace, lr, beta = (
            self.step,
            self.data,
            self.w,
            self.v,
            self.trace,
            self.lr,
            self.beta,
        )
        loss_only = self.loss
        nesterov = self.optimizer is Optimizer.NESTEROV
        context = self.torch.inference_mode if self.manual else self.torch.no_grad
        with context():
            for k in range(start, stop):
                if nesterov:
                    trace[k] = loss_only(w, *data)  # the trace records mse(w_k)
                    _, grad = step(updates.lookahead(self.optimizer, w, v, beta), *data)
                else:
                    loss, grad = step(w, *data)
                    trace[k] = loss
                w, v = updates.advance(w, v, grad, lr, beta)
        self.w, self.v = w, v

    def _advance_pending(self, start: int, stop: int) -> int:
        """Eager steps from ``start`` until the package is loaded or ``stop``; where they ended."""
        while self.pending is not None and start < stop:
            block = self.pending.ready()
            if block is not None:
                self.block, self.pending = block, None
                break
            end = min(stop, start + EAGER_SLICE)
            self._advance_eager(start, end)
            self.eager_steps += end - start
            start = end
        return start

    def _advance_compiled(self, start: int, stop: int) -> None:
        start = self._advance_pending(start, stop)
        torch, block, data, w, lr = self.torch, self.block, self.data, self.w, self.lr_tensor
        cuda = self.device.type == "cuda"
        trace = self.trace
        limits = torch._dynamo.config.patch(recompile_limit=256, fail_on_recompile_limit_hit=True)
        with limits, self._stance():
            for k in range(start, stop, BLOCK_STEPS):
                n = min(BLOCK_STEPS, stop - k)
                if cuda:
                    torch.compiler.cudagraph_mark_step_begin()
                w, block_losses = block(w, self._count(n), lr, *data)
                if cuda:
                    w = w.clone()  # a replay overwrites its outputs, w included
                # copied at once: a stack package returns the same memory on every call
                trace[k : k + n] = block_losses[:n] if n < BLOCK_STEPS else block_losses
        # a stack package's w is its own memory until the next call: keep a copy
        self.w = w.clone() if self.compiler is Compiler.AOTI_STACK else w

    def _stance(self) -> contextlib.AbstractContextManager[Any]:
        """Skip dynamo's guard evaluation (the unguarded rung; its block ran once at start)."""
        if self.compiler is Compiler.UNGUARDED:
            return self.torch.compiler.set_stance("default", skip_guard_eval_unsafe=True)
        return contextlib.nullcontext()

    def _count(self, n: int) -> Any:
        """A cached 0-d tensor holding ``n``, the number of active steps of a block."""
        if n not in self.counts:
            self.counts[n] = self.torch.tensor(n, device=self.device)
        return self.counts[n]

    def _nan(self, n: int) -> Any:
        return self.torch.full((n,), self.torch.nan, dtype=self.dtype, device=self.device)

    def advance(self, start: int, stop: int) -> float:
        self.trace = trace_room(self.trace, stop, self.steps, self._nan)
        if self.compiled:
            self._advance_compiled(start, stop)
        elif self.optimizer is not Optimizer.GD:
            self._advance_momentum(start, stop)
        else:
            self._advance_eager(start, stop)
        return float(self.trace[stop - 1].item())

    def notes(self) -> dict[str, str]:
        if not self.eager_steps:
            return {}
        return {
            "eager_steps": f"{self.eager_steps}: run eager while the compiled package was "
            "built in the background (it is cached for later fits)"
        }

    def current(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.w.detach().to("cpu", self.torch.float64).numpy())

    def finish(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        w = self.w.detach().to("cpu", self.torch.float64).numpy()
        trace = self.trace.to("cpu", self.torch.float64).numpy()
        return w, trace


@register
class TorchEngine(LoopEngine):
    """PyTorch; ``device="cuda"`` needs a CUDA build and a GPU."""

    name = "torch"
    library = TORCH
    gradients = (Gradient.MANUAL, Gradient.AUTOGRAD)
    devices = (Device.CPU, Device.CUDA)
    modes = (Mode.EAGER, Mode.COMPILED)
    strategies = (Strategy.PER_SAMPLE, Strategy.GRAM)
    optimizers = (Optimizer.GD, Optimizer.MOMENTUM, Optimizer.NESTEROV)

    def unsupported(self, config: FitConfig) -> str | None:
        if config.mode is Mode.COMPILED and config.optimizer is not Optimizer.GD:
            return "engine torch compiles only optimizer gd; use mode eager for momentum/nesterov"
        return super().unsupported(config)

    def device_availability(self, device: Device) -> Availability:
        return cuda_availability() if device is Device.CUDA else Availability(True)

    def device_name(self, config: FitConfig) -> str:
        if config.device is Device.CUDA:
            return str(load_torch().cuda.get_device_name())
        return "cpu"

    def start(self, problem: Problem, config: FitConfig) -> Runner:
        return _TorchRunner(problem, config)
