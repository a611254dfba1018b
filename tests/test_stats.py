"""Fit statistics (gradpoly.stats) against statsmodels OLS/WLS, batched against single."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradpoly
from gradpoly import fit, fit_many, lstsq, lstsq_many
from gradpoly.stats import StatsWarning

sm = pytest.importorskip("statsmodels.api")
pytest.importorskip("scipy")

RTOL = 1e-8


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Random problems well conditioned in raw powers (statsmodels' design): degree 0..5, N,
    x ranges around 0, optional weights. (Far from 0 statsmodels' raw-power design loses
    digits that gradpoly's mapped basis keeps: those are the hard set's business.)"""
    degree = draw(st.integers(0, 5))
    n = draw(st.integers(degree + 10, 80))  # dof >= 9: intervals not dominated by rounding
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    lo = draw(st.sampled_from([-1.0, -0.5, 0.0]))
    x = np.sort(rng.uniform(lo, lo + draw(st.sampled_from([1.0, 2.0])), n))
    y = np.cos(x) + 0.2 * rng.standard_normal(n)
    weights = rng.uniform(0.2, 3.0, n) if draw(st.booleans()) else None
    return x, y, weights, degree


def reference(x, y, weights, degree):  # type: ignore[no-untyped-def]
    design = np.vander(x, degree + 1, increasing=True)
    model = sm.OLS(y, design) if weights is None else sm.WLS(y, design, weights=weights)
    return model.fit(), design


