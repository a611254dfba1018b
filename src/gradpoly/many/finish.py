"""The batched fits' result assembled once for both front doors: monomial coefficients,
losses, overflow and representability checks, convergence verdicts (``fit``'s own test),
each series' coefficient error and the moments its statistics are computed from."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from gradpoly import constraints, convergence, mapping, rates, rowwise
from gradpoly.batched.base import (
    Descent,
)
from gradpoly.gram import Gram
from gradpoly.losses import Loss
from gradpoly.many.prepare import Prepared
from gradpoly.many.refine import flagged, refined
from gradpoly.many.result import ManyResult
from gradpoly.many.sums import point_sums
from gradpoly.options import Basis
from gradpoly.problem import warn_unrepresentable
from gradpoly.stats import Moments, gram_unreliable

FloatArray = npt.NDArray[np.float64]


class Free(NamedTuple):
    """A constrained descent: the constraints' null space, the Gram statistics of the free
    coefficients it ran on, and where it ended (z): its errors and verdicts are judged there."""

    reduction: constraints.Reduction
    gram: Gram
    z: FloatArray


def basis_to_monomial(coef: FloatArray, domains: FloatArray, basis: Basis) -> FloatArray:
    """Basis coefficients on each mapped domain -> monomial coefficients in each series' x."""
    return mapping.basis_to_monomial(coef, domains, basis)


def assemble(
    w: FloatArray,
    data: Prepared,
    how: tuple[Basis, str, str, str],
    seconds: float,
    descent: Descent | None = None,
    inverse: FloatArray | None = None,
    tol: float | None = None,
    free: Free | None = None,
    condition: FloatArray | None = None,
) -> ManyResult:
    """Assemble the result of either front door in y's units (``data.scale``: the power of
    two y was divided by): monomials, losses, verdicts and the statistics' moments.

    A series whose monomial coefficients overflow float64 is marked invalid, with the reason.
    A least-squares solve passes its designs' ``condition``: series whose conversion to
    monomials may have cost digits get ``lstsq``'s coefficients (:mod:`gradpoly.many.refine`).
    """
    basis, method, engine, loss_name = how
    gram, valid, problems, scale = data.gram, data.valid, data.problems, data.scale
    count = w.shape[0]
    w = np.where(valid[:, None], w, np.nan)
    if descent is not None and descent.final is not None:
        final = descent.final
    else:
        final = np.maximum(gram.mse(np.nan_to_num(w)), 0.0)  # < 0 only by rounding
    # the series whose statistics will need their points (stats' own test, at these w)
    mse = final if descent is None or descent.final is None else gram.mse(np.nan_to_num(w))
    unsure = np.flatnonzero(valid & gram_unreliable(gram.s, np.maximum(mse, 0.0)))
    loop, at = (gram, w) if free is None else (free.gram, free.z)  # what the descent ran on
    error = coefficient_errors(loop, at, valid) if descent is not None else None
    with np.errstate(over="ignore"):  # a loss beyond float64 (|y| > ~1e154) is reported as inf
        w, final = w * scale, final * scale * scale
    coef = basis_to_monomial(w, gram.domains, basis)
    overflow = valid & ~rowwise.finite(coef)
    if basis is not Basis.MONOMIAL:
        overflow |= valid & mapping.beyond_float64(gram.domains, coef.shape[1] - 1)
    if overflow.any():
        valid = valid & ~overflow
        for b in np.flatnonzero(overflow).tolist():
            lo, hi = gram.domains[b] if basis is not Basis.MONOMIAL else (np.nan, np.nan)
            problems[b] = (
                "its monomial coefficients are beyond float64's range"
                + (f" (x spans [{lo:.3g}, {hi:.3g}])" if lo == lo else "")
                + "; rescale x or y"
            )
        w, coef = np.where(valid[:, None], w, np.nan), np.where(valid[:, None], coef, np.nan)
    if condition is not None:
        points = data.layout.points()
        rows = flagged(coef, w, gram.domains, basis, condition, valid)
        coef = refined(coef, rows, gram.domains, points, scale)
    warn_unrepresentable(coef, w, gram.domains, basis, valid, final)
    converged = np.ones(count, dtype=bool) if descent is None else np.zeros(count, dtype=bool)
    steps_run = np.zeros(count, dtype=np.int64)
    trace = None
    if descent is not None:
        steps_run = np.where(valid, descent.steps_run, 0)
        converged = valid & ~descent.active if method == "gd-tol" else converged
        if method == "gd-tol" and tol is not None and loss_name == str(Loss.MSE):
            converged = confirmed_series(  # stopped by tol or at the end
                loop, at, valid, basis, tol, None if free is None else free.reduction
            )
        if descent.trace is not None:
            with np.errstate(over="ignore"):
                trace = descent.trace[:, : int(steps_run.max(initial=0))] * scale * scale
            trace[~valid] = np.nan
    return ManyResult(
        coef,
        w,
        gram.domains,
        np.where(valid, final, np.nan),
        converged,
        steps_run,
        valid,
        basis,
        "gd" if method == "gd-tol" else method,
        seconds,
        problems,
        trace,
        engine,
        loss_name,
        coef_error=None if error is None else np.where(valid, error, np.nan),
        moments=batch_moments(gram, basis, data.counts, scale, inverse),
        ids=data.ids,
        holds_inf=data.holds_inf,
        sums=point_sums(data.layout.point_rows, unsure),
    )


