"""CSV reading with clear errors, and atomic writes that never leave a truncated file."""

from __future__ import annotations

import numpy as np
import pytest

from gradpoly import DataFileError
from gradpoly.io import atomic_path, read_xy_csv, write_text_atomic


def test_reads_named_columns_in_any_order(tmp_path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,y,x\n1,10,0.5\n2,20,1.5\n")
    x, y = read_xy_csv(path)
    np.testing.assert_array_equal(x, [0.5, 1.5])
    np.testing.assert_array_equal(y, [10, 20])


def test_reads_two_columns_without_header(tmp_path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("0,1\n1,2\n\n2,3\n")
    x, y = read_xy_csv(path)
    np.testing.assert_array_equal(x, [0, 1, 2])
    np.testing.assert_array_equal(y, [1, 2, 3])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "has no rows"),
        ("x,y\n", "header but no data rows"),
        ("a,b\n1,2\n", "no column named 'x'; the header has a, b"),
        ("x,y\n1,2\n3,oops\n", "row 3, column 'y' is not a number: 'oops'"),
        ("x,y\n1\n", "row 2 has 1 column"),
    ],
)
def test_bad_csv_names_the_problem(tmp_path, text, match) -> None:
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(DataFileError, match=match):
        read_xy_csv(path)


def test_missing_and_binary_files_are_data_file_errors(tmp_path) -> None:
    with pytest.raises(DataFileError, match="No such file"):
        read_xy_csv(tmp_path / "missing.csv")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DataFileError, match="not UTF-8"):
        read_xy_csv(binary)
    with pytest.raises(OSError, match="cannot read"):
        read_xy_csv(tmp_path)


