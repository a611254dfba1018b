"""Dask front door: read data lazily, and fit many series of a dask dataframe partition-wise.

``read_xy(pattern, lazy=True)`` gives dask arrays for ``gradpoly.fit(x, y, engine="dask")``;
``fit_series_frame`` fits every series of a long dask dataframe with ``fit_many``, one
partition at a time after a shuffle that puts each series in one partition. Both run on
whatever scheduler is active: Dask's threads, or a ``distributed.Client`` when one is open.
Needs ``pip install -c constraints.txt 'gradpoly[dask]'``.
"""

from __future__ import annotations

import glob
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gradpoly import validation
from gradpoly.engines.base import OptionalLibrary
from gradpoly.errors import (
    DataFileError,
    EngineUnavailableError,
    InvalidDataError,
    InvalidOptionError,
    warn,
)

DASK = OptionalLibrary("dask", "dask")
LAZY_FORMATS = (".parquet", ".csv")


def read_frame(
    pattern: str | Path | Sequence[str | Path],
    columns: list[str],
    drop_nan: Sequence[str] = (),
) -> Any:
    """A dask dataframe of ``columns`` from Parquet or CSV files: a glob, a path or a list.

    Rows with NaN/inf in any of the ``drop_nan`` columns are dropped, partition by partition.
    """
    DASK.load()
    import dask.dataframe as dd

    if isinstance(pattern, str | Path):
        text = str(pattern)
        matches = sorted(glob.glob(text)) if any(c in text for c in "*?[") else [text]
    else:
        matches = [str(p) for p in pattern]
        text = f"{len(matches)} files" if matches else "an empty list of files"
    if not matches or not all(Path(m).exists() for m in matches):
        raise DataFileError(f"cannot read {text}: no such file")
    suffix = Path(matches[0]).suffix.lower()
    if suffix not in LAZY_FORMATS:
        raise DataFileError(
            f"cannot read {text} lazily: use {' or '.join(LAZY_FORMATS)} files "
            "(or read it in memory)"
        )
    try:
        frame = (
            dd.read_parquet(matches)
            if suffix == ".parquet"
            else dd.read_csv(matches, encoding="utf-8-sig")  # a BOM (spreadsheets) is skipped
        )
    except (OSError, ValueError) as exc:
        raise DataFileError(f"cannot read {text}: {exc}") from None
    doubled = [c for c in columns if f"{c}.1" in frame.columns]  # pandas renames duplicates
    if doubled:
        raise DataFileError(
            f"{text}: the column name {doubled[0]!r} appears more than once; rename the duplicates"
        )
    validation.columns(text, columns, frame.columns)
    frame = frame[columns]
    if drop_nan:
        frame = frame.map_partitions(keep_finite, list(drop_nan), meta=frame._meta)
    return frame


HANDSHAKE_SECONDS = 5.0
"""How long a scheduler has to accept a connection and send its handshake."""

MAX_HANDSHAKE_BYTES = 1 << 20
"""A Dask handshake is a small message; a larger announced size is not Dask speaking."""


def check_scheduler(address: str, timeout: float | None = None) -> None:
    """Raise EngineUnavailableError unless ``address`` answers like a Dask scheduler, in time.

    A Dask server sends its handshake (an 8-byte little-endian length, then a small message)
    as soon as a connection opens. Reading that length with a deadline tells a scheduler from
    a silent server (which would hang a Client forever) or an HTTP server (whose bytes a
    Client would read as a length of exabytes). Only ``tcp://`` addresses are probed.
    """
    import socket
    import struct

    timeout = HANDSHAKE_SECONDS if timeout is None else timeout
    text = address.strip()
    scheme, _, rest = text.rpartition("://")
    if scheme not in ("", "tcp"):
        return
    host, _, port_text = rest.rpartition(":")
    if not host or not port_text.isdigit():
        raise EngineUnavailableError(
            f"--scheduler {address!r} is not an address: use tcp://HOST:PORT"
        )
    where = f"the Dask scheduler at {text}"
    try:
        with socket.create_connection((host.strip("[]"), int(port_text)), timeout=timeout) as conn:
            conn.settimeout(timeout)
            header = b""
            while len(header) < 8:
                piece = conn.recv(8 - len(header))
                if not piece:
                    raise EngineUnavailableError(f"{where} closed the connection: not Dask")
                header += piece
    except TimeoutError:
        raise EngineUnavailableError(
            f"{where} sent no Dask handshake within {timeout:g} s: is it a Dask scheduler?"
        ) from None
    except OSError as exc:
        raise EngineUnavailableError(f"cannot reach {where}: {exc.strerror or exc}") from None
    (size,) = struct.unpack("<Q", header)
    if not 0 < size <= MAX_HANDSHAKE_BYTES:
        raise EngineUnavailableError(
            f"{where} does not speak Dask's protocol (it announced a {size:,}-byte message); "
            "check the address and port (a scheduler listens on 8786 by default)"
        )


def keep_finite(part: Any, numeric: list[str]) -> Any:
    """The rows of a pandas partition whose ``numeric`` columns are all finite."""
    keep = np.isfinite(part[numeric].to_numpy(dtype=np.float64)).all(axis=1)
    return part[keep]


