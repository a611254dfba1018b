"""Grids on one shared axis: gradpoly against np.polynomial and xarray, clean and with gaps.

Usage: python benchmarks/grids.py [--series 10000] [--points 365] [--degree 3] [--nan 0.1]
       [--repeats 7] [--maps 100,1000] [--pause 0.5] [--cube 365,300,300] [--device cpu|cuda]
       [--json docs/grids.json] [--markdown docs/grids.md]

Side by side in one run, median (and spread) of the repeats after a warm-up:
- clean: ``np.polynomial.polynomial.polyfit(x, Y.T)``, ``xarray.DataArray.polyfit``,
  ``gradpoly.lstsq_many(x, Y)`` on every batched engine, ``gradpoly.xarray.polyfit`` (with
  and without ``stats=True``, the per-pixel statistics);
- the same grid with a fraction of NaN: ``xarray.polyfit(skipna=True)`` against gradpoly;
- the memory-traffic floor: one read of Y (a sum), and each figure as that many passes;
- in-memory maps, (time, y, x) float64 cubes of ``--maps`` sides (the issue's 365 x 100 x 100
  and 365 x 1,000 x 1,000): ``DataArray.polyfit`` against ``gradpoly.xarray.polyfit``, with
  and without ``stats=True``, clean and with the same fraction of NaN (``skipna=True``);
- a dask-backed cube (float32 on disk, chunked by lat/lon) by both, with peak RSS, clean and
  with the same fraction of NaN.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import gradpoly
import gradpoly.numpy as gnp
from gradpoly.batched import backend_names, get_backend
from gradpoly.bench.harness import repeat_timed as timed
from gradpoly.environment import describe_machine
from gradpoly.options import Device
from gradpoly.outputs import json_text, write_text_atomic


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| over finite entries of b."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = np.isfinite(b)
    return float(np.max(np.abs(a[keep] - b[keep])) / np.max(np.abs(b[keep])))


def float32_reference(x: np.ndarray, y32: np.ndarray, degree: int) -> Any:
    """The reference for float32 data: np.polynomial's fit of those values in float64,
    highest degree first as xarray orders it."""
    return np.polynomial.polynomial.polyfit(x, y32.astype(np.float64).T, degree)[::-1]


def engines(device: str = "cpu") -> list[tuple[str, str]]:
    """(engine, device) pairs to time: every CPU engine here, plus ``device``'s if not cpu."""
    runs = [(e, "cpu") for e in backend_names() if get_backend(e).availability(Device.CPU).ok]
    if device != "cpu":
        where = Device.parse(device)
        runs += [(e, device) for e in backend_names() if get_backend(e).availability(where).ok]
    return runs


