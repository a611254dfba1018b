"""Every ladder rung computes the seed's trajectory; op counting sees the dispatch."""

from __future__ import annotations

import pytest

from gradpoly import FitProblem
from gradpoly.bench.ladder import RUNGS, ops_per_step, run_ladder, seed_autograd, seed_manual
from gradpoly.bench.report import ladder_markdown
from gradpoly.seed import seed_data

pytest.importorskip("torch", reason="the ladder is torch's")


@pytest.mark.slow  # compiles every rung cold: a sweep
def test_every_rung_runs_and_agrees_with_the_reference() -> None:
    rows = run_ladder(steps=300, repeats=1)
    assert [r.rung.name for r in rows] == [r.name for r in RUNGS]
    for row in rows:
        for m in (row.manual, row.autograd):
            if m is not None:
                assert m.status in {"ok", "unavailable"}, (row.rung.name, m.status)
    assert rows[0].autograd_ops > rows[0].manual_ops > 0
    table = ladder_markdown(rows, 300)
    assert table.count("\n|") == len(RUNGS) + 1


def test_ops_are_counted_per_step() -> None:
    x, y = seed_data()
    problem = FitProblem.from_data(x, y, 4)
    manual = ops_per_step(seed_manual, problem, "cpu")
    auto = ops_per_step(seed_autograd, problem, "cpu")
    assert manual == int(manual) >= 8
    assert auto > manual
