"""FitProblem validation, the lstsq reference and the float64 GD reference (with properties)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradpoly import FitProblem, InvalidDataError, InvalidOptionError, lstsq, reference_gd
from gradpoly.errors import RepresentationWarning


@pytest.mark.parametrize(
    ("x", "y", "degree", "match"),
    [
        ([], [], 1, "x is empty"),
        (np.ones((3, 2)), np.ones(6), 1, "x must be 1-D"),
        ([1, 2, 3], [1, 2], 1, "same length, got 3 and 2"),
        ([1, np.nan, 3], [1, 2, 3], 1, "x has 1 non-finite value"),
        (
            [1, 2, 3],
            [1, np.inf, 3],
            1,
            r"y has 1 non-finite value\(s\) \(NaN or inf\), the first at index 1",
        ),
        ([1, 2, 3], [1, 2, 3], 3, "4 distinct x values with positive weight, got 3"),
        ([1, 1, 1, 2], [1, 2, 3, 4], 2, "3 distinct x values with positive weight, got 2"),
        (["a", "b"], [1, 2], 1, "x must be numeric"),
    ],
)
def test_bad_data_is_refused_with_a_message(x, y, degree, match) -> None:
    with pytest.raises(InvalidDataError, match=match):
        FitProblem.from_data(x, y, degree)


@pytest.mark.parametrize("degree", [-1, 2.5, True, "3"])
def test_bad_degree_is_an_option_error(degree) -> None:
    with pytest.raises(InvalidOptionError, match="degree must be a non-negative integer"):
        FitProblem.from_data([1, 2, 3], [1, 2, 3], degree)


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ([1, 2], "one value per point"),
        ([1, -1, 1], r"weights\[1\] = -1"),
        ([1, np.nan, 1], "non-finite"),
        ([0, 0, 1], "distinct x values with positive weight"),
    ],
)
def test_bad_weights_are_refused(weights, match) -> None:
    with pytest.raises(InvalidDataError, match=match):
        FitProblem.from_data([1, 2, 3], [1, 2, 3], 1, weights)


def test_errors_are_also_builtin_value_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        FitProblem.from_data([], [], 0)


def test_problem_data_is_a_read_only_copy() -> None:
    x = np.array([0.0, 1.0, 2.0])
    problem = FitProblem.from_data(x, x, 1)
    x[0] = 5.0
    assert problem.x[0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        problem.x[0] = 1.0


def test_lstsq_matches_numpy_polyfit(rng) -> None:
    x = rng.uniform(-3, 3, 200)
    y = np.sin(x) + 0.1 * rng.standard_normal(x.size)
    expected = np.polynomial.polynomial.polyfit(x, y, 5)
    np.testing.assert_allclose(lstsq(x, y, 5), expected, rtol=1e-9, atol=1e-12)


def test_lstsq_recovers_an_exact_polynomial() -> None:
    x = np.linspace(0, 5, 50)
    coef = np.array([1.0, -2.0, 0.5, 0.25, -0.01])
    y = np.polynomial.polynomial.polyval(x, coef)
    np.testing.assert_allclose(lstsq(x, y, 4), coef, rtol=1e-10, atol=1e-11)


def test_lstsq_on_seed_data_gives_the_known_optimum(seed_problem) -> None:
    assert seed_problem.mse(lstsq(seed_problem.x, seed_problem.y, 4)) == pytest.approx(
        0.000428, rel=1e-3
    )


def test_weighted_lstsq_equals_repeating_points() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    y = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    weights = np.array([1, 2, 1, 3, 1])
    repeated = lstsq(np.repeat(x, weights), np.repeat(y, weights), 2)
    np.testing.assert_allclose(lstsq(x, y, 2, weights), repeated, rtol=1e-10)


def test_weighted_mse_is_the_weighted_mean() -> None:
    problem = FitProblem.from_data([0.0, 1.0, 2.0], [1.0, 2.0, 4.0], 1, [1.0, 0.0, 2.0])
    assert problem.mse([0.0, 0.0]) == pytest.approx((1 + 0 + 2 * 16) / 3)


def test_seed_problem_conditioning_matches_the_design_notes(seed_problem) -> None:
    assert seed_problem.condition_number == pytest.approx(1.5e7, rel=0.1)
    assert 1e-5 < seed_problem.lr_max < 3e-5


def test_reference_gd_on_seed_data_ends_at_the_notebook_figure(seed_problem) -> None:
    _, trace = reference_gd(seed_problem, 200_000, 1e-5)
    assert trace[-1] == pytest.approx(0.00790, abs=1e-5)


# --- properties of the maths -------------------------------------------------------------

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


@st.composite
def problems(draw) -> FitProblem:
    n = draw(st.integers(6, 40))
    degree = draw(st.integers(0, 3))
    x = np.linspace(draw(st.floats(-3, 0)), draw(st.floats(0.5, 3)), n)
    y = draw(arrays(np.float64, n, elements=finite))
    return FitProblem.from_data(x, y, degree)


@given(problems(), st.floats(0.05, 0.95))
def test_trace_never_rises_for_a_stable_rate(problem, fraction) -> None:
    _, trace = reference_gd(problem, 200, fraction * problem.lr_max)
    rounding = 1e-12 * (trace[0] + 1.0)
    assert np.all(np.diff(trace) <= rounding)


@given(problems(), st.floats(-5, 5).filter(lambda c: abs(c) > 1e-3))
def test_coefficients_are_linear_in_y(problem, c) -> None:
    lr = 0.5 * problem.lr_max
    w, _ = reference_gd(problem, 50, lr)
    scaled = FitProblem.from_data(problem.x, c * problem.y, problem.degree)
    w_c, _ = reference_gd(scaled, 50, lr)
    np.testing.assert_allclose(w_c, c * w, rtol=1e-9, atol=1e-9 * (1 + np.abs(w).max()))


@given(problems())
def test_reference_gd_converges_to_lstsq_when_well_conditioned(problem) -> None:
    if problem.condition_number > 50:
        return  # slow convergence is the point of issue "Fits that converge", not this test
    w, _ = reference_gd(problem, 3000, 1.0 / problem.lambda_max)
    best = lstsq(problem.x, problem.y, problem.degree)
    np.testing.assert_allclose(w, best, rtol=1e-7, atol=1e-7 * (1 + np.abs(best).max()))


@pytest.mark.parametrize("basis", ["chebyshev", "legendre"])
def test_mapped_bases_are_well_conditioned_and_convert_exactly(seed_problem, basis) -> None:
    problem = FitProblem.from_data(seed_problem.x, seed_problem.y, 4, basis=basis)
    assert problem.condition_number < 10
    assert problem.domain == (0.0, 5.0)
    coef = np.array([0.5, -1.0, 0.25, 0.1, -0.05])
    x = np.linspace(0, 5, 7)
    np.testing.assert_allclose(
        np.polynomial.polynomial.polyval(x, problem.to_monomial(coef)),
        problem.series(coef)(x),
        rtol=1e-12,
        atol=1e-12,
    )
    assert problem.mse(coef) == pytest.approx(problem.mse_monomial(problem.to_monomial(coef)))


def test_unknown_basis_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="unknown basis 'fourier'"):
        FitProblem.from_data([0, 1, 2], [0, 1, 2], 1, basis="fourier")


def test_auto_lr_is_one_over_the_lipschitz_constant(seed_problem) -> None:
    assert seed_problem.auto_lr() == pytest.approx(1 / seed_problem.lambda_max)
    assert seed_problem.auto_lr() == pytest.approx(seed_problem.lr_max / 2)


@given(problems())
def test_converged_coefficients_do_not_depend_on_the_basis(problem) -> None:
    results = []
    for basis in ("chebyshev", "legendre"):
        mapped = FitProblem.from_data(problem.x, problem.y, problem.degree, basis=basis)
        w, _ = reference_gd(mapped, 400, mapped.auto_lr())
        results.append(mapped.to_monomial(w))
    best = lstsq(problem.x, problem.y, problem.degree)
    for coef in results:
        np.testing.assert_allclose(coef, best, rtol=1e-6, atol=1e-6 * (1 + np.abs(best).max()))


def test_any_representable_y_fits_exactly_scaled() -> None:
    from gradpoly import lstsq

    x = np.linspace(0, 5, 40)
    y = np.sin(x)
    base = lstsq(x, y, 4)
    for scale in (1e-300, 1e-200, 1e200, 1e307):
        np.testing.assert_allclose(lstsq(x, y * scale, 4) / scale, base, rtol=1e-12, atol=1e-15)


def test_gd_on_scaled_y_is_the_scaled_trajectory() -> None:
    from gradpoly import fit

    x = np.linspace(0, 5, 40)
    y = np.sin(x)
    for dtype in ("float32", "float64"):
        base = fit(x, y, 3, steps=200, lr="auto", basis="chebyshev", dtype=dtype)
        big = fit(x, y * 2.0**100, 3, steps=200, lr="auto", basis="chebyshev", dtype=dtype)
        np.testing.assert_array_equal(big.basis_coef / 2.0**100, base.basis_coef)
        np.testing.assert_array_equal(big.trace / 2.0**200, base.trace)


@pytest.mark.parametrize(
    ("x", "degree", "match"),
    [
        (np.linspace(1, 5, 20) * 1e-300, 4, "vanishes in float64"),
        (np.linspace(1, 5, 20) * 1e300, 4, "overflows float64"),
        (np.linspace(1, 2, 20) * 1e300, 2, "overflows float64|beyond float64.s range"),
    ],
)
def test_monomials_beyond_float64_are_refused_before_running(x, degree, match) -> None:
    from gradpoly import fit, lstsq

    with pytest.raises(InvalidDataError, match=match):
        lstsq(x, np.sin(np.arange(20.0)), degree)
    basis = "chebyshev" if "range" in match else "monomial"
    with pytest.raises(InvalidDataError, match=match):
        fit(x, np.sin(np.arange(20.0)), degree, steps=5, basis=basis)


def test_x_near_the_float64_limit_fits_in_a_mapped_basis() -> None:
    from gradpoly import fit, lstsq

    x = np.linspace(-1, 1, 30) * 1e307
    y = np.linspace(0, 1, 30)
    coef = lstsq(x, y, 1)
    assert np.isfinite(coef).all()
    np.testing.assert_allclose(np.polynomial.polynomial.polyval(x, coef), y, atol=1e-12)
    result = fit(x, y, 1, steps=50, lr="auto", basis="chebyshev", dtype="float64")
    assert np.isfinite(result.coef).all()


def test_constant_x_at_degree_zero_is_the_mean(capfd) -> None:
    from gradpoly import fit, lstsq

    np.testing.assert_allclose(lstsq([3, 3, 3], [1, 2, 6], 0), [3.0])
    result = fit([3, 3, 3], [1, 2, 6], 0, steps=50, lr="auto", basis="chebyshev", tol=1e-9)
    np.testing.assert_allclose(result.coef, [3.0], rtol=1e-6)
    out, err = capfd.readouterr()
    assert out == err == ""  # no LAPACK noise


def test_huge_y_in_float32_is_scaled_not_overflowed() -> None:
    from gradpoly import fit

    x = np.linspace(0, 5, 40)
    result = fit(x, np.sin(x) * 1e30, 2, steps=100, lr="auto", basis="chebyshev")
    assert np.isfinite(result.coef).all()
    assert np.isfinite(result.trace).all()


def test_y_whose_mse_leaves_float64_is_refused_by_gd_but_solved_by_lstsq() -> None:
    from gradpoly import fit, lstsq

    x = np.linspace(0, 5, 40)
    with pytest.raises(InvalidDataError, match="mean squared error is beyond float64"):
        fit(x, np.sin(x) * 1e200, 2, steps=5)
    assert np.isfinite(lstsq(x, np.sin(x) * 1e200, 2)).all()


def test_zero_weight_points_do_not_move_the_domain() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0, 1e300])
    weights = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    problem = FitProblem.from_data(x, np.sin(x), 2, weights, "chebyshev")
    assert problem.domain == (0.0, 3.0)
    a, _ = problem.design()
    assert np.isfinite(a).all()


def test_monomials_that_cannot_hold_the_fit_are_named() -> None:
    """lstsq(1e15 + x, y, 2): the monomials evaluate 1e13 off, and say so; predict does not."""
    x = np.linspace(0, 5, 30)
    shifted = 1e15 + x  # x as float64 holds it there: steps of 0.125
    with pytest.warns(RepresentationWarning, match="cannot represent this fit"):
        result = lstsq(shifted, np.sin(x), 2, full=True)
    reference = lstsq(shifted - 1e15, np.sin(x), 2, full=True)
    np.testing.assert_allclose(
        result.predict(shifted), reference.predict(shifted - 1e15), atol=1e-6
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RepresentationWarning)
        lstsq(x, np.sin(x), 4)


def test_full_statistics_far_from_zero_match_statsmodels() -> None:
    """Residuals come from whichever representation holds the fit: the basis' here."""
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(1000, 1010, 40))
    y = np.sin(x) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepresentationWarning)
        stats = lstsq(x, y, 6, full=True).stats
    t = (x - 0.5 * (x.min() + x.max())) / (0.5 * (x.max() - x.min()))
    ols = sm.OLS(y, np.polynomial.chebyshev.chebvander(t, 6)).fit()
    assert stats.residual_std == pytest.approx(np.sqrt(ols.scale), rel=1e-8)
