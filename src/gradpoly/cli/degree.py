"""``gradpoly degree``: the degree of one curve (or of each series of a long table) chosen by
a criterion over 0..--max-degree, by :func:`gradpoly.select_degree`; the criteria table
printed, the choice written as JSON with --json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from gradpoly.cli.common import (
    Command,
    DataFile,
    DropNan,
    SigmaCol,
    WeightsCol,
    XCol,
    YCol,
    app,
    check_outputs,
    one_line_errors,
    report_console,
    wrote,
)
from gradpoly.cli.fit import Source
from gradpoly.io import read_long, read_xy
from gradpoly.many.select import select_degree
from gradpoly.outputs import json_text, write_text_atomic
from gradpoly.selection import CRITERIA


@app.command("degree", cls=Command)
@one_line_errors
def degree_command(
    data: DataFile,
    max_degree: Annotated[int, typer.Option(help="Judge every degree 0..this one.")] = 6,
    criterion: Annotated[
        str, typer.Option(help=f"One of {', '.join(CRITERIA)} (smaller is better).")
    ] = "aicc",
    x_col: XCol = "x",
    y_col: YCol = "y",
    weights_col: WeightsCol = None,
    sigma_col: SigmaCol = None,
    series_col: Annotated[
        str | None, typer.Option(help="Long table: choose a degree per value of this column.")
    ] = None,
    drop_nan: DropNan = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the choice and every score as JSON.")
    ] = None,
) -> None:
    """Choose a polynomial's degree by AICc, AIC, BIC, GCV or leave-one-out CV."""
    source = Source(data, x_col, y_col, weights_col, series_col, drop_nan, [data], sigma_col)
    piped = check_outputs([data], json=json_path)
    console = report_console(piped)
    if series_col is None:
        x, y, w = read_xy(data, x_col, y_col, source.weights_column, drop_nan)
        ids = None
        weights = None if w is None else source.weights(w)
        chosen = select_degree(
            x, y, max_degree, criterion=criterion, weights=weights, drop_nan=drop_nan
        )
        console.print(str(chosen.table()), markup=False, highlight=False)
    else:
        ids, xs, ys, ws = read_long(data, series_col, x_col, y_col, source.weights_column,
                                    drop_nan)  # fmt: skip
        weights = None if ws is None else source.weights(ws)
        chosen = select_degree(
            xs, ys, max_degree, criterion=criterion, weights=weights, drop_nan=drop_nan
        )
        table = Table(title=f"degree by {chosen.criterion}, per series", title_justify="left")
        for column in ("series", "degree", "n", chosen.criterion):
            table.add_column(column)
        for b, name in enumerate(ids[:20]):
            d = int(chosen.degree[b])
            score = chosen.scores[chosen.criterion][b, d] if d >= 0 else np.nan
            table.add_row(name, str(d), str(int(chosen.n[b])), f"{score:.6g}")
        console.print(table)
        if len(ids) > 20:
            console.print(f"(the first 20 of {len(ids)} series)")
        for b, why in chosen.problems.items():
            console.print(f"series {ids[b]} not judged: {why}", markup=False)
    if json_path is not None:
        document = chosen.summary() | ({} if ids is None else {"series": list(ids)})
        write_text_atomic(json_path, json_text(document, indent=1), [data])
        wrote(console, json_path)
