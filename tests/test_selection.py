"""Degree selection (gradpoly.selection, gradpoly.select_degree): every criterion equals brute
force, statsmodels fitting each degree and leave-one-out refits point by point."""

from __future__ import annotations

import numpy as np
import pytest

import gradpoly
from gradpoly import selection
from gradpoly.errors import InvalidDataError, InvalidOptionError

sm = pytest.importorskip("statsmodels.api")

MAX = 5


def brute_force(x: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> dict[str, np.ndarray]:
    """Each criterion of degrees 0..MAX by statsmodels WLS per degree, and leave-one-out by
    refitting without each point."""
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    w = np.ones_like(y) if w is None else w[ok]
    out: dict[str, list[float]] = {name: [] for name in selection.CRITERIA}
    for d in range(MAX + 1):
        design = np.vander(x, d + 1, increasing=True)
        fit = sm.WLS(y, design, weights=w).fit()
        n = y.size
        out["aic"].append(fit.aic)
        out["bic"].append(fit.bic)
        out["aicc"].append(fit.info_criteria("aicc"))
        out["gcv"].append(n * fit.ssr / (n - d - 1) ** 2)
        errors = []
        for i in range(n):
            keep = np.arange(n) != i
            part = sm.WLS(y[keep], design[keep], weights=w[keep]).fit()
            errors.append(w[i] * (y[i] - design[i] @ part.params) ** 2)
        out["loo"].append(float(np.mean(errors)))
    return {name: np.array(values) for name, values in out.items()}


def reference_set(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four series of different shapes and noise on their own x, with weights and a gap."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2.0, 3.0, (4, 30)), axis=1)
    truth = [np.cos(x[0]), 0.5 * x[1] - 1.0, x[2] ** 3 - x[2], np.exp(x[3] / 3)]
    y = np.array(truth) + rng.uniform(0.02, 0.3, (4, 1)) * rng.standard_normal((4, 30))
    y[1, 3:6] = np.nan
    return x, y, rng.uniform(0.5, 2.0, (4, 30))


@pytest.mark.parametrize("weighted", [False, True])
def test_every_criterion_equals_brute_force_on_every_series(weighted: bool) -> None:
    x, y, w = reference_set(3)
    weights = w if weighted else None
    for name in selection.CRITERIA:
        chosen = gradpoly.select_degree(
            x, y, MAX, criterion=name, weights=weights, drop_nan=True, engine="numpy"
        )
        for b in range(x.shape[0]):
            expected = brute_force(x[b], y[b], None if weights is None else w[b])
            got = chosen.scores[name][b]
            np.testing.assert_allclose(got, expected[name], rtol=1e-9)
            assert chosen.degree[b] == int(np.argmin(expected[name]))


def test_one_curve_is_the_batch_of_one() -> None:
    x, y, _ = reference_set(4)
    one = gradpoly.select_degree(x[0], y[0], MAX, criterion="bic")
    many = gradpoly.select_degree(x[:1], y[:1], MAX, criterion="bic")
    assert isinstance(one.degree, np.integer | int)
    assert one.degree == many.degree[0]
    np.testing.assert_allclose(one.coef, many.coef[0], rtol=1e-12)
    assert "*" in str(one.table())
    assert one.summary()["degree"] == int(one.degree)


def test_shared_axis_equals_its_own_x_per_series() -> None:
    rng = np.random.default_rng(5)
    x = np.linspace(0.0, 5.0, 50)
    y = np.sin(x)[None, :] * rng.uniform(0.5, 2.0, (7, 1)) + 0.05 * rng.standard_normal((7, 50))
    y[2, 10:20] = np.nan
    for engine in ("numpy", "auto"):
        shared = gradpoly.select_degree(x, y, MAX, drop_nan=True, engine=engine, criterion="loo")
        own = gradpoly.select_degree(
            np.broadcast_to(x, y.shape).copy() + 0.0, y, MAX, drop_nan=True, engine="numpy",
            criterion="loo",
        )  # fmt: skip
        np.testing.assert_array_equal(shared.degree, own.degree)
        for name, value in shared.scores.items():
            np.testing.assert_allclose(value, own.scores[name], rtol=1e-9)


def test_the_chosen_fit_is_lstsq_at_that_degree() -> None:
    x, y, w = reference_set(6)
    chosen = gradpoly.select_degree(x, y, MAX, weights=w, drop_nan=True)
    for d in range(MAX + 1):
        fits = gradpoly.lstsq_many(x, y, d, weights=w, drop_nan=True)
        again = chosen.result(d)
        np.testing.assert_allclose(again.coef, fits.coef, rtol=1e-9, atol=1e-12)
        rows = chosen.degree == d
        padded = np.zeros((x.shape[0], MAX + 1))
        padded[:, : d + 1] = fits.coef
        np.testing.assert_allclose(chosen.coef[rows], padded[rows], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            np.asarray(again.stats.stderr), np.asarray(fits.stats.stderr), rtol=1e-9
        )


def test_a_series_too_short_for_high_degrees_is_judged_on_the_low_ones() -> None:
    x = np.array([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [0.0, 1.0, 2.0, np.nan, np.nan, 0, 0]])
    y = np.array([[1.0, 3.1, 4.9, 7.2, 9.0, 10.8, 13.1], [2.0, 2.1, 1.9, np.nan, np.nan, 0, 0]])
    x[1, 5:] = np.nan
    y[1, 5:] = np.nan
    chosen = gradpoly.select_degree(x, y, MAX, drop_nan=True, criterion="gcv")
    assert chosen.degree[0] == 1
    assert np.isnan(chosen.scores["gcv"][1, 3:]).all()  # 3 points: degree >= 3 unfitted
    assert np.isinf(chosen.scores["gcv"][1, 2])  # degree 2 fits exactly: no dof to judge
    aic = gradpoly.select_degree(x, y, MAX, drop_nan=True, criterion="aic").scores["aic"]
    assert aic[1, 2] == np.inf  # not statsmodels' -inf, which would choose the interpolant
    assert chosen.degree[1] in (0, 1)
    with pytest.raises(InvalidOptionError, match="above the largest"):
        chosen.result(MAX + 1)


def test_bad_options_are_named() -> None:
    x = np.linspace(0.0, 1.0, 20)
    with pytest.raises(InvalidOptionError, match="criterion must be one of"):
        gradpoly.select_degree(x, x, 3, criterion="r2")
    with pytest.raises(InvalidOptionError):
        gradpoly.select_degree(x, x, -1)
    with pytest.raises(InvalidDataError):
        gradpoly.select_degree(x, np.where(x > 0.5, np.nan, x), 3)  # NaN without drop_nan
    with pytest.raises(InvalidOptionError, match="table"):
        gradpoly.select_degree(x, np.stack([x, x]), 2).table()


def test_nested_factors_serve_degrees_below_a_singular_one() -> None:
    x = np.array([0.0, 0.0, 1.0, 1.0, 2.0, 2.0])  # three distinct x: degree 3 is singular
    a = np.vander(x, 5, increasing=True)
    _, broken = selection.nested_factors((a.T @ a)[None])
    assert broken[0] == 3


@pytest.mark.parametrize("weighted", [False, True])
def test_leave_one_out_of_a_shared_design_is_brute_force(weighted: bool) -> None:
    rng = np.random.default_rng(7)
    x = np.linspace(-2.0, 3.0, 30)
    y = np.cos(x) * rng.uniform(0.5, 2.0, (3, 1)) + 0.1 * rng.standard_normal((3, 30))
    w = rng.uniform(0.5, 2.0, 30) if weighted else None
    chosen = gradpoly.select_degree(x, y, MAX, criterion="loo", weights=w)
    for b in range(3):
        expected = brute_force(x, y[b], w)["loo"]
        np.testing.assert_allclose(chosen.scores["loo"][b], expected, rtol=1e-9)
        single = gradpoly.select_degree(x, y[b], MAX, criterion="loo", weights=w)  # one series
        np.testing.assert_allclose(single.scores["loo"], expected, rtol=1e-9)
