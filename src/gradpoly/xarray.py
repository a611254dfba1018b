"""xarray's ``polyfit`` on gradpoly's batched fits: a drop-in, and an accessor.

``gradpoly.xarray.polyfit(obj, dim, deg, ...)`` returns the Dataset ``DataArray.polyfit``
returns (``polyfit_coefficients`` with dim ``degree`` ordered as xarray orders it, highest
first, the other dims kept; ``polyfit_residuals`` with ``full=True``; ``polyfit_covariance``
with ``cov=True``; ``[dim]_matrix_rank`` and ``[dim]_singular_values`` with ``full=True``),
computed by :func:`gradpoly.lstsq_many` on one shared axis: every pixel at once from matrix
products, gaps included. Importing this module registers the accessor
``obj.gradpoly.polyfit(...)`` on DataArray and Dataset.

Weights ``w`` follow xarray (and ``np.polyfit``): they multiply the residuals (1/sigma), so
gradpoly's inverse-variance weights are ``w**2``; beyond xarray they may vary per series (a
DataArray over any of the object's dims), or come as ``sigma=`` (y's standard deviations)
with ``absolute_sigma=``. Dask-backed data stays lazy: blocks along the other dims are
fitted one by one (a fitted dim in several chunks is gathered first).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from gradpoly import constraints, selection, timeaxis, validation
from gradpoly import monotone as shapes
from gradpoly import robust as robust_norms
from gradpoly.calling import keyword_only, renamed
from gradpoly.errors import (
    DataTypeError,
    InvalidDataError,
    InvalidOptionError,
    UnfittedRankWarning,
    warn,
)
from gradpoly.many import ManyResult, fit_many, lstsq_many, robust_fit, select_degree
from gradpoly.options import BEST, Basis
from gradpoly.problem import SvdSolver
from gradpoly.result import known_sigma
from gradpoly.stats import benjamini_hochberg

FloatArray = npt.NDArray[np.float64]
SOLVERS = ("lstsq", "gd")
"""The estimator's names: closed-form least squares, or gradient descent."""


