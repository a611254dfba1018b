"""gradpoly.dask: lazy readers, many series on a dask dataframe, and the CLI on Dask."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradpoly import DataFileError, fit_many, lstsq_many
from gradpoly.cli import main

dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")


@pytest.fixture
def long_parquet(tmp_path):
    """Three files of a long table: 12 series spread over every file, one too short."""
    rng = np.random.default_rng(4)
    rows = []
    for s in range(12):
        count = 3 if s == 5 else 60
        t = rng.uniform(0, 3, count)
        rows += [(f"s{s:02d}", a, np.exp(-a) * (1 + s) + 0.01 * rng.standard_normal()) for a in t]
    frame = pd.DataFrame(rows, columns=["id", "t", "v"]).sample(frac=1.0, random_state=1)
    third = len(frame) // 3
    for k in range(3):
        part = frame.iloc[k * third : (k + 1) * third if k < 2 else len(frame)]
        part.to_parquet(tmp_path / f"part{k}.parquet")
    return tmp_path, frame


def test_fit_series_frame_equals_fit_many(long_parquet) -> None:
    from gradpoly.dask import fit_series_frame, read_frame

    folder, frame = long_parquet
    lazy = read_frame(folder / "*.parquet", ["id", "t", "v"])
    rows = (
        fit_series_frame(lazy, "id", "t", "v", degree=3, steps=3_000, tol=1e-12, lr="auto")
        .compute()
        .sort_values("series")
    )
    groups = frame.groupby("id", sort=True)
    xs = [g["t"].to_numpy() for _, g in groups]
    ys = [g["v"].to_numpy() for _, g in groups]
    expected = fit_many(xs, ys, 3, steps=3_000, tol=1e-12)
    assert rows["series"].tolist() == [str(k) for k in groups.groups]
    assert rows["valid"].tolist() == expected.valid.tolist()
    coef = rows[[f"coef_{j}" for j in range(4)]].to_numpy()
    np.testing.assert_allclose(coef[expected.valid], expected.coef[expected.valid], rtol=1e-9)
    closed = fit_series_frame(lazy, "id", "t", "v", degree=3, solver="lstsq").compute()
    with pytest.warns(DeprecationWarning, match="closed_form= is solver="):
        old = fit_series_frame(lazy, "id", "t", "v", degree=3, closed_form=True).compute()

    def ordered(table):  # partitions come back in any order
        return table.sort_values("series").reset_index(drop=True)

    before, after = ordered(old), ordered(closed)  # partitions group series differently
    assert before["series"].tolist() == after["series"].tolist()
    numbers = [c for c in after.columns if c.startswith(("coef_", "stderr_"))]
    np.testing.assert_allclose(before[numbers].to_numpy(), after[numbers].to_numpy(), rtol=1e-9)
    closed = closed.sort_values("series")[[f"coef_{j}" for j in range(4)]].to_numpy()
    np.testing.assert_allclose(
        closed[expected.valid], lstsq_many(xs, ys, 3).coef[expected.valid], rtol=1e-9
    )


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"degree": "a"}, "InvalidOptionError", "degree must be a non-negative integer"),
        ({"degree": 2.5}, "InvalidOptionError", "degree must be a non-negative integer"),
        ({"degree": -1}, "InvalidOptionError", "degree must be a non-negative integer"),
        ({"series_col": "nope"}, "InvalidDataError", "no column named 'nope'; it has id, t, v"),
        ({"x_col": "nope"}, "InvalidDataError", "no column named 'nope'"),
        ({"weights_col": "w"}, "InvalidDataError", "no column named 'w'"),
        ({"bogus": 1}, "InvalidOptionError", "has no option 'bogus'; it passes fit_many's"),
        ({"solver": "lstsq", "steps": 5}, "InvalidOptionError", "it passes lstsq_many's"),
        ({"weights": [1.0]}, "InvalidOptionError", "sets weights= from the frame"),
    ],
)
def test_fit_series_frame_refuses_bad_input_before_any_work(long_parquet, change, error, match
                                                             ) -> None:  # fmt: skip
    """One typed line when the call is made, as every front door gives: not a TypeError or
    KeyError from inside a partition when it is computed."""
    import gradpoly.errors
    from gradpoly.dask import fit_series_frame, read_frame

    folder, _ = long_parquet
    lazy = read_frame(folder / "*.parquet", ["id", "t", "v"])
    call = {"series_col": "id", "x_col": "t", "y_col": "v", "degree": 3} | change
    with pytest.raises(getattr(gradpoly.errors, error), match=match):
        fit_series_frame(lazy, **call)


def test_fit_series_frame_passes_its_options_to_the_closed_form(long_parquet) -> None:
    """solver="lstsq" passes lstsq_many's options (they were dropped): through the origin."""
    from gradpoly.dask import fit_series_frame, read_frame

    folder, frame = long_parquet
    lazy = read_frame(folder / "*.parquet", ["id", "t", "v"])
    rows = fit_series_frame(lazy, "id", "t", "v", degree=2, solver="lstsq", fixed={0: 0.0})
    rows = rows.compute().sort_values("series")
    groups = frame.groupby("id", sort=True)
    xs = [g["t"].to_numpy() for _, g in groups]
    ys = [g["v"].to_numpy() for _, g in groups]
    expected = lstsq_many(xs, ys, 2, fixed={0: 0.0})
    coef = rows[[f"coef_{j}" for j in range(3)]].to_numpy()
    np.testing.assert_array_equal(coef[expected.valid, 0], 0.0)
    np.testing.assert_allclose(coef[expected.valid], expected.coef[expected.valid], rtol=1e-9)


