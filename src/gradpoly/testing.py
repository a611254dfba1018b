"""Helpers shared by the test suite and the benchmark's correctness gate.

``tolerance`` is the only place tolerances live; ``all_configs`` is the only place that
lists the engine x gradient x device x dtype combinations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gradpoly.engines import engine_names, get_engine
from gradpoly.options import DType, FitConfig, Strategy


@dataclass(frozen=True)
class Tolerance:
    """Relative tolerance of an engine's trace and coefficients against the float64 reference.

    float32 carries ~6e-8 rounding per operation, and GD does not damp it along slow modes:
    over the seed's 200,000 steps (condition number 1.5e7) float32 trajectories drift from
    the float64 one by up to 9e-4 (per-sample loops) and 3.1e-3 (gram loops, whose gradient
    ``2 (G w - c)`` cancels), measured. float32 allows 5e-3; float64 agrees to 1e-9.
    """

    rtol: float

    def trace_close(self, trace: npt.ArrayLike, reference: npt.ArrayLike) -> bool:
        """Every trace entry within ``rtol`` of the reference (relative to the start loss)."""
        a, b = np.asarray(trace), np.asarray(reference)
        scale = max(float(np.abs(b[0])), np.finfo(float).tiny)
        return bool(
            a.shape == b.shape and np.all(np.abs(a - b) <= self.rtol * (np.abs(b) + 1e-3 * scale))
        )

    def coef_close(self, coef: npt.ArrayLike, reference: npt.ArrayLike) -> bool:
        """Coefficients within ``rtol`` of the reference, relative to its largest entry."""
        a, b = np.asarray(coef), np.asarray(reference)
        scale = max(float(np.max(np.abs(b))), np.finfo(float).tiny)
        return bool(a.shape == b.shape and np.max(np.abs(a - b)) <= self.rtol * scale)


def tolerance(dtype: DType | str) -> Tolerance:
    """The tolerance of an engine running in ``dtype`` against the float64 reference."""
    return {DType.FLOAT32: Tolerance(5e-3), DType.FLOAT64: Tolerance(1e-9)}[DType.parse(dtype)]


def all_configs(steps: int = 200, lr: float = 1e-5) -> list[FitConfig]:
    """Every registered engine x gradient x device x mode x strategy x dtype it declares.

    Unavailable ones are included; tests turn them into skips with the registry's reason.
    """
    configs = []
    for name in engine_names():
        engine = get_engine(name)
        for gradient in engine.gradients:
            for device in engine.devices:
                for mode in engine.modes:
                    for strategy in engine.strategies:
                        for dtype in DType:
                            configs.append(
                                FitConfig(
                                    name,
                                    gradient,
                                    device,
                                    mode,
                                    Strategy(strategy),
                                    dtype,
                                    steps,
                                    lr,
                                )
                            )
    return configs


def derivative_tolerance(dtype: DType | str, method: str) -> float:
    """Absolute error allowed for a derivative, relative to ``1 + max |f'|`` over the points.

    Autodiff methods are exact up to the dtype's rounding of f's own derivative; central
    differences add truncation (h^2) and cancellation (eps / h) error, ~eps^(2/3).
    """
    dtype = DType.parse(dtype)
    if method == "finite-difference":
        return {DType.FLOAT32: 1e-3, DType.FLOAT64: 1e-8}[dtype]
    return {DType.FLOAT32: 1e-5, DType.FLOAT64: 1e-12}[dtype]
