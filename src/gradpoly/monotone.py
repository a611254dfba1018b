"""Fits that never turn back: least squares with the curve monotone on its whole domain,
certified there, not only at sample points.

The shape constraint ``sign * p'(t) >= 0`` for every t in [-1, 1] (the mapped domain) is
semi-infinite. It is met by cutting planes: the quadratic program with ``sign * p'(t_k) >= 0``
at a set of points (Lawson and Hanson's least-distance programming, one NNLS per round) is
solved, the exact minimum of ``sign * p'`` on [-1, 1] is found (at an end, or at a real root of
``p''``, from its companion matrix), and its place joins the points until that minimum is
at least ``-CERTIFY`` times the slope's scale: monotone on the whole interval to float64's
rounding. The points where the constraint binds are the active set: the fit equals the
equality-constrained one with zero slope there (:mod:`gradpoly.constraints`), which gives its
statistics (conditional on that active set, as is usual for inequality-constrained fits).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from gradpoly import calibration, mapping
from gradpoly.errors import InvalidOptionError
from gradpoly.options import Basis

FloatArray = npt.NDArray[np.float64]

DIRECTIONS: Final = {"increasing": 1.0, "decreasing": -1.0}

CERTIFY = 1e-10
"""The certified minimum slope may fall below 0 by this much of the slope's largest value on
the interval (rounding); below that, the fit is not monotone and the search goes on."""

START = 8
"""The first round's points: this many per coefficient, at Chebyshev points (dense enough
that most fits need one or two more rounds)."""

ROUNDS = 60
"""Cutting-plane rounds at most (each adds the worst point); then the fit is refused."""


def direction(value: str | None) -> float | None:
    """``monotone=``: None, ``"increasing"`` (+1) or ``"decreasing"`` (-1)."""
    if value is None:
        return None
    if value not in DIRECTIONS:
        raise InvalidOptionError(
            f"monotone must be None, 'increasing' or 'decreasing', got {value!r}"
        )
    return DIRECTIONS[value]


def slope_rows(t: FloatArray, basis: Basis, size: int) -> FloatArray:
    """(M, S): d/dt of each basis function at the points t (M,) of the mapped domain."""
    powers = mapping.in_t(basis, size)  # basis -> powers of t
    ks = np.arange(1, size)
    steps = np.power.outer(t, np.arange(size - 1)) * ks  # d t^k / dt = k t^(k-1)
    return np.asarray(steps @ powers[1:], dtype=np.float64)


def slopes_at_candidates(w: FloatArray, basis: Basis, sign: float) -> tuple[FloatArray, FloatArray]:
    """The points where each curve's (B, S coefficients) ``sign * p'`` may be least on
    [-1, 1] (the ends, and the real roots of ``p''`` inside; NaN-padded) and its values
    there (inf at padding): the exact minimum is among them."""
    count, size = w.shape
    powers = w @ mapping.in_t(basis, size).T
    slope = powers[:, 1:] * np.arange(1, size)  # p' as a power series in t
    ends = np.tile([-1.0, 1.0], (count, 1))
    if size < 3:
        candidates = ends
    else:  # roots of p'' in (-1, 1), NaN-padded
        candidates = np.concatenate([ends, calibration.critical_points(slope)], axis=1)
    values = calibration.horner(np.nan_to_num(candidates, nan=1.0), slope)
    return candidates, np.where(np.isnan(candidates), np.inf, sign * values)


def minimum_slope(
    w: FloatArray, basis: Basis, sign: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Each curve's exact minimum of ``sign * p'(t)`` on [-1, 1], where it is, and the
    largest ``|p'|`` among the candidates (the scale the minimum is judged against)."""
    candidates, values = slopes_at_candidates(w, basis, sign)
    where = np.argmin(values, axis=1)
    lowest = np.take_along_axis(values, where[:, None], axis=1)[:, 0]
    scale = np.max(np.where(np.isfinite(values), np.abs(values), 0.0), axis=1)
    place = np.take_along_axis(np.nan_to_num(candidates, nan=1.0), where[:, None], axis=1)[:, 0]
    return lowest, place, scale


def certified(w: FloatArray, basis: Basis, sign: float) -> npt.NDArray[np.bool_]:
    """Which curves are monotone in ``sign``'s direction on the whole mapped domain."""
    lowest, _, scale = minimum_slope(w, basis, sign)
    return np.asarray(lowest >= -CERTIFY * np.maximum(scale, 1e-300), dtype=bool)


def solve(
    g: FloatArray, c: FloatArray, basis: Basis, sign: float
) -> tuple[FloatArray, FloatArray] | None:
    """The monotone least-squares fit of one curve from its Gram statistics ``g`` (S, S),
    ``c`` (S,): its coefficients and the slope rows (K, S) of the points where the
    constraint binds (module docstring); None where no certified fit was found within
    :data:`ROUNDS` rounds or g is singular."""
    from scipy.optimize import nnls

    size = c.size
    try:
        upper = np.linalg.cholesky(g).T  # g = R'R
    except np.linalg.LinAlgError:
        return None
    target = np.linalg.solve(upper.T, c)  # |R w - target|^2 = w'gw - 2c'w + const
    inverse = np.linalg.inv(upper)
    points = list(np.cos(np.linspace(0.0, np.pi, START * size + 1)))
    goal = np.zeros(size + 1)
    goal[-1] = 1.0
    for _ in range(ROUNDS):
        rows = sign * slope_rows(np.asarray(points), basis, size)  # rows @ w >= 0
        e = rows @ inverse  # in z = R w - target: e z >= -e target
        system = np.vstack([e.T, (-e @ target)[None, :]])
        u, _ = nnls(system, goal, maxiter=50 * (size + len(points)))
        residual = system @ u - goal
        if not abs(residual[-1]) > 1e-300:
            return None  # infeasible: cannot happen (a constant is monotone), refused anyway
        w = inverse @ (-residual[:size] / residual[-1] + target)
        candidates, values = slopes_at_candidates(w[None, :], basis, sign)
        scale = float(np.max(np.where(np.isfinite(values), np.abs(values), 0.0)))
        below = values[0] < -CERTIFY * max(scale, 1e-300)
        if not below.any():
            return w, rows[u > 0]
        points.extend(candidates[0][below].tolist())  # every dip at once
    return None


def covariance_shape(g: FloatArray, rows: FloatArray) -> tuple[FloatArray, int]:
    """``N (N'GN)^-1 N'`` for the null space N of the binding slope rows (their numerical
    rank r: points that crowd one place count once), and r: the fit's statistics."""
    size = g.shape[0]
    if rows.shape[0] == 0:
        return np.asarray(np.linalg.inv(g), dtype=np.float64), 0
    _, singular, vt = np.linalg.svd(rows, full_matrices=True)
    rank = int(np.sum(singular > 1e-6 * singular[0]))
    null = vt[rank:].T  # (S, S - r)
    if null.shape[1] == 0:
        return np.zeros((size, size)), rank
    inner = np.linalg.inv(null.T @ g @ null)
    return np.asarray(null @ inner @ null.T, dtype=np.float64), rank
