"""PolynomialRegressor: scikit-learn's own estimator checks, and the same numbers as fit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from gradpoly import fit, lstsq
from gradpoly.batched import get_backend
from gradpoly.errors import InvalidDataError, InvalidOptionError
from gradpoly.options import Device
from gradpoly.sklearn import PolynomialRegressor


def _estimators() -> list[PolynomialRegressor]:
    chosen = [
        PolynomialRegressor(),
        PolynomialRegressor(solver="gd"),
        PolynomialRegressor(solver="lstsq", basis="legendre"),
        PolynomialRegressor(degree=2, fit_intercept=False),
        PolynomialRegressor(degree=2, optimizer="momentum", engine="numba"),
        PolynomialRegressor(engine="torch", optimizer="nesterov", gradient="autograd"),
        PolynomialRegressor(engine="jax", optimizer="nesterov"),
    ]
    return [
        e for e in chosen if e.engine == "auto" or get_backend(e.engine).availability(Device.CPU).ok
    ]


@parametrize_with_checks(_estimators())
def test_scikit_learn_estimator_checks(estimator, check) -> None:
    check(estimator)


def test_one_feature_is_gradpoly_fit_step_for_step() -> None:
    x = np.linspace(0, 5, 100)
    y = np.sin(x)
    model = PolynomialRegressor(degree=4, steps=300, tol=None).fit(x[:, None], y)
    one = fit(x, y, 4, steps=300, lr="auto", basis="chebyshev", strategy="gram", dtype="float64")
    np.testing.assert_allclose(np.r_[model.intercept_, model.coef_[0]], one.coef, rtol=1e-9)
    np.testing.assert_allclose(model.predict(x[:, None]), one.predict(x), rtol=1e-9, atol=1e-12)
    assert model.n_iter_ == 300


def test_converges_to_least_squares_with_weights() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 3, 80)
    y = np.exp(-x) + 0.05 * rng.standard_normal(80)
    w = rng.uniform(0.1, 3, 80)
    model = PolynomialRegressor(degree=3, optimizer="nesterov").fit(x[:, None], y, sample_weight=w)
    assert model.converged_
    expected = lstsq(x, y, 3, weights=w)
    np.testing.assert_allclose(np.r_[model.intercept_, model.coef_[0]], expected, rtol=1e-7)


def test_several_features_make_an_additive_model() -> None:
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 2, (300, 2))
    y = 1.0 + X[:, 0] ** 3 - 2 * X[:, 1] ** 2
    model = PolynomialRegressor(degree=3, optimizer="nesterov", tol=1e-12).fit(X, y)
    assert model.score(X, y) > 1 - 1e-10
    np.testing.assert_allclose(model.intercept_, 1.0, atol=1e-6)
    np.testing.assert_allclose(model.coef_, [[0, 0, 1], [0, -2, 0]], atol=1e-6)
    monomial = model.intercept_ + sum(
        (X[:, [f]] ** np.arange(1, 4)) @ model.coef_[f] for f in range(2)
    )
    np.testing.assert_allclose(monomial, model.predict(X), atol=1e-9)


def test_pipeline_and_grid_search_pick_the_degree() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 4, (200, 1))
    y = x[:, 0] ** 3 - 4 * x[:, 0] + 0.01 * rng.standard_normal(200)
    pipe = make_pipeline(FunctionTransformer(lambda a: a - 2.0), PolynomialRegressor())
    search = GridSearchCV(pipe, {"polynomialregressor__degree": [1, 2, 3]}, cv=3)
    search.fit(x, y)
    assert search.best_params_ == {"polynomialregressor__degree": 3}
    assert search.best_score_ > 0.999


def test_too_few_samples_and_bad_options_are_clear() -> None:
    with pytest.raises(InvalidDataError, match=r"n_samples = 3 .* too few for degree 4"):
        PolynomialRegressor(degree=4).fit(np.arange(3.0)[:, None], np.arange(3.0))
    with pytest.raises(ValueError, match="solver must be one of auto, lstsq, gd"):
        PolynomialRegressor(solver="newton").fit(np.arange(9.0)[:, None], np.arange(9.0))
    with pytest.raises(ValueError, match="gradient autograd needs autograd"):
        PolynomialRegressor(gradient="autograd", engine="numpy").fit(
            np.arange(9.0)[:, None], np.arange(9.0)
        )


def test_auto_runs_autograd_on_an_engine_that_has_it() -> None:
    """engine="auto" tries libraries in one order (options.auto_order) and skips those
    without autograd when it is asked for, as gradpoly.fit does."""
    pytest.importorskip("torch")
    x = np.arange(9.0)
    model = PolynomialRegressor(degree=1, gradient="autograd").fit(x[:, None], 2 * x + 1)
    np.testing.assert_allclose(model.predict(x[:, None]), 2 * x + 1, atol=1e-6)


@pytest.mark.parametrize("solver", ["lstsq", "gd"])
def test_return_std_is_statsmodels_standard_error_of_the_mean(solver: str) -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 5, 60)
    y = 1 + 0.5 * x - 0.2 * x**2 + rng.normal(0, 0.5, 60)
    w = rng.uniform(0.5, 2, 60)
    model = PolynomialRegressor(degree=2, solver=solver).fit(x[:, None], y, sample_weight=w)
    grid = np.linspace(-4, 6, 7)
    mean, std = model.predict(grid[:, None], return_std=True)
    wls = sm.WLS(y, np.vander(x, 3, increasing=True), weights=w).fit()
    expected = wls.get_prediction(np.vander(grid, 3, increasing=True))
    np.testing.assert_allclose(std, expected.se_mean, rtol=1e-8)
    np.testing.assert_allclose(mean, expected.predicted_mean, rtol=1e-8)
    assert model.sigma_ == pytest.approx(np.sqrt(wls.scale), rel=1e-8)
    np.testing.assert_array_equal(model.predict(grid[:, None]), mean)


LONGLEY_CERTIFIED = np.array([  # NIST StRD Longley, certified to 15 digits
    -3482258.63459582, 15.0618722713733, -0.358191792925910e-01, -2.02022980381683,
    -1.03322686717359, -0.511041056535807e-01, 1829.15146461355,
])  # fmt: skip


def test_the_default_fits_longley_and_a_short_descent_says_why() -> None:
    """NIST Longley through the default estimator: it gave no correct digit, silently."""
    from sklearn.exceptions import ConvergenceWarning

    from gradpoly.exact import digits

    longley = pytest.importorskip("statsmodels.datasets.longley").load_pandas()
    X, y = longley.exog.to_numpy(), longley.endog.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = PolynomialRegressor(degree=1).fit(X, y)
    assert model.solver_ == "lstsq"
    assert model.converged_
    assert digits(np.r_[model.intercept_, model.coef_[:, 0]], LONGLEY_CERTIFIED) >= 10.0
    descent = PolynomialRegressor(degree=1, solver="gd", optimizer="gd", steps=10_000)
    with pytest.warns(ConvergenceWarning, match="condition number"):
        descent.fit(X, y)
    assert not descent.converged_
    accelerated = PolynomialRegressor(degree=1, solver="gd").fit(X, y)  # the defaults: nesterov
    assert accelerated.converged_
    assert PolynomialRegressor(optimizer="nesterov").fit(X[:, :1], y).solver_ == "gd"


@pytest.mark.parametrize("solver", ["lstsq", "gd"])
def test_return_std_holds_for_y_near_1e200(solver) -> None:
    """The covariance times the squared scale overflowed: NaN standard errors."""
    x = np.linspace(0, 5, 40)
    y = np.sin(x) + 0.01 * np.cos(7 * x)
    small = PolynomialRegressor(degree=3, solver=solver).fit(x[:, None], y)
    huge = PolynomialRegressor(degree=3, solver=solver).fit(x[:, None], y * 1e200)
    _, std = huge.predict(x[:5, None], return_std=True)
    _, reference = small.predict(x[:5, None], return_std=True)
    assert np.isfinite(std).all()
    np.testing.assert_allclose(std, reference * 1e200, rtol=1e-6)


@pytest.mark.parametrize("solver", ["lstsq", "gd"])
def test_no_intercept_is_ols_without_a_constant(solver: str) -> None:
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(0)
    X = rng.uniform(1.0, 5.0, (60, 2))
    y = 2 * X[:, 0] + 0.5 * X[:, 0] ** 2 - X[:, 1] + 0.1 * rng.standard_normal(60)
    model = PolynomialRegressor(2, fit_intercept=False, solver=solver, tol=1e-12, steps=200_000)
    model.fit(X, y)
    design = np.column_stack([X[:, 0], X[:, 0] ** 2, X[:, 1], X[:, 1] ** 2])
    ols = sm.OLS(y, design).fit()
    assert model.intercept_ == 0.0
    np.testing.assert_allclose(model.coef_.ravel(), ols.params, rtol=1e-7)
    _, std = model.predict(X[:5], return_std=True)
    np.testing.assert_allclose(std, ols.get_prediction(design[:5]).se_mean, rtol=1e-6)
    with pytest.raises(InvalidOptionError, match="fit_intercept"):
        PolynomialRegressor(fit_intercept="no").fit(X, y)


@pytest.mark.parametrize("name", ["Wampler4", "Filip", "Pontius"])
def test_one_feature_gets_lstsqs_monomials_bit_for_bit(name: str) -> None:
    """One curve in closed form: coef_ and intercept_ are lstsq's refined monomials (they used
    to be converted from the basis alone: 8.4 to 8.9 digits on the Wampler sets, now 15)."""
    from gradpoly.exact import certified_sets
    from gradpoly.sklearn import PolynomialRegressor

    s = {c.name: c for c in certified_sets()}[name]
    weights = np.linspace(0.5, 2.0, s.x.size)
    for w in (None, weights):
        model = PolynomialRegressor(degree=s.degree, solver="lstsq").fit(
            s.x[:, None], s.y, sample_weight=w
        )
        expected = lstsq(s.x, s.y, s.degree, weights=w)
        np.testing.assert_array_equal(np.r_[model.intercept_, model.coef_[0]], expected)
