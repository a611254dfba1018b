"""``PolynomialRegressor``: gradpoly's fit as a scikit-learn estimator (Pipeline, GridSearchCV).

One feature is the usual case: ``y = p(x)``, exactly the trajectory of ``gradpoly.fit`` with
the gram strategy in float64. With F > 1 features the model is *additive*,
``y = b + p_1(x_1) + ... + p_F(x_F)``, one polynomial of ``degree`` per feature and no
interaction terms (put ``PolynomialFeatures(interaction_only=True)`` in front for those).
Each feature is mapped from its training range to [-1, 1] and expanded in ``basis``; the
coefficients come from gradient descent on the Gram statistics (``solver="gd"``, run by a
batched ``engine``) or from least squares (``solver="lstsq"``).

Needs scikit-learn: ``pip install -c constraints.txt 'gradpoly[sklearn]'``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import constraints, validation
from gradpoly.engines.base import OptionalLibrary
from gradpoly.errors import (
    DataTypeError,
    GradpolyError,
    InvalidDataError,
    InvalidOptionError,
    warn,
)
from gradpoly.gram import Gram
from gradpoly.many import basis_to_monomial, descend_gram
from gradpoly.mapping import (
    check_monomial,
    domains,
    exact_scale,
    features,
    mapped,
    monomial_matrices,
)
from gradpoly.options import BEST, Basis
from gradpoly.problem import RANK_CONDITION, SvdSolver, points_solution

SKLEARN = OptionalLibrary("sklearn", "sklearn")
SKLEARN.load()

from sklearn.base import BaseEstimator, RegressorMixin  # noqa: E402
from sklearn.utils.validation import (  # noqa: E402
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

FloatArray = npt.NDArray[np.float64]
SOLVERS = ("auto", "lstsq", "gd")

DESCENT_DEFAULTS: dict[str, Any] = {
    "engine": BEST.engine,
    "device": "cpu",
    "gradient": "manual",
    "optimizer": str(BEST.optimizer),
    "lr": BEST.lr,
    "steps": BEST.steps,
}
"""The options only gradient descent uses, at their defaults: naming any other value makes
``solver="auto"`` descend (an option the user named is never silently dropped)."""


@contextmanager
def _as_data_errors() -> Iterator[None]:
    """scikit-learn's input checks raise ValueError/TypeError: give them gradpoly's type."""
    try:
        yield
    except GradpolyError:
        raise
    except (ValueError, TypeError) as exc:
        first = " ".join(str(exc).split()) or type(exc).__name__  # one line, all of it
        kind = DataTypeError if isinstance(exc, TypeError) else InvalidDataError
        raise kind(first) from exc


def _warn_not_converged(steps: int, tol: float, hessian: FloatArray) -> None:
    """scikit-learn's ConvergenceWarning for a descent that stopped short of tol, with why."""
    from sklearn.exceptions import ConvergenceWarning

    values = np.linalg.eigvalsh(hessian)
    condition = float(values[-1] / values[0]) if values[0] > 0 else float("inf")
    warn(
        f"gradient descent did not reach tol={tol:g} in {steps:,} steps: the features' Gram "
        f"matrix has condition number {condition:.3g} (GD needs about that many steps); use "
        "solver='lstsq', more steps, or optimizer='nesterov'",
        ConvergenceWarning,
    )


