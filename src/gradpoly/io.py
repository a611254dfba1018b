"""Reading data files and writing outputs atomically (temp file in the same folder + rename)."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterator
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


def read_xy_csv(
    path: str | Path, x_col: str = "x", y_col: str = "y"
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Read two numeric columns from a CSV file.

    With a header row the columns named ``x_col`` and ``y_col`` are used; without one (first
    row numeric) the first two columns are. Non-numeric cells raise DataFileError naming the
    row and column.
    """
    rows = [row for row in csv.reader(read_text(path).splitlines()) if any(c.strip() for c in row)]
    if not rows:
        raise DataFileError(f"{path}: the file has no rows")
    header = [c.strip() for c in rows[0]]
    try:
        [float(c) for c in header[:2]]
        has_header = False
    except ValueError:
        has_header = True
    if has_header:
        missing = [c for c in (x_col, y_col) if c not in header]
        if missing:
            raise DataFileError(
                f"{path}: no column named {missing[0]!r}; the header has {', '.join(header)}"
            )
        ix, iy = header.index(x_col), header.index(y_col)
        body, first_row, names = rows[1:], 2, (x_col, y_col)
    else:
        ix, iy = 0, 1
        body, first_row, names = rows, 1, ("1", "2")
    if not body:
        raise DataFileError(f"{path}: the file has a header but no data rows")
    x = np.empty(len(body))
    y = np.empty(len(body))
    for i, row in enumerate(body):
        line = first_row + i
        if len(row) <= max(ix, iy):
            raise DataFileError(
                f"{path}: row {line} has {len(row)} column(s), expected at least {max(ix, iy) + 1}"
            )
        x[i] = _parse_float(row[ix], path, line, names[0])
        y[i] = _parse_float(row[iy], path, line, names[1])
    return x, y
