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
    ours, theirs = gx.polyfit(data, "time", 2, **options), data.polyfit("time", 2, **options)
    if options.get("cov") == "unscaled":  # a decision: per series, as cov=True (see below)
        wide = theirs.polyfit_covariance.broadcast_like(ours.polyfit_covariance)
        theirs = theirs.assign(polyfit_covariance=wide.transpose(*ours.polyfit_covariance.dims))
    same(ours, theirs)


def test_unscaled_covariance_is_per_series_on_numpy_and_dask_alike() -> None:
    """Its dims depend on the call, never on the data (dask cannot look): each series' own
    (X'WX)^-1 over its valid points, which differs from the axis' where a series has gaps."""
    pytest.importorskip("dask")
    data = cube()
    gappy = data.where(data.time > 0.5)  # points missing everywhere, and one series more:
    gappy[30, 1, 2] = np.nan
    eager = gx.polyfit(gappy, "time", 2, cov="unscaled")
    lazy = gx.polyfit(gappy.chunk({"lat": 1}), "time", 2, cov="unscaled").compute()
    assert (
        eager.polyfit_covariance.dims
        == lazy.polyfit_covariance.dims
        == ("cov_i", "cov_j", "lat", "lon")
    )
    xr.testing.assert_allclose(eager, lazy)
    one = eager.polyfit_covariance.isel(lat=1, lon=2)
    other = eager.polyfit_covariance.isel(lat=0, lon=0)
    assert not np.allclose(one, other)  # the series with one more gap has its own matrix


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


def test_empty_dims_give_a_dataset_not_a_traceback() -> None:
    """A 0-length fit dim: every series is unfitted (NaN, said once); a 0-length other dim: an
    empty result, whatever cov asks."""
    none = xr.DataArray(np.zeros((0, 3)), dims=("time", "s"), coords={"time": np.zeros(0)})
    with pytest.warns(gradpoly.UnfittedRankWarning, match="3 of 3 series .* has no points"):
        result = gx.polyfit(none, "time", 1, full=True, cov=True)
    assert bool(result.polyfit_coefficients.isnull().all())
    assert int(result.time_matrix_rank) == 0
    empty = xr.DataArray(np.zeros((10, 0)), dims=("time", "s"), coords={"time": np.arange(10.0)})
    for cov in (False, True, "unscaled"):
        fitted = gx.polyfit(empty, "time", 1, cov=cov)
        assert fitted.polyfit_coefficients.shape == (2, 0)


def test_broken_values_are_not_skipped_silently() -> None:
    """inf is a broken value, not a gap: that series is NaN and said so (xarray: NaN too). A
    NaN weight is a gap where NaN is skipped, and refused with skipna=False."""
    t = np.arange(10.0)
    data = xr.DataArray(np.vstack([t, 2 * t]).T, dims=("time", "s"), coords={"time": t})
    broken = data.copy()
    broken[3, 0] = np.inf
    for skipna in (None, True, False):
        with pytest.warns(gradpoly.UnfittedWarning, match="1 of 2 series .* holds inf values"):
            coef = gx.polyfit(broken, "time", 1, skipna=skipna).polyfit_coefficients
        assert bool(coef.isel(s=0).isnull().all())
        np.testing.assert_allclose(coef.isel(s=1), [2.0, 0.0], atol=1e-12)
    w = np.ones(10)
    w[3] = np.nan
    with pytest.raises(InvalidDataError, match=r"w has 1 NaN .* position 3\).* skipna=True"):
        gx.polyfit(data, "time", 1, w=w, skipna=False)
    np.testing.assert_allclose(gx.polyfit(data, "time", 1, w=w).polyfit_coefficients,
                               [[1.0, 2.0], [0.0, 0.0]], atol=1e-12)  # fmt: skip


def _stats_cube(gaps: bool = True) -> xr.DataArray:
    data = cube(points=30, seed=4).isel(lat=slice(0, 2))
    if gaps:
        data = data.where((data.time < 1.0) | (data.time > 1.3))  # a gap for every pixel
        data[[2, 3, 11], 0, 1] = np.nan  # and one pixel's own
    return data


