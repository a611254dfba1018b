"""gradpoly.xarray.polyfit is a drop-in for xarray's polyfit: same Dataset, same numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

xr = pytest.importorskip("xarray")
gx = pytest.importorskip("gradpoly.xarray")

import gradpoly  # noqa: E402
from gradpoly.errors import InvalidDataError, InvalidOptionError  # noqa: E402


def cube(points: int = 40, seed: int = 0, dates: bool = False) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    trend = 0.1 * np.arange(points)[:, None, None] * rng.uniform(0.5, 2, (1, 3, 4))
    axis = (
        pd.date_range("2021-01-01", periods=points, freq="D")
        if dates
        else np.linspace(0, 3, points)
    )
    return xr.DataArray(
        trend + rng.standard_normal((points, 3, 4)),
        dims=("time", "lat", "lon"),
        coords={"time": axis, "lat": [10.0, 20.0, 30.0], "lon": [1, 2, 3, 4]},
        name="temp",
        attrs={"units": "K"},
    )


def same(ours: xr.Dataset, theirs: xr.Dataset, rtol: float = 1e-9) -> None:
    """Same variables, dims, coords; values equal to ``rtol`` of each variable's scale."""
    assert set(ours.data_vars) == set(theirs.data_vars)
    assert list(ours.coords["degree"].values) == list(theirs.coords["degree"].values)
    for name in theirs.data_vars:
        assert ours[name].dims == theirs[name].dims, name
        a, b = np.asarray(ours[name].values, float), np.asarray(theirs[name].values, float)
        scale = np.nanmax(np.abs(b)) or 1.0
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        assert np.nanmax(np.abs(a - b)) <= rtol * scale, name
    assert ours.attrs == theirs.attrs


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"full": True},
        {"cov": True},
        {"cov": "unscaled"},
        {"w": "weight"},
        {"full": True, "cov": True, "w": np.linspace(1, 2, 40)},
    ],
)
def test_the_dataset_is_xarrays(options: dict) -> None:
    data = cube().assign_coords(weight=("time", np.linspace(0.5, 1.5, 40)))
    same(gx.polyfit(data, "time", 2, **options), data.polyfit("time", 2, **options))


def test_datasets_prefix_each_variable_and_the_accessor_works() -> None:
    data = xr.Dataset({"a": cube(), "b": 2 * cube(seed=1), "const": xr.DataArray(1.0)})
    same(data.gradpoly.polyfit("time", 1), data.polyfit("time", 1))
    same(cube().gradpoly.polyfit("time", 3, engine="numpy"), cube().polyfit("time", 3))


def test_dates_are_taken_as_xarray_takes_them_and_fitted_more_accurately() -> None:
    from gradpoly.exact import exact_lstsq

    data = cube(dates=True)
    ours, theirs = gx.polyfit(data, "time", 2), data.polyfit("time", 2)
    same(ours, theirs, rtol=1e-6)  # xarray loses digits on ns since 1970 (x ~ 1.6e18)
    x = (data.time.values - np.datetime64("1970-01-01")).astype("timedelta64[ns]").astype(float)
    exact = exact_lstsq(x, data.values[:, 0, 0], 2)[::-1]
    mine = ours.polyfit_coefficients.values[:, 0, 0]
    assert np.max(np.abs(mine - exact)) <= 1e-12 * np.max(np.abs(exact))


def test_gaps_skipna_and_not() -> None:
    data = cube()
    data[5, 1, 1] = np.nan
    data[9, 2, 3] = np.nan
    same(gx.polyfit(data, "time", 2), data.polyfit("time", 2))
    same(gx.polyfit(data, "time", 2, full=True), data.polyfit("time", 2, full=True))
    kept = gx.polyfit(data, "time", 2, skipna=False).polyfit_coefficients
    assert np.isnan(kept.values[:, 1, 1]).all()
    assert np.isfinite(kept.values[:, 0, 0]).all()


def test_dask_stays_lazy_even_with_the_fit_dim_in_several_chunks() -> None:
    """As xarray, a fit dim split into chunks is fitted (each series is gathered into one
    block, the other dims chunked by dask's own size rule), lazily."""
    pytest.importorskip("dask")
    data = cube()
    want = data.polyfit("time", 2, cov=True)
    for chunks in ({"lat": 1, "lon": 2, "time": -1}, {"time": 10}, {"lat": 2, "time": 7}):
        result = gx.polyfit(data.chunk(chunks), "time", 2, cov=True)
        assert type(result.polyfit_coefficients.data).__module__.startswith("dask")
        same(result.compute(), want)


def test_gradient_descent_adds_converged() -> None:
    data = cube()
    result = gx.polyfit(data, "time", 2, solver="gd", tol=1e-12)
    assert bool(result.polyfit_converged.all())
    same(result.drop_vars("polyfit_converged"), data.polyfit("time", 2), rtol=1e-8)