def test_atomic_write_replaces_whole_file(tmp_path) -> None:
    path = tmp_path / "out.txt"
    write_text_atomic(path, "old")
    write_text_atomic(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_interrupted_write_leaves_the_old_file_and_no_temp(tmp_path) -> None:
    path = tmp_path / "out.txt"
    write_text_atomic(path, "old")

    def interrupted_writer() -> None:
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_writer()
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_unwritable_target_is_a_data_file_error(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DataFileError, match="cannot write"):
        write_text_atomic(blocker / "sub" / "out.txt", "x")


def test_reads_any_named_columns(tmp_path) -> None:
    from gradpoly.io import read_csv_columns

    path = tmp_path / "d.csv"
    path.write_text("w,x,y\n2,0.5,10\n3,1.5,20\n")
    w, y = read_csv_columns(path, ("w", "y"))
    np.testing.assert_array_equal(w, [2, 3])
    np.testing.assert_array_equal(y, [10, 20])


def _table(tmp_path, suffix: str):
    """x, y, w and a text id column written in the given format."""
    from gradpoly.io import write_rows

    x = np.array([0.5, 1.5, 2.5])
    y = np.array([1.0, -2.0, 3.5])
    ids = ["a", "b", "a"]
    path = tmp_path / f"t{suffix}"
    rows = [{"id": i, "x": float(a), "y": float(b)} for i, a, b in zip(ids, x, y, strict=True)]
    if suffix == ".npz":
        np.savez(path, id=np.array(ids), x=x, y=y)
    elif suffix == ".npy":
        structured = np.zeros(3, dtype=[("id", "U4"), ("x", "f8"), ("y", "f8")])
        structured["id"], structured["x"], structured["y"] = ids, x, y
        np.save(path, structured)
    else:
        write_rows(path, rows)
    return path, x, y, ids


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy", ".npz"])
def test_read_table_round_trips_every_format(tmp_path, suffix) -> None:
    from gradpoly.io import read_long, read_table

    path, x, y, ids = _table(tmp_path, suffix)
    table = read_table(path, ["x", "y"], text=["id"])
    np.testing.assert_array_equal(table["x"], x)
    np.testing.assert_array_equal(table["y"], y)
    assert table["id"].tolist() == ids
    names, xs, ys, _ = read_long(path, "id")
    assert names == ["a", "b"]
    np.testing.assert_array_equal(xs[0], [0.5, 2.5])
    np.testing.assert_array_equal(ys[1], [-2.0])


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy", ".npz"])
def test_a_missing_column_is_named_with_what_is_there(tmp_path, suffix) -> None:
    from gradpoly.io import read_table

    path, *_ = _table(tmp_path, suffix)
    with pytest.raises(DataFileError, match=r"no column named 'v'; it has .*x"):
        read_table(path, ["x", "v"], text=["id"])


def test_unreadable_and_unknown_files(tmp_path) -> None:
    from gradpoly.io import read_table

    for name, content, match in (
        ("bad.parquet", b"not parquet", "cannot read"),
        ("bad.npz", b"garbage", "cannot read"),
        ("d.xlsx", b"", "unknown file type .xlsx"),
    ):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(DataFileError, match=match):
            read_table(path, ["x", "y"])
    plain = tmp_path / "one.npy"
    np.save(plain, np.arange(5.0))
    with pytest.raises(DataFileError, match=r"must have shape \(N, 2\)"):
        read_table(plain, ["x", "y"])


@pytest.mark.parametrize("suffix", [".csv", ".json", ".npz", ".parquet"])
def test_write_rows_round_trips(tmp_path, suffix) -> None:
    import json

    from gradpoly.io import read_table, write_rows

    rows = [
        {"series": "a", "coef_0": 1.5, "valid": True},
        {"series": "b", "coef_0": float("nan"), "valid": False},
    ]
    path = write_rows(tmp_path / f"rows{suffix}", rows)
    if suffix == ".json":
        back = json.loads(path.read_text())
        assert back[0] == rows[0]
        return
    table = read_table(path, ["coef_0"], text=["series"])
    assert table["series"].tolist() == ["a", "b"]
    assert table["coef_0"][0] == 1.5
    assert np.isnan(table["coef_0"][1])


def test_an_interrupted_parquet_write_leaves_the_old_file(tmp_path, monkeypatch) -> None:
    import pyarrow.parquet as pq

    from gradpoly.io import write_rows

    path = write_rows(tmp_path / "rows.parquet", [{"a": 1.0}])

    def broken(table, where):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(KeyboardInterrupt):
        write_rows(path, [{"a": 2.0}])
    monkeypatch.undo()
    assert pq.read_table(path).to_pydict() == {"a": [1.0]}
    assert [p.name for p in tmp_path.iterdir()] == ["rows.parquet"]


def test_a_utf8_bom_is_skipped(tmp_path) -> None:
    from gradpoly.io import read_table

    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffx,y\n1,2\n3,4\n".encode())
    table = read_table(path, ["x", "y"])
    np.testing.assert_array_equal(table["x"], [1, 3])


def test_duplicated_column_names_are_refused(tmp_path) -> None:
    from gradpoly.io import read_table

    path = tmp_path / "dup.csv"
    path.write_text("x,y,x\n1,2,3\n")
    with pytest.raises(DataFileError, match="'x' appears 2 times"):
        read_table(path, ["x", "y"])


def test_two_dimensional_npz_members_are_refused(tmp_path) -> None:
    from gradpoly.io import read_table

    path = tmp_path / "grid.npz"
    np.savez(path, x=np.zeros((3, 4)), y=np.zeros(12))
    with pytest.raises(DataFileError, match=r"shape \(3, 4\); columns must be 1-D"):
        read_table(path, ["x", "y"])


@pytest.mark.parametrize("member", ["object", "complex"])
def test_odd_npz_members_are_refused(tmp_path, member) -> None:
    from gradpoly.io import read_table

    path = tmp_path / "odd.npz"
    values = np.array([1, "a"], dtype=object) if member == "object" else np.array([1j, 2])
    np.savez(path, x=values, y=np.zeros(2))
    with pytest.raises(DataFileError):
        read_table(path, ["x", "y"])


def test_a_damaged_npz_is_one_data_file_error(tmp_path) -> None:
    from gradpoly.io import read_table

    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(50.0), y=np.arange(50.0))
    raw = bytearray(path.read_bytes())
    raw[100:110] = b"\xff" * 10  # inside the first member: a bad CRC or a bad header
    path.write_bytes(bytes(raw))
    with pytest.raises(DataFileError, match=r"d\.npz"):
        read_table(path, ["x", "y"])