@keyword_only(8)
@renamed(method="solver")
def polyfit(
    obj: xr.DataArray | xr.Dataset,
    dim: Hashable,
    deg: int,
    skipna: bool | None = None,
    rcond: float | None = None,
    w: Hashable | Any = None,
    full: bool = False,
    cov: bool | str = False,
    *,
    engine: str = BEST.engine,
    device: str = "cpu",
    solver: str = "lstsq",
    basis: str = str(BEST.basis),
    optimizer: str = str(BEST.optimizer),
    tol: float | None = BEST.tol,
    steps: int = BEST.steps,
    stats: bool = False,
    min_valid: int = 0,
    p_adjust: str | None = None,
    time_unit: str | None = None,
    sigma: Hashable | Any = None,
    absolute_sigma: bool = False,
    select: str | None = None,
    robust: str | None = None,
    fixed: Any = None,
    through: Any = None,
    slope: Any = None,
    monotone: str | None = None,
) -> xr.Dataset:
    """Least-squares polynomial fit along ``dim``: ``DataArray.polyfit``'s Dataset, faster.

    ``skipna``, ``w``, ``full`` and ``cov`` mean what they mean in xarray (``skipna=None``:
    skip NaN when there are any). ``rcond`` is accepted for compatibility and not used:
    gradpoly solves in a mapped Chebyshev basis and flags a series whose design is
    numerically rank deficient (NaN coefficients). Beyond xarray: ``engine`` (``"auto"``:
    numba when installed, else numpy; or ``numpy``, ``numba``, ``torch``, ``jax``),
    ``device``, and ``solver="gd"`` (``method=`` before 0.2; gradient descent with
    ``basis``, ``optimizer``, ``tol``, ``steps``), which adds a ``polyfit_converged``
    variable per series.

    ``stats=True`` adds per-series statistics, from the same implementation as
    ``ManyResult.stats`` (statsmodels' WLS on each series' valid points): ``polyfit_stderr``,
    ``polyfit_tvalues``, ``polyfit_pvalues`` (per term, highest first), ``polyfit_r_squared``,
    ``polyfit_residual_std``, ``polyfit_n`` (valid points), ``polyfit_dof`` and
    ``polyfit_status`` (CF flags: :data:`STATUS`). ``min_valid`` leaves out series with fewer
    valid points (status ``too_few_points``). ``p_adjust="bh"`` adds ``polyfit_pvalues_bh``,
    Benjamini-Hochberg adjusted across every series of the variable, per term (a map of
    1e6 pixels tested at 5% flags 50,000 by chance alone); in-memory data only.

    ``w`` (and ``sigma``) may be xarray's 1-D weights along ``dim`` or, beyond xarray, a
    DataArray over any of the object's dims that broadcasts against each variable: one
    weight per pixel, per time step and pixel, and so on. ``sigma`` gives y's standard
    deviations instead of ``w`` (``w = 1 / sigma``); ``absolute_sigma=True`` takes them as
    absolute (``scipy.optimize.curve_fit``'s meaning): the covariance with ``cov=True`` and
    the statistics take the scale as 1 instead of estimating it, with normal p values.

    ``time_unit`` (``"year"``, ``"day"``, ``"s"``, ... see :data:`gradpoly.timeaxis.UNITS`;
    a year is 365.2425 days) fits a date or duration axis counted in that unit (dates from
    1970-01-01) instead of xarray's nanoseconds: coefficients, covariance and statistics are
    per year, per day... The coefficients carry ``time_unit`` (and ``time_origin``) attrs,
    which :func:`polyval` reads, so evaluation round-trips exactly.

    ``select`` (``"aicc"``, ``"aic"``, ``"bic"``, ``"gcv"`` or ``"loo"``) chooses each
    series' degree from 0 to ``deg`` by that criterion, as :func:`gradpoly.select_degree`
    does (the same implementation): the coefficients above the chosen degree are 0, and
    ``polyfit_degree`` (per series, -1 where none could be fitted) and ``polyfit_<criterion>``
    (per series and degree) are added. Not with ``full``, ``cov``, ``stats`` or
    ``solver="gd"``: fit the chosen degree again for its statistics.

    ``robust`` (``"huber"``, ``"bisquare"`` or ``"clip"``) fits each series robustly, as
    :func:`gradpoly.robust_fit` does (statsmodels' RLM; sigma clipping at 3 sigma): the
    coefficients, with ``polyfit_stderr`` (robust standard errors), ``polyfit_scale`` (the
    robust residual scale) and ``polyfit_converged``. Not with ``w``/``sigma``, ``full``,
    ``cov``, ``stats``, ``select`` or ``solver="gd"``.

    ``fixed={power: value}``, ``through=[(x, y), ...]`` and ``slope=[(x, dydx), ...]``
    constrain every series' fit exactly, as :func:`gradpoly.lstsq_many` does (x in the fit
    coordinate's numbers: with ``time_unit``, in that unit); covariance and statistics count
    them. Not with ``full``, ``select``, ``robust`` or ``solver="gd"``. ``monotone=
    "increasing"`` (or ``"decreasing"``) keeps every pixel's curve from turning back on the
    axis, certified on the whole interval (:func:`gradpoly.lstsq_many`'s ``monotone``).
    """
    if not isinstance(obj, xr.DataArray | xr.Dataset):
        raise DataTypeError(
            f"gradpoly.xarray.polyfit takes an xarray DataArray or Dataset, got "
            f"{type(obj).__name__}; for NumPy arrays use gradpoly.lstsq_many(x, y, degree)"
        )
    degree = validation.degree(deg)
    if solver not in SOLVERS:
        raise InvalidOptionError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    if cov not in (False, True, "unscaled"):
        raise InvalidOptionError(f"cov must be True, False or 'unscaled', got {cov!r}")
    if dim not in obj.coords and dim not in obj.dims:
        raise InvalidDataError(f"{dim!r} is not a coordinate or dimension of this object")
    coord = obj[dim]
    if coord.ndim != 1:
        raise InvalidDataError(f"the fit coordinate {dim!r} must be 1-D, got dims {coord.dims}")
    (true_dim,) = coord.dims
    unit = None if time_unit is None else timeaxis.unit(time_unit)
    x = _numeric(coord, unit)
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise InvalidDataError(
            f"the fit coordinate {dim!r} has {bad.size} missing or infinite value(s) (NaN, inf "
            f"or NaT; the first at position {int(bad[0])}); drop them first, e.g. "
            f"obj.dropna({true_dim!r}) on the coordinate"
        )
    if w is not None and sigma is not None:
        raise InvalidOptionError("pass w (1/sigma, as xarray) or sigma, not both")
    weights = _weights(obj, w if sigma is None else sigma, true_dim, skipna, sigma is not None)
    absolute = validation.flag("absolute_sigma", absolute_sigma)
    if full and isinstance(weights, xr.DataArray):
        raise InvalidOptionError(
            f"full=True reports the rank and singular values of one design, and these weights "
            f"differ per series; pass 1-D weights along {dim!r}, or use stats=True "
            "(polyfit_status flags each rank-deficient series)"
        )
    stats = validation.flag("stats", stats)
    min_valid = validation.count("min_valid", min_valid, low=0, high=2**62)
    if p_adjust not in (None, "bh"):
        raise InvalidOptionError(f"p_adjust must be None or 'bh', got {p_adjust!r}")
    if p_adjust is not None and not stats:
        raise InvalidOptionError("p_adjust adjusts the p values of stats=True: pass stats=True")
    criterion = None if select is None else selection.criterion(select)
    norm = None if robust is None else robust_norms.norm(robust).name
    if norm is not None and (full or cov is not False or stats or solver == "gd" or select
                             or w is not None or sigma is not None):  # fmt: skip
        raise InvalidOptionError(
            "robust fits each series by IRLS with its own weights and robust standard errors "
            "(polyfit_stderr); it does not combine with w, sigma, full, cov, stats, select or "
            "solver='gd'"
        )
    if criterion is not None and (full or cov is not False or stats or solver == "gd"):
        raise InvalidOptionError(
            "select chooses each series' degree by least squares; full, cov, stats and "
            "solver='gd' describe one degree's fit: fit again at the chosen degree for them"
        )
    options = {
        "engine": engine,
        "device": device,
        "solver": solver,
        "basis": basis,
        "optimizer": optimizer,
        "tol": tol,
        "steps": steps,
    }
    shared = weights if isinstance(weights, np.ndarray) else None
    found = constraints.parse(fixed, through, slope, degree)
    shapes.direction(monotone)  # checked here, before any work
    if monotone is not None and (found is not None or criterion is not None or norm is not None
                                 or full or solver == "gd"):  # fmt: skip
        raise InvalidOptionError(
            "monotone shapes the least-squares fit; it does not combine with fixed, through, "
            "slope, full, select, robust or solver='gd'"
        )
    if found is not None and (full or criterion is not None or norm is not None
                              or solver == "gd"):  # fmt: skip
        raise InvalidOptionError(
            "fixed, through and slope constrain the least-squares fit; they do not combine "
            "with full, select, robust or solver='gd'"
        )
    job = _Job(x, degree, shared, skipna, full, cov, options, "degree", dim, stats=stats,
               min_valid=min_valid, absolute=absolute, criterion=criterion,
               robust=norm, constraints=found, monotone=monotone)  # fmt: skip
    variables: dict[Hashable, Any] = {}
    degree_dim: Hashable = "degree"
    while degree_dim in obj.dims:  # as xarray names it when the input has a degree dim
        degree_dim = "_" + str(degree_dim)
    job = replace(job, degree_dim=degree_dim)
    if full:
        rank, singular = _vandermonde(x, degree, shared)
        variables[f"{coord.name}_matrix_rank"] = xr.Variable((), rank)
        variables[f"{coord.name}_singular_values"] = xr.Variable((degree_dim,), singular)
    arrays = {"": obj} if isinstance(obj, xr.DataArray) else dict(obj.data_vars)
    other_coords: dict[Hashable, Any] = {}
    for name, var in arrays.items():
        if true_dim not in var.dims:
            continue
        prefix = "" if isinstance(obj, xr.DataArray) else f"{name}_"
        own = _broadcast(weights, var, true_dim) if isinstance(weights, xr.DataArray) else None
        fitted = _fit_variable(var, true_dim, job, own)
        if p_adjust is not None:
            fitted["polyfit_pvalues_bh"] = _adjusted(fitted["polyfit_pvalues"])
        for key, value in fitted.items():
            variables[prefix + key] = value
        for d in var.dims:  # dimension coordinates only, as xarray keeps them
            if d != true_dim and d in obj.coords and obj.coords[d].dims == (d,):
                other_coords[d] = obj.coords[d].variable
    for name, value in variables.items():  # the axis' unit, to evaluate the fit again
        if str(name).endswith("polyfit_coefficients"):
            value.attrs.update(_time_attrs(coord, unit))
    coords = {degree_dim: np.arange(degree + 1)[::-1], **other_coords}
    attrs = dict(obj.attrs) if isinstance(obj, xr.Dataset) else {}  # as xarray does
    return xr.Dataset(data_vars=variables, coords=coords, attrs=attrs)


