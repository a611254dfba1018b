"""Degree selection on a grid: ``select_degree`` (0..6) against one degree-6 ``lstsq_many``
and against brute force (``lstsq_many`` at every degree), side by side.

Usage: python benchmarks/degree_selection.py [--series 10000] [--points 365] [--max-degree 6]
       [--repeats 7] [--json docs/degree_selection.json] [--markdown docs/degree_selection.md]

Median and spread of the repeats after a warm-up, every method on the same data in one run;
the ratio is to one ``lstsq_many`` of the largest degree (the issue's target: <= 3x). The
chosen degrees of every criterion are checked against brute force before anything is timed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np

import gradpoly
from gradpoly.bench.harness import repeat_timed, write_report
from gradpoly.selection import CRITERIA


def brute_force(x: np.ndarray, y: np.ndarray, top: int) -> dict[str, np.ndarray]:
    """Each information criterion by fitting every degree on its own (lstsq_many), as a user
    would without select_degree: the reference the choices are checked against."""
    n = y.shape[1]
    rss = np.stack(
        [gradpoly.lstsq_many(x, y, d).stats.residual_sum_squares for d in range(top + 1)], axis=1
    )
    k = np.arange(1, top + 2)[None, :]
    llf = -0.5 * n * (np.log(2 * np.pi) + np.log(rss / n) + 1)
    aic = -2 * llf + 2 * k
    return {
        "aic": aic,
        "aicc": aic + 2 * k * (k + 1) / (n - k - 1),
        "bic": -2 * llf + k * np.log(n),
        "gcv": n * rss / (n - k) ** 2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=365)
    parser.add_argument("--max-degree", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", default=None)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = np.arange(float(args.points))
    shape = rng.uniform(0.5, 2.0, (args.series, 1))
    y = np.sin(x / 60.0)[None, :] * shape + 0.1 * rng.standard_normal((args.series, args.points))
    top = args.max_degree
    reference = brute_force(x, y, top)
    agreement = {}
    for name in CRITERIA:
        if name == "loo":
            continue
        chosen = gradpoly.select_degree(x, y, top, criterion=name)
        agreement[name] = float(np.mean(chosen.degree == np.argmin(reference[name], axis=1)))
    calls: dict[str, Callable[[], Any]] = {
        f"lstsq_many, degree {top}": lambda: gradpoly.lstsq_many(x, y, top),
        **{
            f"select_degree 0..{top}, {name}": (
                lambda name=name: gradpoly.select_degree(x, y, top, criterion=name)
            )
            for name in ("aicc", "bic", "loo")
        },
        f"brute force: lstsq_many at each degree 0..{top}": lambda: [
            gradpoly.lstsq_many(x, y, d).stats.residual_sum_squares for d in range(top + 1)
        ],
    }
    rows = []
    base = None
    for name, call in calls.items():
        median, spread, _ = repeat_timed(call, args.repeats)
        base = median if base is None else base
        rows.append({"method": name, "ms": median * 1e3, "spread_ms": spread * 1e3,
                     "ratio": median / base})  # fmt: skip
    head = (
        f"{args.series:,} series x {args.points} points on one axis, degrees 0..{top}, median "
        f"of {args.repeats}; ratio to one degree-{top} lstsq_many"
    )
    lines = [head, "", "| method | ms | spread | ratio |", "|---|---:|---:|---:|"]
    lines += [
        f"| {r['method']} | {r['ms']:.2f} | {r['spread_ms']:.2f} | {r['ratio']:.2f}x |"
        for r in rows
    ]
    lines += ["", "Chosen degree equal to brute force's: " + ", ".join(
        f"{name} {100 * share:.2f}% of series" for name, share in agreement.items()
    )]  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text, end="")
    document = {
        "series": args.series, "points": args.points, "max_degree": top,
        "repeats": args.repeats, "rows": rows, "agreement": agreement,
    }  # fmt: skip
    write_report(args.json, args.markdown, document, text)


if __name__ == "__main__":
    main()
