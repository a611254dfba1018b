"""Fits that never turn back: least squares with the curve monotone on its whole domain,
certified there, not only at sample points.

The shape constraint ``sign * p'(t) >= 0`` for every t in [-1, 1] (the mapped domain) is
semi-infinite. Its optimum touches zero slope at a few points t_i (an end, or an interior
minimum of the slope, where ``p''(t_i) = 0`` too) with non-negative multipliers; a fit is
accepted only where the exact minimum of ``sign * p'`` on [-1, 1] (at an end, or at a real
root of ``p''``, from its companion matrix) is at least ``-CERTIFY`` times the slope's scale,
or within the change that rounding the coefficients makes (a curve whose slope is zero
everywhere; :func:`tolerance`): monotone on the whole interval to float64's rounding.

Every curve first takes an exchange method (:func:`solve_all`), batched over all curves in
NumPy (:data:`NUMPY`) or compiled per curve by a batched backend (:class:`Shapes`): the
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

import contextlib
import functools
from typing import Final, NamedTuple, Protocol

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

ROUNDING = 64 * float(np.finfo(np.float64).eps)
"""A fit's coefficients carry about this much of their largest one in rounding (about
cond(G) eps; a mapped basis' G is well conditioned): a slope within the change that
rounding makes (:func:`tolerance`) is zero, as for a curve whose slope is zero everywhere."""

FLAT = 1e-10
"""A monotone fit whose non-constant basis coefficients are all within this of the
least-squares fit's largest is the constant fit (:func:`_flatten`): the exchange finds the
optimum's coefficients to about 1e-8, so this changes none beyond that."""

SAME_POINT = 1e-9
"""Touch points closer than this (in the mapped t) are one."""


class Shaped(NamedTuple):
    """Monotone fits of B curves (:func:`solve_all`): coefficients (B, S), the slope rows of
    the points where each curve's constraint binds (B, max(S - 1, 1), S; zero rows pad), and
    which curves have a certified fit (the others' rows are NaN)."""

    w: FloatArray
    rows: FloatArray
    found: npt.NDArray[np.bool_]


class Shapes(Protocol):
    """Who runs the two batched steps of a monotone fit: NumPy here (:data:`NUMPY`); a
    batched backend may compile them (:meth:`gradpoly.batched.base.BatchEngine.shapes`),
    by the same rules, to the same answers."""

    def minimum_slope(
        self, w: FloatArray, basis: Basis, sign: float
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:func:`minimum_slope` of every curve."""
        ...

    def exchange(
        self, g: FloatArray, c: FloatArray, basis: Basis, sign: float, out: Shaped
    ) -> None:
        """:func:`exchange`: fill ``out`` for the curves it settles."""
        ...


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


@functools.cache
def rounding_unit(basis: Basis, size: int) -> float:
    """:data:`ROUNDING` times the sum of the basis functions' largest slopes on [-1, 1] (at
    its ends, for the mapped bases): the most a rounding of the coefficients, per unit of
    the largest, moves a slope."""
    ends = derivative_rows(np.array([[-1.0, 1.0]]), basis, size, 1)[0]
    return ROUNDING * float(np.abs(ends).max(axis=0).sum())


def tolerance(
    rule: float, scale: FloatArray, w: FloatArray, basis: Basis, level: FloatArray | float = 0.0
) -> FloatArray:
    """How far below zero a minimum slope may fall and count as zero: ``rule``
    (:data:`CERTIFY`, :data:`SETTLE`) of the slope's scale, or where that is smaller, the
    slope's change from rounding the coefficients ``w`` (B, S) (:func:`rounding_unit`), or the
    least-squares fit's largest coefficient ``level`` (B,) that a constrained fit was solved
    from (its rounding stays in the answer)."""
    size = w.shape[-1]
    top = np.maximum(np.max(np.abs(w), axis=-1), level) if size else 0.0
    return np.asarray(np.maximum(rule * scale, rounding_unit(basis, size) * top), dtype=np.float64)


def certified(
    w: FloatArray,
    basis: Basis,
    sign: float,
    by: Shapes | None = None,
    level: FloatArray | float = 0.0,
) -> npt.NDArray[np.bool_]:
    """Which curves are monotone in ``sign``'s direction on the whole mapped domain (their
    minimum slope found ``by`` NumPy, or a backend's compiled kernel), to rounding (of w, or
    of the least-squares fit's largest coefficient ``level`` it was solved from)."""
    lowest, _, scale = (by or NUMPY).minimum_slope(w, basis, sign)
    return np.asarray(lowest >= -tolerance(CERTIFY, scale, w, basis, level), dtype=bool)


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
    g: FloatArray,
    c: FloatArray,
    basis: Basis,
    sign: float,
    by: Shapes | None = None,
    fitted: FloatArray | None = None,
) -> Shaped:
    """The monotone least-squares fit of each curve from its Gram statistics ``g`` (B, S, S),
    ``c`` (B, S) (module docstring: the exchange method, run ``by`` NumPy's batched loop or
    a backend's compiled one, then the cutting planes for the curves it leaves); ``fitted``:
    their least-squares fits where the caller has them (else solved here)."""
    count, size = c.shape
    shaped = Shaped(
        np.full((count, size), np.nan),
        np.full((count, max(size - 1, 1), size), np.nan),
        np.zeros(count, dtype=bool),
    )
    if size >= 2 and count:
        (by or NUMPY).exchange(g, c, basis, sign, shaped)
    for b in np.flatnonzero(~shaped.found).tolist():
        found = solve(g[b], c[b], basis, sign)
        if found is not None:
            shaped.w[b], kept = found[0], found[1][: shaped.rows.shape[1]]
            shaped.rows[b] = 0.0
            shaped.rows[b, : kept.shape[0]] = kept
            shaped.found[b] = True
    if fitted is None:
        fitted = shaped.w.copy()  # where g is singular, the fits' own size is the level
        with np.errstate(all="ignore"), contextlib.suppress(np.linalg.LinAlgError):
            fitted = np.asarray(np.linalg.solve(g, c[..., None])[..., 0], dtype=np.float64)
    _flatten(g, c, basis, sign, fitted, shaped)
    return shaped


