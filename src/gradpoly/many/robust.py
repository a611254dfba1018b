"""``robust_fit``: M-estimation (Huber, bisquare) and sigma clipping of one curve or B curves by
iteratively reweighted least squares, each weighted fit the batched closed form
(:func:`~gradpoly.many.api.lstsq_many`), the rules :mod:`gradpoly.robust`'s (statsmodels'
``RLM``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import robust, rowwise, validation
from gradpoly.batched.base import BatchBackend, Reweighting
from gradpoly.calling import keyword_only
from gradpoly.errors import UnfittedWarning, warn
from gradpoly.many.api import lstsq_many
from gradpoly.many.inputs import one_curve
from gradpoly.many.prepare import choose_backend, prepare
from gradpoly.many.result import ManyResult
from gradpoly.options import BEST, Basis, Device

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class RobustResult:
    """A robust fit of one curve or of B curves (arrays per series, or one curve's).

    ``coef`` are monomial coefficients (increasing powers), ``stderr``/``cov`` the robust
    ones (statsmodels RLM's ``H1`` for Huber and bisquare; least squares on the kept points
    for clipping), ``scale`` the robust residual scale (MAD, or the kept points' standard
    deviation), ``weights`` each point's final weight (0: rejected; in the layout the
    points were read into, (B, N)), ``iterations`` the weighted fits run and ``converged``
    whether the stopping rule was met. ``fit`` is the final weighted least-squares fit
    (``predict``, ``polynomial``).
    """

    coef: Any
    stderr: Any
    cov: Any
    scale: Any
    weights: Any
    iterations: Any
    converged: Any
    rejected: Any
    """Points of each series given weight 0 (bisquare beyond c, clipped), padding aside."""
    norm: str
    tuning: float
    fit: ManyResult = field(repr=False)
    single: bool = False
    seconds: float = 0.0

    def predict(self, x: npt.ArrayLike) -> Any:
        """The robust fit at ``x`` (one curve: any shape; B curves: (M,) or (B, M))."""
        if self.single:
            values = validation.float_array("x", x)
            return np.asarray(self.fit.predict(values.reshape(1, -1)))[0].reshape(values.shape)
        return self.fit.predict(x)


@keyword_only(3)
def robust_fit(
    x: Any,
    y: Any,
    degree: int,
    *,
    norm: str = "huber",
    tuning: float | None = None,
    tol: float = 1e-8,
    max_iter: int = 50,
    drop_nan: bool = False,
    engine: str = BEST.engine,
    device: Device | str = Device.CPU,
    series: Any = None,
    mask: Any = None,
) -> RobustResult:
    """Fit one curve or B curves robustly: ``norm="huber"`` (default) or
    ``"bisquare"`` M-estimation, or ``"clip"`` (iterative sigma clipping at ``tuning``
    standard deviations, 3 by default).

    Takes x, y, drop_nan, mask and series as :func:`gradpoly.lstsq_many` does (a 1-D x and
    1-D y: one curve). M-estimation follows statsmodels' ``RLM``: from the least-squares
    fit, weights ``psi(r/s)/(r/s)`` with the MAD scale re-estimated after each weighted fit,
    until the deviance changes by at most ``tol`` (or ``max_iter`` fits), with RLM's ``H1``
    standard errors; ``tuning`` defaults to statsmodels' (1.345 Huber, 4.685 bisquare).
    Clipping refits least squares without the points beyond ``tuning`` times the kept
    points' residual standard deviation until the kept set stops changing.
    """
    start = time.perf_counter()
    chosen = robust.norm(norm, tuning)
    size = validation.degree(degree) + 1
    tolerance = validation.tol(tol) or 0.0  # None: every one of max_iter fits
    limit = validation.count("max_iter", max_iter, high=100_000)
    drop = validation.flag("drop_nan", drop_nan)
    single = series is None and one_curve(x, y)
    if single:
        x, y = np.asarray(x)[None, :], np.asarray(y)[None, :]
        mask = np.asarray(mask)[None, :] if np.ndim(mask) == 1 else mask
    backend, where = choose_backend(engine, device)
    data = prepare(
        x, y, size - 1, Basis.CHEBYSHEV, backend, where, weights=None, series=series,
        mask=mask, drop=drop, storage="float64", progress=None,
    )  # fmt: skip
    batch = data.layout.descent_batch(True)
    xs = batch.x
    ys = np.asarray(batch.y, dtype=np.float64)  # y / data.scale (a power of two): finite sums
    used = np.ones(ys.shape, dtype=bool) if batch.w is None else batch.w > 0
    options: dict[str, Any] = {"engine": engine, "device": device}
    with np.errstate(all="ignore"):  # beyond float64 (a zero scale, an inf z): judged below
        return _iterate(xs, ys, used, size, chosen, tolerance, limit, options, single, start,
                        float(data.scale), backend)  # fmt: skip


def _iterate(
    xs: FloatArray,
    ys: FloatArray,
    used: npt.NDArray[np.bool_],
    size: int,
    chosen: robust.Norm,
    tolerance: float,
    limit: int,
    options: dict[str, Any],
    single: bool,
    start: float,
    y_scale: float,
    backend: BatchBackend,
) -> RobustResult:
    """IRLS on y / ``y_scale`` (the deviance, weights and scale as statsmodels' RLM), then the
    final weighted fit, statistics and scale in y's units."""
    count = ys.shape[0]
    every = bool(used.all())  # no padding or gaps: no masking a pass, no weights to read
    start_weights = None if every else used.astype(np.float64)
    first = lstsq_many(xs, ys, size - 1, weights=start_weights, **options)
    residuals = np.where(used, ys - first.predict(xs), 0.0)
    n = used.sum(axis=1).astype(np.float64)
    clipping = chosen.name == "clip"
    scale = np.full(count, np.nan)  # NaN: the start (the first fit's scale) is still to come
    deviance = np.full(count, np.nan)
    weights = used.astype(np.float64)
    active = first.valid.copy()
    iterations = np.ones(count, dtype=np.int64)
    converged = ~first.valid
    h1 = np.full((count, 3), np.nan)
    state = Reweighting(xs, ys, used, residuals, weights, scale, deviance, iterations, converged,
                        active, h1)  # fmt: skip
    backend.reweight(state, size, chosen.name, chosen.c, tolerance, limit)  # fused, where it can
    rows = np.flatnonzero(active & np.isnan(scale))  # the rest start here
    if rows.size:
        r, kept = residuals[rows], used[rows]
        scale[rows] = robust.clip_scale(r, kept, size) if clipping else robust.mad(r, kept)
        deviance[rows] = _deviance(chosen, r, kept, n[rows], size)
        converged[rows] = scale[rows] == 0  # a perfect fit: nothing to reweight
        active[rows] = scale[rows] > 0
    while active.any():
        rows = np.flatnonzero(active)
        z = residuals[rows] / scale[rows, None]
        fresh = chosen.weights(z) if every else np.where(used[rows], chosen.weights(z), 0.0)
        step = lstsq_many(xs[rows], ys[rows], size - 1, weights=fresh, **options)
        fit_residuals = ys[rows] - step.predict(xs[rows])
        if not every:
            fit_residuals = np.where(used[rows], fit_residuals, 0.0)
        kept = fresh > 0
        if clipping:
            new_scale = robust.clip_scale(fit_residuals, kept, size)
            done = (chosen.weights(fit_residuals / new_scale[:, None]) > 0) == kept
            stop = np.asarray(done | ~used[rows], dtype=bool).all(axis=1)
        else:
            new_scale = robust.mad(fit_residuals, used[rows])
            new_deviance = _deviance(chosen, fit_residuals, used[rows], n[rows], size, fresh)
            stop = np.abs(new_deviance - deviance[rows]) <= tolerance
            deviance[rows] = new_deviance
        iterations[rows] += 1
        ok = step.valid
        weights[rows] = np.where(ok[:, None], fresh, weights[rows])
        residuals[rows] = np.where(ok[:, None], fit_residuals, residuals[rows])
        scale[rows] = np.where(ok, new_scale, scale[rows])
        converged[rows] = ok & (stop | (new_scale == 0))
        active[rows] = ok & ~stop & (new_scale > 0) & (iterations[rows] < limit)
    last = lstsq_many(xs, ys * y_scale, size - 1, weights=weights, **options)  # in y's units
    if clipping:
        stats = last.stats
        stderr, cov = np.asarray(stats.stderr), np.asarray(stats.cov)
    else:
        rows = np.flatnonzero(np.isnan(h1[:, 0]))  # the series no fused loop finished
        z = residuals[rows] / np.where(scale[rows] > 0, scale[rows], 1.0)[:, None]
        h1[rows] = robust.h1_sums(z, used[rows], chosen)
        factor = robust.h1_factor(h1, n, scale, size)
        cov = factor[:, None, None] * np.asarray(first.stats.unscaled_cov_array)
        stderr = np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0)) * y_scale
        cov = cov * y_scale * y_scale
    scale = scale * y_scale
    # a series with as many points as coefficients interpolates them: nothing to reweight, its
    # coefficients stand, its statistics (and clipping's scale) are NaN, as lstsq_many's are
    # with the same warning; nothing is "lost"
    interpolated = n <= size
    valid = last.valid & ((np.isfinite(scale) & rowwise.finite(stderr)) | interpolated)
    converged |= interpolated
    lost = np.flatnonzero(last.valid & ~valid)
    if lost.size:
        warn(
            f"{lost.size} of {count} series have robust statistics beyond float64 (NaN); "
            f"series {int(lost[0])} first: rescale y",
            UnfittedWarning,
        )

    def out(value: Any) -> Any:
        value = np.asarray(value)
        return value[0] if single else value

    return RobustResult(
        coef=out(np.where(valid[:, None], last.coef, np.nan)),
        stderr=out(np.where(valid[:, None], stderr, np.nan)),
        cov=out(np.where(valid[:, None, None], cov, np.nan)),
        scale=out(np.where(valid, scale, np.nan)),
        weights=out(weights),
        iterations=out(iterations),
        converged=out(converged & valid),
        rejected=out(np.sum(used & (weights == 0), axis=1)),
        norm=chosen.name,
        tuning=float(chosen.c),
        fit=last,
        single=single,
        seconds=time.perf_counter() - start,
    )


def _deviance(
    chosen: robust.Norm,
    residuals: FloatArray,
    used: npt.NDArray[np.bool_],
    n: FloatArray,
    size: int,
    weights: FloatArray | None = None,
) -> FloatArray:
    """statsmodels RLM's stopping statistic: ``sum rho(r / s)`` with s the weighted fit's
    residual variance ``sum w r^2 / (n - p)`` (its ``scale``)."""
    w = used.astype(np.float64) if weights is None else weights
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.sum(w * residuals**2, axis=1) / (n - size)
        z = residuals / variance[:, None]
        return np.asarray(np.where(used, chosen.rho(z), 0.0).sum(axis=1), dtype=np.float64)
