"""Choosing a polynomial's degree: information criteria as statsmodels computes them for OLS
and WLS (AIC, AICc, BIC), generalized cross-validation and leave-one-out cross-validation,
for B series over the degrees 0..D at once.

Every criterion is computed from the nested fits of one set of Gram statistics of degree D
(the leading blocks: :meth:`gradpoly.gram.Gram.leading`); leave-one-out needs each point's
leverage too, which one nested Cholesky factor per series gives for every degree at once.
Smaller is better for each; a degree a series cannot be fitted at scores NaN.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from gradpoly.errors import InvalidOptionError
from gradpoly.mapping import features, mapped
from gradpoly.options import Basis

FloatArray = npt.NDArray[np.float64]

CRITERIA: Final = ("aicc", "aic", "bic", "gcv", "loo")
"""The criteria, the default first: AICc (AIC corrected for small samples, which tends to AIC
as n grows; BIC penalises extra terms more and picks lower degrees)."""

LOO_CHUNK = 512
"""Series per block of the leave-one-out pass (its arrays are ``block x N x (D+1)``)."""


def criterion(name: str) -> str:
    """A criterion's name, checked (one of :data:`CRITERIA`)."""
    text = str(name).lower()
    if text not in CRITERIA:
        raise InvalidOptionError(f"criterion must be one of {', '.join(CRITERIA)}, not {name!r}")
    return text


def information(
    rss: FloatArray, n: FloatArray, log_weights: FloatArray, scale: float = 1.0
) -> dict[str, FloatArray]:
    """AIC, AICc, BIC and GCV of fits of degree 0..D (columns) for B series (rows).

    ``rss`` (B, D+1) is each fit's weighted residual sum of squares, ``n`` (B,) its points of
    positive weight and ``log_weights`` (B,) the sum of their weights' logs. The likelihood is
    statsmodels' for WLS (Gaussian, variance estimated as rss / n): ``aic = -2 llf + 2k``,
    ``bic = -2 llf + k log n``, ``aicc = aic + 2k(k+1) / (n - k - 1)``, with k = degree + 1
    parameters; ``gcv = n rss / (n - k)^2``. Where n - k (n - k - 1 for AICc) is not positive
    the criterion is inf: that degree interpolates its points, which leaves nothing to judge
    it by (statsmodels' AIC would be -inf there, and chosen). ``rss`` may be of y divided by
    ``scale`` (a power of two): the criteria are of y itself, without squaring the scale.
    """
    k = np.arange(1, rss.shape[1] + 1, dtype=np.float64)[None, :]
    size = n[:, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_rss = np.log(rss / size) + 2.0 * np.log(scale)
        llf = -0.5 * size * (np.log(2 * np.pi) + log_rss + 1) + 0.5 * log_weights[:, None]
        aic = -2 * llf + 2 * k
        spare = size - k - 1
        aicc = np.where(spare > 0, aic + 2 * k * (k + 1) / spare, np.inf)
        bic = -2 * llf + k * np.log(size)
        gcv = np.where(size - k > 0, size * rss / (size - k) ** 2 * scale * scale, np.inf)
    fitted, judged = np.isfinite(rss), size - k > 0  # an interpolant leaves nothing to judge
    return {
        name: np.asarray(np.where(fitted, np.where(judged, value, np.inf), np.nan))
        for name, value in (("aic", aic), ("aicc", aicc), ("bic", bic), ("gcv", gcv))
    }


def nested_factors(g: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The inverse Cholesky factors ``L^-1`` of each series' G (B, S, S), built column by
    column so that a G singular from degree j on still serves the degrees below j; and the
    first degree each series cannot be fitted at (S where all can)."""
    count, size = g.shape[0], g.shape[1]
    low = np.zeros_like(g)
    broken = np.full(count, size)
    scale = np.maximum(np.abs(np.diagonal(g, axis1=1, axis2=2)).max(axis=1), 1e-300)
    for j in range(size):
        pivot = g[:, j, j] - np.sum(low[:, j, :j] ** 2, axis=1)
        bad = ~(pivot > 1e-12 * scale)  # numerically dependent on the lower terms
        broken = np.where(bad & (broken == size), j, broken)
        root = np.sqrt(np.where(bad, 1.0, pivot))
        low[:, j, j] = root
        for i in range(j + 1, size):
            low[:, i, j] = (g[:, i, j] - np.sum(low[:, i, :j] * low[:, j, :j], axis=1)) / root
    inverse = np.linalg.inv(low)  # unit-diagonal where broken: always invertible
    return np.asarray(inverse, dtype=np.float64), broken


def leave_one_out(
    x: FloatArray,
    y: FloatArray,
    w: FloatArray | None,
    domains: FloatArray,
    basis: Basis,
    g: FloatArray,
) -> FloatArray:
    """Mean weighted squared leave-one-out error of the fits of degree 0..D (B, D+1).

    ``x``, ``y`` (B, N) are the series' points (weight ``w`` (B, N), zero for padding and
    gaps; None: all 1), ``g`` (B, D+1, D+1) their unnormalised Gram matrices ``X'WX`` in
    ``basis`` on ``domains``. With ``L L' = G`` and ``z = L^-1 a`` at each point, the leverage
    of degree d is ``w (z_0^2 + ... + z_d^2)`` and the fitted value ``z_0 q_0 + ... + z_d q_d``
    (``q = L^-1 X'Wy``): every degree from one factor. The identity ``e_loo = e / (1 - h)``
    is exact; a point that alone fixes a coefficient (h = 1) makes that degree's score inf.
    """
    count, size = g.shape[0], g.shape[1]
    out = np.full((count, size), np.nan)
    factors, broken = nested_factors(g)
    for start in range(0, count, LOO_CHUNK):
        part = slice(start, min(start + LOO_CHUNK, count))
        xs, ys = x[part], y[part]
        ws = np.ones_like(ys) if w is None else w[part]
        used = ws > 0
        t = mapped(xs, domains[part], basis)
        a = np.stack(features(np, basis, t, size - 1), axis=2)  # (b, N, S)
        z = np.einsum("bns,bts->bnt", a, factors[part])
        q = np.einsum("bts,bns,bn->bt", factors[part], a, ws * ys)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            leverage = ws[:, :, None] * np.cumsum(z * z, axis=2)
            fitted = np.cumsum(z * q[:, None, :], axis=2)
            loo = (ys[:, :, None] - fitted) / (1.0 - leverage)
            loo = np.where(leverage < 1.0 - 1e-12, loo, np.inf)
            press = np.sum(np.where(used[:, :, None], ws[:, :, None] * loo * loo, 0.0), axis=1)
            out[part] = press / used.sum(axis=1)[:, None]
    degrees = np.arange(size)[None, :]
    return np.asarray(np.where(degrees < broken[:, None], out, np.nan), dtype=np.float64)


def best(scores: FloatArray) -> npt.NDArray[np.int64]:
    """The degree of each row's smallest score (the lowest on a tie), -1 where none is finite
    or all are inf."""
    finite = np.isfinite(scores) | (scores == -np.inf)
    safe = np.where(finite, scores, np.inf)
    choice = np.argmin(safe, axis=1)
    ok = np.take_along_axis(safe, choice[:, None], axis=1)[:, 0] < np.inf
    return np.asarray(np.where(ok, choice, -1), dtype=np.int64)