def test_empty_cells_are_missing_values(tmp_path) -> None:
    from gradpoly.io import read_xy

    path = tmp_path / "gaps.csv"
    path.write_text("x,y\n1,2\n2,\n3,4\n")
    with pytest.raises(DataFileError, match=r"data rows 2"):
        read_xy(path)
    x, _, _ = read_xy(path, drop_nan=True)
    np.testing.assert_array_equal(x, [1, 3])


@pytest.mark.parametrize("missing", ["", "NaN", "None"])
def test_missing_series_ids_are_named_or_dropped(tmp_path, missing) -> None:
    from gradpoly.io import read_long

    path = tmp_path / "ids.csv"
    path.write_text(f"id,x,y\na,1,2\n{missing},2,3\na,3,4\n")
    with pytest.raises(DataFileError, match=r"no 'id'.*data rows 2"):
        read_long(path, "id")
    ids, xs, _, _ = read_long(path, "id", drop_nan=True)
    assert ids == ["a"]
    np.testing.assert_array_equal(xs[0], [1, 3])


def test_null_ids_in_parquet_are_missing(tmp_path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from gradpoly.io import read_long

    path = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"id": ["a", None, "a"], "x": [1.0, 2, 3], "y": [1.0, 2, 3]}), path)
    with pytest.raises(DataFileError, match="no 'id'"):
        read_long(path, "id")


def test_a_quoted_field_keeps_its_line_break_as_the_dask_reader_does(tmp_path) -> None:
    """A series label with a comma, a quote and a line break is read whole: the lines were
    split before parsing, so "new\\nline" became "newline" (and could meet a series of that
    name); the labels come back exactly through --out CSV, and Dask reads the same."""
    import csv
    import io

    pd = pytest.importorskip("pandas")
    from gradpoly.cli import main
    from gradpoly.io import read_table

    names = ["a,b", 'quote"d', "new\nline", "newline"]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["series", "t", "v"])
    for name in names:
        for t in np.linspace(0, 1, 8):
            writer.writerow([name, t, np.sin(t) + len(name)])
    path = tmp_path / "labels.csv"
    path.write_text(text.getvalue())
    table = read_table(path, ["t", "v"], ["series"])
    assert sorted(set(table["series"])) == sorted(names)
    out = tmp_path / "rows.csv"
    assert main(["fit", str(path), "--series-col", "series", "--x-col", "t", "--y-col", "v",
                 "--degree", "1", "--out", str(out)]) == 0  # fmt: skip
    assert sorted(pd.read_csv(out, dtype={"series": str})["series"]) == sorted(names)
    assert sorted(set(pd.read_csv(path)["series"])) == sorted(names)  # what Dask's reader sees


def test_csv_labels_are_kept_as_written_as_every_other_reader_keeps_them(tmp_path) -> None:
    """ " a" and "a" are two series, as in Parquet and for Dask's reader: stripping merged them
    into one silently (twice the points, one fit)."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    from gradpoly.io import read_long

    frame = pd.DataFrame({"s": ["a"] * 6 + [" a"] * 6, "t": np.tile(np.arange(6.0), 2),
                          "v": np.r_[np.arange(6.0), -np.arange(6.0)]})  # fmt: skip
    frame.to_csv(tmp_path / "long.csv", index=False)
    frame.to_parquet(tmp_path / "long.parquet")
    for name in ("long.csv", "long.parquet"):
        ids, xs, _, _ = read_long(tmp_path / name, "s", "t", "v")
        assert ids == ["a", " a"], name
        assert [len(x) for x in xs] == [6, 6]
