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

from gradpoly import mapping
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
    if count > 1 and _one_design(x, w, g, domains):
        return _shared_leave_one_out(x[0], y, None if w is None else w[0], domains, basis, g)
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


def _one_design(x: FloatArray, w: FloatArray | None, g: FloatArray, domains: FloatArray) -> bool:
    """Every series has the same points, weights and domain (a shared axis without gaps)."""
    same = bool((x == x[:1]).all() and (g == g[:1]).all())
    same = same and bool(np.isnan(domains).all() or (domains == domains[:1]).all())
    return same and (w is None or bool((w == w[:1]).all()))


def _shared_leave_one_out(
    x: FloatArray,
    y: FloatArray,
    w: FloatArray | None,
    domains: FloatArray,
    basis: Basis,
    g: FloatArray,
) -> FloatArray:
    """:func:`leave_one_out` where every series shares its design: one factor, one set of
    leverages, and the fits of every degree from one matrix product over y."""
    size = g.shape[1]
    weights = np.ones_like(x) if w is None else w
    used = weights > 0
    factor, broken = nested_factors(g[:1])
    t = mapping.mapped(x[None, :], domains[:1], basis)[0]
    a = np.stack(features(np, basis, t, size - 1), axis=1)  # (N, S)
    z = a @ factor[0].T  # (N, S): z_j at each point
    leverage = weights[:, None] * np.cumsum(z * z, axis=1)  # (N, S), every degree
    q = (y * weights) @ z  # (B, S): L^-1 X'Wy
    count = y.shape[0]
    out = np.empty((count, size))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inverse = np.where(leverage < 1.0 - 1e-12, 1.0 / (1.0 - leverage), np.inf)
        for start in range(0, count, LOO_CHUNK):
            part = slice(start, min(start + LOO_CHUNK, count))
            fitted = np.cumsum(z[None, :, :] * q[part, None, :], axis=2)  # (b, N, S)
            loo = (y[part, :, None] - fitted) * inverse[None, :, :]
            press = np.sum(np.where(used[None, :, None], weights[None, :, None] * loo * loo, 0.0),
                           axis=1)  # fmt: skip
            out[part] = press / used.sum()
    degrees = np.arange(size)[None, :]
    return np.asarray(np.where(degrees < broken[0], out, np.nan), dtype=np.float64)


def best(scores: FloatArray) -> npt.NDArray[np.int64]:
    """The degree of each row's smallest score (the lowest on a tie), -1 where none is finite
    or all are inf."""
    finite = np.isfinite(scores) | (scores == -np.inf)
    safe = np.where(finite, scores, np.inf)
    choice = np.argmin(safe, axis=1)
    ok = np.take_along_axis(safe, choice[:, None], axis=1)[:, 0] < np.inf
    return np.asarray(np.where(ok, choice, -1), dtype=np.int64)
