"""Fits that converge: the seed's monomial GD against a mapped basis with lr="auto", measured.

Usage: python benchmarks/convergence.py [--plot docs/img/convergence.png]

Prints the steps each configuration needs to bring the MSE within 1e-8 (relative) of the
float64 least-squares optimum on the seed's data, the degree-10 check against lstsq, and
plots the relative MSE gap per step (log scale).
"""

from __future__ import annotations

import argparse

import numpy as np

import gradpoly
from gradpoly.plots import plot_gaps
from gradpoly.seed import seed_data

TARGET = 1e-8
RUNS = (
    ("seed: monomial, lr 1e-5, gd", dict(basis="monomial", lr=1e-5, optimizer="gd")),
    ("monomial, lr auto, gd", dict(basis="monomial", lr="auto", optimizer="gd")),
    ("chebyshev, lr auto, gd", dict(basis="chebyshev", lr="auto", optimizer="gd")),
    ("legendre, lr auto, gd", dict(basis="legendre", lr="auto", optimizer="gd")),
    ("chebyshev, lr auto, momentum", dict(basis="chebyshev", lr="auto", optimizer="momentum")),
    ("chebyshev, lr auto, nesterov", dict(basis="chebyshev", lr="auto", optimizer="nesterov")),
)


def first_below(gap: np.ndarray, level: float) -> int | None:
    """The first step whose relative gap is at most ``level`` (None if never)."""
    hits = np.flatnonzero(gap <= level)
    return int(hits[0]) if hits.size else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    x, y = seed_data()
    optimum = gradpoly.FitProblem.from_data(x, y, 4).mse_monomial(gradpoly.lstsq(x, y, 4))
    gaps = {}
    print(f"seed data, degree 4, float64; least-squares MSE {optimum:.9g}")
    for name, options in RUNS:
        result = gradpoly.fit(  # every step: the trace is what is compared
            x, y, degree=4, steps=args.steps, dtype="float64", engine="numpy", tol=None, **options
        )
        gap = (result.trace - optimum) / optimum
        gaps[name] = gap
        k = first_below(gap, TARGET)
        reached = f"step {k}" if k is not None else f"never in {args.steps:,} steps"
        print(
            f"{name:32} lr {result.lr:.4g}  beta {result.momentum:.3g}  "
            f"gap <= {TARGET:g}: {reached}  (final gap {gap[-1]:.3g})"
        )
    rng = np.random.default_rng(10)
    xs = np.sort(rng.uniform(-1, 4, 1000))
    ys = np.exp(-0.3 * xs) * np.cos(2 * xs) + 0.05 * rng.standard_normal(xs.size)
    best = gradpoly.lstsq(xs, ys, 10)
    fit10 = gradpoly.fit(
        xs,
        ys,
        degree=10,
        steps=100_000,
        lr="auto",
        basis="chebyshev",
        optimizer="nesterov",
        tol=1e-13,
        dtype="float64",
    )
    rel = np.max(np.abs(fit10.coef - best)) / np.max(np.abs(best))
    print(
        f"degree 10, 1,000 noisy points: {fit10.stop_reason}; max coefficient difference "
        f"to lstsq {rel:.2g} relative (target 1e-6)"
    )
    if args.plot:
        plot_gaps(
            gaps,
            args.plot,
            title="seed data: relative MSE gap to least squares, float64",
            level=TARGET,
        )
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
