"""Out of core on Dask: time and peak memory of a fit from Parquet files, N = 10^6 .. 10^8.

Usage:
  python benchmarks/dask_scaling.py make [--dir DIR] [--files 100]   # 10^6 float32 pairs per file
  python benchmarks/dask_scaling.py run  [--dir DIR] [--sizes 1e6 1e7 1e8] [--repeats 3]

``make`` writes y = sin(x) + noise, x uniform on [0, 5], as float32 Parquet files of 10^6
rows. ``run`` measures, for each N (the first N / 10^6 files), in a fresh process each:
  - dask: ``read_xy(pattern, lazy=True)`` + ``fit(..., engine="dask", strategy="gram",
    basis="chebyshev", lr="auto", tol=1e-10)``: both passes over the files and the descent;
    wall time and the child's peak RSS (ru_maxrss);
  - numpy: the same files loaded into memory first (not timed), then one in-memory numpy pass
    that builds the same Gram statistics (``FitProblem(...).gram``), the reference the issue
    compares with.
Writes docs/dask_scaling.{txt,json} and docs/img/dask_scaling.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROWS_PER_FILE = 1_000_000

CHILD = r"""
import json, resource, sys, time, glob
import numpy as np
mode, pattern, count, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
files = sorted(glob.glob(pattern))[:count]
times = []
if mode == "dask":
    import gradpoly
    from gradpoly.engines.dask_engine import DaskEngine, DaskProblem
    from gradpoly.options import make_config
    config = make_config("dask", strategy="gram", dtype="float64", steps=1000, lr="auto", tol=1e-10)
    for _ in range(repeats):
        start = time.perf_counter()
        x, y, _ = gradpoly.read_xy(files, lazy=True)
        problem = DaskProblem.build(x, y, 4, basis="chebyshev")
        result = DaskEngine().fit_lazy(problem, config)
        times.append(time.perf_counter() - start)
    coef = result.coef.tolist()
else:
    import pyarrow.parquet as pq
    from gradpoly import FitProblem
    tables = [pq.read_table(f) for f in files]
    x = np.concatenate([t.column("x").to_numpy() for t in tables]).astype(np.float64)
    y = np.concatenate([t.column("y").to_numpy() for t in tables]).astype(np.float64)
    del tables
    for _ in range(repeats):
        start = time.perf_counter()
        FitProblem(x, y, 4, basis="chebyshev").gram
        times.append(time.perf_counter() - start)
    coef = []
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({"times": times, "peak_gib": peak, "coef": coef}))
"""


def make(folder: Path, files: int) -> None:
    """Write ``files`` Parquet files of ROWS_PER_FILE float32 (x, y) pairs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    for k in range(files):
        x = rng.uniform(0.0, 5.0, ROWS_PER_FILE).astype(np.float32)
        y = (np.sin(x) + 0.1 * rng.standard_normal(ROWS_PER_FILE)).astype(np.float32)
        pq.write_table(pa.table({"x": x, "y": y}), folder / f"part-{k:04d}.parquet")
    print(f"wrote {files} files of {ROWS_PER_FILE:,} float32 pairs to {folder}")


def child(mode: str, pattern: str, count: int, repeats: int) -> dict[str, object]:
    """Run one measurement in a fresh interpreter (its own peak RSS)."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, pattern, str(count), str(repeats)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(folder: Path, sizes: list[int], repeats: int, docs: Path) -> None:
    from gradpoly.environment import describe_machine
    from gradpoly.io import write_text_atomic
    from gradpoly.plots import plot_scaling

    pattern = str(folder / "*.parquet")
    rows = []
    lines = [
        f"dask engine (threaded scheduler) vs one in-memory numpy pass; degree 4, chebyshev, "
        f"float32 pairs in Parquet files of {ROWS_PER_FILE:,} rows; median of {repeats}",
        f"{'N':>12} {'dask s':>8} {'spread':>7} {'dask RSS':>9} {'numpy pass s':>13} "
        f"{'numpy RSS':>10} {'dask/numpy':>11}",
    ]
    for n in sizes:
        count = n // ROWS_PER_FILE
        start = time.perf_counter()
        lazy = child("dask", pattern, count, repeats)
        memory = child("numpy", pattern, count, repeats)
        dask_s = statistics.median(lazy["times"])  # type: ignore[arg-type]
        numpy_s = statistics.median(memory["times"])  # type: ignore[arg-type]
        spread = max(lazy["times"]) - min(lazy["times"])  # type: ignore[arg-type]
        rows.append({"n": n, "dask": lazy, "numpy": memory, "ratio": dask_s / numpy_s})
        lines.append(
            f"{n:>12,} {dask_s:8.2f} {spread:7.2f} {lazy['peak_gib']:8.2f}G {numpy_s:13.2f} "
            f"{memory['peak_gib']:9.2f}G {dask_s / numpy_s:10.2f}x"
        )
        print(lines[-1], f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    text = "\n".join(lines) + "\n"
    write_text_atomic(docs / "dask_scaling.txt", text)
    payload = {"rows": rows, "machine": describe_machine(), "repeats": repeats}
    write_text_atomic(docs / "dask_scaling.json", json.dumps(payload, indent=2))
    plot_scaling(
        [r["n"] for r in rows],
        {
            "dask: two passes over Parquet + GD": [
                statistics.median(r["dask"]["times"]) for r in rows
            ],
            "numpy: one in-memory Gram pass": [
                statistics.median(r["numpy"]["times"]) for r in rows
            ],
        },
        docs / "img" / "dask_scaling.png",
        "Fit time vs N (degree 4, 2-core CPU)",
    )
    print(text, end="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["make", "run"])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gradpoly-parquet"))
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7, 1e8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    args = parser.parse_args()
    if args.action == "make":
        make(args.dir, args.files)
    else:
        run(args.dir, [int(s) for s in args.sizes], args.repeats, args.docs)


if __name__ == "__main__":
    main()
