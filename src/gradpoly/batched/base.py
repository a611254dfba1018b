"""What a batched backend supplies, and the descent step every backend shares.

``fit_many`` / ``lstsq_many`` talk only to a :class:`BatchBackend`: it builds B series' Gram
statistics on its own device and runs their gradient descent. The GD update itself is
written once, in :func:`step`, against the array namespace (``numpy``, ``torch``,
``jax.numpy``) each backend passes in, so every backend follows the same trajectory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from gradpoly import monotone, updates
from gradpoly.batched.batch import Batch, FloatArray, domains_of
from gradpoly.batched.shared import NUMPY, shared_statistics
from gradpoly.engines.base import Availability, OptionalLibrary
from gradpoly.gram import Gram
from gradpoly.losses import Loss
from gradpoly.options import Basis, Device, Optimizer


@dataclass(frozen=True, eq=False)
class Plan:
    """How to descend: per-series rate and momentum, steps, the stop test, the loss."""

    steps: int
    rate: FloatArray
    beta: FloatArray
    tol: float | None
    nesterov: bool
    traces: bool
    loss: Loss = Loss.MSE
    delta: float = 1.0
    autograd: bool = False
    """Differentiate the loss with the library's autograd instead of the written gradient."""
    tol_scale: FloatArray | None = None
    """Per series ``(tol * lambda_min)^2`` (Hessian's, clamped): a series stops once
    ``|grad|^2 <= tol_scale |w|^2``, i.e. its estimated coefficient error is at most tol."""

    @property
    def is_mse(self) -> bool:
        """True when the loss is the MSE, which the Gram statistics give exactly."""
        return self.loss is Loss.MSE


@dataclass(frozen=True, eq=False)
class Descent:
    """Where the descent ended: coefficients, steps each series ran, still-active flags."""

    w: FloatArray
    steps_run: npt.NDArray[np.int64]
    active: npt.NDArray[np.bool_]
    trace: FloatArray | None
    final: FloatArray | None = None
    """Each series' loss at ``w`` when it is not the MSE (the MSE comes from the Gram stats)."""


class Reweighting(NamedTuple):
    """IRLS of B series under way (:mod:`gradpoly.many.robust`), arrays a fused loop reads and
    updates in place: each series' points, current residuals, weights and scale (NaN: not
    started, the least-squares fit's residuals in), the stopping rule's deviance, the fits
    run, whether it converged, and whether it still runs."""

    x: FloatArray
    y: FloatArray
    used: npt.NDArray[np.bool_]
    residuals: FloatArray
    weights: FloatArray
    scale: FloatArray
    deviance: FloatArray
    iterations: npt.NDArray[np.int64]
    converged: npt.NDArray[np.bool_]
    active: npt.NDArray[np.bool_]
    h1: FloatArray
    """(B, 3): :func:`gradpoly.robust.h1_sums` of the series a fused loop finished (NaN
    elsewhere)."""


class BatchBackend(Protocol):
    """One array library's batched statistics and descent; see :mod:`gradpoly.batched`."""

    name: ClassVar[str]
    devices: ClassVar[tuple[Device, ...]]
    autograd: ClassVar[bool]
    """Whether the library differentiates: gradient="autograd" and losses other than MSE."""

    def availability(self, device: Device) -> Availability:
        """Whether this backend runs on ``device`` here, with the reason when it cannot."""
        ...

    def version(self) -> str:
        """Version of the array library behind the backend."""
        ...

    def statistics(self, batch: Batch, degree: int, basis: Basis, device: Device) -> Gram:
        """Domains and Gram statistics of every series in ``batch``, as float64 NumPy arrays."""
        ...

    def arrays(self, device: Device) -> Any:
        """The array library for shared-axis matrix products (:mod:`gradpoly.batched.shared`)."""
        ...

    def shared(
        self,
        x: FloatArray,
        y: FloatArray,
        weights: FloatArray | None,
        degree: int,
        basis: Basis,
        device: Device,
    ) -> Any:
        """Statistics of B series on the axis x (N,): a ``shared.SharedGram``."""
        ...

    def descend(
        self, batch: Batch, gram: Gram, basis: Basis, plan: Plan, device: Device
    ) -> Descent:
        """Run ``plan`` from w = 0 for every series; MSE on ``gram``, other losses on ``batch``."""
        ...

    def reweight(
        self, state: Reweighting, size: int, norm: str, tuning: float, tolerance: float, limit: int
    ) -> None:
        """Run IRLS to its end for the active series this backend can take in one fused loop."""
        ...

    def shapes(self, count: int) -> monotone.Shapes:
        """Who runs the batched steps of ``count`` monotone fits."""
        ...