def test_per_pixel_statistics_are_statsmodels_wls_on_each_valid_series() -> None:
    sm = pytest.importorskip("statsmodels.api")
    data = _stats_cube()
    w = np.linspace(0.5, 2.0, data.sizes["time"])
    result = gx.polyfit(data, "time", 2, w=w, stats=True)
    x = data.time.values
    for lat in range(2):
        for lon in range(4):
            y = data.isel(lat=lat, lon=lon).values
            keep = np.isfinite(y)
            design = np.vander(x[keep], 3)  # highest power first, as xarray orders terms
            ref = sm.WLS(y[keep], design, weights=w[keep] ** 2).fit()
            pixel = result.isel(lat=lat, lon=lon)
            for ours, theirs in (
                (pixel.polyfit_coefficients, ref.params),
                (pixel.polyfit_stderr, ref.bse),
                (pixel.polyfit_tvalues, ref.tvalues),
                (pixel.polyfit_pvalues, ref.pvalues),
                (pixel.polyfit_r_squared, ref.rsquared),
                (pixel.polyfit_residual_std, np.sqrt(ref.scale)),
                (pixel.polyfit_dof, ref.df_resid),
            ):
                np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-10, atol=1e-300)
            assert int(pixel.polyfit_n) == int(keep.sum())
            assert int(pixel.polyfit_status) == 0
    assert result.polyfit_status.attrs["flag_meanings"].split()[0] == "fitted"


def test_statistics_are_the_same_lazily_and_unfitted_pixels_say_why() -> None:
    pytest.importorskip("dask")
    data = _stats_cube()
    data[:, 1, 3] = np.nan  # a pixel with no point
    data[4, 1, 2] = np.inf  # a pixel with a broken value
    with pytest.warns(gradpoly.UnfittedWarning):
        eager = gx.polyfit(data, "time", 2, stats=True, min_valid=26)
    with pytest.warns(gradpoly.UnfittedWarning):
        lazy = gx.polyfit(data.chunk({"lat": 1, "time": 10}), "time", 2, stats=True,
                          min_valid=26).compute()  # fmt: skip
    xr.testing.assert_allclose(eager, lazy)
    status = eager.polyfit_status.values
    assert status[1, 3] == gx.STATUS.index("too_few_points")
    assert status[1, 2] == gx.STATUS.index("holds_inf")
    assert status[0, 1] == gx.STATUS.index("too_few_points")  # 25 valid points < 26
    assert int(eager.polyfit_n[0, 1]) == 25
    fitted = status == 0
    assert bool(eager.polyfit_coefficients.notnull().all("degree").values[fitted].all())
    assert bool(eager.polyfit_coefficients.isnull().all("degree").values[~fitted].all())


def test_benjamini_hochberg_across_the_map_is_statsmodels() -> None:
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    data = _stats_cube(gaps=False)
    result = gx.polyfit(data, "time", 1, stats=True, p_adjust="bh")
    for term in range(2):
        p = result.polyfit_pvalues.isel(degree=term).values.ravel()
        q = result.polyfit_pvalues_bh.isel(degree=term).values.ravel()
        np.testing.assert_allclose(q, multipletests(p, method="fdr_bh")[1], rtol=1e-12)
    with pytest.raises(InvalidOptionError, match="pass stats=True"):
        gx.polyfit(data, "time", 1, p_adjust="bh")
    with pytest.raises(InvalidOptionError, match="p_adjust must be"):
        gx.polyfit(data, "time", 1, stats=True, p_adjust="holm")


def _weight_cases(data: xr.DataArray) -> dict[str, xr.DataArray]:
    rng = np.random.default_rng(5)
    sizes = data.sizes
    return {
        "per pixel": xr.DataArray(
            rng.uniform(0.5, 2, (sizes["lat"], sizes["lon"])), dims=("lat", "lon")
        ),
        "per time and pixel": xr.DataArray(
            rng.uniform(0.5, 2, (sizes["lon"], sizes["time"], sizes["lat"])),
            dims=("lon", "time", "lat"),
        ),
        "per time and lon": xr.DataArray(
            rng.uniform(0.5, 2, (sizes["time"], sizes["lon"])), dims=("time", "lon")
        ),
    }