def test_read_frame_errors(tmp_path, long_parquet) -> None:
    from gradpoly.dask import read_frame

    folder, _ = long_parquet
    with pytest.raises(DataFileError, match="no such file"):
        read_frame(tmp_path / "none" / "*.parquet", ["x"])
    with pytest.raises(DataFileError, match="no column named 'x'; it has id, t, v"):
        read_frame(folder / "*.parquet", ["x"])
    (tmp_path / "a.npz").write_bytes(b"")
    with pytest.raises(DataFileError, match="lazily"):
        read_frame(tmp_path / "a.npz", ["x"])


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_fits_parquet_files_on_dask(capsys, tmp_path, long_parquet) -> None:
    folder, frame = long_parquet
    pattern = str(folder / "*.parquet")
    out = tmp_path / "r.json"
    code, text, err = run(
        capsys,
        "fit",
        pattern,
        "--engine",
        "dask",
        "--x-col",
        "t",
        "--y-col",
        "v",
        "--strategy",
        "gram",
        "--dtype",
        "float64",
        "--basis",
        "chebyshev",
        "--lr",
        "auto",
        "--steps",
        "2000",
        "--tol",
        "1e-12",
        "--degree",
        "3",
        "--json",
        str(out),
    )
    assert code == 0, err
    assert f"read {len(frame):,} points in " in text
    saved = json.loads(out.read_text())
    assert saved["config"]["engine"] == "dask"
    memory = np.polynomial.polynomial.polyfit(frame["t"], frame["v"], 3)
    np.testing.assert_allclose(saved["coef"], memory, rtol=1e-7)

    rows = tmp_path / "rows.csv"
    code, text, err = run(
        capsys,
        "fit",
        pattern,
        "--engine",
        "dask",
        "--series-col",
        "id",
        "--x-col",
        "t",
        "--y-col",
        "v",
        "--degree",
        "3",
        "--lr",
        "auto",
        "--basis",
        "chebyshev",
        "--out",
        str(rows),
    )
    assert code == 0, err
    assert "fitted 11 of 12 series" in text
    assert "series 's05' not fitted" in text
    assert len(rows.read_text().splitlines()) == 13


