"""The engine contract: one rule per check, each run against every registered configuration.

A new engine that registers itself gets all of these through ``test_contract.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import pytest

from gradpoly import (
    DivergenceError,
    FitConfig,
    FitProblem,
    InvalidOptionError,
    fit_problem,
    lstsq,
    reference_gd,
)
from gradpoly.engines import get_engine
from gradpoly.options import DType, Strategy
from gradpoly.seed import seed_data
from gradpoly.testing import tolerance


def skip_unless_available(config: FitConfig) -> None:
    """Skip with the registry's reason when ``config`` cannot run on this machine."""
    available = get_engine(config.engine).availability(config)
    if not available.ok:
        pytest.skip(available.reason)


@cache
def small_problem() -> FitProblem:
    """Thirty noisy points on [-1, 2], degree 3: quick, and not trivially conditioned."""
    rng = np.random.default_rng(7)
    x = np.linspace(-1.0, 2.0, 30)
    y = np.cos(2 * x) + 0.05 * rng.standard_normal(x.size)
    return FitProblem.from_data(x, y, 3)


@cache
def well_conditioned_problem() -> FitProblem:
    """Thirty Chebyshev nodes on [-1, 1], degree 3 (condition number 65: 3,000 steps at
    lr = 1/L shrink the error by 1e-20). The shape of :func:`small_problem`, so compiled
    engines reuse the packages built for it (one shape per concern: no cold compile more)."""
    x = np.cos(np.pi * (np.arange(30) + 0.5) / 30)
    return FitProblem.from_data(x, np.exp(x), 3)


def worker_group(config: FitConfig) -> pytest.MarkDecorator:
    """The pytest-xdist group (``--dist loadgroup``) of every test that runs ``config``
    compiled: one worker builds its packages and jit caches once and reuses them in memory."""
    return pytest.mark.xdist_group(str(config))


def mapped_problem() -> FitProblem:
    """:func:`small_problem`'s points in the Chebyshev basis (condition number 4.4, the seed
    problem's is 5.4): the lr="auto" and tol checks' problem. Its design has the small
    problem's shape, so compiled engines reuse that package (the seed's shape would cost
    each compiled configuration one more cold compile; the seed data keep their own check,
    :func:`check_seed_problem_final_mse`)."""
    small = small_problem()
    return FitProblem.from_data(small.x, small.y, small.degree, basis="chebyshev")


@cache
def seed_reference() -> tuple[np.ndarray, np.ndarray]:
    """The float64 GD trajectory of the seed problem (200,000 steps, lr 1e-5)."""
    x, y = seed_data()
    return reference_gd(FitProblem.from_data(x, y, 4), 200_000, 1e-5)


def _run(config: FitConfig, problem: FitProblem, steps: int, lr: float):
    from dataclasses import replace

    return fit_problem(problem, replace(config, steps=steps, lr=lr))


def check_matches_float64_reference(config: FitConfig) -> None:
    problem = small_problem()
    lr = 0.5 * problem.lr_max
    result = _run(config, problem, 300, lr)
    ref_w, ref_trace = reference_gd(problem, 300, lr)
    tol = tolerance(config.dtype)
    assert tol.trace_close(result.trace, ref_trace)
    assert tol.coef_close(result.coef, ref_w)


def check_trace_length_is_steps(config: FitConfig) -> None:
    for steps in (1, 7, 1234):
        assert _run(config, small_problem(), steps, 1e-3).trace.shape == (steps,)


def check_first_trace_entry_is_mse_at_zero(config: FitConfig) -> None:
    problem = small_problem()
    result = _run(config, problem, 5, 1e-3)
    expected = problem.mse(np.zeros(problem.n_coef))
    assert result.trace[0] == pytest.approx(expected, rel=tolerance(config.dtype).rtol)


def check_inputs_not_mutated(config: FitConfig) -> None:
    problem = small_problem()
    x, y = problem.x.copy(), problem.y.copy()
    _run(config, problem, 50, 1e-3)
    np.testing.assert_array_equal(problem.x, x)
    np.testing.assert_array_equal(problem.y, y)


def check_result_says_what_ran(config: FitConfig) -> None:
    result = _run(config, small_problem(), 10, 1e-3)
    assert result.config.engine == config.engine
    assert (result.config.gradient, result.config.device, result.config.dtype) == (
        config.gradient,
        config.device,
        config.dtype,
    )
    assert result.config.steps == 10
    assert result.environment["engine_version"]
    assert result.seconds > 0
    assert result.status == "completed"


def check_deterministic(config: FitConfig) -> None:
    first = _run(config, small_problem(), 200, 1e-2)
    second = _run(config, small_problem(), 200, 1e-2)
    np.testing.assert_array_equal(first.trace, second.trace)
    np.testing.assert_array_equal(first.coef, second.coef)


def check_divergence_raises_with_stable_rate(config: FitConfig) -> None:
    problem = small_problem()
    with pytest.raises(DivergenceError) as info:
        _run(config, problem, 5000, 3 * problem.lr_max)
    assert info.value.lr_max == pytest.approx(problem.lr_max)
    assert "largest stable lr" in str(info.value)


def check_converges_to_lstsq(config: FitConfig) -> None:
    problem = well_conditioned_problem()
    result = _run(config, problem, 3000, 1.0 / problem.lambda_max)
    best = lstsq(problem.x, problem.y, problem.degree)
    assert tolerance(config.dtype).coef_close(result.coef, best)


