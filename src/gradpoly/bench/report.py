"""Tables, files and figures made only from Measurements (and ladder rows built from them)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from gradpoly.bench.harness import Measurement
from gradpoly.bench.ladder import LadderRow
from gradpoly.environment import describe_machine
from gradpoly.outputs import json_text, write_text_atomic

CSV_FIELDS = (
    "name",
    "engine",
    "gradient",
    "device",
    "mode",
    "strategy",
    "dtype",
    "steps",
    "median_s",
    "iqr_s",
    "compile_s",
    "per_step_us",
    "final_mse",
    "max_coef_err",
    "status",
    "reason",
    "noisy",
    "threads",
)


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:,.1f}" if seconds == seconds else "-"


def baseline(measurements: Sequence[Measurement], name: str) -> Measurement | None:
    """The measurement called ``name`` if it ran correctly (the ratio's denominator)."""
    for m in measurements:
        if m.spec.name == name and m.status == "ok":
            return m
    return None


def bench_table(
    measurements: Sequence[Measurement], title: str, base: str = "numpy-as-written"
) -> Table:
    """A rich table: one row per configuration, its speed-up over ``base`` from the same run.

    Without ``base`` in the run, the speed-up is over the ``numpy`` preset.
    """
    ref = baseline(measurements, base)
    if ref is None:
        base, ref = "numpy", baseline(measurements, "numpy")
    table = Table(title=title, title_justify="left")
    for column in (
        "configuration",
        "median ms",
        "IQR ms",
        "compile s",
        "us/step",
        f"x {base}",
        "final MSE",
        "status",
    ):
        table.add_column(
            column, justify="left" if column in ("configuration", "status") else "right"
        )
    for m in measurements:
        if m.status == "unavailable":
            table.add_row(m.spec.name, "-", "-", "-", "-", "-", "-", "unavailable")
            continue
        ratio = f"{ref.median / m.median:,.1f}" if ref and m.status == "ok" else "-"
        status = m.status + (" (noisy)" if m.noisy else "")
        table.add_row(
            m.spec.name,
            _ms(m.median),
            _ms(m.iqr),
            f"{m.compile_seconds:.2f}",
            f"{m.per_step_us:.3g}",
            ratio,
            f"{m.final_mse:.6f}",
            status,
        )
    return table


def bench_document(measurements: Sequence[Measurement], **settings: Any) -> dict[str, Any]:
    """JSON document: the settings, the machine, and one record per configuration."""
    return {
        "settings": settings,
        "machine": describe_machine(),
        "results": [m.to_dict() for m in measurements],
    }


def write_json(path: str | Path, document: dict[str, Any]) -> Path:
    """Write a JSON document atomically."""
    return write_text_atomic(path, json_text(document, indent=2) + "\n")


def write_csv(path: str | Path, measurements: Sequence[Measurement]) -> Path:
    """One CSV row per configuration (samples left out; they are in the JSON)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for m in measurements:
        writer.writerow(m.to_dict())
    return write_text_atomic(path, buffer.getvalue())


def _us(m: Measurement | None) -> str:
    if m is None:
        return "n/a"
    if m.status != "ok":
        return m.status
    return f"{m.per_step_us:.3g}"


def _ratio(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:,.0f}"


def ladder_markdown(rows: Sequence[LadderRow], steps: int) -> str:
    """The ladder as a markdown table: µs per step, autograd tax, ops and µs per op."""
    seed = rows[0].autograd
    lines = [
        "| rung | change | manual µs/step | autograd µs/step | autograd / manual | "
        "ops/step (manual, autograd) | µs/op (manual, autograd) | x seed autograd |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        m, a = row.manual, row.autograd
        tax = f"{a.median / m.median:.2f}" if m and a and m.status == a.status == "ok" else "-"
        ops = (
            f"{row.manual_ops:.0f}, {row.autograd_ops:.0f}"
            if row.manual_ops == row.manual_ops
            else ("compiled" if row.rung.mode == "compiled" else "no loop")
        )
        per_op = "-"
        if row.manual_ops == row.manual_ops and m and a:
            per_op = f"{m.per_step_us / row.manual_ops:.2f}, {a.per_step_us / row.autograd_ops:.2f}"
        ran = a if a is not None else m  # autograd where the rung has it
        good = seed and ran and seed.status == ran.status == "ok"
        speedup = _ratio(seed.median / ran.median) if good else "-"  # type: ignore[union-attr]
        lines.append(
            f"| {row.rung.name} | {row.rung.change} | {_us(m)} | {_us(a)} | {tax} | "
            f"{ops} | {per_op} | {speedup} |"
        )
    lines.append("")
    lines.append(
        f"{steps:,} steps per run, median of the repeats; float32; "
        "'x seed autograd' compares the rung's autograd run (its manual one where it has "
        "no autograd) with rung 0's autograd run."
    )
    return "\n".join(lines) + "\n"


def ladder_document(rows: Sequence[LadderRow], **settings: Any) -> dict[str, Any]:
    """JSON document of the ladder."""
    return {
        "settings": settings,
        "machine": describe_machine(),
        "rungs": [
            {
                "rung": r.rung.name,
                "change": r.rung.change,
                "manual_ops": r.manual_ops,
                "autograd_ops": r.autograd_ops,
                "manual": r.manual.to_dict() if r.manual else None,
                "autograd": r.autograd.to_dict() if r.autograd else None,
            }
            for r in rows
        ],
    }
