"""Accuracy where the problem is hard, against exact rational arithmetic (gradpoly.exact), and
numpy's own polynomial-fitting tests ported to every path."""

from __future__ import annotations

import numpy as np
import pytest

from gradpoly import fit, fit_many, lstsq, lstsq_many
from gradpoly.batched import backend_names, get_backend
from gradpoly.exact import exact_lstsq, hard_set, relative_error
from gradpoly.options import Device, Optimizer
from gradpoly.problem import FitProblem

HARD = hard_set()
CLOSED_FORM_ACCURACY = 1e-8
"""Worst relative coefficient error of the closed forms on the seeded hard set (measured:
lstsq 2.2e-10, lstsq_many 5.4e-10, np.polyfit 1.0 on the shifted problems)."""


def backends() -> list[str]:
    return [n for n in backend_names() if get_backend(n).availability(Device.CPU).ok]


def test_the_exact_reference_is_exact_on_an_interpolating_cubic() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0])
    coef = exact_lstsq(x, 1 - 2 * x + 0.5 * x**3, 3)
    np.testing.assert_array_equal(coef, [1.0, -2.0, 0.0, 0.5])


@pytest.mark.parametrize(("kind", "x", "y", "degree"), HARD, ids=[p[0] for p in HARD])
def test_closed_forms_are_accurate_on_hard_data(kind, x, y, degree) -> None:
    exact = exact_lstsq(x, y, degree)
    assert relative_error(lstsq(x, y, degree), exact) <= CLOSED_FORM_ACCURACY
    for engine in backends():
        result = lstsq_many([x], [y], degree, engine=engine)
        assert result.valid[0], (engine, result.problems)
        assert relative_error(result.coef[0], exact) <= CLOSED_FORM_ACCURACY, engine


@pytest.mark.parametrize(("kind", "x", "y", "degree"), HARD, ids=[p[0] for p in HARD])
@pytest.mark.parametrize("optimizer", ["gd", "momentum", "nesterov"])
def test_converged_means_accurate_in_fit_and_fit_many(kind, x, y, degree, optimizer) -> None:
    """tol bounds the relative error of the coefficients in the fit's basis (what the descent
    runs in; converting to monomials can amplify it, as it does for any solver)."""
    tol = 1e-8
    one = fit(x, y, degree, steps=20_000, lr="auto", basis="chebyshev", optimizer=optimizer,
              tol=tol, dtype="float64")  # fmt: skip
    many = fit_many([x], [y], degree, steps=20_000, tol=tol, optimizer=optimizer)
    exact = exact_lstsq(x, y, degree, basis="chebyshev", domain=one.domain)
    assert one.converged == bool(many.converged[0]) or abs(one.steps_run - 20_000) <= 50
    for converged, coef, error in (
        (one.converged, one.basis_coef, one.coef_error),
        (bool(many.converged[0]), many.basis_coef[0], many.coef_error[0]),
    ):
        assert np.isfinite(coef).all()
        if converged:
            assert error <= tol
            assert relative_error(coef, exact) <= 10 * tol


def test_momentum_does_not_diverge_falsely_where_it_overshoots() -> None:
    _, x, y, degree = HARD[0]
    result = fit(x, y, degree, steps=3000, lr="auto", basis="chebyshev", optimizer="momentum",
                 dtype="float64")  # fmt: skip
    assert np.isfinite(result.coef).all()


def test_an_unstable_fixed_lr_is_refused_before_any_step() -> None:
    from gradpoly import DivergenceError

    x = np.linspace(0, 1, 30)
    problem = FitProblem.from_data(x, np.sin(x), 3, basis="chebyshev")
    with pytest.raises(DivergenceError) as caught:
        fit(x, np.sin(x), 3, steps=10, lr=1.01 * problem.lr_max, basis="chebyshev")
    assert caught.value.step == 0


def test_heavy_ball_on_a_singular_gram_matrix_stays_bounded() -> None:
    sklearn = pytest.importorskip("sklearn")
    del sklearn
    from gradpoly.sklearn import PolynomialRegressor

    rng = np.random.default_rng(3)
    X = np.column_stack([rng.uniform(0, 1, 200), rng.integers(0, 2, 200)])  # 2 values, degree 3
    y = np.sin(3 * X[:, 0]) + X[:, 1] + 0.01 * rng.standard_normal(200)
    reference = PolynomialRegressor(degree=3, solver="lstsq").fit(X, y).score(X, y)
    for optimizer in ("gd", "momentum", "nesterov"):
        model = PolynomialRegressor(degree=3, optimizer=optimizer, steps=20_000, tol=1e-6)
        assert model.fit(X, y).score(X, y) == pytest.approx(reference, abs=1e-3), optimizer


