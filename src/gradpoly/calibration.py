"""Inverse prediction (calibration): the x at which a fitted curve reaches a measured y, with
its interval, for one curve or B curves at once.

The curve is read only inside the range of its standards (each fit's domain): it is split at
its critical points (the real roots of its derivative, from batched companion matrices) into
pieces on which it is monotone; a measured y crossed on exactly one piece has one answer,
found by bisection to float64's resolution. A y outside the range, or crossed more than once
(the curve turns back), has none, and says so.

Two intervals, both at ``level`` with the fit's dof (normal quantiles where sigma is known):

- ``"classical"`` (Eisenhart's, the inverse of the prediction band): every x whose prediction
  interval for the mean of ``replicates`` new measurements holds y, i.e. where
  ``|p(x) - y| <= q sqrt(var p(x) + s^2 / m)``: the stretch containing the estimate, whose ends
  are roots of a polynomial of degree 2D (inf where the band never closes: the slope is not
  significant at that level). For a line this is Fieller's interval.
- ``"delta"``: ``x0 +- q sqrt(var p(x0) + s^2 / m) / |p'(x0)|`` (first-order propagation; for a
  straight line this is the textbook ``s_x0``: Miller & Miller, *Statistics and Chemometrics
  for Analytical Chemistry*, section 5.6).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from gradpoly import mapping
from gradpoly.errors import InvalidOptionError
from gradpoly.options import Basis

FloatArray = npt.NDArray[np.float64]

INTERVALS: Final = ("classical", "delta")
"""The calibration intervals :func:`inverse` gives."""

OUTSIDE, AMBIGUOUS = 1, 2
"""Why no x was found: the y is beyond the curve's values on its range, or reached twice."""

REASONS: Final = {
    OUTSIDE: "outside the values the curve takes on the range of its standards",
    AMBIGUOUS: "reached more than once: the curve is not monotone on its range",
}

BISECTIONS = 64
"""Halvings of a bracket: from [-1, 1] to below float64's spacing of t."""


def interval_kind(name: str | None) -> str | None:
    """``interval=``, checked: None or one of :data:`INTERVALS`."""
    if name is None or name in INTERVALS:
        return name
    raise InvalidOptionError(f"interval must be None, 'classical' or 'delta', got {name!r}")


def critical_points(powers: FloatArray) -> FloatArray:
    """Each curve's critical points inside (-1, 1), sorted, NaN-padded (B, S-2): the real roots
    of the derivative of the power series in t ``powers`` (B, S), by companion matrices."""
    count, size = powers.shape
    slope = powers[:, 1:] * np.arange(1, size)  # (B, S-1): the derivative's coefficients
    degree = size - 2
    if degree < 1:
        return np.empty((count, 0))
    lead = slope[:, -1]
    scale = np.maximum(np.abs(slope).max(axis=1), 1e-300)
    lead = np.where(np.abs(lead) > 1e-14 * scale, lead, 1e-14 * scale)  # a lower degree
    companion = np.zeros((count, degree, degree))
    companion[:, 1:, :-1] = np.eye(degree - 1)
    companion[:, :, -1] = -slope[:, :-1] / lead[:, None]
    roots = np.linalg.eigvals(companion)
    real = np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots.real))
    inside = real & (np.abs(roots.real) < 1.0)
    return np.sort(np.where(inside, roots.real, np.nan), axis=1)


