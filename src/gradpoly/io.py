"""Reading data files and writing outputs atomically (temp file in the same folder + rename)."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from gradpoly.errors import DataFileError


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    The rename is atomic on POSIX, so readers see the old file or the whole new one, and an
    interrupted writer leaves no truncated output. ``suffix`` keeps writers that pick a
    format from the extension (matplotlib) happy.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent
        )
    except OSError as exc:
        raise DataFileError(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, write: Callable[[IO[str]], None]) -> Path:
    """Write a text file atomically through ``write(handle)``."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
        write(handle)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""

    def write(handle: IO[str]) -> None:
        handle.write(text)

    return write_atomic(path, write)


def read_text(path: str | Path) -> str:
    """Read a UTF-8 text file, turning OS errors into one readable DataFileError."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DataFileError(f"cannot read {path}: it is not UTF-8 text") from None


def _parse_float(text: str, path: str | Path, row: int, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataFileError(
            f"{path}: row {row}, column {column!r} is not a number: {text.strip()!r}"
        ) from None


def read_csv_columns(path: str | Path, names: Sequence[str]) -> list[npt.NDArray[np.float64]]:
    """Read numeric columns from a CSV file, by header name.

    Without a header (first row numeric) the first ``len(names)`` columns are taken in order.
    Missing columns and non-numeric cells raise DataFileError naming the row and column.
    """
    rows = [row for row in csv.reader(read_text(path).splitlines()) if any(c.strip() for c in row)]
    if not rows:
        raise DataFileError(f"{path}: the file has no rows")
    header = [c.strip() for c in rows[0]]
    try:
        [float(c) for c in header[: len(names)]]
        has_header = False
    except ValueError:
        has_header = True
    if has_header:
        missing = [c for c in names if c not in header]
        if missing:
            raise DataFileError(
                f"{path}: no column named {missing[0]!r}; the header has {', '.join(header)}"
            )
        index = [header.index(c) for c in names]
        body, first_row, labels = rows[1:], 2, list(names)
    else:
        index = list(range(len(names)))
        body, first_row, labels = rows, 1, [str(i + 1) for i in index]
    if not body:
        raise DataFileError(f"{path}: the file has a header but no data rows")
    columns = [np.empty(len(body)) for _ in names]
    needed = max(index) + 1
    for i, row in enumerate(body):
        line = first_row + i
        if len(row) < needed:
            raise DataFileError(
                f"{path}: row {line} has {len(row)} column(s), expected at least {needed}"
            )
        for column, j, label in zip(columns, index, labels, strict=True):
            column[i] = _parse_float(row[j], path, line, label)
    return columns


def read_xy_csv(
    path: str | Path, x_col: str = "x", y_col: str = "y"
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Read the x and y columns of a CSV file (by name, or the first two without a header)."""
    x, y = read_csv_columns(path, (x_col, y_col))
    return x, y


def read_long_csv(
    path: str | Path,
    series_col: str,
    x_col: str = "x",
    y_col: str = "y",
    weights_col: str | None = None,
) -> tuple[list[str], list[np.ndarray], list[np.ndarray], list[np.ndarray] | None]:
    """A long table (one row per point, a series id column) split into per-series arrays.

    Series keep the order in which their ids first appear; ids are read as text.
    """
    text = read_text(path)
    rows = [row for row in csv.reader(text.splitlines()) if any(c.strip() for c in row)]
    if not rows:
        raise DataFileError(f"{path}: the file has no rows")
    header = [c.strip() for c in rows[0]]
    wanted = [series_col, x_col, y_col] + ([weights_col] if weights_col else [])
    missing = [c for c in wanted if c not in header]
    if missing:
        raise DataFileError(
            f"{path}: no column named {missing[0]!r}; the header has {', '.join(header)}"
        )
    index = [header.index(c) for c in wanted]
    groups: dict[str, list[list[float]]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) <= max(index):
            raise DataFileError(
                f"{path}: row {line} has {len(row)} column(s), expected at least {max(index) + 1}"
            )
        values = [
            _parse_float(row[j], path, line, name)
            for j, name in zip(index[1:], wanted[1:], strict=True)
        ]
        groups.setdefault(row[index[0]].strip(), []).append(values)
    if not groups:
        raise DataFileError(f"{path}: the file has a header but no data rows")
    ids = list(groups)
    tables = [np.asarray(groups[i], dtype=np.float64) for i in ids]
    weights = [t[:, 2] for t in tables] if weights_col else None
    return ids, [t[:, 0] for t in tables], [t[:, 1] for t in tables], weights


ROW_FORMATS = (".csv", ".json", ".npz")
"""File types :func:`write_rows` writes, by suffix."""


def write_rows(path: str | Path, rows: Sequence[dict[str, object]]) -> Path:
    """Write records atomically as CSV, JSON or NPZ (one array per column), by suffix."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
        return write_text_atomic(target, buffer.getvalue())
    if suffix == ".json":
        return write_text_atomic(target, json.dumps(list(rows), indent=1) + "\n")
    if suffix == ".npz":
        columns = {k: np.asarray([r[k] for r in rows]) for k in (rows[0] if rows else {})}
        with atomic_path(target, suffix=".npz") as tmp:
            np.savez(tmp, **columns)  # type: ignore[arg-type]
        return target
    raise DataFileError(f"cannot write {target}: use a .csv, .json or .npz file name")
