"""Reading data files (CSV, Parquet, NPY, NPZ) and writing tables of rows; see outputs.py."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import validation
from gradpoly.engines.base import OptionalLibrary
from gradpoly.errors import DataFileError, GradpolyError, OutputError
from gradpoly.outputs import atomic_path, is_stdout, json_text, read_text, write_text_atomic
from gradpoly.validation import missing_ids


def _parse_float(text: str, path: str | Path, row: int, column: str) -> float:
    if not text.strip():
        return float("nan")  # an empty cell is a missing value, as for every other reader
    try:
        return float(text)
    except ValueError:
        raise DataFileError(
            f"{path}: row {row}, column {column!r} is not a number: {text.strip()!r}"
        ) from None


def _csv_rows(path: str | Path) -> list[list[str]]:
    """The CSV file's records, blank ones left out: parsed from the text as a stream, so a
    quoted field may hold a line break (splitting lines first dropped it: a series named
    ``"new\nline"`` became ``"newline"``, where the Dask reader kept it)."""
    records = csv.reader(io.StringIO(read_text(path), newline=""))
    return [row for row in records if any(c.strip() for c in row)]


def read_csv_columns(path: str | Path, names: Sequence[str]) -> list[npt.NDArray[np.float64]]:
    """Read numeric columns from a CSV file, by header name.

    Without a header (first row numeric) the first ``len(names)`` columns are taken in order.
    Missing columns and non-numeric cells raise DataFileError naming the row and column.
    """
    rows = _csv_rows(path)
    if not rows:
        raise DataFileError(f"{path}: the file has no rows")
    header = [c.strip() for c in rows[0]]
    try:
        [float(c) for c in header[: len(names)]]
        has_header = False
    except ValueError:
        has_header = True
    if has_header:
        validation.columns(path, names, header, "the header has")
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


PYARROW = OptionalLibrary("pyarrow", "files")
TABLE_FORMATS = (".csv", ".parquet", ".npy", ".npz")
"""File types :func:`read_table` reads, by suffix."""


def read_table(
    path: str | Path, numeric: Sequence[str], text: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Named columns of a CSV, Parquet, NPY or NPZ file: ``numeric`` as float64, ``text`` as str.

    A missing file or column, a non-numeric cell or an unknown suffix is a DataFileError that
    names the file and what is there. NaN cells are kept (see :func:`finite_rows`). An .npy
    file is a structured array (columns by field name) or a plain (N, k) array whose columns
    are taken in the order of ``numeric``.
    """
    suffix = Path(path).suffix.lower()
    readers = {".csv": _read_csv_table, ".parquet": _read_parquet}
    reader = readers.get(suffix, _read_numpy if suffix in (".npy", ".npz") else None)
    if reader is not None:
        with _damaged_file(path):
            return reader(path, numeric, text)
    raise DataFileError(
        f"cannot read {path}: unknown file type {suffix or '(none)'}; use one of "
        + ", ".join(TABLE_FORMATS)
    )


@contextmanager
def _damaged_file(path: str | Path) -> Iterator[None]:
    """Whatever a parser raises on damaged bytes (zip, parquet, npy, csv all raise their own
    types: csv.Error, NotImplementedError, RuntimeError, MemoryError...) becomes one
    DataFileError naming the file."""
    try:
        yield
    except GradpolyError:
        raise
    except (Exception, MemoryError) as exc:
        first = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DataFileError(f"cannot read {path}: damaged or not a table ({first})") from None


def _read_csv_table(
    path: str | Path, numeric: Sequence[str], text: Sequence[str]
) -> dict[str, np.ndarray]:
    if not text:
        return dict(zip(numeric, read_csv_columns(path, numeric), strict=True))
    rows = _csv_rows(path)
    if not rows:
        raise DataFileError(f"{path}: the file has no rows")
    header = [c.strip() for c in rows[0]]
    validation.columns(path, [*text, *numeric], header)
    body = rows[1:]
    if not body:
        raise DataFileError(f"{path}: the file has a header but no data rows")
    needed = max(header.index(c) for c in [*text, *numeric]) + 1
    for line, row in enumerate(body, start=2):
        if len(row) < needed:
            raise DataFileError(
                f"{path}: row {line} has {len(row)} column(s), expected at least {needed}"
            )
    out: dict[str, np.ndarray] = {}
    for name in text:
        j = header.index(name)
        # as written (Parquet, NPZ and Dask's reader keep them so): " a" and "a" are two series
        out[name] = np.array([row[j] for row in body], dtype=object)
    for name in numeric:
        j = header.index(name)
        out[name] = np.array(
            [_parse_float(row[j], path, line, name) for line, row in enumerate(body, start=2)]
        )
    return out


