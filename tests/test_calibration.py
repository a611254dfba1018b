"""Inverse prediction and detection limits (gradpoly.calibration, result.inverse): a textbook's
worked example, Fieller's closed form for a line, the band equation for curves, batches."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradpoly
from gradpoly.errors import CalibrationWarning, InvalidDataError, InvalidOptionError

# Miller & Miller, Statistics and Chemometrics for Analytical Chemistry (6th ed.), sections
# 5.3-5.7: fluorescence of fluorescein standards (pg/ml) and the values the book prints.
CONCENTRATION = np.array([0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0])
INTENSITY = np.array([2.1, 5.0, 9.0, 12.6, 17.3, 21.0, 24.7])


def test_the_textbook_example() -> None:
    fit = gradpoly.lstsq(CONCENTRATION, INTENSITY, 1, full=True)
    assert round(float(fit.coef[1]), 2) == 1.93  # b
    assert round(float(fit.coef[0]), 2) == 1.52  # a
    assert abs(float(fit.stats.residual_std) - 0.4329) < 1e-4  # s_y/x
    x0, low, high = fit.inverse([2.9, 13.5, 23.0], interval="delta")
    np.testing.assert_array_equal(np.round(x0, 2), [0.72, 6.21, 11.13])
    np.testing.assert_array_equal(np.round((high - low) / 2, 2), [0.68, 0.62, 0.68])
    limits = fit.detection_limits(lod_factor=3.0)  # y_B + 3 s_B, the book's rule
    assert round(limits["lod"], 2) == 0.67
    ich = fit.detection_limits()
    assert ich["lod"] == pytest.approx(3.3 * ich["sigma"] / ich["slope"], rel=1e-15)
    assert ich["loq"] == pytest.approx(10 * ich["sigma"] / ich["slope"], rel=1e-15)


def fieller(x: np.ndarray, y: np.ndarray, y0: float, level: float, m: int) -> tuple[float, float]:
    """The classical interval of a straight line in closed form (Fieller's theorem)."""
    from scipy import stats

    n = x.size
    b, a = np.polyfit(x, y, 1)
    s = np.sqrt(np.sum((y - a - b * x) ** 2) / (n - 2))
    sxx = np.sum((x - x.mean()) ** 2)
    q = stats.t.ppf(0.5 + level / 2, n - 2)
    g = q * q * s * s / (b * b * sxx)
    centre = x.mean() + (y0 - y.mean()) / (b * (1 - g))
    half = (
        q
        * s
        / (b * (1 - g))
        * np.sqrt((1 / m + 1 / n) * (1 - g) + (y0 - y.mean()) ** 2 / (b * b * sxx))
    )
    return centre - abs(half), centre + abs(half)


@pytest.mark.parametrize(("level", "m"), [(0.95, 1), (0.9, 3), (0.99, 2)])
def test_classical_interval_is_fiellers_for_a_line(level: float, m: int) -> None:
    rng = np.random.default_rng(4)
    x = np.linspace(0.0, 10.0, 12)
    y = 3.0 - 0.8 * x + 0.3 * rng.standard_normal(12)
    fit = gradpoly.lstsq(x, y, 1, full=True)
    targets = np.array([2.0, -1.0, -4.0])
    _, low, high = fit.inverse(targets, interval="classical", level=level, replicates=m)
    for k, y0 in enumerate(targets):
        expected = fieller(x, y, y0, level, m)
        np.testing.assert_allclose([low[k], high[k]], expected, rtol=1e-9)


def test_a_curve_meets_its_band_at_the_classical_edges_and_the_delta_formula() -> None:
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(5)
    x = np.linspace(0.0, 4.0, 30)
    y = 0.5 + 2.0 * x + 0.3 * x**2 + 0.2 * rng.standard_normal(30)
    fit = gradpoly.lstsq(x, y, 2, full=True)
    targets = np.array([3.0, 7.5, 11.0])
    x0, low, high = fit.inverse(targets, interval="classical")
    np.testing.assert_allclose(fit.predict(x0), targets, rtol=1e-13)
    ols = sm.OLS(y, np.vander(x, 3, increasing=True)).fit()
    q = float(fit.stats.quantile(0.95)[0])
    for edge in (low, high):
        frame = ols.get_prediction(np.vander(edge, 3, increasing=True)).summary_frame(0.05)
        band = q * np.sqrt(frame["mean_se"].to_numpy() ** 2 + ols.scale)
        np.testing.assert_allclose(np.abs(frame["mean"].to_numpy() - targets), band, rtol=1e-7)
    _, dlow, dhigh = fit.inverse(targets, interval="delta")
    frame = ols.get_prediction(np.vander(x0, 3, increasing=True)).summary_frame(0.05)
    slope = ols.params[1] + 2 * ols.params[2] * x0
    width = q * np.sqrt(frame["mean_se"].to_numpy() ** 2 + ols.scale) / np.abs(slope)
    np.testing.assert_allclose((dhigh - dlow) / 2, width, rtol=1e-9)


def test_no_answer_is_a_named_nan() -> None:
    x = np.linspace(-1.0, 1.0, 21)
    bowl = gradpoly.lstsq(x, x**2, 2, full=True)
    with pytest.warns(CalibrationWarning, match="not monotone"):
        assert np.isnan(bowl.inverse(0.25))
    with pytest.warns(CalibrationWarning, match="outside the values"):
        assert np.isnan(bowl.inverse(-1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bowl.inverse(0.0) == pytest.approx(0.0, abs=1e-7)  # the bottom: touched once


def test_a_batch_is_each_curve() -> None:
    rng = np.random.default_rng(6)
    x = np.linspace(0.0, 5.0, 25)
    slopes = rng.uniform(0.5, 3.0, (6, 1))
    y = 1.0 + slopes * x + 0.05 * x**2 + 0.1 * rng.standard_normal((6, 25))
    many = gradpoly.lstsq_many(x, y, 2)
    targets = np.column_stack([2.0 + slopes[:, 0], 3.0 + 2 * slopes[:, 0]])
    found = {kind: many.inverse(targets, interval=kind) for kind in ("classical", "delta")}
    limits = many.detection_limits()
    for b in range(6):
        one = gradpoly.lstsq(x, y[b], 2, full=True)
        for kind, batch in found.items():
            for mine, theirs in zip(batch, one.inverse(targets[b], interval=kind), strict=True):
                np.testing.assert_allclose(mine[b], theirs, rtol=1e-9)
        assert limits["lod"][b] == pytest.approx(one.detection_limits()["lod"], rel=1e-9)
    found = found["classical"]
    single = many.inverse(targets[:, 0])
    np.testing.assert_allclose(single, found[0][:, 0], rtol=1e-12)


def test_replicates_narrow_the_interval() -> None:
    fit = gradpoly.lstsq(CONCENTRATION, INTENSITY, 1, full=True)
    one = fit.inverse(13.5, interval="delta")
    four = fit.inverse(13.5, interval="delta", replicates=4)
    assert four[2] - four[1] < one[2] - one[1]


def test_bad_calls_are_named() -> None:
    fit = gradpoly.lstsq(CONCENTRATION, INTENSITY, 1, full=True)
    with pytest.raises(InvalidOptionError, match="interval must be"):
        fit.inverse(3.0, interval="wide")
    with pytest.raises(InvalidOptionError, match="replicates"):
        fit.inverse(3.0, interval="delta", replicates=0)
    with pytest.raises(InvalidOptionError, match="lod_factor"):
        fit.detection_limits(lod_factor=-1)
    many = gradpoly.lstsq_many(CONCENTRATION, np.stack([INTENSITY, 2 * INTENSITY]), 1)
    with pytest.raises(InvalidDataError, match="shape"):
        many.inverse([1.0, 2.0, 3.0])
    monomial = gradpoly.fit(CONCENTRATION, INTENSITY, 1, basis="monomial", lr="auto")
    with pytest.raises(InvalidOptionError, match="basis='chebyshev'"):
        monomial.inverse(3.0)


@settings(max_examples=40, deadline=None)
@given(
    coef=st.lists(st.floats(0.1, 3.0), min_size=3, max_size=3),
    where=st.floats(0.0, 1.0),
)
def test_the_root_is_found_to_float64(coef: list[float], where: float) -> None:
    x = np.linspace(0.0, 2.0, 15)
    y = coef[0] + coef[1] * x + coef[2] * x**3  # rising on [0, 2]
    fit = gradpoly.lstsq(x, y, 3, full=True)
    target = float(fit.predict(2.0 * where))
    found = fit.inverse(target)
    assert abs(float(fit.predict(found)) - target) <= 1e-12 * max(1.0, abs(target))


@pytest.mark.parametrize(
    "read",
    [
        lambda fitted: fitted.inverse([2.0]),
        lambda fitted: fitted.inverse([2.0], interval="classical"),
        lambda fitted: fitted.inverse([2.0], interval="delta"),
        lambda fitted: fitted.detection_limits(),
    ],
    ids=["inverse", "classical", "delta", "limits"],
)
def test_a_constant_is_no_calibration_curve(read) -> None:
    """Degree 0 has no slope: a typed error on every front door (an IndexError and a numpy
    ValueError came from inside the interval and limit code)."""
    x = np.linspace(0, 5, 20)
    y = 2.0 + 0.01 * np.sin(7 * x)
    fits = (gradpoly.lstsq(x, y, 0, full=True), gradpoly.lstsq_many(x, y[None], 0),
            gradpoly.fit(x, y, 0))  # fmt: skip
    for fitted in fits:
        with pytest.raises(InvalidOptionError, match="degree 0 is a constant"):
            read(fitted)


def test_the_cli_refuses_a_constant_calibration_in_one_line(tmp_path, capsys) -> None:
    from gradpoly.cli import main

    x = np.linspace(0, 5, 20)
    path = tmp_path / "standards.csv"
    path.write_text("x,y\n" + "".join(f"{a},{2 + 0.1 * a}\n" for a in x))
    assert main(["calibrate", str(path), "--degree", "0"]) == 1
    err = capsys.readouterr().err
    assert "degree 0 is a constant" in err
    assert len(err.strip().splitlines()) == 1
