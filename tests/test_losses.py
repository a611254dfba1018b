"""Losses other than MSE: definitions, the huge-delta property, and user callables."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradpoly import FitConfig, FitResult, InvalidOptionError, fit, reference_gd
from gradpoly.losses import Loss, penalty, penalty_grad

torch = pytest.importorskip("torch")

residuals = arrays(np.float64, st.integers(1, 30), elements=st.floats(-50, 50))


@given(residuals)
def test_huber_with_a_huge_delta_is_the_mse(r) -> None:
    np.testing.assert_array_equal(penalty(Loss.HUBER, 1e6, np.where)(r), r * r)
    np.testing.assert_array_equal(penalty_grad(Loss.HUBER, 1e6, r), 2 * r)


@given(residuals, st.floats(0.01, 10))
def test_penalty_gradients_match_finite_differences(r, delta) -> None:
    h = 1e-6
    for loss in (Loss.HUBER, Loss.L1):
        rho = penalty(loss, delta, np.where)
        smooth = np.abs(np.abs(r) - delta) > 1e-3 if loss is Loss.HUBER else np.abs(r) > 1e-3
        numeric = (rho(r + h) - rho(r - h)) / (2 * h)
        np.testing.assert_allclose(
            numeric[smooth], penalty_grad(loss, delta, r)[smooth], rtol=1e-5, atol=1e-5
        )


def test_huge_delta_fit_equals_the_mse_fit() -> None:
    x = np.linspace(0, 5, 60)
    kwargs = dict(
        degree=3,
        steps=400,
        lr=0.3,
        basis="chebyshev",
        engine="torch",
        gradient="autograd",
        dtype="float64",
    )
    mse = fit(x, np.sin(x), **kwargs)
    huber = fit(x, np.sin(x), loss="huber", huber_delta=1e6, **kwargs)
    np.testing.assert_allclose(huber.trace, mse.trace, rtol=1e-12)


def test_robust_losses_resist_outliers() -> None:
    rng = np.random.default_rng(5)
    x = np.linspace(0, 5, 100)
    clean = np.sin(x)
    y = clean + 0.01 * rng.standard_normal(x.size)
    y[::10] += 3.0
    kwargs = dict(
        degree=4,
        steps=3000,
        lr=0.3,
        basis="chebyshev",
        engine="torch",
        gradient="autograd",
        dtype="float64",
    )
    errors = {
        loss: np.max(np.abs(fit(x, y, loss=loss, huber_delta=0.1, **kwargs).predict(x) - clean))
        for loss in ("mse", "huber")
    }
    assert errors["huber"] < errors["mse"] / 3


def test_user_loss_in_the_engines_library() -> None:
    x = np.linspace(-1, 1, 30)
    result = fit(
        x,
        x**2,
        degree=2,
        steps=500,
        lr=0.1,
        engine="torch",
        gradient="autograd",
        loss=lambda r: (r * r).sum() / r.shape[0],
        dtype="float64",
        basis="monomial",
        optimizer="gd",
        tol=None,
    )
    reference, _ = reference_gd(result_problem(x), 500, 0.1)
    np.testing.assert_allclose(result.coef, reference, rtol=1e-10, atol=1e-12)
    assert result.config.to_dict()["loss"] == "callable:<lambda>"
    again = FitResult.from_json(result.to_json())
    assert callable(again.config.loss)


def result_problem(x):
    from gradpoly import FitProblem

    return FitProblem.from_data(x, x**2, 2)


@pytest.mark.parametrize(
    ("loss", "match"),
    [
        (lambda r: r * r, r"must return a scalar, but returned an array of shape \(30,\)"),
        (lambda r: (r * np.nan).sum(), "returned nan at w = 0"),
        ("cauchy", "unknown loss 'cauchy'"),
    ],
)
def test_bad_losses_are_refused(loss, match) -> None:
    x = np.linspace(-1, 1, 30)
    with pytest.raises(InvalidOptionError, match=match):
        fit(x, x, degree=1, steps=5, engine="torch", gradient="autograd", loss=loss)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"engine": "numpy"}, "needs autograd, which engine numpy lacks"),
        ({"engine": "numba"}, "needs autograd, which engine numba lacks"),
        ({"engine": "torch", "gradient": "autograd", "strategy": "gram"}, "computes only the MSE"),
    ],
)
def test_losses_need_autograd_and_per_sample(kwargs, match) -> None:
    with pytest.raises(InvalidOptionError, match=match):
        fit([0, 1, 2], [0, 1, 2], degree=1, steps=5, loss="huber", **kwargs)


@pytest.mark.parametrize("loss", ["huber", "l1", lambda r: (r * r).mean()])
def test_a_loss_but_mse_is_differentiated_by_autograd_as_fit_many_does(loss) -> None:
    """No engine has a hand-written gradient for it: fit, like fit_many, takes autograd
    whatever ``gradient`` says (it refused with the default "manual"), the same run as asking."""
    x = np.linspace(0, 3, 40)
    y = np.sin(x) + np.where(np.arange(40) % 9 == 0, 2.0, 0.0)
    asked = fit(x, y, 2, steps=200, loss=loss, engine="torch", gradient="autograd")
    for gradient in ("manual", None):
        options = {} if gradient is None else {"gradient": gradient}
        result = fit(x, y, 2, steps=200, loss=loss, **options)
        assert result.config.gradient == "autograd"
        assert result.config.engine == "torch"
        np.testing.assert_array_equal(result.coef, asked.coef)
        np.testing.assert_array_equal(result.trace, asked.trace)


def test_an_explicit_config_without_autograd_for_a_loss_is_refused() -> None:
    """A config built by hand keeps its gradient: the engine names what it lacks."""
    from gradpoly.engines import get_engine

    config = FitConfig(engine="torch", gradient="manual", loss="huber")
    with pytest.raises(InvalidOptionError, match="has no hand-written gradient"):
        get_engine("torch").check(config)


def test_huber_delta_must_be_positive() -> None:
    with pytest.raises(InvalidOptionError, match="huber_delta must be positive"):
        FitConfig(loss="huber", huber_delta=0)
