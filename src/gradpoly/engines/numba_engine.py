"""The numba engine: the whole loop compiled to machine code, manual gradient only.

Numba compiles plain loops over N and D; there is no autodiff, so ``gradient="autograd"``
is refused with a clear error. One compilation per dtype, reused across fits. GD runs the
seed's loops; momentum and Nesterov run :mod:`gradpoly.updates`' rules in their own loops
(tied to them by the engine contract suite, against :func:`gradpoly.reference_gd`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly.engines import register
from gradpoly.engines.base import LoopEngine, OptionalLibrary, Runner, trace_room, trace_start
from gradpoly.options import FitConfig, Mode, Optimizer, Strategy
from gradpoly.problem import Problem

NUMBA = OptionalLibrary("numba", "numba")
load_numba = NUMBA.load


@cache
def compiled(strategy: Strategy, momentum: bool = False) -> Callable[..., None]:
    """The jitted loop for ``strategy``, GD or with momentum (numba compiles it per dtype on
    first call, or loads it from its disk cache)."""
    load_numba()
    from gradpoly.engines import _numba_loops

    loops: dict[tuple[Strategy, bool], Callable[..., None]] = {
        (Strategy.PER_SAMPLE, False): _numba_loops.per_sample,
        (Strategy.GRAM, False): _numba_loops.gram,
        (Strategy.PER_SAMPLE, True): _numba_loops.per_sample_momentum,
        (Strategy.GRAM, True): _numba_loops.gram_momentum,
    }
    return loops[strategy, momentum]


class _NumbaRunner:
    def __init__(self, problem: Problem, config: FitConfig) -> None:
        dtype = np.dtype(str(config.dtype))
        if config.strategy is Strategy.GRAM:
            g, c, s = problem.gram.one()
            self.data: tuple[Any, ...] = (g.astype(dtype), c.astype(dtype), dtype.type(s))
        else:
            a, b = problem.design(dtype)
            self.data = (np.ascontiguousarray(a), b)
        momentum = config.optimizer is not Optimizer.GD
        self.loop = compiled(config.strategy, momentum)
        self.w = np.zeros(problem.n_coef, dtype=dtype)
        self.v = np.zeros(problem.n_coef, dtype=dtype) if momentum else None  # velocity
        self.beta = dtype.type(config.momentum_value)
        self.nesterov = config.optimizer is Optimizer.NESTEROV
        self.steps = config.steps
        self.trace = np.full(trace_start(config.steps), np.nan, dtype=dtype)
        self.lr = dtype.type(config.lr_value)
        self.consts = np.array([0.0, 2.0, -2.0 / problem.n_points, problem.n_points], dtype=dtype)

    def advance(self, start: int, stop: int) -> float:
        dtype = self.trace.dtype
        self.trace = trace_room(self.trace, stop, self.steps, lambda n: np.full(n, np.nan, dtype))
        if self.v is None:
            self.loop(*self.data, self.w, self.lr, self.consts, self.trace, start, stop)
        else:
            self.loop(*self.data, self.w, self.v, self.lr, self.beta, self.nesterov, self.consts,
                      self.trace, start, stop)  # fmt: skip
        return float(self.trace[stop - 1])

    def notes(self) -> dict[str, str]:
        return {}

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
    optimizers = (Optimizer.GD, Optimizer.MOMENTUM, Optimizer.NESTEROV)

    def chunk_steps(self, config: FitConfig) -> int:
        # A compiled call is cheap to make: long chunks, unless tol asks for frequent checks.
        return super().chunk_steps(config) if config.tol is not None else 10_000

    def start(self, problem: Problem, config: FitConfig) -> Runner:
        return _NumbaRunner(problem, config)
