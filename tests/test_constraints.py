"""Equality-constrained fits (gradpoly.constraints; fixed=, through=, slope= on lstsq and
lstsq_many): met exactly, equal to statsmodels on the reduced design, one answer per path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradpoly
from gradpoly.errors import InvalidOptionError

sm = pytest.importorskip("statsmodels.api")

X = np.linspace(0.5, 5.0, 40)
Y = 2.0 * X + 0.3 * X**2 + 0.2 * np.random.default_rng(0).standard_normal(40)


def test_through_the_origin_is_ols_without_a_constant() -> None:
    fit = gradpoly.lstsq(X, Y, 2, fixed={0: 0.0}, full=True)
    ols = sm.OLS(Y, np.column_stack([X, X**2])).fit()
    assert fit.coef[0] == 0.0
    np.testing.assert_allclose(fit.coef[1:], ols.params, rtol=1e-10)
    np.testing.assert_allclose(fit.stats.stderr[1:], ols.bse, rtol=1e-9)
    assert fit.stats.stderr[0] == 0.0
    assert fit.stats.dof == ols.df_resid


def test_only_some_terms() -> None:
    fit = gradpoly.lstsq(X, Y, 3, fixed={1: 0.0, 3: 0.0}, full=True)
    ols = sm.OLS(Y, np.column_stack([np.ones_like(X), X**2])).fit()
    np.testing.assert_allclose(fit.coef[[0, 2]], ols.params, rtol=1e-10)
    np.testing.assert_allclose(fit.stats.stderr[[0, 2]], ols.bse, rtol=1e-9)
    assert (fit.coef[[1, 3]] == 0).all()


def test_a_point_and_a_slope_are_met_and_counted() -> None:
    x0, y0, x1, s1 = 1.0, 2.5, 4.0, 3.0
    fit = gradpoly.lstsq(X, Y, 3, through=[(x0, y0)], slope=[(x1, s1)], full=True)
    assert float(fit.predict(x0)) == pytest.approx(y0, rel=1e-12)
    derivative = np.polynomial.polynomial.polyder(fit.coef)
    assert np.polynomial.polynomial.polyval(x1, derivative) == pytest.approx(s1, rel=1e-10)
    assert fit.stats.dof == X.size - 4 + 2
    # statsmodels on the reduced design: y - y0 = b1 (x - x0) + b2 (x^2 - x0^2) + b3 (x^3 - x0^3)
    # with b1 + 2 b2 x1 + 3 b3 x1^2 = s1, i.e. b1 eliminated
    design = np.column_stack(
        [X**2 - x0**2 - 2 * x1 * (X - x0), X**3 - x0**3 - 3 * x1**2 * (X - x0)]
    )
    ols = sm.OLS(Y - y0 - s1 * (X - x0), design).fit()
    np.testing.assert_allclose(fit.coef[2:], ols.params, rtol=1e-9)
    np.testing.assert_allclose(fit.stats.stderr[2:], ols.bse, rtol=1e-8)


def test_one_curve_many_curves_and_saved_results_agree() -> None:
    rng = np.random.default_rng(1)
    ys = 1.0 + X * rng.uniform(0.5, 2.0, (5, 1)) + 0.1 * rng.standard_normal((5, 40))
    options = {"fixed": {0: 1.0}, "slope": [(2.0, 1.5)]}
    many = gradpoly.lstsq_many(X, ys, 3, **options)
    own_x = gradpoly.lstsq_many(np.tile(X, (5, 1)) + 0.0, ys, 3, engine="numpy", **options)
    loaded = gradpoly.ManyResult.from_json(many.to_json())
    for b in range(5):
        one = gradpoly.lstsq(X, ys[b], 3, full=True, **options)
        for result in (many, own_x, loaded):
            np.testing.assert_allclose(result.coef[b], one.coef, rtol=1e-9, atol=1e-12)
            stderr = np.asarray(result.stats.stderr)[b]
            np.testing.assert_allclose(stderr, one.stats.stderr, rtol=1e-8, atol=1e-14)
    assert (np.asarray(many.stats.stderr)[:, 0] == 0).all()


@settings(max_examples=30, deadline=None)
@given(
    x0=st.floats(0.5, 5.0),
    y0=st.floats(-5.0, 5.0),
    degree=st.integers(1, 5),
)
def test_a_point_is_met_exactly(x0: float, y0: float, degree: int) -> None:
    fit = gradpoly.lstsq(X, Y, degree, through=[(x0, y0)], full=True)
    assert float(fit.predict(x0)) == pytest.approx(y0, rel=1e-9, abs=1e-9)


def test_bad_constraints_are_named() -> None:
    with pytest.raises(InvalidOptionError, match="above the degree"):
        gradpoly.lstsq(X, Y, 2, fixed={3: 0.0})
    with pytest.raises(InvalidOptionError, match="fixed must map powers"):
        gradpoly.lstsq(X, Y, 2, fixed=[0.0])
    with pytest.raises(InvalidOptionError, match="at most 3"):
        gradpoly.lstsq(X, Y, 2, through=[(1, 1), (2, 2), (3, 3), (4, 4)])
    with pytest.raises(InvalidOptionError, match="not independent"):
        gradpoly.lstsq(X, Y, 2, through=[(1.0, 1.0), (1.0, 2.0)])
    with pytest.raises(InvalidOptionError, match="through"):
        gradpoly.lstsq(X, Y, 2, through=[(1.0, float("nan"))])
    with pytest.raises(InvalidOptionError, match="pairs"):
        gradpoly.lstsq(X, Y, 2, slope=[(1.0, 2.0, 3.0)])
    many = gradpoly.lstsq_many(X, np.stack([Y, Y]), 2, through=[(1.0, 1.0), (1.0, 2.0)])
    assert not many.valid.any()
    assert "not independent" in many.problems[0]


def _engine(name: str) -> Any:
    import importlib.util

    if name != "numpy" and importlib.util.find_spec(name) is None:
        return pytest.param(name, marks=pytest.mark.skip(reason=f"{name} is not installed"))
    return name


GD_ENGINES = [_engine(name) for name in ("numpy", "numba", "torch", "jax")]
GD_CASES = [{"fixed": {0: 0.0}}, {"fixed": {1: 2.0, 2: 0.3}}, {"through": [(2.0, 5.0)]},
            {"slope": [(1.0, 2.5)]}, {"through": [(1.0, 2.4)], "slope": [(4.0, 4.3)]}]  # fmt: skip


@pytest.mark.parametrize("engine", GD_ENGINES)
@pytest.mark.parametrize("case", GD_CASES, ids=str)
def test_gradient_descent_meets_the_constraints_as_the_closed_form(
    engine: str, case: dict[str, Any]
) -> None:
    """fit() on the constraints' free coefficients converges to lstsq's constrained optimum,
    with the same statistics, on every engine; the constraints hold exactly (not to tol)."""
    fit = gradpoly.fit(X, Y, 3, engine=engine, **case)
    closed = gradpoly.lstsq(X, Y, 3, full=True, **case)
    assert fit.converged
    np.testing.assert_allclose(fit.coef, closed.coef, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(fit.stats.stderr, closed.stats.stderr, rtol=1e-7, atol=1e-12)
    assert fit.stats.dof == closed.stats.dof
    for power, value in case.get("fixed", {}).items():
        assert fit.coef[power] == value
    for x0, y0 in case.get("through", []):
        assert fit.predict(np.array([x0]))[0] == pytest.approx(y0, rel=1e-12)


def test_gradient_descent_refuses_what_it_cannot_constrain() -> None:
    with pytest.raises(InvalidOptionError, match="mapped basis"):
        gradpoly.fit(X, Y, 2, basis="monomial", fixed={0: 0.0})
    with pytest.raises(InvalidOptionError, match="fix every coefficient"):
        gradpoly.fit(X, Y, 1, fixed={0: 0.0, 1: 1.0})
    with pytest.raises(InvalidOptionError, match="constraints"):
        gradpoly.fit(X, Y, 2, through=[(1.0, 1.0), (1.0, 2.0)])


@pytest.mark.parametrize("engine", GD_ENGINES)
@pytest.mark.parametrize("case", GD_CASES, ids=str)
def test_batched_descent_meets_the_constraints_as_the_closed_form(
    engine: str, case: dict[str, Any]
) -> None:
    """fit_many on the free coefficients, per series and on a shared axis with a gap,
    converges to lstsq_many's constrained optima with their statistics."""
    rng = np.random.default_rng(3)
    ys = 2.0 * X + 0.3 * X**2 + 0.2 * rng.standard_normal((5, X.size))
    ys[2, 4:9] = np.nan
    closed = gradpoly.lstsq_many(X, ys, 3, drop_nan=True, **case)
    for xs in (X, np.broadcast_to(X, ys.shape)):
        fit = gradpoly.fit_many(xs, ys, 3, engine=engine, drop_nan=True, **case)
        assert fit.converged.all()
        np.testing.assert_allclose(fit.coef, closed.coef, rtol=1e-8, atol=1e-9)
        np.testing.assert_allclose(np.asarray(fit.stats.stderr), np.asarray(closed.stats.stderr),
                                   rtol=1e-7, atol=1e-12)  # fmt: skip
        np.testing.assert_array_equal(fit.stats.dof, closed.stats.dof)
        for power, value in case.get("fixed", {}).items():
            assert (fit.coef[:, power] == value).all()


