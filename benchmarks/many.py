"""Many curves: a Python loop of np.polyfit against lstsq_many and fit_many, side by side.

Usage: python benchmarks/many.py [--series 10000] [--points 1000] [--repeats 3]

Each of B series has its own sorted x on [0, 10] and y = sin(x) + noise (seeded). Times are
medians of the repeats after a warm-up; coefficients are compared with np.polyfit's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from gradpoly import fit_many, lstsq_many


def median_seconds(run: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    """Median wall time of ``run`` over ``repeats`` after one warm-up, and its last output."""
    out = run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000)
    parser.add_argument("--degree", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    x = np.sort(rng.uniform(0, 10, (args.series, args.points)), axis=1)
    y = np.sin(x) + 0.1 * rng.standard_normal(x.shape)
    d = args.degree

    def loop() -> np.ndarray:
        return np.array([np.polyfit(a, b, d)[::-1] for a, b in zip(x, y, strict=True)])

    def closed() -> np.ndarray:
        return lstsq_many(x, y, d).coef

    def descent() -> np.ndarray:
        return fit_many(x, y, d, steps=5_000, lr="auto", basis="chebyshev", tol=1e-12).coef

    base, expected = median_seconds(loop, args.repeats)
    scale = np.abs(expected).max(axis=1, keepdims=True)
    print(
        f"{args.series:,} series x {args.points:,} points, degree {d}, float64, "
        f"median of {args.repeats}"
    )
    print(f"{'np.polyfit loop':34} {base:8.3f} s")
    for name, run in (
        ("lstsq_many (closed form)", closed),
        ("fit_many (chebyshev, lr auto, GD)", descent),
    ):
        seconds, coef = median_seconds(run, args.repeats)
        err = float(np.max(np.abs(coef - expected) / scale))
        print(
            f"{name:34} {seconds:8.3f} s  {base / seconds:5.1f}x faster  "
            f"max relative coefficient difference {err:.1e}"
        )


if __name__ == "__main__":
    main()
