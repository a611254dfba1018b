"""The benchmark suite runs every catalogue entry and its gate catches wrong answers."""

from __future__ import annotations

import numpy as np
import pytest

from gradpoly import FitProblem, InvalidOptionError
from gradpoly.bench.harness import Outcome
from gradpoly.bench.suite import CATALOGUE, entries, reference_check, run_suite
from gradpoly.options import make_config
from gradpoly.seed import PRESETS, seed_data


def test_catalogue_has_the_seed_loops_then_presets_and_unique_names() -> None:
    names = [e.name for e in CATALOGUE]
    assert names[3:8] == list(PRESETS)
    assert len(set(names)) == len(names)


def test_unknown_entry_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="unknown benchmark configuration 'nope'"):
        entries(["nope"])


@pytest.mark.slow  # every configuration of the catalogue, compiled ones cold: a sweep
def test_every_entry_runs_or_says_why() -> None:
    results = run_suite(steps=300, repeats=1)
    assert [m.spec.name for m in results] == [e.name for e in CATALOGUE]
    for m in results:
        assert m.status in {"ok", "unavailable"}, (m.spec.name, m.status)
        assert m.status == "ok" or m.reason
        if m.status == "ok":
            assert len(m.samples) == 1
            assert m.median > 0


def test_gate_rejects_a_wrong_answer() -> None:
    x, y = seed_data()
    problem = FitProblem.from_data(x, y, 4)
    check = reference_check(problem, make_config(steps=100))
    status, err = check(Outcome(0.1, 0.3, np.ones(5)))
    assert status == "wrong"
    assert err > 0.5