def read_xy(
    pattern: str | Path | Sequence[str | Path],
    x_col: str = "x",
    y_col: str = "y",
    weights_col: str | None = None,
    drop_nan: bool = False,
) -> tuple[Any, Any, Any]:
    """Lazy x, y (and weights) dask arrays from Parquet/CSV files; nothing is read yet.

    NaN/inf rows are found by the dask engine's first pass (an error) unless ``drop_nan``
    filters them chunk by chunk.
    """
    numeric = [x_col, y_col] + ([weights_col] if weights_col else [])
    frame = read_frame(pattern, numeric, drop_nan=numeric if drop_nan else ())
    values = frame.to_dask_array().astype(np.float64)
    columns = [values[:, j] for j in range(len(numeric))]
    return columns[0], columns[1], columns[2] if weights_col else None


def fit_series_frame(
    frame: Any,
    series_col: str,
    x_col: str = "x",
    y_col: str = "y",
    weights_col: str | None = None,
    degree: int = 4,
    solver: str = "gd",
    **options: Any,
) -> Any:
    """One row of coefficients per series of a long dask dataframe, as a dask dataframe.

    The frame is shuffled on ``series_col`` so that each series lies in one partition; each
    partition is then fitted by one batched ``fit_many`` (``solver="gd"``) or ``lstsq_many``
    (``solver="lstsq"``; ``closed_form=True`` before 0.2) with ``options`` (that function's
    keyword options, checked here with the degree and the column names before any work).
    Rows are those of :meth:`ManyResult.to_rows`.
    """
    if "closed_form" in options:
        warn(
            "fit_series_frame(): closed_form= is solver='lstsq' or 'gd' since gradpoly 0.2",
            DeprecationWarning,
        )
        solver = "lstsq" if bool(options.pop("closed_form")) else "gd"
    if solver not in ("lstsq", "gd"):
        raise InvalidOptionError(f"solver must be one of lstsq, gd, got {solver!r}")
    closed_form = solver == "lstsq"
    degree = validation.degree(degree)
    _check_options(solver, options)
    DASK.load()
    names = [series_col, x_col, y_col] + ([weights_col] if weights_col is not None else [])
    validation.columns("the frame", names, frame.columns, error=InvalidDataError)
    meta = _empty_rows(degree)
    shuffled = frame.shuffle(on=series_col)
    return shuffled.map_partitions(
        _fit_partition,
        series_col,
        x_col,
        y_col,
        weights_col,
        degree,
        closed_form,
        options,
        meta=meta,
    )


PARTITION_SET = frozenset({"weights", "sigma", "series", "mask"})
"""Options of ``fit_many``/``lstsq_many`` that ``fit_series_frame`` sets from its columns."""


def _check_options(solver: str, options: dict[str, Any]) -> None:
    """Refuse, before any work, an option the partitions' fit does not take (a TypeError in
    every partition otherwise) or one the frame's columns set."""
    from gradpoly.many import fit_many, lstsq_many

    fit = lstsq_many if solver == "lstsq" else fit_many
    known = [
        name
        for name, parameter in inspect.signature(fit).parameters.items()
        if parameter.kind is parameter.KEYWORD_ONLY and name not in PARTITION_SET
    ]
    for name in options:
        if name in PARTITION_SET:
            raise InvalidOptionError(
                f"fit_series_frame() sets {name}= from the frame (weights_col, series_col); "
                f"do not pass it"
            )
        if name not in known:
            raise InvalidOptionError(
                f"fit_series_frame(solver={solver!r}) has no option {name!r}; it passes "
                f"{fit.__name__}'s: {', '.join(known)}"
            )


def _empty_rows(degree: int) -> Any:
    """An empty frame with the columns and dtypes of ``ManyResult.to_rows``."""
    import pandas as pd

    names = ["series", "valid"] + [f"coef_{j}" for j in range(degree + 1)]
    names += [f"stderr_{j}" for j in range(degree + 1)] + ["residual_std", "r_squared"]
    names += ["final_loss", "converged", "steps_run", "problem"]
    floats = 2 * (degree + 1) + 3
    kinds = ["object", "bool"] + ["float64"] * floats + ["bool", "int64", "object"]
    return pd.DataFrame({n: pd.Series(dtype=k) for n, k in zip(names, kinds, strict=True)})


def _fit_partition(
    part: Any,
    series_col: str,
    x_col: str,
    y_col: str,
    weights_col: str | None,
    degree: int,
    closed_form: bool,
    options: dict[str, Any],
) -> Any:
    """fit_many over the series of one pandas partition."""
    import pandas as pd

    from gradpoly.many import fit_many, lstsq_many

    if part.empty:
        return _empty_rows(degree)
    groups = part.groupby(series_col, sort=True)
    ids = [str(k) for k in groups.groups]
    xs = [g[x_col].to_numpy(dtype=np.float64) for _, g in groups]
    ys = [g[y_col].to_numpy(dtype=np.float64) for _, g in groups]
    ws = [g[weights_col].to_numpy(dtype=np.float64) for _, g in groups] if weights_col else None
    if closed_form:
        result = lstsq_many(xs, ys, degree, weights=ws, **options)
    else:
        result = fit_many(xs, ys, degree, weights=ws, **options)
    return pd.DataFrame(result.to_rows(ids))
