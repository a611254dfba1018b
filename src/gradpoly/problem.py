"""The fitting problem, validated once, and the float64 references every engine is checked against.

A :class:`FitProblem` holds the data as float64 arrays and builds the design matrix; engines
never validate or rescale anything themselves. ``lstsq`` and ``reference_gd`` are the two
float64 references of DESIGN.md: the closed-form optimum and the exact GD trajectory.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.polynomial import Chebyshev, Legendre, Polynomial

from gradpoly import (
    bases,
    compensated,
    constraints,
    convergence,
    mapping,
    rates,
    refining,
    updates,
    validation,
)
from gradpoly import monotone as shapes
from gradpoly.calling import keyword_only
from gradpoly.errors import InvalidDataError, InvalidOptionError, RepresentationWarning, warn
from gradpoly.gram import Gram
from gradpoly.options import Basis, Optimizer
from gradpoly.stats import Moments

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]
Series = Polynomial | Chebyshev | Legendre


def _as_vector(name: str, values: Any) -> FloatArray:
    """A finite 1-D float64 array (read-only copy), or InvalidDataError naming the problem."""
    return validation.vector(name, values)


def _as_degree(degree: Any) -> int:
    return validation.degree(degree)


class Problem:
    """What every engine's loop reads of one fit, from its :class:`~gradpoly.gram.Gram`
    statistics (a batch of one) alone: eigenvalues, rates, the stopping test, statistics'
    coefficients and the conversion to monomials. :class:`FitProblem` builds the statistics
    from its points; the Dask engine's problem from its chunks; neither re-derives the rest.

    A kind of problem supplies :attr:`gram`, :attr:`domain`, :attr:`n_points`, ``degree`` and
    ``basis``; what needs the points themselves (the design, residual sums) says so where a
    kind has none in memory.
    """

    degree: int
    basis: Basis

    @property
    def gram(self) -> Gram:
        """``G = A^T A / N``, ``c = A^T b / N``, ``s = b^T b / N`` (float64, a batch of one):
        ``mse(w) = s - 2 c.w + w.G w`` and ``grad = 2 (G w - c)``."""
        raise NotImplementedError

    @property
    def domain(self) -> tuple[float, float]:
        """The x interval mapped to [-1, 1] by non-monomial bases."""
        raise NotImplementedError

    @property
    def n_points(self) -> int:
        """Number of samples N."""
        raise NotImplementedError

    @property
    def y_scale(self) -> float:
        """The power of two y is divided by inside the loop (1: y as it is)."""
        return 1.0

    @property
    def y_reach(self) -> float:
        """How large y gets, for messages: its largest magnitude where the points are in
        memory, else its root mean square (weighted), which the statistics hold."""
        return float(np.sqrt(max(float(self.gram.s[0]), 0.0)))

    def scaled(self, factor: float) -> Problem:
        """The same problem with y divided by ``factor`` (a power of two: exact); a problem
        that cannot rescale its data keeps ``y_scale`` at 1, so is only asked for 1."""
        if factor != 1.0:
            raise InvalidOptionError(f"this problem cannot divide y by {factor:g}")
        return self

    @property
    def moments(self) -> Moments | None:
        """The Gram statistics for :mod:`gradpoly.stats` (mapped bases: the loop's own;
        monomial ones keep none here, since their raw Gram matrix is too ill-conditioned)."""
        if self.basis is Basis.MONOMIAL:
            return None
        g, c, s = self.gram.one()
        count = np.array([float(self.n_points)])
        return Moments(g[None], c[None], np.array([s]), np.array([self.domain]), total=count,
                       used=count, basis=self.basis)  # fmt: skip

    def design(self, dtype: npt.DTypeLike = np.float64) -> tuple[np.ndarray, np.ndarray]:
        """``(sqrt(s) X, sqrt(s) y)``: only a problem whose points are in memory has them."""
        raise InvalidOptionError(
            "this problem streams its data in chunks: no design matrix in memory"
        )

    def residual_sums(
        self, stats_coef: ArrayLike, monomial: FloatArray | None = None
    ) -> tuple[float, float] | None:
        """``(sum s r^2, sum s (y - ybar_s)^2)`` from the residuals, or None where they would
        cost another pass over the data (the statistics then use the Gram form)."""
        return None

    def trouble(self, dtype: npt.DTypeLike) -> str | None:
        """Why the loop cannot run in ``dtype``: statistics beyond its range, or None."""
        g, c, s = self.gram.one()
        limit = float(np.finfo(np.dtype(dtype)).max) / 4.0
        if not (np.isfinite(g).all() and np.isfinite(c).all() and np.isfinite(s)):
            return "x or y are too large to square in float64; rescale them"
        if float(np.max(np.abs(g))) > limit or abs(s) > limit:
            return f"the Gram statistics overflow {np.dtype(dtype)}: use dtype='float64'"
        return None

    def mse(self, coef: ArrayLike) -> float:
        """Weighted MSE of coefficients in the problem's basis, by the Gram form."""
        w = np.asarray(coef, dtype=np.float64)
        return float(self.gram.mse(w[None])[0])

    def mse_monomial(self, coef: ArrayLike) -> float:
        """Weighted MSE of monomial coefficients in x, converted into the problem's basis."""
        poly = Polynomial(np.asarray(coef, dtype=np.float64))
        if self.basis is Basis.MONOMIAL:
            return self.mse(poly.coef)
        converted = poly.convert(kind=bases.rule(self.basis).series, domain=list(self.domain)).coef
        padded = np.zeros(self.n_coef)
        padded[: converted.size] = converted[: self.n_coef]
        return self.mse(padded)

    def loss_at_zero(self, config: Any) -> float | None:
        """The MSE at w = 0 (the mean of the weighted squares of y)."""
        return float(self.gram.s[0])

    def series(self, coef: ArrayLike) -> Series:
        """Coefficients in this problem's basis as the matching numpy.polynomial object."""
        c = np.asarray(coef, dtype=np.float64)
        if self.basis is Basis.MONOMIAL:
            return Polynomial(c)
        return bases.rule(self.basis).series(c, domain=list(self.domain))

    def expand(self, coef: ArrayLike) -> FloatArray:
        """The fit's basis coefficients of the loop's (the same, but for a constrained fit)."""
        return np.asarray(coef, dtype=np.float64)

    def to_monomial(self, coef: ArrayLike) -> FloatArray:
        """Monomial coefficients in the original x (increasing) of basis coefficients."""
        c = np.asarray(coef, dtype=np.float64).reshape(1, -1)
        return mapping.basis_to_monomial(c, np.array([self.domain]), self.basis)[0]

    @property
    def stats_basis(self) -> Basis:
        """The basis statistics are computed in: the fit's, or Chebyshev for monomial fits
        (whose raw Gram matrix is too ill-conditioned to invert)."""
        return Basis.CHEBYSHEV if self.basis is Basis.MONOMIAL else self.basis

    def stats_coef(self, basis_coef: ArrayLike) -> FloatArray:
        """Coefficients of this problem's basis in :attr:`stats_basis` (same polynomial)."""
        coef = np.asarray(basis_coef, dtype=np.float64)
        if self.basis is not Basis.MONOMIAL:
            return coef
        series = Polynomial(coef).convert(kind=Chebyshev, domain=list(self.domain))
        out = np.zeros(self.n_coef)
        out[: series.coef.size] = series.coef[: self.n_coef]
        return out

    def relative_gradient_norm(self, coef: ArrayLike) -> float:
        """``|grad mse(w)| / |grad mse(0)|`` in float64: 1 at the start, 0 at the optimum."""
        g, c, _ = self.gram.one()
        grad = 2.0 * (g @ np.asarray(coef, dtype=np.float64) - c)
        start = 2.0 * float(np.linalg.norm(c))
        return float(np.linalg.norm(grad)) / (start if start > 0 else 1.0)

    def coef_error(self, coef: ArrayLike) -> float:
        """Estimated relative error ``|c - c*| / |c|`` of the monomial coefficients ``c`` (what
        ``result.coef`` holds) at basis coefficients ``coef``: what ``tol`` is compared with.

        On the quadratic loss ``w - w* = H^+ grad`` exactly, so the error of the monomial
        coefficients is ``M H^+ grad`` (M the basis-to-monomial matrix): the estimate follows
        the conditioning of both the fit and the conversion, not merely a small gradient.
        """
        return float(self._estimates(coef, np.float64)[0][0])

    def error_floor(self, coef: ArrayLike, dtype: npt.DTypeLike = np.float64) -> float:
        """The smallest :meth:`coef_error` rounding lets a loop in ``dtype`` reach at ``coef``:
        the gradient's rounding ``eps (|G| |w| + |c|)`` carried through ``M H^+``."""
        return float(self._estimates(coef, dtype)[1][0])

    def meets(self, coef: ArrayLike, tol: float, dtype: npt.DTypeLike = np.float64) -> bool:
        """Whether the loop may stop at ``coef`` for ``tol``: the estimated errors of both the
        monomial and the basis coefficients are at most ``tol`` or at their rounding floors
        in ``dtype`` (a floor is a reason to stop; :meth:`converged` says whether it is one)."""
        errors, floors = self._estimates(coef, dtype)
        return bool(np.all(errors <= np.maximum(tol, floors)))

    def converged(self, coef: ArrayLike, tol: float) -> bool:
        """Whether ``coef`` is converged for ``tol``, as every path decides it
        (:func:`gradpoly.convergence.confirmed`)."""
        errors, floors = self._estimates(coef, np.float64)
        return bool(
            convergence.judged(errors[None], floors[None], self._error_map.resolved, tol)[0]
        )

    @property
    def resolved(self) -> bool:
        """Whether float64 determines the coefficients along every direction of the Hessian."""
        return bool(self._error_map.resolved[0])

    def _estimates(self, coef: ArrayLike, dtype: npt.DTypeLike) -> tuple[FloatArray, FloatArray]:
        """``([monomial error, basis error], [their rounding floors])`` at ``coef``; the last
        answer is kept, since a stopping loop asks about the same coefficients several times
        (met? converged? how far?)."""
        w = np.array(coef, dtype=np.float64)[None]
        eps = float(np.finfo(np.dtype(dtype)).eps)
        key = (w.tobytes(), eps)
        last = self.__dict__.get("_last_estimates")
        if last is not None and last[0] == key:
            return last[1]
        g, c, _ = self.gram.one()
        errors, floors = convergence.estimates(self._error_map, g[None], c[None], w, eps)
        answer = (errors[0], floors[0])
        self.__dict__["_last_estimates"] = (key, answer)  # frozen: kept as cached_property does
        return answer

    @cached_property
    def _error_map(self) -> convergence.ErrorMap:
        """The convergence test's map of this problem's Gram matrix (computed once)."""
        g, _, _ = self.gram.one()
        return convergence.ErrorMap.of(g[None], np.array([self.domain]), self.basis)

    @cached_property
    def hessian(self) -> FloatArray:
        """The loss Hessian ``2/N X^T S X``, shape (D+1, D+1), float64."""
        return 2.0 * self.gram.g[0]

    @cached_property
    def eigenvalues(self) -> FloatArray:
        """Eigenvalues of the loss Hessian, ascending (float64, from the small Gram matrix)."""
        hessian = self.hessian
        if not np.isfinite(hessian).all():
            raise InvalidDataError(
                "the loss Hessian overflows float64 on this data (features too large to "
                "square); use basis='chebyshev' or rescale x"
            )
        return np.asarray(np.linalg.eigvalsh(hessian), dtype=np.float64)

    @property
    def lambda_max(self) -> float:
        """Largest eigenvalue of the loss Hessian (its Lipschitz constant L)."""
        return float(self.eigenvalues[-1])

    @property
    def lambda_min(self) -> float:
        """Smallest eigenvalue of the loss Hessian (its strong convexity mu), at least 0."""
        return max(float(self.eigenvalues[0]), 0.0)

    def auto_lr(self) -> float:
        """``1 / L``: the GD step from the loss's Lipschitz constant L (its largest curvature).

        It removes the stiffest direction's error in one step and contracts every other by
        ``1 - lambda / L``. (``2 / (L + mu)`` has a better worst-case rate but leaves the
        stiffest direction oscillating at almost constant amplitude when L / mu is large, as
        for monomials: measured on the seed data it ends 24x further from the optimum.)
        """
        return 1.0 / self.lambda_max

    def auto_parameters(self, optimizer: Optimizer) -> tuple[float, float]:
        """``(lr, beta)`` optimal for this quadratic loss under ``optimizer``.

        gd: ``1 / L``, rate ``1 - 1 / k`` with ``k = L / mu``; heavy-ball
        momentum: ``lr = 4 / (sqrt L + sqrt mu)^2``, ``beta = ((sqrt k - 1) / (sqrt k + 1))^2``;
        Nesterov: ``lr = 1 / L``, ``beta = (sqrt k - 1) / (sqrt k + 1)``. The accelerated
        rates depend on sqrt(k) instead of k; mu is clamped (see :mod:`gradpoly.rates`).
        """
        lr, beta = rates.auto_parameters(self.eigenvalues, optimizer)
        return float(lr), float(beta)

    @property
    def lr_max(self) -> float:
        """Largest stable GD learning rate ``2 / lambda_max``; any lr above it diverges."""
        return 2.0 / self.lambda_max

    @property
    def condition_number(self) -> float:
        """Condition number of the Hessian: why plain GD on monomials converges slowly."""
        if not self.lambda_min > 0:  # singular (or rounded below zero): no finite ratio
            return float("inf")
        with np.errstate(over="ignore"):
            return float(np.float64(self.lambda_max) / np.float64(self.lambda_min))

    @property
    def n_coef(self) -> int:
        """Number of coefficients D + 1."""
        return self.degree + 1


