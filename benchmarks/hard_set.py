"""Accuracy where the problem is hard: every path against exact rational arithmetic.

Usage: python benchmarks/hard_set.py [--json docs/hard_set.json] [--steps 200000]

For each problem of the seeded hard set (gradpoly.exact.hard_set: clustered, shifted, nearly
interpolating, wide) the exact least-squares optimum is computed in fractions; each path's
worst relative coefficient error per kind is printed beside np.polyfit's. Gradient descent
runs with tol 1e-8 (an estimated coefficient error) and says how many problems converged.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import gradpoly
from gradpoly.batched import backend_names, get_backend
from gradpoly.exact import exact_lstsq, hard_set, relative_error
from gradpoly.options import Device
from gradpoly.outputs import json_text, write_text_atomic

TOL = 1e-8


def paths(steps: int) -> dict[str, Callable[[Any, Any, int], tuple[np.ndarray, bool]]]:
    """Each path: (x, y, degree) -> (monomial coefficients, converged)."""
    out: dict[str, Callable[[Any, Any, int], tuple[np.ndarray, bool]]] = {
        "np.polyfit": lambda x, y, d: (np.polyfit(x, y, d)[::-1], True),
        "gradpoly.lstsq": lambda x, y, d: (gradpoly.lstsq(x, y, d), True),
    }
    for engine in backend_names():
        if get_backend(engine).availability(Device.CPU).ok:
            out[f"lstsq_many ({engine})"] = lambda x, y, d, e=engine: (
                gradpoly.lstsq_many([x], [y], d, engine=e).coef[0],
                True,
            )
    for optimizer in ("gd", "momentum", "nesterov"):

        def one(x: Any, y: Any, d: int, o: str = optimizer) -> tuple[np.ndarray, bool]:
            r = gradpoly.fit(x, y, d, steps=steps, lr="auto", basis="chebyshev", optimizer=o,
                             tol=TOL, dtype="float64")  # fmt: skip
            return r.coef, r.converged

        def many(x: Any, y: Any, d: int, o: str = optimizer) -> tuple[np.ndarray, bool]:
            r = gradpoly.fit_many([x], [y], d, steps=steps, tol=TOL, optimizer=o)
            return r.coef[0], bool(r.converged[0])

        out[f"fit {optimizer}"] = one
        out[f"fit_many {optimizer}"] = many
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    problems = hard_set()
    exact = [exact_lstsq(x, y, d) for _, x, y, d in problems]
    kinds = list(dict.fromkeys(kind for kind, *_ in problems))
    rows = []
    for name, run in paths(args.steps).items():
        row: dict[str, Any] = {"path": name}
        for kind in kinds:
            errors, converged = [], 0
            for (k, x, y, d), reference in zip(problems, exact, strict=True):
                if k != kind:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    coef, ok = run(x, y, d)
                errors.append(relative_error(coef, reference))
                converged += ok
            row[kind] = {"worst": max(errors), "converged": converged, "problems": len(errors)}
        rows.append(row)
    print(
        f"worst relative coefficient error vs exact rational least squares, "
        f"{len(problems)} seeded problems; GD: tol {TOL:g}, {args.steps:,} steps at most"
    )
    print(f"{'path':24}" + "".join(f"{k:>24}" for k in kinds))
    for row in rows:
        cells = []
        for kind in kinds:
            cell = row[kind]
            mark = (
                ""
                if cell["converged"] == cell["problems"]
                else (f" ({cell['converged']}/{cell['problems']} conv.)")
            )
            cells.append(f"{cell['worst']:.1e}{mark}")
        print(f"{row['path']:24}" + "".join(f"{c:>24}" for c in cells))
    if args.json:
        document = {"tol": TOL, "steps": args.steps, "kinds": kinds, "rows": rows}
        write_text_atomic(args.json, json_text(document, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
