"""``gradpoly calibrate``: fit a calibration curve to standards (x known, y measured), then
read measured values back to x with their intervals (:meth:`gradpoly.LstsqResult.inverse`),
and print the limits of detection and quantification."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from gradpoly import validation
from gradpoly.cli.common import (
    Command,
    DropNan,
    Fixed,
    SigmaCol,
    Through,
    WeightsCol,
    XCol,
    YCol,
    app,
    check_outputs,
    constraint_options,
    one_line_errors,
    report_console,
    warnings_as_lines,
    wrote,
)
from gradpoly.cli.fit import Source
from gradpoly.errors import InvalidOptionError
from gradpoly.io import read_xy
from gradpoly.outputs import json_text, write_text_atomic
from gradpoly.problem import lstsq


@app.command("calibrate", cls=Command)
@one_line_errors
def calibrate_command(
    data: Annotated[
        Path, typer.Argument(help="The standards: CSV, Parquet, NPY or NPZ with x and y columns.")
    ],
    measured: Annotated[
        list[float] | None,
        typer.Option(help="A measured y to read back to x (repeat for several)."),
    ] = None,
    degree: Annotated[int, typer.Option(help="Degree of the calibration curve.")] = 1,
    interval: Annotated[
        str, typer.Option(help="classical (inverse of the prediction band) or delta.")
    ] = "classical",
    level: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    replicates: Annotated[
        int, typer.Option(help="Each measured y is the mean of this many readings.")
    ] = 1,
    blank: Annotated[float, typer.Option(help="x of a blank, where the slope is taken.")] = 0.0,
    fixed: Fixed = None,
    through: Through = None,
    monotone: Annotated[
        str | None,
        typer.Option(help="increasing or decreasing: the curve never turns back (certified)."),
    ] = None,
    x_col: XCol = "x",
    y_col: YCol = "y",
    weights_col: WeightsCol = None,
    sigma_col: SigmaCol = None,
    drop_nan: DropNan = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the readings, intervals and limits.")
    ] = None,
) -> None:
    """Fit a calibration curve and read measured values back to x, with intervals and LOD/LOQ."""
    if interval not in ("classical", "delta"):
        raise InvalidOptionError(f"--interval must be classical or delta, got {interval!r}")
    validation.level(level)
    source = Source(data, x_col, y_col, weights_col, None, drop_nan, [data], sigma_col)
    piped = check_outputs([data], json=json_path)
    console = report_console(piped)
    x, y, w = read_xy(data, x_col, y_col, source.weights_column, drop_nan)
    pins = constraint_options(fixed, through)
    weights = None if w is None else source.weights(w)
    fit = lstsq(x, y, degree, weights=weights, full=True, monotone=monotone, **pins)
    limits = fit.detection_limits(blank=blank)
    console.print(
        f"calibration curve of degree {degree} on {len(x)} standards, x in "
        f"[{float(np.min(x)):.6g}, {float(np.max(x)):.6g}]; residual std {limits['sigma']:.6g}"
    )
    console.print(
        f"LOD {limits['lod']:.6g}, LOQ {limits['loq']:.6g} (ICH Q2: 3.3 and 10 sigma over the "
        f"slope {limits['slope']:.6g} at x = {blank:g})"
    )
    readings: list[dict[str, float]] = []
    if measured:
        values = np.asarray(measured, dtype=np.float64)
        with warnings_as_lines(console):  # after the table would be better: said at once
            x0, low, high = fit.inverse(
                values, interval=interval, level=level, replicates=replicates
            )
        table = Table(
            title=f"measured y read back to x, {interval} {level:.4g} intervals",
            title_justify="left",
        )
        for column in ("y", "x", "lower", "upper"):
            table.add_column(column, justify="right")
        for row in zip(values, x0, low, high, strict=True):
            table.add_row(*(f"{v:.6g}" for v in row))
            readings.append(dict(zip(("y", "x", "lower", "upper"), map(float, row), strict=True)))
        console.print(table)
    if json_path is not None:
        document = {
            "degree": degree, "coef": fit.coef.tolist(), "interval": interval, "level": level,
            "replicates": replicates, "limits": limits, "readings": readings,
        }  # fmt: skip
        write_text_atomic(json_path, json_text(document, indent=1), [data])
        wrote(console, json_path)
