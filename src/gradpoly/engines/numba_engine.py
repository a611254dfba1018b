"""The numba engine: the whole loop compiled to machine code, manual gradient only.

Numba compiles plain loops over N and D; there is no autodiff, so ``gradient="autograd"``
is refused with a clear error. One compilation per dtype, reused across fits.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly.engines import register
from gradpoly.engines.base import LoopEngine, OptionalLibrary, Runner, trace_room, trace_start
from gradpoly.options import FitConfig, Mode, Strategy
from gradpoly.problem import Problem

NUMBA = OptionalLibrary("numba", "numba")
load_numba = NUMBA.load


def _per_sample(a, b, w, lr, consts, trace, start, stop):
    """GD steps ``start..stop-1`` touching every point; w and trace updated in place.

    ``consts = (0, 2, -2/N, N)`` in the loop's dtype keeps every accumulator in that dtype
    (numba promotes float literals and ints mixed with float32 to float64).
    """
    n, m = a.shape
    r = np.empty(n, dtype=a.dtype)
    zero, _, scale, size = consts[0], consts[1], consts[2], consts[3]
    for k in range(start, stop):
        total = zero
        for i in range(n):
            model = zero
            for j in range(m):
                model += a[i, j] * w[j]
            r[i] = b[i] - model
            total += r[i] * r[i]
        trace[k] = total / size
        for j in range(m):
            grad = zero
            for i in range(n):
                grad += a[i, j] * r[i]
            w[j] -= lr * (scale * grad)


def _gram(g, c, s, w, lr, consts, trace, start, stop):
    """GD steps on the Gram statistics: O(D^2) each."""
    m = w.shape[0]
    gw = np.empty(m, dtype=w.dtype)
    zero, two = consts[0], consts[1]
    for k in range(start, stop):
        cw = zero
        wgw = zero
        for j in range(m):
            acc = zero
            for i in range(m):
                acc += g[j, i] * w[i]
            gw[j] = acc
            cw += c[j] * w[j]
            wgw += w[j] * acc
        trace[k] = s - two * cw + wgw
        for j in range(m):
            w[j] -= lr * (two * (gw[j] - c[j]))


@cache
def compiled(strategy: Strategy) -> Callable[..., None]:
    """The jitted loop for ``strategy`` (numba compiles it per dtype on first call)."""
    numba = load_numba()
    python = {Strategy.PER_SAMPLE: _per_sample, Strategy.GRAM: _gram}[strategy]
    return numba.njit(cache=False, nogil=True)(python)


class _NumbaRunner:
    def __init__(self, problem: Problem, config: FitConfig) -> None:
        dtype = np.dtype(str(config.dtype))
        if config.strategy is Strategy.GRAM:
            g, c, s = problem.gram.one()
            self.data: tuple[Any, ...] = (g.astype(dtype), c.astype(dtype), dtype.type(s))
        else:
            a, b = problem.design(dtype)
            self.data = (np.ascontiguousarray(a), b)
        self.loop = compiled(config.strategy)
        self.w = np.zeros(problem.n_coef, dtype=dtype)
        self.steps = config.steps
        self.trace = np.full(trace_start(config.steps), np.nan, dtype=dtype)
        self.lr = dtype.type(config.lr_value)
        self.consts = np.array([0.0, 2.0, -2.0 / problem.n_points, problem.n_points], dtype=dtype)

    def advance(self, start: int, stop: int) -> float:
        dtype = self.trace.dtype
        self.trace = trace_room(self.trace, stop, self.steps, lambda n: np.full(n, np.nan, dtype))
        self.loop(*self.data, self.w, self.lr, self.consts, self.trace, start, stop)
        return float(self.trace[stop - 1])

    def current(self) -> npt.NDArray[np.float64]:
        return self.w.astype(np.float64)

    def finish(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        with np.errstate(invalid="ignore", over="ignore"):
            return self.w.astype(np.float64), self.trace.astype(np.float64)


@register
class NumbaEngine(LoopEngine):
    """Numba-compiled loops on the CPU; manual gradient only."""

    name = "numba"
    library = NUMBA
    modes = (Mode.COMPILED,)
    strategies = (Strategy.PER_SAMPLE, Strategy.GRAM)

    def chunk_steps(self, config: FitConfig) -> int:
        # A compiled call is cheap to make: long chunks, unless tol asks for frequent checks.
        return super().chunk_steps(config) if config.tol is not None else 10_000

    def start(self, problem: Problem, config: FitConfig) -> Runner:
        return _NumbaRunner(problem, config)
