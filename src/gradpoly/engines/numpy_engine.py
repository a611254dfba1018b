"""The numpy engine: the seed's loop on precomputed powers of x, manual gradient, eager."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gradpoly.engines import register
from gradpoly.engines.base import LoopEngine, Runner
from gradpoly.options import FitConfig
from gradpoly.problem import FitProblem


class _NumpyRunner:
    """w, the trace and the design matrix as numpy arrays of the configured dtype."""

    def __init__(self, problem: FitProblem, config: FitConfig) -> None:
        dtype = np.dtype(str(config.dtype))
        self.a, self.b = problem.design(dtype)
        self.at = np.ascontiguousarray(self.a.T)
        self.w = np.zeros(problem.n_coef, dtype=dtype)
        self.trace = np.empty(config.steps, dtype=dtype)
        self.lr = dtype.type(config.lr)
        self.scale = dtype.type(-2.0 / problem.n_points)

    def advance(self, start: int, stop: int) -> float:
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

    def finish(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        return self.w.astype(np.float64), self.trace.astype(np.float64)


@register
class NumpyEngine(LoopEngine):
    """NumPy on the CPU; always available (gradpoly's only hard dependency)."""

    name = "numpy"

    def version(self) -> str:
        return np.__version__

    def start(self, problem: FitProblem, config: FitConfig) -> Runner:
        return _NumpyRunner(problem, config)