def _read_parquet(
    path: str | Path, numeric: Sequence[str], text: Sequence[str]
) -> dict[str, np.ndarray]:
    PYARROW.load()
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataFileError(f"cannot read {path}: {exc}") from None
    validation.columns(path, [*text, *numeric], names)
    try:
        table = pq.read_table(path, columns=list(dict.fromkeys([*text, *numeric])))
    except (OSError, ValueError) as exc:
        raise DataFileError(f"cannot read {path}: {exc}") from None
    out: dict[str, np.ndarray] = {}
    for name in text:
        out[name] = np.array(
            [v if v is None else str(v) for v in table.column(name).to_pylist()], dtype=object
        )
    for name in numeric:
        column = table.column(name)
        try:
            out[name] = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        except (TypeError, ValueError):
            raise DataFileError(
                f"{path}: column {name!r} is not numeric (it holds {column.type})"
            ) from None
    return out


def _read_numpy(
    path: str | Path, numeric: Sequence[str], text: Sequence[str]
) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataFileError(f"cannot read {path}: {exc}") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            validation.columns(path, [*text, *numeric], loaded.files)
            columns = {name: _member(path, loaded, name) for name in [*text, *numeric]}
    elif loaded.dtype.names:
        validation.columns(path, [*text, *numeric], loaded.dtype.names)
        columns = {name: loaded[name] for name in [*text, *numeric]}
    else:
        if text or loaded.ndim != 2 or loaded.shape[1] < len(numeric):
            raise DataFileError(
                f"{path}: a plain .npy array must have shape (N, {len(numeric)}) with columns "
                f"{', '.join(numeric)} in that order (got {loaded.shape}); for named columns "
                "or series ids use .npz or a structured array"
            )
        columns = {name: loaded[:, j] for j, name in enumerate(numeric)}
    for name, values in columns.items():
        if np.ndim(values) != 1:
            raise DataFileError(
                f"{path}: column {name!r} has shape {np.shape(values)}; columns must be 1-D "
                "(one value per row)"
            )
    out: dict[str, np.ndarray] = {name: _text_column(columns[name]) for name in text}
    for name in numeric:
        values = np.asarray(columns[name])
        if values.dtype.kind == "c":
            raise DataFileError(f"{path}: column {name!r} is complex; gradpoly fits real data")
        if values.dtype.kind in "USOV":
            raise DataFileError(f"{path}: column {name!r} is not numeric ({values.dtype})")
        try:
            out[name] = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataFileError(f"{path}: column {name!r} is not numeric") from None
    lengths = {v.shape[0] for v in out.values()}
    if len(lengths) > 1:
        raise DataFileError(f"{path}: the columns have different lengths {sorted(lengths)}")
    return out


def _member(path: str | Path, archive: Any, name: str) -> np.ndarray:
    """One array of an .npz archive; a damaged or object member is a DataFileError."""
    try:
        return np.asarray(archive[name])
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        first = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DataFileError(f"cannot read {path}: member {name!r}: {first}") from None


def _text_column(values: Any) -> np.ndarray:
    """Ids as an object array of text, with missing ones (NaN, None) kept as None."""
    raw = np.asarray(values, dtype=object).reshape(-1)
    return np.array(
        [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in raw],
        dtype=object,
    )


def finite_rows(
    path: str | Path, columns: dict[str, np.ndarray], numeric: Sequence[str], drop_nan: bool
) -> dict[str, np.ndarray]:
    """The table without rows holding NaN/inf in ``numeric`` when ``drop_nan``; else an error.

    The error names the first rows (data rows, counted from 1) and the column.
    """
    bad = np.zeros(len(next(iter(columns.values()))), dtype=bool)
    for name in numeric:
        bad |= ~np.isfinite(columns[name])
    if not bad.any():
        return columns
    if drop_nan:
        return {name: values[~bad] for name, values in columns.items()}
    rows = np.flatnonzero(bad)
    first = int(rows[0])
    column = next(n for n in numeric if not np.isfinite(columns[n][first]))
    shown = ", ".join(str(r + 1) for r in rows[:5]) + (" ..." if rows.size > 5 else "")
    raise DataFileError(
        f"{path}: {rows.size} row(s) have NaN or inf (data rows {shown}; row {first + 1} "
        f"in column {column!r}); clean them or pass --drop-nan to drop those rows"
    )


