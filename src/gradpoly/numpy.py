"""numpy's least-squares polynomial fits on gradpoly's solve: drop-ins for ``np.polyfit`` and
for ``numpy.polynomial``'s ``polyfit``, ``chebfit`` and ``legfit`` (which its ``Polynomial``,
``Chebyshev`` and ``Legendre`` classes' ``fit`` call).

Same signatures, same return shapes and orders (``np.polyfit``: highest power first; the
``numpy.polynomial`` functions: increasing, a list of degrees fitting only those terms, the
others 0), numpy's exception types for bad shapes (:class:`~gradpoly.errors.DataShapeError`
is both a ``TypeError`` and gradpoly's ``InvalidDataError``). The coefficients come from
:func:`gradpoly.lstsq_many` on one shared axis: a mapped Chebyshev (or Legendre) basis instead
of numpy's raw Vandermonde matrix, so x far from 0 keeps its digits. Differences, on purpose
(see the docs' numpy page): a rank-deficient design gives NaN coefficients with
:class:`~gradpoly.errors.UnfittedRankWarning` (also numpy's ``RankWarning``) instead of
minimum-norm ones; complex data are refused; ``rcond`` sets only the rank that ``full=True``
reports (of numpy's column-scaled design, as numpy computes it).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import bases, validation
from gradpoly.errors import (
    DataShapeError,
    InvalidDataError,
    InvalidOptionError,
    UnfittedRankWarning,
    warn,
)
from gradpoly.many import lstsq_many
from gradpoly.options import Basis
from gradpoly.problem import FitProblem, SvdSolver, lstsq_problem
from gradpoly.stats import StatsWarning

FloatArray = npt.NDArray[np.float64]


def polyfit(
    x: Any,
    y: Any,
    deg: Any,
    rcond: float | None = None,
    full: bool = False,
    w: Any = None,
    cov: bool | str = False,
) -> Any:
    """``np.polyfit``: coefficients highest power first, (deg+1,) or (deg+1, K) for y (N, K).

    ``w`` multiplies the residuals (1/sigma, numpy's convention). ``full=True`` returns
    ``(coef, residuals, rank, singular_values, rcond)``; ``cov=True`` ``(coef, cov)`` with
    the covariance scaled by the residual variance, ``cov="unscaled"`` without (dims
    (deg+1, deg+1), or (deg+1, deg+1, K) for y (N, K): (deg+1, deg+1, 1) unscaled, the one
    matrix every column shares, as numpy gives it). The residual variance counts the points of
    positive weight, as gradpoly's statistics do (numpy counts every point).
    """
    degree = validation.degree(deg)
    if cov not in (False, True, "unscaled"):
        raise InvalidOptionError(f"cov must be True, False or 'unscaled', got {cov!r}")
    data = _Data.of(x, y, w)
    fit = _fit(data, np.arange(degree + 1), Basis.MONOMIAL)
    coef = fit.coef[::-1]
    if validation.flag("full", full):
        return (coef, *data.diagnostics(fit, Basis.MONOMIAL, rcond))
    if cov is False:
        return coef
    used = int(fit.result.moments.used[0])
    if cov is True and used <= degree + 1:
        raise InvalidDataError(
            f"the covariance is scaled by the residual variance, which needs more points of "
            f"positive weight ({used}) than coefficients ({degree + 1}); use cov='unscaled' "
            "or more points"
        )
    with warnings.catch_warnings():  # no residual dof: the unscaled covariance stands
        warnings.simplefilter("ignore", StatsWarning)
        stats = fit.result.stats
    matrices = stats.cov_array if cov is True else stats.unscaled_cov_array
    flipped = np.moveaxis(matrices[:, ::-1, ::-1], 0, -1)
    if data.single:
        return coef, flipped[..., 0]
    return coef, flipped if cov is True else flipped[..., :1]  # one for all: numpy's (., ., 1)


def polynomial_polyfit(
    x: Any, y: Any, deg: Any, rcond: float | None = None, full: bool = False, w: Any = None
) -> Any:
    """``numpy.polynomial.polynomial.polyfit``: monomial coefficients, increasing."""
    return _series(Basis.MONOMIAL, x, y, deg, rcond, full, w)


def chebfit(
    x: Any, y: Any, deg: Any, rcond: float | None = None, full: bool = False, w: Any = None
) -> Any:
    """``numpy.polynomial.chebyshev.chebfit``: Chebyshev coefficients of x itself (no map)."""
    return _series(Basis.CHEBYSHEV, x, y, deg, rcond, full, w)


def legfit(
    x: Any, y: Any, deg: Any, rcond: float | None = None, full: bool = False, w: Any = None
) -> Any:
    """``numpy.polynomial.legendre.legfit``: Legendre coefficients of x itself (no map)."""
    return _series(Basis.LEGENDRE, x, y, deg, rcond, full, w)


def _series(basis: Basis, x: Any, y: Any, deg: Any, rcond: float | None, full: bool, w: Any) -> Any:
    """The numpy.polynomial fits: ``deg`` an int or a list of the terms to fit."""
    terms = _terms(deg)
    data = _Data.of(x, y, w)
    fit = _fit(data, terms, basis)
    if validation.flag("full", full):
        return fit.coef, list(data.diagnostics(fit, basis, rcond))
    return fit.coef


def _terms(deg: Any) -> npt.NDArray[np.int64]:
    """numpy's ``deg``: an int (every term up to it) or a non-empty 1-D list of the terms."""
    if isinstance(deg, bool | np.bool_):
        raise DataShapeError(f"deg must be an int or non-empty 1-D array of int, got {deg!r}")
    given = np.asarray(deg)
    if given.ndim > 1 or given.dtype.kind not in "iu" or given.size == 0:
        raise DataShapeError(f"deg must be an int or non-empty 1-D array of int, got {deg!r}")
    if given.ndim == 0:
        return np.arange(validation.degree(int(given)) + 1)
    if int(given.min()) < 0:
        raise InvalidOptionError(f"every degree must be >= 0, got {given.tolist()}")
    validation.degree(int(given.max()))
    return np.unique(given.astype(np.int64))


class _Data:
    """x (N,), y as (K, N) rows, inverse-variance weights (N,) or None, checked numpy's way."""

    def __init__(self, x: FloatArray, rows: FloatArray, w: FloatArray | None, single: bool):
        self.x, self.rows, self.w, self.single = x, rows, w, single

    @classmethod
    def of(cls, x: Any, y: Any, w: Any) -> _Data:
        xs = validation.float_array("x", x)
        ys = validation.float_array("y", y)
        if xs.ndim != 1:
            raise DataShapeError(f"x must be 1-D, got shape {xs.shape}")
        if xs.size == 0:
            raise DataShapeError("x is empty; a fit needs points")
        if ys.ndim not in (1, 2):
            raise DataShapeError(f"y must be 1-D or 2-D (one column per fit), got {ys.shape}")
        if ys.shape[0] != xs.size:
            raise DataShapeError(f"x and y must have the same length, got {xs.size} and "
                                 f"{ys.shape[0]}")  # fmt: skip
        ws = None if w is None else validation.float_array("w", w)
        if ws is not None and ws.ndim != 1:
            raise DataShapeError(f"w must be 1-D (one weight per point), got shape {ws.shape}")
        if ws is not None and ws.size != xs.size:
            raise DataShapeError(f"x and w must have the same length, got {xs.size} and "
                                 f"{ws.size}")  # fmt: skip
        for name, values in (("x", xs), ("y", ys), ("w", ws)):
            if values is not None and not np.isfinite(values).all():
                raise InvalidDataError(
                    f"{name} has NaN or inf values; drop those points first (numpy's fits "
                    "cannot skip them either)"
                )
        rows = ys[None, :] if ys.ndim == 1 else np.ascontiguousarray(ys.T)
        return cls(xs, rows, ws, ys.ndim == 1)

    @property
    def weights(self) -> FloatArray | None:
        """gradpoly's inverse variances: numpy's ``w`` squared."""
        return None if self.w is None else self.w * self.w

    def design(self, basis: Basis, terms: npt.NDArray[np.int64]) -> FloatArray:
        """numpy's design: the basis at x itself (no map), rows scaled by w; refused where
        its entries overflow float64 (numpy's SVD would fail on them)."""
        with np.errstate(over="ignore", invalid="ignore"):
            columns = np.asarray(bases.rule(basis).vander(self.x, int(terms[-1])))[:, terms]
            design = columns if self.w is None else columns * self.w[:, None]
        if not np.isfinite(design).all():
            raise InvalidDataError(
                f"x reaches {float(np.max(np.abs(self.x))):.3g}: its degree-{int(terms[-1])} "
                f"terms{' times w' if self.w is not None else ''} overflow float64 in numpy's "
                "unmapped design; rescale x (or w)"
            )
        return design

    def diagnostics(
        self, fit: _Fit, basis: Basis, rcond: float | None
    ) -> tuple[FloatArray, int, FloatArray, float]:
        """numpy's ``full=True`` extras: residual sums (empty where numpy gives none), the
        rank and singular values of its column-scaled design, and the rcond used."""
        cut = self.x.size * float(np.finfo(np.float64).eps) if rcond is None else rcond
        design = self.design(basis, fit.terms)
        solver = SvdSolver.of(design, rcond=validation.real("rcond", cut))
        order = fit.terms.size
        if solver.rank < order or self.x.size <= order:
            return np.empty(0), solver.rank, solver.singular, cut
        values = design @ np.nan_to_num(fit.coef.reshape(-1, len(self.rows))[fit.terms])
        target = self.rows.T if self.w is None else self.rows.T * self.w[:, None]
        sums = ((target - values) ** 2).sum(axis=0)
        return sums, solver.rank, solver.singular, cut


class _Fit:
    """The coefficients in numpy's layout, the terms fitted and the batched result (made
    when first asked for, where the coefficients came from ``lstsq``)."""

    def __init__(self, coef: FloatArray, terms: npt.NDArray[np.int64], result: Callable[[], Any]):
        self.coef, self.terms, self._result = coef, terms, result

    @cached_property
    def result(self) -> Any:
        """The batched result the covariance is read from."""
        return self._result()


def _one_curve(data: _Data, top: int) -> FloatArray | None:
    """One curve in powers of x is ``lstsq``'s question: its monomials (refined), or None
    where ``lstsq`` refuses the data (the batched path then says why, numpy's way)."""
    try:
        problem = FitProblem.from_data(data.x, data.rows[0], top, data.weights)  # as lstsq
        return lstsq_problem(problem)
    except InvalidDataError:
        return None


def _fit(data: _Data, terms: npt.NDArray[np.int64], basis: Basis) -> _Fit:
    """Every column's coefficients in ``basis`` of x itself, terms not fitted 0."""
    top = int(terms[-1])
    if terms.size == top + 1:  # every term: gradpoly's mapped solve
        solve_in = Basis.CHEBYSHEV if basis is Basis.MONOMIAL else basis

        def batched() -> Any:
            return lstsq_many(data.x, data.rows, top, weights=data.weights, basis=solve_in)

        one = _one_curve(data, top) if data.single and basis is Basis.MONOMIAL else None
        if one is not None:  # lstsq's answer, to the bit
            return _Fit(one, terms, batched)
        result = batched()
        coef = result.coef if basis is Basis.MONOMIAL else _unmapped(result, basis)
        problems = result.problems
    else:  # some terms only: their columns of numpy's design, by the one column-scaled SVD
        result = None
        solver = SvdSolver.of(data.design(basis, terms))
        target = data.rows.T if data.w is None else data.rows.T * data.w[:, None]
        coef = np.zeros((len(data.rows), top + 1))
        coef[:, terms] = solver.solve(target).T
        problems = {}
        if solver.rank < terms.size:
            coef[:] = np.nan  # the fit could not be made: every coefficient, not only its terms
            problems = dict.fromkeys(range(len(data.rows)), (
                f"the design of terms {terms.tolist()} has rank {solver.rank} < {terms.size}"
            ))  # fmt: skip
    if problems:
        warn(
            f"the fit could not be made (NaN coefficients): {problems[min(problems)]}",
            UnfittedRankWarning,
        )
    out = np.asarray(coef, dtype=np.float64).T
    return _Fit(out[:, 0] if data.single else out, terms, lambda: result)


def _unmapped(result: Any, basis: Basis) -> FloatArray:
    """Coefficients of the basis at x itself, from the fit's basis on its mapped domain (one
    linear map, the same for every column of one axis)."""
    kind = bases.rule(basis).series
    order = result.basis_coef.shape[1]
    domain = result.domains[0]
    if not np.isfinite(domain).all():
        return np.full_like(result.basis_coef, np.nan)
    change = np.zeros((order, order))
    for j in range(order):
        unit = kind(np.eye(order)[j], domain=domain).convert(kind=kind, domain=[-1, 1])
        change[: unit.coef.size, j] = unit.coef
    return np.asarray(result.basis_coef @ change.T, dtype=np.float64)
