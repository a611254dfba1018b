"""Out of core on Dask: time and peak memory of a fit from Parquet files, N = 10^6 .. 10^8.

Usage:
  python benchmarks/dask_scaling.py make [--dir DIR] [--files 100]   # 10^6 float32 pairs per file
  python benchmarks/dask_scaling.py run  [--dir DIR] [--sizes 1e6 1e7 1e8] [--repeats 3]
  python benchmarks/dask_scaling.py plot                             # redraw from the JSON

``make`` writes y = sin(x) + noise, x uniform on [0, 5], as float32 Parquet files of 10^6
rows. ``run`` measures, for each N (the first N / 10^6 files), in a fresh process each:
  - dask: ``read_xy(pattern, lazy=True)`` + ``fit(..., engine="dask", strategy="gram",
    basis="chebyshev", lr="auto", tol=1e-10)``: both passes over the files and the descent;
    wall time and the child's peak RSS (ru_maxrss);
  - numpy: the same files loaded into memory and validated first (not timed), then one
    in-memory numpy pass that builds the same Gram statistics (``FitProblem(...).gram``:
    the features, then X'X, X'y, y'y), the reference the issue compares with.
Each side runs once untimed first (imports, page cache), then ``--repeats`` timed runs.
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
    for k in range(repeats + 1):  # the first run warms imports and the page cache: not kept
        start = time.perf_counter()
        x, y, _ = gradpoly.read_xy(files, lazy=True)
        problem = DaskProblem.build(x, y, 4, basis="chebyshev")
        result = DaskEngine().fit_lazy(problem, config)
        times += [time.perf_counter() - start] if k else []
    coef = result.coef.tolist()
else:
    import pyarrow.parquet as pq
    from gradpoly import FitProblem
    tables = [pq.read_table(f) for f in files]
    x = np.concatenate([t.column("x").to_numpy() for t in tables]).astype(np.float64)
    y = np.concatenate([t.column("y").to_numpy() for t in tables]).astype(np.float64)
    del tables
    for k in range(repeats + 1):
        problem = FitProblem(x, y, 4, basis="chebyshev")  # validation (a sort) is not timed
        start = time.perf_counter()
        problem.gram  # features, then X'X, X'y, y'y: the one pass
        times += [time.perf_counter() - start] if k else []
    coef = []
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({"times": times, "peak_gib": peak, "coef": coef}))
"""


def make(folder: Path, files: int, rows: int = ROWS_PER_FILE) -> None:
    """Write ``files`` Parquet files of ``rows`` float32 (x, y) pairs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    for k in range(files):
        x = rng.uniform(0.0, 5.0, rows).astype(np.float32)
        y = (np.sin(x) + 0.1 * rng.standard_normal(rows)).astype(np.float32)
        pq.write_table(pa.table({"x": x, "y": y}), folder / f"part-{k:04d}.parquet")
    print(f"wrote {files} files of {rows:,} float32 pairs to {folder}")


def child(mode: str, pattern: str, count: int, repeats: int) -> dict[str, object]:
    """Run one measurement in a fresh interpreter (its own peak RSS)."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, pattern, str(count), str(repeats)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(
    folder: Path, sizes: list[int], repeats: int, docs: Path, rows_per_file: int = ROWS_PER_FILE
) -> None:
    from gradpoly.environment import describe_machine
    from gradpoly.io import write_text_atomic

    pattern = str(folder / "*.parquet")
    rows = []
    lines = [
        f"dask engine (threaded scheduler) vs one in-memory numpy pass; degree 4, chebyshev, "
        f"float32 pairs in Parquet files of {rows_per_file:,} rows; median of {repeats}",
        f"{'N':>12} {'dask s':>8} {'spread':>7} {'dask RSS':>9} {'numpy pass s':>13} "
        f"{'numpy RSS':>10} {'dask/numpy':>11}",
    ]
    for n in sizes:
        count = n // rows_per_file
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
    plot(rows, docs)
    print(text, end="")


def plot(rows: list[dict[str, object]], docs: Path) -> None:
    """docs/img/dask_scaling.png from the measured rows."""
    from gradpoly.plots import plot_scaling

    def median(row: dict[str, object], side: str) -> float:
        return float(statistics.median(row[side]["times"]))  # type: ignore[index]

    plot_scaling(
        [int(r["n"]) for r in rows],  # type: ignore[call-overload]
        {
            "dask: two passes over Parquet + GD": [median(r, "dask") for r in rows],
            "numpy: one in-memory Gram pass": [median(r, "numpy") for r in rows],
        },
        docs / "img" / "dask_scaling.png",
        "Fit time vs N (degree 4, 2-core CPU)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["make", "run", "plot"])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gradpoly-parquet"))
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--rows", type=int, default=ROWS_PER_FILE, help="rows per file")
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7, 1e8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    args = parser.parse_args()
    if args.action == "make":
        make(args.dir, args.files, args.rows)
    elif args.action == "plot":
        plot(json.loads((args.docs / "dask_scaling.json").read_text())["rows"], args.docs)
    else:
        run(args.dir, [int(s) for s in args.sizes], args.repeats, args.docs, args.rows)


if __name__ == "__main__":
    main()
