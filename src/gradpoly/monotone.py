"""Fits that never turn back: least squares with the curve monotone on its whole domain,
certified there, not only at sample points.

The shape constraint ``sign * p'(t) >= 0`` for every t in [-1, 1] (the mapped domain) is
semi-infinite. Its optimum touches zero slope at a few points t_i (an end, or an interior
minimum of the slope, where ``p''(t_i) = 0`` too) with non-negative multipliers; a fit is
accepted only where the exact minimum of ``sign * p'`` on [-1, 1] (at an end, or at a real
root of ``p''``, from its companion matrix) is at least ``-CERTIFY`` times the slope's scale:
monotone on the whole interval to float64's rounding.

Every curve first takes an exchange method, batched over all curves (:func:`solve_all`): the
fit with zero slope at the touch points is one KKT solve, each interior touch point then takes
a Newton step on ``p''(t_i) = 0`` (its derivatives from the same KKT system), the lowest local
minimum of the slope that no touch point tracks joins where the slope dips there, and a point
whose multiplier turns negative leaves. A curve is done when its slope's minimum is within
:data:`SETTLE` of zero and every multiplier is non-negative: the optimality conditions, so the
answer is the optimum. Most curves settle in four to six rounds. The few that do not within
:data:`EXCHANGES` rounds take cutting planes (:func:`solve`): the quadratic program with
``sign * p'(t_k) >= 0`` at a set of points (Lawson and Hanson's least-distance programming,
one NNLS per round), the exact minimum's place joining the points until it is certified.

The points where the constraint binds are the active set: the fit equals the
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

EXCHANGES = 30
"""Exchange rounds at most (:func:`solve_all`) before a curve is left to the cutting planes."""

SETTLE = 1e-13
"""The exchange method's stop: the minimum slope within this of the slope's scale (tighter
than :data:`CERTIFY`; its Newton steps converge quadratically, so this costs about one round
and gives the optimum's coefficients to about 1e-8)."""

SAME_POINT = 1e-9
"""Touch points closer than this (in the mapped t) are one."""


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
    return derivative_rows(np.asarray(t, dtype=np.float64)[None, :], basis, size, 1)[0]


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


def derivative_rows(t: FloatArray, basis: Basis, size: int, order: int) -> FloatArray:
    """(B, K, S): the ``order``-th derivative in t of each basis function at each curve's
    points t (B, K) (NaN: a zero row)."""
    powers = mapping.in_t(basis, size)
    ks = np.arange(order, size)
    falling = np.ones(ks.size)
    for j in range(order):
        falling = falling * (ks - j)  # k! / (k - order)!
    steps = np.power(np.nan_to_num(t)[..., None], ks - order) * falling
    rows = steps @ powers[order:]
    return np.asarray(np.where(np.isnan(t)[..., None], 0.0, rows), dtype=np.float64)


def _local_minima(w: FloatArray, basis: Basis, sign: float) -> tuple[FloatArray, FloatArray]:
    """Each curve's candidates (:func:`slopes_at_candidates`), with the interior ones where
    ``sign * p'`` has no local minimum (its derivative ``sign * p'''`` not positive) set to
    NaN, and the slope's values at all of them."""
    candidates, values = slopes_at_candidates(w, basis, sign)
    size = w.shape[1]
    if size >= 4:
        powers = w @ mapping.in_t(basis, size).T
        ks = np.arange(3, size)
        third = powers[:, 3:] * (ks * (ks - 1) * (ks - 2))
        interior = candidates[:, 2:]
        curvature = sign * calibration.horner(np.nan_to_num(interior, nan=0.0), third)
        candidates = np.concatenate(
            [candidates[:, :2], np.where(curvature > 0, interior, np.nan)], axis=1
        )
    return candidates, values


def solve_all(
    g: FloatArray, c: FloatArray, basis: Basis, sign: float
) -> list[tuple[FloatArray, FloatArray] | None]:
    """The monotone least-squares fit of each curve from its Gram statistics ``g`` (B, S, S),
    ``c`` (B, S): its coefficients and the slope rows (K, S) of the points where the
    constraint binds, or None where none could be certified (module docstring: the batched
    exchange method, then the cutting planes for the curves it leaves)."""
    count, size = c.shape
    out: list[tuple[FloatArray, FloatArray] | None] = [None] * count
    settled = np.zeros(count, dtype=bool)
    if size >= 2 and count:
        try:
            settled = _exchange(g, c, basis, sign, out)
        except np.linalg.LinAlgError:  # a singular g among them: each curve on its own
            settled[:] = False
    for b in np.flatnonzero(~settled).tolist():
        out[b] = solve(g[b], c[b], basis, sign)
    return out


def _exchange(
    g: FloatArray,
    c: FloatArray,
    basis: Basis,
    sign: float,
    out: list[tuple[FloatArray, FloatArray] | None],
) -> npt.NDArray[np.bool_]:
    """The batched exchange method (module docstring) on every curve; fills ``out`` for the
    curves it settles and returns which those are.

    Each round solves the KKT system of the fit with zero slope at the touch points t, and
    with it the derivatives of w and of the multipliers along each t_j, so that the interior
    touch points take a Newton step on ``p''(t_i) = 0`` (the slope least there); a step that
    would leave (-1, 1) or is not finite moves the point to its local minimum instead."""
    count, size = c.shape
    slots = size - 1  # at most S - 1 touch points
    t = np.full((count, slots), np.nan)
    done = np.zeros(count, dtype=bool)
    running = np.arange(count)
    eye = np.eye(slots)
    with np.errstate(all="ignore"):
        for _ in range(EXCHANGES):
            if not running.size:
                break
            tr = t[running]
            empty = np.isnan(tr)
            d = sign * derivative_rows(tr, basis, size, 1)  # (R, K, S); empty slots: zero
            kkt = np.zeros((running.size, size + slots, size + slots))
            kkt[:, :size, :size] = g[running]
            kkt[:, :size, size:] = -np.swapaxes(d, 1, 2)
            kkt[:, size:, :size] = d
            kkt[:, size:, size:] = eye * empty[:, :, None]  # an empty slot's multiplier: 0
            rhs = np.zeros((running.size, size + slots))
            rhs[:, :size] = c[running]
            solution = np.linalg.solve(kkt, rhs[..., None])[..., 0]
            wr, multipliers = solution[:, :size], solution[:, size:]
            held = np.where(empty, np.inf, multipliers)
            top = np.max(np.where(empty, 0.0, np.abs(multipliers)), axis=1)
            leave = (held < -1e-12 * np.maximum(top, 1e-300)[:, None]).any(axis=1)
            candidates, values = _local_minima(wr, basis, sign)
            scale = np.max(np.where(np.isfinite(values), np.abs(values), 0.0), axis=1)
            lowest = np.min(values, axis=1)
            ok = (
                ~leave
                & np.isfinite(wr).all(axis=1)
                & (lowest >= -SETTLE * np.maximum(scale, 1e-300))
            )
            for i in np.flatnonzero(ok).tolist():
                binding = ~empty[i] & (multipliers[i] > 0)
                out[int(running[i])] = (wr[i], d[i][binding])
            done[running[ok]] = True
            rest = ~ok
            running, tr, empty, leave = running[rest], tr[rest], empty[rest], leave[rest]
            wr, multipliers, held = wr[rest], multipliers[rest], held[rest]
            kkt, candidates, values, scale = kkt[rest], candidates[rest], values[rest], scale[rest]
            # Newton on h_i = sign p''(t_i) = 0 at the interior touch points
            curve = sign * derivative_rows(tr, basis, size, 2)
            bend = sign * derivative_rows(tr, basis, size, 3)
            h = np.einsum("rks,rs->rk", curve, wr)
            interior = ~empty & (np.abs(tr) < 1.0)
            columns = np.zeros((running.size, size + slots, slots))  # d(w, multipliers)/dt_j
            columns[:, :size, :] = np.swapaxes(curve, 1, 2) * np.nan_to_num(multipliers)[:, None, :]
            columns[:, size:, :] = -eye * np.where(interior, h, 0.0)[:, :, None]
            moves = np.linalg.solve(kkt, columns)[:, :size, :]  # (R, S, K)
            jacobian = curve @ moves + eye * np.einsum("rks,rs->rk", bend, wr)[:, :, None]
            jacobian = np.where(interior[:, :, None] & interior[:, None, :], jacobian, eye)
            newton = tr - np.linalg.solve(jacobian, np.where(interior, h, 0.0)[..., None])[..., 0]
            distance = np.abs(tr[:, :, None] - candidates[:, None, :])
            distance = np.where(np.isnan(distance), np.inf, distance)
            nearest = np.argmin(distance, axis=2)
            tracked = np.isfinite(distance.min(axis=2)) & ~empty
            moved = np.where(tracked, np.take_along_axis(candidates, nearest, axis=1), np.nan)
            usable = interior & np.isfinite(newton) & (np.abs(newton) < 1.0)
            tr = np.where(usable, newton, moved)
            worst = np.arange(slots) == np.argmin(held, axis=1)[:, None]
            tr[leave] = np.where(worst, np.nan, t[running])[leave]  # the worst goes, alone
            # the lowest local minimum no touch point tracks joins where the slope dips there
            claimed = np.zeros(candidates.shape, dtype=bool)
            np.put_along_axis(claimed, np.where(tracked, nearest, 0), tracked, axis=1)
            open_values = np.where(claimed | np.isnan(candidates), np.inf, values)
            where = np.argmin(open_values, axis=1)
            lowest = open_values[np.arange(running.size), where]
            free = np.isnan(tr)
            join = ~leave & (lowest < -CERTIFY * np.maximum(scale, 1e-300)) & free.any(axis=1)
            tr[np.flatnonzero(join), np.argmax(free, axis=1)[join]] = candidates[join, where[join]]
            t[running] = _one_per_place(tr)
    return done


def _one_per_place(t: FloatArray) -> FloatArray:
    """Touch points (B, K) without those that coincide with an earlier one (NaN)."""
    t = t.copy()
    for k in range(1, t.shape[1]):
        same = (np.abs(t[:, :k] - t[:, k : k + 1]) <= SAME_POINT).any(axis=1)
        t[same, k] = np.nan
    return t


def solve(
    g: FloatArray, c: FloatArray, basis: Basis, sign: float
) -> tuple[FloatArray, FloatArray] | None:
    """The monotone least-squares fit of one curve from its Gram statistics ``g`` (S, S),
    ``c`` (S,) by cutting planes: its coefficients and the slope rows (K, S) of the points where the
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


def covariance_shapes(g: FloatArray, rows: list[FloatArray]) -> tuple[FloatArray, FloatArray]:
    """``N (N'GN)^-1 N'`` for each curve (``g`` (B, S, S), its binding slope rows (K_b, S)):
    N the null space of the rows, of their numerical rank r (points that crowd one place
    count once), and r (B,): the fits' statistics. Batched, one group per rank."""
    count, size = g.shape[0], g.shape[1]
    padded = np.zeros((count, max(size - 1, 1), size))
    for b, found in enumerate(rows):
        padded[b, : min(found.shape[0], padded.shape[1])] = found[: padded.shape[1]]
    _, singular, vt = np.linalg.svd(padded, full_matrices=True)
    top = singular[:, :1]
    ranks = np.sum(singular > 1e-6 * np.where(top > 0, top, np.inf), axis=1)
    out = np.zeros((count, size, size))
    for rank in np.unique(ranks).tolist():
        group = np.flatnonzero(ranks == rank)
        if rank == size:
            continue  # no free direction: nothing varies
        null = np.swapaxes(vt[group, rank:, :], 1, 2)  # (G, S, S - r)
        inner = np.linalg.inv(np.swapaxes(null, 1, 2) @ g[group] @ null)
        out[group] = null @ inner @ np.swapaxes(null, 1, 2)
    return out, ranks.astype(np.int64)


def covariance_shape(g: FloatArray, rows: FloatArray) -> tuple[FloatArray, int]:
    """:func:`covariance_shapes` of one curve."""
    inverse, ranks = covariance_shapes(g[None], [rows])
    return inverse[0], int(ranks[0])