def test_bad_calls_are_clear() -> None:
    data = cube()
    with pytest.raises(InvalidDataError, match="not a coordinate"):
        gx.polyfit(data, "depth", 2)
    with pytest.raises(InvalidOptionError, match="solver"):
        gx.polyfit(data, "time", 2, solver="magic")
    with pytest.raises(InvalidOptionError, match="cov"):
        gx.polyfit(data, "time", 2, cov="yes")
    with pytest.raises(InvalidDataError, match="w must be 1-D"):
        gx.polyfit(data, "time", 2, w=np.ones(3))
    with pytest.raises(InvalidDataError, match="names no coordinate"):
        gx.polyfit(data, "time", 2, w="nope")


def test_float32_cubes_are_fitted_without_a_float64_copy() -> None:
    data = cube().astype(np.float32)
    same(
        gx.polyfit(data, "time", 2, cov=True), data.astype(np.float64).polyfit("time", 2, cov=True)
    )


def test_series_that_cannot_be_fitted_are_named_not_silent() -> None:
    from gradpoly import UnfittedWarning

    data = cube()
    data[:, 1, 1] = np.nan
    with pytest.warns(UnfittedWarning, match=r"1 of 12 series could not be fitted.*flat index 5"):
        result = gx.polyfit(data, "time", 2)
    assert np.isnan(result.polyfit_coefficients.values[:, 1, 1]).all()
    with pytest.raises(InvalidDataError, match="complex"):
        gx.polyfit(cube() * 1j, "time", 1)


def test_what_is_not_a_grid_is_named() -> None:
    from gradpoly.errors import DataTypeError

    with pytest.raises(DataTypeError, match="DataArray or Dataset"):
        gx.polyfit(np.ones((10, 3)), "time", 1)
    data = cube()
    holes = data.assign_coords(time=np.r_[np.nan, data.time.values[1:]])
    with pytest.raises(InvalidDataError, match=r"missing or infinite.*position 0"):
        gx.polyfit(holes, "time", 1)
    dates = cube(dates=True)
    times = dates.time.values.copy()
    times[3] = np.datetime64("NaT")
    with pytest.raises(InvalidDataError, match="NaT"):
        gx.polyfit(dates.assign_coords(time=times), "time", 1)


def test_old_names_keep_working_for_one_release_with_a_warning() -> None:
    """One name, one meaning: xarray's method= is solver= (the estimator's word), the batched
    fits' dtype= is storage= (in fit, dtype is the loop's precision)."""
    data = cube()
    with pytest.warns(DeprecationWarning, match="method= is solver="):
        old = gx.polyfit(data, "time", 2, method="gd", tol=1e-12)
    new = gx.polyfit(data, "time", 2, solver="gd", tol=1e-12)
    same(old, new, rtol=0)
    x = np.linspace(0, 1, 20)
    with pytest.warns(DeprecationWarning, match="dtype= is storage="):
        gradpoly.lstsq_many(x, np.vstack([x, x * x]), 2, dtype="float32")
    with pytest.raises(TypeError, match="both 'dtype' and its new name 'storage'"):
        gradpoly.lstsq_many(x, np.vstack([x, x]), 1, dtype="float32", storage="float32")


def test_only_dimension_coordinates_are_kept_as_xarray_keeps_them() -> None:
    data = cube().assign_coords(station=("lat", ["a", "b", "c"]), height=("lon", [1.0] * 4))
    ours, theirs = gx.polyfit(data, "time", 2), data.polyfit("time", 2)
    assert set(ours.coords) == set(theirs.coords)
    xr.testing.assert_allclose(ours, theirs)


def test_an_input_with_a_degree_dim_gets_xarrays_other_name() -> None:
    data = cube().rename({"lon": "degree"})
    ours, theirs = gx.polyfit(data, "time", 2), data.polyfit("time", 2)
    assert ours.polyfit_coefficients.dims == theirs.polyfit_coefficients.dims
    xr.testing.assert_allclose(ours, theirs)


def test_a_cftime_axis_is_read_as_xarray_reads_it() -> None:
    pytest.importorskip("cftime")
    data = cube(points=30)
    data = data.assign_coords(
        time=xr.date_range("2001-01-01", periods=30, freq="MS", calendar="noleap")
    )
    ours, theirs = gx.polyfit(data, "time", 2), data.polyfit("time", 2)
    xr.testing.assert_allclose(ours, theirs, rtol=1e-7)


def test_rank_deficient_series_warn_numpys_rank_warning_too() -> None:
    """Code that filters numpy's RankWarning around polyfit keeps working."""
    data = cube(points=3)
    with pytest.warns(np.exceptions.RankWarning, match="could not be fitted"):
        result = gx.polyfit(data, "time", 4)
    assert bool(np.isnan(result.polyfit_coefficients).all())
    with pytest.warns(gradpoly.UnfittedWarning):
        gx.polyfit(data, "time", 4)