def grid_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The clean and gappy grids: every method, its seconds, speed-up and agreement."""
    import xarray as xr

    import gradpoly.xarray as gx

    rng = np.random.default_rng(0)
    x = np.arange(float(args.points))
    trend = np.sin(x / 60.0)[None, :] * rng.uniform(0.5, 2.0, (args.series, 1))
    y = trend + 0.1 * rng.standard_normal((args.series, args.points))
    d = args.degree
    cube = xr.DataArray(y.T, dims=("time", "pixel"), coords={"time": x})
    floor, _, _ = timed(lambda: y.sum(), args.repeats)
    rows: list[dict[str, Any]] = []

    def add(case: str, method: str, run: Callable[[], Any], base: float | None, ref: Any) -> Any:
        time.sleep(args.pause)  # let the previous library's worker threads go idle (jax's spin)
        seconds, spread, out = timed(run, args.repeats)
        coef = np.asarray(out)
        rows.append(
            {
                "case": case,
                "method": method,
                "seconds": seconds,
                "spread": spread,
                "speedup": None if base is None else base / seconds,
                "passes": seconds / floor,
                "max_rel_diff": None if ref is None else relative(coef, ref),
            }
        )
        return seconds, coef

    def ours(coef: np.ndarray) -> np.ndarray:  # (B, D+1) increasing -> xarray's (D+1, B)
        return coef[:, ::-1].T

    base, ref = add(
        "clean", "np.polynomial.polyfit(x, Y.T)",
        lambda: np.polynomial.polynomial.polyfit(x, y.T, d)[::-1], None, None,
    )  # fmt: skip
    add("clean", "gradpoly.numpy.polynomial_polyfit(x, Y.T) (drop-in)",
        lambda: gnp.polynomial_polyfit(x, y.T, d)[::-1], base, ref)  # fmt: skip
    add("clean", "xarray DataArray.polyfit",
        lambda: cube.polyfit("time", d).polyfit_coefficients.values, base, ref)  # fmt: skip
    for engine, device in engines(args.device):
        add(
            "clean", f"gradpoly lstsq_many ({engine}{'' if device == 'cpu' else ' ' + device})",
            lambda e=engine, v=device: ours(gradpoly.lstsq_many(x, y, d, engine=e, device=v).coef),
            base, ref,
        )  # fmt: skip
    y32 = y.astype(np.float32)  # data stored in float32: read as it is, summed in float64
    add(
        "clean", "gradpoly lstsq_many (auto), float32 data, storage=float32",
        lambda: ours(gradpoly.lstsq_many(x, y32, d, engine="auto", storage="float32").coef),
        base, float32_reference(x, y32, d),
    )  # fmt: skip
    add("clean", "gradpoly.xarray.polyfit (auto)",
        lambda: gx.polyfit(cube, "time", d).polyfit_coefficients.values, base, ref)  # fmt: skip
    add("clean", "gradpoly.xarray.polyfit (auto), stats=True",
        lambda: gx.polyfit(cube, "time", d, stats=True).polyfit_coefficients.values,
        base, ref)  # fmt: skip

    gappy = np.where(rng.random(y.shape) < args.nan, np.nan, y)
    gappy_cube = xr.DataArray(gappy.T, dims=("time", "pixel"), coords={"time": x})
    base, ref = add(
        "gaps", f"xarray polyfit(skipna=True), {args.nan:.0%} NaN",
        lambda: gappy_cube.polyfit("time", d, skipna=True).polyfit_coefficients.values,
        None, None,
    )  # fmt: skip
    for engine, device in engines(args.device):
        where = "" if device == "cpu" else f" {device}"
        add(
            "gaps", f"gradpoly lstsq_many drop_nan ({engine}{where})",
            lambda e=engine, v=device: ours(
                gradpoly.lstsq_many(x, gappy, d, drop_nan=True, engine=e, device=v).coef
            ),
            base, ref,
        )  # fmt: skip
    add(
        "gaps", "gradpoly.xarray.polyfit (auto)",
        lambda: gx.polyfit(gappy_cube, "time", d).polyfit_coefficients.values, base, ref,
    )  # fmt: skip
    add(
        "gaps", "gradpoly.xarray.polyfit (auto), stats=True",
        lambda: gx.polyfit(gappy_cube, "time", d, stats=True).polyfit_coefficients.values,
        base, ref,
    )  # fmt: skip
    for row in rows:
        row["floor_seconds"] = floor
    return rows


def map_rows(side: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """An in-memory (time, y, x) float64 map of ``side`` x ``side`` pixels: xarray's polyfit
    against the drop-in (and its ``stats=True``), clean and with ``args.nan`` NaN. A map of a
    million pixels takes xarray tens of seconds with gaps: repeats shrink with the size."""
    import xarray as xr

    import gradpoly.xarray as gx

    rng = np.random.default_rng(2)
    t = np.arange(float(args.points))
    d = args.degree
    values = np.sin(t / 60.0)[:, None, None] * rng.uniform(0.5, 2.0, (1, side, side))
    values = values + 0.1 * rng.standard_normal((args.points, side, side))
    repeats = max(1, args.repeats * 10_000 // (side * side))
    case = f"map {args.points} x {side} x {side}"
    rows: list[dict[str, Any]] = []
    for gaps in (False, True):
        if gaps:
            values[rng.random(values.shape) < args.nan] = np.nan
        cube = xr.DataArray(values, dims=("time", "y", "x"), coords={"time": t})
        label = f"{case}, {args.nan:.0%} NaN" if gaps else case
        skip = {"skipna": True} if gaps else {}
        theirs = "xarray polyfit(skipna=True)" if gaps else "xarray DataArray.polyfit"
        runs = {
            theirs: lambda c=cube, k=skip: c.polyfit("time", d, **k),
            "gradpoly.xarray.polyfit": lambda c=cube, k=skip: gx.polyfit(c, "time", d, **k),
            "gradpoly.xarray.polyfit, stats=True": (
                lambda c=cube, k=skip: gx.polyfit(c, "time", d, stats=True, **k)
            ),
        }
        base, ref = None, None
        for method, run in runs.items():
            time.sleep(args.pause)
            seconds, spread, out = timed(run, repeats)
            coef = out.polyfit_coefficients.values
            rows.append(
                {
                    "case": label,
                    "method": method,
                    "seconds": seconds,
                    "spread": spread,
                    "repeats": repeats,
                    "speedup": None if base is None else base / seconds,
                    "max_rel_diff": None if ref is None else relative(coef, ref),
                }
            )
            if base is None:
                base, ref = seconds, coef
            del out
    return rows


def cube_rows(shape: tuple[int, int, int], degree: int, nan: float) -> list[dict[str, Any]]:
    """A float32 cube on disk, dask-backed and chunked by lat/lon: xarray against gradpoly,
    each in a fresh process for an honest peak RSS; clean, then (``nan`` > 0) with that
    fraction of its values NaN (xarray's ``skipna=True``)."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cube.npy"
        data = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
        rng = np.random.default_rng(1)
        for t in range(shape[0]):
            data[t] = (np.sin(t / 60.0) + 0.1 * rng.standard_normal(shape[1:])).astype(np.float32)
        data.flush()
        del data
        for fraction in (0.0, nan) if nan > 0 else (0.0,):
            if fraction:  # the same cube with gaps, written in place, slice by slice
                data = np.load(path, mmap_mode="r+")
                for t in range(shape[0]):
                    data[t][rng.random(shape[1:]) < fraction] = np.nan
                data.flush()
                del data
            rows += _cube_runs(path, shape, degree, fraction)
    return rows


def _cube_runs(path: Path, shape: tuple[int, int, int], degree: int, nan: float) -> list[dict]:
    """xarray's and gradpoly's fit of the cube at ``path``, each in a fresh process."""
    import subprocess
    import sys

    rows = []
    gaps = f", {nan:.0%} NaN" if nan else ""
    for who in ("xarray", "gradpoly"):
        out = subprocess.run(
            [sys.executable, __file__, "--cube-worker", str(path), who, str(degree), str(nan > 0)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        seconds, rss, baseline, digest = out.stdout.split()
        rows.append(
            {
                "case": f"dask cube {shape[0]} x {shape[1]} x {shape[2]} float32{gaps}",
                "method": who,
                "seconds": float(seconds),
                "peak_rss_gib": float(rss),
                "rss_after_imports_gib": float(baseline),
                "checksum": float(digest),
                "bytes_on_disk": int(np.prod(shape)) * 4,
            }
        )
    return rows


def peak_rss_gib() -> float:
    """This process's peak resident memory (VmHWM: reset by exec, unlike ru_maxrss, which a
    child inherits from the process it was forked from)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def cube_worker(path: str, who: str, degree: int, gaps: bool) -> None:
    """One cube fit in this process (``skipna=True`` where the cube has gaps, else xarray's
    default): prints seconds, peak RSS (GiB), a checksum."""
    import dask.array as da
    import xarray as xr

    if who == "gradpoly":
        import gradpoly.xarray as gx
    skipna = True if gaps else None  # None: xarray's default
    baseline = peak_rss_gib()
    data = np.load(path, mmap_mode="r")
    lazy = da.from_array(data, chunks=(data.shape[0], 100, 100))
    cube = xr.DataArray(
        lazy, dims=("time", "lat", "lon"), coords={"time": np.arange(data.shape[0])}
    )
    start = time.perf_counter()
    if who == "xarray":
        coef = cube.polyfit("time", degree, skipna=skipna).polyfit_coefficients.values
    else:
        coef = gx.polyfit(cube, "time", degree, skipna=skipna).polyfit_coefficients.values
    seconds = time.perf_counter() - start
    rss = peak_rss_gib()
    print(f"{seconds:.4f} {rss:.3f} {baseline:.3f} {float(np.nansum(coef[-1])):.10g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=365)
    parser.add_argument("--degree", type=int, default=3)
    parser.add_argument("--nan", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--maps", default="100,1000", help="sides of the in-memory maps; 0: skip")
    parser.add_argument("--pause", type=float, default=0.5,
                        help="seconds between methods, as other threads go idle")  # fmt: skip
    parser.add_argument("--cube", default="365,300,300", help="t,lat,lon of the dask cube; 0: skip")
    parser.add_argument("--json", default=None)
    parser.add_argument("--markdown", default=None, help="write the tables as markdown here")
    parser.add_argument("--device", default="cpu", help="cuda: add the GPU engines' runs")
    parser.add_argument("--cube-worker", nargs=4, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cube_worker:
        path, who, degree, gaps = args.cube_worker
        cube_worker(path, who, int(degree), gaps == "True")
        return
    rows = grid_rows(args)
    print(
        f"{args.series:,} series x {args.points} points on one axis, degree {args.degree}, "
        f"float64, median of {args.repeats} after a warm-up; "
        f"{describe_machine()['processor']}, {os.cpu_count()} cores"
    )
    print(f"one read of Y (the memory-traffic floor): {1e3 * rows[0]['floor_seconds']:.2f} ms")
    print(
        f"{'case':6} {'method':52} {'ms':>8} {'spread':>7} {'speed-up':>9} {'passes':>7}  rel. diff"
    )
    for r in rows:
        speed = "" if r["speedup"] is None else f"{r['speedup']:8.1f}x"
        diff = "" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.1e}"
        print(f"{r['case']:6} {r['method']:52} {1e3 * r['seconds']:8.2f} "
              f"{1e3 * r['spread']:7.2f} {speed:>9} {r['passes']:7.1f}  {diff}")  # fmt: skip
    if args.maps != "0":
        for side in (int(v) for v in args.maps.split(",")):
            maps = map_rows(side, args)
            for r in maps:
                speed = "" if r["speedup"] is None else f"{r['speedup']:6.1f}x"
                diff = "" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.1e}"
                print(f"{r['case']}: {r['method']:37} {r['seconds']:8.3f} s (spread "
                      f"{r['spread']:.3f}, {r['repeats']} runs) {speed:>7}  {diff}")  # fmt: skip
            rows += maps
    if args.cube != "0":
        shape = tuple(int(v) for v in args.cube.split(","))
        cubes = cube_rows(shape, args.degree, args.nan)  # type: ignore[arg-type]
        for r in cubes:
            disk = r["bytes_on_disk"] / 2**30
            print(f"{r['case']}: {r['method']:9} {r['seconds']:7.2f} s, peak RSS "
                  f"{r['peak_rss_gib']:.2f} GiB ({r['rss_after_imports_gib']:.2f} after imports; "
                  f"{disk:.2f} GiB on disk), checksum {r['checksum']:.6g}")  # fmt: skip
        rows += cubes
    if args.json:
        payload = {"rows": rows, "machine": describe_machine(), "args": vars(args)}
        write_text_atomic(args.json, json_text(payload))
    if args.markdown:
        write_text_atomic(args.markdown, markdown(rows, args))


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """The rows as a markdown table (the README's, generated)."""
    lines = [
        f"{args.series:,} series x {args.points} points on one axis, degree {args.degree}, "
        f"median of {args.repeats}; one read of Y takes {1e3 * rows[0]['floor_seconds']:.2f} ms",
        "",
        "| case | method | ms | speed-up | reads of Y | max rel. diff |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "passes" not in r:
            continue
        speed = "" if r["speedup"] is None else f"{r['speedup']:.1f}x"
        diff = "" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.1e}"
        lines.append(
            f"| {r['case']} | {r['method']} | {1e3 * r['seconds']:.2f} | {speed} | "
            f"{r['passes']:.1f} | {diff} |"
        )
    maps = [r for r in rows if r["case"].startswith("map ")]
    if maps:
        lines += ["", "| map (time x y x x, float64) | method | s | spread | speed-up "
                      "| max rel. diff |", "|---|---|---:|---:|---:|---:|"]  # fmt: skip
        for r in maps:
            speed = "" if r["speedup"] is None else f"{r['speedup']:.1f}x"
            diff = "" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.1e}"
            lines.append(
                f"| {r['case']} | {r['method']} | {r['seconds']:.3f} | {r['spread']:.3f} | "
                f"{speed} | {diff} |"
            )
    cubes = [r for r in rows if "peak_rss_gib" in r]
    if cubes:
        lines += ["", "| dask cube | method | seconds | peak RSS (GiB) | after imports | on disk |",
                  "|---|---|---:|---:|---:|---:|"]  # fmt: skip
        for r in cubes:
            lines.append(
                f"| {r['case']} | {r['method']} | {r['seconds']:.2f} | "
                f"{r['peak_rss_gib']:.2f} | {r['rss_after_imports_gib']:.2f} | "
                f"{r['bytes_on_disk'] / 2**30:.2f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