def test_cli_dask_errors_are_one_line(capsys, long_parquet) -> None:
    folder, _ = long_parquet
    pattern = str(folder / "*.parquet")
    for args, message in (
        (["--scheduler", "tcp://127.0.0.1:9"], "--scheduler needs --engine dask"),
        (["--engine", "dask", "--x-col", "t", "--y-col", "v", "--plot", "p.png"], "--plot needs"),
        (["--engine", "dask"], "no column named 'x'"),
    ):
        code, _, err = run(capsys, "fit", pattern, *args)
        assert code == 1, err
        assert message in err
        assert len(err.strip().splitlines()) == 1


def test_cli_runs_on_a_scheduler_address(capsys, long_parquet) -> None:
    distributed = pytest.importorskip("distributed")
    folder, frame = long_parquet
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        code, text, err = run(
            capsys,
            "fit",
            str(folder / "*.parquet"),
            "--engine",
            "dask",
            "--scheduler",
            cluster.scheduler_address,
            "--x-col",
            "t",
            "--y-col",
            "v",
            "--strategy",
            "gram",
            "--dtype",
            "float64",
            "--basis",
            "chebyshev",
            "--lr",
            "auto",
            "--degree",
            "3",
            "--steps",
            "2000",
            "--tol",
            "1e-12",
        )
    assert code == 0, err
    assert f"read {len(frame):,} points" in text
    assert "estimated coefficient error" in text


def _serve(handler):  # type: ignore[no-untyped-def]
    """A TCP server on a free port running ``handler(connection)`` per client, in a thread."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def loop() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return server


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("silent", "sent no Dask handshake within"),
        ("http", "does not speak Dask's protocol"),
        ("hangup", "closed the connection"),
    ],
)
def test_a_scheduler_address_that_is_not_dask_fails_in_time(
    capsys, monkeypatch, long_parquet, behaviour, message
):
    import time

    import gradpoly.dask
    from gradpoly.dask import check_scheduler

    monkeypatch.setattr(gradpoly.dask, "HANDSHAKE_SECONDS", 0.5)

    def handler(conn):  # type: ignore[no-untyped-def]
        if behaviour == "http":
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        if behaviour != "hangup":
            time.sleep(3)
        conn.close()

    server = _serve(handler)
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        start = time.perf_counter()
        with pytest.raises(Exception, match=message):
            check_scheduler(address, timeout=0.5)
        assert time.perf_counter() - start < 2.5
        folder, _ = long_parquet
        code, _, err = run(
            capsys, "fit", str(folder / "*.parquet"), "--engine", "dask", "--scheduler", address
        )
        assert code == 1
        assert message in err
        assert len(err.strip().splitlines()) == 1
    finally:
        server.close()


def test_complex_and_text_cells_out_of_core(tmp_path) -> None:
    from gradpoly import fit
    from gradpoly.dask import read_xy
    from gradpoly.errors import GradpolyError

    x = np.linspace(0, 1, 20)
    with pytest.raises(GradpolyError, match="complex"):
        fit(x + 1j, x, 1, engine="dask", strategy="gram")
    path = tmp_path / "text.csv"
    rows = [f"{a},{a}" for a in x] + ["oops,1.0"]
    path.write_text("x,y\n" + "\n".join(rows) + "\n")
    lazy_x, lazy_y, _ = read_xy(path)
    with pytest.raises(GradpolyError) as caught:
        fit(lazy_x, lazy_y, 1, engine="dask", strategy="gram", steps=5)
    assert "\n" not in str(caught.value)


def test_lazy_csv_with_bom_and_duplicate_columns(tmp_path) -> None:
    from gradpoly.dask import read_frame

    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffx,y\n1,2\n2,3\n".encode())
    assert list(read_frame(str(bom), ["x", "y"]).columns) == ["x", "y"]
    dup = tmp_path / "dup.csv"
    dup.write_text("x,y,x\n1,2,3\n")
    with pytest.raises(DataFileError, match="appears more than once"):
        read_frame(str(dup), ["x", "y"])
