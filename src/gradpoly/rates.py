"""Step sizes from curvature: the optimal (lr, beta) of each optimizer, and its stability limit.

One place for the formulas ``fit``, ``fit_many`` and the estimator use. Eigenvalues come from a
rounded Gram matrix: the smallest may be ~0 or slightly negative for singular or nearly singular
problems, so it is clamped to :data:`MU_FLOOR` times the largest. That keeps heavy-ball
momentum strictly inside its stability region (beta < 1) instead of on its edge.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gradpoly.options import Optimizer

MU_FLOOR = 1e-12
"""Smallest curvature used, relative to the largest (a condition number of at most 1e12)."""

FloatArray = npt.NDArray[np.float64]


def auto_parameters(
    lambda_max: npt.ArrayLike, lambda_min: npt.ArrayLike, optimizer: Optimizer
) -> tuple[FloatArray, FloatArray]:
    """``(lr, beta)`` optimal on a quadratic with Hessian eigenvalues in [lambda_min, lambda_max].

    gd: ``1 / L``; heavy ball: ``lr = 4 / (sqrt L + sqrt mu)^2``,
    ``beta = ((sqrt k - 1) / (sqrt k + 1))^2``; Nesterov: ``lr = 1 / L``,
    ``beta = (sqrt k - 1) / (sqrt k + 1)``, with ``k = L / mu`` and mu clamped to
    ``MU_FLOOR * L`` (works elementwise on arrays of series).
    """
    big = np.asarray(lambda_max, dtype=np.float64)
    small = np.maximum(np.asarray(lambda_min, dtype=np.float64), MU_FLOOR * big)
    root_big, root_small = np.sqrt(big), np.sqrt(small)
    ratio = (root_big - root_small) / (root_big + root_small)
    if optimizer is Optimizer.MOMENTUM:
        return 4.0 / (root_big + root_small) ** 2, ratio**2
    if optimizer is Optimizer.NESTEROV:
        return 1.0 / big, ratio
    return 1.0 / big, np.zeros_like(big)


def stable_limit(optimizer: Optimizer, beta: float, lambda_max: float) -> float:
    """The largest stable learning rate on a quadratic with top curvature ``lambda_max``.

    GD: ``2 / L``; heavy ball: ``2 (1 + b) / L``; Nesterov: ``2 (1 + b) / ((1 + 2 b) L)``.
    NaN when ``lambda_max`` is not a positive finite number (no advice can be given then).
    """
    if not (np.isfinite(lambda_max) and lambda_max > 0):
        return float("nan")
    if optimizer is Optimizer.GD:
        return 2.0 / lambda_max
    limit = 2.0 * (1.0 + beta) / lambda_max
    return limit / (1.0 + 2.0 * beta) if optimizer is Optimizer.NESTEROV else limit


def error_scale(lambda_min: npt.ArrayLike, lambda_max: npt.ArrayLike) -> FloatArray:
    """The curvature the coefficient error is measured with: lambda_min clamped to
    ``MU_FLOOR * lambda_max`` (Hessian eigenvalues, elementwise)."""
    big = np.asarray(lambda_max, dtype=np.float64)
    return np.maximum(np.asarray(lambda_min, dtype=np.float64), MU_FLOOR * big)


def coefficient_error(
    gradient_norm: npt.ArrayLike,
    lambda_min: npt.ArrayLike,
    lambda_max: npt.ArrayLike,
    coef_norm: npt.ArrayLike,
) -> FloatArray:
    """Estimated relative coefficient error ``|w - w*| / |w|`` from the gradient at w.

    On a quadratic with Hessian H, ``w - w* = H^-1 grad``, so ``|w - w*| <= |grad| / lambda_min``:
    the test scales the gradient by the conditioning, so a small error means accurate
    coefficients, not merely a small gradient (0 when w = 0 and the gradient is 0).
    """
    grad = np.asarray(gradient_norm, dtype=np.float64)
    denominator = error_scale(lambda_min, lambda_max) * np.asarray(coef_norm, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(grad == 0, 0.0, grad / denominator)