@dataclass(frozen=True, eq=False)
class _Job:
    """What every variable of one polyfit call is fitted with."""

    x: FloatArray
    degree: int
    weights: FloatArray | None
    """Inverse variances (N,) shared by every series (``w**2``), or None."""
    skipna: bool | None
    full: bool
    cov: bool | str
    options: dict[str, Any]
    degree_dim: Hashable
    dim: Hashable = "x"
    lazy: bool = False
    stats: bool = False
    min_valid: int = 0
    absolute: bool = False
    criterion: str | None = None
    """The criterion each series' degree is chosen by (``select=``), or None: ``degree``."""
    robust: str | None = None
    """The robust norm each series is fitted with (``robust=``), or None: least squares."""
    constraints: constraints.Constraints | None = None
    """Equality constraints every series' fit meets (``fixed=``, ``through=``, ``slope=``)."""
    monotone: str | None = None
    """``"increasing"``/``"decreasing"``: every series' fit kept so (``monotone=``)."""

    @property
    def order(self) -> int:
        return self.degree + 1


STATUS = ("fitted", "too_few_points", "rank_deficient", "holds_inf", "has_nan")
"""``polyfit_status`` per series, as CF flags (``flag_values`` 0.., ``flag_meanings``):
fitted; too few valid points for the degree (or ``min_valid``); enough points but a design
numerically rank deficient (or monomials beyond float64); an inf value; a NaN under
``skipna=False``."""


@dataclass(frozen=True)
class _Field:
    """One output variable per series: its leading dims and sizes, and its dtype."""

    dims: tuple[Hashable, ...]
    shape: tuple[int, ...]
    dtype: Any = np.float64
    attrs: dict[str, Any] | None = None


