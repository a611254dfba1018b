"""The numpy engine: per-sample (the seed's loop), gram, or spectral (closed-form trajectory).

Manual gradient, eager: a Python loop of numpy calls, except ``spectral``, which evaluates a
whole chunk of the trajectory with a few vectorised calls.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import updates
from gradpoly.engines import register
from gradpoly.engines.base import LoopEngine, Runner, trace_room, trace_start
from gradpoly.options import FitConfig, Optimizer, Strategy
from gradpoly.problem import Problem

FloatArray = npt.NDArray[np.float64]


class PerSampleRunner:
    """The seed's step on precomputed powers of x: every step touches all N points."""

    def __init__(self, problem: Problem, config: FitConfig) -> None:
        dtype = np.dtype(str(config.dtype))
        self._load(problem, dtype)
        self.w = np.zeros(problem.n_coef, dtype=dtype)
        self.steps = config.steps
        self.trace = np.full(trace_start(config.steps), np.nan, dtype=dtype)  # grows as it runs
        self.lr = dtype.type(config.lr_value)
        self.scale = dtype.type(-2.0 / problem.n_points)
        self.optimizer = config.optimizer
        self.beta = dtype.type(config.momentum_value)
        self.v = np.zeros_like(self.w)

    def _load(self, problem: Problem, dtype: np.dtype[Any]) -> None:
        """Keep what each step reads: here the design ``A`` (and its transpose) and ``b``."""
        self.a, self.b = problem.design(dtype)
        self.at = np.ascontiguousarray(self.a.T)

    def room(self, stop: int) -> None:
        """Grow the trace so that steps up to ``stop`` fit in it."""
        dtype = self.trace.dtype
        self.trace = trace_room(self.trace, stop, self.steps, lambda n: np.full(n, np.nan, dtype))

    def loss_grad(self, point: np.ndarray) -> tuple[np.floating, np.ndarray]:
        """The loss at ``point`` and its gradient."""
        r = self.b - self.a @ point
        return np.mean(r * r), self.scale * (self.at @ r)

    def advance(self, start: int, stop: int) -> float:
        self.room(stop)
        if self.optimizer is not Optimizer.GD:
            return self.advance_momentum(start, stop)
        a, at, b, w, trace, lr, scale = (
            self.a,
            self.at,
            self.b,
            self.w,
            self.trace,
            self.lr,
            self.scale,
        )
        # Overflow is expected when lr is unstable; run_loop detects it and raises instead.
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(start, stop):
                r = b - a @ w
                trace[k] = np.mean(r * r)
                w -= lr * (scale * (at @ r))
        return float(trace[stop - 1])

    def advance_momentum(self, start: int, stop: int) -> float:
        """Heavy ball or Nesterov: ``v = beta v - lr grad(point)``, ``w = w + v``."""
        self.room(stop)
        w, v, trace, lr, beta = self.w, self.v, self.trace, self.lr, self.beta
        nesterov = self.optimizer is Optimizer.NESTEROV
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(start, stop):
                if nesterov:
                    trace[k] = self.loss_grad(w)[0]  # the trace records mse(w_k), not the lookahead
                    _, grad = self.loss_grad(updates.lookahead(self.optimizer, w, v, beta))
                else:
                    trace[k], grad = self.loss_grad(w)
                w, v = updates.advance(w, v, grad, lr, beta)
        self.w, self.v = w, v
        return float(trace[stop - 1])

    def notes(self) -> dict[str, str]:
        return {}

    def current(self) -> FloatArray:
        return self.w.astype(np.float64)

    def finish(self) -> tuple[FloatArray, FloatArray]:
        return self.w.astype(np.float64), self.trace.astype(np.float64)


class GramRunner(PerSampleRunner):
    """O(D^2) steps on ``(G, c, s)``: ``mse = s - 2 c.w + w.G w``, ``grad = 2 (G w - c)``."""

    def _load(self, problem: Problem, dtype: np.dtype[Any]) -> None:
        g, c, s = (
            problem.gram.one()
        )  # the points themselves are not needed (nor, on dask, in memory)
        self.g, self.c, self.s = g.astype(dtype), c.astype(dtype), dtype.type(s)

    def loss_grad(self, point: np.ndarray) -> tuple[np.floating, np.ndarray]:
        gw = self.g @ point
        two = point.dtype.type(2.0)
        return self.s - two * (self.c @ point) + point @ gw, two * (gw - self.c)

    def advance(self, start: int, stop: int) -> float:
        self.room(stop)
        if self.optimizer is not Optimizer.GD:
            return self.advance_momentum(start, stop)
        g, c, s, w, trace, lr = self.g, self.c, self.s, self.w, self.trace, self.lr
        two = w.dtype.type(2.0)
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(start, stop):
                gw = g @ w
                trace[k] = s - two * (c @ w) + w @ gw
                w -= lr * (two * (gw - c))
        return float(trace[stop - 1])


