"""One small fit, the seed's 100 points at degree 4: gradpoly against np.polyfit, side by side.

Usage: python benchmarks/small_fit.py [--repeats 7] [--number 200] [--json docs/small_fit.json]

Each figure is the best of ``--repeats`` timings of ``--number`` calls (microseconds per call,
after a warm-up of :data:`gradpoly.refining.COMPILE_AFTER` calls, the steady state of a loop of
fits: what needs compiling is compiled), with the ratio to ``np.polyfit`` measured in the same
run: ``gradpoly.lstsq``, and converged gradient descent (``engine="auto"``,
Chebyshev basis, ``lr="auto"``, ``tol=1e-10``) with gd and with Nesterov.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np

import gradpoly
import gradpoly.numpy as gnp
from gradpoly import refining
from gradpoly.environment import describe_machine
from gradpoly.outputs import json_text, write_text_atomic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=200)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    x = np.linspace(0, 5, 100)
    y = np.sin(x)
    options: dict[str, Any] = {"basis": "chebyshev", "lr": "auto", "tol": 1e-10}
    options |= {"steps": 100_000, "dtype": "float64", "engine": "auto"}
    calls: dict[str, Callable[[], Any]] = {
        "np.polyfit": lambda: np.polyfit(x, y, 4),
        "gradpoly.lstsq": lambda: gradpoly.lstsq(x, y, 4),
        "gradpoly.numpy.polyfit (drop-in)": lambda: gnp.polyfit(x, y, 4),
        "gradpoly.fit auto, gd": lambda: gradpoly.fit(x, y, 4, optimizer="gd", **options),
        "gradpoly.fit auto, nesterov": lambda: gradpoly.fit(
            x, y, 4, optimizer="nesterov", **options
        ),
        "gradpoly.fit defaults": lambda: gradpoly.fit(x, y, 4),
    }
    rows = []
    base = None
    for _ in range(refining.COMPILE_AFTER + 1):
        gradpoly.lstsq(x, y, 4)  # a loop's steady state: the refinement runs compiled
    for name, call in calls.items():
        out = call()
        number = (
            args.number
            if name in ("np.polyfit", "gradpoly.lstsq", "gradpoly.numpy.polyfit (drop-in)")
            else max(args.number // 10, 1)
        )
        best = min(timeit.repeat(call, number=number, repeat=args.repeats)) / number
        base = best if base is None else base
        ran = getattr(out, "config", None)
        rows.append(
            {
                "method": name,
                "microseconds": 1e6 * best,
                "vs_polyfit": best / base,
                "ran": "" if ran is None else str(ran),
                "steps": getattr(out, "steps_run", None),
            }
        )
    print(f"100 points, degree 4, best of {args.repeats}; {describe_machine()['processor']}")
    for r in rows:
        extra = f"  ({r['ran']}, {r['steps']} steps)" if r["ran"] else ""
        ratio = f"{r['vs_polyfit']:6.1f}x np.polyfit"
        print(f"{r['method']:30} {r['microseconds']:9.1f} us  {ratio}{extra}")
    if args.json:
        write_text_atomic(args.json, json_text({"rows": rows, "machine": describe_machine()}))


if __name__ == "__main__":
    main()
