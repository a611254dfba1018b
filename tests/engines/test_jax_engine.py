"""jax-engine specifics: float64 without touching the user's global x64 flag."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engines.checks import notebook_fit as fit

jax = pytest.importorskip("jax", reason="jax is an optional engine")


def test_float64_leaves_the_global_x64_flag_alone() -> None:
    before = jax.config.jax_enable_x64
    x = np.linspace(-1, 1, 20)
    result = fit(
        x, x**2, degree=2, steps=50, lr=0.3, engine="jax", mode="compiled", dtype="float64"
    )
    assert jax.config.jax_enable_x64 == before
    assert result.trace.size == 50


def test_one_compilation_serves_any_step_count() -> None:
    from gradpoly.engines.jax_engine import SCAN_STEPS, compiled_chunk
    from gradpoly.losses import Loss
    from gradpoly.options import Gradient, Optimizer, Strategy

    x = np.linspace(-1, 1, 20)
    chunk = compiled_chunk(Strategy.GRAM, Gradient.MANUAL, SCAN_STEPS, Optimizer.GD, Loss.MSE, 1.0)
    fit(x, x, degree=1, steps=3, lr=0.3, engine="jax", mode="compiled", strategy="gram")
    compiled = chunk._cache_size()
    assert compiled >= 1  # the runner used this very function
    for steps in (17, 250, SCAN_STEPS + 5):
        fit(x, x, degree=1, steps=steps, lr=0.3, engine="jax", mode="compiled", strategy="gram")
    assert chunk._cache_size() == compiled


def test_eager_mode_is_refused_clearly() -> None:
    from gradpoly import InvalidOptionError

    with pytest.raises(InvalidOptionError, match="engine jax does not support mode eager"):
        fit([0, 1, 2], [0, 1, 2], degree=1, engine="jax", mode="eager", steps=1)
