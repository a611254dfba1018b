"""The Engine protocol and the loop every engine shares.

An engine supplies only what differs: a :class:`Runner` that advances the GD loop by a
chunk of steps on its own device. Everything else — option checks, the divergence check,
timing with a device sync, the progress callback and assembling the FitResult — is written
once here, in :func:`run_loop` and :class:`LoopEngine`.
"""

from __future__ import annotations

import importlib
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from types import ModuleType
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from gradpoly.errors import (
    ConvergenceWarning,
    DivergenceError,
    EngineUnavailableError,
    GradpolyError,
    InvalidDataError,
    InvalidOptionError,
    warn,
)
from gradpoly.losses import describe
from gradpoly.options import (
    AUTO,
    Basis,
    Device,
    FitConfig,
    Gradient,
    Mode,
    Optimizer,
    Strategy,
)
from gradpoly.problem import ONE, Problem, finite_coefficients, warn_unrepresentable
from gradpoly.rates import stable_limit
from gradpoly.result import FitResult

Progress = Callable[[int], None]
"""Called with the number of steps done so far, after each chunk."""

CHUNK_STEPS = 1000
"""Steps between divergence checks and progress updates (one device sync each)."""

TOL_CHUNK_STEPS = 50
"""Steps between convergence checks when ``tol`` is set: the stop lands within 50 steps."""

TRACE_START = 4096
"""Trace entries allocated at the start; the trace grows (doubling) with the steps run."""


def trace_room(trace: Any, stop: int, steps: int, full: Callable[[int], Any]) -> Any:
    """``trace``, or a longer copy (made by ``full(n)``) with room for entries up to ``stop``.

    Memory follows the steps run, not the steps asked for: a fit that stops early by ``tol``
    never allocates a trace for all of ``steps``.
    """
    if stop <= len(trace):
        return trace
    bigger = full(min(steps, max(stop, 2 * len(trace))))
    bigger[: len(trace)] = trace
    return bigger


def trace_start(steps: int) -> int:
    """The trace length to allocate before the first step."""
    return min(steps, TRACE_START)


RISE_TOLERANCE = 1e-3
"""A loss above ``(1 + RISE_TOLERANCE) * mse(0)`` means divergence: stable GD never rises."""


@dataclass(frozen=True)
class Availability:
    """Whether a configuration can run here, and if not, why (a sentence a user can act on)."""

    ok: bool
    reason: str = ""


@cache
def _import_module(name: str, extra: str) -> ModuleType | str:
    """The module, or a sentence saying it is missing and how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        hint = f"pip install -c constraints.txt 'gradpoly[{extra}]'"
        return f"{name} is not installed ({exc}); install it with: {hint}"


@dataclass(frozen=True)
class OptionalLibrary:
    """An engine's optional array library: imported on first use; its absence is a reason."""

    name: str
    extra: str

    def module_or_reason(self) -> ModuleType | str:
        """The imported module, or why it cannot be imported."""
        return _import_module(self.name, self.extra)

    def load(self) -> Any:
        """The module, or EngineUnavailableError with the install command."""
        module = self.module_or_reason()
        if isinstance(module, str):
            raise EngineUnavailableError(module)
        return module

    def availability(self) -> Availability:
        """Available, or not with the reason."""
        module = self.module_or_reason()
        return Availability(False, module) if isinstance(module, str) else Availability(True)

    def version(self) -> str:
        """The installed version, empty when missing."""
        module = self.module_or_reason()
        return "" if isinstance(module, str) else str(module.__version__)


