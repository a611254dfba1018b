"""fit(): the options that make fits converge, end to end."""

from __future__ import annotations

import numpy as np
import pytest

from gradpoly import InvalidOptionError, fit, lstsq
from gradpoly.seed import seed_data


@pytest.mark.parametrize(("optimizer", "steps"), [("gd", 100), ("momentum", 30), ("nesterov", 30)])
def test_chebyshev_auto_reaches_the_optimum_within_the_target_steps(optimizer, steps) -> None:
    x, y = seed_data()
    result = fit(
        x,
        y,
        degree=4,
        steps=steps,
        lr="auto",
        basis="chebyshev",
        optimizer=optimizer,
        dtype="float64",
    )
    optimum = 0.000428109802875576
    assert (result.final_mse - optimum) / optimum < 1e-8
    # a relative MSE gap g leaves coefficients about sqrt(g) * scale away from the optimum
    np.testing.assert_allclose(result.coef, lstsq(x, y, 4), rtol=1e-4, atol=1e-4)


def test_degree_10_on_noisy_points_matches_lstsq() -> None:
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(-2, 3, 1000))
    y = np.exp(-x) * np.sin(2 * x) + 0.05 * rng.standard_normal(x.size)
    result = fit(
        x,
        y,
        degree=10,
        steps=3000,
        lr="auto",
        basis="chebyshev",
        optimizer="nesterov",
        dtype="float64",
    )
    best = lstsq(x, y, 10)
    np.testing.assert_allclose(result.coef, best, rtol=1e-6, atol=1e-6 * np.abs(best).max())


def test_spectral_refuses_momentum() -> None:
    with pytest.raises(InvalidOptionError, match="closed form of plain GD"):
        fit([0, 1, 2], [0, 1, 2], degree=1, strategy="spectral", optimizer="momentum")


def test_auto_with_options_no_engine_runs_says_each_engines_reason() -> None:
    with pytest.raises(InvalidOptionError, match=r"no engine here runs these options: .*numpy"):
        fit([0, 1, 2], [0, 1, 2], degree=1, strategy="spectral", optimizer="nesterov")


def test_auto_without_the_device_is_unavailable_as_fit_many_says() -> None:
    """Options some engine takes, but not here (no GPU): the engines are unavailable, not the
    options bad; fit says it with fit_many's error type."""
    from gradpoly import EngineUnavailableError, fit_many
    from gradpoly.engines.torch_engine import cuda_availability

    if cuda_availability().ok:
        pytest.skip("a CUDA device is here")
    x = np.linspace(0, 1, 10)
    with pytest.raises(EngineUnavailableError, match="no engine here runs these options"):
        fit(x, x, degree=1, device="cuda")
    with pytest.raises(EngineUnavailableError):
        fit_many(x, x[None], 1, device="cuda")


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 2])
def test_momentum_out_of_range_is_refused(momentum) -> None:
    with pytest.raises(InvalidOptionError, match=r"momentum must be in \[0, 1\)"):
        fit([0, 1, 2], [0, 1, 2], degree=1, optimizer="momentum", momentum=momentum)


@pytest.mark.parametrize("tol", [0, -1e-3, float("nan")])
def test_tol_must_be_positive(tol) -> None:
    with pytest.raises(InvalidOptionError, match="tol must be a positive number"):
        fit([0, 1, 2], [0, 1, 2], degree=1, tol=tol)


def test_without_tol_every_step_runs_and_the_result_says_so() -> None:
    result = fit([0, 1, 2], [0, 1, 2], degree=1, steps=10, lr=0.1, tol=None)
    assert not result.converged
    assert result.steps_run == 10
    assert result.stop_reason == "ran all 10 steps"


def test_a_long_run_says_its_steps_with_thousands_separated() -> None:
    x = np.linspace(0, 1, 10)
    result = fit(x, x, degree=1, steps=1200, lr=0.1, tol=None)
    assert result.stop_reason == "ran all 1,200 steps"
