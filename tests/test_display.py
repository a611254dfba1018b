"""Notebook display: one-line reprs, small HTML tables, an inline SVG of the fit."""

from __future__ import annotations

import numpy as np
import pytest

import gradpoly
from gradpoly import display


def test_numbers_tables_and_sketches() -> None:
    assert display.number(None) == "-"
    assert display.number(0.000123456) == "0.0001235"
    assert display.number(np.arange(8.0)) == "[0, 1, 2, 3, 4, 5, ...]"
    html = display.table("a <b>", [("x<y", "1 & 2"), ("n", 3.0)])
    assert "a &lt;b&gt;" in html
    assert "x&lt;y" in html
    assert "1 &amp; 2" in html
    assert display.sketch(np.sin, (0.0, 1.0)).startswith("<svg")
    assert display.sketch(np.sin, (1.0, 1.0)) == ""  # no interval to draw
    assert display.sketch(lambda x: x / 0.0, (0.0, 1.0)) == ""  # not finite


def test_results_show_one_line_and_a_table() -> None:
    x = np.linspace(0, 5, 100)
    y = np.sin(x)
    fit = gradpoly.fit(x, y, 3, **gradpoly.NOTEBOOK.options() | {"steps": 50})
    many = gradpoly.lstsq_many(x, np.vstack([y, 2 * y]), 3)
    closed = gradpoly.lstsq(x, y, 3, full=True)
    for shown in (fit, many, closed, closed.stats, many.stats):
        text = repr(shown)
        assert "\n" not in text
        assert len(text) < 200
        assert "<table>" in shown._repr_html_()
    assert repr(fit).startswith("FitResult(degree 3, numpy-manual-cpu-eager-per-sample-float32")
    assert "<svg" in fit._repr_html_()  # a monomial fit is drawn over its data's range
    assert "<svg" in closed._repr_html_()
    assert "2 series" in repr(many)


def test_one_statistics_table_for_the_cli_notebooks_and_text() -> None:
    """The t/p table was built only in the CLI: notebooks never saw it."""
    from rich.console import Console

    x = np.linspace(0, 10, 25)
    y = 0.5 + 1.9 * x - 0.02 * x**2 + 0.05 * np.random.default_rng(7).standard_normal(25)
    stats = gradpoly.lstsq(x, y, 2, full=True).stats
    table = stats.table(0.9)
    text = str(table)
    assert "P>|t|" in text
    assert "[5%" in text
    assert "dof 22" in text
    assert "P&gt;|t|" in stats._repr_html_()
    for row in table.rows:
        assert all(cell in text for cell in row)
    console = Console(record=True, width=120)
    console.print(table)
    shown = console.export_text()
    assert all(cell in shown for row in table.rows for cell in row)


def test_a_batch_has_no_single_table() -> None:
    x = np.linspace(0, 1, 20)
    many = gradpoly.lstsq_many(x, np.vstack([x, 2 * x + x**2]), 2)
    with pytest.raises(gradpoly.InvalidOptionError, match="one fit's"):
        many.stats.table()
