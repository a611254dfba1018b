"""What batched statistics cost on top of lstsq_many: 20,000 series x 200 points, degree 3.

Usage: python benchmarks/stats_cost.py [--series 20000] [--repeats 9] [--engine numba]

Times lstsq_many alone and the statistics afterwards (stderr, residual_std, r_squared), each
the median of the repeats after a warm-up, and prints the ratio (issue target: <= 1.3x).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import gradpoly


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=20_000)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--engine", default="numba")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 1, (args.series, args.points)), axis=1)
    y = np.sin(3 * x) + 0.1 * rng.standard_normal(x.shape)
    warm = gradpoly.lstsq_many(x[:100], y[:100], 3, engine=args.engine)
    np.asarray(warm.stats.stderr)  # warm-up: compiles the kernels
    solve, stats = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = gradpoly.lstsq_many(x, y, 3, engine=args.engine)
        solve.append(time.perf_counter() - start)
        start = time.perf_counter()
        s = result.stats
        np.asarray([s.stderr.sum(), s.residual_std.sum(), s.r_squared.sum()])  # computed now
        stats.append(time.perf_counter() - start)
    a, b = float(np.median(solve)), float(np.median(stats))
    iqr = float(np.subtract(*np.percentile(solve, [75, 25])))
    print(
        f"{args.series:,} series x {args.points} points, degree 3, {args.engine}: lstsq_many "
        f"{1e3 * a:.1f} ms (IQR {1e3 * iqr:.1f}), statistics {1e3 * b:.1f} ms: "
        f"{(a + b) / a:.2f}x lstsq_many alone (median of {args.repeats})"
    )


if __name__ == "__main__":
    main()
