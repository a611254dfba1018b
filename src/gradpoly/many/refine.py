"""The batched closed form's monomial coefficients held to ``lstsq``'s: a series whose
conversion from the basis may have cost more than :data:`TOLERATED` of a coefficient is
solved again from its own points exactly as ``lstsq`` solves one fit (its compensated
refinement included), so no path hands back the digits the conversion lost."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gradpoly import mapping
from gradpoly.many.inputs import Points
from gradpoly.many.solve import NORMAL_EQUATIONS_CONDITION
from gradpoly.options import Basis
from gradpoly.problem import EPS, conversion_flags, points_solution

FloatArray = npt.NDArray[np.float64]

TOLERATED = EPS * NORMAL_EQUATIONS_CONDITION
"""Relative error a series' monomial coefficients may carry from the conversion (estimated,
as ``lstsq`` estimates it) before the series is solved again from its points: the accuracy
the batched solve already promises (normal equations up to cond(G) 1e6, about 2e-10).
``lstsq`` refines past a few ulps; a grid pays for it only where the conversion costs more
than its own solve: ordinary series (a year of days, degree 3 to 6) almost never, small
nearly interpolating or far-off series often (their residual norms were up to 10^4 times
``lstsq``'s and ``np.polyfit``'s)."""

BLOCK = 65_536
"""Series whose conversion matrices are formed at once (memory: BLOCK (D+1)^2 floats)."""


def flagged(
    coef: FloatArray,
    w: FloatArray,
    domains: FloatArray,
    basis: Basis,
    condition: FloatArray,
    valid: npt.NDArray[np.bool_],
) -> npt.NDArray[np.intp]:
    """The valid series whose conversion may have cost more than :data:`TOLERATED`
    (:func:`gradpoly.problem.conversion_flags`, the rule ``lstsq`` refines by)."""
    usable = valid & np.isfinite(condition)
    if basis is Basis.MONOMIAL or not usable.any():
        return np.flatnonzero(usable)[:0]
    size, count = coef.shape[1], coef.shape[0]
    every = bool(usable.all())  # whole arrays, no gather by rows
    rows = np.arange(count) if every else np.flatnonzero(usable)
    out = np.zeros(rows.size, dtype=bool)
    lo, hi = domains[:, 0], domains[:, 1]
    shared = bool((lo == lo[rows[0]]).all() and (hi == hi[rows[0]]).all())
    if shared:  # one axis: one conversion
        reach = np.abs(mapping.monomial_matrices(domains[rows[:1]], basis, size)[0]).sum(axis=1)
    for start in range(0, rows.size, BLOCK):
        part = slice(start, start + BLOCK) if every else rows[start : start + BLOCK]
        if not shared:
            reach = np.abs(mapping.monomial_matrices(domains[part], basis, size)).sum(axis=2)
        c, u = coef[part], w[part]
        out[start : start + c.shape[0]] = conversion_flags(
            c, u, np.broadcast_to(reach, c.shape), condition[part], TOLERATED
        )
    return rows[out]


def refined(
    coef: FloatArray, rows: npt.NDArray[np.intp], domains: FloatArray, points: Points, scale: float
) -> FloatArray:
    """``coef`` (in y's units; the points' y is divided by ``scale``) with the series
    ``rows`` (:func:`flagged`) replaced by ``lstsq``'s monomial coefficients of their points."""
    if rows.size == 0:
        return coef
    out = coef.copy()
    degree = coef.shape[1] - 1
    for b in rows.tolist():
        x, y, weights = points(b)
        lo, hi = (float(v) for v in domains[b])
        with np.errstate(over="ignore", invalid="ignore"):
            solved = points_solution(x, y, weights, (lo, hi), degree) * scale
        if np.isfinite(solved).all():
            out[b] = solved
    return out
