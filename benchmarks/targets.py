"""Print the benchmark targets as ratios measured side by side in one ``gradpoly bench`` run.

Usage: python benchmarks/targets.py docs/bench.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def load(path: Path) -> dict[str, dict[str, Any]]:
    """Bench records by configuration name, only those that ran and passed the gate."""
    records = json.loads(path.read_text())["results"]
    return {r["name"]: r for r in records if r["status"] == "ok"}


def targets(ok: dict[str, dict[str, Any]]) -> list[str]:
    """One line per target: the measured figure, the target, and met/missed."""
    lines = []

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    fastest = min(ok.values(), key=lambda r: r["median_s"])
    lines.append(
        f"fastest: {fastest['name']} {1e3 * fastest['median_s']:.2f} ms "
        f"(target <= 10 ms): {verdict(fastest['median_s'] <= 0.010)}"
    )
    if "numpy-as-written" in ok:
        ratio = ok["numpy-as-written"]["median_s"] / fastest["median_s"]
        lines.append(
            f"fastest vs the notebook's numpy loop: {ratio:,.0f}x (target >= 270x): "
            f"{verdict(ratio >= 270)}"
        )
    pairs = {
        "torch compiled per-sample": ("torch-compiled", "torch-autograd-compiled"),
        "torch compiled gram": ("torch-compiled-gram", "torch-autograd-compiled-gram"),
        "torch eager": ("torch", "torch-autograd"),
        "jax per-sample": ("jax", "jax-autograd"),
        "jax gram": ("jax-gram", "jax-autograd-gram"),
    }
    for label, (manual, auto) in pairs.items():
        if manual in ok and auto in ok:
            tax = ok[auto]["median_s"] / ok[manual]["median_s"]
            lines.append(
                f"autograd tax, {label}: {tax:.2f}x (target <= 1.1x): {verdict(tax <= 1.1)}"
            )
    torch_auto = [
        r
        for r in ok.values()
        if r["engine"] == "torch" and r["gradient"] == "autograd" and "as-written" not in r["name"]
    ]
    if torch_auto and "torch-autograd-as-written" in ok:
        best = min(torch_auto, key=lambda r: r["median_s"])
        ratio = ok["torch-autograd-as-written"]["median_s"] / best["median_s"]
        lines.append(
            f"best torch autograd ({best['name']}) vs the notebook's autograd loop: "
            f"{ratio:.1f}x (target >= 50x): {verdict(ratio >= 50)}"
        )
        lines.append(
            f"its warm-up's excess over a warm run in this process: {best['compile_s']:.1f} s "
            "(packages already on disk load instead of compiling; a cold compile is below)"
        )
    finals = sorted({f"{r['final_mse']:.5f}" for r in ok.values()})
    lines.append(f"final MSE of every configuration that passed the gate: {', '.join(finals)}")
    return lines


def cold_compile(path: Path) -> list[str]:
    """The cold-compile target, from ``compile_cache.json`` beside the bench document."""
    if not path.is_file():
        return [f"cold compile: not measured ({path.name} missing; run compile_cache.py)"]
    doc = json.loads(path.read_text())
    rows = {r["case"].split(":")[0].split(" (")[0]: r for r in doc["rows"]}
    config = f"torch {doc['args']['gradient']} {doc['args']['strategy']}"
    lines = []
    fresh = rows.get("empty caches")
    if fresh is not None:
        seconds = fresh["first_fit_seconds"]
        lines.append(
            f"cold first result, {config} (a fresh process, empty caches, imports included; "
            f"eager steps while a builder builds the package): {seconds:.1f} s "
            f"(target <= 10 s): {'met' if seconds <= 10 else 'MISSED'}; the package was "
            f"loaded at {fresh['package_ready_seconds']:.1f} s"
        )
    for case in ("caches disabled", "empty caches, waiting"):
        if case in rows:
            lines.append(f"the package built in the call ({case}): "
                         f"{rows[case]['first_fit_seconds']:.1f} s")  # fmt: skip
    warm = rows.get("caches filled by the builder")
    if warm is not None:
        seconds = warm["first_fit_seconds"]
        lines.append(f"first fit of every later process (packages on disk): {seconds:.1f} s")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    bench = Path(argv[1])
    for line in [*targets(load(bench)), *cold_compile(bench.with_name("compile_cache.json"))]:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
