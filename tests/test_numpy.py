"""gradpoly.numpy: numpy's fits as drop-ins, same answers where numpy is right, more digits
where its raw Vandermonde matrix loses them, numpy's exception types for bad shapes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradpoly
import gradpoly.numpy as gnp
from gradpoly.exact import exact_lstsq

P = np.polynomial
SERIES = [
    (gnp.polynomial_polyfit, P.polynomial.polyfit),
    (gnp.chebfit, P.chebyshev.chebfit),
    (gnp.legfit, P.legendre.legfit),
]


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    degree = draw(st.integers(0, 5))
    n = draw(st.integers(degree + 3, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = np.sort(rng.uniform(-1, 1, n))
    columns = draw(st.sampled_from([0, 1, 3]))
    base = np.cos(2 * x) if columns == 0 else np.cos(2 * x)[:, None] * np.arange(1, columns + 1)
    y = base + 0.1 * rng.standard_normal(base.shape)
    w = rng.uniform(0.2, 2.0, n) if draw(st.booleans()) else None
    return x, y, w, degree


def close(ours, theirs, rtol: float = 1e-8) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape
    if theirs.size == 0:
        return
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * (np.abs(theirs).max() + 1))


@settings(max_examples=150, deadline=None)
@given(problem=problems())
def test_np_polyfit_same_answers_shapes_and_extras(problem) -> None:
    x, y, w, degree = problem
    close(gnp.polyfit(x, y, degree, w=w), np.polyfit(x, y, degree, w=w))
    ours = gnp.polyfit(x, y, degree, w=w, full=True)
    theirs = np.polyfit(x, y, degree, w=w, full=True)
    for a, b in zip(ours, theirs, strict=True):
        close(a, b)
    for cov in (True, "unscaled"):
        for a, b in zip(gnp.polyfit(x, y, degree, w=w, cov=cov),
                        np.polyfit(x, y, degree, w=w, cov=cov), strict=True):  # fmt: skip
            close(a, b, rtol=1e-7)


@settings(max_examples=100, deadline=None)
@given(problem=problems(), terms=st.sampled_from([None, [0, 2], [1, 3], [0, 1, 3]]))
def test_numpy_polynomial_fits_same_answers_with_every_degree_form(problem, terms) -> None:
    x, y, w, degree = problem
    deg = degree if terms is None else terms
    for ours, theirs in SERIES:
        close(ours(x, y, deg, w=w), theirs(x, y, deg, w=w))
        a, extras = ours(x, y, deg, w=w, full=True)
        b, expected = theirs(x, y, deg, w=w, full=True)
        close(a, b)
        for got, want in zip(extras, expected, strict=True):
            close(got, want)


def test_only_some_terms_fits_those_terms() -> None:
    """numpy's own check (after the complex part gradpoly refuses): an even polynomial fitted
    by its even terms equals the full fit, in every basis."""
    x = np.linspace(-1, 1)
    y = x**4 + x**2 + 1
    for fit, _ in SERIES:
        full, even = fit(x, y, 4), fit(x, y, [0, 2, 4])
        np.testing.assert_allclose(even, full, atol=1e-12)
        assert even[1] == even[3] == 0.0


def test_more_digits_than_numpy_far_from_zero() -> None:
    """x near 1e4: numpy's raw powers lose every digit of the coefficients (measured: 100%
    error); the mapped solve keeps them (to a few ulp of exact rational least squares)."""
    x = 1e4 + np.linspace(0.0, 1.0, 40)
    y = np.cos(3 * (x - 1e4))
    exact = np.asarray(exact_lstsq(x, y, 3), dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = np.polyfit(x, y, 3)[::-1]
        ours = gnp.polyfit(x, y, 3)[::-1]
    assert np.abs(ours / exact - 1).max() < 1e-12
    assert np.abs(theirs / exact - 1).max() > 1e-3


@pytest.mark.parametrize(
    "call",
    [
        lambda f: f([[1.0]], [1.0], 0),
        lambda f: f([], [1.0], 0),
        lambda f: f([1.0], [[[1.0]]], 0),
        lambda f: f([1.0, 2.0], [1.0], 0),
        lambda f: f([1.0], [1.0, 2.0], 0),
        lambda f: f([1.0], [1.0], 0, w=[[1.0]]),
        lambda f: f([1.0], [1.0], 0, w=[1.0, 1.0]),
    ],
)
def test_bad_shapes_raise_numpys_type_and_gradpolys(call) -> None:
    for fit in (gnp.polyfit, gnp.polynomial_polyfit, gnp.chebfit, gnp.legfit):
        with pytest.raises(gradpoly.DataShapeError) as caught:
            call(fit)
        assert isinstance(caught.value, TypeError)
        assert isinstance(caught.value, gradpoly.InvalidDataError)


def test_bad_degrees_and_values_are_refused_as_numpy_does() -> None:
    with pytest.raises(ValueError, match="degree"):
        gnp.polyfit([1.0], [1.0], -1)
    for deg in ([-1], [2, -1, 6]):
        with pytest.raises(ValueError, match=">= 0"):
            gnp.polynomial_polyfit([1.0], [1.0], deg)
    with pytest.raises(TypeError, match="non-empty"):
        gnp.polynomial_polyfit([1.0], [1.0], [])
    with pytest.raises(ValueError, match="more points of positive weight"):
        gnp.polyfit([1.0], [1.0], 0, cov=True)
    with pytest.raises(gradpoly.InvalidDataError, match="complex"):
        gnp.chebfit([1, 1j, -1, -1j], [1, 1j, -1, -1j], 1)
    with pytest.raises(gradpoly.InvalidDataError, match="NaN or inf"):
        gnp.polyfit([0.0, 1.0, np.nan], [1.0, 2.0, 3.0], 1)


def test_a_rank_deficient_design_is_nan_with_a_rank_warning() -> None:
    with pytest.warns(np.exceptions.RankWarning, match="NaN coefficients"):
        coef = gnp.polyfit([0.0, 0.0, 1.0], [1.0, 2.0, 3.0], 2)
    assert np.isnan(coef).all()
    with pytest.warns(gradpoly.UnfittedRankWarning):
        some = gnp.polynomial_polyfit([1.0, 1.0, 1.0], [1.0, 2.0, 3.0], [0, 1])
    assert np.isnan(some[[0, 1]]).all()


def test_one_curve_is_lstsqs_bit_for_bit() -> None:
    """np.polyfit's question for one curve is lstsq's: the drop-in gives its refined
    monomials (NIST's Pontius: 13.5 digits where numpy keeps 12.7; a grid of curves keeps
    the batched rule)."""
    from gradpoly.exact import certified_sets

    for s in certified_sets():
        expected = gradpoly.lstsq(s.x, s.y, s.degree)
        np.testing.assert_array_equal(gnp.polyfit(s.x, s.y, s.degree)[::-1], expected)
        np.testing.assert_array_equal(gnp.polynomial_polyfit(s.x, s.y, s.degree), expected)
    rng = np.random.default_rng(5)
    x = np.sort(rng.uniform(-2.0, 30.0, 40))
    y = np.cos(x / 4) + 0.01 * rng.standard_normal(40)
    w = rng.uniform(0.5, 2.0, 40)
    np.testing.assert_array_equal(
        gnp.polyfit(x, y, 6, w=w)[::-1], gradpoly.lstsq(x, y, 6, weights=w * w)
    )
