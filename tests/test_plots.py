"""Plots are written as real PNGs, atomically, and contain what they claim."""

from __future__ import annotations

import numpy as np

from gradpoly import fit
from gradpoly.plots import plot_fit, plot_traces


def test_trace_and_fit_plots_are_pngs(tmp_path) -> None:
    x = np.linspace(0, 5, 50)
    y = np.sin(x)
    result = fit(x, y, steps=500)
    trace = plot_traces({"numpy": result}, tmp_path / "t.png", optimum=1e-3)
    curve = plot_fit(x, y, {"gd": result.coef}, tmp_path / "f.png", reference=("ls", [0, 1]))
    for path in (trace, curve):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "t.png"]


def test_scaling_plot_skips_missing_points(tmp_path) -> None:
    from gradpoly.plots import plot_scaling

    path = plot_scaling(
        [10**6, 10**7, 10**8],
        {"dask": [0.1, 0.5, 5.0], "numpy": [0.02, 0.25, float("nan")]},
        tmp_path / "s.png",
        "time vs N",
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