class _SpectralRunner:
    """The GD trajectory in closed form, a chunk of steps per call, no loop over steps.

    With ``H = 2 G = Q diag(lam) Q^T`` and ``w_0 = 0``, the eigen-coordinates ``z = Q^T w``
    follow ``z_k = (1 - (1 - lr lam)^k) z*`` with ``z* = Q^T G^-1 c``, and
    ``mse_k = s - 2 c.w_k + w_k.G w_k``. Powers are taken as ``expm1(k log1p(-lr lam))`` so
    that slow modes (lr lam ~ 1e-8) keep their precision in float32.
    """

    def __init__(self, problem: Problem, config: FitConfig) -> None:
        g, c, s = problem.gram.one()
        lam, q = np.linalg.eigh(2.0 * g)
        self.q = q
        self.dtype = np.dtype(str(config.dtype))
        qc = q.T @ c  # c in eigen-coordinates
        base = 1.0 - config.lr_value * lam  # per-mode contraction factor; |base| > 1 diverges
        self.positive = base > 0
        self.log_base = np.log(np.where(self.positive, base, 1.0))
        self.other_base = np.where(self.positive, 0.0, base)
        self.zstar = 2.0 * qc / lam
        self.lam, self.qc, self.s = lam, qc, s
        self.steps = config.steps
        self.trace = np.full(trace_start(config.steps), np.nan, dtype=self.dtype)
        self.z = np.zeros_like(lam)

    def _z(self, k: npt.NDArray[np.int64]) -> FloatArray:
        """Eigen-coordinates after each step count in ``k``, shape (len(k), D+1)."""
        dt = self.dtype
        kk = k[:, None]
        smooth = -np.expm1(kk.astype(dt) * self.log_base.astype(dt))  # 1 - base^k, base > 0
        sharp = 1.0 - np.power(self.other_base, kk)  # base <= 0: oscillating or diverging
        return (np.where(self.positive, smooth, sharp) * self.zstar).astype(dt)

    def advance(self, start: int, stop: int) -> float:
        dtype = self.dtype
        self.trace = trace_room(self.trace, stop, self.steps, lambda n: np.full(n, np.nan, dtype))
        with np.errstate(over="ignore", invalid="ignore"):
            z = self._z(np.arange(start, stop))
            dt = self.dtype
            lam, qc = self.lam.astype(dt), self.qc.astype(dt)
            self.trace[start:stop] = dt.type(self.s) - 2 * (z @ qc) + 0.5 * ((z * z) @ lam)
            self.z = self._z(np.array([stop]))[0]
        return float(self.trace[stop - 1])

    def notes(self) -> dict[str, str]:
        return {}

    def current(self) -> FloatArray:
        return self.q @ self.z.astype(np.float64)

    def finish(self) -> tuple[FloatArray, FloatArray]:
        return self.current(), self.trace.astype(np.float64)


_RUNNERS: dict[Strategy, type[PerSampleRunner] | type[_SpectralRunner]] = {
    Strategy.PER_SAMPLE: PerSampleRunner,
    Strategy.GRAM: GramRunner,
    Strategy.SPECTRAL: _SpectralRunner,
}


@register
class NumpyEngine(LoopEngine):
    """NumPy on the CPU; always available (gradpoly's only hard dependency)."""

    name = "numpy"
    strategies = (Strategy.PER_SAMPLE, Strategy.GRAM, Strategy.SPECTRAL)
    optimizers = (Optimizer.GD, Optimizer.MOMENTUM, Optimizer.NESTEROV)

    def unsupported(self, config: FitConfig) -> str | None:
        if config.strategy is Strategy.SPECTRAL and config.optimizer is not Optimizer.GD:
            return "strategy spectral is the closed form of plain GD: use optimizer gd"
        return super().unsupported(config)

    def chunk_steps(self, config: FitConfig) -> int:
        # A spectral chunk is a handful of vectorised calls: bigger chunks, fewer calls.
        if config.strategy is Strategy.SPECTRAL and config.tol is None:
            return 50_000
        return super().chunk_steps(config)

    def start(self, problem: Problem, config: FitConfig) -> Runner:
        return _RUNNERS[config.strategy](problem, config)
