"""Inverse prediction at scale: 1e5 calibrations (measured values read back to x) with their
intervals, on one curve and on 1e5 curves, each interval kind timed side by side.

Usage: python benchmarks/calibration.py [--count 100000] [--repeats 5]
       [--json docs/calibration.json] [--markdown docs/calibration.md]

Median and spread of the repeats after a warm-up; the target (issue 26) is <= 1 s for 1e5
calibrations with intervals. Before timing, the classical intervals of straight lines are
checked against Fieller's closed form.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

import gradpoly
from gradpoly.bench.harness import repeat_timed, write_report


def fieller_error(x: np.ndarray, y: np.ndarray, targets: np.ndarray) -> float:
    """Largest relative difference of the classical interval from Fieller's closed form."""
    fit = gradpoly.lstsq(x, y, 1, full=True)
    _, low, high = fit.inverse(targets, interval="classical")
    n = x.size
    b, a = np.polyfit(x, y, 1)
    s2 = np.sum((y - a - b * x) ** 2) / (n - 2)
    sxx = np.sum((x - x.mean()) ** 2)
    q = scipy_stats.t.ppf(0.975, n - 2)
    g = q * q * s2 / (b * b * sxx)
    centre = x.mean() + (targets - y.mean()) / (b * (1 - g))
    half = np.abs(q * np.sqrt(s2) / (b * (1 - g))) * np.sqrt(
        (1 + 1 / n) * (1 - g) + (targets - y.mean()) ** 2 / (b * b * sxx)
    )
    expected = np.concatenate([centre - half, centre + half])
    got = np.concatenate([low, high])
    return float(np.max(np.abs(got - expected) / np.abs(expected)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 10.0, 12)
    check = fieller_error(x, 1.0 + 2.0 * x + 0.3 * rng.standard_normal(12), np.linspace(3, 20, 50))
    slopes = rng.uniform(0.5, 2.0, (args.count, 1))
    curves = 1.0 + slopes * x + 0.02 * x**2 + 0.1 * rng.standard_normal((args.count, 12))
    many = gradpoly.lstsq_many(x, curves, 2)
    per_curve = 5.0 + 4.0 * slopes[:, 0]
    one = gradpoly.lstsq(x, curves[0], 2, full=True)
    readings = np.linspace(3.0, 15.0, args.count)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # readings beyond a curve's range: NaN, said once
        for kind in (None, "delta", "classical"):
            label = kind or "no interval"
            cases: list[tuple[str, Callable[[], Any]]] = [
                (f"{args.count:,} curves, one reading each",
                 lambda k=kind: many.inverse(per_curve, interval=k)),
                (f"one curve, {args.count:,} readings",
                 lambda k=kind: one.inverse(readings, interval=k)),
            ]  # fmt: skip
            for where, run in cases:
                median, spread, _ = repeat_timed(run, args.repeats)
                rows.append({"case": where, "interval": label, "seconds": median,
                             "spread": spread})  # fmt: skip
    lines = [
        f"{args.count:,} inverse predictions (degree-2 curves on 12 standards), median of "
        f"{args.repeats}; classical intervals of lines equal Fieller's closed form to "
        f"{check:.1e}",
        "",
        "| case | interval | s | spread |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| {r['case']} | {r['interval']} | {r['seconds']:.3f} | {r['spread']:.3f} |" for r in rows
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    document = {"count": args.count, "repeats": args.repeats, "fieller_max_rel_diff": check,
                "rows": rows}  # fmt: skip
    write_report(args.json, args.markdown, document, text)


if __name__ == "__main__":
    main()
