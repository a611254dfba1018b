"""Every warning gradpoly raises points at the caller's line, not at gradpoly's insides."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest

import gradpoly
from gradpoly.errors import warn

X = np.linspace(0.0, 1.0, 20)
Y = np.vstack([1 + X, 2 - X])


def _where(call: Callable[[], object], category: type[Warning]) -> str:
    """The file that ``call``'s first warning of ``category`` is attributed to."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    found = [w for w in caught if issubclass(w.category, category)]
    assert found, f"no {category.__name__} was raised"
    return found[0].filename


def _unfitted_cube() -> object:
    xr = pytest.importorskip("xarray")
    import gradpoly.xarray as gx

    data = xr.DataArray(np.vstack([1 + X, np.full(20, np.nan)]), dims=("s", "t"))
    data = data.assign_coords(t=X)
    return gx.polyfit(data, "t", 1)


CASES: dict[str, tuple[Callable[[], object], type[Warning]]] = {
    "positional option": (lambda: gradpoly.lstsq_many(X, Y, 1, None), DeprecationWarning),
    "renamed keyword": (lambda: gradpoly.lstsq_many(X, Y, 1, dtype="float64"), DeprecationWarning),
    "statistics without dof": (
        lambda: gradpoly.lstsq_many(X[:2], Y[:, :2], 1).stats,
        gradpoly.StatsWarning,
    ),
    "unfitted series in xarray": (_unfitted_cube, gradpoly.UnfittedWarning),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_warning_names_the_callers_line(case: str) -> None:
    call, category = CASES[case]
    assert _where(call, category) == __file__


def test_warn_skips_every_package_frame_and_no_other() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("here", UserWarning)
    assert caught[0].filename == __file__