def test_auto_parameters_tolerate_a_rounded_negative_curvature() -> None:
    from gradpoly.rates import auto_parameters

    lr, beta = auto_parameters(np.array([-1e-16, 0.5, 2.0]), Optimizer.MOMENTUM)
    assert 0 < float(beta) < 1  # the null direction does not make beta 1
    assert float(lr) < 2 * (1 + float(beta)) / 2.0
    np.testing.assert_allclose(float(beta), ((2 - 1) / (2 + 1)) ** 2)  # from 0.5 and 2


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_numba_maps_shifted_narrow_intervals_as_numpy_does(engine) -> None:
    if engine not in backends():
        pytest.skip(f"{engine} is not available here")
    rng = np.random.default_rng(5)
    x = 1e3 + np.sort(rng.random((20, 30)), axis=1)
    y = np.cos(x - 1e3)
    reference = lstsq_many(x, y, 5, engine="numpy").coef
    np.testing.assert_allclose(lstsq_many(x, y, 5, engine=engine).coef, reference, rtol=1e-9)


def test_a_rank_deficient_series_is_flagged_not_returned() -> None:
    x = np.concatenate([np.full(10, -1.0), np.full(10, 1.0) + 1e-9 * np.arange(10)])
    result = lstsq_many([x, np.linspace(-1, 1, 20)], [np.sin(x), np.sin(x)], 6)
    assert not result.valid[0]
    assert result.valid[1]
    assert result.condition[1] < 1e3


# numpy/polynomial/tests: the fits of polyfit, chebfit, legfit and the degenerate domain


def _cubic(x: np.ndarray) -> np.ndarray:
    return x * (x - 1) * (x - 2)


@pytest.mark.parametrize("basis", ["monomial", "chebyshev", "legendre"])
def test_numpy_fit_recovers_a_cubic_on_every_path(basis) -> None:
    x = np.linspace(0, 2, 50)
    y = _cubic(x)
    expected = np.array([0.0, 2.0, -3.0, 1.0])
    np.testing.assert_allclose(lstsq(x, y, 3), expected, atol=1e-12)
    mapped = "chebyshev" if basis == "monomial" else basis
    np.testing.assert_allclose(lstsq_many([x], [y], 3, basis=mapped).coef[0], expected, atol=1e-12)
    result = fit(x, y, 3, steps=50_000, lr="auto", basis=mapped, optimizer="nesterov",
                 tol=1e-10, dtype="float64")  # fmt: skip
    assert result.converged
    np.testing.assert_allclose(result.coef, expected, atol=1e-8)


def test_numpy_weighted_fit_ignores_zero_weight_points() -> None:
    x = np.linspace(0, 2, 50)
    y = _cubic(x)
    w = np.zeros_like(x)
    w[1::2] = 1
    yw = y.copy()
    yw[0::2] = 0  # what zero weights hide must not matter
    np.testing.assert_allclose(lstsq(x, yw, 3, w), lstsq(x, y, 3), atol=1e-12)
    many = lstsq_many([x], [yw], 3, weights=[w]).coef[0]
    np.testing.assert_allclose(many, lstsq(x, y, 3), atol=1e-12)


def test_numpy_degenerate_domain_gives_the_mean() -> None:
    np.testing.assert_allclose(lstsq([1.0], [2.0], 0), [2.0])
    np.testing.assert_allclose(lstsq([1.0, 1.0], [1.0, 3.0], 0), [2.0])
    result = fit([1.0, 1.0], [1.0, 3.0], 0, steps=100, lr="auto", basis="chebyshev", tol=1e-12)
    np.testing.assert_allclose(result.coef, [2.0], rtol=1e-6)
    np.testing.assert_allclose(lstsq_many([[1.0, 1.0]], [[1.0, 3.0]], 0).coef[0], [2.0])


def test_the_estimator_accepts_degree_zero() -> None:
    pytest.importorskip("sklearn")
    from gradpoly.sklearn import PolynomialRegressor

    X = np.random.default_rng(0).random((20, 2))
    y = X[:, 0] + 3
    for solver in ("gd", "lstsq"):
        model = PolynomialRegressor(degree=0, solver=solver).fit(X, y)
        np.testing.assert_allclose(model.predict(X), y.mean())
        assert model.coef_.shape == (2, 0)
