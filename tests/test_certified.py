"""NIST StRD's certified polynomial sets: coefficients and statistics digit by digit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradpoly
from gradpoly.exact import certified_sets, digits

SETS = {s.name: s for s in certified_sets()}


def test_the_sets_are_nist_polynomial_sets() -> None:
    assert list(SETS) == [
        "Norris", "Pontius", "Wampler1", "Wampler2", "Wampler3", "Wampler4", "Wampler5", "Filip"
    ]  # fmt: skip
    for s in SETS.values():
        assert s.x.shape == s.y.shape
        assert s.coef.shape == s.stderr.shape == (s.degree + 1,)


def test_digits_is_nists_log_relative_error() -> None:
    assert digits([1.0, 2.0], [1.0, 2.0]) == 15.0
    assert digits([1.001], [1.0]) == pytest.approx(3.0)
    assert digits([1e-9], [0.0]) == pytest.approx(9.0)  # absolute where certified is 0
    assert digits([np.nan], [1.0]) == 0.0
    assert digits([5.0], [1.0]) == 0.0


@pytest.mark.parametrize("name", list(SETS))
def test_lstsq_statistics_match_the_certified_values(name: str) -> None:
    s = SETS[name]
    result = gradpoly.lstsq(s.x, s.y, s.degree, full=True)
    stats = result.stats
    assert digits(result.coef, s.coef) >= 8.0
    assert digits(stats.stderr, s.stderr) >= 8.5
    assert digits(stats.residual_std, s.residual_std) >= 8.5
    assert digits(stats.r_squared, s.r_squared) >= 13.0


@pytest.mark.parametrize("name", ["Filip", "Wampler4", "Wampler5"])
def test_anchors_lose_digits_where_gradpoly_keeps_them(name: str) -> None:
    """What the benchmark shows: np.polyfit's raw powers lose digits on the hard sets."""
    s = SETS[name]
    mine = digits(gradpoly.lstsq(s.x, s.y, s.degree), s.coef)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.RankWarning)
        theirs = digits(np.polyfit(s.x, s.y, s.degree)[::-1], s.coef)
    assert mine >= theirs + 1.0


@pytest.mark.parametrize("name", list(SETS))
@pytest.mark.parametrize("optimizer", ["gd", "nesterov"])
def test_a_tight_tol_is_as_accurate_as_the_closed_form(name: str, optimizer: str) -> None:
    """tol below float64's reach stops at the rounding floor: as accurate as lstsq."""
    s = SETS[name]
    closed = digits(gradpoly.lstsq(s.x, s.y, s.degree), s.coef)
    options = {"lr": "auto", "basis": "chebyshev", "dtype": "float64", "strategy": "gram"}
    fit = gradpoly.fit(s.x, s.y, s.degree, 100_000, optimizer=optimizer, tol=1e-14, **options)
    assert fit.converged, fit.stop_reason
    assert digits(fit.coef, s.coef) >= closed - 0.3
    stats = fit.stats
    assert digits(stats.stderr, s.stderr) >= 8.5
    assert digits(stats.residual_std, s.residual_std) >= 8.5


def test_saved_fits_keep_their_statistics(tmp_path: object) -> None:
    s = SETS["Pontius"]
    fit = gradpoly.fit(s.x, s.y, s.degree, steps=10_000, lr="auto", basis="chebyshev",
                       optimizer="nesterov", tol=1e-12, dtype="float64")  # fmt: skip
    back = gradpoly.FitResult.from_json(fit.to_json())
    np.testing.assert_array_equal(back.stats.cov, fit.stats.cov)
    assert back.stats.residual_std == fit.stats.residual_std
    assert back.stats.r_squared == fit.stats.r_squared
