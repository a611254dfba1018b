"""Dates and durations as the numbers a fit runs on, in a unit people mean: one conversion
for the fit and for evaluation, so a trend "per year" round-trips exactly.

A datetime becomes ``(t - origin) / unit`` with the origin 1970-01-01 (of its own calendar,
for cftime), as xarray's ``_ensure_numeric`` takes it; a duration becomes ``d / unit``. Every
unit is a whole number of nanoseconds (a ``year`` is the mean Gregorian year, 365.2425 days,
as pandas and numpy's ``'Y'`` average to), so the conversion splits each count into whole
units and a remainder of one sign in integers, and rounds only the float64 sum (within 2 ulp
of the exact ratio), for every datetime64 resolution (``'s'`` dates centuries from 1970
included, where nanoseconds would overflow int64).
"""

from __future__ import annotations

from math import gcd
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly.errors import InvalidDataError, InvalidOptionError

FloatArray = npt.NDArray[np.float64]

ORIGIN = "1970-01-01"
"""Datetimes are counted from here (xarray's and numpy's epoch)."""

DAY_NS = 86_400 * 10**9
UNITS: dict[str, int] = {
    "ns": 1,
    "us": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "min": 60 * 10**9,
    "h": 3_600 * 10**9,
    "day": DAY_NS,
    "week": 7 * DAY_NS,
    "year": 31_556_952 * 10**9,  # 365.2425 days: the mean Gregorian year
}
"""Each unit in nanoseconds (exact integers)."""

ALIASES = {"D": "day", "days": "day", "W": "week", "weeks": "week", "years": "year",
           "Y": "year", "hour": "h", "hours": "h", "minute": "min", "minutes": "min",
           "second": "s", "seconds": "s", "sec": "s", "µs": "us"}  # fmt: skip


def unit(name: Any) -> str:
    """The canonical name of a time unit (``"year"``, ``"day"``, ``"s"``...), or a typed
    error listing them."""
    text = str(name) if isinstance(name, str) else None
    canonical = ALIASES.get(text, text) if text is not None else None
    if canonical not in UNITS:
        raise InvalidOptionError(
            f"time_unit must be one of {', '.join(UNITS)} (a year is 365.2425 days), got {name!r}"
        )
    return str(canonical)


def _native(values: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], int]:
    """Integer counts and nanoseconds per count of datetime64/timedelta64 values (months and
    years read through days, where they are calendar units)."""
    kind = values.dtype.kind
    step, _ = np.datetime_data(values.dtype)
    if step in ("Y", "M"):
        values = values.astype(f"{'datetime64' if kind == 'M' else 'timedelta64'}[D]")
        step = "D"
    if step == "generic":
        raise InvalidDataError("dates without a unit (datetime64 'generic'); give them one")
    per = int(np.array(1, dtype=f"timedelta64[{step}]").astype("timedelta64[ns]").astype(np.int64))
    if kind == "M":
        counts = (values - np.array(ORIGIN, dtype=f"datetime64[{step}]")).astype(np.int64)
    else:
        counts = values.astype(np.int64)
    return counts, per


def numbers(values: Any, unit_name: str = "ns") -> FloatArray:
    """Datetime64 or timedelta64 values as float64 counts of ``unit_name`` (datetimes since
    :data:`ORIGIN`); NaT becomes NaN. Within 2 ulp of the exact ratio, whatever the
    resolution."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "mM":
        raise InvalidDataError(f"expected dates or durations, got {arr.dtype}")
    counts, per = _native(arr)
    size = UNITS[unit(unit_name)]
    shared = gcd(per, size)
    scale, divisor = per // shared, size // shared  # x = counts * scale / divisor, exactly
    whole, rest = np.divmod(counts, divisor)
    behind = (rest != 0) & (counts < 0)  # truncate toward 0: both parts of one sign, no
    whole, rest = np.where(behind, whole + 1, whole), np.where(behind, rest - divisor, rest)
    with np.errstate(over="ignore"):  # cancellation when they are added
        out = whole.astype(np.float64) * scale + (rest.astype(np.float64) * scale) / divisor
    return np.where(np.isnat(arr), np.nan, out)


def cftime_numbers(values: Any, unit_name: str = "ns") -> FloatArray:
    """cftime dates as float64 counts of ``unit_name`` since 1970-01-01 of their own calendar
    (cftime keeps microseconds: they are read as such, then converted as datetime64 are)."""
    flat = np.asarray(values, dtype=object).ravel()
    if flat.size == 0:
        return np.zeros(np.shape(values))
    try:
        start = type(flat[0])(1970, 1, 1)
        micros = np.array([v - start for v in flat], dtype="timedelta64[us]")
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"mixed cftime calendars or other objects: {exc}") from None
    return numbers(micros, unit_name).reshape(np.shape(values))


def is_cftime(value: Any) -> bool:
    """Whether ``value`` is a cftime date (a calendar numpy's datetime64 cannot hold)."""
    return type(value).__module__.split(".")[0] == "cftime"
