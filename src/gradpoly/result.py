"""FitResult: the coefficients, the whole MSE trace, the time and what ran; JSON round trip."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt
from numpy.polynomial import Chebyshev, Legendre, Polynomial

from gradpoly import bases, calibration, display, mapping, rowwise, validation
from gradpoly.errors import (
    CalibrationWarning,
    DataFileError,
    GradpolyError,
    InvalidOptionError,
    warn,
)
from gradpoly.options import Basis, FitConfig
from gradpoly.outputs import json_text, read_text, write_text_atomic
from gradpoly.stats import Moments, Stats, StatsWarning, basis_features

T = TypeVar("T")

FORMAT_VERSION = 1


class Rows(NamedTuple):
    """A result's polynomials as a batch: basis coefficients (B, S) on domains (B, 2) (NaN for
    monomials), the basis, and the monomial coefficients (B, S)."""

    basis_coef: npt.NDArray[np.float64]
    domains: npt.NDArray[np.float64]
    basis: Basis
    coef: npt.NDArray[np.float64]


class Fitted:
    """What every result offers, one fit or a batch, written once: evaluation in its own basis
    on its own domain, interval predictions, numpy polynomial objects and statistics with the
    convergence warning. One fit is the batch of one (:class:`PolynomialFit`); a batch is
    :class:`gradpoly.ManyResult`."""

    moments: Moments | None

    def _rows(self) -> Rows:
        """The polynomials as a batch."""
        raise NotImplementedError

    def _fitted_rows(self) -> npt.NDArray[np.bool_]:
        """Which rows were fitted (all, for one fit)."""
        return np.ones(self._rows().coef.shape[0], dtype=bool)

    def _converged_rows(self) -> npt.NDArray[np.bool_]:
        """Which rows are the least-squares optimum to tolerance."""
        raise NotImplementedError

    def _stats_of(self, converged: Any) -> Stats:
        """The statistics object (the Gram statistics are present)."""
        raise NotImplementedError

    @property
    def stats(self) -> Stats:
        """Covariance, standard errors, R², t and p values, intervals (:mod:`gradpoly.stats`).

        They describe the least-squares optimum: for a gradient-descent fit (or series) that
        did not converge they are evaluated at the coefficients reached, and a warning says so.
        """
        if self.moments is None:
            raise InvalidOptionError(
                "this result carries no Gram statistics (saved by an older gradpoly); refit"
            )
        converged = self._converged_rows()
        short = self._fitted_rows() & ~converged
        if short.any():
            what = (
                "the fit did not converge"
                if short.size == 1
                else f"{int(short.sum())} of {short.size} series did not converge (series "
                f"{int(np.flatnonzero(short)[0])} first)"
            )
            whose = "its" if short.size == 1 else "their"
            warn(
                f"{what}: {whose} statistics are those of the coefficients reached, not of the "
                "least-squares optimum (see stats.converged)",
                StatsWarning,
            )
        return self._stats_of(converged)

    def _polynomial_of(self, b: int) -> Polynomial | Chebyshev | Legendre:
        """Row b as the matching numpy.polynomial object (``Chebyshev`` with its domain, ...)."""
        rows = self._rows()
        if rows.basis is Basis.MONOMIAL:
            return Polynomial(rows.coef[b])
        kind = bases.rule(rows.basis).series
        return kind(rows.basis_coef[b], domain=list(rows.domains[b]))

    def _predict_rows(self, xs: npt.NDArray[np.float64], interval: str | None, level: float) -> Any:
        """Each row's polynomial at its points ``xs`` (B, M), mapped as the fit mapped x
        (``(x - mid) / half``, as numpy's classes evaluate, but without their cancellation far
        from 0); with ``interval``, ``(values, lower, upper)`` from the statistics."""
        rows = self._rows()
        degree = rows.coef.shape[1] - 1
        if interval is None and _one_axis(xs, rows.domains):  # one design serves every row
            design = basis_features(xs[:1], rows.domains[:1], rows.basis, degree)[0]
            with np.errstate(invalid="ignore"):
                return np.asarray(rows.basis_coef @ design.T, dtype=np.float64)
        features = basis_features(xs, rows.domains, rows.basis, degree)
        with np.errstate(invalid="ignore"):  # rows not fitted are NaN
            values = np.asarray(np.einsum("bmj,bj->bm", features, rows.basis_coef))
        if interval is None:
            return values
        stats = self.stats
        m = stats.moments
        if m.basis is not rows.basis or not np.array_equal(m.domains, rows.domains, True):
            features = basis_features(xs, m.domains, m.basis, stats.basis_coef.shape[1] - 1)
        _, half = stats.interval(features, interval, level)
        return values, values - half, values + half

    def _calibrated_rows(self) -> Rows:
        """The rows, refused where a fit keeps no domain (the range of its standards) or is a
        constant (no slope: nothing to read back, no detection limit)."""
        rows = self._rows()
        if rows.basis is Basis.MONOMIAL:
            raise InvalidOptionError(
                "inverse prediction reads a curve on the range of its standards, which a "
                "monomial-basis fit does not keep: fit with basis='chebyshev' (the default)"
            )
        if rows.basis_coef.shape[1] < 2:
            raise InvalidOptionError(
                "a calibration curve of degree 0 is a constant: its slope is 0, so no "
                "measurement can be read back to x and no detection limit exists; fit degree "
                ">= 1"
            )
        return rows

    def _inverse_rows(
        self, ys: npt.NDArray[np.float64], interval: str | None, level: float, replicates: int
    ) -> Any:
        """Each row's x (B, M) where its curve equals ``ys`` (:mod:`gradpoly.calibration`),
        inside the range of its standards; with ``interval``, ``(x, lower, upper)``."""
        kind = calibration.interval_kind(interval)
        count = validation.count("replicates", replicates)
        rows = self._calibrated_rows()
        t0, why = calibration.locate(rows.basis_coef, rows.basis, ys)
        fitted = rowwise.finite(rows.basis_coef)
        missed = np.asarray((why > 0) & fitted[:, None])
        if missed.any():
            first = int(np.asarray(why)[missed][0])
            warn(
                f"{int(missed.sum())} of {why.size} measured values have no inverse "
                f"prediction (NaN); the first is {calibration.REASONS[first]}",
                CalibrationWarning,
            )
        mid, half = (0.5 * rows.domains[:, 0:1] + 0.5 * rows.domains[:, 1:2],
                     0.5 * rows.domains[:, 1:2] - 0.5 * rows.domains[:, 0:1])  # fmt: skip
        x0 = mid + half * t0
        if kind is None:
            return x0
        stats = self.stats
        m = stats.moments
        if m.basis is not rows.basis or not np.array_equal(m.domains, rows.domains, True):
            raise InvalidOptionError(  # not met by any fit that keeps a domain
                "this fit's statistics are in another basis than its curve: refit with lstsq"
            )
        size = rows.basis_coef.shape[1]
        convert = mapping.in_t(rows.basis, size)  # basis -> powers of t, one matrix
        powers = rows.basis_coef @ convert.T
        cov_t = convert @ stats.basis_cov_array @ convert.T
        q = stats.quantile(level)[:, None]
        scale = stats.variances(np.zeros((m.domains.shape[0], 0, size)))[1]
        spread = q * np.sqrt(scale[:, None] / count)
        if kind == "delta":
            variance = calibration.horner(t0, calibration.variance_powers(cov_t))
            slope = calibration.horner(t0, powers[:, 1:] * np.arange(1, size))
            with np.errstate(divide="ignore", invalid="ignore"):
                width = np.sqrt(spread**2 + q * q * variance) / np.abs(slope / half)
            return x0, x0 - width, x0 + width
        low, high = calibration.band_edges(powers, cov_t, ys, t0, spread, q)
        return x0, mid + half * low, mid + half * high

    def _limits_rows(
        self, blank: float, lod_factor: float, loq_factor: float
    ) -> dict[str, npt.NDArray[np.float64]]:
        """Each row's detection and quantification limits (ICH Q2: ``factor * sigma / S``),
        sigma the residual standard deviation and S the curve's slope at ``blank``."""
        rows = self._calibrated_rows()
        at = validation.real("blank", blank, "a finite number")
        factors = [validation.positive(name, value) for name, value in
                   (("lod_factor", lod_factor), ("loq_factor", loq_factor))]  # fmt: skip
        degree = rows.basis_coef.shape[1] - 1
        mid, half = (0.5 * rows.domains[:, 0] + 0.5 * rows.domains[:, 1],
                     0.5 * rows.domains[:, 1] - 0.5 * rows.domains[:, 0])  # fmt: skip
        powers = rows.basis_coef @ mapping.in_t(rows.basis, degree + 1).T
        derivative = powers[:, 1:] * np.arange(1, degree + 1)
        t = (at - mid) / half
        slope = np.abs(np.polynomial.polynomial.polyval(t, derivative.T, tensor=False) / half)
        sigma = np.atleast_1d(np.asarray(self.stats.residual_std, dtype=np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            return {
                "lod": factors[0] * sigma / slope,
                "loq": factors[1] * sigma / slope,
                "sigma": sigma,
                "slope": slope,
            }


def _one_axis(xs: npt.NDArray[np.float64], domains: npt.NDArray[np.float64]) -> bool:
    """Every row evaluated at the same points on the same domain (a shared axis)."""
    if xs.shape[0] > 1 and not (xs.strides[0] == 0 or bool((xs == xs[:1]).all())):
        return False
    return bool(np.isnan(domains).all() or (domains == domains[:1]).all())


class PolynomialFit(Fitted):
    """One fitted polynomial: the numpy series, statistics, interval predictions.

    Subclasses hold ``coef`` (monomial), ``basis_coef``, ``basis``, ``domain``, ``moments``
    and ``stats_coef`` (the Gram statistics and coefficients in the statistics' basis) and
    ``converged``.
    """

    coef: npt.NDArray[np.float64]
    basis_coef: npt.NDArray[np.float64] | None
    basis: Basis
    domain: tuple[float, float] | None
    moments: Moments | None
    stats_coef: npt.NDArray[np.float64] | None
    residual_sums: tuple[float, float] | None

    @property
    def converged(self) -> bool:
        """Whether the coefficients are the least-squares optimum to tolerance."""
        return True

    def _rows(self) -> Rows:
        coef = np.asarray(self.coef, dtype=np.float64)[None, :]
        if self.basis is Basis.MONOMIAL or self.domain is None or self.basis_coef is None:
            return Rows(coef, np.full((1, 2), np.nan), Basis.MONOMIAL, coef)
        domains = np.array([self.domain], dtype=np.float64)
        return Rows(
            np.asarray(self.basis_coef, dtype=np.float64)[None, :], domains, self.basis, coef
        )

    def _converged_rows(self) -> npt.NDArray[np.bool_]:
        return np.array([self.converged])

    def _stats_of(self, converged: Any) -> Stats:
        if self.moments is None or self.stats_coef is None:
            raise InvalidOptionError(
                "this result carries no Gram statistics (saved by an older gradpoly); refit"
            )
        return Stats(
            self.moments, self.stats_coef, single=True, converged=bool(converged[0]),
            sums=self.residual_sums, monomial=self.coef,
        )  # fmt: skip

    def polynomial(self) -> Polynomial | Chebyshev | Legendre:
        """The fit as the matching numpy.polynomial object (``Chebyshev`` with its domain, ...)."""
        return self._polynomial_of(0)

    def _sketch(self) -> str:
        """An inline SVG of the fitted polynomial over its domain (notebook display)."""
        span = self.domain
        if span is None and self.moments is not None:  # monomial fits: the data's x range
            lo, hi = (float(v) for v in self.moments.domains[0])
            span = (lo, hi)
        if span is None:
            return ""
        return display.sketch(Polynomial(self.coef), span)

    def predict(self, x: npt.ArrayLike, interval: str | None = None, level: float = 0.95) -> Any:
        """The fit at ``x`` (any shape), float64; with ``interval="confidence"`` (the mean) or
        ``"prediction"`` (a new observation of weight 1), ``(prediction, lower, upper)``."""
        points = validation.float_array("x", x)
        found = self._predict_rows(points.reshape(1, -1), interval, level)
        if interval is None:
            return found.reshape(points.shape)
        return tuple(part.reshape(points.shape) for part in found)

    def inverse(
        self,
        y: npt.ArrayLike,
        interval: str | None = None,
        level: float = 0.95,
        replicates: int = 1,
    ) -> Any:
        """Inverse prediction (calibration): the x where the curve equals each measured ``y``
        (any shape), inside the range of its standards (NaN, with a CalibrationWarning,
        outside it or where the curve turns back). With ``interval="classical"`` (the inverse
        of the prediction band) or ``"delta"``, ``(x, lower, upper)`` at ``level`` for a ``y``
        that is the mean of ``replicates`` measurements (:mod:`gradpoly.calibration`)."""
        values = validation.float_array("y", y)
        found = self._inverse_rows(values.reshape(1, -1), interval, level, replicates)
        if interval is None:
            return found.reshape(values.shape)
        return tuple(part.reshape(values.shape) for part in found)

    def detection_limits(
        self, blank: float = 0.0, lod_factor: float = 3.3, loq_factor: float = 10.0
    ) -> dict[str, float]:
        """Limits of detection and quantification by ICH Q2(R1): ``3.3 sigma / S`` and
        ``10 sigma / S``, with sigma the residual standard deviation and S the slope at
        ``blank`` (x of a blank sample); ``lod_factor=3`` gives the IUPAC 3-sigma limit.
        Also returns the ``sigma`` and ``slope`` used."""
        found = self._limits_rows(blank, lod_factor, loq_factor)
        return {name: float(value[0]) for name, value in found.items()}


@dataclass(frozen=True, eq=False)
class LstsqResult(PolynomialFit):
    """``lstsq(..., full=True)``: the closed-form optimum with its statistics.

    ``coef`` is monomial (increasing), ``basis_coef`` Chebyshev on ``domain``.
    """

    coef: npt.NDArray[np.float64]
    basis_coef: npt.NDArray[np.float64] | None
    domain: tuple[float, float] | None
    moments: Moments | None = field(default=None, repr=False)
    stats_coef: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    basis: Basis = Basis.CHEBYSHEV
    residual_sums: tuple[float, float] | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (
            f"LstsqResult(degree {self.coef.size - 1}, coef {display.number(self.coef)}, "
            f"chebyshev on {display.number(self.domain)})"
        )

    def _repr_html_(self) -> str:
        rows = [("degree", str(self.coef.size - 1)), ("coef (x^0 ..)", self.coef),
                ("domain", self.domain)]  # fmt: skip
        return display.table("least-squares fit (gradpoly.lstsq)", rows) + self._sketch()


@dataclass(frozen=True, eq=False)
class FitResult(PolynomialFit):
    """The outcome of one fit.

    Attributes
    ----------
    coef : ndarray, shape (D+1,), float64
        Monomial coefficients in increasing order, ``coef[j]`` multiplies ``x**j``.
    trace : ndarray, shape (steps,), float64
        ``trace[k]`` is the MSE before update k, as the engine computed it (in its dtype).
    seconds : float
        Wall time of the loop, device synchronized, trace copied back included.
    setup_seconds : float
        Time to move the data to the engine's device and prepare it, reported apart.
    config : FitConfig
        What ran: engine, gradient, device, mode, strategy, dtype, steps, lr.
    status, stop_reason : str
        ``"completed"`` when all steps ran; ``"converged"`` when ``tol`` was met;
        ``"floor"`` when the loop stopped at its dtype's rounding floor above ``tol`` (not
        converged; a :class:`~gradpoly.errors.ConvergenceWarning` says so); ``stop_reason``
        says why in words.
    gradient_norm : float
        The relative gradient norm ``|grad(w)| / |grad(0)|`` of the final coefficients.
    coef_error : float
        Estimated relative error of ``coef`` (the monomial coefficients), ``|M H^+ grad| /
        |M w|``: ``tol`` is compared with it (and with the basis coefficients' error), so
        "converged" means the coefficients are that accurate, whatever the conditioning.
    environment : dict
        Versions and device name of what ran.
    basis, domain, basis_coef
        The basis the loop ran in, the x interval it mapped to [-1, 1] (None for monomial),
        and the coefficients in that basis (``coef`` is always monomial in x).
    lr, momentum : float
        The learning rate and momentum beta that ran (0 for gd): as configured, or the
        values ``lr="auto"`` chose.
    """

    coef: npt.NDArray[np.float64]
    trace: npt.NDArray[np.float64]
    seconds: float
    config: FitConfig
    setup_seconds: float = 0.0
    status: str = "completed"
    environment: dict[str, str] = field(default_factory=dict)
    basis: Basis = Basis.MONOMIAL
    domain: tuple[float, float] | None = None
    basis_coef: npt.NDArray[np.float64] | None = None
    lr: float = float("nan")
    momentum: float = float("nan")
    stop_reason: str = ""
    gradient_norm: float = float("nan")
    coef_error: float = float("nan")
    moments: Moments | None = field(default=None, repr=False)
    """The Gram statistics in the statistics' basis (for :attr:`stats`)."""
    stats_coef: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    """The coefficients in the statistics' basis (Chebyshev for a monomial fit)."""
    residual_sums: tuple[float, float] | None = field(default=None, repr=False)
    """(weighted RSS, weighted centered TSS) of y / ``moments.y_scale`` from the residuals."""

    def __repr__(self) -> str:
        return (
            f"FitResult(degree {self.degree}, {self.config}, {self.basis} basis, "
            f"{self.steps_run} step{'s' * (self.steps_run != 1)}, {self.status}, "
            f"final MSE {display.number(self.final_mse)}, {self.seconds:.3g} s)"
        )

    def _repr_html_(self) -> str:
        rows = [
            ("ran", str(self.config)),
            ("basis", str(self.basis)),
            ("status", f"{self.status}: {self.stop_reason}"),
            ("steps", str(self.steps_run)),
            ("final MSE", self.final_mse),
            ("coef (x^0 ..)", self.coef),
            ("coef error (est.)", self.coef_error),
            ("seconds", self.seconds),
        ]
        return display.table(f"degree-{self.degree} fit", rows) + self._sketch()

    def __post_init__(self) -> None:
        object.__setattr__(self, "basis", Basis.parse(self.basis))
        if self.basis_coef is None:
            object.__setattr__(self, "basis_coef", self.coef)
        if self.lr != self.lr and isinstance(self.config.lr, float):
            object.__setattr__(self, "lr", self.config.lr)
        if self.momentum != self.momentum and self.config.lr != "auto":
            object.__setattr__(self, "momentum", self.config.momentum_value)

    @property
    def degree(self) -> int:
        """Degree of the fitted polynomial."""
        return int(self.coef.size - 1)

    @property
    def converged(self) -> bool:
        """True when ``tol`` stopped the loop (the estimated coefficient error reached it)."""
        return self.status == "converged"

    @property
    def steps_run(self) -> int:
        """How many GD steps ran (``len(trace)``; fewer than asked when it converged)."""
        return int(self.trace.size)

    @property
    def final_mse(self) -> float:
        """The seed's "final error": the last trace entry."""
        return float(self.trace[-1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; :meth:`from_dict` restores an equal result."""
        return {
            "format_version": FORMAT_VERSION,
            "coef": self.coef.tolist(),
            "final_mse": self.final_mse,
            "seconds": self.seconds,
            "setup_seconds": self.setup_seconds,
            "status": self.status,
            "config": self.config.to_dict(),
            "environment": dict(self.environment),
            "basis": str(self.basis),
            "domain": None if self.domain is None else list(self.domain),
            "basis_coef": None if self.basis_coef is None else self.basis_coef.tolist(),
            "lr": self.lr,
            "momentum": self.momentum,
            "stop_reason": self.stop_reason,
            "gradient_norm": self.gradient_norm,
            "coef_error": self.coef_error,
            "statistics": _moments_dict(self),
            "trace": self.trace.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitResult:
        """Rebuild a result written by :meth:`to_dict`, checked as strictly as fresh input
        (:func:`check_saved`): a ValueError says what does not hold."""
        version = data.get("format_version", FORMAT_VERSION)  # absent: written by hand
        if version != FORMAT_VERSION or isinstance(version, bool):
            raise ValueError(
                f"format_version {version!r} is not {FORMAT_VERSION}, the one this gradpoly reads"
            )
        result = cls(
            coef=np.asarray(data["coef"], dtype=np.float64),
            trace=np.asarray(data["trace"], dtype=np.float64),  # null (NaN) entries come back NaN
            seconds=float(data["seconds"]),
            setup_seconds=float(data.get("setup_seconds", 0.0)),
            config=FitConfig.from_dict(data["config"]),
            status=str(data.get("status", "completed")),
            environment=dict(data.get("environment", {})),
            basis=data.get("basis", "monomial"),
            domain=None if data.get("domain") is None else tuple(data["domain"]),
            basis_coef=None
            if data.get("basis_coef") is None
            else np.asarray(data["basis_coef"], dtype=np.float64),
            lr=_number(data.get("lr")),
            momentum=_number(data.get("momentum")),
            stop_reason=str(data.get("stop_reason", "")),
            gradient_norm=_number(data.get("gradient_norm")),
            coef_error=_number(data.get("coef_error")),
            **_moments_from(data.get("statistics")),
        )
        check_saved(result)
        return result

    def to_json(self) -> str:
        """Serialize to strict JSON (full precision; NaN and infinities as null)."""
        return json_text(self.to_dict())

    @classmethod
    def from_json(cls, text: str, source: str = "the text") -> FitResult:
        """Inverse of :meth:`to_json`; anything else is a DataFileError naming ``source``."""
        return parse_saved(text, source, cls.from_dict, "result")

    def save(self, path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
        """Write the result as JSON atomically (no truncated file if interrupted; ``-``: stdout).

        ``inputs`` are files the fit read: writing over one of them is refused.
        """
        return write_text_atomic(path, self.to_json(), inputs)

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        """Read a result saved by :meth:`save`."""
        return cls.from_json(read_text(path), str(path))


def parse_saved(text: str, source: str, build: Callable[[dict[str, Any]], T], noun: str) -> T:
    """``build`` of the strict JSON object in ``text`` (a saved result of any kind); anything
    else is one DataFileError naming ``source``, never a traceback."""
    try:
        data = json.loads(text, parse_constant=refuse_constant)
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        return build(data)
    except GradpolyError as exc:
        raise DataFileError(f"{source} is not a saved gradpoly {noun}: {exc}") from None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise DataFileError(
            f"{source} is not a saved gradpoly {noun} ({what.splitlines()[0][:200]})"
        ) from None


def refuse_constant(name: str) -> Any:
    """Strict JSON: gradpoly writes NaN and infinities as null, never as bare tokens."""
    raise ValueError(f"{name} is not JSON (gradpoly writes non-finite numbers as null)")


CONVERSION_SLACK = 1e-6
"""Saved monomial and basis coefficients may differ by this much, relative to the size of the
conversion's own terms; an edit larger than that is refused."""


def check_saved(fit: FitResult) -> None:
    """Raise ValueError unless a loaded result means what a fresh one means: finite 1-D
    coefficients, a non-empty trace, a basis whose coefficients convert to the monomial ones,
    statistics with positive counts, a positive power-of-two y scale, a symmetric Gram matrix
    and non-negative sums, describing the same polynomial."""
    coef = fit.coef
    if coef.ndim != 1 or coef.size == 0 or not np.isfinite(coef).all():
        raise ValueError("coef must be a non-empty list of finite numbers")
    if fit.trace.ndim != 1 or fit.trace.size == 0:
        raise ValueError("trace must be a non-empty list (one loss per step run)")
    if fit.status not in ("completed", "converged", "floor"):
        raise ValueError(f"status {fit.status!r} is not completed, converged or floor")
    basis_coef = np.asarray(fit.basis_coef)
    if basis_coef.shape != coef.shape or not np.isfinite(basis_coef).all():
        raise ValueError("basis_coef must be finite and as long as coef")
    if fit.basis is not Basis.MONOMIAL:
        if fit.domain is None or not _is_interval(fit.domain):
            raise ValueError("domain must be two finite numbers, lo < hi")
        _same_polynomial(basis_coef, np.array(fit.domain), fit.basis, coef, "basis_coef")
    moments = fit.moments
    if moments is None or fit.stats_coef is None:
        return
    if not (moments.used[0] >= 1 and float(moments.used[0]).is_integer()):
        raise ValueError(f"statistics: the point count {moments.used[0]:g} is not a positive whole")
    if not moments.total[0] > 0:
        raise ValueError("statistics: the total weight must be positive")
    scale = moments.y_scale
    if not (scale > 0 and np.isfinite(scale) and np.frexp(scale)[0] == 0.5):
        raise ValueError(f"statistics: y_scale {scale!r} is not a positive power of two")
    g = moments.g[0]
    if not (np.isfinite(g).all() and np.allclose(g, g.T, rtol=1e-12, atol=0.0)):
        raise ValueError("statistics: the Gram matrix must be finite and symmetric")
    if np.any(np.diag(g) < 0) or not moments.s[0] >= 0:
        raise ValueError("statistics: sums of squares must be non-negative")
    if fit.residual_sums is not None and not all(v >= 0 for v in fit.residual_sums):
        raise ValueError("statistics: residual sums must be non-negative")
    if not _is_interval(tuple(moments.domains[0])):
        raise ValueError("statistics: the domain must be two finite numbers, lo < hi")
    stats_coef = np.asarray(fit.stats_coef)
    if stats_coef.shape != coef.shape:
        raise ValueError("statistics: coef must be as long as the fit's")
    _same_polynomial(stats_coef, moments.domains[0], moments.basis, coef, "statistics")


def _is_interval(domain: Any) -> bool:
    lo, hi = (float(v) for v in domain)
    return bool(np.isfinite(lo) and np.isfinite(hi) and lo < hi)


def _same_polynomial(
    basis_coef: npt.NDArray[np.float64], domain: Any, basis: Basis, coef: Any, what: str
) -> None:
    """Refuse basis coefficients that do not convert to ``coef`` (the monomial ones)."""
    matrix = mapping.monomial_matrices(np.asarray(domain, float).reshape(1, 2), basis, coef.size)[0]
    with np.errstate(over="ignore", invalid="ignore"):
        converted = matrix @ basis_coef
        reach = np.abs(matrix) @ np.abs(basis_coef)
    if not np.all(np.abs(converted - coef) <= CONVERSION_SLACK * reach + 1e-300):
        raise ValueError(f"{what} and coef describe different polynomials")


def _number(value: Any) -> float:
    """A float from JSON, where strict JSON wrote NaN (or a missing value) as null."""
    return float("nan") if value is None else float(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"statistics: absolute_sigma must be true or false, got {value!r}")
    return value


def _moments_dict(fit: PolynomialFit) -> dict[str, Any] | None:
    """What :attr:`PolynomialFit.stats` needs, JSON-ready (None when the fit has none)."""
    m = fit.moments
    if m is None or fit.stats_coef is None:
        return None
    return {
        "basis": str(m.basis),
        "domain": m.domains[0].tolist(),
        "gram": m.g[0].tolist(),
        "moment": m.c[0].tolist(),
        "square": float(m.s[0]),
        "total": float(m.total[0]),
        "used": float(m.used[0]),
        "coef": np.asarray(fit.stats_coef).tolist(),
        "residual_sums": None if fit.residual_sums is None else list(fit.residual_sums),
        "y_scale": m.y_scale,
        "absolute_sigma": m.absolute,
        "inverse": None if m.inverse is None else m.inverse[0].tolist(),
        "constraints": int(np.asarray(m.constraints).ravel()[0]),
        "pinned": list(m.pinned),
    }


def _moments_from(data: Any) -> dict[str, Any]:
    """FitResult fields rebuilt from :func:`_moments_dict`'s output (none from null)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TypeError("statistics is not a JSON object")

    def floats(key: str) -> npt.NDArray[np.float64]:
        return np.asarray(
            [np.nan if v is None else v for v in np.ravel(data[key])], dtype=np.float64
        ).reshape(np.shape(data[key]))

    gram, moment = floats("gram"), floats("moment")
    size = moment.size
    if gram.shape != (size, size) or floats("coef").shape != (size,):
        raise ValueError("statistics: gram, moment and coef sizes disagree")
    sums = data.get("residual_sums")
    moments = Moments(
        gram[None],
        moment[None],
        np.array([_number(data["square"])]),
        floats("domain").reshape(1, 2),
        total=np.array([_number(data["total"])]),
        used=np.array([_number(data["used"])]),
        basis=Basis.parse(data["basis"]),
        y_scale=_number(data.get("y_scale", 1.0)),
        absolute=_boolean(data.get("absolute_sigma", False)),
        inverse=None if data.get("inverse") is None else floats("inverse").reshape(1, size, size),
        constraints=saved_count(data.get("constraints", 0), size),
        pinned=tuple(saved_count(p, size - 1) for p in data.get("pinned", [])),
    )
    return {
        "moments": moments,
        "stats_coef": floats("coef"),
        "residual_sums": None if sums is None else (_number(sums[0]), _number(sums[1])),
    }


def saved_count(value: Any, top: int) -> int:
    """A saved whole number from 0 to ``top`` (a constraint count, a pinned power)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        raise ValueError(f"statistics: expected a whole number from 0 to {top}, got {value!r}")
    return int(value)


R = TypeVar("R", bound=Fitted)


def known_sigma(result: R, absolute_sigma: bool) -> R:
    """``result`` with its statistics reading the weights as absolute (``1 / sigma**2`` of a
    known sigma) where ``absolute_sigma``; every front door that takes the option ends here."""
    moments = result.moments
    if not absolute_sigma or moments is None:
        return result
    return replace(result, moments=replace(moments, absolute=True))  # type: ignore[type-var]
