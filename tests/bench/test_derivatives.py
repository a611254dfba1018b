"""The derivative timing table runs, gates each cell, and caps the one-hot loop openly."""

from __future__ import annotations

import pytest

from gradpoly.bench.derivatives import derivative_markdown, run_derivative_bench

pytest.importorskip("torch")
pytest.importorskip("jax")


def test_table_runs_every_method_and_caps_onehot() -> None:
    rows = run_derivative_bench("sin", points=(10, 20_000), repeats=1)
    by = {(m.spec.name, m.spec.steps): m for m in rows}
    assert by[("onehot-loop", 20_000)].status == "unavailable"
    assert by[("onehot-loop", 20_000)].reason.startswith("capped")
    assert all(m.status == "ok" for key, m in by.items() if key != ("onehot-loop", 20_000))
    text = derivative_markdown(rows, "sin")
    assert "| onehot-loop | torch |" in text
    assert "capped" in text
