"""Markdown tables rendered from the JSON the benchmark scripts write (``docs/*.json``).

The documentation site (``docs_tools/hooks.py``) and the README (``benchmarks/readme_sync.py``)
both call :func:`expand`, so a figure on a page is the figure a benchmark wrote, never a copy.
Directives, each alone on a line: ``{{ table NAME }}`` (a renderer below), ``{{ machine NAME }}``
(where NAME.json was measured) and ``{{ include FILE }}`` (a text file a script wrote, as a block).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs"
DIRECTIVE = re.compile(r"^\{\{ (table|machine|include) ([\w./-]+) \}\}$", re.MULTILINE)

Row = Sequence[object]


def load(name: str) -> dict[str, Any]:
    """``docs/NAME.json``, as the benchmark script wrote it."""
    return dict(json.loads((DOCS / f"{name}.json").read_text(encoding="utf-8")))


def markdown(headers: Sequence[str], rows: Iterable[Row], right: int = 1) -> str:
    """A markdown table; columns from ``right`` on are right-aligned (numbers)."""
    align = ["---" if i < right else "---:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return _g(value)
    return str(value).replace("|", "\\|")


def _g(value: float, digits: int = 3) -> str:
    """Three significant digits, thousands separated, no exponent for everyday sizes."""
    if value != value:  # NaN
        return "-"
    if value == 0 or 1e-4 <= abs(value) < 1e7:
        text = f"{value:,.{max(digits - 1 - _exponent(value), 0)}f}"
        return text
    return f"{value:.{digits - 1}e}"


def _exponent(value: float) -> int:
    return math.floor(math.log10(abs(value))) if value else 0


def _us_per_step(m: dict[str, Any] | None) -> float | None:
    if not m or m.get("status", "ok").startswith("unavailable"):
        return None
    return float(m["median_s"]) / int(m["steps"]) * 1e6


# --- one renderer per benchmark document ------------------------------------------------------


def bench() -> str:
    """``gradpoly bench``: every engine configuration on the seed problem."""
    doc = load("bench")
    base = {r["name"]: r for r in doc["results"]}.get("numpy-as-written")
    rows = []
    for r in doc["results"]:
        ran = r.get("status", "ok").startswith("ok")
        ratio = base["median_s"] / r["median_s"] if ran and base else None
        rows.append(
            (
                r["name"],
                r["median_s"] * 1e3 if ran else None,
                r["iqr_s"] * 1e3 if ran else None,
                _us_per_step(r) if ran else None,
                ratio,
                r.get("final_mse") if ran else None,
                r.get("status", "ok"),
            )
        )
    headers = ["configuration", "median ms", "IQR ms", "µs/step", "x numpy-as-written"]
    return markdown([*headers, "final MSE", "status"], rows)


def ladder() -> str:
    """``gradpoly ladder``: the seed's torch loop with one remedy at a time."""
    doc = load("ladder")
    seed = _us_per_step(doc["rungs"][0]["autograd"])
    rows = []
    for r in doc["rungs"]:
        manual, auto = _us_per_step(r["manual"]), _us_per_step(r["autograd"])
        tax = auto / manual if auto and manual else None
        best = auto or manual
        counted = [r[k] for k in ("manual_ops", "autograd_ops") if r.get(k) is not None]
        ops = ", ".join(f"{v:.0f}" if v == v else "-" for v in counted)
        ops = ops if any(v == v for v in counted) else "compiled"
        rows.append((r["rung"], r["change"], manual, auto, tax, ops, seed / best if best else None))
        if r["autograd"] is not None and not r["autograd"].get("status", "ok").startswith("ok"):
            rows[-1] = (r["rung"], r["change"], None, None, None, r["autograd"]["status"], None)
    headers = ["rung", "change", "manual µs/step", "autograd µs/step", "autograd / manual"]
    return markdown([*headers, "ops/step (manual, autograd)", "x seed autograd"], rows, 2)


def compile_cache() -> str:
    """``benchmarks/compile_cache.py``: a fresh process's first compiled fit."""
    doc = load("compile_cache")
    rows = [
        (
            r["case"],
            r["first_fit_seconds"],
            r.get("package_ready_seconds"),
            r.get("eager_steps", 0),
            r["warm_fit_seconds"],
        )
        for r in doc["rows"]
    ]
    headers = ["case", "first result s", "package loaded at s", "steps run eager", "warm fit s"]
    return markdown(headers, rows)


