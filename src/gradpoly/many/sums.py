"""Residual sums of batched fits from their own points: what the statistics of the fits whose
Gram form cannot hold them read (:func:`gradpoly.stats.gram_unreliable`: R² near 1, y far
from 0), asked lazily, vectorised over those series in blocks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from gradpoly import compensated
from gradpoly.mapping import features, mapped
from gradpoly.options import Basis
from gradpoly.stats import PointSums

FloatArray = npt.NDArray[np.float64]
Rows = npt.NDArray[np.intp]

PointRows = Callable[[Rows], tuple[FloatArray, FloatArray, "FloatArray | None"]]
"""The given series' ``(x, y, weights)``: x (R, N) or one axis (N,), y (R, N) with gaps at
weight 0 (finite), weights (R, N), (N,) or None (every point weighs 1)."""

ROUNDING = 1e12
"""A basis RSS below this many ``eps^2 sum s y^2`` (residuals within about 1e6 ulps of y)
carries rounding's relative error of 1e-6 or more: the fit may be an exact polynomial, whose
monomial residuals (compensated, as ``lstsq`` reads them) are then read too, the smaller
kept. Above it the float64 residuals of the basis hold the sums to better than that."""

EPS = float(np.finfo(np.float64).eps)


def exact_rss(x: FloatArray, y: FloatArray, s: FloatArray, monomial: FloatArray) -> float | None:
    """``sum s (y - p(x))^2`` of monomial coefficients with the residuals to twice float64's
    precision (:mod:`gradpoly.compensated`, as ``lstsq``'s own sums), or None where the
    values leave its range. Each sum is the optimum's RSS plus its own error: the smaller
    of this and the basis one is the nearer."""
    used = s > 0
    powers = compensated.Design.powers(x[used], monomial.size)
    r = None if powers is None else powers.residual(monomial, y[used])
    if r is None:
        return None
    weighted = np.sqrt(s[used]) * (r[0] + r[1])
    return float(weighted @ weighted)


BLOCK = 4_096
"""Series whose residuals are formed at once (memory: BLOCK N (D+1) floats)."""


def point_sums(point_rows: PointRows, held: Rows) -> PointSums:
    """:data:`gradpoly.stats.PointSums` of the series ``held`` (those whose Gram form the fit
    found unreliable; their points are copied now, so a result keeps no other data alive):
    for fits with coefficients w (R, D+1) in a basis on their domains, in the units of the
    points' y, the weighted RSS ``sum s (y - X w)^2`` and centered TSS ``sum s (y - ybar_s)^2``,
    each residual computed in float64 from the basis (accurate to rounding relative to |y|,
    not to the sums the Gram form cancels); NaN for a series not held (its Gram form serves)."""
    if held.size:
        x_held, y_held, w_held = point_rows(held)
        x_held = np.array(x_held, dtype=np.float64)  # owned copies: the input may go

    def sums(
        rows: Rows, w: FloatArray, domains: FloatArray, basis: Basis, monomial: FloatArray | None
    ) -> tuple[FloatArray, FloatArray]:
        rss, tss = np.full(rows.size, np.nan), np.full(rows.size, np.nan)
        at = np.flatnonzero(np.isin(rows, held))
        if at.size == 0:
            return rss, tss
        where = np.searchsorted(held, rows[at])  # held is sorted (flatnonzero's)
        degree = w.shape[1] - 1
        for start in range(0, at.size, BLOCK):
            part, take = at[start : start + BLOCK], where[start : start + BLOCK]
            x = x_held if x_held.ndim == 1 else x_held[take]
            y = y_held[take]
            weights = None if w_held is None else (w_held if w_held.ndim == 1 else w_held[take])
            t = mapped(np.broadcast_to(x, y.shape), domains[part], basis)
            fitted = np.zeros_like(y)
            with np.errstate(over="ignore", invalid="ignore"):  # points of weight 0: not used
                for k, column in enumerate(features(np, basis, t, degree)):
                    fitted += column * w[part, k][:, None]
            s = np.ones_like(y) if weights is None else np.broadcast_to(weights, y.shape)
            used = s > 0
            r = np.where(used, y - fitted, 0.0)
            total = s.sum(axis=1)
            mean = (s * y).sum(axis=1) / np.where(total > 0, total, 1.0)
            spread = np.where(used, y - mean[:, None], 0.0)
            rss[part] = (s * r * r).sum(axis=1)
            tss[part] = (s * spread * spread).sum(axis=1)
            if monomial is not None:  # residuals at rounding's level: an exact polynomial
                floor = ROUNDING * EPS * EPS * (s * y * y).sum(axis=1)
                for k in np.flatnonzero(rss[part] <= floor).tolist():
                    b = int(part[k])
                    found = exact_rss(x if x.ndim == 1 else x[k], y[k], s[k], monomial[b])
                    if found is not None and found < rss[b]:
                        rss[b] = found
        return rss, tss

    return sums