def test_batched_descent_refuses_what_it_cannot_constrain() -> None:
    ys = np.vstack([Y, Y])
    with pytest.raises(InvalidOptionError, match="MSE and a mapped basis"):
        gradpoly.fit_many(X, ys, 2, basis="monomial", fixed={0: 0.0})
    with pytest.raises(InvalidOptionError, match="MSE and a mapped basis"):
        gradpoly.fit_many(X, ys, 2, loss="huber", fixed={0: 0.0}, engine="auto")
    with pytest.raises(InvalidOptionError, match="fix every coefficient"):
        gradpoly.fit_many(X, ys, 1, fixed={0: 0.0, 1: 1.0})


def test_a_constrained_descent_survives_a_round_trip() -> None:
    fit = gradpoly.fit(X, Y, 3, through=[(2.0, 5.0)])
    loaded = gradpoly.FitResult.from_json(fit.to_json())
    np.testing.assert_allclose(loaded.stats.stderr, fit.stats.stderr, rtol=1e-14)
    assert loaded.stats.dof == fit.stats.dof


def test_a_fixed_coefficient_is_not_tested() -> None:
    """A coefficient the fit fixed is shown as its value, with standard error 0 and no t or p
    value (statsmodels' fit of the reduced design has no such term), on every door."""
    ys = np.vstack([Y, 2.0 * Y])
    for stats in (gradpoly.lstsq(X, Y, 2, fixed={0: 0.0}, full=True).stats,
                  gradpoly.fit(X, Y, 2, fixed={0: 0.0}).stats,
                  gradpoly.lstsq_many(X, ys, 2, fixed={0: 0.0}).stats,
                  gradpoly.fit_many(X, ys, 2, fixed={0: 0.0}).stats):  # fmt: skip
        t, p = np.atleast_2d(stats.t_values), np.atleast_2d(stats.p_values)
        assert np.isnan(t[:, 0]).all()
        assert np.isnan(p[:, 0]).all()
        assert np.isfinite(t[:, 1:]).all()
        assert (np.atleast_2d(stats.coef_array)[:, 0] == 0.0).all()


def test_the_cli_fits_by_descent_through_a_point(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from gradpoly.cli import app

    data = tmp_path / "d.csv"
    np.savetxt(data, np.column_stack([X, Y]), delimiter=",", header="x,y", comments="")
    out = tmp_path / "fit.json"
    run = CliRunner().invoke(app, ["fit", str(data), "--degree", "2", "--through", "2,5",
                                   "--json", str(out)])  # fmt: skip
    assert run.exit_code == 0, run.output
    saved = gradpoly.FitResult.load(out)
    np.testing.assert_allclose(saved.coef, gradpoly.lstsq(X, Y, 2, through=[(2.0, 5.0)]),
                               rtol=1e-8)  # fmt: skip
    bad = CliRunner().invoke(app, ["fit", str(data), "--fixed", "0"])
    assert bad.exit_code != 0
    assert "--fixed takes POWER=VALUE" in bad.output
