"""Certified accuracy: NIST StRD's polynomial sets, coefficients and statistics, digit by digit.

Usage: python benchmarks/certified.py [--json docs/certified.json] [--markdown docs/certified.md]

For each polynomial set of NIST's Statistical Reference Datasets (Norris, Pontius, Wampler1-5,
Filip: certified to 15 digits) it prints the correct significant digits (NIST's log relative
error, capped at 15) of the coefficients, their standard errors, the residual standard
deviation and R² for gradpoly's closed form (``lstsq(full=True)``), gradpoly's gradient
descent (Nesterov, Chebyshev basis, float64, ``tol=1e-14``: it stops at float64's rounding
floor, converting its basis coefficients to monomials as they are),
``np.polyfit(cov=True)`` and statsmodels OLS on the raw powers of x.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import gradpoly
from gradpoly.environment import describe_machine
from gradpoly.exact import CertifiedSet, certified_sets, digits
from gradpoly.outputs import json_text, write_text_atomic

Measure = tuple[Any, Any, float, float]
"""(coefficients increasing, standard errors, residual std, R²) of one path on one set."""


def _gradpoly_stats(result: Any) -> Measure:
    stats = result.stats
    return result.coef, stats.stderr, float(stats.residual_std), float(stats.r_squared)


def _polyfit(s: CertifiedSet) -> Measure:
    coef, residuals, *_ = np.polyfit(s.x, s.y, s.degree, full=True)
    rss = float(residuals[0]) if residuals.size else 0.0
    dof = s.x.size - s.degree - 1
    tss = float(np.sum((s.y - s.y.mean()) ** 2))
    try:
        _, cov = np.polyfit(s.x, s.y, s.degree, cov=True)
        stderr = np.sqrt(np.abs(np.diag(cov)))[::-1]
    except (ValueError, np.linalg.LinAlgError):
        stderr = np.full(s.degree + 1, np.nan)
    return coef[::-1], stderr, float(np.sqrt(rss / dof)), 1.0 - rss / tss


def _many(s: CertifiedSet) -> Measure:
    """The set as one series of the batched closed form (what the xarray drop-in solves)."""
    result = gradpoly.lstsq_many(s.x, s.y[None], s.degree)
    stats = result.stats
    return result.coef[0], stats.stderr[0], float(stats.residual_std[0]), float(stats.r_squared[0])


def _statsmodels(s: CertifiedSet) -> Measure:
    import statsmodels.api as sm

    design = np.vander(s.x, s.degree + 1, increasing=True)
    ols = sm.OLS(s.y, design).fit()
    return ols.params, ols.bse, float(np.sqrt(ols.scale)), float(ols.rsquared)


def paths() -> dict[str, Callable[[CertifiedSet], Measure]]:
    """Each path: a certified set -> what it reports."""
    return {
        "gradpoly.lstsq": lambda s: _gradpoly_stats(gradpoly.lstsq(s.x, s.y, s.degree, full=True)),
        "gradpoly.fit (GD, tol 1e-14)": lambda s: _gradpoly_stats(
            gradpoly.fit(
                s.x,
                s.y,
                s.degree,
                steps=1_000_000,
                lr="auto",
                basis="chebyshev",
                optimizer="nesterov",
                tol=1e-14,
                dtype="float64",
                strategy="gram",
            )
        ),
        "gradpoly.lstsq_many (one series)": _many,
        "np.polyfit(cov=True)": _polyfit,
        "statsmodels OLS (raw powers)": _statsmodels,
    }


def measure() -> list[dict[str, Any]]:
    """One row per (set, path): correct digits of each certified quantity."""
    rows = []
    for s in certified_sets():
        for name, run in paths().items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                coef, stderr, sigma, r2 = run(s)
            rows.append(
                {
                    "set": s.name,
                    "difficulty": s.difficulty,
                    "degree": s.degree,
                    "path": name,
                    "coef_digits": digits(coef, s.coef),
                    "stderr_digits": digits(stderr, s.stderr),
                    "residual_std_digits": digits(sigma, s.residual_std),
                    "r_squared_digits": digits(r2, s.r_squared),
                }
            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table."""
    head = f"{'set':9s} {'path':30s} {'coef':>5s} {'stderr':>6s} {'sigma':>5s} {'R2':>5s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['set']:9s} {r['path']:30s} {r['coef_digits']:5.1f} {r['stderr_digits']:6.1f} "
            f"{r['residual_std_digits']:5.1f} {r['r_squared_digits']:5.1f}"
        )
    return "\n".join(lines)


def markdown(rows: list[dict[str, Any]]) -> str:
    """One line per set: coefficient / standard-error digits of each path (a markdown table)."""
    names = list(dict.fromkeys(r["path"] for r in rows))
    lines = [
        "| set (degree) | " + " | ".join(f"{n} coef / stderr" for n in names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for name in dict.fromkeys(r["set"] for r in rows):
        mine = {r["path"]: r for r in rows if r["set"] == name}
        cells = [f"{mine[n]['coef_digits']:.1f} / {mine[n]['stderr_digits']:.1f}" for n in names]
        lines.append(f"| {name} ({mine[names[0]]['degree']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="write the rows as JSON here")
    parser.add_argument("--markdown", default=None, help="write the digits table here")
    args = parser.parse_args()
    rows = measure()
    print("Correct significant digits against NIST's certified values (15 = all; 0 = none)")
    print(table(rows))
    if args.json:
        document = {"machine": describe_machine(), "rows": rows}
        write_text_atomic(args.json, json_text(document))
    if args.markdown:
        write_text_atomic(args.markdown, markdown(rows))


if __name__ == "__main__":
    main()
