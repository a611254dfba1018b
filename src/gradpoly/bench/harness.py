"""Timing harness: warm-up first, fixed thread count, synchronized clock, raw samples kept.

A :class:`Measurement` holds every sample and derives median and IQR, flags noisy runs
instead of dropping them, and records what ran, the machine, and whether the result agreed
with the float64 reference (a wrong answer is reported as failed, never as a win).
"""

from __future__ import annotations

import contextlib
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gradpoly.engines.package_builds import waiting_for_packages
from gradpoly.environment import describe_machine
from gradpoly.options import FitConfig
from gradpoly.problem import FitProblem, reference_gd
from gradpoly.testing import tolerance

NOISY_IQR = 0.10
"""A run whose IQR exceeds this fraction of its median is flagged noisy."""


@dataclass(frozen=True)
class Spec:
    """What one measurement ran: a name plus the fit options (the ``TaskSpec`` idea)."""

    name: str
    engine: str
    gradient: str
    device: str
    mode: str
    strategy: str
    dtype: str
    steps: int
    note: str = ""


@dataclass(frozen=True)
class Measurement:
    """Raw timing samples of one spec and what came out of it.

    ``samples`` are wall seconds of complete runs after warm-up; ``compile_seconds`` is the
    warm-up run's time minus the median (one-time compile/trace cost, reported apart).
    ``status`` is ``ok``, ``wrong`` (disagrees with the reference), or ``unavailable``.
    """

    spec: Spec
    samples: tuple[float, ...]
    compile_seconds: float = 0.0
    final_mse: float = float("nan")
    max_coef_err: float = float("nan")
    status: str = "ok"
    reason: str = ""
    threads: int = 1
    env: dict[str, str] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def median(self) -> float:
        """Median seconds of the samples (NaN without samples)."""
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def iqr(self) -> float:
        """Interquartile range of the samples, in seconds."""
        if len(self.samples) < 2:
            return 0.0
        q1, q3 = np.percentile(self.samples, [25, 75])
        return float(q3 - q1)

    @property
    def noisy(self) -> bool:
        """True when the IQR is more than NOISY_IQR of the median: read the figure with care."""
        return bool(self.samples) and self.iqr > NOISY_IQR * self.median

    @property
    def per_step_us(self) -> float:
        """Median microseconds per GD step."""
        return 1e6 * self.median / self.spec.steps

    def to_dict(self) -> dict[str, Any]:
        """A flat JSON-ready record (one per configuration)."""
        return {
            **asdict(self.spec),
            "median_s": self.median,
            "iqr_s": self.iqr,
            "compile_s": self.compile_seconds,
            "per_step_us": self.per_step_us,
            "final_mse": self.final_mse,
            "max_coef_err": self.max_coef_err,
            "status": self.status,
            "reason": self.reason,
            "noisy": self.noisy,
            "threads": self.threads,
            "samples": list(self.samples),
            **self.extra,
        }


@contextlib.contextmanager
def pinned_threads(threads: int) -> Iterator[None]:
    """Pin torch's intra-op threads (and numba's) for the duration; restore afterwards.

    NumPy's BLAS threads do not matter at these sizes; jax's are fixed at its import.
    """
    restore: list[Callable[[], None]] = []
    torch = sys.modules.get("torch")
    if torch is not None:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        restore.append(lambda: torch.set_num_threads(before))
    try:
        yield
    finally:
        for undo in restore:
            undo()


@dataclass(frozen=True)
class Outcome:
    """One timed run: wall seconds (device synchronized), final MSE and coefficients."""

    seconds: float
    final_mse: float
    coef: np.ndarray


Check = Callable[[Outcome], tuple[str, float]]
"""``check(outcome) -> (status, max_coef_err)``: the correctness gate."""


def measure(
    spec: Spec,
    run: Callable[[], Outcome],
    repeats: int,
    check: Check | None = None,
    threads: int = 1,
    extra: dict[str, float] | None = None,
) -> Measurement:
    """Run once to warm up (compile, caches), then time ``repeats`` runs and gate the result.

    Each run measures its own seconds around the loop with the device synchronized
    (FitResult.seconds does); the warm-up's excess over the median is the compile cost.
    Compiled packages are built in the warm-up, never in the background while timed.
    """
    with pinned_threads(threads), waiting_for_packages():
        warm = run()
        outcomes = [run() for _ in range(repeats)]
    last = outcomes[-1]
    status, err = check(last) if check else ("ok", float("nan"))
    samples = tuple(o.seconds for o in outcomes)
    median = statistics.median(samples)
    return Measurement(
        spec=spec,
        samples=samples,
        compile_seconds=max(warm.seconds - median, 0.0),
        final_mse=last.final_mse,
        max_coef_err=err,
        status=status,
        threads=threads,
        env=describe_machine(),
        extra=extra or {},
    )


def unavailable(spec: Spec, reason: str) -> Measurement:
    """A measurement that could not run here, kept in the report with its reason."""
    return Measurement(spec=spec, samples=(), status="unavailable", reason=reason)


def reference_check(
    problem: FitProblem, config: FitConfig
) -> Callable[[Outcome], tuple[str, float]]:
    """The correctness gate: the float64 GD trajectory's final MSE and coefficients."""
    ref_w, ref_trace = reference_gd(problem, config.steps, config.lr_value)
    tol = tolerance(config.dtype)

    def check(outcome: Outcome) -> tuple[str, float]:
        err = float(np.max(np.abs(outcome.coef - ref_w)))
        final_ok = abs(outcome.final_mse - ref_trace[-1]) <= tol.rtol * abs(ref_trace[-1])
        ok = final_ok and tol.coef_close(outcome.coef, ref_w)
        return ("ok" if ok else "wrong"), err

    return check


def repeat_timed(run: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Median and spread (max - min) of ``run``'s wall seconds over ``repeats`` calls after
    one warm-up (imports, compilation, caches), and its last output: the benchmark scripts'
    one clock for CPU work (a device's is :func:`measure`'s, synchronized)."""
    import time

    with waiting_for_packages():  # compiled packages built in the warm-up, not while timed
        out = run()
        seconds = []
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            out = run()
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), max(seconds) - min(seconds), out


def write_report(
    json_path: str | None, markdown_path: str | None, document: Any, text: str
) -> None:
    """A benchmark's JSON (with the machine added) and its markdown table, atomically, where
    asked: the files the documentation renders."""
    from gradpoly.outputs import json_text, write_text_atomic

    if json_path:
        write_text_atomic(
            json_path, json_text(document | {"machine": describe_machine()}, indent=1) + "\n"
        )
    if markdown_path:
        write_text_atomic(markdown_path, text)
