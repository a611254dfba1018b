"""Many curves: a Python loop of np.polyfit against lstsq_many and fit_many, side by side.

Usage: python benchmarks/many.py [--series 10000] [--points 1000] [--repeats 3] [--json F]

Each of B series has its own sorted x on [0, 10] and y = sin(x) + noise (seeded). Every
batched engine available here runs the closed form and GD (chebyshev, lr auto, tol 1e-12).
Times are medians of the repeats after a warm-up (which also compiles); coefficients are
compared with np.polyfit's. The ratios come from this one run, on this one machine.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from gradpoly import fit_many, lstsq_many
from gradpoly.batched import backend_names, get_backend
from gradpoly.bench.harness import repeat_timed as timed
from gradpoly.environment import describe_machine
from gradpoly.io import write_text_atomic
from gradpoly.options import Device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000)
    parser.add_argument("--degree", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--device", default="cpu", help="cuda: add the engines' GPU runs")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    x = np.sort(rng.uniform(0, 10, (args.series, args.points)), axis=1)
    y = np.sin(x) + 0.1 * rng.standard_normal(x.shape)
    d = args.degree

    def loop() -> np.ndarray:
        return np.array([np.polyfit(a, b, d)[::-1] for a, b in zip(x, y, strict=True)])

    base, base_spread, expected = timed(loop, args.repeats)
    scale = np.abs(expected).max(axis=1, keepdims=True)
    print(
        f"{args.series:,} series x {args.points:,} points, degree {d}, float64, median of "
        f"{args.repeats} after a warm-up; {describe_machine()['processor']}, "
        f"{os.cpu_count()} cores"
    )
    print(f"{'method':44} {'seconds':>8} {'spread':>7} {'vs loop':>8}  max rel. coef diff")
    print(f"{'np.polyfit, Python loop':44} {base:8.3f} {base_spread:7.3f} {1:7.1f}x")
    rows = [{"method": "np.polyfit loop", "seconds": base, "spread": base_spread}]
    runs = [(e, Device.CPU) for e in backend_names()]
    if args.device != "cpu":
        where = Device.parse(args.device)
        runs += [(e, where) for e in backend_names() if where in get_backend(e).devices]
    for engine, device in runs:
        available = get_backend(engine).availability(device)
        if not available.ok:
            print(f"{engine} on {device}: unavailable ({available.reason})")
            continue
        for label, run in (
            ("lstsq_many", lambda e=engine, v=device: lstsq_many(x, y, d, engine=e, device=v).coef),
            (
                "fit_many GD",
                lambda e=engine, v=device: (
                    fit_many(x, y, d, steps=5_000, tol=1e-12, engine=e, device=v).coef
                ),
            ),
        ):
            seconds, spread, coef = timed(run, args.repeats)
            err = float(np.max(np.abs(coef - expected) / scale))
            name = f"{label} (engine={engine})" + ("" if device is Device.CPU else f" {device}")
            print(f"{name:44} {seconds:8.3f} {spread:7.3f} {base / seconds:7.1f}x  {err:.1e}")
            rows.append(
                {
                    "method": name,
                    "seconds": seconds,
                    "spread": spread,
                    "speedup": base / seconds,
                    "max_relative_difference": err,
                }
            )
    if args.json:
        payload = {
            "rows": rows,
            "machine": describe_machine(),
            "args": vars(args) | {"json": str(args.json)},
        }
        write_text_atomic(args.json, json.dumps(payload, indent=2, default=str))


if __name__ == "__main__":
    main()
