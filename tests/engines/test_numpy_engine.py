"""numpy-engine specifics beyond the contract: dtype of the loop, weights, progress."""

from __future__ import annotations

import numpy as np

from gradpoly import FitProblem, fit, reference_gd


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