def locate(
    basis_coef: FloatArray, basis: Basis, targets: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """t (B, M) in [-1, 1] where each curve (basis coefficients (B, S) in t) equals its targets
    (B, M), and why not (0, :data:`OUTSIDE`, :data:`AMBIGUOUS`; t NaN there)."""
    powers = basis_coef @ mapping.in_t(basis, basis_coef.shape[1]).T
    ends = np.full((basis_coef.shape[0], 1), 1.0)
    knots = np.concatenate([-ends, critical_points(powers), ends], axis=1)  # sorted, NaN last
    knots = np.sort(knots, axis=1)
    values = np.polynomial.polynomial.polyval(knots.T, powers.T, tensor=False).T  # (B, K)
    f = values[:, None, :] - targets[:, :, None]  # (B, M, K)
    with np.errstate(invalid="ignore"):  # values within rounding of the target are equal
        tiny = 16 * np.finfo(np.float64).eps * np.nanmax(np.abs(values), axis=1)[:, None, None]
        f = np.where(np.abs(f) <= tiny, 0.0, f)
    known = np.isfinite(f)
    left, right = f[..., :-1], f[..., 1:]
    crosses = known[..., :-1] & known[..., 1:]
    crosses &= (np.minimum(left, right) <= 0) & (np.maximum(left, right) >= 0)
    # a target equal to an interior knot's value is met by the two pieces sharing it: once
    shared = (f[..., 1:-1] == 0) & crosses[..., :-1] & crosses[..., 1:]
    count = crosses.sum(axis=-1) - shared.sum(axis=-1)
    piece = np.argmax(crosses, axis=-1)
    lo = np.take_along_axis(np.broadcast_to(knots[:, None, :], f.shape), piece[..., None], -1)
    hi = np.take_along_axis(
        np.broadcast_to(knots[:, None, :], f.shape), (piece + 1)[..., None], -1
    )  # fmt: skip
    lo, hi = lo[..., 0], np.nan_to_num(hi[..., 0], nan=1.0)
    ends_of = np.broadcast_to(values[:, None, :], f.shape)
    v_lo = np.take_along_axis(ends_of, piece[..., None], -1)[..., 0]
    v_hi = np.take_along_axis(ends_of, np.minimum(piece + 1, f.shape[-1] - 1)[..., None], -1)
    rising = v_hi[..., 0] >= v_lo  # the piece's direction, from its ends
    for _ in range(BISECTIONS):
        mid = 0.5 * lo + 0.5 * hi
        below = np.polynomial.polynomial.polyval(mid.T, powers.T, tensor=False).T - targets <= 0
        move_lo = below == rising
        lo, hi = np.where(move_lo, mid, lo), np.where(move_lo, hi, mid)
    why = np.where(count == 1, 0, np.where(count == 0, OUTSIDE, AMBIGUOUS)).astype(np.int8)
    return np.where(why == 0, 0.5 * lo + 0.5 * hi, np.nan), why


def variance_powers(cov_t: FloatArray) -> FloatArray:
    """The variance of a fitted curve's value as a power series in t (B, 2S-1), from the
    covariance (B, S, S) of its power coefficients in t: ``var p(t) = sum C_ij t^(i+j)``."""
    count, size = cov_t.shape[0], cov_t.shape[1]
    out = np.zeros((count, 2 * size - 1))
    for i in range(size):
        out[:, i : i + size] += cov_t[:, i, :]
    return out


def band_edges(
    powers: FloatArray,
    cov_t: FloatArray,
    targets: FloatArray,
    t0: FloatArray,
    spread: FloatArray,
    q: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """The classical interval's edges (B, M) in t about ``t0``: the nearest real roots on each
    side of ``g(t) = (p(t) - y)^2 - spread^2 - q^2 var p(t)``, a polynomial of degree 2D (so
    found exactly, by companion matrices, then one Newton step); -inf/+inf where the band does
    not close on that side. ``spread`` (B, 1) is q times the new measurement's standard
    deviation."""
    size = powers.shape[1]
    shifted = np.broadcast_to(powers[:, None, :], (*targets.shape, size)).copy()
    shifted[..., 0] -= targets
    square = np.zeros((*targets.shape, 2 * size - 1))
    for i in range(size):
        square[..., i : i + size] += shifted[..., i : i + 1] * shifted
    g = square - (q * q)[..., None] * variance_powers(cov_t)[:, None, :]
    g[..., 0] -= spread * spread
    flat = g.reshape(-1, g.shape[-1])
    degree = flat.shape[1] - 1
    scale = np.maximum(np.abs(flat).max(axis=1), 1e-300)
    lead = np.where(np.abs(flat[:, -1]) > 1e-14 * scale, flat[:, -1], 1e-14 * scale)
    companion = np.zeros((flat.shape[0], degree, degree))
    companion[:, 1:, :-1] = np.eye(degree - 1)
    companion[:, :, -1] = -flat[:, :-1] / lead[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        roots = np.linalg.eigvals(np.nan_to_num(companion)).reshape(*targets.shape, degree)
        real = np.abs(roots.imag) <= 1e-7 * np.maximum(1.0, np.abs(roots.real))
        found = np.where(real, roots.real, np.nan)
        slope = g[..., 1:] * np.arange(1, degree + 1)
        value = horner(found, g)
        step = value / horner(found, slope)
        polished = found - step
        better = np.abs(horner(polished, g)) <= np.abs(value)
        found = np.where(better, polished, found)
        below = np.where(found < t0[..., None], found, -np.inf).max(axis=-1)
        above = np.where(found > t0[..., None], found, np.inf).min(axis=-1)
    fitted = np.isfinite(t0)
    return np.where(fitted, below, np.nan), np.where(fitted, above, np.nan)


def horner(t: FloatArray, coef: FloatArray) -> FloatArray:
    """Power series ``coef`` (..., K) at ``t`` (..., R) (coef's leading axes those of t's),
    by Horner along the last axis."""
    out = np.zeros_like(t)
    for k in range(coef.shape[-1] - 1, -1, -1):
        out = out * t + coef[..., k : k + 1]
    return out
