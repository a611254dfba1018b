"""Many curves at once: B series, each with its own x, fitted in one batched computation.

``lstsq_many`` solves every series' least squares in closed form and ``fit_many`` runs
gradient descent on all of them together, each with its own learning rate and stopping test.
Both work on the Gram statistics of each series in a basis mapped to its own x-domain, built
in chunks of series so memory stays bounded. Ragged input is padded with zero weights; a
series with too few points is reported and left out while the others are fitted.
(NumPy only for now; batched torch/jax engines are a later step.)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import comb
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly.errors import InvalidDataError, InvalidOptionError
from gradpoly.options import AUTO, Basis, Optimizer

FloatArray = npt.NDArray[np.float64]
CHUNK_SERIES = 256
"""Series per chunk when building features: bounds memory at CHUNK_SERIES x N x (D+1)."""


@dataclass(frozen=True, eq=False)
class ManyResult:
    """Coefficients and diagnostics of B fits; row b belongs to series b.

    Attributes
    ----------
    coef : ndarray, shape (B, D+1)
        Monomial coefficients in each series' own x, increasing; NaN for invalid series.
    basis_coef : ndarray, shape (B, D+1)
        Coefficients in ``basis`` on each series' mapped domain.
    domains : ndarray, shape (B, 2)
        The x interval of each series mapped to [-1, 1].
    final_loss : ndarray, shape (B,)
        Weighted MSE of the returned coefficients.
    converged, steps_run : ndarray, shape (B,)
        For gradient descent: whether ``tol`` was reached, and after how many steps.
    valid : ndarray of bool, shape (B,)
        False for series that could not be fitted; ``problems`` says why.
    traces : ndarray, shape (B, steps), optional
        Per-step losses, when asked for.
    """

    coef: FloatArray
    basis_coef: FloatArray
    domains: FloatArray
    final_loss: FloatArray
    converged: npt.NDArray[np.bool_]
    steps_run: npt.NDArray[np.int64]
    valid: npt.NDArray[np.bool_]
    basis: Basis
    method: str
    seconds: float
    problems: dict[int, str] = field(default_factory=dict)
    traces: FloatArray | None = None

    def to_rows(self, ids: Sequence[str] | None = None) -> list[dict[str, object]]:
        """One record per series: id, validity, monomial coefficients, loss, convergence."""
        names = list(ids) if ids is not None else [str(b) for b in range(self.coef.shape[0])]
        rows: list[dict[str, object]] = []
        for b, name in enumerate(names):
            row: dict[str, object] = {"series": name, "valid": bool(self.valid[b])}
            row |= {f"coef_{j}": float(c) for j, c in enumerate(self.coef[b])}
            row |= {
                "final_loss": float(self.final_loss[b]),
                "converged": bool(self.converged[b]),
                "steps_run": int(self.steps_run[b]),
                "problem": self.problems.get(b, ""),
            }
            rows.append(row)
        return rows

    def predict(self, x: npt.ArrayLike) -> FloatArray:
        """Evaluate every series' polynomial at ``x`` of shape (B, M) (or (M,) for all)."""
        xs = np.asarray(x, dtype=np.float64)
        xs = np.broadcast_to(xs, (self.coef.shape[0], xs.shape[-1]))
        powers = xs[:, :, None] ** np.arange(self.coef.shape[1])
        return np.asarray(np.einsum("bmj,bj->bm", powers, self.coef), dtype=np.float64)