class Runner(Protocol):
    """One fit in progress, its state (w, trace) kept on the engine's device."""

    def advance(self, start: int, stop: int) -> float:
        """Run steps ``start..stop-1``, store their losses in the device trace, return the last."""
        ...

    def current(self) -> npt.NDArray[np.float64]:
        """The coefficients now (a small copy back), for the ``tol`` stopping test."""
        ...

    def notes(self) -> dict[str, str]:
        """What the result's ``environment`` should say about how this fit ran, beyond the
        engine and device (e.g. steps run eager while a compiled package was built)."""
        ...

    def finish(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Synchronize and copy back ``(w, trace)`` once, as float64 arrays."""
        ...


class Engine(Protocol):
    """What the registry, the CLI and the benchmarks know of an engine."""

    name: ClassVar[str]
    gradients: ClassVar[tuple[Gradient, ...]]
    devices: ClassVar[tuple[Device, ...]]
    modes: ClassVar[tuple[Mode, ...]]
    strategies: ClassVar[tuple[Strategy, ...]]
    optimizers: ClassVar[tuple[Optimizer, ...]]

    def unsupported(self, config: FitConfig) -> str | None:
        """The first option of ``config`` this engine lacks, as a sentence, or None."""
        ...

    def availability(self, config: FitConfig) -> Availability:
        """Whether ``config`` can run on this machine, with the reason when it cannot."""
        ...

    def version(self) -> str:
        """Version of the array library behind the engine."""
        ...

    def fit(
        self, problem: Problem, config: FitConfig, progress: Progress | None = None
    ) -> FitResult:
        """Run the GD loop of DESIGN.md on ``problem`` as ``config`` says."""
        ...


class LoopEngine(ABC):
    """Base of engines that run the GD loop in chunks through a :class:`Runner`."""

    name: ClassVar[str]
    gradients: ClassVar[tuple[Gradient, ...]] = (Gradient.MANUAL,)
    devices: ClassVar[tuple[Device, ...]] = (Device.CPU,)
    modes: ClassVar[tuple[Mode, ...]] = (Mode.EAGER,)
    strategies: ClassVar[tuple[Strategy, ...]] = (Strategy.PER_SAMPLE,)
    optimizers: ClassVar[tuple[Optimizer, ...]] = (Optimizer.GD,)
    library: ClassVar[OptionalLibrary | None] = None
    """The optional library behind the engine; None when it needs only NumPy."""

    @abstractmethod
    def start(self, problem: Problem, config: FitConfig) -> Runner:
        """Put the data on the device and return a runner at step 0 (w = 0)."""

    def version(self) -> str:
        """Version of the array library behind the engine."""
        return self.library.version() if self.library else np.__version__

    def chunk_steps(self, config: FitConfig) -> int:
        """Steps per chunk between checks; engines with costly calls raise it."""
        return TOL_CHUNK_STEPS if config.tol is not None else CHUNK_STEPS

    def device_name(self, config: FitConfig) -> str:
        """Human name of the device ``config`` runs on."""
        return str(config.device)

    def library_availability(self) -> Availability:
        """Whether the engine's optional library imports."""
        return self.library.availability() if self.library else Availability(True)

    def device_availability(self, device: Device) -> Availability:
        """Whether ``device`` exists here; CPU always does."""
        if device is Device.CPU:
            return Availability(True)
        return Availability(False, f"engine {self.name} has no {device} device")

    def unsupported(self, config: FitConfig) -> str | None:
        """The first option of ``config`` this engine lacks, as a sentence, or None (a loss
        other than MSE first: it is why autograd is needed)."""
        if not config.is_mse:
            problem = self.unsupported_loss(config)
            if problem:
                return problem
        for option, supported in (
            ("gradient", self.gradients),
            ("device", self.devices),
            ("mode", self.modes),
            ("strategy", self.strategies),
            ("optimizer", self.optimizers),
        ):
            value = getattr(config, option)
            if value not in supported:
                have = ", ".join(str(s) for s in supported)
                return f"engine {self.name} does not support {option} {value!s} (it has: {have})"
        return None

    def unsupported_loss(self, config: FitConfig) -> str | None:
        """Why a loss other than MSE cannot run, or None: it needs autograd, per-sample."""
        loss = describe(config.loss)
        if Gradient.AUTOGRAD not in self.gradients:
            return (
                f"loss {loss} needs autograd, which engine {self.name} lacks: "
                "use engine torch or jax with gradient autograd"
            )
        if config.gradient is not Gradient.AUTOGRAD:
            return f"loss {loss} has no hand-written gradient: use gradient autograd"
        if config.strategy is not Strategy.PER_SAMPLE:
            return f"strategy {config.strategy} computes only the MSE: use per-sample for {loss}"
        return None

    def availability(self, config: FitConfig) -> Availability:
        """Options supported, library importable, device present — the first failure wins."""
        problem = self.unsupported(config)
        if problem:
            return Availability(False, problem)
        library = self.library_availability()
        if not library.ok:
            return library
        return self.device_availability(config.device)

    def check(self, config: FitConfig) -> None:
        """Raise InvalidOptionError or EngineUnavailableError when ``config`` cannot run."""
        problem = self.unsupported(config)
        if problem:
            raise InvalidOptionError(problem)
        available = self.availability(config)
        if not available.ok:
            raise EngineUnavailableError(available.reason)

    def fit(
        self, problem: Problem, config: FitConfig, progress: Progress | None = None
    ) -> FitResult:
        """Check, then run the shared chunked loop with this engine's runner."""
        self.check(config)
        if config.lr != AUTO:
            return run_loop(self, problem, config, progress)
        lr, beta = problem.auto_parameters(config.optimizer)
        momentum = beta if config.momentum is None else config.momentum
        result = run_loop(self, problem, replace(config, lr=lr, momentum=momentum), progress)
        return replace(result, config=config, lr=lr, momentum=momentum)


def _y_scaling(problem: Problem, config: FitConfig) -> tuple[float, FitConfig]:
    """The exact power-of-two scale of y this loss allows, and the config to run on y / s.

    MSE and Huber (with delta / s) follow exactly s times the trajectory of y / s; L1 and a
    user's callable do not scale, so they run on y as given.
    """
    scale = problem.y_scale
    if scale == 1.0 or callable(config.loss) or str(config.loss) not in ("mse", "huber"):
        return 1.0, config
    delta = config.huber_delta / scale
    if not (math.isfinite(delta) and delta > 0):  # Huber's delta cannot follow: run unscaled
        return 1.0, config
    return scale, replace(config, huber_delta=delta)


def run_loop(
    engine: LoopEngine, problem: Problem, config: FitConfig, progress: Progress | None = None
) -> FitResult:
    """Drive a runner through ``config.steps`` in chunks, watching for divergence.

    Before any step: data that overflow the dtype, and (for the MSE) a fixed lr at or above
    the optimizer's stability limit, are refused. After each chunk the last loss is read (one
    device sync): a non-finite loss, or for plain GD one above ``mse(0)`` (see
    :func:`_rise_limit`), stops the loop with a DivergenceError. With ``tol`` set, the loop
    stops at the first chunk end where the estimated coefficient error is at most ``tol``. The
    clock covers the loop and the single copy back of the trace. y far from 1 is scaled by a
    power of two (exact) so no dtype overflows; data that no scaling saves is refused.
    """
    scale, inner_config = _y_scaling(problem, config)
    inner = problem.scaled(scale)
    trouble = inner.trouble(str(config.dtype))
    if trouble is not None:
        raise InvalidDataError(trouble)
    if config.lr_value > float(np.finfo(np.dtype(str(config.dtype))).max):
        stable = stable_limit(config.optimizer, config.momentum_value, problem.lambda_max)
        raise DivergenceError(
            0, math.inf, config.lr_value, stable, f"lr={config.lr_value:g} overflows {config.dtype}"
        )
    _refuse_unstable(problem, config)
    start_loss = inner.loss_at_zero(inner_config)
    if start_loss is not None and not math.isfinite(start_loss * scale * scale):
        top = problem.y_reach
        raise InvalidDataError(
            f"y reaches {top:.3g}: its mean squared error is beyond float64, so the loss trace "
            f"cannot be reported; divide y by {10.0 ** round(math.log10(top)):.0e} "
            "(the fitted coefficients scale with y)"
        )
    with _user_loss_errors(config):
        return _drive(engine, problem, inner, config, inner_config, scale, start_loss, progress)


@contextmanager
def _user_loss_errors(config: FitConfig) -> Iterator[None]:
    """With a user's loss callable, whatever it (or autograd through it) raises is reported
    as an InvalidOptionError naming the loss, not as a traceback from inside the engine."""
    if not callable(config.loss):
        yield
        return
    try:
        yield
    except GradpolyError:
        raise
    except Exception as exc:
        first = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise InvalidOptionError(
            f"loss {describe(config.loss)} failed in engine {config.engine} "
            f"({type(exc).__name__}: {first}); it must map the residuals to a scalar with "
            "the engine's own differentiable operations"
        ) from exc


def _drive(
    engine: LoopEngine,
    problem: Problem,
    inner: Problem,
    config: FitConfig,
    inner_config: FitConfig,
    scale: float,
    start_loss: float | None,
    progress: Progress | None,
) -> FitResult:
    """The loop of :func:`run_loop` on the scaled problem ``inner``; results in y's units."""
    t0 = time.perf_counter()
    runner = engine.start(inner, inner_config)
    t1 = time.perf_counter()
    limit = _rise_limit(config, start_loss)
    done, chunk = 0, engine.chunk_steps(config)
    every = "its single step" if config.steps == 1 else f"all {config.steps:,} steps"
    status, reason = "completed", f"ran {every}"
    while done < config.steps:
        stop = min(done + chunk, config.steps)
        last = runner.advance(done, stop)
        if not math.isfinite(last) or last > limit:
            _, trace = runner.finish()
            if done == 0 and not math.isfinite(float(trace[0])):
                _refuse_start(inner, config, float(trace[0]))
            raise _divergence(trace[:stop], limit, problem, config)
        done = stop
        if progress is not None:
            progress(done)
        if config.tol is not None:
            now = runner.current() * scale
            if problem.meets(now, config.tol, config.dtype.value):
                status, reason = _stop_at_tol(problem, now, config, done)
                break
    basis_coef, trace = runner.finish()
    seconds = time.perf_counter() - t1
    loss = inner.mse(basis_coef) if problem.basis is not Basis.MONOMIAL else 0.0
    basis_coef = basis_coef * scale
    coef = finite_coefficients(problem.to_monomial(basis_coef), problem)
    if problem.basis is not Basis.MONOMIAL:  # lstsq's and fit_many's check, on this fit
        with np.errstate(over="ignore"):  # a loss beyond float64 is inf, as the batched fits'
            final = np.array([loss]) * scale * scale
        doms = np.array([problem.domain])
        w = problem.expand(basis_coef)[None]
        warn_unrepresentable(coef[None], w, doms, problem.basis, ONE, final, one=True)
    norm = problem.relative_gradient_norm(basis_coef)
    error = problem.coef_error(basis_coef)
    if status in ("converged", FLOOR) and not problem.meets(
        basis_coef,
        config.tol,  # type: ignore[arg-type]
        config.dtype.value,
    ):
        status, reason = "completed", f"stopped after {done} steps; {reason} no longer holds"
    if status == FLOOR:
        warn(f"the fit did not converge: {reason}", ConvergenceWarning)
    stats_coef = None if problem.moments is None else problem.stats_coef(basis_coef)
    return FitResult(
        coef=coef,
        trace=trace[:done] * scale * scale,
        status=status,
        stop_reason=reason,
        gradient_norm=norm,
        coef_error=error,
        moments=problem.moments,
        stats_coef=stats_coef,
        residual_sums=None if stats_coef is None else problem.residual_sums(stats_coef),
        seconds=seconds,
        setup_seconds=t1 - t0,
        config=config,
        environment={
            "engine_version": engine.version(),
            "device_name": engine.device_name(config),
            **runner.notes(),
        },
        basis=problem.basis,
        domain=None if problem.basis is Basis.MONOMIAL else problem.domain,
        basis_coef=problem.expand(basis_coef),
    )


FLOOR = "floor"
"""The status of a loop stopped at its precision's rounding floor: not converged (the floor
is a reason to stop, never a claim of accuracy); ``stop_reason`` gives the floor and tol."""


def _stop_at_tol(problem: Problem, coef: Any, config: FitConfig, done: int) -> tuple[str, str]:
    """Why ``tol`` stopped the loop: the error met it (converged), or it reached the dtype's
    rounding floor (stopped there, not converged).

    The estimate is computed in float64 at the coefficients reached, whatever the loop's
    dtype, so it measures them; but where float64's own rounding of the gradient (its floor
    at ``coef``) exceeds tol, the estimate can read 0 or anything below it, and cannot
    confirm tol: converged needs both below tol.
    """
    error = problem.coef_error(coef)
    tol = float(config.tol)  # type: ignore[arg-type]
    if problem.converged(coef, tol):
        return (
            "converged",
            f"estimated coefficient error {error:.3g} <= tol {tol:g} after {done:,} steps",
        )
    floor = problem.error_floor(coef, config.dtype.value)
    confirmable = problem.error_floor(coef, "float64")
    if not problem.resolved:
        why = (
            f"estimated coefficient error {error:.3g}, but the Hessian's condition number "
            f"{problem.condition_number:.3g} is beyond what float64 resolves, so the "
            "coefficients along its flattest directions are not determined"
        )
    elif error > tol:
        why = f"estimated coefficient error {error:.3g} > tol {tol:g}"
    else:
        why = (
            f"estimated coefficient error {error:.3g}, but float64 cannot confirm an error "
            f"below {confirmable:.3g} here (tol {tol:g})"
        )
    return FLOOR, (
        f"stopped at {config.dtype.value}'s rounding floor ({floor:.3g}) after {done:,} steps: "
        f"{why}; {_floor_advice(problem, config)}"
    )


def _floor_advice(problem: Problem, config: FitConfig) -> str:
    """What lowers a floor: the closed form always; float64 and a mapped basis where unused."""
    remedies = ["gradpoly.lstsq gives the closed form"]
    if config.dtype.value != "float64":
        remedies.append("dtype='float64' lowers the floor")
    if problem.basis is Basis.MONOMIAL:
        remedies.append("basis='chebyshev' conditions the fit")
    return "; ".join(remedies)


MOMENTUM_OVERSHOOT = 1e4
"""With momentum and a loss other than the MSE, a loss this many times the start's is taken as
divergence: heavy ball and Nesterov overshoot early, so "above the start" proves nothing."""


def _refuse_unstable(problem: Problem, config: FitConfig) -> None:
    """For the MSE the stability of a fixed lr is known before any step: refuse it then."""
    if not config.is_mse:
        return
    lr = config.lr_value
    stable = stable_limit(config.optimizer, config.momentum_value, problem.lambda_max)
    if lr >= stable:
        raise DivergenceError(
            0,
            math.inf,
            lr,
            stable,
            f"lr={lr:g} is at or above the stability limit of {config.optimizer} on this data, "
            "so the loss would grow without bound",
        )


def _rise_limit(config: FitConfig, start_loss: float | None) -> float:
    """The loss above which a running fit counts as diverging.

    Plain GD with a stable step never rises, so anything above ``mse(0)`` (plus rounding) is
    divergence. Momentum legitimately overshoots: for the MSE its stability was proven up
    front (only a non-finite loss stops it); for other losses a rise by
    :data:`MOMENTUM_OVERSHOOT` does.
    """
    if start_loss is None:
        return math.inf
    if config.optimizer is Optimizer.GD:
        return (1.0 + RISE_TOLERANCE) * start_loss
    return math.inf if config.is_mse else MOMENTUM_OVERSHOOT * max(start_loss, 1e-300)


def _refuse_start(problem: Problem, config: FitConfig, loss: float) -> None:
    """The loss at w = 0 is not finite in the engine: a bad callable, or the dtype overflows."""
    if callable(config.loss):
        raise InvalidOptionError(
            f"loss {describe(config.loss)} returned {loss} at w = 0; it must be finite"
        )
    raise InvalidDataError(
        f"the loss at w = 0 is {loss} in {config.dtype}: the data overflow that precision; "
        "use dtype='float64' or rescale x and y"
    )


def _divergence(
    trace: np.ndarray, limit: float, problem: Problem, config: FitConfig
) -> DivergenceError:
    """The error for a loss that rose or became non-finite: the step, and checked advice."""
    bad = np.flatnonzero(~np.isfinite(trace) | (trace > limit))
    step = int(bad[0]) if bad.size else int(trace.size - 1)
    lr = config.lr_value
    stable = stable_limit(config.optimizer, config.momentum_value, problem.lambda_max)
    return DivergenceError(step=step, loss=float(trace[step]), lr=lr, lr_max=stable)
