"""The CLI in-process: --help everywhere, real runs, and one-line errors with exit code 1."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradpoly
from gradpoly import FitResult
from gradpoly.cli import main


@pytest.fixture
def data_csv(tmp_path):
    x = np.linspace(0, 5, 100)
    path = tmp_path / "data.csv"
    path.write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in zip(x, np.sin(x), strict=True)))
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [[], ["demo"], ["fit"], ["engines"]])
def test_help_everywhere(capsys, command) -> None:
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert "Usage" in out


def test_bare_command_prints_help(capsys) -> None:
    code, out, _ = run(capsys)
    assert code == 0
    assert "demo" in out
    assert "engines" in out


def test_engines_lists_every_engine_and_why(capsys) -> None:
    code, out, _ = run(capsys, "engines", "--json")
    assert code == 0
    records = json.loads(out)
    assert {r["name"] for r in records} >= {"numpy", "torch"}
    assert all(r["available"] or r["reason"] for r in records)
    many = {(r["name"], r["device"]): r["many"] for r in records}
    assert many[("numpy", "cpu")] == {"available": True, "reason": ""}  # both families listed
    assert many[("dask", "cpu")] is None  # dask fits many series through the others


def test_engines_table_shows_one_and_many_curves(capsys) -> None:
    code, out, _ = run(capsys, "engines")
    assert code == 0
    assert "one curve" in out
    assert "many curves" in out


def test_demo_prints_the_seed_table_and_writes_outputs(capsys, tmp_path) -> None:
    code, out, _ = run(
        capsys,
        "demo",
        "--steps",
        "2000",
        "--json",
        str(tmp_path / "d.json"),
        "--plots",
        str(tmp_path / "plots"),
    )
    assert code == 0, out
    for preset in ("numpy", "torch", "torch-gpu", "torch-autograd", "torch-autograd-gpu"):
        assert preset in out
    report = json.loads((tmp_path / "d.json").read_text())
    rows = {row["preset"]: row for row in report["presets"]}
    assert rows["numpy"]["available"]
    assert all(row["available"] or row["reason"] for row in rows.values())
    finals = {row["final_mse"] for row in rows.values() if row["available"]}
    assert max(finals) - min(finals) < 1e-6
    for name in ("trace.png", "fit.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_prints_coefficients_and_writes_json_and_plot(capsys, data_csv, tmp_path) -> None:
    code, out, _ = run(
        capsys,
        "fit",
        str(data_csv),
        "--steps",
        "3000",
        "--tol",
        "off",
        "--engine",
        "torch",
        "--gradient",
        "autograd",
        "--dtype",
        "float64",
        "--json",
        str(tmp_path / "r.json"),
        "--plot",
        str(tmp_path / "fit.png"),
    )
    assert code == 0, out
    assert "coefficients" in out
    assert "final MSE" in out
    assert "torch-autograd-cpu-eager-per-sample-float64" in out
    result = FitResult.load(tmp_path / "r.json")
    assert result.trace.size == 3000
    assert (tmp_path / "fit.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "missing.csv"], "cannot read missing.csv"),
        (["fit", "{csv}", "--degree", "200"], "degree 200 needs at least 201 distinct x values"),
        (["fit", "{csv}", "--lr", "-1"], "lr must be a positive"),
        (["fit", "{csv}", "--steps", "0"], "steps must be a positive integer"),
        (
            ["fit", "{csv}", "--preset", "notebook", "--lr", "1e-3", "--steps", "5000"],
            "largest stable lr here is 2.11e-05",
        ),
        (["fit", "{csv}", "--device", "cuda", "--engine", "torch"], "no CUDA device"),
        (
            ["fit", "{csv}", "--engine", "numpy", "--gradient", "autograd"],
            "engine numpy does not support gradient autograd",
        ),
        (["fit", "{csv}", "--engine", "numpy", "--mode", "compiled"], "does not support mode"),
        (["fit", "{bad}"], "row 3, column 'y' is not a number"),
        (["fit", "{empty}"], "has no rows"),
    ],
)
def test_errors_are_one_line_with_exit_code_1(capsys, tmp_path, data_csv, args, message) -> None:
    if "cuda" in args:
        pytest.importorskip("torch")
        from gradpoly.engines.torch_engine import cuda_availability

        if cuda_availability().ok:
            pytest.skip("a CUDA device is present: the error path cannot happen here")
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,??\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    args = [a.format(csv=data_csv, bad=bad, empty=empty) for a in args]
    code, out, err = run(capsys, *args)
    assert code == 1
    assert message in err
    assert err.strip().count("\n") == 0, err
    assert "Traceback" not in err + out


def test_unknown_choices_are_one_line_usage_errors(capsys, data_csv) -> None:
    code, _, err = run(capsys, "fit", str(data_csv), "--engine", "fortran")
    assert code == 2
    assert "fortran" in err
    assert "numpy" in err
    assert err.strip().count("\n") == 0


def test_bench_writes_json_csv_and_plot(capsys, tmp_path) -> None:
    code, out, _ = run(
        capsys,
        "bench",
        "--steps",
        "300",
        "--repeats",
        "1",
        "--only",
        "numpy",
        "--only",
        "numpy-spectral",
        "--only",
        "torch-gpu",
        "--json",
        str(tmp_path / "b.json"),
        "--csv",
        str(tmp_path / "b.csv"),
        "--plot",
        str(tmp_path / "b.png"),
    )
    assert code == 0, out
    records = json.loads((tmp_path / "b.json").read_text())["results"]
    assert [r["name"] for r in records] == ["numpy", "numpy-spectral", "torch-gpu"]
    for key in (
        "engine",
        "gradient",
        "device",
        "mode",
        "strategy",
        "dtype",
        "median_s",
        "iqr_s",
        "compile_s",
        "final_mse",
        "max_coef_err",
    ):
        assert key in records[0]
    assert (tmp_path / "b.csv").read_text().count("\n") == 4
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_list_and_bad_names(capsys) -> None:
    code, out, _ = run(capsys, "bench", "--list")
    assert code == 0
    assert "numba-gram" in out
    code, _, err = run(capsys, "bench", "--only", "nope")
    assert code == 1
    assert "unknown benchmark configuration" in err


@pytest.mark.slow  # runs every rung of the ladder, each compiled cold: a sweep
def test_ladder_writes_markdown_and_plot(capsys, tmp_path) -> None:
    pytest.importorskip("torch")
    code, out, _ = run(
        capsys,
        "ladder",
        "--steps",
        "200",
        "--repeats",
        "1",
        "--markdown",
        str(tmp_path / "l.md"),
        "--plot",
        str(tmp_path / "l.png"),
    )
    assert code == 0, out
    assert "0 seed" in (tmp_path / "l.md").read_text()
    assert (tmp_path / "l.png").read_bytes()[:4] == b"\x89PNG"


def test_derivative_prints_error_and_writes_plot_and_json(capsys, tmp_path) -> None:
    pytest.importorskip("torch")
    code, out, _ = run(
        capsys,
        "derivative",
        "--function",
        "tanh",
        "--method",
        "onehot-loop",
        "--points",
        "50",
        "--plot",
        str(tmp_path / "d.png"),
        "--json",
        str(tmp_path / "d.json"),
    )
    assert code == 0, out
    assert "max |error| vs analytic" in out
    assert json.loads((tmp_path / "d.json").read_text())["max_abs_err"] < 1e-12
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"


def test_derivative_table_writes_markdown(capsys, tmp_path, monkeypatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    from gradpoly.bench import derivatives

    monkeypatch.setattr(derivatives, "POINTS", (10, 100))
    code, out, _ = run(
        capsys, "derivative", "--table", "--repeats", "1", "--markdown", str(tmp_path / "t.md")
    )
    assert code == 0, out
    assert "N=100" in (tmp_path / "t.md").read_text()


def test_fit_in_chebyshev_with_auto_lr_reaches_lstsq(capsys, data_csv) -> None:
    code, out, _ = run(
        capsys,
        "fit",
        str(data_csv),
        "--basis",
        "chebyshev",
        "--lr",
        "auto",
        "--steps",
        "100",
        "--dtype",
        "float64",
    )
    assert code == 0, out
    assert "(auto)" in out
    final, optimum = (float(v) for v in out.split("final MSE:")[1].split("least-squares MSE:"))
    assert final == pytest.approx(optimum, rel=1e-8)


def test_fit_refuses_a_non_numeric_lr(capsys, data_csv) -> None:
    code, _, err = run(capsys, "fit", str(data_csv), "--lr", "fast")
    assert code == 1
    assert "lr must be a positive finite number or 'auto', got 'fast'" in err


@pytest.fixture
def weighted_csv(tmp_path):
    x = np.linspace(0, 5, 50)
    w = np.where(x > 2.5, 2.0, 1.0)
    path = tmp_path / "w.csv"
    path.write_text(
        "x,y,w\n" + "".join(f"{a},{b},{c}\n" for a, b, c in zip(x, np.sin(x), w, strict=True))
    )
    return path


def test_fit_reads_weights_from_a_column(capsys, weighted_csv) -> None:
    code, out, _ = run(
        capsys,
        "fit",
        str(weighted_csv),
        "--weights-col",
        "w",
        "--basis",
        "chebyshev",
        "--lr",
        "auto",
        "--tol",
        "1e-10",
        "--dtype",
        "float64",
    )
    assert code == 0, out
    assert "estimated coefficient error" in " ".join(out.split())
    final, optimum = (float(v) for v in out.split("final MSE:")[1].split("least-squares MSE:"))
    assert final == pytest.approx(optimum, rel=1e-8)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tol", "0"], "tol must be a positive number"),
        (["--tol", "soon"], "tol must be a positive number or 'off'"),
        (["--weights-col", "nope"], "no column named 'nope'"),
        (["--loss", "huber", "--engine", "numpy"], "loss huber needs autograd"),
        (["--optimizer", "nesterov", "--momentum", "1.5"], "momentum must be in [0, 1)"),
        (
            ["--engine", "numba", "--mode", "compiled", "--gradient", "autograd"],
            "does not support gradient autograd",
        ),
    ],
)
def test_convergence_options_fail_in_one_line(capsys, weighted_csv, args, message) -> None:
    code, _, err = run(capsys, "fit", str(weighted_csv), *args)
    assert code == 1
    assert message in err
    assert err.strip().count("\n") == 0


def test_negative_weights_fail_in_one_line(capsys, tmp_path) -> None:
    path = tmp_path / "neg.csv"
    path.write_text("x,y,w\n0,0,1\n1,1,-2\n2,4,1\n3,9,1\n")
    code, _, err = run(capsys, "fit", str(path), "--weights-col", "w", "--degree", "1")
    assert code == 1
    assert "weights must be non-negative; weights[1] = -2.0" in err


def test_a_loss_but_mse_runs_by_autograd_with_the_defaults(capsys, weighted_csv) -> None:
    """``--loss huber`` alone runs (autograd on torch, as fit_many does): it refused for want
    of a hand-written gradient that no engine has."""
    pytest.importorskip("torch")
    code, out, err = run(capsys, "fit", str(weighted_csv), "--loss", "huber", "--degree", "2")
    assert code == 0, err
    assert "torch-autograd" in out


@pytest.fixture
def sigma_csv(tmp_path):
    rng = np.random.default_rng(3)
    x = np.linspace(0, 10, 40)
    sigma = np.where(x < 5, 0.05, 0.2)
    y = 0.5 + 1.9 * x + sigma * rng.standard_normal(40)
    group = np.where(np.arange(40) % 2 == 0, "a", "b")
    path = tmp_path / "sigma.csv"
    rows = zip(x, y, sigma, group, strict=True)
    path.write_text("x,y,s,g\n" + "".join(f"{a},{b},{c},{d}\n" for a, b, c, d in rows))
    return path, x, y, sigma, group


@pytest.mark.parametrize("absolute", [False, True])
def test_fit_reads_sigma_and_takes_it_as_the_library_does(capsys, tmp_path, sigma_csv,
                                                          absolute) -> None:  # fmt: skip
    """--sigma-col and --absolute-sigma give the statistics lstsq(sigma=, absolute_sigma=)
    gives, for one curve (--json) and per series (--out)."""
    path, x, y, sigma, group = sigma_csv
    flags = ["--absolute-sigma"] if absolute else []
    target = tmp_path / "one.json"
    code, _, err = run(capsys, "fit", str(path), "--sigma-col", "s", "--degree", "1",
                         "--json", str(target), *flags)  # fmt: skip
    assert code == 0, err
    want = gradpoly.lstsq(x, y, 1, sigma=sigma, absolute_sigma=absolute, full=True).stats
    got = json.loads(target.read_text())["stats"]
    assert np.allclose(got["stderr"], want.stderr, rtol=1e-8)
    rows = tmp_path / "rows.csv"
    code, _, err = run(capsys, "fit", str(path), "--sigma-col", "s", "--degree", "1",
                         "--series-col", "g", "--out", str(rows), *flags)  # fmt: skip
    assert code == 0, err
    first = rows.read_text().splitlines()[1].split(",")
    keep = group == "a"
    mine = gradpoly.lstsq(x[keep], y[keep], 1, sigma=sigma[keep], absolute_sigma=absolute,
                          full=True).stats  # fmt: skip
    header = rows.read_text().splitlines()[0].split(",")
    assert float(first[header.index("stderr_1")]) == pytest.approx(mine.stderr[1], rel=1e-8)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sigma-col", "s", "--weights-col", "s"], "not both"),
        (["--sigma-col", "s", "--engine", "dask"], "--sigma-col needs the data in memory"),
        (["--sigma-col", "x"], "sigma must be positive"),
    ],
)
def test_bad_sigma_options_fail_in_one_line(capsys, sigma_csv, args, message) -> None:
    code, _, err = run(capsys, "fit", str(sigma_csv[0]), "--degree", "1", *args)
    assert code == 1
    assert message in err
    assert err.strip().count("\n") == 0


SENSORS = ("--series-col", "sensor", "--x-col", "t", "--y-col", "value")
"""The long_csv table's columns, as fit options."""


