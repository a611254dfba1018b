"""Matplotlib figures (Agg backend, no screen needed), written atomically as PNG, PDF or SVG.

``plot_traces`` shows the MSE trace of several runs on a log scale against the least-squares
optimum; ``plot_fit`` shows the data, each fitted curve and the residuals.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from gradpoly.outputs import atomic_path, image_format
from gradpoly.result import FitResult

if TYPE_CHECKING:
    from gradpoly.bench.harness import Measurement
    from gradpoly.bench.ladder import LadderRow

_STYLE = {
    "figure.dpi": 110,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: str | Path) -> Path:
    """Write ``fig`` atomically (temp file + rename) as its name says (PNG, PDF or SVG:
    :func:`gradpoly.outputs.image_format`) and free it."""
    try:
        kind = image_format(path)
        with atomic_path(path, suffix=Path(path).suffix) as tmp:
            fig.savefig(tmp, format=kind)
    finally:
        plt.close(fig)
    return Path(path)


def plot_traces(
    results: Mapping[str, FitResult],
    path: str | Path,
    optimum: float | None = None,
    title: str = "MSE during gradient descent",
) -> Path:
    """Plot each run's MSE trace (log y) and the closed-form optimum as a dashed line."""
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(8, 4.8))
        for i, (name, result) in enumerate(results.items()):
            steps = np.arange(1, result.trace.size + 1)
            ax.plot(
                steps,
                result.trace,
                lw=2.2 - 0.3 * i,
                alpha=0.85,
                label=f"{name}: final {result.final_mse:.5f}",
            )
        if optimum is not None:
            ax.axhline(
                optimum, color="black", ls="--", lw=1, label=f"least-squares optimum {optimum:.6f}"
            )
        ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("mean squared error")
        ax.set_title(title)
        ax.legend(frameon=False, fontsize=9)
        fig.tight_layout()
        return _save(plt, fig, path)


def plot_fit(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    curves: Mapping[str, npt.ArrayLike],
    path: str | Path,
    title: str = "polynomial fit",
    reference: tuple[str, npt.ArrayLike] | None = None,
    intervals: Any = None,
    level: float = 0.95,
    prediction: bool = False,
) -> Path:
    """Plot the data, each curve given as monomial coefficients, and their residuals.

    ``reference`` (a name and coefficients, e.g. the least-squares optimum) is drawn in black.
    ``intervals`` (a fit with ``predict(x, interval=...)``) adds its ``level`` confidence band
    for the mean, and with ``prediction`` the wider band for a new observation.
    """
    plt = _pyplot()
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    grid = np.linspace(xs.min(), xs.max(), 400)
    with plt.rc_context(_STYLE):
        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]}
        )
        if intervals is not None:
            _bands(top, intervals, grid, level, prediction)
        top.plot(xs, ys, "o", ms=3.5, color="0.35", label="data")
        for i, (name, coef) in enumerate(curves.items()):
            c = np.asarray(coef, dtype=float)
            style = "--" if i else "-"
            top.plot(grid, np.polynomial.polynomial.polyval(grid, c), style, lw=2, label=name)
            marker = "o" if i == 0 else "x"
            bottom.plot(xs, ys - np.polynomial.polynomial.polyval(xs, c), marker, ms=3.5)
        if reference is not None:
            c = np.asarray(reference[1], dtype=float)
            top.plot(
                grid,
                np.polynomial.polynomial.polyval(grid, c),
                ":",
                color="black",
                lw=2,
                label=reference[0],
            )
            bottom.plot(xs, ys - np.polynomial.polynomial.polyval(xs, c), "+", color="black", ms=5)
        bottom.axhline(0, color="0.5", lw=0.8)
        top.set_ylabel("y")
        top.set_title(title)
        top.legend(frameon=False, fontsize=9)
        bottom.set_xlabel("x")
        bottom.set_ylabel("residual")
        fig.tight_layout()
        return _save(plt, fig, path)


def _bands(
    axes: Any, fit: Any, grid: npt.NDArray[np.float64], level: float, prediction: bool
) -> None:
    """Shade the fit's confidence band (and its prediction band) on ``grid``."""
    with warnings.catch_warnings():  # a fit that did not converge: the caller says so
        warnings.simplefilter("ignore")
        kinds = [("prediction", "0.88")] if prediction else []
        for kind, shade in [*kinds, ("confidence", "#9ecae1")]:
            _, lower, upper = fit.predict(grid, interval=kind, level=level)
            axes.fill_between(
                grid, lower, upper, color=shade, lw=0, label=f"{level:.0%} {kind} band"
            )


def _bar_color(m: Measurement) -> str:
    """Red for a failed gate, blue for a Python loop of calls, green for compiled/vectorised."""
    if m.status != "ok":
        return "tab:red"
    looped = m.spec.mode == "eager" and m.spec.strategy != "spectral"
    return "tab:blue" if looped else "tab:green"


