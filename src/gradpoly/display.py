"""How results look in a notebook: small HTML tables and an inline SVG of a fitted curve.

Bottom layer (NumPy and the standard library only): the result classes call these from their
``_repr_html_`` so Jupyter shows a fit as a table and a sketch rather than a wall of numbers.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


def number(value: object, digits: int = 4) -> str:
    """A compact text for a number (``-`` for None; arrays as a short list)."""
    if value is None:
        return "-"
    array = np.asarray(value)
    if array.ndim == 0:
        v = float(array)
        return f"{v:.{digits}g}" if np.isfinite(v) else str(v)
    shown = ", ".join(number(v, digits) for v in array.reshape(-1)[:6])
    return f"[{shown}{', ...' if array.size > 6 else ''}]"


def table(title: str, rows: Sequence[tuple[str, object]]) -> str:
    """A two-column HTML table (name, value), values escaped."""
    cells = []
    for name, value in rows:
        text = value if isinstance(value, str) else number(value)
        cells.append(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(name)}</th>"
            f"<td style='text-align:left'>{html.escape(text)}</td></tr>"
        )
    caption = f"<caption style='text-align:left'><b>{html.escape(title)}</b></caption>"
    return f"<table>{caption}{''.join(cells)}</table>"


def sketch(
    curve: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
    domain: tuple[float, float],
    width: int = 220,
    height: int = 90,
) -> str:
    """An inline SVG of ``curve`` over ``domain`` (a polyline, axes' ranges as labels); empty
    when the curve is not finite there."""
    lo, hi = (float(v) for v in domain)
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        return ""
    x = np.linspace(lo, hi, 120)
    with np.errstate(all="ignore"):
        y = np.asarray(curve(x), dtype=np.float64)
    if not np.isfinite(y).all():
        return ""
    bottom, top = float(y.min()), float(y.max())
    span = top - bottom if top > bottom else 1.0
    px = 4 + (x - lo) / (hi - lo) * (width - 8)
    py = height - 14 - (y - bottom) / span * (height - 22)
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
    label = f"x in [{number(lo)}, {number(hi)}], y in [{number(bottom)}, {number(top)}]"
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='{html.escape(label)}'>"
        f"<polyline fill='none' stroke='#1f77b4' stroke-width='2' points='{points}'/>"
        f"<text x='4' y='{height - 2}' font-size='9' fill='#555'>{html.escape(label)}</text></svg>"
    )


@dataclass(frozen=True)
class Summary:
    """A statistics table as statsmodels' ``summary()`` gives one: one renderer for the CLI
    (rich), notebooks (HTML) and plain text (``str``), so every front door shows the same
    cells. ``rows`` hold formatted text; ``footer`` the lines below the table."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    footer: tuple[str, ...] = ()

    def __str__(self) -> str:
        widths = [
            max(len(cell) for cell in column)
            for column in zip(self.columns, *self.rows, strict=True)
        ]
        lines = [self.title]
        for row in (self.columns, *self.rows):
            cells = [
                cell.ljust(width) if j == 0 else cell.rjust(width)
                for j, (cell, width) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  ".join(cells).rstrip())
        return "\n".join([*lines, *self.footer])

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in self.rows
        )
        caption = f"<caption style='text-align:left'><b>{html.escape(self.title)}</b></caption>"
        notes = "".join(f"<p>{html.escape(line)}</p>" for line in self.footer)
        return f"<table>{caption}<tr>{head}</tr>{body}</table>{notes}"

    def __rich__(self) -> object:
        from rich.console import Group
        from rich.table import Table

        table = Table(title=self.title, title_justify="left")
        for j, column in enumerate(self.columns):
            table.add_column(column, justify="left" if j == 0 else "right")
        for row in self.rows:
            table.add_row(*row)
        return Group(table, *self.footer)