@pytest.fixture
def long_csv(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["sensor,t,value"]
    for name, count in (("a", 30), ("b", 3), ("c", 50)):
        for t in np.sort(rng.uniform(0, 4, count)):
            lines.append(f"{name},{t},{np.sin(t)}")
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".json", ".npz", ".parquet"])
def test_fit_a_long_table_one_row_per_series(capsys, tmp_path, long_csv, suffix) -> None:
    out = tmp_path / f"coef{suffix}"
    code, text, _ = run(
        capsys,
        "fit",
        str(long_csv),
        "--series-col",
        "sensor",
        "--x-col",
        "t",
        "--y-col",
        "value",
        "--degree",
        "3",
        "--basis",
        "chebyshev",
        "--lr",
        "auto",
        "--tol",
        "1e-12",
        "--steps",
        "5000",
        "--out",
        str(out),
    )
    assert code == 0, text
    assert "fitted 2 of 3 series" in text
    assert "series 'b' not fitted: degree 3 needs at least 4 distinct x" in text
    if suffix == ".csv":
        rows = out.read_text().splitlines()
        assert rows[0].startswith("series,valid,coef_0")
        assert len(rows) == 4
    elif suffix == ".json":
        records = json.loads(out.read_text())
        assert [r["series"] for r in records] == ["a", "b", "c"]
        assert records[0]["converged"]
    elif suffix == ".npz":
        arrays = np.load(out)
        assert list(arrays["series"]) == ["a", "b", "c"]
        assert np.isnan(arrays["coef_0"][1])
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(out).to_pydict()
        assert table["series"] == ["a", "b", "c"]
        assert table["valid"] == [True, False, True]


