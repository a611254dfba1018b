"""Monotone fits on random small grids: how many series each engine leaves unfitted, and
where the compiled and NumPy paths disagree.

Usage: python benchmarks/monotone_agreement.py [--trials 300] [--seed 11]
       [--json docs/monotone_agreement.json] [--markdown docs/monotone_agreement.md]

Each trial draws a grid (1-29 series of 2-39 points, degree 0-7, noisy, rising, gapped or
constant series, each scaled by 10^-5..10^5, increasing or decreasing) and fits it with
``lstsq_many(monotone=...)`` on numba (the compiled steps, forced from one series) and on
NumPy. It counts the series left unfitted ("no monotone fit could be certified") and the
series valid on one path only or whose coefficients differ by more than 1e-6 of their size.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np

import gradpoly
from gradpoly.batched import numba_batch
from gradpoly.bench.harness import write_report


def grid(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int, str]:
    """One random grid: x, y (B, N), the degree and the direction."""
    count, points = int(rng.integers(1, 30)), int(rng.integers(2, 40))
    degree = int(rng.integers(0, 8))
    x = np.sort(rng.uniform(-5, 5, points)) if rng.random() < 0.8 else np.arange(float(points))
    kind = rng.integers(0, 4)
    y = rng.standard_normal((count, points)) * 10.0 ** rng.uniform(-5, 5, (count, 1))
    if kind == 1:
        y += np.cumsum(np.abs(rng.standard_normal((count, points))), axis=1)
    if kind == 2:
        y[:, ::3] = np.nan
    if kind == 3:
        y[: count // 2] = 1.0
    return x, y, degree, "increasing" if rng.random() < 0.5 else "decreasing"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", default=None)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    numba_batch.COMPILED_SHAPES_FROM = 1  # the compiled steps on every grid
    unfitted = {"numba": 0, "numpy": 0}
    series = one_valid = apart = 0
    for _ in range(args.trials):
        x, y, degree, direction = grid(rng)
        options: dict[str, Any] = {"monotone": direction, "drop_nan": bool(np.isnan(y).any())}
        fits = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for engine in unfitted:
                fits[engine] = gradpoly.lstsq_many(x, y, degree, engine=engine, **options)
        for engine, fit in fits.items():
            unfitted[engine] += sum("certified" in why for why in fit.problems.values())
        a, b = fits["numba"], fits["numpy"]
        series += len(y)
        one_valid += int((a.valid != b.valid).sum())
        both = a.valid & b.valid
        size = np.maximum(np.abs(b.coef[both]).max(axis=1, initial=0.0), 1e-300)
        apart += int((np.abs(a.coef[both] - b.coef[both]).max(axis=1) > 1e-6 * size).sum())
    text = (
        f"{args.trials} random grids, {series:,} series (seed {args.seed}): left unfitted "
        f"{unfitted['numba']} (numba, compiled) and {unfitted['numpy']} (NumPy); valid on one "
        f"path only {one_valid}; coefficients more than 1e-6 apart {apart}\n"
    )
    print(text, end="")
    document = {"trials": args.trials, "seed": args.seed, "series": series,
                "unfitted": unfitted, "valid_on_one_path": one_valid,
                "coefficients_apart": apart}  # fmt: skip
    write_report(args.json, args.markdown, document, text)


if __name__ == "__main__":
    main()