class _Spread(dict[int, FloatArray]):
    """S - 1 distinct points of [-1, 1] (Chebyshev's), by S: where a constant fit pins every
    slope."""

    def __missing__(self, size: int) -> FloatArray:
        count = max(size - 1, 1)
        self[size] = np.cos(np.pi * (np.arange(count) + 0.5) / count)
        return self[size]


_SPREAD = _Spread()


def _flatten(
    g: FloatArray, c: FloatArray, basis: Basis, sign: float, fitted: FloatArray, out: Shaped
) -> None:
    """Found curves that are constant to :data:`FLAT` become the constant fit exactly
    (``c_0 / G_00``: the first basis function is 1), with every slope pinned.

    Such an optimum touches zero slope everywhere, so which points bind, and so the
    statistics conditional on them, would depend on the path that found it (and its
    rounding); pinned, it has the constant fit's: one free coefficient, dof n - 1, on every
    path."""
    rows = np.flatnonzero(out.found)
    size = c.shape[1]
    if size < 2 or not rows.size:
        return
    w = out.w[rows]
    level = np.maximum(np.max(np.abs(w), axis=1), np.max(np.abs(fitted[rows]), axis=1))
    flat = rows[np.max(np.abs(w[:, 1:]), axis=1) <= FLAT * level]
    if not flat.size:
        return
    out.w[flat] = 0.0
    out.w[flat, 0] = c[flat, 0] / g[flat, 0, 0]
    out.rows[flat] = sign * slope_rows(_SPREAD[size], basis, size)


def exchange(g: FloatArray, c: FloatArray, basis: Basis, sign: float, out: Shaped) -> None:
    """The batched exchange method (module docstring) on every curve, batched over those still
    running; fills ``out`` for the curves it settles. A curve whose G or KKT system is
    singular, or whose fit is not finite, leaves for the cutting planes, alone.

    Each round solves the KKT system of the fit with zero slope at the touch points t, and
    with it the derivatives of w and of the multipliers along each t_j, so that the interior
    touch points take a Newton step on ``p''(t_i) = 0`` (the slope least there); a step that
    would leave (-1, 1) or is not finite moves the point to its local minimum instead."""
    count, size = c.shape
    slots = size - 1  # at most S - 1 touch points
    t = np.full((count, slots), np.nan)
    fitted, singular = _solve_each(g, c[..., None])  # least squares; a singular g: planes
    level = np.max(np.abs(fitted[..., 0]), axis=1)
    running = np.flatnonzero(~singular)
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
            solution, singular = _solve_each(kkt, rhs[..., None])
            solution = solution[..., 0]
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
                & (lowest >= -tolerance(SETTLE, scale, wr, basis, level[running]))
            )
            binding = ~empty[ok] & (multipliers[ok] > 0)
            out.w[running[ok]] = wr[ok]
            out.rows[running[ok]] = d[ok] * binding[:, :, None]
            out.found[running[ok]] = True
            rest = ~ok & ~singular & np.isfinite(wr).all(axis=1)  # the others: planes
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
            moves = _solve_each(kkt, columns)[0][:, :size, :]  # (R, S, K)
            jacobian = curve @ moves + eye * np.einsum("rks,rs->rk", bend, wr)[:, :, None]
            jacobian = np.where(interior[:, :, None] & interior[:, None, :], jacobian, eye)
            # a singular Jacobian: NaN steps, so its points move to their local minima
            newton = tr - _solve_each(jacobian, np.where(interior, h, 0.0)[..., None])[0][..., 0]
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
            places = np.arange(candidates.shape[1])
            claimed = ((places == nearest[:, :, None]) & tracked[:, :, None]).any(axis=1)
            open_values = np.where(claimed | np.isnan(candidates), np.inf, values)
            where = np.argmin(open_values, axis=1)
            lowest = open_values[np.arange(running.size), where]
            free = np.isnan(tr)
            below = lowest < -tolerance(CERTIFY, scale, wr, basis, level[running])
            join = ~leave & below & free.any(axis=1)
            tr[np.flatnonzero(join), np.argmax(free, axis=1)[join]] = candidates[join, where[join]]
            t[running] = _one_per_place(tr)