def test_long_table_errors_are_one_line(capsys, tmp_path, long_csv) -> None:
    code, _, err = run(capsys, "fit", str(long_csv), "--series-col", "nope")
    assert code == 1
    assert "no column named 'nope'" in err
    code, _, err = run(
        capsys,
        "fit",
        str(long_csv),
        "--series-col",
        "sensor",
        "--x-col",
        "t",
        "--y-col",
        "value",
        "--out",
        str(tmp_path / "x.txt"),
    )
    assert code == 1
    assert "use one of .csv, .json, .npz, .parquet" in err
    assert not (tmp_path / "x.txt").exists()


@pytest.mark.parametrize("suffix", [".parquet", ".npz"])
def test_long_tables_from_parquet_and_npz_match_csv(capsys, tmp_path, long_csv, suffix) -> None:
    from gradpoly.io import read_long, write_rows

    ids, xs, ys, _ = read_long(long_csv, "sensor", "t", "value")
    rows = [
        {"sensor": i, "t": float(a), "value": float(b)}
        for i, xa, ya in zip(ids, xs, ys, strict=True)
        for a, b in zip(xa, ya, strict=True)
    ]
    other = tmp_path / f"long{suffix}"
    if suffix == ".parquet":
        write_rows(other, rows)
    else:
        np.savez(other, **{k: np.array([r[k] for r in rows]) for k in rows[0]})
    outputs = []
    for path in (long_csv, other):
        out = tmp_path / f"from_{path.suffix[1:]}.json"
        args = ["--series-col", "sensor", "--x-col", "t", "--y-col", "value", "--out", str(out)]
        code, text, _ = run(capsys, "fit", str(path), *args, "--lr", "auto", "--basis", "chebyshev")
        assert code == 0, text
        outputs.append(json.loads(out.read_text()))
    assert outputs[0] == outputs[1]


