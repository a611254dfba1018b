"""Constrained fits of many series: ``lstsq_many`` with one equality constraint against the
same fit without it, side by side (the roadmap's target: <= 1.5x).

Usage: python benchmarks/constraints.py [--series 10000] [--points 365] [--repeats 9]
       [--json docs/constraints.json] [--markdown docs/constraints.md]

Median and spread of the repeats after a warm-up; each constrained fit is first checked to
meet its constraint on every series.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import gradpoly
from gradpoly import monotone
from gradpoly.bench.harness import repeat_timed, write_report
from gradpoly.options import Basis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--json", default=None)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = np.arange(float(args.points))
    shape = rng.uniform(0.5, 2.0, (args.series, 1))
    y = np.sin(x / 60.0)[None, :] * shape + 0.1 * rng.standard_normal((args.series, args.points))
    middle = float(x[len(x) // 2])
    cases: dict[str, dict[str, Any]] = {
        "unconstrained": {},
        "fixed={0: 0.0} (through the origin)": {"fixed": {0: 0.0}},
        f"through=[({middle:g}, 0.5)]": {"through": [(middle, 0.5)]},
        f"slope=[({middle:g}, 0.0)]": {"slope": [(middle, 0.0)]},
    }
    fit = gradpoly.lstsq_many(x, y, 3, through=[(middle, 0.5)])
    assert np.allclose(fit.predict(np.array([middle])), 0.5, rtol=1e-9), "constraint not met"
    rising = np.tanh((x - middle) / 60.0)[None, :] * shape + 0.1 * rng.standard_normal(y.shape)
    bent = int((~monotone.certified(gradpoly.lstsq_many(x, rising, 5).basis_coef,
                                    Basis.CHEBYSHEV, 1.0)).sum())  # fmt: skip
    rows = []
    base = None
    for name, options in cases.items():
        median, spread, _ = repeat_timed(
            lambda o=options: gradpoly.lstsq_many(x, y, 3, **o), args.repeats
        )
        base = median if base is None else base
        rows.append({"case": name, "ms": median * 1e3, "spread_ms": spread * 1e3,
                     "ratio": median / base})  # fmt: skip
    plain, _, _ = repeat_timed(lambda: gradpoly.lstsq_many(x, rising, 5), args.repeats)
    shaped, spread, _ = repeat_timed(
        lambda: gradpoly.lstsq_many(x, rising, 5, monotone="increasing"), args.repeats
    )
    rows.append({"case": f"monotone, degree 5, rising data ({bent} fits turned back)",
                 "ms": shaped * 1e3, "spread_ms": spread * 1e3,
                 "ratio": shaped / plain})  # fmt: skip
    lines = [
        f"{args.series:,} series x {args.points} points on one axis, degree 3, median of "
        f"{args.repeats}; ratio to the unconstrained lstsq_many (of the same degree and data)",
        "",
        "| constraint | ms | spread | ratio |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['case']} | {r['ms']:.2f} | {r['spread_ms']:.2f} | {r['ratio']:.2f}x |" for r in rows
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    document = {"series": args.series, "points": args.points, "repeats": args.repeats,
                "rows": rows}  # fmt: skip
    write_report(args.json, args.markdown, document, text)


if __name__ == "__main__":
    main()
