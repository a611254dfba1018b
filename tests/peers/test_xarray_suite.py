"""xarray's own polyfit tests, from its installed wheel, through gradpoly's drop-in.

Every test that calls polyfit must pass, except the decisions listed in DECISIONS (each
documented on the xarray page), which must still fail, so that the list stays true.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

xr = pytest.importorskip("xarray")
pytest.importorskip("dask")

SUITE = Path(xr.__file__).parent / "tests"
FILES = ("test_dataarray.py", "test_dataset.py", "test_computation.py")

DECISIONS = {
    "test_polyfit_warnings": (
        "a rank-deficient series is NaN with gradpoly.UnfittedRankWarning (a subclass of "
        "numpy's RankWarning), also under full=True; xarray warns RankWarning itself, not "
        "under full=True, and returns minimum-norm coefficients"
    ),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each polyfit test of xarray's suite -> passed, failed or skipped, in one run."""
    report = tmp_path_factory.mktemp("xarray") / "report.xml"
    root = Path(__file__).resolve().parents[2]
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "-p", "tests.peers.xarray_polyfit", "--rootdir", str(report.parent),
        "-k", "polyfit", f"--junitxml={report}", *(str(SUITE / f) for f in FILES),
    ]  # fmt: skip
    subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=900, check=False)
    found: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        state = (
            "failed"
            if kinds & {"failure", "error"}
            else "skipped"
            if "skipped" in kinds
            else "passed"
        )
        found[case.get("name", "")] = state
    return found


def test_the_suite_ran(outcomes: dict[str, str]) -> None:
    assert sum(state == "passed" for state in outcomes.values()) >= 20, outcomes


def test_every_polyfit_test_passes_but_the_listed_decisions(outcomes: dict[str, str]) -> None:
    failed = {name for name, state in outcomes.items() if state == "failed"}
    unexpected = sorted(name for name in failed if name.split("[")[0] not in DECISIONS)
    assert unexpected == []


@pytest.mark.parametrize("decision", sorted(DECISIONS))
def test_each_listed_decision_still_differs(outcomes: dict[str, str], decision: str) -> None:
    states = {state for name, state in outcomes.items() if name.split("[")[0] == decision}
    assert states == {"failed"}, f"{decision} now {states}: update DECISIONS and the docs"