def test_nan_rows_are_named_unless_dropped(capsys, tmp_path, long_csv) -> None:
    lines = long_csv.read_text().splitlines()
    name, t, _ = lines[5].split(",")
    lines[5] = f"{name},{t},nan"
    path = tmp_path / "with_nan.csv"
    path.write_text("\n".join(lines) + "\n")
    args = ["--series-col", "sensor", "--x-col", "t", "--y-col", "value", "--lr", "auto"]
    code, _, err = run(capsys, "fit", str(path), *args)
    assert code == 1
    assert "1 row(s) have NaN or inf (data rows 5; row 5 in column 'value')" in err
    assert "--drop-nan" in err
    assert len(err.strip().splitlines()) == 1
    code, text, _ = run(capsys, "fit", str(path), *args, "--drop-nan", "--basis", "chebyshev")
    assert code == 0, text
    assert "fitted 2 of 3 series" in text


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".parquet"])
def test_fit_one_curve_from_npy_npz_parquet(capsys, tmp_path, suffix) -> None:
    from gradpoly.io import write_rows

    x = np.linspace(0, 5, 100)
    path = tmp_path / f"data{suffix}"
    if suffix == ".npy":
        np.save(path, np.column_stack([x, np.sin(x)]))
    elif suffix == ".npz":
        np.savez(path, x=x, y=np.sin(x))
    else:
        write_rows(path, [{"x": float(a), "y": float(np.sin(a))} for a in x])
    code, text, _ = run(
        capsys,
        "fit",
        str(path),
        "--lr",
        "auto",
        "--basis",
        "chebyshev",
        "--steps",
        "2000",
        "--dtype",
        "float64",
    )
    assert code == 0, text
    assert "final MSE: 0.000428" in text


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--plot", "p.png"], "--plot does not apply with --series-col"),
        (["--mode", "compiled"], "--mode does not apply with --series-col"),
        (["--strategy", "gram"], "--strategy does not apply with --series-col"),
        (["--dtype", "float64"], "--dtype does not apply with --series-col"),
    ],
)
def test_flags_a_batched_fit_would_ignore_are_refused(capsys, long_csv, flags, message) -> None:
    code, _, err = run(capsys, "fit", str(long_csv), *SENSORS, *flags)
    assert code == 1
    assert message in err