def _fields(job: _Job) -> dict[str, _Field]:
    """The variables one polyfit call makes for each fitted variable, in one place: the
    in-memory and the dask paths build, pack and unpack from this list."""
    order, degree = job.order, (job.degree_dim,)
    fields = {"polyfit_coefficients": _Field(degree, (order,))}
    if job.full or job.cov is True:
        fields["polyfit_residuals"] = _Field((), ())
    if job.cov is not False:  # per series, scaled or not: each series' own valid points
        fields["polyfit_covariance"] = _Field(("cov_i", "cov_j"), (order, order))
    if job.robust is not None:
        fields["polyfit_stderr"] = _Field(degree, (order,))
        fields["polyfit_scale"] = _Field((), ())
        fields["polyfit_converged"] = _Field((), (), np.bool_)
    if job.criterion is not None:
        fields["polyfit_degree"] = _Field((), (), np.int64)
        fields[f"polyfit_{job.criterion}"] = _Field(degree, (order,))
    if job.options["solver"] == "gd":
        fields["polyfit_converged"] = _Field((), (), np.bool_)
    if job.stats:
        flags = {"flag_values": np.arange(len(STATUS), dtype=np.int8),
                 "flag_meanings": " ".join(STATUS)}  # fmt: skip
        fields |= {
            "polyfit_stderr": _Field(degree, (order,)),
            "polyfit_tvalues": _Field(degree, (order,)),
            "polyfit_pvalues": _Field(degree, (order,)),
            "polyfit_r_squared": _Field((), ()),
            "polyfit_residual_std": _Field((), ()),
            "polyfit_n": _Field((), (), np.int64),
            "polyfit_dof": _Field((), ()),
            "polyfit_status": _Field((), (), np.int8, flags),
        }
    return fields


def _fit_variable(
    var: xr.DataArray, dim: Hashable, job: _Job, own: Any = None
) -> dict[str, xr.Variable]:
    """The output variables of one input variable (see :func:`_fields`), lazily for dask;
    ``own``: inverse-variance weights of var's shape, ordered (other dims..., dim), or None."""
    other = tuple(d for d in var.dims if d != dim)
    sizes = [var.sizes[d] for d in other]
    data = var.transpose(*other, dim).data
    if _is_dask(data):
        if len(data.chunks[-1]) != 1:  # each series whole in one block; dask sizes the rest
            data = data.rechunk({**dict.fromkeys(range(data.ndim - 1), "auto"), -1: -1})
        return _fit_dask(data, other, replace(job, lazy=True), own)
    count = int(np.prod(sizes, dtype=np.int64))
    y = _floats(data).reshape(count, job.x.size)
    found = _fit_block(y, job, None if own is None else np.asarray(own).reshape(y.shape))
    out: dict[str, xr.Variable] = {}
    for name, field in _fields(job).items():
        values = np.moveaxis(found[name], 0, -1).reshape((*field.shape, *sizes))
        out[name] = xr.Variable((*field.dims, *other), values.astype(field.dtype), field.attrs)
    return out


