"""The result of a batched fit, :class:`ManyResult`: coefficients and diagnostics of B series,
their statistics, tables and plots' rows, and a JSON round trip checked on load as strictly as
fresh input."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.polynomial import Chebyshev, Legendre, Polynomial

from gradpoly import display, mapping, validation
from gradpoly.errors import (
    InvalidDataError,
    InvalidOptionError,
)
from gradpoly.options import Basis
from gradpoly.outputs import json_text, read_text, write_text_atomic
from gradpoly.result import FORMAT_VERSION, Fitted, Rows, parse_saved, saved_count
from gradpoly.stats import Moments, PointSums, Stats

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ManyResult(Fitted):
    """Coefficients and diagnostics of B fits; row b belongs to series b.

    Attributes
    ----------
    coef : ndarray, shape (B, D+1)
        Monomial coefficients in each series' own x, increasing; NaN for invalid series.
    basis_coef : ndarray, shape (B, D+1)
        Coefficients in ``basis`` on each series' mapped domain.
    domains : ndarray, shape (B, 2)
        The x interval of each series mapped to [-1, 1].
    final_loss : ndarray, shape (B,)
        Weighted MSE of the returned coefficients (inf where it exceeds float64's range,
        for y beyond about 1e154; the coefficients are exact all the same).
    converged, steps_run : ndarray, shape (B,)
        For gradient descent: whether ``tol`` was reached, and after how many steps.
    valid : ndarray of bool, shape (B,)
        False for series that could not be fitted; ``problems`` says why.
    traces : ndarray, shape (B, steps), optional
        Per-step losses, when asked for.
    """

    coef: FloatArray
    basis_coef: FloatArray
    domains: FloatArray
    final_loss: FloatArray
    converged: npt.NDArray[np.bool_]
    steps_run: npt.NDArray[np.int64]
    valid: npt.NDArray[np.bool_]
    basis: Basis
    method: str
    seconds: float
    problems: dict[int, str] = field(default_factory=dict)
    traces: FloatArray | None = None
    engine: str = "numpy"
    loss: str = "mse"
    ids: tuple[str, ...] | None = None
    """Series ids when the input was a long table (``series=``), in row order."""
    coef_error: FloatArray | None = None
    """Each series' estimated relative error of its basis coefficients: for gradient descent
    ``|grad| / (lambda_min |w|)`` (what ``tol`` is compared with); for lstsq_many its design's
    condition number times float64's rounding."""
    moments: Moments | None = field(default=None, repr=False)
    """The per-series Gram statistics in y's units, for :attr:`stats`."""
    holds_inf: npt.NDArray[np.bool_] | None = None
    """Series whose y held an inf, left out as a gap under ``drop_nan`` (the xarray drop-in
    makes such a series NaN, as xarray does); None where the input was not checked."""
    condition: FloatArray | None = None
    """lstsq_many: each series' condition number of its design in ``basis`` (an upper bound
    where that bound is at most 1e3, exact otherwise; accuracy is about condition * 1e-16
    relative; series above 1e13 are marked invalid)."""
    sums: PointSums | tuple[FloatArray, FloatArray] | None = field(
        default=None, repr=False, compare=False
    )
    """Where :attr:`stats` reads residual sums the Gram form cannot hold (R² near 1, y far
    from 0): the fit's own points, asked lazily (a fresh result), or the sums a saved result
    carries (NaN where the Gram form served)."""

    def __repr__(self) -> str:
        count, size = self.coef.shape
        return (
            f"ManyResult({count} series, degree {size - 1}, {self.method} on {self.engine}, "
            f"{self.basis} basis, {int(self.valid.sum())} fitted, "
            f"{int(np.asarray(self.converged).sum())} converged, {self.seconds:.3g} s)"
        )

    def _repr_html_(self) -> str:
        count, size = self.coef.shape
        rows: list[tuple[str, object]] = [
            ("series", str(count)),
            ("method", f"{self.method} on {self.engine}, {self.basis} basis, loss {self.loss}"),
            ("fitted", f"{int(self.valid.sum())} of {count}"),
            ("converged", f"{int(np.asarray(self.converged).sum())} of {count}"),
            ("steps (max)", str(int(np.max(self.steps_run))) if count else "0"),
            ("seconds", self.seconds),
        ]
        rows += [(f"coef of series {b}", self.coef[b]) for b in range(min(count, 3))]
        if self.problems:
            first = min(self.problems)
            rows.append(
                ("not fitted", f"{len(self.problems)}; series {first}: {self.problems[first]}")
            )
        return display.table(f"{count} degree-{size - 1} fits", rows)

    def to_rows(self, ids: Sequence[str] | None = None) -> list[dict[str, object]]:
        """One record per series: id, validity, monomial coefficients, their standard errors
        (``stderr_j``), ``residual_std``, ``r_squared``, loss, convergence (NaN where a
        series was not fitted or has no residual degrees of freedom)."""
        given = ids if ids is not None else self.ids
        names = list(given) if given is not None else [str(b) for b in range(self.coef.shape[0])]
        count, size = self.coef.shape
        stderr = np.full((count, size), np.nan)
        sigma, r2 = np.full(count, np.nan), np.full(count, np.nan)
        if self.moments is not None:  # the rows say which converged: no warning
            stats = self._stats_of(self._converged_rows())
            stderr, sigma, r2 = stats.stderr_array, stats.residual_std, stats.r_squared
        rows: list[dict[str, object]] = []
        for b, name in enumerate(names):
            row: dict[str, object] = {"series": name, "valid": bool(self.valid[b])}
            row |= {f"coef_{j}": float(c) for j, c in enumerate(self.coef[b])}
            row |= {f"stderr_{j}": float(e) for j, e in enumerate(stderr[b])}
            row |= {
                "residual_std": float(sigma[b]),
                "r_squared": float(r2[b]),
                "final_loss": float(self.final_loss[b]),
                "converged": bool(self.converged[b]),
                "steps_run": int(self.steps_run[b]),
                "problem": self.problems.get(b, ""),
            }
            rows.append(row)
        return rows

    def _rows(self) -> Rows:
        return Rows(self.basis_coef, self.domains, self.basis, self.coef)

    def _fitted_rows(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.valid, dtype=bool)

    def _converged_rows(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.valid if self.method == "lstsq" else self.converged, dtype=bool)

    def _stats_of(self, converged: Any) -> Stats:
        assert self.moments is not None  # checked by Fitted.stats
        return Stats(
            self.moments, self.basis_coef, converged=converged, monomial=self.coef, sums=self.sums
        )

    def predict(self, x: npt.ArrayLike, interval: str | None = None, level: float = 0.95) -> Any:
        """Every series' polynomial at ``x`` of shape (B, M) (or (M,) for all), in each
        series' basis on its own domain; with ``interval="confidence"`` or ``"prediction"``,
        ``(prediction, lower, upper)`` from :attr:`stats` (B, M each)."""
        xs = validation.float_array("x", x)
        count = self.coef.shape[0]
        if xs.ndim not in (1, 2) or (xs.ndim == 2 and xs.shape[0] not in (1, count)):
            raise InvalidDataError(
                f"x must have shape (M,) or ({count}, M) for {count} series, got {xs.shape}"
            )
        xs = np.broadcast_to(xs, (count, xs.shape[-1]))  # a view: one axis is seen as one
        return self._predict_rows(xs, interval, level)

    def inverse(
        self,
        y: npt.ArrayLike,
        interval: str | None = None,
        level: float = 0.95,
        replicates: int = 1,
    ) -> Any:
        """Inverse prediction of every series (see :meth:`gradpoly.FitResult.inverse`): ``y``
        of shape (B,) (one measurement per series) or (B, M); x of the same shape, and with
        ``interval``, ``(x, lower, upper)``."""
        values = validation.float_array("y", y)
        count = self.coef.shape[0]
        if values.ndim not in (1, 2) or values.shape[0] != count:
            raise InvalidDataError(
                f"y must have shape ({count},) or ({count}, M) for {count} series, got "
                f"{values.shape}"
            )
        found = self._inverse_rows(values.reshape(count, -1), interval, level, replicates)
        if interval is None:
            return found.reshape(values.shape)
        return tuple(part.reshape(values.shape) for part in found)

    def detection_limits(
        self, blank: float = 0.0, lod_factor: float = 3.3, loq_factor: float = 10.0
    ) -> dict[str, npt.NDArray[np.float64]]:
        """Every series' limits of detection and quantification (B,) each (see
        :meth:`gradpoly.FitResult.detection_limits`)."""
        return self._limits_rows(blank, lod_factor, loq_factor)

    def polynomial(self, b: int) -> Polynomial | Chebyshev | Legendre:
        """Series ``b`` as the matching numpy.polynomial object (``Chebyshev`` on its own
        domain, ...), as :meth:`gradpoly.FitResult.polynomial` gives one fit."""
        count = self.coef.shape[0]
        if not (isinstance(b, int | np.integer) and -count <= int(b) < count):
            raise InvalidOptionError(f"series must be an integer in [0, {count}), got {b!r}")
        row = int(b) % count
        if not self.valid[row]:
            raise InvalidOptionError(f"series {row} was not fitted: {self.problems.get(row, '')}")
        return self._polynomial_of(row)

    @property
    def stats(self) -> Stats:
        """Per-series statistics (stderr (B, D+1), cov (B, D+1, D+1), residual_std, r_squared,
        ...: :mod:`gradpoly.stats`) from the batched Gram statistics; NaN for series not
        fitted. For gradient descent they are evaluated at the coefficients reached
        (``stats.converged`` says which series met tol), with a warning when some did not."""
        return super().stats

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (statistics included); :meth:`from_dict` restores
        an equal result."""
        m = self.moments
        return {
            "format_version": FORMAT_VERSION,
            "kind": "many",
            "basis": str(self.basis),
            "method": self.method,
            "engine": self.engine,
            "loss": self.loss,
            "seconds": self.seconds,
            "coef": self.coef.tolist(),
            "basis_coef": self.basis_coef.tolist(),
            "domains": self.domains.tolist(),
            "final_loss": self.final_loss.tolist(),
            "converged": np.asarray(self.converged, dtype=bool).tolist(),
            "steps_run": np.asarray(self.steps_run, dtype=np.int64).tolist(),
            "valid": np.asarray(self.valid, dtype=bool).tolist(),
            "problems": {str(b): why for b, why in self.problems.items()},
            "traces": None if self.traces is None else self.traces.tolist(),
            "ids": None if self.ids is None else list(self.ids),
            "coef_error": None if self.coef_error is None else self.coef_error.tolist(),
            "condition": None if self.condition is None else self.condition.tolist(),
            "holds_inf": None if self.holds_inf is None else self.holds_inf.tolist(),
            "residual_sums": self._saved_sums(),
            "statistics": None
            if m is None
            else {
                "gram": m.g.tolist(),
                "moment": m.c.tolist(),
                "square": m.s.tolist(),
                "total": m.total.tolist(),
                "used": m.used.tolist(),
                "inverse": None if m.inverse is None else m.inverse.tolist(),
                "y_scale": m.y_scale,
                "absolute_sigma": m.absolute,
                "constraints": np.asarray(m.constraints).tolist(),
                "pinned": list(m.pinned),
            },
        }

    def _saved_sums(self) -> list[list[float]] | None:
        """The residual sums :attr:`stats` reads from the points, as JSON lists (a saved
        result's statistics are the fresh one's)."""
        if self.moments is None or self.sums is None:
            return None
        found: tuple[FloatArray, FloatArray] | None
        if callable(self.sums):
            with warnings.catch_warnings():  # saving says nothing about the statistics
                warnings.simplefilter("ignore")
                found = Stats(self.moments, self.basis_coef, sums=self.sums).sums
        else:
            found = self.sums
        assert found is not None
        return [np.asarray(v, dtype=np.float64).tolist() for v in found]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManyResult:
        """Rebuild a result written by :meth:`to_dict`, checked as strictly as fresh input: a
        ValueError says what does not hold."""
        version = data.get("format_version")
        if version != FORMAT_VERSION or isinstance(version, bool) or data.get("kind") != "many":
            raise ValueError(f"not a saved ManyResult of format_version {FORMAT_VERSION}")
        coef, basis_coef = saved_floats(data["coef"], 2), saved_floats(data["basis_coef"], 2)
        count, size = coef.shape
        stats = data.get("statistics")
        result = cls(
            coef=coef,
            basis_coef=basis_coef,
            domains=saved_floats(data["domains"], 2),
            final_loss=saved_floats(data["final_loss"], 1),
            converged=saved_flags(data["converged"]),
            steps_run=np.asarray(data["steps_run"], dtype=np.int64),
            valid=saved_flags(data["valid"]),
            basis=Basis.parse(data["basis"]),
            method=str(data["method"]),
            seconds=float(data["seconds"]),
            problems={int(b): str(why) for b, why in dict(data.get("problems", {})).items()},
            traces=None if data.get("traces") is None else saved_floats(data["traces"], 2),
            engine=str(data.get("engine", "numpy")),
            loss=str(data.get("loss", "mse")),
            ids=None if data.get("ids") is None else tuple(str(i) for i in data["ids"]),
            coef_error=None
            if data.get("coef_error") is None
            else saved_floats(data["coef_error"], 1),
            condition=None if data.get("condition") is None else saved_floats(data["condition"], 1),
            holds_inf=None if data.get("holds_inf") is None else saved_flags(data["holds_inf"]),
            sums=None if data.get("residual_sums") is None else saved_sums(data["residual_sums"]),
            moments=None
            if stats is None
            else Moments(
                saved_floats(stats["gram"], 3),
                saved_floats(stats["moment"], 2),
                saved_floats(stats["square"], 1),
                saved_floats(data["domains"], 2),
                total=saved_floats(stats["total"], 1),
                used=saved_floats(stats["used"], 1),
                basis=Basis.parse(data["basis"]),
                inverse=None if stats.get("inverse") is None else saved_floats(stats["inverse"], 3),
                y_scale=float(stats["y_scale"]),
                absolute=saved_bool(stats.get("absolute_sigma", False)),
                constraints=saved_constraints(stats.get("constraints", 0), count, size),
                pinned=tuple(saved_count(p, size - 1) for p in stats.get("pinned", [])),
            ),
        )
        check_saved_many(result, count, size)
        return result

    def to_json(self) -> str:
        """Serialize to strict JSON (full precision; NaN and infinities as null)."""
        return json_text(self.to_dict())

    @classmethod
    def from_json(cls, text: str, source: str = "the text") -> ManyResult:
        """Inverse of :meth:`to_json`; anything else is a DataFileError naming ``source``."""
        return parse_saved(text, source, cls.from_dict, "batch")

    def save(self, path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
        """Write the result as JSON atomically (``-``: stdout); writing over one of the
        ``inputs`` is refused."""
        return write_text_atomic(path, self.to_json(), inputs)

    @classmethod
    def load(cls, path: str | Path) -> ManyResult:
        """Read a result saved by :meth:`save`."""
        return cls.from_json(read_text(path), str(path))


def saved_floats(values: Any, ndim: int) -> FloatArray:
    """A float array from JSON (null is NaN) of exactly ``ndim`` dimensions."""
    array = np.asarray(values, dtype=object)
    if array.ndim != ndim:
        raise ValueError(f"expected a {ndim}-dimensional list, got {array.ndim} dimensions")
    return np.asarray(np.where(array == None, np.nan, array), dtype=np.float64)  # noqa: E711


def saved_sums(values: Any) -> tuple[FloatArray, FloatArray]:
    """Saved ``(rss, tss)``: two lists of non-negative sums (null where not from points)."""
    sums = saved_floats(values, 2)
    if sums.shape[0] != 2 or np.any(sums < 0):
        raise ValueError("residual_sums must be two lists of non-negative sums")
    return sums[0], sums[1]


def saved_flags(values: Any) -> npt.NDArray[np.bool_]:
    array = np.asarray(values)
    if array.ndim != 1 or array.dtype != np.bool_:
        raise ValueError("converged, valid and holds_inf must be lists of true/false")
    return array


def saved_constraints(value: Any, count: int, size: int) -> Any:
    """Saved constraint counts: one whole number for every series, or one per series."""
    if isinstance(value, list):
        if len(value) != count:
            raise ValueError(f"statistics: {len(value)} constraint counts for {count} series")
        return np.asarray([saved_count(v, size) for v in value], dtype=np.int64)
    return saved_count(value, size)


def saved_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"statistics: absolute_sigma must be true or false, got {value!r}")
    return value


def check_saved_many(result: ManyResult, count: int, size: int) -> None:
    """Refuse a loaded batch that does not mean what a fresh one means: one row per series
    everywhere, finite coefficients on fitted series that describe the same polynomials in
    the basis and in monomials, a reason for every series not fitted, sane statistics."""
    if size == 0:
        raise ValueError("coef must have at least one coefficient per series")
    rows = {
        "basis_coef": result.basis_coef.shape == (count, size),
        "domains": result.domains.shape == (count, 2),
        "final_loss": result.final_loss.shape == (count,),
        "converged": result.converged.shape == (count,),
        "steps_run": result.steps_run.shape == (count,),
        "valid": result.valid.shape == (count,),
        "residual_sums": not isinstance(result.sums, tuple) or result.sums[0].shape == (count,),
    }
    for name, ok in rows.items():
        if not ok:
            raise ValueError(f"{name} must have one entry per series ({count})")
    if np.any(result.steps_run < 0):
        raise ValueError("steps_run must be non-negative")
    fitted = result.valid
    if not (
        np.isfinite(result.coef[fitted]).all() and np.isfinite(result.basis_coef[fitted]).all()
    ):
        raise ValueError("a fitted series must have finite coefficients")
    if any(not 0 <= b < count for b in result.problems):
        raise ValueError("problems name a series that is not in the batch")
    if any(b not in result.problems for b in np.flatnonzero(~fitted).tolist()):
        raise ValueError("every series not fitted must say why (problems)")
    if fitted.any():
        if result.basis is not Basis.MONOMIAL:
            lo, hi = result.domains[fitted, 0], result.domains[fitted, 1]
            if not (np.isfinite(lo).all() and np.isfinite(hi).all() and np.all(lo < hi)):
                raise ValueError("domains must be finite intervals, lo < hi")
        matrices = mapping.monomial_matrices(result.domains[fitted], result.basis, size)
        with np.errstate(over="ignore", invalid="ignore"):
            converted = np.einsum("bij,bj->bi", matrices, result.basis_coef[fitted])
            reach = np.einsum("bij,bj->bi", np.abs(matrices), np.abs(result.basis_coef[fitted]))
        if not np.all(np.abs(converted - result.coef[fitted]) <= 1e-6 * reach + 1e-300):
            raise ValueError("basis_coef and coef describe different polynomials")
    m = result.moments
    if m is None:
        return
    if m.g.shape != (count, size, size) or m.c.shape != (count, size):
        raise ValueError("statistics must have one Gram matrix and moment per series")
    if m.inverse is not None and m.inverse.shape != (count, size, size):
        raise ValueError("statistics must have one Gram matrix and moment per series")
    if m.s.shape != (count,) or m.total.shape != (count,) or m.used.shape != (count,):
        raise ValueError("statistics must have one sum, total and count per series")
    if not (m.y_scale > 0 and np.isfinite(m.y_scale) and np.frexp(m.y_scale)[0] == 0.5):
        raise ValueError(f"statistics: y_scale {m.y_scale!r} is not a positive power of two")
    used = m.used[fitted]
    if np.any(~(used >= 0)) or np.any(used != np.round(used)):
        raise ValueError("statistics: point counts must be non-negative whole numbers")
    g = m.g[fitted]
    if not (np.isfinite(g).all() and np.allclose(g, np.swapaxes(g, 1, 2), rtol=1e-12, atol=0)):
        raise ValueError("statistics: the Gram matrices must be finite and symmetric")
    if np.any(np.einsum("bii->bi", g) < 0) or np.any(~(m.s[fitted] >= 0)):
        raise ValueError("statistics: sums of squares must be non-negative")
    if m.inverse is not None:
        inverse = m.inverse[fitted]
        formed = np.isfinite(inverse).all(axis=(1, 2))
        with np.errstate(all="ignore"):  # constrained: a generalized inverse, H G H = H
            if np.any(np.asarray(m.constraints) > 0):
                h = inverse[formed]
                product = (np.matmul(np.matmul(h, g[formed]), h) - h) / np.maximum(
                    np.abs(h).max(axis=(1, 2), keepdims=True), 1e-300
                )
            else:
                product = np.matmul(g[formed], inverse[formed]) - np.eye(size)
        if product.size and not float(np.max(np.abs(product))) <= 1e-6:
            raise ValueError("statistics: inverse is not the Gram matrices' inverse")
