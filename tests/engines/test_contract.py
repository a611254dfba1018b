"""Every contract check against every registered engine configuration (sklearn-style)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gradpoly import FitConfig
from gradpoly.options import Mode, Strategy
from gradpoly.testing import all_configs
from tests.engines.checks import (
    CONTRACT_CHECKS,
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

CHECKS = [pytest.param(c, marks=SWEEPS.get(c, ()), id=c.__name__) for c in CONTRACT_CHECKS]

CONFIGS = [
    pytest.param(
        config,
        marks=worker_group(config) if config.mode is Mode.COMPILED else (),
        id=str(config),
    )
    for config in all_configs()
]
"""Every check of one compiled configuration runs in one pytest-xdist worker (``--dist
loadgroup``, pyproject.toml): its compiled code (AOTInductor packages, jit caches) is built
once and reused in memory, never built twice at once by two workers nor loaded again by the
other. Eager configurations build nothing: their checks spread one by one, as balance wants."""


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("check", CHECKS)
def test_engine_contract(config: FitConfig, check: Callable[[FitConfig], None]) -> None:
    skip_unless_available(config)
    if config.engine == "dask" and config.strategy is Strategy.PER_SAMPLE:
        pytest.skip(ONE_PASS_PER_STEP)
    check(config)