class BatchEngine(ABC):
    """What every batched backend shares: availability, version, the statistics' bookkeeping.

    A backend names its library and devices and writes two methods: :meth:`fill` (the
    statistics of a batch, into arrays allocated here) and :meth:`descend`.
    """

    name: ClassVar[str]
    devices: ClassVar[tuple[Device, ...]] = (Device.CPU,)
    autograd: ClassVar[bool] = False
    library: ClassVar[OptionalLibrary | None] = None
    """The optional library behind the backend; None when it needs only NumPy."""

    def availability(self, device: Device) -> Availability:
        """Device declared, library importable, device present: the first failure wins."""
        if device not in self.devices:
            have = ", ".join(str(d) for d in self.devices)
            return Availability(
                False, f"batched engine {self.name} has no {device} device (it has: {have})"
            )
        if self.library is not None:
            library = self.library.availability()
            if not library.ok:
                return library
        return self.device_availability(device)

    def device_availability(self, device: Device) -> Availability:
        """Whether a declared device exists here; the CPU always does."""
        return Availability(True)

    def version(self) -> str:
        """Version of the array library behind the backend."""
        return self.library.version() if self.library is not None else np.__version__

    def statistics(self, batch: Batch, degree: int, basis: Basis, device: Device) -> Gram:
        """Each series' domain, then its G, c, s written by :meth:`fill`."""
        count, size = batch.size, degree + 1
        out = Gram(
            np.empty((count, size, size)),
            np.empty((count, size)),
            np.empty(count),
            self.domains(batch),
        )
        self.fill(batch, degree, basis, device, out)
        if basis is Basis.MONOMIAL:
            out.domains[:] = np.nan  # monomials are not mapped
        return out

    def domains(self, batch: Batch) -> FloatArray:
        """(B, 2) domain of each series, found before :meth:`fill` (a backend that finds them
        inside its own pass returns room for them instead)."""
        return domains_of(batch.x, batch.w)

    def arrays(self, device: Device) -> Any:
        """NumPy (its BLAS) for the shared-axis products; device libraries override this."""
        return NUMPY

    def shared(
        self,
        x: FloatArray,
        y: FloatArray,
        weights: FloatArray | None,
        degree: int,
        basis: Basis,
        device: Device,
    ) -> Any:
        """Statistics of series on one axis (:func:`gradpoly.batched.shared.shared_statistics`
        in this backend's array library)."""
        return shared_statistics(self.arrays(device), x, y, weights, degree, basis)

    @abstractmethod
    def fill(self, batch: Batch, degree: int, basis: Basis, device: Device, out: Gram) -> None:
        """Write every series' ``G``, ``c``, ``s`` into ``out`` (its domains are set)."""

    @abstractmethod
    def descend(
        self, batch: Batch, gram: Gram, basis: Basis, plan: Plan, device: Device
    ) -> Descent:
        """Run ``plan`` from w = 0 for every series; MSE on ``gram``, other losses on ``batch``."""

    def shapes(self, count: int) -> monotone.Shapes:
        """Who runs the batched steps of ``count`` monotone fits (:mod:`gradpoly.monotone`):
        NumPy here; a backend that compiles them overrides this."""
        return monotone.NUMPY

    def reweight(
        self, state: Reweighting, size: int, norm: str, tuning: float, tolerance: float, limit: int
    ) -> None:
        """Run IRLS to its end, in one fused loop, for the active series this backend takes
        (degree ``size - 1``, ``norm`` and ``tuning`` of :mod:`gradpoly.robust`): those finish
        and are no longer active. Here none: the caller's batched loop runs every series."""
        return None


def matvec(g: Any, w: Any) -> Any:
    """Batched ``G_b w_b`` as a matmul (much faster than einsum for small matrices)."""
    return (g @ w[..., None])[..., 0]


class State(NamedTuple):
    """The descent's state for all series: position, velocity, gradient at w, who still runs."""

    w: Any
    v: Any
    grad_w: Any
    active: Any
    steps_run: Any


class Objective(NamedTuple):
    """Per-series loss values (B,) and gradients (B, D+1) of a batch of coefficients.

    ``subset(index)`` gives the same objective for the series ``index`` only, so a descent
    can drop the series that have stopped.
    """

    value: Callable[[Any], Any]
    gradient: Callable[[Any], Any]
    subset: Callable[[Any], Objective] | None = None


def gram_objective(
    g: Any,
    c: Any,
    s: Any,
    matvec: Callable[[Any, Any], Any],
    grad_of: Callable[[Callable[[Any], Any]], Callable[[Any], Any]] | None = None,
) -> Objective:
    """The MSE of every series from its Gram statistics: O(D^2) per series and step.

    The gradient is the written ``2 (G w - c)``, or ``grad_of`` (the library's autograd)
    applied to the summed losses when given.
    """

    def value(w: Any) -> Any:
        return s - 2.0 * (c * w).sum(-1) + (w * matvec(g, w)).sum(-1)

    def gradient(w: Any) -> Any:
        return 2.0 * (matvec(g, w) - c)

    def subset(index: Any) -> Objective:
        return gram_objective(g[index], c[index], s[index], matvec, grad_of)

    if grad_of is not None:
        return Objective(value, grad_of(lambda w: value(w).sum()), subset)
    return Objective(value, gradient, subset)