def test_a_batched_fit_saves_the_whole_batch_with_json(capsys, long_csv, tmp_path) -> None:
    """--json was refused with --series-col: it now saves the ManyResult, ids and all."""
    path = tmp_path / "batch.json"
    code, _, err = run(capsys, "fit", str(long_csv), *SENSORS, "--json", str(path))
    assert code == 0, err
    batch = gradpoly.ManyResult.load(path)
    assert batch.ids is not None
    assert batch.coef.shape[0] == len(batch.ids)
    assert batch.stats.stderr.shape == batch.coef.shape


def test_a_batched_fit_takes_momentum_as_one_curve_does(capsys, long_csv) -> None:
    """--momentum was refused with --series-col (fit_many's beta was fixed at 0.9)."""
    flags = ["--optimizer", "momentum", "--momentum", "0.5", "--lr", "auto"]
    code, out, err = run(capsys, "fit", str(long_csv), *SENSORS, *flags)
    assert code == 0, err
    assert "momentum" in out


def test_out_without_series_col_is_refused(capsys, data_csv, tmp_path) -> None:
    code, _, err = run(capsys, "fit", str(data_csv), "--out", str(tmp_path / "rows.csv"))
    assert code == 1
    assert "--out writes one row per series: it needs --series-col" in err


def test_a_run_that_fits_no_series_fails(capsys, tmp_path) -> None:
    path = tmp_path / "few.csv"
    path.write_text("id,x,y\na,1,2\nb,1,3\n")
    rows = tmp_path / "rows.csv"
    code, out, err = run(capsys, "fit", str(path), "--series-col", "id", "--out", str(rows))
    assert code == 1
    assert "none of the 2 series could be fitted" in err
    assert "not fitted" in out
    assert rows.exists()  # the rows say why, even so