def read_xy(
    path: str | Path,
    x_col: str = "x",
    y_col: str = "y",
    weights_col: str | None = None,
    drop_nan: bool = False,
    lazy: bool = False,
) -> tuple[Any, Any, Any]:
    """x, y (and weights, else None) of one curve from a CSV, Parquet, NPY or NPZ file.

    ``lazy=True`` reads nothing yet: it returns dask arrays over Parquet/CSV files matching
    ``path`` (a glob such as ``data/*.parquet``) for ``fit(..., engine="dask")``.
    """
    if lazy:  # path may also be a glob or a list of files here
        from gradpoly.dask import read_xy as read_lazy

        return read_lazy(path, x_col, y_col, weights_col, drop_nan)
    numeric = [x_col, y_col] + ([weights_col] if weights_col else [])
    table = finite_rows(path, read_table(path, numeric), numeric, drop_nan)
    return table[x_col], table[y_col], table[weights_col] if weights_col else None


def read_long(
    path: str | Path,
    series_col: str,
    x_col: str = "x",
    y_col: str = "y",
    weights_col: str | None = None,
    drop_nan: bool = False,
) -> tuple[list[str], list[np.ndarray], list[np.ndarray], list[np.ndarray] | None]:
    """A long table (one row per point, a series id column) split into per-series arrays.

    Any format :func:`read_table` reads. Series keep the order in which their ids first
    appear; ids are read as text.
    """
    numeric = [x_col, y_col] + ([weights_col] if weights_col else [])
    table = read_table(path, numeric, text=[series_col])
    missing = missing_ids(table[series_col])
    if missing.any() and drop_nan:
        table = {name: values[~missing] for name, values in table.items()}
    elif missing.any():
        rows = np.flatnonzero(missing)
        shown = ", ".join(str(r + 1) for r in rows[:5]) + (" ..." if rows.size > 5 else "")
        raise DataFileError(
            f"{path}: {rows.size} row(s) have no {series_col!r} (empty, NaN or None; data rows "
            f"{shown}); fill them or pass --drop-nan to drop those rows"
        )
    table = finite_rows(path, table, numeric, drop_nan)
    if table[series_col].size == 0:
        raise DataFileError(f"{path}: no rows left to fit")
    from gradpoly.many import group_long

    columns = [table[x_col], table[y_col]] + ([table[weights_col]] if weights_col else [])
    ids, grouped = group_long(table[series_col], *columns)
    return ids, grouped[0], grouped[1], grouped[2] if weights_col else None


ROW_FORMATS = (".csv", ".json", ".npz", ".parquet")
"""File types :func:`write_rows` writes, by suffix."""


def write_rows(
    path: str | Path, rows: Sequence[dict[str, object]], inputs: Sequence[str | Path] = ()
) -> Path:
    """Write records atomically as CSV, JSON, NPZ or Parquet (one array per column), by suffix.

    ``-`` writes CSV to standard output; JSON is strict (NaN as null). ``inputs`` are the
    files the rows came from: writing over one of them is refused.
    """
    target = Path(path)
    suffix = ".csv" if is_stdout(path) else target.suffix.lower()
    if suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
        return write_text_atomic(path, buffer.getvalue(), inputs)
    if suffix == ".json":
        return write_text_atomic(target, json_text(list(rows), indent=1) + "\n", inputs)
    if suffix == ".npz":
        columns = {k: np.asarray([r[k] for r in rows]) for k in (rows[0] if rows else {})}
        with atomic_path(target, suffix=".npz", inputs=inputs) as tmp:
            np.savez(tmp, **columns)  # type: ignore[arg-type]
        return target
    if suffix == ".parquet":
        PYARROW.load()
        import pyarrow as pa
        import pyarrow.parquet as pq

        with atomic_path(target, inputs=inputs) as tmp:
            pq.write_table(pa.Table.from_pylist(list(rows)), tmp)
        return target
    raise OutputError(
        f"cannot write {target}: use a .csv, .json, .npz or .parquet file name (or - for CSV "
        "on standard output)"
    )
