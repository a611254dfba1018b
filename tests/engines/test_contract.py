"""Every contract check against every registered engine configuration (sklearn-style)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gradpoly import FitConfig
from gradpoly.testing import all_configs
from tests.engines.checks import CONTRACT_CHECKS, skip_unless_available


@pytest.mark.parametrize("config", all_configs(), ids=str)
@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda c: c.__name__)
def test_engine_contract(config: FitConfig, check: Callable[[FitConfig], None]) -> None:
    skip_unless_available(config)
    check(config)