def batch_moments(
    gram: Gram,
    basis: Basis,
    counts: FloatArray,
    scale: float,
    inverse: FloatArray | None = None,
) -> Moments:
    """The batched Gram statistics of y / ``scale`` (the power of two y was divided by)."""
    return Moments(
        gram.g, gram.c, gram.s, gram.domains, total=counts, used=counts, basis=basis,
        inverse=inverse, y_scale=scale,
    )  # fmt: skip


def confirmed_series(
    gram: Gram,
    w: FloatArray,
    stopped: npt.NDArray[np.bool_],
    basis: Basis,
    tol: float,
    reduction: constraints.Reduction | None = None,
) -> npt.NDArray[np.bool_]:
    """The series the descent stopped by tol that are converged as ``fit`` decides it
    (:func:`gradpoly.convergence.confirmed`: the monomial and basis errors, float64's floor and
    every direction resolved), so one fit gets one verdict on every path; a constrained
    descent's on its free coefficients (``reduction``), its errors those of the whole fit."""
    out = np.zeros_like(stopped)
    rows = np.flatnonzero(stopped)
    if rows.size:
        null = particular = None
        if reduction is not None:
            count = stopped.shape[0]
            null = np.broadcast_to(reduction.null, (count, *reduction.null.shape[1:]))[rows]
            particular = np.broadcast_to(reduction.particular, (count, null.shape[1]))[rows]
        errors_of = convergence.ErrorMap.of(
            gram.g[rows], gram.domains[rows], basis, null, particular
        )
        out[rows] = convergence.confirmed(errors_of, gram.g[rows], gram.c[rows], w[rows], tol)
    return out


def coefficient_errors(gram: Gram, w: FloatArray, valid: npt.NDArray[np.bool_]) -> FloatArray:
    """Each series' estimated relative coefficient error at ``w`` (rates.coefficient_error)."""
    eye = np.eye(gram.g.shape[1])
    safe = np.where(valid[:, None, None], gram.g, eye)
    ws = np.nan_to_num(w)
    eig = rates.eigenvalues(safe)
    grad = 2.0 * (np.matmul(safe, ws[:, :, None])[:, :, 0] - np.where(valid[:, None], gram.c, 0))
    return rates.coefficient_error(
        np.linalg.norm(grad, axis=1), 2 * eig, np.linalg.norm(ws, axis=1)
    )