@dataclass(frozen=True, eq=False)
class FitProblem(Problem):
    """Validated 1-D data, degree and optional per-point weights of one polynomial fit: the
    :class:`Problem` whose statistics come from its points (held in memory).

    Parameters
    ----------
    x, y : array_like, shape (N,)
        Finite samples; converted to read-only float64 copies.
    degree : int
        Polynomial degree D; needs at least D + 1 distinct x values.
    weights : array_like, shape (N,), optional
        Non-negative per-point weights ``s`` of ``mse = mean(s * (y - X w)**2)``; default 1.
    basis : Basis
        Features ``X[:, j]``: ``x**j`` (monomial) or ``T_j(t)`` / ``P_j(t)`` with x's domain
        mapped to t in [-1, 1]. Engines see only the features; coefficients come back in
        this basis and are converted to monomials in x by :meth:`to_monomial`.
    """

    x: FloatArray
    y: FloatArray
    degree: int = 4
    weights: FloatArray | None = field(default=None)
    basis: Basis = Basis.MONOMIAL

    def __post_init__(self) -> None:
        object.__setattr__(self, "basis", Basis.parse(self.basis))
        x = _as_vector("x", self.x)
        y = _as_vector("y", self.y)
        if x.shape != y.shape:
            raise InvalidDataError(
                f"x and y must have the same length, got {x.size} and {y.size} points"
            )
        degree = _as_degree(self.degree)
        distinct = validation.distinct_count(x)
        if degree >= distinct:
            raise InvalidDataError(validation.too_few_distinct(degree, distinct))
        weights = None
        if self.weights is not None:
            weights = _as_vector("weights", self.weights)
            if weights.shape != x.shape:
                raise InvalidDataError(
                    f"weights must have one value per point: got {weights.size} for {x.size} points"
                )
            validation.nonnegative_weights(weights)
            weighted = validation.distinct_count(x[weights > 0])
            if weighted < degree + 1:
                raise InvalidDataError(validation.too_few_distinct(degree, weighted))
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "degree", degree)
        object.__setattr__(self, "weights", weights)
        reach = float(np.max(np.abs(self.used_x)))
        if self.basis is Basis.MONOMIAL:
            mapping.check_monomial(None, reach, degree)
        mapping.check_monomial(self.domain, reach, degree)  # every result is also monomial

    @classmethod
    def from_data(
        cls,
        x: ArrayLike,
        y: ArrayLike,
        degree: int = 4,
        weights: ArrayLike | None = None,
        basis: Basis | str = Basis.MONOMIAL,
    ) -> FitProblem:
        """Validate array-likes (lists, numpy arrays, CPU tensors) into a problem (once: the
        constructor checks every field)."""
        return cls(x, y, degree, weights, basis)  # type: ignore[arg-type]

    @property
    def n_points(self) -> int:
        """Number of samples N."""
        return int(self.x.size)

    @property
    def used_x(self) -> FloatArray:
        """The x values with positive weight (all of x without weights)."""
        return self.x if self.weights is None else self.x[self.weights > 0]

    @cached_property
    def domain(self) -> tuple[float, float]:
        """The x interval mapped to [-1, 1] by non-monomial bases: the range of x over the
        points with positive weight (the rule of every path; see :mod:`gradpoly.mapping`)."""
        used = self.used_x
        return mapping.domain(float(used.min()), float(used.max()))

    @cached_property
    def y_scale(self) -> float:
        """The power of two y is divided by inside the loop (1 for y of ordinary size); see
        :func:`gradpoly.mapping.exact_scale`."""
        return mapping.exact_scale(float(np.max(np.abs(self.y))))

    @property
    def y_reach(self) -> float:
        """The largest |y|."""
        return float(np.max(np.abs(self.y)))

    def scaled(self, factor: float) -> FitProblem:
        """The same problem with y divided by ``factor`` (a power of two: exact)."""
        if factor == 1.0:
            return self
        return FitProblem(self.x, self.y / factor, self.degree, self.weights, self.basis)

    def mse_monomial(self, coef: ArrayLike) -> float:
        """Weighted MSE of monomial coefficients in x, whatever the problem's basis."""
        model = np.polynomial.polynomial.polyval(self.x, np.asarray(coef, dtype=np.float64))
        r = self.y - model
        s = 1.0 if self.weights is None else self.weights
        return float(np.mean(s * r * r))

    def design(self, dtype: npt.DTypeLike = np.float64) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(A, b)`` with ``A = sqrt(s) X`` (features in the basis) and ``b = sqrt(s) y``.

        Folding the weights into the rows once means every engine runs the unweighted loop
        ``mean((b - A w)**2)``, which equals ``mean(s * (y - X w)**2)``. Shapes (N, D+1), (N,).
        """
        a, b = self._design64
        return a.astype(dtype), b.astype(dtype)

    @cached_property
    def _design64(self) -> tuple[FloatArray, FloatArray]:
        if self.weights is None:
            return _features(self.basis, self.x, self.domain, self.degree), self.y.copy()
        # Zero-weight points take no part: their rows are zero (never inf * 0 = NaN).
        used = self.weights > 0
        lo = self.domain[0] if self.basis is not Basis.MONOMIAL else 0.0
        a = _features(self.basis, np.where(used, self.x, lo), self.domain, self.degree)
        root = np.sqrt(self.weights)
        return a * root[:, None], np.where(used, self.y, 0.0) * root

    def trouble(self, dtype: npt.DTypeLike) -> str | None:
        """Why the loop cannot run in ``dtype`` on this data (its squares overflow), or None."""
        a, b = self._design64
        limit = float(np.finfo(np.dtype(dtype)).max) / 4.0
        top = float(np.max(np.abs(a)))
        n = float(self.n_points)
        if not np.isfinite(top) or top * top * n > limit:
            return (
                f"the features reach {top:.3g} (x up to {float(np.max(np.abs(self.x))):.3g} in "
                f"the {self.basis} basis): their squares overflow {np.dtype(dtype)}; use "
                "basis='chebyshev'"
                + (" or dtype='float64'" if np.dtype(dtype) != np.float64 else "")
            )
        top = float(np.max(np.abs(b)))
        if top * top * n > limit:
            return f"y reaches {top:.3g}: its squares overflow {np.dtype(dtype)}; rescale y" + (
                " or use dtype='float64'" if np.dtype(dtype) != np.float64 else ""
            )
        return None

    @cached_property
    def gram(self) -> Gram:
        """One pass over the points: ``G = A^T A / N``, ``c = A^T b / N``, ``s = b^T b / N``.

        With these every GD step of the ``gram`` strategy costs O(D^2) instead of O(N D), on
        the same trajectory.
        """
        a, b = self._design64
        n = self.n_points
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused by its users
            domain = None if self.basis is Basis.MONOMIAL else self.domain
            return Gram.single(a.T @ a / n, a.T @ b / n, float(b @ b / n), domain)

    @cached_property
    def moments(self) -> Moments:
        """The Gram statistics of y / :attr:`y_scale` in :attr:`stats_basis` (every sum finite
        wherever y is), for :class:`gradpoly.stats.Stats`."""
        a = self._stats_design
        scale = self.y_scale
        b = self._design64[1] / scale  # sqrt(s) y / scale, zero where s = 0
        n = self.n_points
        with np.errstate(over="ignore", invalid="ignore"):
            g = self.gram.g[0] if self.basis is not Basis.MONOMIAL else a.T @ a / n
            c, s = a.T @ b / n, float(b @ b / n)
        used = float(self.x.size if self.weights is None else np.count_nonzero(self.weights))
        return Moments(
            g[None], c[None], np.array([s]), np.array([self.domain]), total=np.array([float(n)]),
            used=np.array([used]), basis=self.stats_basis, y_scale=scale,
        )  # fmt: skip

    @cached_property
    def _stats_design(self) -> FloatArray:
        """``sqrt(s) X`` in :attr:`stats_basis` (zero rows where s = 0)."""
        if self.basis is not Basis.MONOMIAL:
            return self._design64[0]
        x = self.x if self.weights is None else np.where(self.weights > 0, self.x, self.domain[0])
        a = _features(Basis.CHEBYSHEV, x, self.domain, self.degree)
        return a if self.weights is None else a * np.sqrt(self.weights)[:, None]

    def residual_sums(
        self, stats_coef: ArrayLike, monomial: FloatArray | None = None
    ) -> tuple[float, float] | None:
        """``(sum s r^2, sum s (y - ybar_s)^2)`` of y / :attr:`y_scale` (as :attr:`moments`)
        at coefficients in :attr:`stats_basis`, from the residuals themselves (one O(N D)
        pass): exact fits give 0 and an R² near 1 keeps its digits, where the Gram form
        ``s - 2 c.w + w.G w`` cancels them away. Given the ``monomial`` coefficients of a
        refined closed form, their residuals (to twice float64's precision) are used where
        their sum is the smaller: an exact polynomial then gives 0, and far from zero, where
        float64 monomials cannot hold the fit, the basis' residuals are kept."""
        scale = self.y_scale  # a power of two: the sums of y / scale are exact rescalings
        weights = np.ones_like(self.y) if self.weights is None else self.weights
        a = self._stats_design
        _, b = self._design64
        r = b / scale - a @ (np.asarray(stats_coef, dtype=np.float64) / scale)
        exact = None if monomial is None else self._monomial_residual(monomial, scale, weights)
        if exact is not None and float(exact @ exact) < float(r @ r):
            r = exact  # each is the optimum's RSS plus its own error: the smaller is nearer
        mean = float(np.sum(weights * self.y / scale) / np.sum(weights))
        spread = np.sqrt(weights) * (self.y / scale - mean)
        return float(r @ r), float(spread @ spread)

    def _monomial_residual(
        self, monomial: FloatArray, scale: float, weights: FloatArray
    ) -> FloatArray | None:
        """``sqrt(s) (y - p(x)) / scale`` of monomial coefficients, compensated; None where the
        compensated arithmetic cannot hold the values (the basis residual is used then)."""
        powers = compensated.Design.powers(self.x, monomial.size)
        r = None if powers is None else powers.residual(monomial / scale, self.y / scale)
        return None if r is None else np.sqrt(weights) * (r[0] + r[1])

    def loss_at_zero(self, config: Any) -> float | None:
        """The configured loss at w = 0 in float64 (None for a user callable)."""
        if callable(config.loss):
            return None
        from gradpoly.losses import penalty

        _, b = self._design64
        return float(np.mean(penalty(config.loss, config.huber_delta, np.where)(b)))

    def mse(self, coef: ArrayLike) -> float:
        """Weighted mean squared error of coefficients in the problem's basis (float64)."""
        a, b = self._design64
        r = b - a @ np.asarray(coef, dtype=np.float64)
        return float(np.mean(r * r))


@dataclass(frozen=True, eq=False)
class ConstrainedProblem(Problem):
    """A fit with equality constraints (:mod:`gradpoly.constraints`) for gradient descent: its
    loop runs on the free coefficients z of ``w = particular + null z`` (the constraints' null
    space in the fit's basis), so every engine descends as it would unconstrained and every
    iterate meets the constraints exactly. The design, Gram statistics, rates and convergence
    test are the free coefficients'; coefficients handed back (:meth:`expand`), monomials,
    statistics and residuals are w's, as :func:`lstsq` with the same constraints gives them."""

    degree: int
    basis: Basis
    whole: FitProblem
    found: constraints.Constraints
    particular: FloatArray
    null: FloatArray
    factor: float = 1.0
    """y (and so each constraint's value) divided by this power of two (:meth:`scaled`)."""

    @classmethod
    def of(cls, whole: FitProblem, found: constraints.Constraints) -> ConstrainedProblem:
        """The problem ``whole`` under ``found``, or a named error where the constraints are
        dependent, fix every coefficient, or the basis is unmapped."""
        if whole.basis is Basis.MONOMIAL:
            raise InvalidOptionError(
                "constraints on gradient descent need a mapped basis (basis='chebyshev', the "
                "default, or 'legendre'); or use gradpoly.lstsq"
            )
        doms = np.array([whole.domain])
        c_matrix, d = constraints.equations(found, doms, whole.basis, whole.n_coef)
        reduction = constraints.null_space(c_matrix, d)
        if not reduction.independent[0]:
            raise InvalidOptionError(
                f"the constraints ({found.describe()}) {constraints.DEPENDENT}"
            )
        if reduction.null.shape[2] == 0:
            raise InvalidOptionError(
                f"the constraints ({found.describe()}) fix every coefficient: nothing is left "
                "to fit; gradpoly.lstsq gives that polynomial"
            )
        return cls(whole.degree, whole.basis, whole, found, reduction.particular[0],
                   reduction.null[0])  # fmt: skip

    def expand(self, coef: ArrayLike) -> FloatArray:
        """The fit's basis coefficients w of free coefficients z."""
        z = np.asarray(coef, dtype=np.float64)
        return np.asarray(self.particular / self.factor + self.null @ z, dtype=np.float64)

    @property
    def n_coef(self) -> int:
        """The free coefficients the loop runs on."""
        return int(self.null.shape[1])

    @property
    def domain(self) -> tuple[float, float]:
        return self.whole.domain

    @property
    def n_points(self) -> int:
        return self.whole.n_points

    @property
    def y_scale(self) -> float:
        return self.whole.y_scale

    @property
    def y_reach(self) -> float:
        return self.whole.y_reach

    def scaled(self, factor: float) -> ConstrainedProblem:
        if factor == 1.0:
            return self
        return replace(self, whole=self.whole.scaled(factor), factor=self.factor * factor)

    @cached_property
    def _design64(self) -> tuple[FloatArray, FloatArray]:
        a, b = self.whole.design()
        return a @ self.null, b - a @ (self.particular / self.factor)

    def design(self, dtype: npt.DTypeLike = np.float64) -> tuple[np.ndarray, np.ndarray]:
        """The free coefficients' design ``A N`` and right-hand side ``b - A p``."""
        a, b = self._design64
        return a.astype(dtype), b.astype(dtype)

    @cached_property
    def gram(self) -> Gram:
        a, b = self._design64
        n = self.n_points
        with np.errstate(over="ignore", invalid="ignore"):
            return Gram.single(a.T @ a / n, a.T @ b / n, float(b @ b / n), self.domain)

    def trouble(self, dtype: npt.DTypeLike) -> str | None:
        return self.whole.trouble(dtype) or super().trouble(dtype)

    @cached_property
    def moments(self) -> Moments:
        """The whole fit's statistics with the constraints counted, as :func:`lstsq`'s."""
        moments = self.whole.moments
        null = self.null
        reduced = np.linalg.pinv(null.T @ moments.g[0] @ null)
        pinned = tuple(power for power, _ in self.found.fixed)
        return replace(moments, inverse=(null @ reduced @ null.T)[None],
                       constraints=self.found.count, pinned=pinned)  # fmt: skip

    def to_monomial(self, coef: ArrayLike) -> FloatArray:
        """Monomial coefficients of free coefficients z; the fixed ones exactly their values."""
        out = self.whole.to_monomial(self.expand(coef))
        for power, value in self.found.fixed:
            out[power] = value / self.factor
        return out

    def stats_coef(self, basis_coef: ArrayLike) -> FloatArray:
        return self.whole.stats_coef(self.expand(basis_coef))

    def residual_sums(
        self, stats_coef: ArrayLike, monomial: FloatArray | None = None
    ) -> tuple[float, float] | None:
        return self.whole.residual_sums(stats_coef, monomial)

    def mse_monomial(self, coef: ArrayLike) -> float:
        return self.whole.mse_monomial(coef)

    @cached_property
    def _error_map(self) -> convergence.ErrorMap:
        """The convergence test of w and its monomials at free coefficients z."""
        g, _, _ = self.gram.one()
        return convergence.ErrorMap.of(
            g[None], np.array([self.domain]), self.basis, self.null[None],
            (self.particular / self.factor)[None],
        )  # fmt: skip


def _features(basis: Basis, x: FloatArray, domain: tuple[float, float], degree: int) -> FloatArray:
    """The (N, D+1) feature matrix: a Vandermonde matrix of the basis on the mapped x."""
    if basis is Basis.MONOMIAL:
        with np.errstate(over="ignore", under="ignore"):
            return np.vander(x, degree + 1, increasing=True)
    t = mapping.to_unit(x, domain[0], domain[1])
    return np.asarray(bases.rule(basis).vander(t, degree), dtype=np.float64)


@keyword_only(3)
def lstsq(
    x: ArrayLike,
    y: ArrayLike,
    degree: int = 4,
    *,
    weights: ArrayLike | None = None,
    sigma: ArrayLike | None = None,
    absolute_sigma: bool = False,
    full: bool = False,
    fixed: Any = None,
    through: Any = None,
    slope: Any = None,
    monotone: str | None = None,
) -> Any:
    """Closed-form float64 least squares: monomial coefficients in increasing order.

    The reference optimum of ``mean(s * (y - X w)**2)``. It is solved by SVD in a Chebyshev
    basis on x mapped to [-1, 1] (never the raw normal equations, whose condition number is
    squared), then converted to monomials in the original x. ``full=True`` returns a
    :class:`~gradpoly.result.LstsqResult` (``coef``, ``basis_coef``, ``domain``, ``stats``,
    ``predict(x, interval=..., level=...)``, ``polynomial()``), as ``np.polyfit(...,
    full=True)`` returns more than the coefficients. Weights are inverse variances for the
    statistics (statsmodels' WLS convention; ``np.polyfit``'s ``w`` is their square root);
    or give ``sigma``, y's standard deviations (``weights = 1 / sigma**2``), and
    ``absolute_sigma=True`` where they are absolute, as ``scipy.optimize.curve_fit`` means
    them (the statistics then take the scale as 1).

    ``fixed={power: value}``, ``through=[(x, y), ...]`` and ``slope=[(x, dydx), ...]`` are
    equality constraints the fit meets exactly (:mod:`gradpoly.constraints`): ``fixed={0:
    0.0}`` is a fit through the origin, zeros in ``fixed`` leave terms out. Its statistics
    count them (dof = n - (D+1) + K; fixed coefficients have standard error 0), as
    statsmodels' fit of the reduced design.

    ``monotone="increasing"`` (or ``"decreasing"``) keeps the curve from turning back
    anywhere on the range of the data, certified on the whole interval
    (:mod:`gradpoly.monotone`): a calibration curve that must not fold over. Its statistics
    treat the points where the constraint binds as zero-slope constraints.
    """
    weights = validation.inverse_variance(weights, sigma, absolute_sigma)
    problem = FitProblem.from_data(x, y, degree, weights)
    found = constraints.parse(fixed, through, slope, problem.degree)
    sign = shapes.direction(monotone)
    if sign is not None and found is not None:
        raise InvalidOptionError("monotone does not combine with fixed, through or slope")
    full = validation.flag("full", full)
    if found is None and sign is None and not full:
        return lstsq_problem(problem)
    from gradpoly.result import LstsqResult, known_sigma

    moments = problem.moments
    if sign is not None:
        basis_coef, coef, moments = monotone_lstsq(problem, sign)
        if not full:
            return coef
    elif found is None:
        basis_coef, coef = lstsq_solve(problem)
    else:
        basis_coef, coef, moments = constrained_lstsq(problem, found)
        if not full:
            return coef
    result = LstsqResult(
        coef,
        basis_coef,
        problem.domain,
        moments,
        basis_coef,
        residual_sums=problem.residual_sums(
            basis_coef, monomial=coef if found is None and sign is None else None
        ),
    )
    return known_sigma(result, absolute_sigma)


def weighted_design(
    problem: FitProblem,
) -> tuple[FloatArray, FloatArray, FloatArray | None, FloatArray, FloatArray]:
    """The points of positive weight (x, y), the square roots of their weights, and the
    weighted Chebyshev design and right-hand side of y / ``y_scale``: what every closed form
    of one fit solves."""
    used = problem.weights is None or bool(np.all(problem.weights > 0))
    x = problem.x if used else problem.used_x
    y = problem.y if used else problem.y[problem.weights > 0]  # type: ignore[operator]
    root = None if problem.weights is None else np.sqrt(problem.weights[problem.weights > 0])
    a = _features(Basis.CHEBYSHEV, x, problem.domain, problem.degree)
    b = y / problem.y_scale
    if root is not None:
        a, b = a * root[:, None], b * root
    return x, y, root, a, b


def monotone_lstsq(problem: FitProblem, sign: float) -> tuple[FloatArray, FloatArray, Moments]:
    """The least-squares fit of one curve kept monotone on its whole domain
    (:mod:`gradpoly.monotone`): the closed form where it already is, else the certified
    shape-constrained optimum; basis and monomial coefficients and the statistics' moments."""
    basis_coef, coef = lstsq_solve(problem)
    scale = problem.y_scale
    moments = problem.moments
    if shapes.certified(basis_coef[None] / scale, Basis.CHEBYSHEV, sign)[0]:
        return basis_coef, coef, moments
    found = shapes.solve_all(moments.g[:1], moments.c[:1], Basis.CHEBYSHEV, sign)
    if not found.found[0]:
        raise InvalidDataError("no monotone fit of this data could be certified; lower the degree")
    unit = found.w[0]
    inverse, rank = shapes.covariance_shape(moments.g[0], found.rows[0])
    doms = np.array([problem.domain])
    with np.errstate(over="ignore", invalid="ignore"):
        coef = mapping.basis_to_monomial(unit[None, :] * scale, doms, Basis.CHEBYSHEV)[0]
    coef = finite_coefficients(coef, problem)
    return unit * scale, coef, replace(moments, inverse=inverse[None], constraints=rank)


def constrained_lstsq(
    problem: FitProblem, found: constraints.Constraints
) -> tuple[FloatArray, FloatArray, Moments]:
    """The constrained least squares of one fit: SVD least squares of the design times the
    constraints' null space (:func:`gradpoly.constraints.null_space`), with the one
    conditioning verdict; the basis and monomial coefficients (the fixed ones exactly
    their values) and the statistics' moments counting the constraints."""
    *_, a, b = weighted_design(problem)
    scale = problem.y_scale
    doms = np.array([problem.domain])
    c_matrix, d = constraints.equations(found, doms, Basis.CHEBYSHEV, a.shape[1])
    reduction = constraints.null_space(c_matrix, d / scale)
    if not reduction.independent[0]:
        raise InvalidOptionError(f"the constraints ({found.describe()}) {constraints.DEPENDENT}")
    particular, null = reduction.particular[0], reduction.null[0]
    if null.shape[1]:
        solver = SvdSolver.of(a @ null)
        trouble = rank_trouble(solver.condition, Basis.CHEBYSHEV)
        if trouble is not None:
            raise InvalidDataError(
                f"this constrained degree-{problem.degree} fit cannot be trusted: {trouble}"
            )
        unit = particular + null @ solver.solve(b - a @ particular)
    else:
        unit = particular
    with np.errstate(over="ignore", invalid="ignore"):
        coef = mapping.basis_to_monomial(unit[None, :] * scale, doms, Basis.CHEBYSHEV)[0]
    for power, value in found.fixed:
        coef[power] = value
    coef = finite_coefficients(coef, problem)
    moments = problem.moments
    g = moments.g
    if null.shape[1]:
        reduced = np.linalg.pinv(null.T @ g[0] @ null)
        inverse = (null @ reduced @ null.T)[None]
    else:
        inverse = np.zeros_like(g)
    pinned = tuple(power for power, _ in found.fixed)
    moments = replace(moments, inverse=inverse, constraints=found.count, pinned=pinned)
    return unit * scale, coef, moments


def lstsq_problem(problem: FitProblem) -> FloatArray:
    """:func:`lstsq` for an already validated problem: its monomial coefficients."""
    return lstsq_solve(problem)[1]


def lstsq_solve(problem: FitProblem) -> tuple[FloatArray, FloatArray]:
    """``(chebyshev_coef, monomial_coef)`` of the least-squares optimum of ``problem``.

    SVD least squares of the Chebyshev design on the safely mapped x, columns scaled to unit
    norm (as ``np.polyfit`` does) and y scaled by a power of two, so any representable data
    is solved without overflow. The monomial coefficients are then refined against their own
    residual, computed to twice float64's precision (:func:`refine_monomial`): converting
    from the basis alone loses digits to cancellation (4 on NIST's Wampler sets), and how
    many depends on the CPU's BLAS kernels. They are checked finite.
    """
    x, y, root, a, b = weighted_design(problem)
    scale = problem.y_scale
    solver = SvdSolver.of(a)
    trouble = rank_trouble(solver.condition, Basis.CHEBYSHEV)
    if trouble is not None:
        raise InvalidDataError(f"this degree-{problem.degree} fit cannot be trusted: {trouble}")
    unit, coef = monomial_solution(solver, b, x, y, scale, root, problem.domain)
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float64: refused, named, next
        coef = coef * scale
    coef = finite_coefficients(coef, problem)
    residual = b - a @ unit  # weighted, in y / scale
    final = np.array([float(np.sum(residual * residual)) / problem.n_points])
    with np.errstate(over="ignore"):  # a loss beyond float64 is inf, as the batched fits'
        final = final * scale * scale
    doms = np.array([problem.domain])
    warn_unrepresentable(coef[None], (unit * scale)[None], doms, Basis.CHEBYSHEV, ONE, final, True)
    return unit * scale, coef


ONE = np.ones(1, dtype=bool)
"""``valid`` of a single fit."""


def monomial_solution(
    solver: SvdSolver,
    b: FloatArray,
    x: FloatArray,
    y: FloatArray,
    scale: float,
    root: FloatArray | None,
    domain: tuple[float, float],
) -> tuple[FloatArray, FloatArray]:
    """The Chebyshev solution of ``a w = b`` (``solver`` is a's) and its monomial
    coefficients in x, refined against their own residual where converting may have cost
    digits (:func:`needs_refinement`, :func:`refine_monomial`); both in units of y / ``scale``.
    What every closed form of one set of points converts with: ``lstsq`` and the series that
    ``lstsq_many`` solves again (:mod:`gradpoly.many.refine`)."""
    unit = solver.solve(b)
    doms = np.array([domain])
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        convert = mapping.monomial_matrices(doms, Basis.CHEBYSHEV, unit.size)[0]
        coef = (unit[None, :] @ convert.T)[0]  # basis_to_monomial's product, its one matrix
        if np.isfinite(coef).all():
            if needs_refinement(coef, unit, convert, solver):
                weights = None if root is None else root * root
                coef = refine_monomial(coef, x, y / scale, weights, convert, solver, doms)
    return unit, coef


def points_solution(
    x: FloatArray,
    y: FloatArray,
    weights: FloatArray | None,
    domain: tuple[float, float],
    degree: int,
) -> FloatArray:
    """:func:`monomial_solution`'s monomial coefficients of one series' points (those of
    positive weight are used), as :func:`lstsq_solve` computes them for the same points."""
    if weights is not None:
        used = weights > 0
        x, y, root = x[used], y[used], np.sqrt(weights[used])
    else:
        root = None
    a = _features(Basis.CHEBYSHEV, x, domain, degree)
    b = y if root is None else y * root
    if root is not None:
        a = a * root[:, None]
    return monomial_solution(SvdSolver.of(a), b, x, y, 1.0, root, domain)[1]


REPRESENTABLE = 1e-6
"""Monomials whose float64 evaluation strays from the fit by more than this (relative to the
fitted values' spread plus the residuals' size) cannot represent it."""


def warn_unrepresentable(
    coef: FloatArray,
    w: FloatArray,
    domains: FloatArray,
    basis: Basis,
    valid: npt.NDArray[np.bool_],
    final: FloatArray,
    one: bool = False,
) -> None:
    """One RepresentationWarning for the fits (rows; ``one``: a single fit) whose monomial
    coefficients, evaluated as users do (Horner, as ``np.polynomial.polynomial.polyval``), are
    not their fit ``w`` in ``basis`` on each domain: far from zero, float64 powers of x cancel
    every digit (``lstsq(1e15 + x, y, 2)`` evaluated 7e13 off), however exact the coefficients.
    Judged at D + 3 Chebyshev points across each domain (its ends and middle) by
    :func:`unrepresentable`, with ``final`` each fit's mean squared residual: the one check of
    ``lstsq``, ``fit`` and the batched fits. ``predict`` and ``polynomial()`` evaluate in the
    basis."""
    rows = np.flatnonzero(valid)
    if basis is Basis.MONOMIAL or rows.size == 0:
        return
    size = coef.shape[1]
    t, design = _judging_points(basis, size)
    every = rows.size == valid.size  # no gather by rows
    lo, hi = (domains[:, 0], domains[:, 1]) if every else (domains[rows, 0], domains[rows, 1])
    if lo.size > 1 and bool((lo == lo[0]).all() and (hi == hi[0]).all()):  # one axis: one x
        lo, hi = lo[:1], hi[:1]
    with np.errstate(all="ignore"):  # values beyond float64 are judged, not warned about
        if rows.size == 1:  # one fit: the same operations on Python floats, no array set-up
            row = int(rows[0])
            fit = w if every else w[rows]  # (1, size), as the batched path multiplies it
            judged = _one_judged(
                coef[row], fit, float(lo[0]), float(hi[0]), float(final[row]), t, design
            )
            stray, highest, lowest, spread, top = (np.array([value]) for value in judged)
            lost = unrepresentable(stray, highest - lowest, spread, top)
        else:
            stray, highest, lowest, lost = _many_judged(
                coef, w, lo, hi, final, rows, every, t, design
            )
    if lost.any():
        first = int(np.flatnonzero(lost)[0])
        what = (
            "this fit"
            if one
            else f"{int(lost.sum())} of {valid.size} series (series {int(rows[first])} first)"
        )
        warn(
            representation_message(
                what, float(stray[first]), float(highest[first] - lowest[first])
            ),
            RepresentationWarning,
        )


def _one_judged(
    coef: FloatArray,
    w: FloatArray,
    low: float,
    high: float,
    final: float,
    t: FloatArray,
    design: FloatArray,
) -> tuple[float, float, float, float, float]:
    """One fit's ``(stray, highest, lowest, spread, top)`` as :func:`_many_judged` computes
    a row's (``w`` its (1, size) fit): the same IEEE operations in the same order (Horner's
    multiply, then add), on floats; NaN propagates as through NumPy's max and min."""
    x = ((0.5 * low + 0.5 * high) + (0.5 * high - 0.5 * low) * t).tolist()
    fitted = (design @ w.T)[:, 0].tolist()  # the batched path's product, to the bit
    columns = coef.tolist()
    last = columns[-1]
    rest = columns[-2::-1]
    strays = []
    for point, value in zip(x, fitted, strict=True):
        monomial = last
        for column in rest:
            monomial = monomial * point + column
        strays.append(abs(monomial - value))
    highest, lowest = _nan_extreme(max, fitted), _nan_extreme(min, fitted)
    spread = math.sqrt(final) if final >= 0.0 else (final if final != final else 0.0)
    top = _nan_extreme(max, [abs(highest), abs(lowest)])
    return _nan_extreme(max, strays), highest, lowest, spread, top


def _nan_extreme(pick: Any, values: list[float]) -> float:
    """``np.max`` or ``np.min`` (``pick``) of floats: NaN once any is NaN."""
    return math.nan if any(value != value for value in values) else float(pick(values))


def _many_judged(
    coef: FloatArray,
    w: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    final: FloatArray,
    rows: npt.NDArray[np.intp],
    every: bool,
    t: FloatArray,
    design: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Per fit (``rows``), the largest stray of its monomials from its fit, its fitted values'
    highest and lowest, and :func:`unrepresentable`'s verdict; run under ``errstate``."""
    size = coef.shape[1]
    # (points, series): every reduction runs down the short axis, vectorised across series
    if lo.size == 1:  # one x: the same operations on floats
        low, high = float(lo[0]), float(hi[0])
        x = ((0.5 * low + 0.5 * high) + (0.5 * high - 0.5 * low) * t)[:, None]
    else:
        x = (0.5 * lo + 0.5 * hi)[None, :] + (0.5 * hi - 0.5 * lo)[None, :] * t[:, None]
    fitted = design @ (w if every else w[rows]).T
    columns = np.ascontiguousarray((coef if every else coef[rows]).T)
    monomial = np.empty_like(fitted)
    monomial[:] = columns[size - 1]
    for k in range(size - 2, -1, -1):  # Horner, as np.polynomial.polynomial.polyval
        np.multiply(monomial, x, out=monomial)
        monomial += columns[k]
    monomial -= fitted
    stray = np.max(np.abs(monomial, out=monomial), axis=0)
    highest, lowest = np.max(fitted, axis=0), np.min(fitted, axis=0)
    spread = np.sqrt(np.maximum(final[rows], 0.0))
    top = np.maximum(np.abs(highest), np.abs(lowest))
    lost = unrepresentable(stray, highest - lowest, spread, top)
    return stray, highest, lowest, lost


@cache
def _judging_points(basis: Basis, size: int) -> tuple[FloatArray, FloatArray]:
    """The D + 3 Chebyshev points (ends and middle) in t representability is judged at, and
    the basis there (points, size); computed once per basis and degree, read-only."""
    t = np.cos(np.linspace(0.0, np.pi, size + 2))
    design = np.stack(mapping.features(np, basis, t, size - 1), axis=1)
    t.setflags(write=False)
    design.setflags(write=False)
    return t, design


def unrepresentable(
    stray: FloatArray, span: FloatArray, spread: FloatArray, top: FloatArray
) -> npt.NDArray[np.bool_]:
    """The rule, per fit: monomials whose float64 evaluation ``stray``s from the fit by more
    than :data:`REPRESENTABLE` of the fitted values' ``span`` plus the residuals' ``spread``
    (or of 1e-12 of their largest magnitude ``top``, for a constant fit) cannot represent it.
    NaN and inf are judged, not warned about: its caller runs it under ``errstate``."""
    size = np.maximum(np.maximum(span + spread, top * 1e-12), 1e-300)
    return np.asarray(~(stray <= REPRESENTABLE * size), dtype=bool)


def representation_message(what: str, stray: float, span: float) -> str:
    """The one line :class:`RepresentationWarning` says, for a fit or for some series."""
    return (
        f"the monomial coefficients cannot represent {what} in float64: evaluated at x they "
        f"stray {stray:.3g} from the fit, where its values span {span:.3g} (x is far from 0 "
        "for its degree); evaluate with predict() or polynomial(), which work in the basis "
        "on the mapped x"
    )


RANK_CONDITION = 1e13
"""The one conditioning policy of every closed form (lstsq, lstsq_many, the xarray polyfit,
the estimator's lstsq solver, the CLI, Dask): a design (column-scaled, in the basis solved)
whose condition number exceeds this is numerically rank deficient, and refused, named."""


def rank_trouble(condition: float, basis: Basis) -> str | None:
    """Why a design of this condition number cannot be solved, or None (:data:`RANK_CONDITION`)."""
    if condition <= RANK_CONDITION:
        return None
    return (
        f"its design is numerically rank deficient (condition number {condition:.2g} in the "
        f"{basis} basis); lower the degree"
        + ("" if basis is not Basis.MONOMIAL else " or use basis='chebyshev'")
    )


@dataclass(frozen=True)
class SvdSolver:
    """One SVD of a design, column-scaled to unit norm, serving every least-squares solve of
    every closed form (lstsq, lstsq_many's series solved from their points and its shared
    axis, the estimator and its covariance, xarray's diagnostics): written once.

    Singular values below ``eps * max(N, D+1)`` times the largest are dropped, as
    ``np.linalg.lstsq(rcond=None)`` and ``np.linalg.matrix_rank`` do: the solution is the
    minimum-norm one.
    """

    u: FloatArray
    singular: FloatArray
    """The column-scaled design's singular values, largest first."""
    inverse: FloatArray
    """1 / singular value, 0 where dropped."""
    vt: FloatArray
    norms: FloatArray
    condition: float
    """The column-scaled design's condition number (inf where a value was dropped)."""

    @classmethod
    def of(cls, a: FloatArray, rcond: float | None = None) -> SvdSolver:
        """The solver of design ``a``; ``rcond`` (relative to the largest singular value)
        replaces the default cutoff, as in ``np.linalg.lstsq``."""
        norms = np.sqrt(np.sum(a * a, axis=0))
        norms[norms == 0] = 1.0
        u, sv, vt = np.linalg.svd(a / norms, full_matrices=False)
        relative = EPS * max(a.shape) if rcond is None else rcond
        cutoff = relative * (sv[0] if sv.size else 0.0)
        inverse = np.divide(1.0, sv, out=np.zeros_like(sv), where=sv > cutoff)
        condition = float(sv[0] / sv[-1]) if sv.size and sv[-1] > cutoff else float("inf")
        return cls(u, sv, inverse, vt, norms, condition)

    @property
    def rank(self) -> int:
        """Singular values kept (numpy's ``matrix_rank`` of the column-scaled design)."""
        return int(np.count_nonzero(self.inverse))

    def solve(self, rhs: FloatArray) -> FloatArray:
        """The least-squares solution of ``a w = rhs``; rhs (N,) or (N, B) for B right-hand
        sides at once (then (D+1, B))."""
        inner = self.u.T @ rhs
        scaled = self.inverse[:, None] * inner if inner.ndim == 2 else self.inverse * inner
        out = self.vt.T @ scaled
        return np.asarray(out / (self.norms[:, None] if out.ndim == 2 else self.norms))

    def normal(self, gradient: FloatArray) -> FloatArray:
        """``(a^T a)^+ gradient``: a step of the normal equations from a given ``a^T r``."""
        inner = self.vt @ (gradient / self.norms)
        return np.asarray(
            (self.vt.T @ (self.inverse * self.inverse * inner)) / self.norms, dtype=np.float64
        )

    def gram_inverse(self) -> FloatArray:
        """``(a^T a)^+`` in a's own columns: the unscaled covariance of the coefficients."""
        inner = (self.vt.T * (self.inverse * self.inverse)) @ self.vt
        return np.asarray(inner / self.norms[:, None] / self.norms[None, :], dtype=np.float64)


REFINEMENTS = 2
"""Most refinement steps of monomial coefficients: one gains most of the digits, two settle
them (measured on NIST's sets with three BLAS kernels)."""

GROWTH = 4.0
"""A refined point whose basis gradient grew past this factor of the smallest is not taken."""


def refine_monomial(
    coef: FloatArray,
    x: FloatArray,
    y: FloatArray,
    weights: FloatArray | None,
    convert: FloatArray,
    solver: SvdSolver,
    doms: FloatArray,
) -> FloatArray:
    """Monomial coefficients refined until their own normal equations hold to float64.

    Each step computes the residual ``r = y - p(x)`` of the monomial coefficients and the
    gradient ``T^T W r`` of the Chebyshev design on the mapped x, both to twice float64's
    precision (:mod:`gradpoly.compensated`; T spans the same polynomials as the powers of x,
    and its columns are bounded, so no conversion's cancellation enters the gradient), solves
    the normal equations with the float64 design's SVD, and adds the step converted to
    monomials (``convert``). The fixed point is where the exact normal equations hold,
    whatever rounding the solve and the conversion carry (where eps times the evaluation's
    condition ``sum |c_k x^k| / |p(x)|`` reaches 1, float64 monomials cannot hold the fit
    at all, and ``coef`` is kept). Near it the gradient is rounding
    noise and need not shrink, so up to :data:`REFINEMENTS` steps are taken, stopping once a
    step is below float64's resolution; the result is the last point unless the gradient
    grew past :data:`GROWTH` times the smallest seen (then that one). Where the compensated
    arithmetic cannot be trusted (values beyond its range), ``coef`` is kept.
    """
    mid, half = mapping.midpoint(doms[0])
    designs = refining.refiner(x, mid, half, coef.size)
    room = designs.headroom(coef)
    if room is None:
        return coef
    reach, value = room
    if not reach * EPS < value:
        return coef  # float64 monomials cannot hold this fit to one digit: nothing to refine
    points: list[tuple[float, FloatArray]] = []
    current = coef
    for _ in range(REFINEMENTS):
        gradient = designs.gradient(current, y, weights)
        if gradient is None:
            break
        points.append((math.sqrt(gradient.dot(gradient)), current))  # np.linalg.norm, as it runs
        step = convert @ solver.normal(gradient)
        current = current + step
        steps, now = step.tolist(), current.tolist()  # a few floats: no array operation
        if not all(math.isfinite(value) for value in now):
            current = points[-1][1]
            break
        if all(abs(a) <= SETTLED * abs(b) for a, b in zip(steps, now, strict=True)):
            return current  # the step is below float64's resolution: nothing left to gain
    if not points:
        return coef
    smallest = min(points, key=lambda point: point[0])
    return current if points[-1][0] <= GROWTH * smallest[0] else smallest[1]


EPS = float(np.finfo(np.float64).eps)

SETTLED = 4.0 * EPS
"""A refinement step below this relative size changes nothing float64 can show."""


def needs_refinement(
    coef: FloatArray, unit: FloatArray, convert: FloatArray, solver: SvdSolver
) -> bool:
    """Whether converting one basis solution can have cost a bit (:func:`conversion_flags`
    to :data:`SETTLED`). Low degrees on well-placed data skip the refinement's cost."""
    reach = np.abs(convert).sum(axis=1)[None, :]
    return bool(conversion_flags(coef[None], unit[None], reach, np.array([solver.condition]))[0])


def conversion_flags(
    coef: FloatArray,
    unit: FloatArray,
    reach: FloatArray,
    condition: FloatArray,
    tolerance: float = SETTLED,
) -> npt.NDArray[np.bool_]:
    """Per fit (rows), whether converting its basis solution ``unit`` to monomials ``coef``
    can have cost more than ``tolerance`` of a coefficient: the basis error (about ``eps *
    condition`` of the largest basis coefficient) times each monomial row's ``reach`` (the
    row sums of the conversion's absolute values), relative to that monomial coefficient.
    The one rule of every closed form; one fit asks it to :data:`SETTLED`."""
    # (size, fits), contiguous and in place: each reduction runs across fits, not along
    # short rows, and a grid's check allocates three arrays
    spread = np.abs(np.ascontiguousarray(unit.T, dtype=np.float64))
    noise = (EPS * condition) * spread.max(axis=0)
    finite = bool(np.isfinite(noise).all())
    quiet = contextlib.nullcontext() if finite else np.errstate(invalid="ignore", over="ignore")
    with quiet:  # only an infinite noise can make inf * 0
        np.multiply(reach.T, noise, out=spread)
        bound = np.abs(np.ascontiguousarray(coef.T, dtype=np.float64))
        bound *= tolerance
        return np.asarray(~np.all(spread <= bound, axis=0))  # NaN: flagged


def finite_coefficients(coef: FloatArray, problem: Problem) -> FloatArray:
    """``coef`` if every entry is finite, else InvalidDataError naming the scales at fault."""
    if np.isfinite(coef).all():
        return coef
    lo, hi = problem.domain
    top = problem.y_reach
    raise InvalidDataError(
        f"the monomial coefficients of this degree-{problem.degree} fit overflow float64 "
        f"(x spans [{lo:.3g}, {hi:.3g}], y reaches {top:.3g}); rescale x or y"
    )


def reference_gd(
    problem: FitProblem,
    steps: int,
    lr: float,
    optimizer: Optimizer | str = Optimizer.GD,
    momentum: float = 0.0,
    loss: str = "mse",
    huber_delta: float = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """The float64 GD loop of DESIGN.md, written plainly: returns ``(coef, trace)``.

    ``trace[k]`` is the MSE of ``w_k`` (before the k-th update), length ``steps``; every engine
    must reproduce it within its dtype's tolerance. With momentum (``v = w_k - w_{k-1}``):
    heavy ball steps ``v = beta v - lr grad(w)``, Nesterov ``v = beta v - lr grad(w + beta v)``,
    then ``w = w + v``. ``loss`` (mse, huber, l1) sets the per-point penalty of the trace and
    its analytic gradient.
    """
    from gradpoly.losses import Loss

    optimizer, kind = Optimizer.parse(optimizer), Loss.parse(loss)
    if kind is not Loss.MSE:
        return _reference_robust(problem, steps, lr, optimizer, momentum, kind, huber_delta)
    a, b = problem.design(np.float64)
    w = np.zeros(problem.n_coef)
    v = np.zeros(problem.n_coef)
    trace = np.empty(steps)
    scale = -2.0 / problem.n_points

    def grad(point: FloatArray) -> FloatArray:
        return scale * (a.T @ (b - a @ point))

    for k in range(steps):
        r = b - a @ w
        trace[k] = np.mean(r * r)
        if optimizer is Optimizer.GD:
            w = w - lr * (scale * (a.T @ r))  # the notebook's step, as it wrote it
            continue
        w, v = updates.advance(
            w, v, grad(updates.lookahead(optimizer, w, v, momentum)), lr, momentum
        )
    return w, trace


def _reference_robust(
    problem: FitProblem,
    steps: int,
    lr: float,
    optimizer: Optimizer,
    momentum: float,
    loss: Any,
    delta: float,
) -> tuple[FloatArray, FloatArray]:
    """reference_gd for huber and l1: ``mean(rho(b - A w))`` with the analytic d rho / d r."""
    from gradpoly.losses import penalty, penalty_grad

    a, b = problem.design(np.float64)
    rho = penalty(loss, delta, np.where)
    w, v = np.zeros(problem.n_coef), np.zeros(problem.n_coef)
    trace = np.empty(steps)

    def grad(point: FloatArray) -> FloatArray:
        r = b - a @ point
        return -(a.T @ penalty_grad(loss, delta, r)) / problem.n_points

    for k in range(steps):
        trace[k] = float(np.mean(rho(b - a @ w)))
        w, v = updates.advance(
            w, v, grad(updates.lookahead(optimizer, w, v, momentum)), lr, momentum
        )
    return w, trace