def _solve_each(a: FloatArray, b: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """``np.linalg.solve(a, b)`` of each system (a (R, n, n), b (R, n, m)), and which are
    singular (their solution NaN): one singular system does not stop the others."""
    try:
        return np.asarray(np.linalg.solve(a, b), dtype=np.float64), np.zeros(len(a), dtype=bool)
    except np.linalg.LinAlgError:
        out = np.full(b.shape, np.nan)
        singular = np.zeros(len(a), dtype=bool)
        for r in range(len(a)):
            try:
                out[r] = np.linalg.solve(a[r], b[r])
            except np.linalg.LinAlgError:
                singular[r] = True
        return out, singular


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
    level = float(np.abs(inverse @ target).max())  # the least-squares fit's largest coefficient
    points = list(np.cos(np.linspace(0.0, np.pi, START * size + 1)))
    goal = np.zeros(size + 1)
    goal[-1] = 1.0
    bound = -np.inf  # the relaxations' objective: a lower bound on the optimum's
    for _ in range(ROUNDS):
        rows = sign * slope_rows(np.asarray(points), basis, size)  # rows @ w >= 0
        e = rows @ inverse  # in z = R w - target: e z >= -e target
        system = np.vstack([e.T, (-e @ target)[None, :]])
        u, _ = nnls(system, goal, maxiter=50 * (size + len(points)))
        residual = system @ u - goal
        if not abs(residual[-1]) > 1e-300:
            return None  # infeasible: cannot happen (a constant is monotone), refused anyway
        w = inverse @ (-residual[:size] / residual[-1] + target)
        bound = max(bound, float(np.sum((upper @ w - target) ** 2)))
        polished = _polish(g, c, rows[u > 0])
        for candidate in (w,) if polished is None else (polished, w):
            candidates, values = slopes_at_candidates(candidate[None, :], basis, sign)
            scale = float(np.max(np.where(np.isfinite(values), np.abs(values), 0.0)))
            below = values[0] < -tolerance(CERTIFY, np.array(scale), candidate, basis, level)
            if not below.any():
                return candidate, rows[u > 0]
        points.extend(candidates[0][below].tolist())  # every dip at once
    constant = np.zeros(size)  # monotone, so never below the bound: the optimum if at it
    constant[0] = c[0] / g[0, 0]
    if float(np.sum((upper @ constant - target) ** 2)) <= bound + OPTIMAL_GAP * float(
        np.sum(target**2)
    ):
        return constant, sign * slope_rows(_SPREAD[size], basis, size)
    return None


OPTIMAL_GAP = 1e-10
"""The cutting planes' relaxations bound the optimum's objective from below. Where they
certify no fit (NNLS's rounding can leave a dip of 1e-8 that new points no longer move),
the constant fit, monotone, is taken when its objective is within this much of the
least-squares objective's scale above that bound: optimal to about 1e-5 of the fit's size,
where the alternative is no fit."""


def _polish(g: FloatArray, c: FloatArray, active: FloatArray) -> FloatArray | None:
    """The least squares with zero slope at the relaxation's active points (rows ``active``),
    solved exactly from its KKT system: NNLS's w carries its rounding (a dip of about 1e-8
    that new points no longer move), this one only the solve's. None where the system is
    singular or a multiplier is negative (then it is not the optimum)."""
    size, count = c.size, active.shape[0]
    kkt = np.zeros((size + count, size + count))
    kkt[:size, :size], kkt[:size, size:], kkt[size:, :size] = g, -active.T, active
    try:
        solution = np.linalg.solve(kkt, np.concatenate([c, np.zeros(count)]))
    except np.linalg.LinAlgError:
        return None
    multipliers = solution[size:]  # the optimality conditions: none negative
    top = float(np.abs(multipliers).max(initial=0.0))
    if not np.isfinite(solution).all() or (multipliers < -1e-12 * top).any():
        return None
    return solution[:size]


def covariance_shapes(g: FloatArray, rows: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``N (N'GN)^-1 N'`` for each curve (``g`` (B, S, S), its binding slope rows (B, K, S),
    zero rows padding): N the null space of the rows, of their numerical rank r (singular
    values above 1e-6 of the largest, from the eigenvalues of the rows' small Gram matrix:
    points that crowd one place count once), and r (B,): the fits' statistics.

    Where the rows are independent and G well conditioned (the usual case) this is the
    projection ``G^-1 - G^-1 A' (A G^-1 A')^-1 A G^-1`` of the unconstrained shape (A the
    rows), batched (one inverse where every curve shares its G); the other curves take the
    null space from an SVD, one group per rank."""
    count = g.shape[0]
    present = np.any(rows != 0.0, axis=2)
    kept = present.sum(axis=1)
    width = int(kept.max(initial=0))
    order = np.argsort(~present, axis=1, kind="stable")[:, :width]  # rows first, then padding
    a = np.take_along_axis(rows, order[:, :, None], axis=1)
    squares = np.linalg.eigvalsh(a @ np.swapaxes(a, 1, 2)) if width else np.zeros((count, 0))
    top = squares[:, -1:]  # ascending: the largest squared singular value
    ranks = np.sum(squares > 1e-12 * np.where(top > 0, top, np.inf), axis=1)
    if count and bool((g == g[:1]).all()):  # one axis, no gaps: one inverse
        out = np.broadcast_to(_inverse(g[:1])[0], g.shape).copy()
    else:
        out = _inverse(g)  # no binding row: the unconstrained shape
    # the projection subtracts from G^-1: only where G is well conditioned (1-norm estimate)
    steady = np.abs(g).sum(axis=1).max(axis=1) * np.abs(out).sum(axis=1).max(axis=1) < 1e6
    full = np.flatnonzero((ranks == kept) & (kept > 0) & steady)
    if full.size:
        spread = out[full] @ np.swapaxes(a[full], 1, 2)  # G^-1 A'
        padding = np.arange(width) >= kept[full][:, None]
        inner = a[full] @ spread + padding[:, :, None] * np.eye(width)  # padding: 1, alone
        out[full] -= spread @ np.linalg.solve(inner, np.swapaxes(spread, 1, 2))
    crowded = np.flatnonzero((ranks < kept) | ((kept > 0) & ~steady))
    if crowded.size:
        _, _, vt = np.linalg.svd(a[crowded], full_matrices=True)
        for rank in np.unique(ranks[crowded]).tolist():
            group = crowded[ranks[crowded] == rank]
            null = np.swapaxes(vt[ranks[crowded] == rank, rank:, :], 1, 2)  # (G, S, S - r)
            inner = _inverse(np.swapaxes(null, 1, 2) @ g[group] @ null)
            out[group] = null @ inner @ np.swapaxes(null, 1, 2)
    return np.asarray(out, dtype=np.float64), ranks.astype(np.int64)


def _inverse(a: FloatArray) -> FloatArray:
    """The inverse of each symmetric matrix of ``a`` (B, n, n); a singular one's
    pseudo-inverse (its unidentified directions get no variance, not an error)."""
    try:
        return np.asarray(np.linalg.inv(a), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.pinv(a, hermitian=True), dtype=np.float64)


def covariance_shape(g: FloatArray, rows: FloatArray) -> tuple[FloatArray, int]:
    """:func:`covariance_shapes` of one curve (rows (K, S), zero rows padding)."""
    inverse, ranks = covariance_shapes(g[None], rows[None])
    return inverse[0], int(ranks[0])


class _NumPyShapes:
    """:class:`Shapes` by this module's NumPy functions."""

    minimum_slope = staticmethod(minimum_slope)
    exchange = staticmethod(exchange)


NUMPY: Final[Shapes] = _NumPyShapes()
"""The NumPy :class:`Shapes`: the reference, and what serves where nothing compiles."""