@pytest.mark.parametrize("case", ["per pixel", "per time and pixel", "per time and lon"])
@pytest.mark.parametrize("absolute", [False, True])
def test_weights_per_series_and_sigma_are_statsmodels_wls_on_each_series(
    case: str, absolute: bool
) -> None:
    """w (1/sigma, as xarray) over any of the object's dims, or sigma with absolute_sigma:
    statsmodels WLS on each series' valid points (fixed scale 1 where sigma is absolute),
    in memory and lazily alike."""
    sm = pytest.importorskip("statsmodels.api")
    data = _stats_cube()
    w = _weight_cases(data)[case]
    by_w = gx.polyfit(data, "time", 2, w=w, stats=True, cov=True, absolute_sigma=absolute)
    by_sigma = gx.polyfit(data, "time", 2, sigma=1.0 / w, stats=True, cov=True,
                          absolute_sigma=absolute)  # fmt: skip
    xr.testing.assert_allclose(by_w, by_sigma, rtol=1e-13)
    x = data.time.values
    full = w.broadcast_like(data).transpose(*data.dims)
    options = {"cov_type": "fixed scale"} if absolute else {}
    for lat in range(2):
        for lon in range(4):
            y = data.isel(lat=lat, lon=lon).values
            keep = np.isfinite(y)
            weights = full.isel(lat=lat, lon=lon).values[keep] ** 2
            ref = sm.WLS(y[keep], np.vander(x[keep], 3), weights=weights).fit(**options)
            pixel = by_w.isel(lat=lat, lon=lon)
            for ours, theirs in (
                (pixel.polyfit_coefficients, ref.params),
                (pixel.polyfit_stderr, ref.bse),
                (pixel.polyfit_pvalues, ref.pvalues),
                (pixel.polyfit_covariance, ref.cov_params()),
            ):
                np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-10, atol=1e-300)
    pytest.importorskip("dask")
    lazy = gx.polyfit(data.chunk({"lat": 1}), "time", 2, w=w.chunk(), stats=True, cov=True,
                      absolute_sigma=absolute).compute()  # fmt: skip
    xr.testing.assert_allclose(by_w, lazy)


def test_weights_per_series_are_refused_where_they_cannot_mean_anything() -> None:
    data = _stats_cube()
    w = _weight_cases(data)["per pixel"]
    with pytest.raises(InvalidOptionError, match="full=True"):
        gx.polyfit(data, "time", 2, w=w, full=True)
    with pytest.raises(InvalidDataError, match="not dims of this object"):
        gx.polyfit(data, "time", 2, w=w.rename(lat="band"))
    with pytest.raises(InvalidOptionError, match="not both"):
        gx.polyfit(data, "time", 2, w=w, sigma=w)
    with pytest.raises(InvalidDataError, match="sigma must be positive"):
        gx.polyfit(data, "time", 2, sigma=-w)
    with pytest.raises(InvalidDataError, match="per series go in as a DataArray"):
        gx.polyfit(data, "time", 2, w=np.ones((3, 4)))
    with pytest.raises(InvalidDataError, match="3 values along 'lat', the data 2"):
        gx.polyfit(data, "time", 2, w=xr.DataArray(np.ones(3), dims="lat"))
    shifted = xr.DataArray(np.ones(2), dims="lat", coords={"lat": data.lat.values + 1.0})
    with pytest.raises(InvalidDataError, match="labels differ"):  # never aligned: no NaN fill
        gx.polyfit(data, "time", 2, w=shifted)
    holed = w.copy()
    holed[0, 0] = np.nan
    with pytest.raises(InvalidDataError, match="skipna=False"):
        gx.polyfit(data.fillna(0.0), "time", 2, w=holed, skipna=False)