def plot_bench(measurements: Sequence[Measurement], path: str | Path, title: str) -> Path:
    """Horizontal bars of median seconds (log scale) with IQR whiskers; failures marked."""
    plt = _pyplot()
    ran = [m for m in measurements if m.status != "unavailable"]
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(ran) + 1.4))
        names = [m.spec.name for m in ran]
        medians = [m.median for m in ran]
        colors = [_bar_color(m) for m in ran]
        ypos = np.arange(len(ran))
        ax.barh(ypos, medians, xerr=[m.iqr for m in ran], color=colors, alpha=0.85)
        for y, m in zip(ypos, ran, strict=True):
            label = f"{1e3 * m.median:,.1f} ms" + ("" if m.status == "ok" else f" ({m.status})")
            ax.text((m.median + m.iqr) * 1.15, y, label, va="center", fontsize=8)
        ax.set_yticks(ypos, names, fontsize=9)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlim(min(medians) / 2, max(medians) * 8)
        ax.set_xlabel("seconds for the whole fit (median, log scale)")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", visible=False)
        from matplotlib.patches import Patch

        ax.legend(
            handles=[
                Patch(color="tab:blue", label="eager"),
                Patch(color="tab:green", label="compiled / vectorised"),
            ],
            frameon=False,
            fontsize=8,
            loc="lower right",
        )
        fig.tight_layout()
        return _save(plt, fig, path)


def plot_ladder(rows: Sequence[LadderRow], path: str | Path, title: str) -> Path:
    """Grouped bars per rung: microseconds per step, manual vs autograd, log scale."""
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(9, 4.8))
        xpos = np.arange(len(rows))
        for offset, gradient, color in (
            (-0.2, "manual", "tab:blue"),
            (0.2, "autograd", "tab:orange"),
        ):
            values = [getattr(r, gradient) for r in rows]
            heights = [
                m.per_step_us if m is not None and m.status == "ok" else np.nan for m in values
            ]
            ax.bar(xpos + offset, heights, width=0.4, color=color, label=gradient)
        ax.set_xticks(xpos, [r.rung.name for r in rows], rotation=30, ha="right", fontsize=9)
        ax.set_yscale("log")
        ax.set_ylabel("microseconds per GD step (median)")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", visible=False)
        ax.legend(frameon=False)
        fig.tight_layout()
        return _save(plt, fig, path)


def plot_derivative(
    x: npt.ArrayLike,
    values: npt.ArrayLike,
    derivative: npt.ArrayLike,
    exact: npt.ArrayLike,
    path: str | Path,
    labels: tuple[str, str, str],
    title: str,
) -> Path:
    """The notebook's first figure, checked: f, the computed derivative, the analytic one.

    A lower panel shows the absolute error on a log scale.
    """
    plt = _pyplot()
    xs = np.asarray(x, dtype=float)
    d, e = np.asarray(derivative, dtype=float), np.asarray(exact, dtype=float)
    with plt.rc_context(_STYLE):
        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(8, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}
        )
        top.plot(xs, np.asarray(values, dtype=float), lw=2, label=labels[0])
        top.plot(xs, d, lw=2, label=labels[1])
        top.plot(xs, e, ":", color="black", lw=2, label=labels[2])
        top.set_title(title, pad=28)
        top.legend(frameon=False, fontsize=9, ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0))
        error = np.abs(d - e)
        if np.any(error > 0):
            bottom.semilogy(xs, np.where(error > 0, error, np.nan), ".", ms=3, color="tab:red")
        else:
            bottom.text(
                0.5,
                0.5,
                "error 0 at every point: equal to the analytic value bit for bit",
                transform=bottom.transAxes,
                ha="center",
                va="center",
                fontsize=9,
            )
            bottom.set_yticks([])
        bottom.set_ylabel("|error|")
        bottom.set_xlabel("x")
        fig.tight_layout()
        return _save(plt, fig, path)


def plot_gaps(
    gaps: Mapping[str, npt.ArrayLike], path: str | Path, title: str, level: float | None = None
) -> Path:
    """Relative gap to the optimum per step, one line per run, log-log; ``level`` dashed."""
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(8, 4.8))
        for name, gap in gaps.items():
            values = np.asarray(gap, dtype=float)
            steps = np.arange(1, values.size + 1)
            floor = np.finfo(float).eps
            ax.plot(steps, np.maximum(values, floor), lw=2, label=name)
        if level is not None:
            ax.axhline(level, color="black", ls="--", lw=1, label=f"target gap {level:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("(MSE - least-squares MSE) / least-squares MSE")
        ax.set_title(title, fontsize=10)
        ax.legend(frameon=False, fontsize=8, loc="lower left")
        fig.tight_layout()
        return _save(plt, fig, path)


def plot_scaling(
    sizes: Sequence[int],
    series: Mapping[str, Sequence[float]],
    path: str | Path,
    title: str,
) -> Path:
    """Seconds against N on log-log axes, one line per method, with a slope-1 guide.

    A method whose points follow the dotted guide grows linearly in N.
    """
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        n = np.asarray(sizes, dtype=np.float64)
        for (name, seconds), marker in zip(series.items(), "osD^v", strict=False):
            t = np.asarray(seconds, dtype=np.float64)
            shown = np.isfinite(t)
            ax.loglog(n[shown], t[shown], marker=marker, label=name)
        first = np.asarray(next(iter(series.values())), dtype=np.float64)
        if np.isfinite(first).any():  # through the largest N, where fixed costs matter least
            last = int(np.flatnonzero(np.isfinite(first))[-1])
            guide = first[last] * n / n[last]
            ax.loglog(n, guide, ":", color="0.5", label="linear in N (guide)")
        ax.set_xlabel("points N")
        ax.set_ylabel("seconds (median)")
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        return _save(plt, fig, path)
