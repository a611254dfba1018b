"""The shared loop (engines/base.py): memory follows the steps run, advice is checked."""

from __future__ import annotations

import numpy as np
import pytest

from gradpoly import DivergenceError
from gradpoly.engines.base import TRACE_START, stable_limit, trace_room
from gradpoly.errors import advice
from gradpoly.options import Optimizer
from tests.engines.checks import notebook_fit as fit


def test_the_trace_grows_with_the_steps_run() -> None:
    trace = np.full(4, np.nan)
    grown = trace_room(trace, 5, 1_000_000, lambda n: np.full(n, np.nan))
    assert grown.size == 8
    assert trace_room(grown, 8, 10, lambda n: np.full(n, np.nan)) is grown
    assert trace_room(grown, 9, 10, lambda n: np.full(n, np.nan)).size == 10


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_a_fit_stopped_by_tol_never_allocates_all_its_steps(engine, monkeypatch) -> None:
    import importlib

    pytest.importorskip(engine)
    sizes: list[int] = []
    real = trace_room

    def spy(trace, stop, steps, full):  # type: ignore[no-untyped-def]
        out = real(trace, stop, steps, full)
        sizes.append(len(out))
        return out

    module = importlib.import_module(f"gradpoly.engines.{engine}_engine")
    monkeypatch.setattr(module, "trace_room", spy)
    x = np.linspace(0, 5, 100)
    result = fit(
        x, np.sin(x), 4, steps=200_000_000, lr="auto", basis="chebyshev", tol=1e-6, engine=engine
    )
    assert result.converged
    assert max(sizes) <= max(TRACE_START, 2 * result.steps_run)


def test_divergence_advice_is_a_smaller_stable_rate() -> None:
    x = np.linspace(0, 5, 100)
    with pytest.raises(DivergenceError) as caught:
        fit(x, np.sin(x), 4, steps=100, lr=1.0)
    error = caught.value
    assert 0 < error.lr_max < error.lr
    assert f"try lr <= {0.9 * error.lr_max:.3g}" in str(error)


def test_no_advice_above_the_rate_that_failed_or_without_a_limit() -> None:
    assert "not a step-size problem" in advice(1e-3, 2e-3)
    assert "no stable learning rate" in advice(1.0, float("nan"))
    assert "no stable learning rate" in advice(1.0, float("inf"))
    assert "nan" not in advice(1.0, float("nan"))


def test_stable_limits_per_optimizer() -> None:
    assert stable_limit(Optimizer.GD, 0.0, 4.0) == 0.5
    assert stable_limit(Optimizer.MOMENTUM, 0.5, 4.0) == 0.75
    assert stable_limit(Optimizer.NESTEROV, 0.5, 4.0) == 0.375
    assert np.isnan(stable_limit(Optimizer.GD, 0.0, 0.0))


def test_an_lr_beyond_float32_is_divergence_not_a_warning() -> None:
    x = np.linspace(0, 5, 100)
    with pytest.raises(DivergenceError, match="overflows float32"):
        fit(x, np.sin(x), 4, steps=10, lr=1e39)


def test_data_that_overflow_float32_are_named_not_called_divergence() -> None:
    x = np.linspace(0, 5, 100) * 1e10
    with pytest.raises(Exception, match="overflow float32") as caught:
        fit(x, np.sin(x), 4, steps=10, lr="auto")
    assert not isinstance(caught.value, DivergenceError)