def _as_batch(
    x: Any, y: Any, weights: Any, drop_nan: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(B, N) arrays of x, y and weights; ragged series padded with zero weight."""
    if isinstance(x, np.ndarray) and x.ndim == 2:
        xs, ys = [np.asarray(x, dtype=np.float64)], [np.asarray(y, dtype=np.float64)]
        if ys[0].shape != xs[0].shape:
            raise InvalidDataError(
                f"x and y must have the same shape, got {x.shape} and {np.shape(y)}"
            )
        xb, yb = xs[0].copy(), ys[0].copy()
        wb = np.ones_like(xb) if weights is None else np.array(weights, dtype=np.float64)
        if wb.shape != xb.shape:
            raise InvalidDataError(f"weights must have shape {xb.shape}, got {wb.shape}")
    else:
        xb, yb, wb = _pad(x, y, weights)
    if xb.ndim != 2 or xb.shape[0] == 0 or xb.shape[1] == 0:
        raise InvalidDataError(
            f"x must be a (B, N) array or a list of 1-D arrays, got shape {xb.shape}"
        )
    bad = ~(np.isfinite(xb) & np.isfinite(yb) & np.isfinite(wb))
    if bad.any():
        if not drop_nan:
            rows = np.flatnonzero(bad.any(axis=1))
            first = int(rows[0])
            points = np.flatnonzero(bad[first])[:5].tolist()
            raise InvalidDataError(
                f"{rows.size} series have NaN or inf values (series {rows[:5].tolist()}"
                f"{'...' if rows.size > 5 else ''}; in series {first}, points {points}); "
                "clean them or pass drop_nan=True to give those points zero weight"
            )
        xb[bad], yb[bad], wb[bad] = 0.0, 0.0, 0.0
    if np.any(wb < 0):
        row, col = (int(v[0]) for v in np.nonzero(wb < 0))
        raise InvalidDataError(
            f"weights must be non-negative; series {row}, point {col} is {wb[row, col]}"
        )
    return xb, yb, wb


def _pad(x: Any, y: Any, weights: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Ragged lists of 1-D series -> padded (B, N) arrays with zero weight on the padding."""
    if not isinstance(x, Sequence) or not isinstance(y, Sequence) or len(x) != len(y):
        raise InvalidDataError("x and y must be (B, N) arrays or lists of equally many series")
    series = [
        (np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        for a, b in zip(x, y, strict=True)
    ]
    for b, (xs, ys) in enumerate(series):
        if xs.ndim != 1 or xs.shape != ys.shape:
            raise InvalidDataError(
                f"series {b}: x and y must be 1-D of the same length, got {xs.shape} and {ys.shape}"
            )
    width = max((xs.size for xs, _ in series), default=0)
    xb = np.zeros((len(series), width))
    yb = np.zeros_like(xb)
    wb = np.zeros_like(xb)
    for b, (xs, ys) in enumerate(series):
        xb[b, : xs.size], yb[b, : xs.size] = xs, ys
        wb[b, : xs.size] = 1.0 if weights is None else np.asarray(weights[b], dtype=np.float64)
    return xb, yb, wb


def _features(basis: Basis, t: FloatArray, degree: int) -> FloatArray:
    """(B, D+1, N) features of mapped points t (B, N) by the basis' three-term recurrence."""
    v = np.empty((t.shape[0], degree + 1, t.shape[1]))
    v[:, 0] = 1.0
    if degree >= 1:
        v[:, 1] = t
    for j in range(2, degree + 1):
        if basis is Basis.CHEBYSHEV:
            v[:, j] = 2.0 * t * v[:, j - 1] - v[:, j - 2]
        elif basis is Basis.LEGENDRE:
            v[:, j] = ((2 * j - 1) * t * v[:, j - 1] - (j - 1) * v[:, j - 2]) / j
        else:
            v[:, j] = t * v[:, j - 1]
    return v


def _statistics(
    xb: FloatArray, yb: FloatArray, wb: FloatArray, degree: int, basis: Basis
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_], dict[int, str]]:
    """Per series: Gram ``G`` (B, D+1, D+1), ``c`` (B, D+1), ``s`` (B,), domains, validity."""
    count = xb.shape[0]
    g = np.zeros((count, degree + 1, degree + 1))
    c = np.zeros((count, degree + 1))
    s = np.zeros(count)
    domains = np.zeros((count, 2))
    valid = np.ones(count, dtype=bool)
    problems: dict[int, str] = {}
    for start in range(0, count, CHUNK_SERIES):
        part = slice(start, min(start + CHUNK_SERIES, count))
        x, y, w = xb[part], yb[part], wb[part]
        used = w > 0
        lo = np.where(used, x, np.inf).min(axis=1)
        hi = np.where(used, x, -np.inf).max(axis=1)
        span = np.where(hi > lo, hi - lo, 1.0)
        lo = np.where(np.isfinite(lo), lo, 0.0)
        domains[part] = np.stack([lo, lo + span], axis=1)
        if basis is Basis.MONOMIAL:
            t, domains[part] = x, np.nan
        else:
            t = (2.0 * x - (2 * lo[:, None] + span[:, None])) / span[:, None]
        n = np.maximum(used.sum(axis=1), 1)[:, None]
        v = _features(basis, t, degree)
        vw = v if bool(np.all(w == 1.0)) else v * w[:, None, :]
        g[part] = np.matmul(vw, v.transpose(0, 2, 1)) / n[:, :, None]
        c[part] = np.matmul(vw, y[:, :, None])[:, :, 0] / n
        s[part] = (w * y * y).sum(axis=1) / n[:, 0]
    # A series with fewer than D+1 distinct x values has a singular Gram matrix; counting
    # distinct values needs a sort, so it is done only for the series that look singular.
    eig = np.linalg.eigvalsh(g)
    suspect = np.flatnonzero(~(eig[:, 0] > 1e-12 * np.maximum(eig[:, -1], np.finfo(float).tiny)))
    if suspect.size:
        distinct = _distinct_counts(np.where(wb[suspect] > 0, xb[suspect], np.nan))
        for b, found in zip(suspect.tolist(), distinct.tolist(), strict=True):
            if found > degree:
                continue  # ill-conditioned (e.g. high-degree monomials) but not singular
            valid[b] = False
            problems[b] = (
                f"{found} distinct x values with positive weight; degree {degree} needs "
                f"{degree + 1}"
            )
    return g, c, s, domains, valid, problems


def _distinct_counts(x: FloatArray) -> npt.NDArray[np.int64]:
    """Distinct non-NaN values per row."""
    ordered = np.sort(x, axis=1)
    finite = np.isfinite(ordered)
    fresh = np.ones_like(ordered, dtype=bool)
    fresh[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return np.asarray((fresh & finite).sum(axis=1), dtype=np.int64)


_TO_MONOMIAL = {
    Basis.CHEBYSHEV: np.polynomial.chebyshev.cheb2poly,
    Basis.LEGENDRE: np.polynomial.legendre.leg2poly,
}


def _to_monomial(coef: FloatArray, domains: FloatArray, basis: Basis) -> FloatArray:
    """Basis coefficients on each mapped domain -> monomial coefficients in each series' x."""
    if basis is Basis.MONOMIAL:
        return coef.copy()
    size = coef.shape[1]
    to_t = np.stack(
        [_padded(_TO_MONOMIAL[basis](np.eye(size)[j]), size) for j in range(size)], axis=1
    )  # column j: basis function j as a monomial in t
    in_t = coef @ to_t.T
    lo, hi = domains[:, 0], domains[:, 1]
    alpha = 2.0 / (hi - lo)
    beta = -(hi + lo) / (hi - lo)
    # t = alpha x + beta, so t^j = sum_k C(j, k) alpha^k beta^(j-k) x^k
    out = np.zeros_like(coef)
    for j in range(size):
        for k in range(j + 1):
            out[:, k] += in_t[:, j] * comb(j, k) * alpha**k * beta ** (j - k)
    return out


def _padded(values: npt.ArrayLike, size: int) -> FloatArray:
    out = np.zeros(size)
    v = np.asarray(values, dtype=np.float64)
    out[: v.size] = v
    return out


def _matvec(g: FloatArray, w: FloatArray) -> FloatArray:
    """Batched ``G_b w_b`` (a matmul: much faster than einsum for small matrices)."""
    return np.asarray(np.matmul(g, w[:, :, None])[:, :, 0], dtype=np.float64)


def _loss(g: FloatArray, c: FloatArray, s: FloatArray, w: FloatArray) -> FloatArray:
    gw = _matvec(g, w)
    return np.asarray(s - 2 * (c * w).sum(axis=1) + (w * gw).sum(axis=1))


def _finish(
    w: FloatArray,
    stats: tuple[
        FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_], dict[int, str]
    ],
    basis: Basis,
    method: str,
    seconds: float,
    converged: npt.NDArray[np.bool_],
    steps_run: npt.NDArray[np.int64],
    traces: FloatArray | None,
) -> ManyResult:
    g, c, s, domains, valid, problems = stats
    w = np.where(valid[:, None], w, np.nan)
    coef = _to_monomial(w, domains, basis)
    loss = np.where(valid, _loss(g, c, s, np.nan_to_num(w)), np.nan)
    return ManyResult(
        coef,
        w,
        domains,
        loss,
        converged,
        steps_run,
        valid,
        basis,
        method,
        seconds,
        problems,
        traces,
    )


def lstsq_many(
    x: Any,
    y: Any,
    degree: int,
    weights: Any = None,
    basis: Basis | str = Basis.CHEBYSHEV,
    drop_nan: bool = False,
) -> ManyResult:
    """Closed-form least squares of B series at once (each with its own x).

    Parameters
    ----------
    x, y : array_like, shape (B, N), or lists of B 1-D arrays (ragged, padded here)
    weights : same shape as x, optional
        Non-negative per-point weights; padding and dropped NaN points get zero.
    basis : solve in this basis on each series' mapped domain (chebyshev by default: the
        Gram matrix stays well conditioned, so solving its normal equations is accurate).
    """
    start = time.perf_counter()
    chosen = Basis.parse(basis)
    stats = _statistics(*_as_batch(x, y, weights, drop_nan), _degree(degree), chosen)
    g, c, _, _, valid, _ = stats
    safe = np.where(valid[:, None, None], g, np.eye(g.shape[1]))
    w = np.asarray(np.linalg.solve(safe, c[:, :, None])[:, :, 0], dtype=np.float64)
    count = g.shape[0]
    return _finish(
        w,
        stats,
        chosen,
        "lstsq",
        time.perf_counter() - start,
        np.ones(count, dtype=bool),
        np.zeros(count, dtype=np.int64),
        None,
    )


def fit_many(
    x: Any,
    y: Any,
    degree: int,
    steps: int = 1000,
    lr: float | str = AUTO,
    basis: Basis | str = Basis.CHEBYSHEV,
    optimizer: Optimizer | str = Optimizer.GD,
    tol: float | None = None,
    weights: Any = None,
    drop_nan: bool = False,
    traces: bool = False,
) -> ManyResult:
    """Gradient descent on B series at once, each with its own lr (``"auto"``) and stop test.

    Every series follows exactly the GD (or momentum/Nesterov) trajectory that
    :func:`gradpoly.fit` would give it in float64 with the gram strategy; a series stops
    updating once ``|grad| / |grad(0)| <= tol``. ``traces=True`` keeps every step's loss.
    """
    start = time.perf_counter()
    chosen, rule = Basis.parse(basis), Optimizer.parse(optimizer)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise InvalidOptionError(f"steps must be a positive integer, got {steps!r}")
    if tol is not None and not tol > 0:
        raise InvalidOptionError(f"tol must be a positive number, got {tol!r}")
    stats = _statistics(*_as_batch(x, y, weights, drop_nan), _degree(degree), chosen)
    g, c, s, _, valid, _ = stats
    rate, beta = _parameters(g, valid, lr, rule)
    count, size = c.shape
    w, v = np.zeros((count, size)), np.zeros((count, size))
    active = valid.copy()
    steps_run = np.zeros(count, dtype=np.int64)
    start_norm = np.maximum(2 * np.linalg.norm(c, axis=1), np.finfo(float).tiny)
    trace = np.full((count, steps), np.nan) if traces else None
    nesterov = rule is Optimizer.NESTEROV
    grad_w = 2 * (_matvec(g, w) - c)  # the gradient at w: reused by the next step and by tol
    for k in range(steps):
        if trace is not None:
            trace[:, k] = _loss(g, c, s, w)
        grad = 2 * (_matvec(g, w + beta[:, None] * v) - c) if nesterov else grad_w
        v = np.where(active[:, None], beta[:, None] * v - rate[:, None] * grad, v)
        w = w + v
        steps_run += active
        if tol is not None or not nesterov:
            grad_w = 2 * (_matvec(g, w) - c)
        if tol is not None:
            norm = np.linalg.norm(grad_w, axis=1)
            active &= norm / start_norm > tol
            if not active.any():
                break
    converged = valid & ~active if tol is not None else np.zeros(count, dtype=bool)
    if trace is not None:
        trace = trace[:, : int(steps_run.max(initial=0))]
    return _finish(w, stats, chosen, "gd", time.perf_counter() - start, converged, steps_run, trace)


def _degree(degree: Any) -> int:
    if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or degree < 0:
        raise InvalidOptionError(f"degree must be a non-negative integer, got {degree!r}")
    return int(degree)


def _parameters(
    g: FloatArray, valid: npt.NDArray[np.bool_], lr: float | str, rule: Optimizer
) -> tuple[FloatArray, FloatArray]:
    """Per-series (lr, beta): from each Hessian ``2 G``'s extreme eigenvalues when auto."""
    safe = np.where(valid[:, None, None], g, np.eye(g.shape[1]))
    eig = np.linalg.eigvalsh(2 * safe)
    big, small = np.sqrt(eig[:, -1]), np.sqrt(np.maximum(eig[:, 0], 0.0))
    ratio = (big - small) / (big + small)
    if lr != AUTO:
        value = float(lr)
        if not (np.isfinite(value) and value > 0):
            raise InvalidOptionError(f"lr must be a positive number or 'auto', got {lr!r}")
        beta = np.zeros_like(big) if rule is Optimizer.GD else np.full_like(big, 0.9)
        return np.full_like(big, value), beta
    if rule is Optimizer.MOMENTUM:
        return 4.0 / (big + small) ** 2, ratio**2
    if rule is Optimizer.NESTEROV:
        return 1.0 / eig[:, -1], ratio
    return 1.0 / eig[:, -1], np.zeros_like(big)
