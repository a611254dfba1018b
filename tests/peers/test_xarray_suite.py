"""xarray's own polyfit tests, from its installed wheel, through gradpoly's drop-in.

Every test that calls polyfit must pass, except the decisions listed in DECISIONS (each
documented on the xarray page), which must still fail, so that the list stays true.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.peers import suite

pytestmark = pytest.mark.xdist_group("xarray-suite")
"""One pytest-xdist worker runs this module (``--dist loadgroup``): its module fixture is
built once, not once per worker."""

xr = pytest.importorskip("xarray")
pytest.importorskip("dask")

SUITE = Path(xr.__file__).parent / "tests"
FILES = ("test_dataarray.py", "test_dataset.py", "test_computation.py")

DECISIONS = {
    "TestDataset.test_polyfit_warnings": (
        "a rank-deficient series is NaN with gradpoly.UnfittedRankWarning (a subclass of "
        "numpy's RankWarning), also under full=True; xarray warns RankWarning itself, not "
        "under full=True, and returns minimum-norm coefficients"
    ),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each polyfit test of xarray's suite -> passed, failed or skipped, in one run."""
    files = [SUITE / f for f in FILES]
    folder = tmp_path_factory.mktemp("xarray")
    return suite.outcomes("tests.peers.xarray_polyfit", files, "polyfit", folder)


def test_the_suite_ran(outcomes: dict[str, str]) -> None:
    assert sum(state == "passed" for state in outcomes.values()) >= 20, outcomes


def test_every_polyfit_test_passes_but_the_listed_decisions(outcomes: dict[str, str]) -> None:
    assert suite.unexpected_failures(outcomes, DECISIONS) == []


@pytest.mark.parametrize("decision", sorted(DECISIONS))
def test_each_listed_decision_still_differs(outcomes: dict[str, str], decision: str) -> None:
    states = suite.states_of(outcomes, DECISIONS, decision)
    assert states == {"failed"}, f"{decision} now {states}: update DECISIONS and the docs"
