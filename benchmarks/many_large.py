"""1,000,000 series x 100 points, degree 4: does it fit in memory, and how long does it take?

Usage: python benchmarks/many_large.py [--series 1000000] [--points 100] [--engine numba]

Generates the data (float64, seeded), then runs lstsq_many and fit_many (chebyshev, lr auto,
tol 1e-10) with a progress bar over blocks of 65,536 series. Prints wall times, the peak
resident memory of this process (ru_maxrss, which includes the 1.6 GB of input) and the
largest coefficient difference between the two methods.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from gradpoly import fit_many, lstsq_many


def peak_rss_gib() -> float:
    """Peak resident set size of this process so far, in GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1_000_000)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--engine", default="numba")
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 10, (args.series, args.points))
    y = np.sin(x) + 0.1 * rng.standard_normal(x.shape)
    print(
        f"{args.series:,} series x {args.points} points, degree 4, float64, engine "
        f"{args.engine}; input {2 * x.nbytes / 2**30:.2f} GiB; peak RSS after generating "
        f"{peak_rss_gib():.2f} GiB"
    )
    results = {}
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    for label, run in (
        ("lstsq_many", lambda p: lstsq_many(x, y, 4, engine=args.engine, progress=p)),
        (
            "fit_many GD",
            lambda p: fit_many(x, y, 4, steps=5_000, tol=1e-10, engine=args.engine, progress=p),
        ),
    ):
        with Progress(*columns, transient=True) as bar:
            task = bar.add_task(f"{label}: statistics", total=args.series)
            start = time.perf_counter()
            result = run(lambda done, total, t=task: bar.update(t, completed=done))
            seconds = time.perf_counter() - start
        results[label] = result
        print(
            f"{label:12} {seconds:7.2f} s  {int(result.valid.sum()):,} series fitted, "
            f"max steps {int(result.steps_run.max())}, peak RSS so far {peak_rss_gib():.2f} GiB"
        )
    a, b = results["lstsq_many"].coef, results["fit_many GD"].coef
    diff = float(np.max(np.abs(a - b) / np.abs(a).max(axis=1, keepdims=True)))
    print(f"max relative coefficient difference, GD vs closed form: {diff:.1e}")


if __name__ == "__main__":
    main()
