"""numpy's own fit tests, from its installed wheel, through gradpoly's drop-ins
(:mod:`gradpoly.numpy`: ``np.polyfit``, ``numpy.polynomial``'s ``polyfit``, ``chebfit``,
``legfit`` and the classes' ``fit``).

Every test that fits must pass, except the decisions listed in DECISIONS (each documented on
the numpy page), which must still fail, so that the list stays true. What those tests check
besides the decision is checked in ``tests/test_numpy.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.peers import suite

pytestmark = pytest.mark.xdist_group("numpy-suite")
"""One pytest-xdist worker runs this module (``--dist loadgroup``): its module fixture is
built once, not once per worker."""

SUITE = Path(np.__file__).parent
FILES = (
    "lib/tests/test_polynomial.py",
    "polynomial/tests/test_polynomial.py",
    "polynomial/tests/test_chebyshev.py",
    "polynomial/tests/test_legendre.py",
    "polynomial/tests/test_classes.py",
)

COMPLEX = (
    "ends by fitting complex x (1, 1j, -1, -1j): gradpoly fits real data and refuses complex "
    "values with a typed error instead of fitting them"
)
DECISIONS = {
    "TestMisc.test_polyfit": COMPLEX,
    "TestFitting.test_chebfit": COMPLEX,
    "TestFitting.test_legfit": COMPLEX,
    **dict.fromkeys(
        (f"test_bad_conditioned_fit[{kind}]" for kind in ("Polynomial", "Chebyshev", "Legendre")),
        "a rank-deficient design gives NaN coefficients with gradpoly.UnfittedRankWarning (a "
        "RankWarning, as the test expects) saying why; numpy's message is 'The fit may be "
        "poorly conditioned' with minimum-norm coefficients",
    ),
}
"""Polynomial, Chebyshev and Legendre only for the classes' test: Hermite, HermiteE and
Laguerre fits stay numpy's."""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each fit test of numpy's suite -> passed, failed or skipped, in one run."""
    folder = tmp_path_factory.mktemp("numpy")
    return suite.outcomes("tests.peers.numpy_polyfit", [SUITE / f for f in FILES], "fit", folder)


def test_the_suite_ran(outcomes: dict[str, str]) -> None:
    assert sum(state == "passed" for state in outcomes.values()) >= 10, outcomes
    assert outcomes["TestPolynomial.test_polyfit"] == "passed"  # np.polyfit's own test


def test_every_fit_test_passes_but_the_listed_decisions(outcomes: dict[str, str]) -> None:
    assert suite.unexpected_failures(outcomes, DECISIONS) == []


@pytest.mark.parametrize("decision", sorted(DECISIONS))
def test_each_listed_decision_still_differs(outcomes: dict[str, str], decision: str) -> None:
    states = suite.states_of(outcomes, DECISIONS, decision)
    assert states == {"failed"}, f"{decision} now {states}: update DECISIONS and the docs"


def test_this_module_runs_as_one_group(request: pytest.FixtureRequest) -> None:
    """The groups of ``--dist loadgroup`` hold: pytest-xdist tags each grouped test's id with
    its group; a pytest/xdist pair that drops the tag (pytest-xdist#1386) spreads the groups
    over the workers silently, compiling packages twice. Distributed runs only."""
    if not (
        os.environ.get("PYTEST_XDIST_WORKER") and getattr(request.config.option, "loadgroup", False)
    ):
        pytest.skip("not run by pytest-xdist with --dist loadgroup")
    assert request.node.nodeid.endswith("@numpy-suite"), request.node.nodeid