class Rates(NamedTuple):
    """Per-series step size and momentum as (B, 1) arrays in the backend's type."""

    rate: Any
    beta: Any
    nesterov: bool


def start_state(xp: Any, objective: Objective, zeros: Any, active: Any) -> State:
    """w = v = 0 for every series, with the gradient at 0 and no steps run."""
    return State(zeros, zeros, objective.gradient(zeros), active, xp.zeros_like(active, dtype=int))


def eager_descent(
    xp: Any,
    state: State,
    objective: Objective,
    rates: Rates,
    tol2: Any,
    plan: Plan,
    check_every: int = 1,
) -> tuple[State, list[Any]]:
    """The descent as a Python loop of library calls; stops once every series has stopped.

    ``check_every`` spaces the "all stopped?" test, which syncs a device. Returns the final
    state and, with ``plan.traces``, the per-step losses (B,) before each step.
    """
    losses = []
    for k in range(plan.steps):
        if plan.traces:
            losses.append(objective.value(state.w))
        state = step(xp, state, objective, rates, tol2)
        if tol2 is None or (k + 1) % check_every:
            continue
        running = int(state.active.sum())
        if running == 0:
            break
        size = int(state.active.shape[0])
        if objective.subset is not None and running <= COMPACT_FRACTION * size:
            # Continue on the running series alone, then write them back into the batch.
            index = xp.where(state.active)[0]
            part, tail = eager_descent(
                xp,
                State(*(field[index] for field in state)),
                objective.subset(index),
                Rates(rates.rate[index], rates.beta[index], rates.nesterov),
                tol2[index],
                replace(plan, steps=plan.steps - k - 1),
                check_every,
            )
            frozen = objective.value(state.w) if tail else None  # stopped series keep theirs
            pairs = zip(state, part, strict=True)
            merged = State(*(_put(whole, index, piece) for whole, piece in pairs))
            return merged, losses + [_put(frozen, index, piece) for piece in tail]
    return state, losses


def _put(whole: Any, index: Any, piece: Any) -> Any:
    """A copy of ``whole`` with ``piece`` at ``index`` (NumPy arrays and torch tensors)."""
    clone = getattr(whole, "clone", None)
    merged = clone() if callable(clone) else whole.copy()  # w and v may share one array
    merged[index] = piece
    return merged


COMPACT_FRACTION = 0.5
"""Once at most this fraction of the series still runs, the descent continues on them alone:
one slow series no longer makes every stopped one step along (measured in the closing note)."""


def step(xp: Any, state: State, objective: Objective, plan: Rates, tol2: Any) -> State:
    """One GD / momentum / Nesterov step for every active series.

    ``tol2`` is ``(tol lambda_min)^2`` per series (:attr:`Plan.tol_scale`), or None for no stop
    test. A series whose estimated coefficient error ``|grad| / (lambda_min |w|)`` has fallen
    to tol stops updating; its ``steps_run`` stops counting.
    """
    w, v, grad_w, active, steps_run = state
    rule = Optimizer.NESTEROV if plan.nesterov else Optimizer.MOMENTUM  # gd: beta = 0
    point = updates.lookahead(rule, w, v, plan.beta)
    grad = objective.gradient(point) if plan.nesterov else grad_w
    moving = active[:, None]
    w_next, v_next = updates.advance(w, v, grad, plan.rate, plan.beta)
    v = xp.where(moving, v_next, v)
    w = xp.where(moving, w_next, w)  # a stopped series keeps its w (and v)
    steps_run = steps_run + active
    grad_w = objective.gradient(w)
    if tol2 is not None:
        active = active & ((grad_w * grad_w).sum(-1) > tol2 * (w * w).sum(-1))
    return State(w, v, grad_w, active, steps_run)


def robust_objective(
    v: Any,
    y: Any,
    sw: Any,
    counts: Any,
    rho: Callable[[Any], Any],
    grad_of: Callable[[Callable[[Any], Any]], Callable[[Any], Any]],
) -> Objective:
    """``mean(rho(sqrt(s) r))`` per series over its points; the gradient by the library's autograd.

    ``v`` (B, D+1, N) holds the basis functions, ``sw`` the square roots of the weights (zero on
    padding, and rho(0) = 0 for every named loss). The series are independent, so the
    gradient of the sum of their losses is each series' own gradient.
    """

    def value(w: Any) -> Any:
        r = sw * ((w[:, None, :] @ v)[:, 0, :] - y)
        return rho(r).sum(-1) / counts

    def subset(index: Any) -> Objective:
        return robust_objective(v[index], y[index], sw[index], counts[index], rho, grad_of)

    return Objective(value, grad_of(lambda w: value(w).sum()), subset)


def tol_squared(plan: Plan, convert: Callable[[FloatArray], Any]) -> Any:
    """Each series' stop threshold :attr:`Plan.tol_scale` as the backend's array (``convert``),
    or None when there is no stop test."""
    return None if plan.tol_scale is None else convert(plan.tol_scale)


CHECK_STEPS = 50
"""Steps between "has every series stopped?" checks on devices where each check syncs."""
