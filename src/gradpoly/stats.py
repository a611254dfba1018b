"""Fit statistics from the Gram statistics a fit already holds: covariance, standard errors,
R², t and p values, confidence and prediction intervals — for one fit or B series at once.

Everything is computed in the fit's mapped basis (well conditioned) and carried to monomials
by the basis-change matrix, never by inverting the raw monomial Gram matrix. Weights follow
statsmodels' WLS: they are inverse variances, ``sigma^2 = sum w r^2 / dof`` and
``cov = sigma^2 (X' W X)^-1``. (``np.polyfit``'s ``w`` multiplies the residuals, i.e. it is
the square root of these weights, and its ``cov="unscaled"`` omits sigma^2.) ``n`` counts the
points with positive weight and ``dof = n - (D + 1)``. The t distribution's quantiles and p
values come from SciPy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import display, mapping, rowwise, threads, validation
from gradpoly.errors import EngineUnavailableError, InvalidOptionError, warn
from gradpoly.gram import Gram
from gradpoly.options import Basis
from gradpoly.rates import MU_FLOOR

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Moments(Gram):
    """What statistics need of B fits (B may be 1): the fits' :class:`~gradpoly.gram.Gram`
    statistics (normalised by ``total``, the MSE's divisor) with the number of points with
    positive weight, the basis they are in and what the fit knew of them.

    Shapes: ``g`` (B, D+1, D+1), ``c`` (B, D+1), ``s`` (B,), ``domains`` (B, 2) (NaN for
    monomials), ``total`` and ``used`` (B,).
    """

    _: KW_ONLY
    total: FloatArray
    used: FloatArray
    basis: Basis
    inverse: FloatArray | None = None
    """``g^-1`` (B, D+1, D+1) where the fit formed it accurately (NaN rows elsewhere)."""
    y_scale: float = 1.0
    """``c`` and ``s`` are of y divided by this power of two (y near float64's limits: every
    sum stays finite; the statistics are scaled back at the end)."""
    absolute: bool = False
    """The weights are ``1 / sigma**2`` of a known sigma (``absolute_sigma=True``, as
    ``scipy.optimize.curve_fit`` means it): the scale is 1, not estimated from the residuals,
    so ``cov = (X' W X)^-1`` and p values and intervals come from the normal distribution
    (statsmodels' ``cov_type="fixed scale"``)."""
    constraints: int | npt.NDArray[np.int64] = 0
    """Equality constraints the fit met (per series where they differ, e.g. monotone fits'
    binding points) (:mod:`gradpoly.constraints`): as many fewer free
    coefficients, so ``dof = n - (D + 1) + constraints``; ``inverse`` is then the constrained
    ``N (N'GN)^-1 N'``."""
    pinned: tuple[int, ...] = ()
    """Powers whose monomial coefficient the fit fixed: variance exactly 0 (not rounding's)."""


PointSums = Callable[
    [
        npt.NDArray[np.intp],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        Basis,
        "npt.NDArray[np.float64] | None",
    ],
    tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
]
"""``(rss, tss)`` of the given fits (rows) at their coefficients (rows, D+1) in a basis on
their domains (rows, 2), and their monomial coefficients (rows, D+1) where known, from their
own points, in the units of their moments: what a batched fit that still holds its data
offers :class:`Stats`."""

GRAM_TOLERANCE = 1e-11
"""Relative error the Gram form's RSS ``s - 2 c.w + w.G w`` may carry before a fit's sums are
taken from its points where it offers them: that error is about ``16 eps s / mse`` (the
cancellation of sums near ``s`` down to the mean squared residual), so fits with R² near 1
or y far from 0 (kelvins, a calibration's near-exact line) need their residuals; ordinary
noisy series (``s / mse`` of 100) keep the one-pass form."""

EPS = float(np.finfo(np.float64).eps)


def gram_unreliable(square: npt.NDArray[np.float64], mse: npt.NDArray[np.float64]) -> Any:
    """Per fit, whether the Gram form's mean squared residual ``mse`` (from mean weighted
    squares ``square``) may be off by more than :data:`GRAM_TOLERANCE` (exact fits: always)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return ~(16.0 * EPS * square <= GRAM_TOLERANCE * mse)


class StatsWarning(UserWarning):
    """Statistics were asked of a fit that did not converge (they describe w, not w*)."""


class Stats:
    """Statistics of B fits at their coefficients ``basis_coef`` (B, D+1), computed lazily.

    For one fit (``FitResult.stats``) every attribute has the leading B axis removed. The
    names are statsmodels': ``stderr`` is its ``bse``, ``residual_std`` is ``sqrt(scale)``.
    """

    def __init__(
        self,
        moments: Moments,
        basis_coef: FloatArray,
        single: bool = False,
        converged: Any = True,
        sums: tuple[Any, Any] | PointSums | None = None,
        monomial: Any = None,
    ) -> None:
        self.moments = moments
        self.monomial = None if monomial is None else np.atleast_2d(np.asarray(monomial, float))
        """The fit's own monomial coefficients: its pinned ones are exactly their values."""
        self.basis_coef = np.atleast_2d(np.asarray(basis_coef, dtype=np.float64))
        self.single = single
        self.converged = converged
        """Whether the coefficients are the optimum (else the statistics are at w reached)."""
        self._points: PointSums | None = sums if callable(sums) else None
        """Where a batched fit still holds its points: their sums, asked only for the fits
        whose Gram form cannot be trusted (:func:`gram_unreliable`)."""
        self._given = (
            None
            if sums is None or callable(sums)
            else tuple(np.atleast_1d(np.asarray(v, float)) for v in sums)
        )
        self._warn_without_dof()

    def __repr__(self) -> str:
        what = "1 fit" if self.single else f"{self.basis_coef.shape[0]} series"
        if not self.single:
            return f"Stats({what}, degree {self.basis_coef.shape[1] - 1}; arrays per series)"
        return (
            f"Stats({what}, n {display.number(self.n)}, dof {display.number(self.dof)}, "
            f"residual std {display.number(self.residual_std)}, "
            f"R² {display.number(self.r_squared, 6)})"
        )

    def _repr_html_(self) -> str:
        if not self.single:
            return display.table("statistics of many fits", [("", repr(self))])
        return self.table()._repr_html_()  # the coefficient table the CLI prints

    def _out(self, value: FloatArray) -> Any:
        return value[0] if self.single else value

    @cached_property
    def _shared_transform(self) -> FloatArray | None:
        """The one basis-change matrix when every series shares its domain (one fit, or one
        shared axis without gaps at its ends), else None."""
        domains = self.moments.domains
        if not bool(np.isfinite(domains[:1]).all() and rowwise.one_row(domains)):
            return None
        m = self.moments
        return mapping.monomial_matrices(domains[:1], m.basis, self.basis_coef.shape[1])[0]

    @cached_property
    def _transform(self) -> FloatArray:
        """(B, D+1, D+1) basis-change matrices: monomial coef = M @ basis coef."""
        m, shared = self.moments, self._shared_transform
        if shared is not None:
            return np.broadcast_to(shared, (m.domains.shape[0], *shared.shape))
        return mapping.monomial_matrices(m.domains, m.basis, self.basis_coef.shape[1])

    def _congruent(self, matrices: FloatArray) -> FloatArray:
        """``T M T'`` with the pinned powers' rows and columns exactly 0."""
        out = self._congruent_all(matrices)
        for power in self.moments.pinned:
            out[:, power, :] = 0.0
            out[:, :, power] = 0.0
        return out

    def _congruent_diagonal(
        self, matrices: FloatArray, scale: FloatArray | None = None
    ) -> FloatArray:
        """The diagonal of :meth:`_congruent` alone (B, D+1), times each series' ``scale``
        (B,) if given, applied before a pinned power's entry is set: that stays exactly 0."""
        out = self._congruent_diagonal_all(matrices)
        if scale is not None:
            out = scale[:, None] * out
        if self.moments.pinned:
            out[:, list(self.moments.pinned)] = 0.0
        return out

    @threads.one_blas_thread()
    def _congruent_all(self, matrices: FloatArray) -> FloatArray:
        """``T M T'`` for each series' basis-space matrix M: monomial space. With one shared
        T, one BLAS product of the flattened matrices with ``kron(T, T)``."""
        shared = self._shared_transform
        if shared is None:
            t = self._transform
            return np.asarray(t @ matrices @ t.transpose(0, 2, 1), dtype=np.float64)
        count, size = matrices.shape[0], shared.shape[0]
        flat = matrices.reshape(count, size * size) @ np.kron(shared, shared).T
        return np.asarray(flat.reshape(count, size, size), dtype=np.float64)

    @threads.one_blas_thread()
    def _congruent_diagonal_all(self, matrices: FloatArray) -> FloatArray:
        """The diagonal of ``T M T'`` alone (B, D+1)."""
        shared = self._shared_transform
        if shared is None:
            t = self._transform
            return np.asarray((np.matmul(t, matrices) * t).sum(axis=2), dtype=np.float64)
        count, size = matrices.shape[0], shared.shape[0]
        pairs = (shared[:, :, None] * shared[:, None, :]).reshape(size, size * size)
        return np.asarray(matrices.reshape(count, size * size) @ pairs.T, dtype=np.float64)

    @cached_property
    def _gram_mse(self) -> FloatArray:
        mse = self.moments.mse(self.basis_coef / self.moments.y_scale)  # the one loss formula
        return np.asarray(np.maximum(mse, 0.0))  # < 0 only by rounding: an exact fit

    @cached_property
    def sums(self) -> tuple[FloatArray, FloatArray] | None:
        """``(rss, tss)`` (B,) from the residuals where the fit had them, NaN elsewhere (there,
        or where not finite, the Gram form is used, which loses digits as R² nears 1)."""
        if self._points is None:
            return self._given  # type: ignore[return-value]
        fitted = rowwise.finite(self.basis_coef)
        rows = np.flatnonzero(fitted & gram_unreliable(self.moments.s, self._gram_mse))
        rss, tss = np.full(fitted.size, np.nan), np.full(fitted.size, np.nan)
        if rows.size:
            m, w = self.moments, self.basis_coef[rows] / self.moments.y_scale
            mono = None if self.monomial is None else self.monomial[rows] / m.y_scale
            rss[rows], tss[rows] = self._points(rows, w, m.domains[rows], m.basis, mono)
        return rss, tss

    @cached_property
    def _rss(self) -> FloatArray:
        gram = self._gram_mse * self.moments.total
        sums = self.sums
        return gram if sums is None else _prefer(sums[0], gram)

    @cached_property
    def n_array(self) -> FloatArray:
        return self.moments.used

    @property
    def n(self) -> Any:
        """Points with positive weight."""
        return self._out(self.n_array)

    def _warn_without_dof(self) -> None:
        """Say so where a fit has no residual degrees of freedom (n = D + 1, an interpolation):
        sigma, standard errors, covariance, t and p are NaN there (statsmodels warns too)."""
        fitted = rowwise.finite(self.basis_coef) & (self.moments.used > 0)
        none = (self.dof_array <= 0) & fitted  # a series not fitted has its own reason
        if bool(np.any(none)):
            where = "this fit" if self.single else f"{int(none.sum())} of {none.size} series"
            first = int(np.flatnonzero(none)[0])
            lost = (
                "the residual std is NaN (sigma is known: the covariance stands)"
                if self.moments.absolute
                else "sigma, standard errors, covariance, t and p values are NaN"
            )
            warn(
                f"{where} has no residual degrees of freedom (n = {int(self.moments.used[first])}"
                f" points for {self.basis_coef.shape[1]} coefficients): {lost}; use more "
                "points or a lower degree",
                StatsWarning,
            )

    @cached_property
    def dof_array(self) -> FloatArray:
        return self.moments.used - self.basis_coef.shape[1] + self.moments.constraints

    @property
    def dof(self) -> Any:
        """Residual degrees of freedom ``n - (D + 1)`` (plus the number of constraints)."""
        return self._out(self.dof_array)

    @cached_property
    def _estimated_scale(self) -> FloatArray:
        """sigma^2 hat = weighted RSS / dof (NaN without residual degrees of freedom)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.dof_array > 0, self._rss / self.dof_array, np.nan)

    @cached_property
    def _scale(self) -> FloatArray:
        """The scale the covariance uses: sigma^2 hat (of y / y_scale, as every sum here), or
        1 where sigma is known: then the covariance is in y's units already (see
        :attr:`_error_power`), so no power of a tiny y_scale can overflow."""
        if not self.moments.absolute:
            return self._estimated_scale
        return np.ones(self.dof_array.shape)

    @property
    def _error_power(self) -> int:
        """The power of y_scale that takes a standard error to y's units: 1, or 0 where
        sigma is known (``(X' W X)^-1`` does not depend on y)."""
        return 0 if self.moments.absolute else 1

    @property
    def residual_std(self) -> Any:
        """sigma hat, the residual standard deviation (for a point of weight 1). With a known
        sigma it is ``sqrt(chi^2 / dof)``: near 1 where the stated sigma is right."""
        return self._out(self._in_y(np.sqrt(self._estimated_scale), 1))

    @cached_property
    def _reference_dof(self) -> FloatArray:
        """The t distribution's degrees of freedom: ``dof``, or infinite (the normal) where
        sigma is known."""
        if self.moments.absolute:
            return np.full(self.dof_array.shape, np.inf)
        return self.dof_array

    def _in_y(self, value: FloatArray, power: int) -> FloatArray:
        """A statistic of y / y_scale in y's units (``power``: 1 for errors, 2 for variances);
        beyond float64 it is inf."""
        scale = np.float64(self.moments.y_scale)
        out = np.asarray(value, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(power):  # one factor at a time: scale**2 alone may overflow
                out = out * scale
        return np.asarray(out, dtype=np.float64)

    @cached_property
    def _inverse(self) -> FloatArray:
        """(X' W X)^-1 in the basis: the pseudo-inverse beyond the null space (rates' rule)."""
        m = self.moments
        known = np.zeros(m.g.shape[0], dtype=bool)
        if m.inverse is not None:  # formed by the solve (cond(g) <= 1e6): reuse it
            known = rowwise.finite(m.inverse)
            if known.all():  # the common case: no copy by rows
                return np.asarray(m.inverse / m.total[:, None, None], dtype=np.float64)
        matrix = m.g * m.total[:, None, None]
        out = np.full_like(matrix, np.nan)
        if m.inverse is not None and known.any():
            out[known] = m.inverse[known] / m.total[known, None, None]
            matrix = matrix[~known]
        eye = np.eye(matrix.shape[1])
        finite = rowwise.finite(matrix)
        safe = np.where(finite[:, None, None], matrix, eye)
        rest = np.full_like(matrix, np.nan)
        with np.errstate(all="ignore"):
            try:  # the fast path: a batched inverse, kept where it is accurate
                inverse = np.linalg.inv(safe)
                error = np.abs(safe @ inverse - eye).max(axis=(1, 2))
                good = np.isfinite(error) & (error <= 1e-8)
            except np.linalg.LinAlgError:
                inverse, good = np.zeros_like(safe), np.zeros(safe.shape[0], dtype=bool)
        rest[good] = inverse[good]
        hard = ~good
        if hard.any():  # nearly singular: the pseudo-inverse beyond the null space
            lam, q = np.linalg.eigh(safe[hard])
            keep = lam > MU_FLOOR * lam[:, -1:]
            inv = np.where(keep, 1.0 / np.where(keep, lam, 1.0), 0.0)
            rest[hard] = np.einsum("bij,bj,bkj->bik", q, inv, q)
        out[~known] = rest
        return np.asarray(out, dtype=np.float64)

    @cached_property
    def _basis_cov_scaled(self) -> FloatArray:
        """The basis covariance of y / y_scale (finite wherever y is)."""
        return np.asarray(self._scale[:, None, None] * self._inverse, dtype=np.float64)

    @cached_property
    def basis_cov_array(self) -> FloatArray:
        return self._in_y(self._basis_cov_scaled, 2 * self._error_power)

    @property
    def basis_cov(self) -> Any:
        """Covariance of the coefficients in the fit's basis, (D+1, D+1)."""
        return self._out(self.basis_cov_array)

    @cached_property
    def cov_array(self) -> FloatArray:
        with np.errstate(over="ignore", invalid="ignore"):
            return self._in_y(self._congruent(self._basis_cov_scaled), 2 * self._error_power)

    @cached_property
    def unscaled_cov_array(self) -> FloatArray:
        """``(X' W X)^-1`` in monomials (B, D+1, D+1): the covariance without sigma^2."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self._congruent(self._inverse)

    @property
    def residual_sum_squares(self) -> Any:
        """The weighted sum of squared residuals ``sum w r^2`` (numpy's ``residuals``)."""
        return self._out(self._in_y(self._rss, 2))

    @property
    def cov(self) -> Any:
        """Covariance of the monomial coefficients (increasing powers), (D+1, D+1)."""
        return self._out(self.cov_array)

    @cached_property
    def stderr_array(self) -> FloatArray:
        with np.errstate(over="ignore", invalid="ignore"):  # the diagonal of T C T' alone,
            # the per-series scale applied to it, not to every entry of C: s diag(T M T')
            diagonal = self._congruent_diagonal(self._inverse, self._scale)
        return self._in_y(np.sqrt(np.maximum(diagonal, 0.0)), self._error_power)

    @property
    def stderr(self) -> Any:
        """Standard errors of the monomial coefficients (statsmodels' ``bse``)."""
        return self._out(self.stderr_array)

    @cached_property
    def coef_array(self) -> FloatArray:
        m = self.moments
        coef = mapping.basis_to_monomial(self.basis_coef, m.domains, m.basis)
        if m.pinned and self.monomial is not None:  # the fixed values, not their conversion's
            coef[:, list(m.pinned)] = self.monomial[:, list(m.pinned)]
        return coef

    @cached_property
    def _centered_tss(self) -> FloatArray:
        m = self.moments  # basis function 0 is the constant 1 in every basis
        weight, weighted_y = m.g[:, 0, 0], m.c[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            gram = (m.s - weighted_y**2 / weight) * m.total
        sums = self.sums
        return gram if sums is None else _prefer(sums[1], gram)

    @property
    def r_squared(self) -> Any:
        """1 - RSS / centered TSS (weighted, as statsmodels' WLS ``rsquared``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._out(1.0 - self._rss / self._centered_tss)

    @property
    def adj_r_squared(self) -> Any:
        """R² adjusted for the D + 1 coefficients: 1 - (1 - R²)(n - 1) / dof."""
        r2 = np.atleast_1d(np.asarray(self.r_squared, dtype=np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._out(1.0 - (1.0 - r2) * (self.n_array - 1) / self.dof_array)

    @property
    def t_values(self) -> Any:
        """coef / stderr (NaN for a coefficient the fit fixed: it is not estimated, so not
        tested, as statsmodels' fit of the reduced design has no such term)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self.coef_array / self.stderr_array
        if self.moments.pinned:
            t[:, list(self.moments.pinned)] = np.nan
        return self._out(t)

    @property
    def p_values(self) -> Any:
        """Two-sided p values of the t statistics with ``dof`` degrees of freedom (of the
        normal distribution where sigma is known)."""
        t = np.atleast_2d(np.asarray(self.t_values, dtype=np.float64))
        return self._out(two_sided_p(self._reference_dof, t))

    @property
    def p_values_bh(self) -> Any:
        """Benjamini-Hochberg adjusted p values of each coefficient across the series (B, D+1):
        reject where at most the false discovery rate you accept (a map of 1e6 pixels tested
        at 5% otherwise flags 50,000 by chance alone)."""
        p = np.atleast_2d(np.asarray(self.p_values, dtype=np.float64))
        return self._out(benjamini_hochberg(p))

    def conf_int(self, level: float = 0.95) -> Any:
        """(D+1, 2) lower and upper bounds of each monomial coefficient at ``level``."""
        q = self.quantile(level)
        half = q[:, None] * self.stderr_array
        return self._out(np.stack([self.coef_array - half, self.coef_array + half], axis=-1))

    def summary(self, level: float = 0.95) -> dict[str, Any]:
        """The statistics as a JSON-ready dict (lists; NaN stays NaN for strict JSON writers):
        coefficients, stderr, t, p, the ``level`` interval, sigma, R², n, dof, converged."""
        bounds = np.asarray(self.conf_int(level))

        def plain(value: Any) -> Any:
            return np.asarray(value, dtype=np.float64).tolist()

        return {
            "level": float(level),
            "coef": plain(self._out(self.coef_array)),
            "stderr": plain(self.stderr),
            "t_values": plain(self.t_values),
            "p_values": plain(self.p_values),
            "conf_int": plain(bounds),
            "cov": plain(self.cov),
            "residual_std": plain(self.residual_std),
            "r_squared": plain(self.r_squared),
            "adj_r_squared": plain(self.adj_r_squared),
            "n": plain(self.n),
            "dof": plain(self.dof),
            "converged": np.asarray(self.converged, dtype=bool).tolist(),
        }

    def table(self, level: float = 0.95) -> display.Summary:
        """The coefficient table of one fit, as statsmodels prints it: term, coef, std err,
        t, P>|t| and the ``level`` interval, then sigma, R², adjusted R², n and dof (and a
        note where the fit did not converge). ``print`` it, show it in a notebook, or let
        the CLI's ``--stats`` print it: the same cells everywhere."""
        if not self.single:
            raise InvalidOptionError("table() is one fit's: index the series' arrays instead")
        low, high = (f"{100 * q:.4g}%" for q in ((1 - level) / 2, (1 + level) / 2))
        bounds = np.asarray(self.conf_int(level))
        columns = (self.coef_array[0], self.stderr, self.t_values, self.p_values, bounds)
        rows = tuple(
            (
                "1" if j == 0 else "x" if j == 1 else f"x^{j}",
                f"{coef:.6g}",
                f"{err:.4g}",
                f"{t:.3f}",
                f"{p:.3g}",
                f"{lo:.6g}",
                f"{hi:.6g}",
            )
            for j, (coef, err, t, p, (lo, hi)) in enumerate(zip(*columns, strict=True))
        )
        footer = [
            f"residual std {self.residual_std:.6g}   R² {self.r_squared:.6g}   adj. R² "
            f"{self.adj_r_squared:.6g}   n {int(self.n)}   dof {int(self.dof)}"
        ]
        if not bool(np.all(self.converged)):
            footer.append(
                "note: the fit did not converge (no tol, or tol not met): these statistics are "
                "at the coefficients reached, not at the least-squares optimum"
            )
        return display.Summary(
            f"coefficients with {level:.4g} confidence intervals",
            ("term", "coef", "std err", "t", "P>|t|", f"[{low}", f"{high}]"),
            rows,
            tuple(footer),
        )

    def quantile(self, level: float) -> FloatArray:
        """Each series' two-sided ``level`` quantile: Student's t with its dof (the normal's
        where sigma is known)."""
        quantile = 0.5 + validation.level(level) / 2.0
        dof = np.asarray(self._reference_dof, dtype=np.float64)
        distinct, where = np.unique(dof, return_inverse=True)  # a map has few distinct dof
        return np.asarray(_student_t().ppf(quantile, distinct), dtype=np.float64)[where]

    def interval(
        self, features: FloatArray, kind: str, level: float
    ) -> tuple[FloatArray, FloatArray]:
        """Half-widths and predictions at ``features`` (B, M, D+1) in the basis.

        ``kind`` is ``"confidence"`` (the mean) or ``"prediction"`` (a new observation of
        weight 1: the residual variance is added).
        """
        if kind not in ("confidence", "prediction"):
            raise InvalidOptionError(
                f"interval must be None, 'confidence' or 'prediction', got {kind!r}"
            )
        variance = np.einsum("bmi,bij,bmj->bm", features, self._basis_cov_scaled, features)
        if kind == "prediction":
            variance = variance + self._scale[:, None]
        mean = np.einsum("bmi,bi->bm", features, self.basis_coef)
        spread = np.sqrt(np.maximum(variance, 0.0))
        half = self._in_y(self.quantile(level)[:, None] * spread, self._error_power)
        return mean, half

    def variances(self, features: FloatArray) -> tuple[FloatArray, FloatArray]:
        """In y's units: the variance of the fitted mean at ``features`` (B, M, D+1) in the
        basis, and the variance of one new observation of weight 1 about it (B,)."""
        mean = np.einsum("bmi,bij,bmj->bm", features, self._basis_cov_scaled, features)
        power = 2 * self._error_power
        return self._in_y(np.maximum(mean, 0.0), power), self._in_y(self._scale, power)


def _prefer(direct: FloatArray, gram: FloatArray) -> FloatArray:
    """The sums from the residuals where they are finite, else the Gram form's."""
    return np.asarray(np.where(np.isfinite(direct), direct, gram), dtype=np.float64)


def benjamini_hochberg(p: FloatArray) -> FloatArray:
    """Benjamini-Hochberg (1995) adjusted p values down the first axis, column by column:
    ``q_(i) = min_{j >= i} p_(j) m / j`` over the m finite p values (NaN stays NaN), at most
    1; statsmodels' ``multipletests(method="fdr_bh")`` on each column's finite values."""
    values = np.asarray(p, dtype=np.float64)
    out = np.full_like(values, np.nan)
    for k in range(values.shape[1]):
        column = values[:, k]
        finite = np.flatnonzero(np.isfinite(column))
        m = finite.size
        if m == 0:
            continue
        order = np.argsort(column[finite], kind="stable")
        ranked = column[finite][order] * m / np.arange(1, m + 1)
        adjusted = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
        out[finite[order], k] = adjusted
    return out


PARALLEL_TAIL = 16_384
"""p values of at least this many t statistics are computed in one thread per core: SciPy's
exact t tail costs ~190 ns a value, more than a grid's fit costs per series."""


def two_sided_p(dof: FloatArray, t: FloatArray) -> FloatArray:
    """``2 P(T_dof > |t|)`` for each row's dof (B,) and its t statistics (B, K), exact (SciPy's
    ``stdtr``; the normal tail at infinite dof), split across cores on large maps (the ufunc
    releases the GIL); the same numbers however it is split."""
    tail = _special().stdtr  # the t distribution's cdf (the normal's at infinite dof)
    dof, t = np.asarray(dof, dtype=np.float64)[:, None], np.asarray(t, dtype=np.float64)
    out = np.empty(np.broadcast_shapes(dof.shape, t.shape))

    def one(start: int, stop: int) -> None:
        part = out[start:stop]
        tail(dof[start:stop], -np.abs(t[start:stop]), out=part)
        part *= 2.0

    rows = len(out)
    threads.spread(rows, one, least=-(-PARALLEL_TAIL * rows // max(out.size, 1)))
    return out


def _special() -> Any:
    """scipy.special, or EngineUnavailableError with the install command."""
    try:
        from scipy import special
    except ImportError:
        raise EngineUnavailableError("p values need SciPy: pip install scipy") from None
    return special


def _student_t() -> Any:
    """scipy.stats.t, or EngineUnavailableError with the install command."""
    try:
        from scipy import stats as scipy_stats
    except ImportError:
        raise EngineUnavailableError(
            "t quantiles and p values need SciPy: pip install scipy"
        ) from None
    return scipy_stats.t


def basis_features(x: FloatArray, domains: FloatArray, basis: Basis, degree: int) -> FloatArray:
    """(B, M, D+1) basis functions of each series at points ``x`` (B, M) on its domain."""
    t = x if basis is Basis.MONOMIAL else mapping.to_unit(x, domains[:, 0:1], domains[:, 1:2])
    return np.stack(mapping.features(np, basis, t, degree), axis=-1)