def test_series_rows_to_standard_output(capsys, long_csv) -> None:
    code, out, err = run(capsys, "fit", str(long_csv), *SENSORS, "--out", "-")
    assert code == 0, err
    assert out.splitlines()[0].startswith("series,valid,coef_0")
    assert "fitted" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "--threads", "0"], "threads must be a positive integer"),
        (["bench", "--repeats", "0"], "repeats must be a positive integer"),
        (["demo", "--steps", "0"], "steps must be a positive integer"),
        (["derivative", "--points", "0"], "points must be a positive integer"),
    ],
)
def test_counts_are_checked_by_the_validation_layer(capsys, args, message) -> None:
    code, _, err = run(capsys, *args)
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("suffix", [".json"])
def test_json_outputs_are_strict(capsys, tmp_path, suffix) -> None:
    path = tmp_path / "few.csv"
    path.write_text("id,x,y\na,1,2\nb,1,3\nb,2,4\n")
    rows = tmp_path / f"rows{suffix}"
    run(capsys, "fit", str(path), "--series-col", "id", "--degree", "1", "--out", str(rows))
    text = rows.read_text()
    assert "NaN" not in text
    assert json.loads(text)[0]["coef_0"] is None


def test_fit_stats_prints_a_summary_and_json_carries_it(capsys, data_csv, tmp_path) -> None:
    out = tmp_path / "fit.json"
    plot = tmp_path / "fit.png"
    code = main(["fit", str(data_csv), "--degree", "3", "--basis", "chebyshev", "--lr", "auto",
                 "--optimizer", "nesterov", "--tol", "1e-12", "--dtype", "float64", "--stats",
                 "--level", "0.9", "--json", str(out), "--plot", str(plot)])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    for word in ("std err", "P>|t|", "[5%", "95%]", "x^3", "residual std", "R²", "dof 96"):
        assert word in text
    data = json.loads(out.read_text())
    x = np.linspace(0, 5, 100)
    import statsmodels.api as sm

    ols = sm.OLS(np.sin(x), np.vander(x, 4, increasing=True)).fit()
    np.testing.assert_allclose(data["stats"]["stderr"], ols.bse, rtol=1e-8)
    np.testing.assert_allclose(data["stats"]["conf_int"], ols.conf_int(0.1), rtol=1e-8)
    assert data["stats"]["r_squared"] == pytest.approx(ols.rsquared, rel=1e-10)
    loaded = FitResult.load(out)  # the saved Gram statistics come back: stats without a refit
    np.testing.assert_allclose(loaded.stats.stderr, ols.bse, rtol=1e-8)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_stats_says_when_the_fit_did_not_converge(capsys, data_csv) -> None:
    args = ["fit", str(data_csv), "--degree", "2", "--steps", "100", "--stats"]
    assert main([*args, "--preset", "notebook"]) == 0
    assert "did not converge" in capsys.readouterr().out


def test_fit_level_is_checked(capsys, data_csv) -> None:
    assert main(["fit", str(data_csv), "--stats", "--level", "1.5"]) == 1
    assert "level must be a number in (0, 1)" in capsys.readouterr().err


def test_series_rows_carry_standard_errors(capsys, tmp_path) -> None:
    rows = ["id,x,y"]
    for name, slope in (("a", 1.0), ("b", -2.0)):
        rows += [f"{name},{x},{slope * x + 0.01 * np.sin(9 * x)}" for x in np.linspace(0, 1, 20)]
    data = tmp_path / "long.csv"
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "rows.json"
    code = main(["fit", str(data), "--series-col", "id", "--degree", "1", "--lr", "auto",
                 "--tol", "1e-12", "--out", str(out)])  # fmt: skip
    assert code == 0
    written = json.loads(out.read_text())
    for row in written:
        assert {"stderr_0", "stderr_1", "residual_std", "r_squared"} <= set(row)
        assert 0 < row["stderr_1"] < 0.01
        assert row["r_squared"] > 0.99