def close(a, b, atol: float = 1e-14) -> bool:  # type: ignore[no-untyped-def]
    """Within RTOL relative (values near 0, such as R² of a constant model, within atol)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(np.abs(a - b) <= RTOL * np.abs(b) + atol))


@settings(max_examples=300)
@given(problem=problems())
def test_lstsq_full_agrees_with_statsmodels(problem) -> None:
    x, y, weights, degree = problem
    result = lstsq(x, y, degree, weights, full=True)
    model, _ = reference(x, y, weights, degree)
    stats = result.stats
    assert stats.n == x.size
    assert stats.dof == x.size - degree - 1
    assert close(result.coef, model.params)
    assert close(stats.stderr, model.bse)
    assert close(stats.residual_std**2, model.scale)
    assert close(stats.r_squared, model.rsquared, atol=1e-12)
    assert close(stats.adj_r_squared, model.rsquared_adj, atol=1e-12)
    assert close(stats.conf_int(0.9), model.conf_int(alpha=0.1))
    assert close(stats.cov, model.cov_params())
    new = np.linspace(x.min(), x.max(), 5)
    frame = model.get_prediction(np.vander(new, degree + 1, increasing=True)).summary_frame(
        alpha=0.05
    )
    _, lower, upper = result.predict(new, interval="confidence")
    assert close(lower, frame.mean_ci_lower)
    assert close(upper, frame.mean_ci_upper)
    _, lower, upper = result.predict(new, interval="prediction")
    assert close(lower, frame.obs_ci_lower)


def test_p_values_and_t_values_follow_statsmodels() -> None:
    rng = np.random.default_rng(2)
    x = np.linspace(0, 3, 50)
    y = 1 + 0.5 * x + 0.3 * rng.standard_normal(50)
    model, _ = reference(x, y, None, 2)
    stats = lstsq(x, y, 2, full=True).stats
    assert close(stats.t_values, model.tvalues)
    assert close(stats.p_values, model.pvalues)


def test_gd_fits_carry_the_same_statistics_once_converged() -> None:
    rng = np.random.default_rng(3)
    x = np.linspace(-1, 2, 60)
    y = np.exp(x / 2) + 0.1 * rng.standard_normal(60)
    model, _ = reference(x, y, None, 3)
    for basis in ("chebyshev", "monomial"):
        result = fit(x, y, 3, steps=200_000, lr="auto", basis=basis, optimizer="nesterov",
                     tol=1e-12, dtype="float64")  # fmt: skip
        if not result.converged:
            continue  # the monomial descent needs more steps; tested below for its warning
        assert np.allclose(result.stats.stderr, model.bse, rtol=1e-6)


def test_a_fit_that_did_not_converge_says_so_in_its_stats() -> None:
    x = np.linspace(0, 5, 30)
    result = fit(x, np.sin(x), 4, steps=10)  # the seed's lr: far from the optimum
    with pytest.warns(StatsWarning, match="did not converge"):
        stats = result.stats
    assert stats.converged is False


def test_batched_statistics_equal_single_ones() -> None:
    rng = np.random.default_rng(4)
    xs = [np.sort(rng.uniform(0, 4, n)) for n in (20, 35, 50)]
    ys = [np.sin(x) + 0.1 * rng.standard_normal(x.size) for x in xs]
    many = lstsq_many(xs, ys, 3)
    for b, (x, y) in enumerate(zip(xs, ys, strict=True)):
        single = lstsq(x, y, 3, full=True).stats
        assert close(many.stats.stderr[b], single.stderr)
        assert close(many.stats.residual_std[b], single.residual_std)
        assert close(many.stats.r_squared[b], single.r_squared)
    descended = fit_many(xs, ys, 3, steps=20_000, tol=1e-12)
    assert descended.converged.all()
    np.testing.assert_allclose(descended.stats.stderr, many.stats.stderr, rtol=1e-7)
    prediction, lower, upper = many.predict(np.linspace(0, 4, 6), interval="confidence")
    assert prediction.shape == lower.shape == upper.shape == (3, 6)
    assert np.all(lower <= prediction)
    assert np.all(prediction <= upper)


def test_stats_scale_with_y_and_ignore_point_order() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 3, 40)
    y = np.cos(x) + 0.1 * rng.standard_normal(40)
    base = lstsq(x, y, 2, full=True).stats
    scaled = lstsq(x, -3.0 * y, 2, full=True).stats
    assert close(scaled.stderr, 3.0 * base.stderr)
    order = rng.permutation(40)
    assert close(lstsq(x[order], y[order], 2, full=True).stats.stderr, base.stderr)


def test_an_exact_polynomial_has_zero_not_nan_errors() -> None:
    x = np.linspace(0, 1, 12)
    stats = lstsq(x, 1 + 2 * x - x**2, 2, full=True).stats
    assert np.all(np.isfinite(stats.stderr))
    assert np.all(stats.stderr < 1e-13)  # from the residuals themselves, not a cancelling sum
    assert stats.residual_std < 1e-14


def test_r_squared_near_one_keeps_its_digits() -> None:
    """The Gram form s - 2c.w + w.Gw cancels as R² nears 1; single fits use the residuals."""
    x = np.linspace(0, 1, 50)
    noise = 1e-9 * np.sin(37 * x)
    y = 1e3 + 5 * x + noise
    stats = lstsq(x, y, 1, full=True).stats
    rss = float(np.sum((y - np.polyval(np.polyfit(x, y, 1), x)) ** 2))
    assert stats.residual_std == pytest.approx(np.sqrt(rss / 48), rel=1e-6)


def test_summary_is_json_ready() -> None:
    import json

    rng = np.random.default_rng(2)
    x = np.linspace(0, 1, 30)
    summary = lstsq(x, x + rng.normal(0, 0.1, 30), 2, full=True).stats.summary(0.9)
    text = json.dumps(summary)
    assert json.loads(text)["level"] == 0.9
    assert np.shape(summary["conf_int"]) == (3, 2)
    assert np.shape(summary["cov"]) == (3, 3)
    assert summary["n"] == 30
    assert summary["dof"] == 27
    assert summary["converged"] is True


def test_invalid_series_have_nan_statistics_and_levels_are_checked() -> None:
    from gradpoly import InvalidOptionError

    result = lstsq_many([[1.0, 1.0, 1.0], [0.0, 1.0, 2.0, 3.0]], [[1.0, 2, 3], [1.0, 2, 3, 5]], 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(result.stats.stderr[0]).all()
    assert np.isfinite(result.stats.stderr[1]).all()
    with pytest.raises(InvalidOptionError, match="level"):
        lstsq([0, 1, 2, 3], [1, 2, 3, 5], 1, full=True).stats.conf_int(1.5)
    with pytest.raises(InvalidOptionError, match="interval"):
        lstsq([0, 1, 2, 3], [1, 2, 3, 5], 1, full=True).predict([1.0], interval="wide")


def test_statistics_of_y_near_float64s_limit_stay_finite() -> None:
    """Sums are of y divided by a power of two; errors scale back, variances may not."""
    x = np.linspace(-1, 1, 17)
    y = np.sin(3 * x)
    small = lstsq(x, y, 3, full=True).stats
    for factor in (1e155, 1e-300):
        huge = lstsq(x, y * factor, 3, full=True).stats
        np.testing.assert_allclose(huge.stderr, small.stderr * factor, rtol=1e-12)
        assert huge.r_squared == pytest.approx(small.r_squared, rel=1e-12)
        rows = lstsq_many([x], [y * factor], 3).to_rows()[0]
        assert rows["stderr_0"] == pytest.approx(small.stderr[0] * factor, rel=1e-9)


def test_a_series_not_fitted_is_not_said_to_lack_degrees_of_freedom() -> None:
    """A series refused for too few points has its own reason; stats warned it had no residual
    degrees of freedom, with another series' point count."""
    x = [np.linspace(0, 1, 50), np.linspace(0, 1, 50), np.array([0.0, 0.5, 1.0])]
    y = [np.sin(v) for v in x]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradpoly.UnfittedWarning)
        many = gradpoly.lstsq_many(x, y, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(many.stats.stderr[2]).all()


@pytest.mark.parametrize("absolute", [False, True])
def test_sigma_and_absolute_sigma_follow_statsmodels_on_every_front_door(absolute: bool) -> None:
    """sigma is y's standard deviation (weights 1/sigma^2); absolute_sigma=True is
    statsmodels' fixed scale 1 (normal p values), as curve_fit's absolute_sigma means it."""
    rng = np.random.default_rng(7)
    x = np.linspace(-1.0, 2.0, 40)
    sigma = rng.uniform(0.1, 1.0, x.size)
    y = 1.0 + 2.0 * x - x**2 + sigma * rng.standard_normal(x.size)
    design = np.vander(x, 3, increasing=True)
    options = {"cov_type": "fixed scale"} if absolute else {}
    model = sm.WLS(y, design, weights=1.0 / sigma**2).fit(**options)
    ys = np.stack([y, y[::-1]])
    found = {
        "lstsq": lstsq(x, y, 2, sigma=sigma, absolute_sigma=absolute, full=True).stats,
        "fit": fit(x, y, 2, sigma=sigma, absolute_sigma=absolute).stats,
        "lstsq_many": lstsq_many(x, ys, 2, sigma=sigma, absolute_sigma=absolute).stats,
        "fit_many": fit_many(
            [x, x], list(ys), 2, sigma=[sigma, sigma], absolute_sigma=absolute
        ).stats,
    }
    for name, stats in found.items():
        first = (lambda v: np.asarray(v)[0]) if name.endswith("many") else np.asarray
        assert close(first(stats.stderr), model.bse), name
        assert close(first(stats.p_values), model.pvalues, atol=1e-12), name
        assert close(first(stats.conf_int()), model.conf_int()), name
        assert close(first(stats.cov), model.cov_params(), atol=1e-15), name
    if absolute:
        scipy_optimize = pytest.importorskip("scipy.optimize")
        _, pcov = scipy_optimize.curve_fit(
            lambda t, a, b, c: a + b * t + c * t * t, x, y, sigma=sigma, absolute_sigma=True
        )
        assert np.allclose(found["lstsq"].cov, pcov, rtol=1e-6, atol=1e-12)


def test_absolute_sigma_keeps_the_covariance_of_an_interpolation() -> None:
    """With sigma known, no residual degrees of freedom lose only the residual std."""
    x = np.array([0.0, 1.0, 2.0])
    result = lstsq(x, x**2, 2, sigma=np.ones(3), absolute_sigma=True, full=True)
    with pytest.warns(StatsWarning, match="residual std is NaN"):
        stats = result.stats
    assert np.isnan(stats.residual_std)
    assert np.isfinite(stats.stderr).all()


def test_absolute_sigma_survives_the_json_round_trip() -> None:
    rng = np.random.default_rng(3)
    x = np.linspace(0.0, 1.0, 30)
    y = x + 0.1 * rng.standard_normal(30)
    result = fit(x, y, 1, sigma=np.full(30, 0.1), absolute_sigma=True)
    again = type(result).from_json(result.to_json())
    assert again.moments is not None
    assert again.moments.absolute
    assert np.allclose(again.stats.stderr, result.stats.stderr, rtol=1e-14)


@pytest.mark.parametrize(
    ("sigma", "match"),
    [
        (np.zeros(10), "sigma must be positive"),
        (-np.ones(10), "sigma must be positive"),
        (np.full(10, 1e-200), "beyond float64"),
        (np.where(np.arange(10) == 3, np.nan, 1.0), "sigma has 1 NaN value.*index 3"),
        (np.array(["a"] * 10), "numeric"),
    ],
)
def test_bad_sigma_is_refused_on_every_front_door(sigma, match: str) -> None:
    x = np.linspace(0.0, 1.0, 10)
    for call in (
        lambda: lstsq(x, x, 1, sigma=sigma),
        lambda: fit(x, x, 1, sigma=sigma),
        lambda: lstsq_many(x, np.stack([x, x]), 1, sigma=sigma),
        lambda: fit_many(x, np.stack([x, x]), 1, sigma=sigma),
    ):
        with pytest.raises(gradpoly.InvalidDataError, match=match):
            call()


def test_weights_and_sigma_together_are_refused() -> None:
    x = np.linspace(0.0, 1.0, 10)
    with pytest.raises(gradpoly.InvalidOptionError, match="not both"):
        lstsq(x, x, 1, weights=np.ones(10), sigma=np.ones(10))
    with pytest.raises(gradpoly.InvalidOptionError, match="absolute_sigma"):
        lstsq(x, x, 1, sigma=np.ones(10), absolute_sigma="yes")


@pytest.mark.parametrize("shape", [(1, 4), (7, 3), (20_000, 4), (3, 40_000)])
def test_two_sided_p_is_scipys_exact_tail_however_split(shape: tuple[int, int]) -> None:
    from scipy import special

    from gradpoly.stats import two_sided_p

    rng = np.random.default_rng(5)
    t = rng.standard_normal(shape) * 4
    dof = rng.integers(1, 500, shape[0]).astype(float)
    dof[0] = np.inf  # a known sigma: the normal tail
    expected = 2.0 * special.stdtr(dof[:, None], -np.abs(t))
    assert np.array_equal(two_sided_p(dof, t), expected)