@pytest.mark.parametrize("resolution", ["ns", "us", "ms", "s", "D"])
@pytest.mark.parametrize("unit", ["year", "day", "s"])
def test_time_unit_gives_coefficients_per_unit_that_round_trip(resolution, unit) -> None:
    """time_unit counts dates in that unit from 1970-01-01: coefficients and standard errors
    are per unit (the ns fit's, rescaled), and polyval reads the unit back from the attrs."""
    data = cube(points=60, dates=True)
    data = data.assign_coords(time=data.time.values.astype(f"datetime64[{resolution}]"))
    per = {"year": 31_556_952e9, "day": 86_400e9, "s": 1e9}[unit]
    ours = gx.polyfit(data, "time", 2, time_unit=unit, stats=True, cov=True)
    native = gx.polyfit(data, "time", 2, stats=True)
    coef = ours.polyfit_coefficients
    assert coef.attrs == {"time_unit": unit, "time_origin": "1970-01-01"}
    scale = xr.DataArray(per ** coef.degree.values, dims="degree",
                         coords={"degree": coef.degree})  # fmt: skip
    xr.testing.assert_allclose(coef, native.polyfit_coefficients * scale, rtol=1e-6)
    xr.testing.assert_allclose(ours.polyfit_stderr, native.polyfit_stderr * scale, rtol=1e-6)
    fitted = gx.polyval(data.time, coef)
    xr.testing.assert_allclose(fitted, xr.polyval(data.time, native.polyfit_coefficients),
                               rtol=1e-11)  # fmt: skip
    xr.testing.assert_allclose(gx.polyval(data.time, ours), gx.polyval(data.time, native),
                               rtol=1e-11)  # fmt: skip


def test_time_unit_on_durations_and_cftime_and_refused_on_numbers() -> None:
    data = cube(points=30)
    with pytest.raises(InvalidOptionError, match="applies to dates or durations"):
        gx.polyfit(data, "time", 1, time_unit="day")
    with pytest.raises(InvalidOptionError, match=r"365\.2425"):
        gx.polyfit(cube(points=30, dates=True), "time", 1, time_unit="fortnight")
    hours = data.assign_coords(time=np.arange(30) * np.timedelta64(6, "h"))
    per_day = gx.polyfit(hours, "time", 1, time_unit="day").polyfit_coefficients
    assert per_day.attrs == {"time_unit": "day"}
    per_hour = gx.polyfit(hours, "time", 1, time_unit="h").polyfit_coefficients
    xr.testing.assert_allclose(per_day.sel(degree=1), 24 * per_hour.sel(degree=1))
    pytest.importorskip("cftime")
    calendar = xr.date_range("2000-01-01", periods=30, freq="D", calendar="noleap",
                             use_cftime=True)  # fmt: skip
    noleap = data.assign_coords(time=calendar)
    fit = gx.polyfit(noleap, "time", 1, time_unit="day").polyfit_coefficients
    days = np.arange(30) + 365 * 30  # 2000-01-01 is day 10950 of a noleap calendar
    ref = gradpoly.lstsq_many(days.astype(float), noleap.transpose("lat", "lon", "time")
                              .values.reshape(-1, 30), 1)  # fmt: skip
    np.testing.assert_allclose(fit.sel(degree=1).values.ravel(), ref.coef[:, 1], rtol=1e-9)
    back = gx.polyval(noleap.time, fit).transpose("lat", "lon", "time").values.reshape(-1, 30)
    np.testing.assert_allclose(back, ref.predict(np.tile(days.astype(float), (12, 1))),
                               rtol=1e-9)  # fmt: skip


def test_polyval_refuses_what_it_cannot_evaluate() -> None:
    coef = gx.polyfit(cube(points=30), "time", 1).polyfit_coefficients
    with pytest.raises(InvalidDataError, match="no 'power' dim"):
        gx.polyval(cube(points=30).time, coef, degree_dim="power")
    with pytest.raises(InvalidDataError, match="time_origin"):
        gx.polyval(cube(points=30).time, coef.assign_attrs(time_origin="2000-01-01"))
    with pytest.raises(gradpoly.DataTypeError):
        gx.polyval(np.arange(3.0), coef)
    with pytest.raises(gradpoly.InvalidOptionError, match="at most"):  # no 1e9-term reindex
        gx.polyval(cube(points=30).time, coef.assign_coords(degree=[10**9, 0]))


