"""A pytest plugin: every ``DataArray.polyfit`` and ``Dataset.polyfit`` call in the session is
``gradpoly.xarray.polyfit``. Load it with ``-p tests.peers.xarray_polyfit`` to run xarray's
own tests (or any project's) through the drop-in."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import pytest
import xarray as xr

import gradpoly.xarray as gx


def _polyfit(
    self: Any,
    dim: Hashable,
    deg: int,
    skipna: bool | None = None,
    rcond: float | None = None,
    w: Any = None,
    full: bool = False,
    cov: bool | str = False,
) -> xr.Dataset:
    """xarray's signature, gradpoly's fit."""
    return gx.polyfit(self, dim, deg, skipna=skipna, rcond=rcond, w=w, full=full, cov=cov)


@pytest.fixture(autouse=True)
def _gradpoly_polyfit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xr.DataArray, "polyfit", _polyfit)
    monkeypatch.setattr(xr.Dataset, "polyfit", _polyfit)
