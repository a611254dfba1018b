"""The batched front doors: ``lstsq_many`` (closed form) and ``fit_many`` (gradient descent),
each one pipeline: read any layout (:func:`~gradpoly.many.prepare.prepare`), solve or
descend, assemble the result (:func:`~gradpoly.many.finish.assemble`)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import constraints, threads, validation
from gradpoly import monotone as shapes
from gradpoly.batched.base import BatchBackend
from gradpoly.calling import keyword_only, renamed
from gradpoly.errors import (
    InvalidOptionError,
)
from gradpoly.losses import Loss
from gradpoly.many.descent import check_descent, make_plan, needs_autograd, wants_autograd
from gradpoly.many.finish import Free, assemble
from gradpoly.many.inputs import Progress
from gradpoly.many.prepare import Prepared, choose_backend, prepare
from gradpoly.many.result import ManyResult
from gradpoly.many.solve import constrained_solve, gram_inverses, monotone_solve, reduce
from gradpoly.options import BEST, Basis, Device, DType, Gradient, Optimizer, pick_optimizer
from gradpoly.result import known_sigma

FloatArray = npt.NDArray[np.float64]


@keyword_only(3)
@renamed(dtype="storage")
def lstsq_many(
    x: Any,
    y: Any,
    degree: int,
    *,
    weights: Any = None,
    sigma: Any = None,
    absolute_sigma: bool = False,
    basis: Basis | str = BEST.basis,
    drop_nan: bool = False,
    engine: str = BEST.engine,
    device: Device | str = Device.CPU,
    progress: Progress | None = None,
    series: Any = None,
    mask: Any = None,
    storage: DType | str = DType.FLOAT64,
    fixed: Any = None,
    through: Any = None,
    slope: Any = None,
    monotone: str | None = None,
) -> ManyResult:
    """Closed-form least squares of B series at once (each with its own x, or one shared).

    Parameters
    ----------
    x, y : array_like, shape (B, N), or lists of B 1-D arrays (ragged, padded here), or
        long 1-D columns (one row per point) with ``series`` giving each point's series id;
        or **one shared axis**: x of shape (N,) with y (B, N) (a (B, N) x whose rows are all
        the same axis, e.g. ``np.broadcast_to``, is taken as one too). A shared axis is
        fitted from matrix products over y: one factorisation for every series without gaps.
    weights : array_like broadcasting to y's (B, N), optional
        Non-negative inverse variances: (N,) per point, (B, 1) per series, (B, N) per point
        and series, or a scalar (numpy's broadcasting rules); with ragged series, a list of
        1-D arrays like x. Padding and dropped NaN points get zero.
    sigma : like weights, optional
        Standard deviations of y instead (``weights = 1 / sigma**2``), as
        ``scipy.optimize.curve_fit`` takes them.
    absolute_sigma : bool
        The statistics take sigma (or the weights) as absolute: scale 1, not estimated from
        the residuals; normal p values (``curve_fit``'s ``absolute_sigma=True``).
    drop_nan : leave out points whose x, y or weight is NaN or inf (else they are refused,
        named). On a shared axis such gaps are handled in the same matrix products.
    mask : boolean array_like, (N,) or (B, N), optional (shared axis only)
        True leaves a point out (numpy.ma's convention): gaps you know of, NaN or not.
    storage : "float64" (default) or "float32"
        The precision x and y are kept in (``dtype=`` before 0.2; in :func:`gradpoly.fit`
        ``dtype`` is the loop's precision, a different thing). float32 keeps x and y in
        float32 (float32 input is read as it is: half the memory traffic, no float64 copy);
        every sum is still accumulated in float64, so the fit equals the float64 fit of those
        float32 values to about 1e-12 relative.
    basis : solve in this basis on each series' mapped domain (chebyshev by default: the
        Gram matrix stays well conditioned, so solving its normal equations is accurate).
    engine, device : the batched backend that builds the statistics (``numpy``, ``numba``,
        ``torch`` on cpu or cuda, ``jax``); all give the same numbers to rounding. ``"auto"``
        (the default): torch on CUDA, numba on the CPU where installed, else numpy.
    progress : called as ``progress(series_done, series_total)`` after each block.
    series : array_like of ids, optional
        With long columns: the series of each point; results come in first-appearance order
        of the ids, which ``result.ids`` lists.
    fixed, through, slope : equality constraints every series' fit meets exactly, optional
        ``fixed={power: value}`` pins monomial coefficients (``{0: 0.0}``: through the
        origin; zeros: only some terms), ``through=[(x, y), ...]`` points the curve passes
        through, ``slope=[(x, dydx), ...]`` its slope there (:mod:`gradpoly.constraints`).
        The statistics count them: dof = n - (D+1) + K, and the pinned combinations have
        standard error 0.
    monotone : "increasing" or "decreasing", optional
        Keep every series' curve from turning back on its own x range, certified on the
        whole interval (:mod:`gradpoly.monotone`); series already monotone keep their
        least-squares fit.
    """
    start = time.perf_counter()
    chosen, size = Basis.parse(basis), validation.degree(degree)
    found = constraints.parse(fixed, through, slope, size)
    sign = shapes.direction(monotone)
    if sign is not None and (found is not None or chosen is Basis.MONOMIAL):
        raise InvalidOptionError(
            "monotone needs a mapped basis (chebyshev, the default, or legendre) and does not "
            "combine with fixed, through or slope"
        )
    drop = validation.flag("drop_nan", drop_nan)
    weights = validation.inverse_variance(
        weights, sigma, absolute_sigma, nan_ok=drop, hint=", or pass drop_nan=True"
    )
    backend, where = choose_backend(engine, device)
    data = prepare(
        x, y, size, chosen, backend, where, weights=weights, series=series, mask=mask,
        drop=drop, storage=storage, progress=progress,
    )  # fmt: skip
    with threads.quiet_blas(len(data.valid)):  # small matrices: BLAS threads only spin
        return _lstsq_solved(data, chosen, found, sign, backend, start, absolute_sigma)


def _lstsq_solved(
    data: Prepared,
    chosen: Basis,
    found: constraints.Constraints | None,
    sign: float | None,
    backend: BatchBackend,
    start: float,
    absolute_sigma: bool,
) -> ManyResult:
    """:func:`lstsq_many` once its data is read: the solve (plain, constrained or monotone)
    and the result, the statistics' moments counting any constraints."""
    bound = None
    if found is None:
        w, condition, inverse = data.solve(chosen)
        if sign is not None:
            by = backend.shapes(len(w))
            w, inverse, bound = monotone_solve(
                data.gram, w, inverse, chosen, sign, data.valid, data.problems, by
            )
    else:
        w, condition, inverse = constrained_solve(
            data.gram, found, chosen, data.scale, data.valid, data.problems
        )
    how = (chosen, "lstsq", backend.name, str(Loss.MSE))
    seconds = time.perf_counter() - start
    plain = found is None and sign is None  # a constrained solve is not lstsq's of the points
    result = assemble(
        w, data, how, seconds, inverse=inverse, condition=condition if plain else None
    )
    if found is not None:
        result = constrained(result, found)
    if bound is not None and result.moments is not None:
        result = replace(result, moments=replace(result.moments, constraints=bound))
    condition = np.where(result.valid, condition, np.nan)
    error = condition * np.finfo(np.float64).eps
    return known_sigma(replace(result, condition=condition, coef_error=error), absolute_sigma)


def constrained(result: ManyResult, found: constraints.Constraints) -> ManyResult:
    """A constrained fit's result: the fixed coefficients exactly their values (not the
    basis conversion's rounding of them) and statistics that count the constraints."""
    coef = result.coef.copy()
    for power, value in found.fixed:
        coef[:, power] = np.where(result.valid, value, np.nan)
    moments = result.moments
    if moments is not None:
        pinned = tuple(power for power, _ in found.fixed)
        moments = replace(moments, constraints=found.count, pinned=pinned)
    return replace(result, coef=coef, moments=moments)


@keyword_only(3)
@renamed(dtype="storage")
def fit_many(
    x: Any,
    y: Any,
    degree: int,
    *,
    steps: int = BEST.steps,
    lr: float | str = BEST.lr,
    basis: Basis | str = BEST.basis,
    optimizer: Optimizer | str = BEST.optimizer,
    momentum: float | None = None,
    tol: float | None = BEST.tol,
    weights: Any = None,
    sigma: Any = None,
    absolute_sigma: bool = False,
    drop_nan: bool = False,
    traces: bool = False,
    loss: Loss | str = Loss.MSE,
    huber_delta: float = 1.0,
    gradient: Gradient | str = Gradient.MANUAL,
    engine: str = BEST.engine,
    device: Device | str = Device.CPU,
    progress: Progress | None = None,
    series: Any = None,
    mask: Any = None,
    storage: DType | str = DType.FLOAT64,
    fixed: Any = None,
    through: Any = None,
    slope: Any = None,
) -> ManyResult:
    """Gradient descent on B series at once, each with its own lr (``"auto"``) and stop test.

    With the MSE, every series follows exactly the GD (or momentum/Nesterov) trajectory that
    :func:`gradpoly.fit` would give it in float64 with the gram strategy; a series stops
    updating once its estimated coefficient error ``|grad| / (mu |w|)`` is at most tol.
    ``traces=True`` keeps every step's loss. The defaults are :func:`gradpoly.fit`'s
    (:data:`gradpoly.BEST`: Chebyshev, ``lr="auto"``, Nesterov, ``tol=1e-10``, at most 100,000
    steps, the fastest engine here). Options after ``degree`` are keyword-only.
    ``loss="huber"`` or ``"l1"`` runs per point with autograd (engines ``torch``, ``jax``:
    ``engine="auto"`` picks one, as ``fit`` does); ``lr="auto"`` is then the MSE's ``1/L``,
    which is stable for both. Input shapes, ``series``, ``progress``, a shared axis and
    ``mask``, ``weights``, ``sigma`` and ``absolute_sigma`` are as in :func:`lstsq_many`
    (on a shared axis the statistics come from matrix products; the descent runs per series
    as usual). ``fixed``, ``through`` and ``slope`` are :func:`lstsq_many`'s equality
    constraints (MSE, mapped basis): each series descends on the free coefficients of the
    constraints' null space, so every iterate meets them exactly.
    """
    start = time.perf_counter()
    chosen, rule = Basis.parse(basis), pick_optimizer(optimizer)
    if callable(loss):
        raise InvalidOptionError(
            "fit_many takes a named loss (mse, huber, l1); fit a custom loss callable with "
            "gradpoly.fit, one series at a time"
        )
    objective = Loss.parse(loss)
    size, count, rate = validation.degree(degree), validation.steps(steps), validation.lr(lr)
    stop, delta = validation.tol(tol), validation.huber_delta(huber_delta)
    drop, keep = validation.flag("drop_nan", drop_nan), validation.flag("traces", traces)
    weights = validation.inverse_variance(
        weights, sigma, absolute_sigma, nan_ok=drop, hint=", or pass drop_nan=True"
    )
    found = constraints.parse(fixed, through, slope, size)
    if found is not None and (objective is not Loss.MSE or chosen is Basis.MONOMIAL):
        raise InvalidOptionError(
            "constraints on fit_many need the MSE and a mapped basis (chebyshev, the default, "
            "or legendre); or use gradpoly.lstsq_many"
        )
    backend, where = choose_backend(engine, device, wants_autograd(gradient, objective))
    autograd = needs_autograd(backend, Gradient.parse(gradient), objective)
    data = prepare(
        x, y, size, chosen, backend, where, weights=weights, series=series, mask=mask,
        drop=drop, storage=storage, progress=progress, loss=objective, delta=delta,
    )  # fmt: skip
    delta /= data.scale  # Huber on y / s with delta / s is exactly Huber on y, divided by s^2
    gram, valid = data.gram, data.valid
    reduction = None
    if found is not None:  # descend on the free coefficients of the constraints' null space
        if found.count >= size + 1:
            raise InvalidOptionError(
                f"the constraints ({found.describe()}) fix every coefficient: nothing is left "
                "to fit; gradpoly.lstsq_many gives those polynomials"
            )
        reduction = reduce(gram, found, chosen, data.scale, valid, data.problems)
        gram = reduction.gram(gram)
    plan = make_plan(
        gram, valid, count, rate, rule, stop, keep, objective, delta, autograd, chosen, momentum,
        reduction,
    )  # fmt: skip
    batch = data.layout.descent_batch(objective is not Loss.MSE)
    descent = backend.descend(batch, gram, chosen, plan, where)
    check_descent(descent, valid, plan, gram)
    how = (chosen, "gd-tol" if tol is not None else "gd", backend.name, str(objective))
    seconds = time.perf_counter() - start
    with threads.quiet_blas(len(valid)):  # small matrices: BLAS threads only spin
        if reduction is None or found is None:
            result = assemble(descent.w, data, how, seconds, descent, tol=stop)
            return known_sigma(result, absolute_sigma)
        safe = np.where(valid[:, None, None], gram.g, np.eye(gram.g.shape[1]))
        inverse = reduction.inverse(gram_inverses(safe))
        free = Free(reduction, gram, descent.w)
        result = assemble(reduction.full(descent.w), data, how, seconds, descent,
                          inverse=inverse, tol=stop, free=free)  # fmt: skip
        return known_sigma(constrained(result, found), absolute_sigma)