def grids() -> str:
    """``benchmarks/grids.py``: many series on one axis, clean and gapped, against numpy/xarray."""
    rows, maps, cube = [], [], []
    for r in load("grids")["rows"]:
        if "passes" in r:
            ms = r["seconds"] * 1e3
            rows.append((r["case"], r["method"], ms, r["speedup"], r["passes"], r["max_rel_diff"]))
        elif "speedup" in r:  # the in-memory maps: seconds
            maps.append((r["case"], r["method"], r["seconds"], r["speedup"], r["max_rel_diff"]))
        else:  # the dask cube: seconds and memory
            cube.append((r["case"], r["method"], r["seconds"], r["peak_rss_gib"], r["checksum"]))
    headers = ["case", "method", "ms", "speed-up", "reads of Y", "max rel. diff"]
    table = markdown(headers, rows, 2)
    if maps:
        headers = ["map (time, y, x)", "method", "s", "speed-up", "max rel. diff"]
        table += "\n\n" + markdown(headers, maps, 2)
    if cube:
        table += "\n\n" + markdown(["case", "method", "s", "peak RSS GiB", "checksum"], cube, 2)
    return table


def many() -> str:
    """``benchmarks/many.py``: B series with their own x."""
    rows = [(r["method"], r["seconds"] * 1e3, r["spread"] * 1e3) for r in load("many")["rows"]]
    return markdown(["method", "ms", "spread ms"], rows)


def small_fit() -> str:
    """``benchmarks/small_fit.py``: one fit of 100 points."""
    rows = [
        (r["method"], r["microseconds"], r["vs_polyfit"], r["steps"])
        for r in load("small_fit")["rows"]
    ]
    return markdown(["method", "µs", "x np.polyfit", "GD steps"], rows)


def certified() -> str:
    """``benchmarks/certified.py``: correct digits (coef / std err) on NIST's certified sets."""
    rows = load("certified")["rows"]
    paths = list(dict.fromkeys(r["path"] for r in rows))
    sets = list(dict.fromkeys((r["set"], r["degree"]) for r in rows))
    cell = {
        (r["set"], r["path"]): f"{r['coef_digits']:.1f} / {r['stderr_digits']:.1f}" for r in rows
    }
    table = [(f"{name} ({degree})", *(cell.get((name, p)) for p in paths)) for name, degree in sets]
    return markdown(["set (degree)", *(f"{p} coef / std err" for p in paths)], table)


def hard_set() -> str:
    """``benchmarks/hard_set.py``: worst relative coefficient error per kind of hard data."""
    doc = load("hard_set")
    kinds = list(doc["kinds"])
    rows = [
        (
            r["path"],
            *(f"{r[k]['worst']:.1e} ({r[k]['converged']}/{r[k]['problems']})" for k in kinds),
        )
        for r in doc["rows"]
    ]
    return markdown(["path", *kinds], rows, len(kinds) + 1)


def _worst(cell: dict[str, Any]) -> str:
    return f"{cell['worst']:.1e} ({cell['converged']}/{cell['problems']} converged)"


def seed_demo() -> str:
    """``gradpoly demo``: the notebook's five presets, 200,000 steps each."""
    doc = load("seed_demo")
    rows = [
        (p["preset"], p.get("seconds"), p.get("final_mse"), "unavailable" if p["reason"] else "ok")
        for p in doc["presets"]
    ]
    return markdown(["preset", "seconds", "final MSE", "status"], rows)


def dask_scaling() -> str:
    """``benchmarks/dask_scaling.py``: out-of-core lstsq against in-memory NumPy."""
    rows = [
        (
            r["n"],
            min(r["dask"]["times"]),
            min(r["numpy"]["times"]) if r["numpy"]["times"] else None,
            r["dask"]["peak_gib"],
            r["numpy"]["peak_gib"] if r["numpy"]["times"] else None,
        )
        for r in load("dask_scaling")["rows"]
    ]
    headers = ["points", "dask s", "numpy s", "dask peak GiB", "numpy peak GiB"]
    return markdown(headers, rows)


RENDERERS: dict[str, Callable[[], str]] = {
    f.__name__: f
    for f in (
        bench,
        ladder,
        compile_cache,
        grids,
        many,
        small_fit,
        certified,
        hard_set,
        seed_demo,
        dask_scaling,
    )
}


def machine(name: str) -> str:
    """One line: where and with what ``docs/NAME.json`` was measured."""
    m = load(name).get("machine", {})
    parts = [f"{m.get('processor') or m.get('machine', '?')}, {m.get('cpu_count', '?')} cores"]
    parts += [f"{k} {m[k]}" for k in ("python", "numpy", "torch") if k in m]
    return f"*Measured on {', '.join(parts)} (`docs/{name}.json`).*"


def include(file: str) -> str:
    """A file a benchmark script wrote, verbatim: markdown as it is, text as a block."""
    text = (DOCS / file).read_text(encoding="utf-8").rstrip()
    return text if file.endswith(".md") else f"```text\n{text}\n```"


def expand(text: str) -> str:
    """Replace every directive in ``text`` by what it generates."""

    def one(match: re.Match[str]) -> str:
        kind, arg = match.groups()
        if kind == "table":
            return RENDERERS[arg]()
        return machine(arg) if kind == "machine" else include(arg)

    return DIRECTIVE.sub(one, text)