def _fit_block(y: FloatArray, job: _Job, own: FloatArray | None = None) -> dict[str, Any]:
    """Every field of :func:`_fields` for the series y (B, N) on the axis ``job.x``, each
    (B, *its shape), polynomial terms highest first as xarray orders them; ``own`` are
    inverse-variance weights (B, N) of these series, else ``job.weights`` serve."""
    x, degree, options = job.x, job.degree, job.options
    weights = job.weights if own is None else own
    count, order = y.shape[0], job.order
    fields = _fields(job)
    if count == 0 or x.size == 0:  # nothing to fit: every series unfitted, said once
        if count:
            _warn_unfitted(count, dict.fromkeys(range(count), f"{job.dim!r} has no points"), job)
        empty = {n: np.full((count, *f.shape), np.nan) for n, f in fields.items()}
        empty |= {"polyfit_converged": np.zeros(count), "polyfit_n": np.zeros(count)}
        empty["polyfit_status"] = np.full(count, STATUS.index("too_few_points"))
        return {n: empty[n] for n in fields}
    engine, device = options["engine"], options["device"]
    if job.criterion is not None:
        return _ordered(_select_block(y, job, weights), fields, job)
    if job.robust is not None:
        return _ordered(_robust_block(y, job), fields, job)
    result: ManyResult
    if options["solver"] == "gd":
        result = fit_many(
            x, y, degree, steps=options["steps"], lr="auto", basis=options["basis"],
            optimizer=options["optimizer"], tol=options["tol"], weights=weights, drop_nan=True,
            engine=engine, device=device, storage=_dtype(y),
        )  # fmt: skip
    else:
        found = job.constraints
        result = lstsq_many(
            x, y, degree, weights=weights, basis=Basis.CHEBYSHEV, drop_nan=True, engine=engine,
            device=device, storage=_dtype(y),
            fixed=None if found is None else dict(found.fixed),
            through=None if found is None or not found.through else found.through,
            slope=None if found is None or not found.slope else found.slope,
            monotone=job.monotone,
        )  # fmt: skip
    result = known_sigma(result, job.absolute)
    used = np.zeros(count) if result.moments is None else np.asarray(result.moments.used)
    usable = np.isfinite(x) if weights is None else np.isfinite(x) & (weights > 0)
    usable_count = (
        np.count_nonzero(usable, axis=1) if usable.ndim == 2 else np.count_nonzero(usable)
    )
    gapped = used < usable_count
    infinite = (  # left out as a gap by the fit: a broken value, NaN out
        _holds_inf(y, gapped) if result.holds_inf is None else np.asarray(result.holds_inf)
    )
    few = used < max(job.min_valid, order)  # too few valid points (or below min_valid)
    fitted = result.valid & ~few  # below min_valid: left out, as too few points
    status = np.where(fitted, 0, np.where(few, 1, 2))
    status = np.where(infinite, STATUS.index("holds_inf"), status)
    reasons = {int(b): "it holds inf values" for b in np.flatnonzero(infinite)}
    short = result.valid & few & ~infinite  # fitted, but below min_valid: left out
    reasons |= {int(b): f"{int(used[b])} valid points, below min_valid={job.min_valid}"
                for b in np.flatnonzero(short)}  # fmt: skip
    _warn_unfitted(count, result.problems | reasons, job)
    valid = result.valid & ~infinite & ~short
    if job.skipna is False and result.moments is not None:  # xarray: NaN in, NaN out
        status = np.where(valid & gapped, STATUS.index("has_nan"), status)
        valid = valid & ~gapped
    out: dict[str, Any] = {"polyfit_coefficients": np.where(valid[:, None], result.coef, np.nan)}
    if job.full or job.cov is not False or job.stats:
        stats = result._stats_of(valid)  # the rows say what converged: no second warning
        if "polyfit_residuals" in fields:
            out["polyfit_residuals"] = np.where(valid, stats.residual_sum_squares, np.nan)
        if "polyfit_covariance" in fields:
            matrices = stats.cov_array if job.cov is True else stats.unscaled_cov_array
            out["polyfit_covariance"] = np.where(valid[:, None, None], matrices, np.nan)
        if job.stats:
            with np.errstate(invalid="ignore", divide="ignore"):
                out |= {
                    "polyfit_stderr": stats.stderr_array,
                    "polyfit_tvalues": np.asarray(stats.t_values),
                    "polyfit_pvalues": np.asarray(stats.p_values),
                    "polyfit_r_squared": np.asarray(stats.r_squared),
                    "polyfit_residual_std": np.asarray(stats.residual_std),
                    "polyfit_dof": stats.dof_array,
                }
            for name in ("polyfit_stderr", "polyfit_tvalues", "polyfit_pvalues"):
                out[name] = np.where(valid[:, None], out[name], np.nan)
            for name in ("polyfit_r_squared", "polyfit_residual_std", "polyfit_dof"):
                out[name] = np.where(valid, out[name], np.nan)
            out["polyfit_n"] = used
            out["polyfit_status"] = status
    out["polyfit_converged"] = np.asarray(result.converged, dtype=bool) & valid
    return _ordered(out, fields, job)


def _ordered(out: dict[str, Any], fields: dict[str, _Field], job: _Job) -> dict[str, Any]:
    """The fields of one block, polynomial terms highest first as xarray orders them."""
    for name, field in fields.items():
        if field.dims == (job.degree_dim,):
            out[name] = out[name][:, ::-1]
        elif field.dims == ("cov_i", "cov_j"):
            out[name] = out[name][:, ::-1, ::-1]
    return {name: out[name] for name in fields}


def _robust_block(y: FloatArray, job: _Job) -> dict[str, Any]:
    """Each series fitted by :func:`gradpoly.robust_fit` (lowest term first); NaN with
    ``skipna=False`` where a series has a gap, and below ``min_valid`` valid points."""
    found = robust_fit(
        job.x, y, job.degree, norm=str(job.robust), drop_nan=True,
        engine=job.options["engine"], device=job.options["device"],
    )  # fmt: skip
    count = y.shape[0]
    fit = found.fit
    used = np.asarray(fit.moments.used) if fit.moments is not None else np.zeros(count)
    valid = np.asarray(fit.valid, dtype=bool) & (used >= max(job.min_valid, job.order))
    reasons = {b: why for b, why in fit.problems.items() if not valid[b]}
    reasons |= {int(b): f"{int(used[b])} valid points, below min_valid={job.min_valid}"
                for b in np.flatnonzero(fit.valid & ~valid)}  # fmt: skip
    if job.skipna is False:  # xarray: NaN in, NaN out
        valid &= ~np.isnan(y).any(axis=1)
    _warn_unfitted(count, reasons, job)
    return {
        "polyfit_coefficients": np.where(valid[:, None], found.coef, np.nan),
        "polyfit_stderr": np.where(valid[:, None], found.stderr, np.nan),
        "polyfit_scale": np.where(valid, found.scale, np.nan),
        "polyfit_converged": np.asarray(found.converged, dtype=bool) & valid,
    }


