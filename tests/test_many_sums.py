"""Batched statistics from the points where the Gram form cannot hold them (gradpoly.many.sums):
R² near 1 and y far from 0 keep their digits, ordinary grids keep the one-pass form, and a
saved result's statistics are the fresh one's."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradpoly
from gradpoly.exact import certified_sets, digits
from gradpoly.many import ManyResult

SETS = {s.name: s for s in certified_sets()}


def quiet(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


@pytest.mark.parametrize("name", list(SETS))
def test_certified_statistics_keep_their_digits_through_the_batch(name: str) -> None:
    """Standard errors and residual std of each NIST set as one series of lstsq_many, on one
    axis and on its own x: at least 13 digits (the Gram form kept 8.6 on Pontius, 9.6 on
    Wampler1's exact polynomial) and never fewer than np.polyfit's."""
    s = SETS[name]
    for x in (s.x, s.x[None]):
        stats = quiet(gradpoly.lstsq_many, x, s.y[None], s.degree).stats
        assert digits(stats.stderr[0], s.stderr) >= 13.0, name
        assert digits([stats.residual_std[0]], [s.residual_std]) >= 13.0, name


def offset_grid(count: int = 40, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Temperatures in kelvins: y far from 0, a small signal, smaller noise."""
    rng = np.random.default_rng(3)
    x = np.linspace(0.0, 10.0, points)
    y = 290.0 + np.sin(x / 3.0)[None] * rng.uniform(0.5, 2.0, (count, 1))
    return x, y + 1e-4 * rng.standard_normal((count, points))


def test_far_from_zero_statistics_equal_statsmodels() -> None:
    sm = pytest.importorskip("statsmodels.api")
    x, y = offset_grid()
    y[3, ::7] = np.nan  # gaps: their series from their own points
    result = gradpoly.lstsq_many(x, y, 3, drop_nan=True)
    stats = result.stats
    for b in range(y.shape[0]):
        keep = np.isfinite(y[b])
        ols = sm.OLS(y[b][keep], np.vander(x[keep], 4, increasing=True)).fit()
        np.testing.assert_allclose(stats.stderr[b], ols.bse, rtol=1e-9)
        np.testing.assert_allclose(stats.residual_std[b], np.sqrt(ols.scale), rtol=1e-10)
        np.testing.assert_allclose(stats.r_squared[b], ols.rsquared, rtol=1e-12)


def test_a_saved_result_keeps_the_statistics_from_the_points() -> None:
    x, y = offset_grid(6)
    fresh = gradpoly.lstsq_many(x, y, 3)
    back = ManyResult.from_json(fresh.to_json())
    np.testing.assert_array_equal(back.stats.stderr, fresh.stats.stderr)
    np.testing.assert_array_equal(back.stats.r_squared, fresh.stats.r_squared)


def test_an_ordinary_grid_keeps_the_one_pass_form() -> None:
    """Noisy series (s / mse of about 100) never ask their points."""
    rng = np.random.default_rng(0)
    x = np.arange(365.0)
    y = np.sin(x / 50)[None] + 0.1 * rng.standard_normal((500, x.size))
    result = gradpoly.lstsq_many(x, y, 3)
    asked = []

    def spy(rows, *rest):
        asked.append(rows.size)
        return result.sums(rows, *rest)

    from dataclasses import replace

    stats = replace(result, sums=spy).stats
    assert np.isfinite(stats.stderr).all()
    assert sum(asked) == 0


def test_batched_statistics_agree_with_lstsqs_on_random_problems() -> None:
    """Offsets, tiny noise, weights, x of any scale: residual std and standard errors of one
    series of lstsq_many within 1e-6 of lstsq's (which also reads compensated residuals), or
    within 1e-9 of y's size where the residuals sit at rounding's level."""
    rng = np.random.default_rng(12)
    for _ in range(150):
        n = int(rng.integers(8, 120))
        degree = int(rng.integers(0, min(n - 3, 7) + 1))
        x = rng.normal(size=n) * 10.0 ** rng.integers(-3, 6)
        x = x + (10.0 ** rng.integers(0, 6) if rng.random() < 0.3 else 0.0)
        y = np.polynomial.polynomial.polyval(x - x.mean(), rng.normal(size=degree + 1))
        y = y + rng.normal(size=n) * 10.0 ** rng.integers(-10, 0) + 300.0 * (rng.random() < 0.3)
        w = rng.uniform(0.2, 3.0, n) if rng.random() < 0.4 else None
        try:
            expected = quiet(gradpoly.lstsq, x, y, degree, weights=w, full=True).stats
        except gradpoly.errors.GradpolyError:
            continue
        size = float(np.sqrt(np.mean(y * y)))
        for xs, ws in ((x, w), (x[None], None if w is None else w[None])):
            stats = quiet(gradpoly.lstsq_many, xs, y[None], degree, weights=ws).stats
            sigma = float(expected.residual_std)
            slack = 1e-6 * sigma + 1e-9 * size
            assert abs(float(stats.residual_std[0]) - sigma) <= slack
            np.testing.assert_allclose(
                stats.stderr[0],
                expected.stderr,
                rtol=1e-6,
                atol=1e-9 * size * np.max(expected.stderr / max(sigma, 1e-300)),
            )


@pytest.mark.parametrize("layout", ["shared", "own"])
def test_a_result_keeps_no_input_alive(layout: str) -> None:
    """Only copies of the rows whose statistics need their points are kept (none for a noisy
    grid): the caller's arrays, and the padded batch made from them, can go."""
    import gc
    import weakref

    for offset in (True, False):
        if offset:  # every series' statistics need its points
            x, y = offset_grid(8)
        else:  # none does
            x, y = np.arange(50.0), np.random.default_rng(0).normal(size=(8, 50))
        xs = x if layout == "shared" else np.broadcast_to(x, y.shape).copy()
        alive = weakref.ref(y)
        result = gradpoly.lstsq_many(xs, y, 2)
        before = result.stats.stderr
        del y, xs
        gc.collect()
        assert alive() is None
        np.testing.assert_array_equal(result.stats.stderr, before)


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=12,
)


@given(sums=JSON)
def test_saved_residual_sums_of_any_shape_load_or_are_one_line_errors(sums) -> None:
    """A saved batch's residual_sums as a hostile editor leaves them: a DataFileError naming
    what does not hold, or a result whose statistics compute."""
    data = json.loads(gradpoly.lstsq_many(*offset_grid(3, 20), 2).to_json())
    data["residual_sums"] = sums
    try:
        back = ManyResult.from_json(json.dumps(data))
    except gradpoly.DataFileError as exc:
        message = str(exc)
    else:
        message = ""
    assert "\n" not in message
    if message:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert back.stats.stderr.shape == (3, 3)
