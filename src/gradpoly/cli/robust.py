"""``gradpoly robust``: a robust fit (Huber, bisquare, sigma clipping) of one curve or of each
series of a long table, by :func:`gradpoly.robust_fit`; the coefficients with their robust
standard errors printed, everything written as JSON with --json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from gradpoly.cli.common import (
    Command,
    DataFile,
    DropNan,
    XCol,
    YCol,
    app,
    check_outputs,
    one_line_errors,
    report_console,
    warnings_as_lines,
    wrote,
)
from gradpoly.io import read_long, read_xy
from gradpoly.many.robust import robust_fit
from gradpoly.outputs import json_text, write_text_atomic
from gradpoly.robust import NORMS


@app.command("robust", cls=Command)
@one_line_errors
def robust_command(
    data: DataFile,
    degree: Annotated[int, typer.Option(help="Polynomial degree.")] = 1,
    norm: Annotated[
        str, typer.Option(help=f"One of {', '.join(NORMS)} (statsmodels' RLM; clip: 3 sigma).")
    ] = "huber",
    tuning: Annotated[
        float | None, typer.Option(help="Tuning constant (default: 1.345, 4.685, 3).")
    ] = None,
    x_col: XCol = "x",
    y_col: YCol = "y",
    series_col: Annotated[
        str | None, typer.Option(help="Long table: fit one curve per value of this column.")
    ] = None,
    drop_nan: DropNan = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write coefficients, errors and weights.")
    ] = None,
) -> None:
    """Fit a polynomial robustly: outliers down-weighted (Huber, bisquare) or clipped."""
    piped = check_outputs([data], json=json_path)
    console = report_console(piped)
    with warnings_as_lines(console):
        if series_col is None:
            x, y, _ = read_xy(data, x_col, y_col, None, drop_nan)
            ids = ["curve"]
            found = robust_fit(x, y, degree, norm=norm, tuning=tuning, drop_nan=drop_nan)
        else:
            ids, xs, ys, _ = read_long(data, series_col, x_col, y_col, None, drop_nan)
            found = robust_fit(xs, ys, degree, norm=norm, tuning=tuning, drop_nan=drop_nan)
    coef, stderr = np.atleast_2d(found.coef), np.atleast_2d(found.stderr)
    scale, iterations = np.atleast_1d(found.scale), np.atleast_1d(found.iterations)
    rejected = np.atleast_1d(found.rejected)
    table = Table(
        title=f"{found.norm} fit (tuning {found.tuning:g}), degree {degree}: coefficients "
        "(x^0 ..) ± robust standard errors",
        title_justify="left",
    )
    for column in ("series", "coefficients", "scale", "weight 0", "fits"):
        table.add_column(column)
    rows: list[dict[str, Any]] = []
    for b, name in enumerate(ids):
        cells = "  ".join(f"{c:.6g}±{e:.2g}" for c, e in zip(coef[b], stderr[b], strict=True))
        table.add_row(name, cells, f"{scale[b]:.4g}", str(rejected[b]), str(int(iterations[b])))
        rows.append({"series": name, "coef": coef[b].tolist(), "stderr": stderr[b].tolist(),
                     "scale": float(scale[b]), "rejected": int(rejected[b]),
                     "iterations": int(iterations[b])})  # fmt: skip
    console.print(table)
    if json_path is not None:
        document = {"norm": found.norm, "tuning": found.tuning, "degree": degree, "fits": rows}
        write_text_atomic(json_path, json_text(document, indent=1), [data])
        wrote(console, json_path)
