"""Shared fixtures and the hypothesis profile (bounded so CI stays fast and deterministic)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from gradpoly import FitProblem
from gradpoly.engines.package_builds import waiting_for_packages
from gradpoly.seed import seed_data

settings.register_profile(
    "gradpoly",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("gradpoly")


@pytest.fixture(scope="session", autouse=True)
def packages_built_in_the_call():
    """Compiled fits test compiled code: their packages are built in the call, not in a
    builder process while eager steps stand in (``test_package_builds`` tests that path)."""
    with waiting_for_packages():
        yield


@pytest.fixture(scope="session")
def seed_problem() -> FitProblem:
    """The notebook's problem: 100 points of sin on [0, 5], degree 4."""
    x, y = seed_data()
    return FitProblem.from_data(x, y, 4)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh seeded generator per test; nothing is seeded globally."""
    return np.random.default_rng(20261124)
