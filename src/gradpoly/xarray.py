"""xarray's ``polyfit`` on gradpoly's batched fits: a drop-in, and an accessor.

``gradpoly.xarray.polyfit(obj, dim, deg, ...)`` returns the Dataset ``DataArray.polyfit``
returns (``polyfit_coefficients`` with dim ``degree`` ordered as xarray orders it, highest
first, the other dims kept; ``polyfit_residuals`` with ``full=True``; ``polyfit_covariance``
with ``cov=True``; ``[dim]_matrix_rank`` and ``[dim]_singular_values`` with ``full=True``),
computed by :func:`gradpoly.lstsq_many` on one shared axis: every pixel at once from matrix
products, gaps included. Importing this module registers the accessor
``obj.gradpoly.polyfit(...)`` on DataArray and Dataset.

Weights ``w`` follow xarray (and ``np.polyfit``): they multiply the residuals (1/sigma), so
gradpoly's inverse-variance weights are ``w**2``. Dask-backed data stays lazy: blocks along
the other dims are fitted one by one (a fitted dim in several chunks is gathered first).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from gradpoly import validation
from gradpoly.calling import keyword_only, renamed
from gradpoly.errors import (
    DataTypeError,
    InvalidDataError,
    InvalidOptionError,
    UnfittedRankWarning,
    warn,
)
from gradpoly.many import ManyResult, fit_many, lstsq_many
from gradpoly.options import BEST, Basis
from gradpoly.problem import SvdSolver

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
    x = _numeric(coord)
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise InvalidDataError(
            f"the fit coordinate {dim!r} has {bad.size} missing or infinite value(s) (NaN, inf "
            f"or NaT; the first at position {int(bad[0])}); drop them first, e.g. "
            f"obj.dropna({true_dim!r}) on the coordinate"
        )
    weights = None if w is None else _weights(obj, w, x.size, skipna)
    options = {
        "engine": engine,
        "device": device,
        "solver": solver,
        "basis": basis,
        "optimizer": optimizer,
        "tol": tol,
        "steps": steps,
    }
    job = _Job(x, degree, weights, skipna, full, cov, options, "degree", dim)
    variables: dict[Hashable, Any] = {}
    degree_dim: Hashable = "degree"
    while degree_dim in obj.dims:  # as xarray names it when the input has a degree dim
        degree_dim = "_" + str(degree_dim)
    job = replace(job, degree_dim=degree_dim)
    if full:
        rank, singular = _vandermonde(x, degree, weights)
        variables[f"{coord.name}_matrix_rank"] = xr.Variable((), rank)
        variables[f"{coord.name}_singular_values"] = xr.Variable((degree_dim,), singular)
    arrays = {"": obj} if isinstance(obj, xr.DataArray) else dict(obj.data_vars)
    other_coords: dict[Hashable, Any] = {}
    for name, var in arrays.items():
        if true_dim not in var.dims:
            continue
        prefix = "" if isinstance(obj, xr.DataArray) else f"{name}_"
        fitted = _fit_variable(var, true_dim, job)
        for key, value in fitted.items():
            variables[prefix + key] = value
        for d in var.dims:  # dimension coordinates only, as xarray keeps them
            if d != true_dim and d in obj.coords and obj.coords[d].dims == (d,):
                other_coords[d] = obj.coords[d].variable
    coords = {degree_dim: np.arange(degree + 1)[::-1], **other_coords}
    attrs = dict(obj.attrs) if isinstance(obj, xr.Dataset) else {}  # as xarray does
    return xr.Dataset(data_vars=variables, coords=coords, attrs=attrs)


@dataclass(frozen=True, eq=False)
class _Job:
    """What every variable of one polyfit call is fitted with."""

    x: FloatArray
    degree: int
    weights: FloatArray | None
    skipna: bool | None
    full: bool
    cov: bool | str
    options: dict[str, Any]
    degree_dim: Hashable
    dim: Hashable = "x"
    lazy: bool = False

    @property
    def order(self) -> int:
        return self.degree + 1


def _fit_variable(var: xr.DataArray, dim: Hashable, job: _Job) -> dict[str, xr.Variable]:
    """Coefficients (and residuals, covariance, converged) of one variable, lazily for dask."""
    other = tuple(d for d in var.dims if d != dim)
    sizes = [var.sizes[d] for d in other]
    order = job.order
    data = var.transpose(*other, dim).data
    if _is_dask(data):
        if len(data.chunks[-1]) != 1:  # each series whole in one block; dask sizes the rest
            data = data.rechunk({**dict.fromkeys(range(data.ndim - 1), "auto"), -1: -1})
        return _fit_dask(data, other, replace(job, lazy=True))
    y = _floats(data).reshape(int(np.prod(sizes, dtype=np.int64)), job.x.size)
    coef, residuals, matrices, converged = _fit_block(y, job)
    out: dict[str, xr.Variable] = {
        "polyfit_coefficients": xr.Variable((job.degree_dim, *other), coef.T.reshape(order, *sizes))
    }
    if job.full or job.cov is True:
        out["polyfit_residuals"] = xr.Variable(other, residuals.reshape(sizes))
    if job.cov is not False:  # per series, scaled or not: each series' own valid points
        per_series = np.moveaxis(matrices, 0, -1).reshape(order, order, *sizes)
        out["polyfit_covariance"] = xr.Variable(("cov_i", "cov_j", *other), per_series)
    if job.options["solver"] == "gd":
        out["polyfit_converged"] = xr.Variable(other, converged.reshape(sizes))
    return out


def _fit_block(
    y: FloatArray, job: _Job
) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """(coef (B, D+1) highest first, residuals (B,), cov (B, D+1, D+1) highest first,
    converged (B,)) of the series y (B, N) on the axis ``job.x``."""
    x, degree, weights, options = job.x, job.degree, job.weights, job.options
    count, order = y.shape[0], job.order
    if count == 0:
        empty = np.empty((0, order))
        return empty, np.empty(0), np.empty((0, order, order)), np.empty(0, dtype=bool)
    if x.size == 0:  # no point at all: every series unfitted, said once
        _warn_unfitted(count, dict.fromkeys(range(count), f"{job.dim!r} has no points"), job)
        nan = np.full((count, order), np.nan)
        unfit = np.zeros(count, dtype=bool)
        return nan, np.full(count, np.nan), np.full((count, order, order), np.nan), unfit
    infinite: npt.NDArray[np.bool_] = np.asarray(np.isinf(y).any(axis=1))  # NaN out, as xarray
    if infinite.any():
        y = np.where(infinite[:, None], np.nan, y)
    square = None if weights is None else weights * weights
    engine, device = options["engine"], options["device"]
    result: ManyResult
    if options["solver"] == "gd":
        result = fit_many(
            x, y, degree, steps=options["steps"], lr="auto", basis=options["basis"],
            optimizer=options["optimizer"], tol=options["tol"], weights=square, drop_nan=True,
            engine=engine, device=device, storage=_dtype(y),
        )  # fmt: skip
    else:
        result = lstsq_many(
            x, y, degree, weights=square, basis=Basis.CHEBYSHEV, drop_nan=True, engine=engine,
            device=device, storage=_dtype(y),
        )  # fmt: skip
    valid = result.valid & ~infinite
    coef = np.where(valid[:, None], result.coef, np.nan)
    reasons = {int(b): "it holds inf values" for b in np.flatnonzero(infinite)}
    _warn_unfitted(count, result.problems | reasons, job)
    if job.skipna is False and result.moments is not None:  # xarray: NaN in, NaN out
        usable = np.isfinite(x) if weights is None else np.isfinite(x) & (weights > 0)
        coef[result.moments.used < np.count_nonzero(usable)] = np.nan
    residuals = np.full(count, np.nan)
    matrices = np.full((count, order, order), np.nan)
    if job.full or job.cov is not False:
        stats = result.stats
        residuals = np.where(np.isnan(coef[:, 0]), np.nan, stats.residual_sum_squares)
        if job.cov is not False:
            matrices = stats.cov_array if job.cov is True else stats.unscaled_cov_array
            matrices = np.where(np.isnan(coef[:, 0])[:, None, None], np.nan, matrices)
    converged = np.asarray(result.converged, dtype=bool)
    return coef[:, ::-1], residuals, matrices[:, ::-1, ::-1], converged


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


def _fit_dask(data: Any, other: tuple[Hashable, ...], job: _Job) -> dict[str, xr.Variable]:
    """The fit of a dask array (..., N): each block of pixels fitted once, lazily, into one
    packed row per pixel (coefficients, residual, covariance, converged), then sliced."""
    import dask.array as da

    order = job.order
    width = order + 1 + order * order + 1
    lead = data.ndim - 1

    def block(values: Any) -> Any:
        shape = values.shape[:-1]
        flat = _floats(values).reshape(-1, values.shape[-1])
        coef, residuals, matrices, converged = _fit_block(flat, job)
        packed = np.concatenate(
            [coef, residuals[:, None], matrices.reshape(-1, order * order), converged[:, None]],
            axis=1,
        )
        return packed.reshape(*shape, width)

    chunks = (*data.chunks[:-1], (width,))
    packed = da.map_blocks(block, data, dtype=np.float64, chunks=chunks)
    coef = da.moveaxis(packed[..., :order], -1, 0)
    out = {"polyfit_coefficients": xr.Variable((job.degree_dim, *other), coef)}
    if job.full or job.cov is True:
        out["polyfit_residuals"] = xr.Variable(other, packed[..., order])
    if job.cov is not False:
        flat = packed[..., order + 1 : order + 1 + order * order]
        matrices = flat.reshape(*flat.shape[:lead], order, order)
        out["polyfit_covariance"] = xr.Variable(
            ("cov_i", "cov_j", *other), da.moveaxis(matrices, (-2, -1), (0, 1))
        )
    if job.options["solver"] == "gd":
        out["polyfit_converged"] = xr.Variable(other, packed[..., -1].astype(bool))
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


def _numeric(coord: xr.DataArray) -> FloatArray:
    """The fit coordinate as xarray takes it: numbers, datetimes as ns since 1970-01-01."""
    values = np.asarray(coord.values)
    if values.dtype.kind == "M":  # NaT would become -9.2e18 ns: it is missing, NaN
        since = (values - np.datetime64("1970-01-01")).astype("timedelta64[ns]")
        return np.where(np.isnat(values), np.nan, since.astype(np.float64))
    if values.dtype.kind == "m":
        out = values.astype("timedelta64[ns]").astype(np.float64)
        return np.where(np.isnat(values), np.nan, out)
    if values.dtype.kind == "O" and values.size and _is_cftime(values.flat[0]):
        return _cftime_ns(values, str(coord.name))
    if values.dtype.kind == "O":
        raise InvalidDataError(
            f"the fit coordinate {coord.name!r} holds objects that are neither numbers nor "
            "dates; convert it to numbers first"
        )
    return validation.float_array(str(coord.name), values)


def _is_cftime(value: Any) -> bool:
    """Whether ``value`` is a cftime date (a calendar numpy's datetime64 cannot hold)."""
    return type(value).__module__.split(".")[0] == "cftime"


def _cftime_ns(values: Any, name: str) -> FloatArray:
    """cftime dates as xarray's ``_ensure_numeric`` makes them: ns since 1970-01-01 of the
    dates' own calendar, at the microsecond precision cftime keeps."""
    first = values.flat[0]
    try:
        start = type(first)(1970, 1, 1)
        micros = np.array([v - start for v in values.ravel()], dtype="timedelta64[us]")
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(
            f"the fit coordinate {name!r} mixes cftime calendars or holds other objects: {exc}"
        ) from None
    return np.asarray(micros.astype(np.float64) * 1000.0, dtype=np.float64).reshape(values.shape)


def _weights(obj: Any, w: Any, size: int, skipna: bool | None = None) -> FloatArray:
    """xarray's ``w``: a coordinate's name or an array, 1-D, one value per point. A NaN or
    infinite weight is a gap where NaN is skipped, and refused with ``skipna=False``."""
    if isinstance(w, Hashable) and not isinstance(w, np.ndarray | list | tuple):
        if w not in obj.coords:
            raise InvalidDataError(f"w={w!r} names no coordinate of this object")
        w = obj.coords[w]
    values = validation.float_array("w", np.asarray(w))
    if values.shape != (size,):
        raise InvalidDataError(
            f"w must be 1-D with one value per point ({size}), got {values.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size and skipna is False:
        raise InvalidDataError(
            f"w has {bad.size} NaN or infinite value(s) (the first at position {int(bad[0])}) "
            "and skipna=False keeps every point; give those points a weight or pass skipna=True"
        )
    return values


def _vandermonde(x: FloatArray, degree: int, weights: FloatArray | None) -> tuple[int, FloatArray]:
    """xarray's ``full=True`` diagnostics: rank and singular values of the scaled design."""
    lhs = np.vander(x, degree + 1)
    if weights is not None:
        lhs = lhs * weights[:, None]
    usable = np.isfinite(lhs).all(axis=1)
    lhs = lhs[usable]
    if lhs.shape[0] == 0:  # no usable point: rank 0, no singular value
        return 0, np.full(degree + 1, np.nan)
    solver = SvdSolver.of(lhs)
    rank = solver.rank
    return rank, np.concatenate([np.full(degree + 1 - rank, np.nan), solver.singular[:rank]])


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
