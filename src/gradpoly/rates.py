"""Step sizes from curvature: the optimal (lr, beta) of each optimizer, and its stability limit.

One place for the formulas ``fit``, ``fit_many`` and the estimator use. Eigenvalues come from a
rounded Gram matrix: the smallest may be ~0 or slightly negative for singular or nearly singular
problems: eigenvalues below :data:`MU_FLOOR` times the largest are taken as the null space and
the rates use the smallest one above it. That keeps heavy-ball momentum strictly inside its
stability region (beta < 1) and fast on the directions that matter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import rowwise
from gradpoly.options import Optimizer

MU_FLOOR = 1e-12
"""Curvatures at most this fraction of the largest are the numerical null space (a condition
number of at most 1e12 is used)."""

HEAVY_BALL_MARGIN = 0.9
"""Heavy ball's step is this fraction of the quadratic-optimal ``4 / (sqrt L + sqrt mu)^2``.

At the optimum the stiffest mode has a double root of modulus sqrt(beta): its error grows
linearly for about sqrt(L / mu) steps before it shrinks (measured: R^2 = -7e9 after 20,000
steps on a singular Gram matrix). A step 10% shorter gives that mode two distinct complex
roots of the same modulus, and costs the slow modes about 5% of their rate."""

FloatArray = npt.NDArray[np.float64]


def effective_min(eigenvalues: npt.ArrayLike) -> FloatArray:
    """The smallest Hessian eigenvalue that is not rounding noise, per row of ``eigenvalues``
    (ascending, shape (..., D+1)).

    Eigenvalues at most :data:`MU_FLOOR` times the largest belong to the (numerical) null
    space: descent from w = 0 never moves along it, so it converges to the minimum-norm
    solution, as ``lstsq`` would, and the rate is set by the smallest eigenvalue above it.
    """
    eig = np.asarray(eigenvalues, dtype=np.float64)
    big = eig[..., -1:]
    above = np.where(eig > MU_FLOOR * big, eig, np.inf)
    return np.asarray(np.min(above, axis=-1), dtype=np.float64)


def auto_parameters(
    eigenvalues: npt.ArrayLike, optimizer: Optimizer
) -> tuple[FloatArray, FloatArray]:
    """``(lr, beta)`` optimal on a quadratic with these Hessian eigenvalues (..., D+1).

    gd: ``1 / L``; heavy ball: ``lr = 0.9 * 4 / (sqrt L + sqrt mu)^2`` (see
    :data:`HEAVY_BALL_MARGIN`), ``beta = ((sqrt k - 1) / (sqrt k + 1))^2``; Nesterov:
    ``lr = 1 / L``, ``beta = (sqrt k - 1) / (sqrt k + 1)``, with ``k = L / mu`` and mu
    :func:`effective_min` (works on one series or a batch of them).
    """
    eig = np.asarray(eigenvalues, dtype=np.float64)
    big, small = eig[..., -1], effective_min(eig)
    root_big, root_small = np.sqrt(big), np.sqrt(small)
    ratio = (root_big - root_small) / (root_big + root_small)
    if optimizer is Optimizer.MOMENTUM:
        return HEAVY_BALL_MARGIN * 4.0 / (root_big + root_small) ** 2, ratio**2
    if optimizer is Optimizer.NESTEROV:
        return 1.0 / big, ratio
    return 1.0 / big, np.zeros_like(big)


def stable_limit(optimizer: Optimizer, beta: float, lambda_max: Any) -> Any:
    """The largest stable learning rate on a quadratic with top curvature ``lambda_max`` (a
    number, or an array of them: one per series).

    GD: ``2 / L``; heavy ball: ``2 (1 + b) / L``; Nesterov: ``2 (1 + b) / ((1 + 2 b) L)``.
    NaN where ``lambda_max`` is not a positive finite number (no advice can be given then).
    """
    top = np.asarray(lambda_max, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = np.where(np.isfinite(top) & (top > 0), top, np.nan)
        if optimizer is Optimizer.GD:
            limit = 2.0 / safe
        else:
            limit = 2.0 * (1.0 + beta) / safe
            if optimizer is Optimizer.NESTEROV:
                limit = limit / (1.0 + 2.0 * beta)
    return float(limit) if limit.ndim == 0 else limit


def coefficient_error(
    gradient_norm: npt.ArrayLike, eigenvalues: npt.ArrayLike, coef_norm: npt.ArrayLike
) -> FloatArray:
    """Estimated relative coefficient error ``|w - w*| / |w|`` from the gradient at w.

    On a quadratic with Hessian H, ``w - w* = H^-1 grad``, so ``|w - w*| <= |grad| / mu`` with
    mu the smallest eigenvalue outside the null space (:func:`effective_min`): the gradient is
    scaled by the conditioning, so a small error means accurate coefficients, not merely a
    small gradient (0 when the gradient is 0).
    """
    grad = np.asarray(gradient_norm, dtype=np.float64)
    denominator = effective_min(eigenvalues) * np.asarray(coef_norm, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(grad == 0, 0.0, grad / denominator), dtype=np.float64)


def shared_rows(*arrays: npt.NDArray[Any]) -> bool:
    """Whether each batched array's rows (axis 0, at least two) all equal its first: one
    matrix and domain for the whole batch (a shared axis without gaps), whose per-matrix
    linear algebra then runs once. NaN rows (monomial domains) never count as equal."""
    return all(a.shape[0] > 1 and rowwise.one_row(a) for a in arrays)


def eigenvalues(matrices: FloatArray) -> FloatArray:
    """Each symmetric matrix's eigenvalues (B, K), ascending; computed once where the batch
    is one matrix (:func:`shared_rows`)."""
    if shared_rows(matrices):
        return np.repeat(np.linalg.eigvalsh(matrices[:1]), matrices.shape[0], axis=0)
    return np.asarray(np.linalg.eigvalsh(matrices), dtype=np.float64)