def _select_block(y: FloatArray, job: _Job, weights: FloatArray | None) -> dict[str, Any]:
    """Each series' degree chosen by ``job.criterion`` (:func:`gradpoly.select_degree`), its
    coefficients (0 above it) and its scores, lowest term first; NaN with ``skipna=False``
    where a series has a gap, and below ``min_valid`` valid points."""
    options = job.options
    chosen = select_degree(
        job.x, y, job.degree, criterion=str(job.criterion), weights=weights, drop_nan=True,
        engine=options["engine"], device=options["device"],
    )  # fmt: skip
    count = y.shape[0]
    valid = np.asarray(chosen.degree) >= 0
    reasons = dict(chosen.problems)
    few = np.asarray(chosen.n) < job.min_valid
    reasons |= {int(b): f"{int(chosen.n[b])} valid points, below min_valid={job.min_valid}"
                for b in np.flatnonzero(few & valid)}  # fmt: skip
    valid &= ~few
    if job.skipna is False:  # xarray: NaN in, NaN out
        valid &= ~np.isnan(y).any(axis=1)
    _warn_unfitted(count, {b: why for b, why in reasons.items() if not valid[b]}, job)
    scores = np.asarray(chosen.scores[str(job.criterion)])
    return {
        "polyfit_coefficients": np.where(valid[:, None], chosen.coef, np.nan),
        "polyfit_degree": np.where(valid, chosen.degree, -1),
        f"polyfit_{job.criterion}": np.where(valid[:, None], scores, np.nan),
    }


