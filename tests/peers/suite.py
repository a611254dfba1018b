"""Run a peer's own tests, from its installed wheel, through a gradpoly drop-in plugin."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def outcomes(plugin: str, files: list[Path], keyword: str, folder: Path) -> dict[str, str]:
    """Each selected test -> passed, failed or skipped, from one pytest run with ``plugin``
    loaded; keyed ``Class.test_name[params]`` (the class where there is one)."""
    report = folder / "report.xml"
    root = Path(__file__).resolve().parents[2]
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", plugin,
        "--rootdir", str(folder), "-k", keyword, f"--junitxml={report}", *map(str, files),
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
        owner = case.get("classname", "").rpartition(".")[2]
        name = case.get("name", "")
        found[f"{owner}.{name}" if owner[:1].isupper() else name] = state
    return found


def decision_of(test: str, decisions: dict[str, str]) -> str | None:
    """The decision that covers ``test``: listed with its parameters, or without them."""
    for key in (test, test.split("[")[0]):
        if key in decisions:
            return key
    return None


def unexpected_failures(found: dict[str, str], decisions: dict[str, str]) -> list[str]:
    """The failed tests no decision covers: each must be fixed or listed (and documented)."""
    failed = (name for name, state in found.items() if state == "failed")
    return sorted(name for name in failed if decision_of(name, decisions) is None)


def states_of(found: dict[str, str], decisions: dict[str, str], decision: str) -> set[str]:
    """How the tests a decision covers ended: ``{"failed"}`` while it still differs."""
    return {state for name, state in found.items() if decision_of(name, decisions) == decision}
