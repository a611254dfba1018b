"""numpy-engine specifics beyond the contract: dtype of the loop, weights, progress."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradpoly import FitProblem, Strategy, fit_problem, reference_gd
from gradpoly.options import make_config
from tests.engines.checks import notebook_fit as fit


def test_float32_loop_really_runs_in_float32() -> None:
    x = np.linspace(0, 1, 10)
    y = np.full(10, 1.0 + 1e-9)  # below float32 resolution: rounds to 1.0
    f32 = fit(x, y, degree=0, steps=1, lr=0.1, dtype="float32")
    f64 = fit(x, y, degree=0, steps=1, lr=0.1, dtype="float64")
    assert f32.trace[0] == np.float32(1.0) ** 2
    assert f64.trace[0] != f32.trace[0]


def test_weights_match_the_weighted_reference() -> None:
    x = np.linspace(-1, 1, 25)
    y = np.cos(3 * x)
    w = np.linspace(0.0, 2.0, 25)
    problem = FitProblem.from_data(x, y, 3, w)
    result = fit(x, y, degree=3, steps=400, lr=0.5 * problem.lr_max, weights=w, dtype="float64")
    ref_w, ref_trace = reference_gd(problem, 400, 0.5 * problem.lr_max)
    np.testing.assert_allclose(result.trace, ref_trace, rtol=1e-12)
    np.testing.assert_allclose(result.coef, ref_w, rtol=1e-10)


def test_progress_reports_every_chunk_up_to_steps() -> None:
    seen: list[int] = []
    fit(np.linspace(0, 1, 5), np.ones(5), degree=1, steps=2500, lr=0.1, progress=seen.append)
    assert seen == [1000, 2000, 2500]


@st.composite
def problems(draw) -> FitProblem:
    n = draw(st.integers(6, 30))
    x = np.linspace(draw(st.floats(-2, 0)), draw(st.floats(0.5, 2)), n)
    y = draw(arrays(np.float64, n, elements=st.floats(-5, 5)))
    return FitProblem.from_data(x, y, draw(st.integers(0, 3)))


@given(problems(), st.floats(0.05, 1.5), st.sampled_from(["gram", "spectral"]))
def test_every_strategy_follows_the_per_sample_trajectory(problem, fraction, strategy) -> None:
    lr = fraction * problem.lr_max / 2
    config = make_config(steps=200, lr=lr, dtype="float64")
    base = fit_problem(problem, config)
    other = fit_problem(problem, replace(config, strategy=Strategy.parse(strategy)))
    scale = base.trace[0] + 1e-12
    np.testing.assert_allclose(other.trace, base.trace, rtol=1e-7, atol=1e-9 * scale)
    np.testing.assert_allclose(
        other.coef, base.coef, rtol=1e-6, atol=1e-8 * (1 + np.abs(base.coef).max())
    )
