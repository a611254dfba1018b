"""The scripts under benchmarks/ run on a real (small) bench output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gradpoly.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_targets_script_reads_a_bench_run(tmp_path, capsys) -> None:
    out = tmp_path / "bench.json"
    names = [
        "numpy-as-written",
        "torch-autograd-as-written",
        "torch",
        "torch-autograd",
        "numba-gram",
        "jax-gram",
        "jax-autograd-gram",
    ]
    args = ["bench", "--steps", "300", "--repeats", "1", "--json", str(out)]
    assert main(args + [a for n in names for a in ("--only", n)]) == 0
    capsys.readouterr()
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "targets.py"), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "fastest:" in result.stdout
    assert "autograd tax, torch eager" in result.stdout
    assert "vs the notebook's autograd loop" in result.stdout


def test_run_all_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / "run_all.sh")], check=True)


def script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/<name>`` with this Python; fails the test on a non-zero exit."""
    command = [sys.executable, str(ROOT / "benchmarks" / name), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True)


def test_convergence_script_runs(tmp_path) -> None:
    out = tmp_path / "c.png"
    result = script("convergence.py", "--steps", "300", "--plot", str(out))
    assert "chebyshev, lr auto, gd" in result.stdout
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_many_script_runs() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "many.py"),
            "--series",
            "50",
            "--points",
            "40",
            "--repeats",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "lstsq_many" in result.stdout
    assert "fit_many" in result.stdout


def _script(name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / name), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_many_large_script_runs() -> None:
    out = _script("many_large.py", "--series", "2000", "--points", "30", "--engine", "numpy")
    assert "2,000 series fitted" in out
    assert "peak RSS" in out


def test_dask_scaling_script_makes_runs_and_plots(tmp_path) -> None:
    data, docs = tmp_path / "data", tmp_path / "docs"
    (docs / "img").mkdir(parents=True)
    _script("dask_scaling.py", "make", "--dir", str(data), "--files", "2", "--rows", "5000")
    out = _script(
        "dask_scaling.py",
        "run",
        "--dir",
        str(data),
        "--rows",
        "5000",
        "--sizes",
        "5000",
        "10000",
        "--repeats",
        "1",
        "--docs",
        str(docs),
    )
    assert "dask/numpy" in out
    assert (docs / "dask_scaling.json").exists()
    assert (docs / "img" / "dask_scaling.png").read_bytes()[:4] == b"\x89PNG"


def test_hard_set_script_writes_its_table(tmp_path) -> None:
    out = tmp_path / "hard.json"
    result = script("hard_set.py", "--steps", "50", "--json", str(out))
    assert "np.polyfit" in result.stdout
    document = json.loads(out.read_text())
    assert {row["path"] for row in document["rows"]} >= {"np.polyfit", "gradpoly.lstsq"}


def test_stats_cost_script_runs() -> None:
    result = script("stats_cost.py", "--series", "300", "--points", "20", "--repeats", "2")
    assert "x lstsq_many alone" in result.stdout
