"""The scripts under benchmarks/ run on a real (small) bench output."""

from __future__ import annotations

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


def test_convergence_script_runs(tmp_path) -> None:
    out = tmp_path / "c.png"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "convergence.py"),
            "--steps",
            "300",
            "--plot",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
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