def check_seed_problem_final_mse(config: FitConfig) -> None:
    """The seed's 200,000 steps follow the float64 trajectory within the dtype's tolerance.

    The notebook's float32 per-sample loop ends at 0.00791 (4 s.f.); the exact (float64)
    trajectory ends at 0.007903; float32 gram and spectral loops round differently and end
    between 0.007902 and 0.007916.
    """
    x, y = seed_data()
    ref_w, ref_trace = seed_reference()
    result = _run(config, FitProblem.from_data(x, y, 4), 200_000, 1e-5)
    if config.dtype is DType.FLOAT32 and config.strategy is Strategy.PER_SAMPLE:
        assert f"{result.final_mse:.4g}" == "0.00791"
    tol = tolerance(config.dtype)
    assert tol.trace_close(result.trace, ref_trace)
    assert tol.coef_close(result.coef, ref_w)


def check_every_basis_follows_its_reference(config: FitConfig) -> None:
    """Chebyshev and Legendre features: same loop, reference in the same basis."""
    base = small_problem()
    for basis in ("chebyshev", "legendre"):
        problem = FitProblem.from_data(base.x, base.y, base.degree, basis=basis)
        lr = 0.5 * problem.lr_max
        result = _run(config, problem, 300, lr)
        ref_w, ref_trace = reference_gd(problem, 300, lr)
        tol = tolerance(config.dtype)
        assert tol.trace_close(result.trace, ref_trace)
        assert tol.coef_close(result.basis_coef, ref_w)
        np.testing.assert_allclose(result.coef, problem.to_monomial(result.basis_coef))


def check_auto_lr_converges_in_a_mapped_basis(config: FitConfig) -> None:
    """lr="auto" in the Chebyshev basis reaches the least-squares optimum."""
    problem = mapped_problem()
    from dataclasses import replace

    result = fit_problem(problem, replace(config, steps=300, lr="auto"))
    assert result.lr == pytest.approx(problem.auto_lr())
    assert result.config.lr == "auto"
    best = lstsq(problem.x, problem.y, problem.degree)
    assert tolerance(config.dtype).coef_close(result.coef, best)


def check_every_optimizer_follows_its_reference(config: FitConfig) -> None:
    """Momentum and Nesterov, where the engine has them, against the float64 reference."""
    from dataclasses import replace

    problem = small_problem()
    engine = get_engine(config.engine)
    lr = 0.3 * problem.lr_max
    for optimizer in ("momentum", "nesterov"):
        variant = replace(config, steps=300, lr=lr, optimizer=optimizer, momentum=0.5)
        if engine.unsupported(variant):
            continue
        result = fit_problem(problem, variant)
        ref_w, ref_trace = reference_gd(problem, 300, lr, optimizer, 0.5)
        tol = tolerance(config.dtype)
        assert tol.trace_close(result.trace, ref_trace), optimizer
        assert tol.coef_close(result.coef, ref_w), optimizer
        assert result.momentum == 0.5


def check_tol_stops_once_converged(config: FitConfig) -> None:
    """With tol, the loop stops at a chunk end where the estimated coefficient error
    |grad| / (lambda_min |w|) is at most tol, and says so."""
    from dataclasses import replace

    problem = mapped_problem()
    tol = 1e-4 if config.dtype is DType.FLOAT32 else 1e-10
    result = fit_problem(problem, replace(config, steps=100_000, lr="auto", tol=tol))
    assert result.converged
    assert result.steps_run < 100_000
    assert result.trace.shape == (result.steps_run,)
    assert result.coef_error <= tol
    assert "estimated coefficient error" in result.stop_reason
    exact = problem.to_monomial(np.linalg.solve(problem.gram.g[0], problem.gram.c[0]))
    assert np.max(np.abs(result.coef - exact)) <= 10 * tol * np.max(np.abs(exact))


def check_losses_follow_their_reference(config: FitConfig) -> None:
    """Huber and L1 (autograd engines, per-sample) against the float64 analytic reference."""
    from dataclasses import replace

    problem = small_problem()
    engine = get_engine(config.engine)
    lr = 0.3 * problem.lr_max
    for loss in ("huber", "l1"):
        variant = replace(config, steps=300, lr=lr, loss=loss, huber_delta=0.2)
        if engine.unsupported(variant):
            with pytest.raises(InvalidOptionError, match=loss):
                fit_problem(problem, variant)
            continue
        result = fit_problem(problem, variant)
        ref_w, ref_trace = reference_gd(problem, 300, lr, loss=loss, huber_delta=0.2)
        tol = tolerance(config.dtype)
        assert tol.trace_close(result.trace, ref_trace), loss
        assert tol.coef_close(result.coef, ref_w), loss


CONTRACT_CHECKS: list[Callable[[FitConfig], None]] = [
    check_matches_float64_reference,
    check_trace_length_is_steps,
    check_first_trace_entry_is_mse_at_zero,
    check_inputs_not_mutated,
    check_result_says_what_ran,
    check_deterministic,
    check_divergence_raises_with_stable_rate,
    check_converges_to_lstsq,
    check_seed_problem_final_mse,
    check_every_basis_follows_its_reference,
    check_auto_lr_converges_in_a_mapped_basis,
    check_every_optimizer_follows_its_reference,
    check_tol_stops_once_converged,
    check_losses_follow_their_reference,
]


def notebook_fit(x: object, y: object, *degree: object, **options: object) -> object:
    """``gradpoly.fit`` on the notebook's settings (:data:`gradpoly.NOTEBOOK`) unless options
    name others: the engine tests are about the loops the notebook retells, written before
    the front door's defaults became the best path."""
    import gradpoly

    return gradpoly.fit(x, y, *degree, **(gradpoly.NOTEBOOK.options() | options))
