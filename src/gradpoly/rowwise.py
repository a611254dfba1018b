"""Per-series tests of batched arrays (B rows of a few values each), reduced across the rows.

NumPy reduces along a short last axis row by row, at ~15 ns a row: ``isfinite(coef).all(axis=1)``
of 10,000 cubics takes longer than their solve. Taken column by column across the rows, the
same booleans cost a few vector operations. Long rows (a series' points), and a few rows
(one fit: a vector operation per column would cost more than the rows), keep NumPy's own
reduction.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]

SHORT = 32
"""Rows of at most this many values are reduced column by column..."""

MANY = 256
"""... where there are at least this many rows (below, NumPy's row-by-row reduction costs less
than one operation per column)."""


def _rows(mask: npt.ArrayLike) -> BoolArray:
    """``mask`` as booleans (B, k): one row per series, its values flattened."""
    flat = np.asarray(mask, dtype=bool)
    return flat.reshape(flat.shape[0], math.prod(flat.shape[1:]))


def _numpy_reduces(flat: BoolArray) -> bool:
    """Whether NumPy's own reduction along the rows is the cheaper one (:data:`SHORT`,
    :data:`MANY`)."""
    return flat.shape[1] > SHORT or flat.shape[0] < MANY


def every(mask: npt.ArrayLike) -> BoolArray:
    """Per row (axis 0) of ``mask`` (B, ...), whether all its values hold: ``mask.all(axis
    over the rest)``, the same booleans."""
    flat = _rows(mask)
    if _numpy_reduces(flat):
        return np.asarray(flat.all(axis=1), dtype=bool)
    out = np.ones(flat.shape[0], dtype=bool)
    for k in range(flat.shape[1]):
        out &= flat[:, k]
    return out


def some(mask: npt.ArrayLike) -> BoolArray:
    """Per row (axis 0) of ``mask`` (B, ...), whether any of its values holds."""
    flat = _rows(mask)
    if _numpy_reduces(flat):
        return np.asarray(flat.any(axis=1), dtype=bool)
    out = np.zeros(flat.shape[0], dtype=bool)
    for k in range(flat.shape[1]):
        out |= flat[:, k]
    return out


def finite(values: npt.ArrayLike) -> BoolArray:
    """Per row of ``values`` (B, ...), whether every value is finite."""
    return every(np.isfinite(values))


def one_row(values: npt.ArrayLike) -> bool:
    """Whether every row of ``values`` (B, k) equals the first (one domain shared by every
    series; NaN rows are never equal). True for a single row, False for none."""
    a = np.asarray(values)
    if a.shape[0] == 0:
        return False
    flat = a.reshape(a.shape[0], math.prod(a.shape[1:]))
    return all(bool((flat[:, k] == flat[0, k]).all()) for k in range(flat.shape[1]))
