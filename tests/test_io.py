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