class PolynomialRegressor(RegressorMixin, BaseEstimator):
    """A polynomial of ``degree`` in each feature, fitted in closed form (or by gradient descent).

    Parameters
    ----------
    degree : int
        Degree of each feature's polynomial.
    basis : {"chebyshev", "legendre", "monomial"}
        Features the descent runs on; chebyshev/legendre on each feature's mapped range.
    solver : {"auto", "lstsq", "gd"}
        Closed-form least squares (exact: what a regression estimator should give), or
        gradient descent on the Gram statistics; a descent that stops short of ``tol`` raises
        scikit-learn's ``ConvergenceWarning``, naming the condition number. ``"auto"`` (the
        default) is lstsq unless a descent option (engine, device, gradient, optimizer, lr,
        steps) is given another value than its default, then gd.
    engine, device : batched engine that runs the descent (numpy, numba, torch, jax) and
        where (cpu, cuda for torch).
    gradient : {"manual", "autograd"}
        The written gradient ``2 (G w - c)`` or the engine's autograd (torch, jax).
    optimizer : {"auto", "gd", "momentum", "nesterov"}
        The update rule ("auto": Nesterov). The descent defaults are :data:`gradpoly.BEST`'s.
    lr : float or "auto"
        Step size; "auto" is 1/L of the loss (and the optimal momentum for the others).
    steps : int
        Most descent steps.
    tol : float or None
        Stop when ``|grad| / |grad(0)| <= tol``.
    fit_intercept : bool
        False: the model's constant is 0 exactly (through the origin), as scikit-learn's
        linear models mean it; fitted by the constraints' null space
        (:mod:`gradpoly.constraints`), with one coefficient fewer in the covariance.

    Attributes
    ----------
    intercept_ : float
        Constant term of the model in the original units.
    coef_ : ndarray of shape (n_features, degree)
        Monomial coefficients of x_f^1 .. x_f^degree, per feature.
    basis_coef_ : ndarray of shape (1 + n_features * degree,)
        What was fitted: the constant, then each feature's basis coefficients 1..degree.
    domains_ : ndarray of shape (n_features, 2)
        Each feature's training range (mapped to [-1, 1]).
    solver_ : str
        The solver that ran ("lstsq" or "gd").
    n_iter_ : int
        Descent steps run (0 for lstsq).
    converged_ : bool
        Whether ``tol`` was reached (True for lstsq).
    """

    def __init__(
        self,
        degree: int = 4,
        *,
        basis: str = str(BEST.basis),
        solver: str = "auto",
        engine: str = DESCENT_DEFAULTS["engine"],
        device: str = DESCENT_DEFAULTS["device"],
        gradient: str = DESCENT_DEFAULTS["gradient"],
        optimizer: str = DESCENT_DEFAULTS["optimizer"],
        lr: float | str = DESCENT_DEFAULTS["lr"],
        steps: int = DESCENT_DEFAULTS["steps"],
        tol: float | None = BEST.tol,
        fit_intercept: bool = True,
    ) -> None:
        self.degree = degree
        self.basis = basis
        self.solver = solver
        self.engine = engine
        self.device = device
        self.gradient = gradient
        self.optimizer = optimizer
        self.lr = lr
        self.steps = steps
        self.tol = tol
        self.fit_intercept = fit_intercept

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> PolynomialRegressor:
        """Fit every feature's polynomial to (X, y); ``sample_weight`` weights the squares."""
        with _as_data_errors():
            X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
            weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        validation.nonnegative_weights(weight)
        degree, basis = self._options()
        used = weight > 0
        if int(used.sum()) <= degree:
            raise InvalidDataError(
                f"n_samples = {int(used.sum())} (with positive weight) is too few for degree "
                f"{degree}: need at least {degree + 1}"
            )
        lo, hi = X[used].min(axis=0), X[used].max(axis=0)
        self.domains_ = domains(lo, hi)
        for f in range(X.shape[1]):
            check_monomial(tuple(self.domains_[f]), float(np.abs(X[used, f]).max()), degree)
        design = self._design(np.where(used[:, None], X, self.domains_[:, 0]), basis, degree)
        null = self._free_directions(design.shape[1], basis, degree)
        design = design @ null  # the free coefficients' design (all of them with an intercept)
        scale = exact_scale(float(np.abs(y).max()))  # exact: the fit of y / s times s
        y = y / scale
        self.solver_ = self._solver()
        if self.solver_ == "lstsq":
            root = np.sqrt(weight)[:, None]
            # minimum-norm where rank deficient, as scikit-learn's estimators (its checks fit
            # a degree-4 model to a few distinct values); the refusal is lstsq's, not here
            solver = SvdSolver.of(design * root)
            coef = solver.solve(y * root[:, 0]) * scale
            self.n_iter_, self.converged_ = 0, True
            one_curve = X.shape[1] == 1 and solver.condition <= RANK_CONDITION
        else:
            one_curve = False
            total = weight.sum()
            g = (design * weight[:, None]).T @ design / total
            c = design.T @ (weight * y) / total
            s = np.array([weight @ (y * y) / total])
            gram = Gram(g[None], c[None], s, np.full((1, 2), np.nan))
            descent = descend_gram(
                gram,
                steps=self.steps,
                lr=self.lr,
                optimizer=self.optimizer,
                tol=self.tol,
                gradient=self.gradient,
                engine=self.engine,
                device=self.device,
            )
            coef = descent.w[0] * scale
            self.n_iter_ = int(descent.steps_run[0])
            self.converged_ = bool(self.tol is not None and not descent.active[0])
            if self.tol is not None and not self.converged_:
                _warn_not_converged(self.n_iter_, float(validation.tol(self.tol) or 0.0), g)
        free = np.asarray(coef, dtype=np.float64)
        self.basis_coef_ = np.asarray(null @ free, dtype=np.float64)
        cov, sigma2 = _covariance(design, weight, y, free / scale)
        cov = null @ cov @ null.T
        self._unit_cov, self._y_scale = cov, scale  # predict's std: in y / scale, scaled back
        with np.errstate(over="ignore"):
            self.coef_cov_ = cov * scale * scale
        """Covariance of ``basis_coef_`` (sigma^2 (D' W D)^-1, weights as inverse variances);
        inf where y is so large (beyond about 1e154) that variances leave float64."""
        self.sigma_ = float(np.sqrt(sigma2)) * scale
        """The residual standard deviation (for a sample of weight 1)."""
        per_feature = np.zeros((X.shape[1], degree + 1))
        per_feature[:, 1:] = self.basis_coef_[1:].reshape(X.shape[1], degree)
        monomial = basis_to_monomial(per_feature, self.domains_, basis)
        self.intercept_ = float(self.basis_coef_[0] + monomial[:, 0].sum())
        if one_curve and self.fit_intercept and degree and basis is not Basis.MONOMIAL:
            # one curve in closed form: lstsq's monomials, refined as lstsq refines them
            with np.errstate(over="ignore", invalid="ignore"):
                monomial = points_solution(X[:, 0], y, weight, tuple(self.domains_[0]), degree)
                monomial = (monomial * scale)[None, :]
            self.intercept_ = float(monomial[0, 0])
        if not self.fit_intercept:
            self.intercept_ = 0.0  # exactly: the constraint, not its rounding
        self.coef_ = monomial[:, 1:]
        if not (np.isfinite(self.intercept_) and np.isfinite(self.coef_).all()):
            raise InvalidDataError(
                "the monomial coefficients of this fit overflow float64 (X spans "
                f"{float(X.min()):.3g} to {float(X.max()):.3g}); rescale X or y"
            )
        return self

    def predict(self, X: Any, return_std: bool = False) -> Any:
        """The fitted model at each row of X (evaluated in the basis, not from ``coef_``).

        ``return_std=True`` also returns the standard error of the mean prediction,
        ``sqrt(d(x)' cov d(x))`` with ``coef_cov_`` (BayesianRidge's convention; add
        ``sigma_**2`` for the spread of a new observation).
        """
        check_is_fitted(self)
        with _as_data_errors():
            X = validate_data(self, X, reset=False, dtype=np.float64)
        degree, basis = self._options()
        design = self._design(X, basis, degree)
        mean = np.asarray(design @ self.basis_coef_, dtype=np.float64)
        if not validation.flag("return_std", return_std):
            return mean
        # in y / scale (a power of two, exact), then scaled back: y near 1e200 has variances
        # beyond float64 but standard errors well inside it
        variance = np.einsum("ij,jk,ik->i", design, self._unit_cov, design)
        return mean, np.sqrt(np.maximum(variance, 0.0)) * self._y_scale

    def _solver(self) -> str:
        """The solver that runs: as given, or for "auto" lstsq unless a descent option is named."""
        if self.solver != "auto":
            return str(self.solver)
        named = any(getattr(self, k) != v for k, v in DESCENT_DEFAULTS.items())
        return "gd" if named else "lstsq"

    def _options(self) -> tuple[int, Basis]:
        degree = validation.degree(self.degree)
        validation.steps(self.steps)
        validation.lr(self.lr)
        validation.tol(self.tol)
        if self.solver not in SOLVERS:
            raise InvalidOptionError(
                f"solver must be one of {', '.join(SOLVERS)}, got {self.solver!r}"
            )
        return int(degree), Basis.parse(self.basis)

    def _free_directions(self, size: int, basis: Basis, degree: int) -> FloatArray:
        """The coefficients the fit may move (P, F): all of them, or with
        ``fit_intercept=False`` the null space of "the monomial constant is 0" (the design's
        constant plus each feature's basis functions' constant terms)."""
        if validation.flag("fit_intercept", self.fit_intercept):
            return np.eye(size)
        row = np.zeros(size)
        row[0] = 1.0
        if degree:
            convert = monomial_matrices(self.domains_, basis, degree + 1)  # (F, S, S)
            row[1:] = convert[:, 0, 1:].reshape(-1)  # each block's constant term
        return np.asarray(constraints.null_space(row[None, None, :], np.zeros(1)).null[0])

    def _design(self, X: FloatArray, basis: Basis, degree: int) -> FloatArray:
        """Columns: 1, then for each feature its basis functions 1..degree."""
        t = mapped(X.T, self.domains_, basis)  # (n_features, n_samples)
        columns = features(np, basis, t, degree)[1:]  # each (n_features, n_samples)
        if not columns:  # degree 0: the constant alone, as PolynomialFeatures(0) gives
            return np.ones((X.shape[0], 1))
        stacked = np.stack(columns, axis=2)  # (n_features, n_samples, degree)
        per_feature = stacked.transpose(1, 0, 2).reshape(X.shape[0], -1)
        return np.column_stack([np.ones(X.shape[0]), per_feature])


def _covariance(
    design: FloatArray, weight: FloatArray, y: FloatArray, coef: FloatArray
) -> tuple[FloatArray, float]:
    """``(sigma^2 (D' W D)^+, sigma^2)`` of the basis coefficients (statsmodels' WLS
    convention: weights are inverse variances), by the SVD that solved it (the same dropped
    directions); NaN without residual degrees of freedom."""
    used = weight > 0
    root = np.sqrt(weight[used])
    a = design[used] * root[:, None]
    r = (y[used] - design[used] @ coef) * root
    dof = int(used.sum()) - design.shape[1]
    sigma2 = float(r @ r) / dof if dof > 0 else float("nan")
    return sigma2 * SvdSolver.of(a).gram_inverse(), sigma2
