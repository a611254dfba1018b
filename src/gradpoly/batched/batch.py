"""The series a batched backend works on, and the domain helpers (their Gram statistics are
:class:`gradpoly.gram.Gram`, the one shape every path shares).

Below both :mod:`gradpoly.batched.base` (what a backend supplies) and
:mod:`gradpoly.batched.shared` (statistics of series on one axis), which both use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gradpoly.mapping import domains

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Batch:
    """B series of N points, already checked: finite, weights non-negative.

    ``w`` is None when every point has weight 1 (the common case, kept free of a copy);
    ``counts`` holds each series' number of points with positive weight, the MSE's divisor.
    """

    x: FloatArray
    y: FloatArray
    w: FloatArray | None
    counts: FloatArray
    holds_inf: npt.NDArray[np.bool_] | None = None
    """Series whose y held an inf, dropped as a gap (None where nothing was dropped)."""

    @property
    def size(self) -> int:
        """Number of series, B."""
        return int(self.x.shape[0])

    def rows(self, part: slice) -> Batch:
        """The series in ``part`` (views, no copy)."""
        w = None if self.w is None else self.w[part]
        infinite = None if self.holds_inf is None else self.holds_inf[part]
        return Batch(self.x[part], self.y[part], w, self.counts[part], infinite)


def domains_of(x: FloatArray, w: FloatArray | None) -> FloatArray:
    """(B, 2) interval of each series' x over points with positive weight (mapping's rule)."""
    if w is None:
        lo, hi = x.min(axis=1), x.max(axis=1)
    else:
        used = w > 0
        lo = np.where(used, x, np.inf).min(axis=1)
        hi = np.where(used, x, -np.inf).max(axis=1)
        lo = np.where(np.isfinite(lo), lo, 0.0)
        hi = np.where(np.isfinite(hi), hi, lo)
    return domains(lo, hi)