@pytest.mark.parametrize("weighted", [False, True])
def test_select_chooses_each_pixels_degree_as_select_degree_does(weighted: bool) -> None:
    pytest.importorskip("dask")
    rng = np.random.default_rng(8)
    t = np.linspace(0.0, 5.0, 50)
    cube = np.sin(t) * rng.uniform(0.5, 2.0, (3, 4, 1)) + 0.05 * rng.standard_normal((3, 4, 50))
    cube[0, 0, 5:10] = np.nan
    w = rng.uniform(0.5, 2.0, 50)
    da = xr.DataArray(cube, dims=("lat", "lon", "time"), coords={"time": t, "lat": [1, 2, 3]})
    ds = gx.polyfit(da, "time", 6, select="bic", w=w if weighted else None)
    expected = gradpoly.select_degree(
        t, cube.reshape(12, 50), 6, criterion="bic", weights=w**2 if weighted else None,
        drop_nan=True,
    )  # fmt: skip
    np.testing.assert_array_equal(ds.polyfit_degree.values.ravel(), expected.degree)
    coef = ds.polyfit_coefficients.transpose("lat", "lon", "degree").values.reshape(12, 7)
    np.testing.assert_allclose(coef[:, ::-1], expected.coef, rtol=1e-10, atol=1e-14)
    scores = ds.polyfit_bic.transpose("lat", "lon", "degree").values.reshape(12, 7)
    np.testing.assert_allclose(scores[:, ::-1], expected.scores["bic"], rtol=1e-12)
    lazy = gx.polyfit(da.chunk({"lat": 1}), "time", 6, select="bic", w=w if weighted else None)
    xr.testing.assert_allclose(lazy.compute(), ds)
    nan_out = gx.polyfit(da, "time", 6, select="bic", skipna=False)
    assert nan_out.polyfit_degree.values[0, 0] == -1


def test_select_refuses_what_describes_one_degree() -> None:
    da = xr.DataArray(np.ones((2, 10)), dims=("x", "t"), coords={"t": np.arange(10.0)})
    for extra in ({"stats": True}, {"cov": True}, {"full": True}, {"solver": "gd"}):
        with pytest.raises(InvalidOptionError, match="fit again at the chosen degree"):
            gx.polyfit(da, "t", 3, select="aicc", **extra)
    with pytest.raises(InvalidOptionError, match="criterion must be one of"):
        gx.polyfit(da, "t", 3, select="r2")


def test_robust_fits_each_pixel_as_robust_fit_does() -> None:
    pytest.importorskip("dask")
    rng = np.random.default_rng(9)
    t = np.linspace(0.0, 5.0, 50)
    cube = 1 + 0.5 * t - 0.2 * t**2 + 0.1 * rng.standard_normal((3, 4, 50))
    cube[rng.random(cube.shape) < 0.05] += 4.0
    cube[0, 0, 5:10] = np.nan
    da = xr.DataArray(cube, dims=("lat", "lon", "time"), coords={"time": t})
    for norm in ("huber", "bisquare", "clip"):
        ds = gx.polyfit(da, "time", 2, robust=norm)
        expected = gradpoly.robust_fit(t, cube.reshape(12, 50), 2, norm=norm, drop_nan=True)
        coef = ds.polyfit_coefficients.transpose("lat", "lon", "degree").values.reshape(12, 3)
        np.testing.assert_allclose(coef[:, ::-1], expected.coef, rtol=1e-10)
        stderr = ds.polyfit_stderr.transpose("lat", "lon", "degree").values.reshape(12, 3)
        np.testing.assert_allclose(stderr[:, ::-1], expected.stderr, rtol=1e-10)
        np.testing.assert_allclose(ds.polyfit_scale.values.ravel(), expected.scale, rtol=1e-12)
    lazy = gx.polyfit(da.chunk({"lat": 1}), "time", 2, robust="huber")
    xr.testing.assert_allclose(lazy.compute(), gx.polyfit(da, "time", 2, robust="huber"))
    for extra in ({"stats": True}, {"cov": True}, {"w": np.ones(50)}, {"select": "bic"}):
        with pytest.raises(InvalidOptionError, match="robust fits each series"):
            gx.polyfit(da, "time", 2, robust="huber", **extra)
    with pytest.raises(InvalidOptionError, match="norm must be one of"):
        gx.polyfit(da, "time", 2, robust="l1")


