"""The commands besides ``fit``: ``demo`` (the notebook retold), ``bench``, ``ladder``,
``derivative`` and ``engines``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from gradpoly import validation
from gradpoly.cli.common import (
    Command,
    app,
    check_outputs,
    make_plot_folder,
    one_line_errors,
    one_per_item,
    progress_bars,
    report_console,
    write_json,
    wrote,
)
from gradpoly.derivative import FUNCTIONS, METHODS
from gradpoly.engines import engines
from gradpoly.errors import (
    EngineUnavailableError,
)
from gradpoly.options import (
    Device,
    DType,
)
from gradpoly.outputs import write_text_atomic

DerivativeFunction = StrEnum("DerivativeFunction", {n: n for n in FUNCTIONS})  # type: ignore[misc]


DerivativeMethod = StrEnum("DerivativeMethod", {n: n for n in METHODS})  # type: ignore[misc]


@app.command(cls=Command)
@one_line_errors
def demo(
    steps: Annotated[
        int, typer.Option(help="Gradient descent steps (the seed: 200000).")
    ] = 200_000,
    lr: Annotated[float, typer.Option(help="Learning rate (the seed: 1e-5).")] = 1e-5,
    dtype: Annotated[DType, typer.Option(help="Precision (the seed: float32).")] = DType.FLOAT32,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the table and machine as JSON here.")
    ] = None,
    plots: Annotated[
        Path | None, typer.Option(help="Folder for trace.png (MSE, log scale) and fit.png.")
    ] = None,
) -> None:
    """Run the seed notebook end to end: five presets, timed and checked against lstsq."""
    from gradpoly.demo import run_demo

    validation.steps(steps)
    validation.lr(lr)
    piped = check_outputs([], json=json_path)
    if plots is not None:
        make_plot_folder(plots)
    with progress_bars() as progress_for:
        report = run_demo(steps=steps, lr=lr, dtype=dtype, progress_for=progress_for)
    console = report_console(piped)
    table = Table(
        title=f"seed problem: sin(x) on [0, 5], 100 points, degree 4, {steps} steps, lr {lr:g}, "
        f"{dtype}",
        title_justify="left",
    )
    table.add_column("preset")
    for column in ("seconds", "final error", "max |coef - lstsq|"):
        table.add_column(column, justify="right")
    for row in report.rows:
        if row.result is None:
            table.add_row(row.preset, "unavailable", "-", "-")
        else:
            result = row.result
            seconds, final = f"{result.seconds:.2f}", f"{result.final_mse:.5f}"
            table.add_row(row.preset, seconds, final, f"{row.max_coef_err:.3g}")
    console.print(table)
    for row in report.rows:
        if row.result is None:
            console.print(f"{row.preset} did not run: {row.reason}")
    console.print(f"least-squares optimum (float64 lstsq): MSE {report.lstsq_mse:.6f}")
    if json_path is not None:
        write_json(json_path, report.to_dict())
        wrote(console, json_path)
    if plots is not None:
        from gradpoly.plots import plot_fit, plot_traces

        ran = {row.preset: row.result for row in report.rows if row.result is not None}
        plot_traces(
            ran,
            plots / "trace.png",
            optimum=report.lstsq_mse,
            title=f"seed problem: MSE over {steps} steps of GD (lr {lr:g})",
        )
        x, y = report.problem.x, report.problem.y
        curves = {f"{name} (GD)": result.coef for name, result in ran.items()}
        plot_fit(
            x,
            y,
            curves,
            plots / "fit.png",
            title="degree-4 fit to sin(x) on [0, 5]",
            reference=("least squares (lstsq)", report.lstsq_coef),
        )
        console.print(f"wrote {plots / 'trace.png'} and {plots / 'fit.png'}")


@app.command(cls=Command)
@one_line_errors
def bench(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help="Configurations to run (repeatable); default: all. See --list."
        ),
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="List the configurations and exit.")
    ] = False,
    steps: Annotated[int, typer.Option(help="GD steps per fit (the seed: 200000).")] = 200_000,
    repeats: Annotated[
        int, typer.Option(help="Timed runs per configuration, after one warm-up.")
    ] = 5,
    threads: Annotated[int, typer.Option(help="Threads pinned for torch (recorded).")] = 1,
    dtype: Annotated[DType, typer.Option(help="Precision of every configuration.")] = DType.FLOAT32,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write records as JSON.")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write records as CSV.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a bar chart (log scale; .png, .pdf or .svg).")
    ] = None,
) -> None:
    """Time engine configurations on the seed problem: warm-up excluded, median and IQR, gated."""
    from gradpoly.bench import report, suite

    console = report_console()
    if list_:
        for entry in suite.CATALOGUE:
            console.print(
                f"{entry.name:34} {entry.engine} {entry.gradient} {entry.device} "
                f"{entry.mode} {entry.strategy}"
            )
        return
    validation.steps(steps)
    validation.count("repeats", repeats, high=10_000)
    validation.count("threads", threads, high=4096)
    piped = check_outputs([], json=json_path, csv=csv_path, plot=plot)
    console = report_console(piped)
    chosen = suite.entries(only)
    with progress_bars() as progress_for:
        advance = one_per_item(progress_for("bench", len(chosen)))
        measurements = suite.run_suite(
            [e.name for e in chosen],
            steps=steps,
            dtype=str(dtype),
            repeats=repeats,
            threads=threads,
            on_done=advance,
        )
    title = (
        f"seed problem, {steps:,} steps, {dtype}, {threads} thread(s), median of {repeats} "
        "after 1 warm-up"
    )
    console.print(report.bench_table(measurements, title))
    for m in measurements:
        if m.status == "unavailable":
            console.print(f"{m.spec.name} did not run: {m.reason}")
    settings = {"steps": steps, "repeats": repeats, "threads": threads, "dtype": str(dtype)}
    if json_path is not None:
        report.write_json(json_path, report.bench_document(measurements, **settings))
        wrote(console, json_path)
    if csv_path is not None:
        report.write_csv(csv_path, measurements)
        wrote(console, csv_path)
    if plot is not None:
        from gradpoly.plots import plot_bench

        plot_bench(measurements, plot, title)
        wrote(console, plot)


@app.command(cls=Command)
@one_line_errors
def ladder(
    steps: Annotated[int, typer.Option(help="GD steps per timed run.")] = 20_000,
    repeats: Annotated[int, typer.Option(help="Timed runs per rung, after one warm-up.")] = 3,
    threads: Annotated[int, typer.Option(help="Threads pinned for torch (recorded).")] = 1,
    device: Annotated[Device, typer.Option(help="Device of the torch rungs.")] = Device.CPU,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the ladder as JSON.")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write the ladder as a markdown table.")
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(help="Write a plot of microseconds per step (.png, .pdf or .svg)."),
    ] = None,
) -> None:
    """The seed's torch loop, one remedy at a time: where autograd's time goes."""
    from gradpoly.bench import report
    from gradpoly.bench.ladder import RUNGS, run_ladder
    from gradpoly.engines.torch_engine import cuda_availability, load_torch

    validation.steps(steps)
    validation.count("repeats", repeats, high=10_000)
    validation.count("threads", threads, high=4096)
    piped = check_outputs([], json=json_path, markdown=markdown, plot=plot)
    load_torch()
    if device is Device.CUDA and not cuda_availability().ok:
        raise EngineUnavailableError(cuda_availability().reason)
    console = report_console(piped)
    with progress_bars() as progress_for:
        advance = one_per_item(progress_for("ladder", len(RUNGS)))
        rows = run_ladder(
            steps=steps, repeats=repeats, device=str(device), threads=threads, on_done=advance
        )
    text = report.ladder_markdown(rows, steps)
    console.print(text, markup=False)
    settings = {"steps": steps, "repeats": repeats, "threads": threads, "device": str(device)}
    if json_path is not None:
        report.write_json(json_path, report.ladder_document(rows, **settings))
        wrote(console, json_path)
    if markdown is not None:
        write_text_atomic(markdown, text)
        wrote(console, markdown)
    if plot is not None:
        from gradpoly.plots import plot_ladder

        plot_ladder(
            rows,
            plot,
            f"the ladder on {device}: seed problem, {steps:,} steps, float32, {threads} thread(s)",
        )
        wrote(console, plot)


@app.command("derivative", cls=Command)
@one_line_errors
def derivative_command(
    function: Annotated[DerivativeFunction, typer.Option(help="The elementwise f.")] = "sin",  # type: ignore[assignment]
    points: Annotated[int, typer.Option(help="Points on [-2 pi, 2 pi].")] = 100,
    method: Annotated[
        DerivativeMethod, typer.Option(help="How to differentiate.")
    ] = "grad-outputs",  # type: ignore[assignment]
    dtype: Annotated[DType, typer.Option(help="Precision.")] = DType.FLOAT64,
    plot: Annotated[
        Path | None,
        typer.Option(help="Plot of f, its derivative, the exact one (.png, .pdf, .svg)."),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the result (or table).")
    ] = None,
    table: Annotated[
        bool, typer.Option(help="Time every method at N = 10 .. 1e6 instead.")
    ] = False,
    repeats: Annotated[int, typer.Option(help="Timed runs per cell with --table.")] = 3,
    markdown: Annotated[
        Path | None, typer.Option(help="With --table: write it as markdown.")
    ] = None,
) -> None:
    """d f(x)/dx at many points by autograd (several ways) or finite differences, checked."""
    import time

    from gradpoly.derivative import analytic, derivative

    validation.count("repeats", repeats, high=10_000)
    piped = check_outputs([], json=json_path, markdown=markdown, plot=plot)
    console = report_console(piped)
    if table:
        from gradpoly.bench import derivatives, report

        with progress_bars() as progress_for:
            advance = one_per_item(
                progress_for("derivative", len(METHODS) * len(derivatives.POINTS))
            )
            rows = derivatives.run_derivative_bench(
                str(function),
                derivatives.POINTS,
                dtype=str(dtype),
                repeats=repeats,
                on_done=advance,
            )
        text = derivatives.derivative_markdown(rows, str(function))
        console.print(text, markup=False)
        if markdown is not None:
            write_text_atomic(markdown, text)
            wrote(console, markdown)
        if json_path is not None:
            report.write_json(
                json_path, report.bench_document(rows, function=str(function), dtype=str(dtype))
            )
            wrote(console, json_path)
        return
    validation.count("points", points, high=100_000_000)
    x = np.linspace(-2 * np.pi, 2 * np.pi, points)
    derivative(str(function), x, str(method), dtype)  # warm-up: imports, jax compilation
    derivative(str(function), x, str(method), dtype)  # warm-up: imports, jax compilation
    start = time.perf_counter()
    d = derivative(str(function), x, str(method), dtype)
    seconds = time.perf_counter() - start
    exact = analytic(str(function), x)
    err = float(np.max(np.abs(d - exact)))
    console.print(
        f"d {function}(x)/dx at {points:,} points on [-2 pi, 2 pi] by {method} "
        f"({dtype}): max |error| vs analytic {err:.2e}, {1e3 * seconds:.2f} ms "
        "(after a warm-up call)"
    )
    if json_path is not None:
        write_json(
            json_path,
            {
                "function": str(function),
                "method": str(method),
                "dtype": str(dtype),
                "x": x.tolist(),
                "derivative": d.tolist(),
                "max_abs_err": err,
                "seconds": seconds,
            },
        )
        wrote(console, json_path)
    if plot is not None:
        from gradpoly.derivative import FUNCTIONS as named
        from gradpoly.plots import plot_derivative

        values = named[str(function)].get(np)(x)
        labels = (f"{function}(x)", f"d {function}/dx by {method}", "analytic derivative")
        plot_derivative(
            x,
            values,
            d,
            exact,
            plot,
            labels,
            f"d {function}(x)/dx at {points:,} points, {method}, {dtype}",
        )
        wrote(console, plot)


@app.command("engines", cls=Command)
@one_line_errors
def engines_command(
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
) -> None:
    """List every engine and device: whether it fits one curve (fit) and many curves
    (fit_many, lstsq_many, xarray) here, and why not when it does not."""
    infos = engines()
    many = [_many_curves(info.name, info.device) for info in infos]
    console = report_console()
    if json_out:
        rows = [info.__dict__ | {"many": found} for info, found in zip(infos, many, strict=True)]
        console.print_json(json.dumps(rows))
        return
    table = Table(title="gradpoly engines", title_justify="left")
    for column in (
        "engine", "device", "one curve", "many curves", "version", "gradients", "modes",
        "strategies",
    ):  # fmt: skip
        table.add_column(column)
    for info, found in zip(infos, many, strict=True):
        available = "yes" if info.available else "no"
        batched = "-" if found is None else ("yes" if found["available"] else "no")
        options = (", ".join(info.gradients), ", ".join(info.modes), ", ".join(info.strategies))
        table.add_row(info.name, info.device, available, batched, info.version, *options)
    console.print(table)
    for info, found in zip(infos, many, strict=True):
        if not info.available:
            console.print(f"{info.name} on {info.device} is unavailable: {info.reason}")
        elif found is not None and not found["available"]:
            console.print(f"{info.name} on {info.device} fits no batch: {found['reason']}")


def _many_curves(name: str, device: str) -> dict[str, object] | None:
    """The batched backend of the same library on ``device``: available and why not, or None
    where the library has none (Dask fits many series through the others, per partition)."""
    from gradpoly.batched import backend_names, get_backend

    if name not in backend_names():
        return None
    available = get_backend(name).availability(Device.parse(device))
    return {"available": available.ok, "reason": available.reason}
