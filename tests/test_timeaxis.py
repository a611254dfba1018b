"""Dates and durations as numbers in a unit (gradpoly.timeaxis): exact for every resolution."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradpoly import timeaxis
from gradpoly.errors import InvalidDataError, InvalidOptionError

RESOLUTIONS = ("ns", "us", "ms", "s", "m", "h", "D")


@given(
    count=st.integers(-(2**62), 2**62),
    resolution=st.sampled_from(RESOLUTIONS),
    unit=st.sampled_from(list(timeaxis.UNITS)),
)
def test_every_resolution_converts_to_the_nearest_float_of_the_exact_ratio(
    count: int, resolution: str, unit: str
) -> None:
    """A count of any resolution, in any unit, is the exact rational rounded once or twice:
    within 2 ulp of ``count * per / unit`` computed in fractions."""
    value = np.array([count], dtype=f"datetime64[{resolution}]")
    per = int(np.timedelta64(1, resolution).astype("timedelta64[ns]").astype(np.int64))
    exact = Fraction(count * per, timeaxis.UNITS[unit])
    got = timeaxis.numbers(value, unit)[0]
    assert abs(Fraction(got) - exact) <= 2 * abs(float(exact)) * np.finfo(float).eps + 1e-300


def test_known_values_and_nat() -> None:
    days = np.array(["1970-01-02", "NaT", "1969-12-31T12"], dtype="datetime64[h]")
    out = timeaxis.numbers(days, "day")
    assert out[0] == 1.0
    assert np.isnan(out[1])
    assert out[2] == -0.5
    assert timeaxis.numbers(np.array(["2000-01-01"], dtype="datetime64[Y]"), "year")[0] == (
        pytest.approx(10957 / 365.2425, rel=1e-15)
    )
    assert timeaxis.numbers(np.array([36], dtype="timedelta64[h]"), "day")[0] == 1.5
    far = np.array(["3000-01-01"], dtype="datetime64[s]")  # beyond int64 nanoseconds
    assert timeaxis.numbers(far, "day")[0] == (np.datetime64("3000-01-01") - np.datetime64(
        "1970-01-01")).astype(int)  # fmt: skip


def test_units_have_aliases_and_bad_ones_are_refused() -> None:
    assert timeaxis.unit("D") == "day"
    assert timeaxis.unit("years") == "year"
    with pytest.raises(InvalidOptionError, match=r"365\.2425"):
        timeaxis.unit("fortnight")
    with pytest.raises(InvalidOptionError):
        timeaxis.unit(3)
    with pytest.raises(InvalidDataError, match="dates or durations"):
        timeaxis.numbers(np.arange(3.0), "day")


def test_cftime_counts_from_its_own_calendars_epoch() -> None:
    cftime = pytest.importorskip("cftime")
    dates = np.array([cftime.DatetimeNoLeap(1970, 1, 1), cftime.DatetimeNoLeap(1971, 1, 1)])
    assert list(timeaxis.cftime_numbers(dates, "day")) == [0.0, 365.0]
    mixed = np.array([cftime.DatetimeNoLeap(1970, 1, 1), cftime.Datetime360Day(1970, 1, 1)])
    with pytest.raises(InvalidDataError, match="cftime"):
        timeaxis.cftime_numbers(mixed, "day")