def test_version_short_help_flags_and_plain_choice_errors(capsys) -> None:
    import gradpoly

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"gradpoly {gradpoly.__version__}"
    assert main(["-h"]) == 0
    assert "--version" in capsys.readouterr().out
    assert main(["fit", "-h"]) == 0
    text = capsys.readouterr().out
    assert "<bool>" not in text  # on/off options are flags, shown without a value
    assert "--drop-nan" in text
    assert "<engine>" in text  # a long choice list is named, then spelled out in the help
    assert "One of:" in text
    assert main(["fit", "data.csv", "--engine", "foo"]) == 2
    err = capsys.readouterr().err
    assert "'foo' is not one of: numpy, torch, jax, numba, dask, auto" in " ".join(err.split())
    assert "Value error" not in err


def test_counts_agree_with_their_nouns(capsys, data_csv) -> None:
    assert main(["fit", str(data_csv), "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "(1 step," in out
    assert "ran its single step" in out
    assert main(["fit", str(data_csv), "--steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "(3 steps," in out
    assert "ran all 3 steps" in out


def test_auto_choices_say_what_ran_with_one_label(capsys, data_csv, long_csv) -> None:
    """One convention for every auto option: what gradpoly chose, then "(auto)"."""
    code, out, _ = run(capsys, "fit", str(data_csv), "--engine", "auto", "--steps", "10")
    assert code == 0, out
    ran = out.split("ran: ")[1].split(" in the ")[0]
    assert ran.endswith(" (auto)")
    assert not ran.startswith("auto")
    code, out, _ = run(capsys, "fit", str(long_csv), *SENSORS, "--engine", "auto", "--degree", "1")
    assert code == 0, out
    engine = out.split("engine ")[1].split(")")[0]
    assert engine in {"numba (auto", "numpy (auto"}


def test_which_options_apply_to_one_curve_is_derived_from_the_library() -> None:
    """Applicability was two hand-kept tuples: it now follows fit's and fit_many's signatures
    (momentum left the list when fit_many learned it; dtype is one curve's since the batched
    precision option is storage=)."""
    from gradpoly.cli.fit import _one_curve_only

    assert _one_curve_only() == ("dtype", "mode", "strategy", "plot", "stats", "level")


def test_degree_prints_the_criteria_and_writes_the_choice(capsys, tmp_path) -> None:
    rng = np.random.default_rng(2)
    x = np.linspace(0, 5, 60)
    y = 1.0 + 0.5 * x - 0.3 * x**2 + 0.05 * rng.standard_normal(60)
    data = tmp_path / "curve.csv"
    data.write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in zip(x, y, strict=True)))
    out = tmp_path / "degree.json"
    code, text, _ = run(capsys, "degree", str(data), "--max-degree", "5", "--criterion", "bic",
                        "--json", str(out))  # fmt: skip
    assert code == 0
    expected = gradpoly.select_degree(x, y, 5, criterion="bic")
    assert f"{int(expected.degree)} *" in text
    written = json.loads(out.read_text())
    assert written["degree"] == int(expected.degree) == 2
    np.testing.assert_allclose(written["scores"]["bic"], expected.scores["bic"], rtol=1e-12)


def test_degree_per_series_and_bad_options(capsys, tmp_path) -> None:
    rows = ["id,x,y"]
    for name, power in (("line", 1), ("cubic", 3)):
        rows += [f"{name},{x},{x**power + 0.01 * np.sin(40 * x)}" for x in np.linspace(-1, 1, 40)]
    data = tmp_path / "long.csv"
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "degrees.json"
    code, text, _ = run(capsys, "degree", str(data), "--series-col", "id", "--json", str(out))
    assert code == 0
    assert "cubic" in text
    written = json.loads(out.read_text())
    assert written["series"] == ["line", "cubic"]
    assert written["degree"][0] >= 1
    assert written["degree"][1] >= 3
    code, _, err = run(capsys, "degree", str(data), "--criterion", "r2")
    assert code == 1
    assert err.count("\n") == 1
    assert "criterion must be one of" in err
    code, _, err = run(capsys, "degree", str(data), "--json", str(data))
    assert code == 1


def test_calibrate_reads_measured_values_back(capsys, tmp_path) -> None:
    data = tmp_path / "standards.csv"
    data.write_text("conc,signal\n0,2.1\n2,5.0\n4,9.0\n6,12.6\n8,17.3\n10,21.0\n12,24.7\n")
    out = tmp_path / "cal.json"
    code, text, _ = run(capsys, "calibrate", str(data), "--x-col", "conc", "--y-col", "signal",
                        "--measured", "13.5", "--measured", "40", "--interval", "delta",
                        "--json", str(out))  # fmt: skip
    assert code == 0
    assert "LOD 0.739965" in text
    assert "warning: 1 of 2 measured values have no inverse prediction" in text
    written = json.loads(out.read_text())
    assert round(written["readings"][0]["x"], 2) == 6.21
    assert written["readings"][1]["x"] is None
    code, _, err = run(capsys, "calibrate", str(data), "--interval", "wide")
    assert code == 1
    assert "--interval must be classical or delta" in err


def test_robust_fits_and_reports(capsys, tmp_path) -> None:
    x = np.linspace(0, 5, 40)
    y = 1.0 + 0.5 * x
    y[[5, 17, 30]] += [4.0, -3.0, 5.0]
    data = tmp_path / "line.csv"
    data.write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in zip(x, y, strict=True)))
    out = tmp_path / "robust.json"
    code, text, _ = run(capsys, "robust", str(data), "--norm", "bisquare", "--json", str(out))
    assert code == 0
    assert "bisquare fit" in text
    written = json.loads(out.read_text())["fits"][0]
    np.testing.assert_allclose(written["coef"], [1.0, 0.5], atol=1e-9)
    assert written["rejected"] == 3
    code, _, err = run(capsys, "robust", str(data), "--norm", "l1")
    assert code == 1
    assert "norm must be one of" in err


def test_calibrate_through_the_origin(capsys, tmp_path) -> None:
    data = tmp_path / "standards.csv"
    data.write_text("x,y\n1,2.1\n2,3.9\n3,6.2\n4,7.9\n5,10.1\n")
    out = tmp_path / "cal.json"
    code, _, _ = run(capsys, "calibrate", str(data), "--fixed", "0=0", "--json", str(out))
    assert code == 0
    written = json.loads(out.read_text())
    assert written["coef"][0] == 0.0
    x = np.arange(1.0, 6.0)
    y = np.array([2.1, 3.9, 6.2, 7.9, 10.1])
    assert written["coef"][1] == pytest.approx(float(x @ y / (x @ x)), rel=1e-12)
    code, _, err = run(capsys, "calibrate", str(data), "--through", "1;2")
    assert code == 1
    assert "--through takes X,Y" in err


def test_calibrate_keeps_a_curve_monotone(capsys, tmp_path) -> None:
    x = np.linspace(0, 10, 30)
    y = np.tanh(x - 5) + 0.15 * np.sin(7 * x)
    data = tmp_path / "bent.csv"
    data.write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in zip(x, y, strict=True)))
    out = tmp_path / "cal.json"
    code, _, _ = run(capsys, "calibrate", str(data), "--degree", "5", "--monotone", "increasing",
                     "--json", str(out))  # fmt: skip
    assert code == 0
    coef = json.loads(out.read_text())["coef"]
    np.testing.assert_allclose(coef, gradpoly.lstsq(x, y, 5, monotone="increasing"), rtol=1e-9)
    code, _, err = run(capsys, "calibrate", str(data), "--monotone", "up")
    assert code == 1
    assert "monotone must be" in err


def test_every_command_s_warnings_are_one_line_each(capsys, tmp_path) -> None:
    """The degree command let Python print its warning with a source line of typer's."""
    path = tmp_path / "two.csv"
    path.write_text("x,y\n1,1\n2,2\n")
    for args in (["degree", str(path)], ["calibrate", str(path), "--degree", "1"]):
        code, _, err = run(capsys, *args)
        assert code == 0, err
        lines = err.strip().splitlines()
        assert lines, args
        assert all(line.startswith("warning: ") for line in lines), err
        assert "typer" not in err
