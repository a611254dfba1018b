"""Robust fits of many series with outliers: ``robust_fit`` (Huber, bisquare, sigma clipping)
against one ``lstsq_many`` on the same data, and whether the outliers' influence is gone.

Usage: python benchmarks/robust.py [--series 10000] [--points 365] [--outliers 0.05]
       [--repeats 3] [--json docs/robust.json] [--markdown docs/robust.md]

Median and spread of the repeats after a warm-up, side by side in one run. "Within 3 SE" is
the share of coefficients within 3 standard errors of the least-squares fit of the same series
without outliers (the issue's criterion).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import gradpoly
from gradpoly.bench.harness import repeat_timed, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=365)
    parser.add_argument("--outliers", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = np.arange(float(args.points))
    shape = rng.uniform(0.5, 2.0, (args.series, 1))
    clean = np.sin(x / 60.0)[None, :] * shape + 0.1 * rng.standard_normal(
        (args.series, args.points)
    )
    dirty = clean.copy()
    hit = rng.random(dirty.shape) < args.outliers
    dirty[hit] += rng.choice([-1.0, 1.0], hit.sum()) * rng.uniform(1.0, 5.0, hit.sum())
    reference = gradpoly.lstsq_many(x, clean, 3)
    errors = np.asarray(reference.stats.stderr)

    def within(coef: Any) -> float:
        return float(np.mean(np.abs(np.asarray(coef) - reference.coef) <= 3 * errors))

    rows = []
    base, spread, plain = repeat_timed(lambda: gradpoly.lstsq_many(x, dirty, 3), args.repeats)
    rows.append({"method": "lstsq_many (least squares)", "seconds": base, "spread": spread,
                 "ratio": 1.0, "within_3se": within(plain.coef), "median_fits": 1})  # fmt: skip
    for norm in ("huber", "bisquare", "clip"):
        median, spread, found = repeat_timed(
            lambda n=norm: gradpoly.robust_fit(x, dirty, 3, norm=n), args.repeats
        )
        rows.append({"method": f"robust_fit, {norm}", "seconds": median, "spread": spread,
                     "ratio": median / base, "within_3se": within(found.coef),
                     "median_fits": float(np.median(found.iterations))})  # fmt: skip
    lines = [
        f"{args.series:,} series x {args.points} points, degree 3, {100 * args.outliers:g}% "
        f"outliers, median of {args.repeats}; ratio to lstsq_many on the same data",
        "",
        "| method | s | spread | ratio | within 3 SE of the clean fit | median fits |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['method']} | {r['seconds']:.3f} | {r['spread']:.3f} | {r['ratio']:.0f}x | "
        f"{100 * r['within_3se']:.2f}% | {r['median_fits']:g} |"
        for r in rows
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    document = {"series": args.series, "points": args.points, "outliers": args.outliers,
                "repeats": args.repeats, "rows": rows}  # fmt: skip
    write_report(args.json, args.markdown, document, text)


if __name__ == "__main__":
    main()
