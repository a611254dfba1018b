"""The notebook end to end: the five seed presets on the seed's data, checked against lstsq.

The CLI's ``gradpoly demo`` prints what :func:`run_demo` returns; a preset whose engine or
device is missing is kept in the report with the reason, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradpoly.api import fit_problem
from gradpoly.engines import get_engine
from gradpoly.engines.base import Progress
from gradpoly.environment import describe_machine
from gradpoly.options import DType, FitConfig
from gradpoly.problem import FitProblem, lstsq_problem
from gradpoly.result import FitResult
from gradpoly.seed import PRESETS, seed_data


@dataclass(frozen=True)
class DemoRow:
    """One preset's outcome: its result, or why it could not run here."""

    preset: str
    config: FitConfig
    result: FitResult | None
    reason: str = ""
    max_coef_err: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the trace is left out; see FitResult.to_dict for it)."""
        out: dict[str, Any] = {
            "preset": self.preset,
            "config": self.config.to_dict(),
            "available": self.result is not None,
            "reason": self.reason,
        }
        if self.result is not None:
            out |= {
                "seconds": self.result.seconds,
                "setup_seconds": self.result.setup_seconds,
                "final_mse": self.result.final_mse,
                "max_coef_err": self.max_coef_err,
                "coef": self.result.coef.tolist(),
                "environment": self.result.environment,
            }
        return out


@dataclass(frozen=True)
class DemoReport:
    """All five rows plus the closed-form optimum they are measured against."""

    problem: FitProblem
    steps: int
    lr: float
    lstsq_coef: np.ndarray
    lstsq_mse: float
    rows: list[DemoRow]
    machine: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report."""
        return {
            "data": {"x": "linspace(0, 5, 100)", "y": "sin(x)", "degree": self.problem.degree},
            "steps": self.steps,
            "lr": self.lr,
            "lstsq": {"coef": self.lstsq_coef.tolist(), "mse": self.lstsq_mse},
            "presets": [row.to_dict() for row in self.rows],
            "machine": self.machine,
        }


def run_demo(
    steps: int = 200_000,
    lr: float = 1e-5,
    dtype: DType | str = DType.FLOAT32,
    progress_for: Callable[[str, int], Progress] | None = None,
) -> DemoReport:
    """Run the seed's five presets; ``progress_for(name, steps)`` may return a progress callback."""
    x, y = seed_data()
    problem = FitProblem.from_data(x, y, 4)
    best = lstsq_problem(problem)
    rows = []
    for preset in PRESETS.values():
        config = preset.config(dtype=DType.parse(dtype), steps=steps, lr=lr)
        available = get_engine(config.engine).availability(config)
        if not available.ok:
            rows.append(DemoRow(preset.name, config, None, available.reason))
            continue
        progress = progress_for(preset.name, steps) if progress_for else None
        result = fit_problem(problem, config, progress)
        err = float(np.max(np.abs(result.coef - best)))
        rows.append(DemoRow(preset.name, config, result, max_coef_err=err))
    return DemoReport(
        problem, steps, lr, best, problem.mse_monomial(best), rows, describe_machine()
    )