def test_constraints_hold_on_every_pixel() -> None:
    rng = np.random.default_rng(10)
    t = np.linspace(0.5, 5.0, 40)
    cube = 2.0 * t + 0.3 * t**2 + 0.2 * rng.standard_normal((2, 3, 40))
    cube[1, 1, 3:8] = np.nan
    da = xr.DataArray(cube, dims=("lat", "lon", "time"), coords={"time": t})
    ds = gx.polyfit(da, "time", 2, fixed={0: 0.0}, stats=True, cov=True)
    expected = gradpoly.lstsq_many(t, cube.reshape(6, 40), 2, fixed={0: 0.0}, drop_nan=True)
    coef = ds.polyfit_coefficients.transpose("lat", "lon", "degree").values.reshape(6, 3)
    np.testing.assert_allclose(coef[:, ::-1], expected.coef, rtol=1e-12)
    assert (ds.polyfit_coefficients.sel(degree=0) == 0).all()
    assert (ds.polyfit_stderr.sel(degree=0) == 0).all()
    np.testing.assert_array_equal(ds.polyfit_dof.values.ravel(), np.asarray(expected.stats.dof))
    with pytest.raises(InvalidOptionError, match="constrain the least-squares fit"):
        gx.polyfit(da, "time", 2, fixed={0: 0.0}, robust="huber")


def test_monotone_holds_on_every_pixel() -> None:
    pytest.importorskip("dask")
    rng = np.random.default_rng(11)
    t = np.linspace(0.0, 10.0, 40)
    cube = np.tanh(t - 5.0) + 0.15 * rng.standard_normal((2, 3, 40))
    da = xr.DataArray(cube, dims=("a", "b", "t"), coords={"t": t})
    ds = gx.polyfit(da, "t", 5, monotone="increasing", stats=True)
    expected = gradpoly.lstsq_many(t, cube.reshape(6, 40), 5, monotone="increasing")
    coef = ds.polyfit_coefficients.transpose("a", "b", "degree").values.reshape(6, 6)
    np.testing.assert_allclose(coef[:, ::-1], expected.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(ds.polyfit_dof.values.ravel(), np.asarray(expected.stats.dof))
    lazy = gx.polyfit(da.chunk({"a": 1}), "t", 5, monotone="increasing")
    xr.testing.assert_allclose(lazy.compute().polyfit_coefficients, ds.polyfit_coefficients)
    with pytest.raises(InvalidOptionError, match="monotone must be"):
        gx.polyfit(da, "t", 5, monotone="up")
    with pytest.raises(InvalidOptionError, match="monotone shapes"):
        gx.polyfit(da, "t", 5, monotone="increasing", robust="huber")


def test_a_single_curve_gets_its_statistics() -> None:
    """A 1-D DataArray (no other dims) with stats=True: scalars per statistic, lstsq's values
    (it raised a TypeError from an empty reshape)."""
    x = np.arange(6.0)
    y = np.sin(x)
    out = gx.polyfit(xr.DataArray(y, coords={"x": x}, dims="x"), "x", 1, stats=True)
    expected = gradpoly.lstsq(x, y, 1, full=True).stats
    np.testing.assert_allclose(out["polyfit_stderr"].sortby("degree"), expected.stderr, rtol=1e-10)
    assert float(out["polyfit_residual_std"]) == pytest.approx(expected.residual_std, rel=1e-10)
