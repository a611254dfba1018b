"""The scripts under benchmarks/ run on a real (small) bench output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_certified_script_writes_digits(tmp_path) -> None:
    out, table = tmp_path / "certified.json", tmp_path / "certified.md"
    result = script("certified.py", "--json", str(out), "--markdown", str(table))
    assert "Filip" in result.stdout
    rows = json.loads(out.read_text())["rows"]
    mine = {r["set"]: r for r in rows if r["path"] == "gradpoly.lstsq"}
    assert min(r["stderr_digits"] for r in mine.values()) >= 8.5
    assert table.read_text().startswith("| set (degree) |")


def test_grids_script_compares_with_numpy_and_xarray(tmp_path) -> None:
    pytest.importorskip("xarray")
    out = tmp_path / "grids.json"
    result = script("grids.py", "--series", "300", "--points", "40", "--repeats", "1", "--maps",
                    "12", "--pause", "0", "--cube", "20,30,30", "--device", "cuda",
                    "--json", str(out))  # fmt: skip
    assert "xarray DataArray.polyfit" in result.stdout
    rows = json.loads(out.read_text())["rows"]
    assert {r["case"] for r in rows} >= {
        "clean",
        "gaps",
        "map 40 x 12 x 12",
        "map 40 x 12 x 12, 10% NaN",
    }
    assert all(r["max_rel_diff"] < 1e-9 for r in rows if r.get("max_rel_diff") is not None)
    maps = [r for r in rows if r["case"].startswith("map ")]
    assert [r["method"] for r in maps[:3]] == [
        "xarray DataArray.polyfit",
        "gradpoly.xarray.polyfit",
        "gradpoly.xarray.polyfit, stats=True",
    ]
    assert all(r["speedup"] > 0 for r in maps if r["method"].startswith("gradpoly"))
    cube = [r for r in rows if r["case"].startswith("dask cube")]
    assert [r["method"] for r in cube] == ["xarray", "gradpoly"] * 2  # clean, then with NaN
    assert cube[2]["case"].endswith("10% NaN")
    for theirs, ours in (cube[:2], cube[2:]):
        assert theirs["checksum"] == pytest.approx(ours["checksum"], rel=1e-6)


def test_gpu_script_refuses_cleanly_without_cuda(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: run benchmarks/gpu.sh itself")
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, GPU_OUT=str(tmp_path / "gpu"))
    done = subprocess.run(["bash", str(root / "benchmarks" / "gpu.sh")], capture_output=True,
                          text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "no CUDA device" in done.stderr
    assert not (tmp_path / "gpu" / "log.txt").exists()


def test_the_package_runs_from_a_source_tree_with_python_m(tmp_path) -> None:
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root / "src"))
    done = subprocess.run([sys.executable, "-m", "gradpoly", "engines"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "numpy" in done.stdout


def test_readme_tables_are_the_generated_ones() -> None:
    """Every generated block of the README equals the docs/*.md its benchmark wrote."""
    result = script("readme_sync.py", "--check")
    assert result.returncode == 0, result.stdout


def test_grids_script_writes_markdown(tmp_path) -> None:
    pytest.importorskip("xarray")
    table = tmp_path / "grids.md"
    script("grids.py", "--series", "50", "--points", "20", "--repeats", "1", "--cube", "0",
           "--maps", "8", "--pause", "0", "--markdown", str(table))  # fmt: skip
    text = table.read_text()
    assert "| clean | xarray DataArray.polyfit |" in text
    assert "| map 20 x 8 x 8, 10% NaN | gradpoly.xarray.polyfit |" in text


def test_small_fit_script_runs(tmp_path) -> None:
    out = tmp_path / "small.json"
    result = script("small_fit.py", "--repeats", "1", "--number", "10", "--json", str(out))
    assert "np.polyfit" in result.stdout
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 6  # np.polyfit, lstsq, the numpy drop-in, gd, nesterov, defaults
    assert "gradpoly.fit defaults" in result.stdout
    assert "gradpoly.numpy.polyfit (drop-in)" in result.stdout


@pytest.mark.slow  # four fresh processes, three compiling cold
def test_compile_cache_script_times_four_fresh_processes(tmp_path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "cache.json"
    result = script("compile_cache.py", "--steps", "40", "--gradient", "manual",
                    "--strategy", "gram", "--json", str(out))  # fmt: skip
    assert "target: first result <= 10 s" in result.stdout
    rows = json.loads(out.read_text())["rows"]
    assert [r["case"].split(":")[0] for r in rows] == [
        "caches disabled", "empty caches, waiting", "empty caches (a fresh machine)",
        "caches filled by the builder (later runs)",
    ]  # fmt: skip
    assert [r["eager_steps"] for r in rows] == [0, 0, 40, 0]
    assert all(r["first_fit_seconds"] > 0 for r in rows)


@pytest.mark.slow  # four packages compiled
def test_per_sample_layout_script_compares_both_layouts(tmp_path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "layout.json"
    result = script("per_sample_layout.py", "--calls", "50", "--repeats", "2", "--json", str(out))
    assert "target: autograd <= 1.1x manual" in result.stdout
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 4
    assert all(r["us_per_step"] > 0 for r in rows)


def test_degree_selection_script_checks_choices_and_times(tmp_path) -> None:
    out = tmp_path / "degree.json"
    table = tmp_path / "degree.md"
    script("degree_selection.py", "--series", "200", "--points", "40", "--repeats", "1",
           "--json", str(out), "--markdown", str(table))  # fmt: skip
    data = json.loads(out.read_text())
    assert set(data["agreement"]) == {"aic", "aicc", "bic", "gcv"}
    assert min(data["agreement"].values()) == 1.0
    assert {r["method"].split(",")[0] for r in data["rows"]} >= {"lstsq_many", "select_degree 0..6"}
    assert "| method | ms |" in table.read_text()


def test_calibration_script_checks_fieller_and_times(tmp_path) -> None:
    out = tmp_path / "calibration.json"
    script("calibration.py", "--count", "500", "--repeats", "1", "--json", str(out))
    data = json.loads(out.read_text())
    assert data["fieller_max_rel_diff"] < 1e-9
    assert {r["interval"] for r in data["rows"]} == {"no interval", "delta", "classical"}


def test_robust_script_times_every_norm(tmp_path) -> None:
    out = tmp_path / "robust.json"
    script("robust.py", "--series", "100", "--points", "60", "--repeats", "1", "--json", str(out))
    rows = json.loads(out.read_text())["rows"]
    expected = [f"robust_fit, {n}" for n in ("huber", "bisquare", "clip")]
    assert [r["method"] for r in rows][1:] == expected
    assert rows[1]["within_3se"] > rows[0]["within_3se"]


@pytest.mark.xdist_group("numba-shapes")  # compiles the monotone kernels: one worker
def test_monotone_agreement_script_counts_both_paths(tmp_path) -> None:
    out = tmp_path / "agreement.json"
    result = script("monotone_agreement.py", "--trials", "6", "--json", str(out))
    document = json.loads(out.read_text())
    assert document["series"] > 0
    assert set(document["unfitted"]) == {"numba", "numpy"}
    assert "left unfitted" in result.stdout


def test_constraints_script_times_each_kind(tmp_path) -> None:
    out = tmp_path / "constraints.json"
    script("constraints.py", "--series", "100", "--points", "40", "--repeats", "1",
           "--json", str(out))  # fmt: skip
    rows = json.loads(out.read_text())["rows"]
    assert rows[0]["case"] == "unconstrained"
    assert len(rows) == 5
    assert rows[-1]["case"].startswith("monotone")