def _holds_inf(y: Any, gapped: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Which series hold an inf: only those the fit found points missing from are read."""
    out = np.zeros(len(y), dtype=bool)
    rows = np.flatnonzero(gapped)
    if rows.size > len(y) // 2:  # most: one pass over all, no gathered copy
        out[:] = np.isinf(y).any(axis=1)
    elif rows.size:
        out[rows] = np.isinf(y[rows]).any(axis=1)
    return out


def _adjusted(p: xr.Variable) -> xr.Variable:
    """Benjamini-Hochberg across every series of one variable, per term."""
    if _is_dask(p.data):
        raise InvalidOptionError(
            "p_adjust ranks every p value of the map at once: compute the fit first "
            "(.compute()), then apply gradpoly.stats.benjamini_hochberg"
        )
    values = np.asarray(p.values, dtype=np.float64)
    flat = values.reshape(values.shape[0], -1).T  # (series, terms)
    adjusted = benjamini_hochberg(flat).T.reshape(values.shape)
    return xr.Variable(p.dims, adjusted)


def _warn_unfitted(count: int, problems: dict[int, str], job: _Job) -> None:
    """Never a silent NaN: one warning saying how many series could not be fitted and why
    the first could not (in a dask block: of that block, the text saying so)."""
    if not problems:
        return
    first = min(problems)
    where = "in one block of this dask-backed fit, " if job.lazy else ""
    warn(
        f"{where}{len(problems)} of {count} series could not be fitted (NaN coefficients); "
        f"the first, flat index {first}{' of the block' if job.lazy else ''}: "
        f"{problems[first]}",
        UnfittedRankWarning,
    )


def _fit_dask(
    data: Any, other: tuple[Hashable, ...], job: _Job, own: Any = None
) -> dict[str, xr.Variable]:
    """The fit of a dask array (..., N): each block of pixels fitted once, lazily, into one
    packed row per pixel (every field of :func:`_fields`, flattened), then unpacked; weights
    of the data's shape (``own``) travel in blocks of the same chunks."""
    import dask.array as da

    fields = _fields(job)
    widths = [int(np.prod(f.shape, dtype=np.int64)) for f in fields.values()]
    lead = data.ndim - 1

    def block(values: Any, weights: Any = None) -> Any:
        shape = values.shape[:-1]
        y = _floats(values).reshape(-1, values.shape[-1])
        found = _fit_block(y, job, None if weights is None else weights.reshape(y.shape))
        rows = [np.asarray(found[n], dtype=np.float64).reshape(-1, w)
                for n, w in zip(fields, widths, strict=True)]  # fmt: skip
        return np.concatenate(rows, axis=1).reshape(*shape, sum(widths))

    chunks = (*data.chunks[:-1], (sum(widths),))
    blocks = [data] if own is None else [data, da.asarray(own).rechunk(data.chunks)]
    packed = da.map_blocks(block, *blocks, dtype=np.float64, chunks=chunks)
    out: dict[str, xr.Variable] = {}
    start = 0
    for (name, field), width in zip(fields.items(), widths, strict=True):
        part = packed[..., start : start + width].reshape((*packed.shape[:lead], *field.shape))
        start += width
        moved = da.moveaxis(part, tuple(range(lead, lead + len(field.shape))),
                            tuple(range(len(field.shape))))  # fmt: skip
        out[name] = xr.Variable((*field.dims, *other), moved.astype(field.dtype), field.attrs)
    return out


def _floats(data: Any) -> Any:
    """The variable's values as float32 when stored so (read as they are: the fit keeps them
    in float32 and sums in float64), else float64; complex, text and dates are refused."""
    values = np.asarray(data)
    if values.dtype == np.float32:
        return values
    return validation.float_array("data", values, copy=False)


def _dtype(values: Any) -> str:
    return "float32" if values.dtype == np.float32 else "float64"


def _numeric(coord: xr.DataArray, time_unit: str | None = None) -> FloatArray:
    """The fit coordinate as numbers: as xarray takes it (datetimes as ns since 1970-01-01,
    cftime of its calendar, durations in ns), or counted in ``time_unit`` (one conversion,
    :mod:`gradpoly.timeaxis`, for the fit and for :func:`polyval`)."""
    values = np.asarray(coord.values)
    dated = values.dtype.kind in "mM" or (
        values.dtype.kind == "O" and values.size > 0 and timeaxis.is_cftime(values.flat[0])
    )
    if time_unit is not None and not dated:
        raise InvalidOptionError(
            f"time_unit applies to dates or durations, and {coord.name!r} holds {values.dtype}"
        )
    unit = "ns" if time_unit is None else time_unit
    if values.dtype.kind in "mM":
        return timeaxis.numbers(values, unit)
    if dated:
        try:
            return timeaxis.cftime_numbers(values, unit)
        except InvalidDataError as exc:
            raise InvalidDataError(f"the coordinate {coord.name!r}: {exc}") from None
    if values.dtype.kind == "O":
        raise InvalidDataError(
            f"the fit coordinate {coord.name!r} holds objects that are neither numbers nor "
            "dates; convert it to numbers first"
        )
    return validation.float_array(str(coord.name), values)


def _time_attrs(coord: xr.DataArray, time_unit: str | None) -> dict[str, str]:
    """What a coefficient needs to be evaluated again: the unit and, for dates, the origin."""
    if time_unit is None:
        return {}
    dated = coord.dtype.kind == "M" or coord.dtype.kind == "O"
    return {"time_unit": time_unit} | ({"time_origin": timeaxis.ORIGIN} if dated else {})


def _weights(
    obj: Any, w: Any, dim: Hashable, skipna: bool | None = None, is_sigma: bool = False
) -> FloatArray | xr.DataArray | None:
    """Inverse-variance weights from xarray's ``w`` (or ``sigma``, ``is_sigma``): a coordinate's
    name or an array. One value per point along ``dim`` gives (N,), shared by every series;
    a DataArray over other dims of the object gives a DataArray, broadcast per variable. A NaN
    or infinite ``w`` is a gap where NaN is skipped, and refused with ``skipna=False``."""
    if w is None:
        return None
    name = "sigma" if is_sigma else "w"
    size = obj.sizes[dim]
    if isinstance(w, Hashable) and not isinstance(w, np.ndarray | list | tuple):
        if w not in obj.coords:
            raise InvalidDataError(f"{name}={w!r} names no coordinate of this object")
        w = obj.coords[w]
    if isinstance(w, xr.DataArray) and w.dims != (dim,):
        unknown = [d for d in w.dims if d not in obj.dims]
        if unknown:
            raise InvalidDataError(
                f"{name} has dims {w.dims}, but {unknown} are not dims of this object "
                f"({tuple(obj.dims)}); weights broadcast against the data by dim name"
            )
        if _is_dask(w.data):  # checked block by block when computed

            def convert(part: Any) -> Any:
                values = validation.float_array(name, part)
                return _inverse_variance(values, name, is_sigma, skipna)

            return w.copy(data=w.data.map_blocks(convert, dtype=np.float64))
        values = validation.float_array(name, w.data)
        return w.copy(data=_inverse_variance(values, name, is_sigma, skipna))
    values = validation.float_array(name, np.asarray(w))
    if values.shape != (size,):
        raise InvalidDataError(
            f"{name} must be 1-D with one value per point ({size}), got {values.shape}; "
            f"weights that vary per series go in as a DataArray over the object's dims"
        )
    return np.asarray(_inverse_variance(values, name, is_sigma, skipna))


def _inverse_variance(values: Any, name: str, is_sigma: bool, skipna: bool | None) -> Any:
    """``w**2``, or ``1 / sigma**2`` (sigma checked positive as everywhere)."""
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size and skipna is False:
        raise InvalidDataError(
            f"{name} has {bad.size} NaN or infinite value(s) (the first at "
            f"{'position' if np.ndim(values) <= 1 else 'flat index'} {int(bad[0])}) and "
            "skipna=False keeps every point; give those points a weight or pass skipna=True"
        )
    if is_sigma:
        return validation.inverse_variance(None, values, nan_ok=True)  # skipna decided
    with np.errstate(invalid="ignore", over="ignore"):
        return values * values


def _broadcast(weights: xr.DataArray, var: xr.DataArray, dim: Hashable) -> Any:
    """The weights broadcast to ``var``'s shape, ordered (other dims..., dim) as the data:
    by dim name, never by aligning labels (which would fill NaN, i.e. drop points)."""
    other = tuple(d for d in var.dims if d != dim)
    for d in weights.dims:
        if d not in var.dims:
            raise InvalidDataError(
                f"the weights vary along {d!r}, which variable {var.name!r} lacks"
            )
        if weights.sizes[d] != var.sizes[d]:
            raise InvalidDataError(
                f"the weights have {weights.sizes[d]} values along {d!r}, the data {var.sizes[d]}"
            )
        if (
            d in weights.indexes
            and d in var.indexes
            and not weights.indexes[d].equals(var.indexes[d])
        ):
            raise InvalidDataError(
                f"the weights' {d!r} labels differ from the data's; select or reindex them "
                "first (gradpoly does not align them: that would leave points out silently)"
            )
    full = weights.variable.set_dims(dict(var.sizes))
    return full.transpose(*other, dim).data


def _vandermonde(x: FloatArray, degree: int, weights: FloatArray | None) -> tuple[int, FloatArray]:
    """xarray's ``full=True`` diagnostics: rank and singular values of the design scaled by
    ``w`` (the square root of the inverse-variance ``weights``)."""
    lhs = np.vander(x, degree + 1)
    if weights is not None:
        lhs = lhs * np.sqrt(weights)[:, None]
    usable = np.isfinite(lhs).all(axis=1)
    lhs = lhs[usable]
    if lhs.shape[0] == 0:  # no usable point: rank 0, no singular value
        return 0, np.full(degree + 1, np.nan)
    solver = SvdSolver.of(lhs)
    rank = solver.rank
    return rank, np.concatenate([np.full(degree + 1 - rank, np.nan), solver.singular[:rank]])


def polyval(
    coord: xr.DataArray, coeffs: xr.DataArray | xr.Dataset, *, degree_dim: Hashable = "degree"
) -> xr.DataArray | xr.Dataset:
    """``xarray.polyval`` for this module's fits: the polynomial with coefficients ``coeffs``
    (dim ``degree_dim`` labelled by power, as :func:`polyfit` returns them) at ``coord``.

    Dates and durations are converted as :func:`polyfit` converted them: in the coefficients'
    ``time_unit`` attr where there is one (a fit with ``time_unit=``; xarray's own polyval
    would read them as nanoseconds), else as xarray does. Evaluated by Horner's rule in float64.
    A whole :func:`polyfit` Dataset evaluates its ``polyfit_coefficients`` variables.
    """
    if not isinstance(coord, xr.DataArray):
        raise DataTypeError(f"coord must be an xarray DataArray, got {type(coord).__name__}")
    if isinstance(coeffs, xr.Dataset):  # a polyfit result: its coefficients, not its stats
        names = [n for n in coeffs.data_vars if str(n).endswith("polyfit_coefficients")]
        chosen = coeffs[names] if names else coeffs
        return chosen.map(lambda c: polyval(coord, c, degree_dim=degree_dim))
    if degree_dim not in coeffs.dims:
        raise InvalidDataError(f"coeffs has no {degree_dim!r} dim (its dims: {coeffs.dims})")
    powers = np.asarray(coeffs[degree_dim].values) if degree_dim in coeffs.coords else None
    if powers is None or powers.dtype.kind not in "iu" or powers.size == 0 or np.any(powers < 0):
        raise InvalidDataError(
            f"coeffs[{degree_dim!r}] must be labelled by the non-negative integer powers"
        )
    validation.degree(int(powers.max()))  # at most MAX_DEGREE: the evaluation stays bounded
    unit = coeffs.attrs.get("time_unit")
    origin = coeffs.attrs.get("time_origin")
    if origin is not None and origin != timeaxis.ORIGIN:
        raise InvalidDataError(
            f"coeffs have time_origin {origin!r}; this gradpoly counts dates from {timeaxis.ORIGIN}"
        )
    numbers = _numeric(coord, None if unit is None else timeaxis.unit(unit))
    x = xr.DataArray(numbers, dims=coord.dims, coords=coord.coords)
    top = int(powers.max())
    full = coeffs.reindex({degree_dim: np.arange(top + 1)}, fill_value=0)
    out = xr.ones_like(x) * full.isel({degree_dim: top}, drop=True)  # xarray's dim order
    for power in range(top - 1, -1, -1):
        out = out * x + full.isel({degree_dim: power}, drop=True)
    return out


def _is_dask(data: Any) -> bool:
    return type(data).__module__.startswith("dask.")


@xr.register_dataarray_accessor("gradpoly")
@xr.register_dataset_accessor("gradpoly")
class GradpolyAccessor:
    """``obj.gradpoly.polyfit(dim, deg, ...)``: :func:`polyfit` on this object."""

    def __init__(self, obj: xr.DataArray | xr.Dataset) -> None:
        self._obj = obj

    def polyfit(self, dim: Hashable, deg: int, **options: Any) -> xr.Dataset:
        """:func:`gradpoly.xarray.polyfit` of this object along ``dim``."""
        return polyfit(self._obj, dim, deg, **options)
