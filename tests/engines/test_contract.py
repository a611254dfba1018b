"""Every contract check against every registered engine configuration (sklearn-style)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gradpoly import FitConfig
from gradpoly.options import DType, Gradient, Mode, Strategy
from gradpoly.testing import all_configs
from tests.engines.checks import (
    CONTRACT_CHECKS,
    check_losses_follow_their_reference,
    check_seed_problem_final_mse,
    skip_unless_available,
    worker_group,
)

ONE_PASS_PER_STEP = (
    "dask per-sample makes one Dask pass over the chunks per step (by design: the seed's exact "
    "loop out of core), so the 200,000-step checks would take hours; "
    "tests/engines/test_dask_engine.py checks it against the float64 reference at 300 steps"
)


SWEEPS = {check_seed_problem_final_mse: pytest.mark.slow}
"""Checks that run the seed's whole 200,000 steps on every engine: exhaustive sweeps, run by
``pytest -m slow`` (CI runs both sets)."""


def _exhaustive(check: Callable[[FitConfig], None], config: FitConfig) -> bool:
    """Whether this cell is an exhaustive sweep, left to ``pytest -m slow`` (which CI runs):
    the seed's 200,000 steps (:data:`SWEEPS`), and compiled torch's float32 packages of the
    losses, two cold AOTInductor compiles per configuration (~18 s each on 2 cores) for a
    concern their float64 packages already test (one shape per concern); float32's
    compiled MSE stays, and so does every other engine's float32 losses cell."""
    return check in SWEEPS or (
        check is check_losses_follow_their_reference
        and config.engine == "torch"
        and config.mode is Mode.COMPILED
        and config.strategy is Strategy.PER_SAMPLE
        and config.gradient is Gradient.AUTOGRAD  # the cells that run the losses, not refuse
        and config.dtype is DType.FLOAT32
    )


def _cells() -> list[object]:
    """Every check against every configuration: a compiled configuration's cells in its
    pytest-xdist group (``--dist loadgroup``, pyproject.toml), so one worker builds its
    compiled code (AOTInductor packages, jit caches) once and reuses it in memory, never
    built twice at once by two workers nor loaded again by the other; eager configurations
    build nothing, so their cells spread one by one, as balance wants."""
    cells = []
    for check in CONTRACT_CHECKS:
        for config in all_configs():
            marks = [worker_group(config)] if config.mode is Mode.COMPILED else []
            if _exhaustive(check, config):
                marks.append(pytest.mark.slow)
            cells.append(pytest.param(config, check, marks=marks, id=f"{check.__name__}-{config}"))
    return cells


@pytest.mark.parametrize(("config", "check"), _cells())
def test_engine_contract(config: FitConfig, check: Callable[[FitConfig], None]) -> None:
    skip_unless_available(config)
    if config.engine == "dask" and config.strategy is Strategy.PER_SAMPLE:
        pytest.skip(ONE_PASS_PER_STEP)
    check(config)
