"""Many curves at once: B series, each with its own x, fitted in one batched computation.

``lstsq_many`` solves every series' least squares in closed form and ``fit_many`` runs
gradient descent on all of them together, each with its own learning rate and stopping test.
Both work on the Gram statistics of each series in a basis mapped to its own x-domain, built
in chunks of series so memory stays bounded. Ragged input is padded with zero weights; a
series with too few points is reported and left out while the others are fitted.
The statistics and the descent run on a batched backend (:mod:`gradpoly.batched`):
numpy, numba, torch (cpu, cuda) or jax.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import convergence, display, mapping, rates, validation
from gradpoly.batched import backend_names, get_backend
from gradpoly.batched.base import (
    Batch,
    BatchBackend,
    Descent,
    GramBatch,
    Plan,
)
from gradpoly.batched.batch import mapped
from gradpoly.batched.shared import SharedGram
from gradpoly.calling import keyword_only, renamed
from gradpoly.errors import (
    DivergenceError,
    EngineUnavailableError,
    InvalidDataError,
    InvalidOptionError,
    RepresentationWarning,
    warn,
)
from gradpoly.losses import Loss
from gradpoly.mapping import exact_scale, features
from gradpoly.options import AUTO, BEST, Basis, Device, DType, Gradient, Optimizer, pick_optimizer
from gradpoly.outputs import json_text, read_text, write_text_atomic
from gradpoly.problem import SvdSolver, rank_trouble, representation_message, unrepresentable
from gradpoly.result import FORMAT_VERSION, parse_saved
from gradpoly.stats import Moments, Stats, basis_features
from gradpoly.validation import float_array

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[int, int], None]
"""Called as ``progress(series_done, series_total)``."""


@dataclass(frozen=True, eq=False)
class ManyResult:
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
    condition: FloatArray | None = None
    """lstsq_many: each series' condition number of its design in ``basis`` (an upper bound
    where that bound is at most 1e3, exact otherwise; accuracy is about condition * 1e-16
    relative; series above 1e13 are marked invalid)."""

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
        if self.moments is not None:
            stats = self.stats
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

    def predict(self, x: npt.ArrayLike, interval: str | None = None, level: float = 0.95) -> Any:
        """Every series' polynomial at ``x`` of shape (B, M) (or (M,) for all); with
        ``interval="confidence"`` or ``"prediction"``, ``(prediction, lower, upper)``."""
        xs = validation.float_array("x", x)
        count = self.coef.shape[0]
        if xs.ndim not in (1, 2) or (xs.ndim == 2 and xs.shape[0] not in (1, count)):
            raise InvalidDataError(
                f"x must have shape (M,) or ({count}, M) for {count} series, got {xs.shape}"
            )
        xs = np.ascontiguousarray(np.broadcast_to(xs, (count, xs.shape[-1])))
        degree = self.coef.shape[1] - 1
        # in each series' basis on its own domain, as numpy's polynomial classes evaluate:
        # far from zero, raw powers of x lose every digit (x in [1000, 1010]: off by 1.6)
        features = basis_features(xs, self.domains, self.basis, degree)
        with np.errstate(invalid="ignore"):
            values = np.asarray(np.einsum("bmj,bj->bm", features, self.basis_coef))
        if interval is None:
            return values
        stats = self.stats
        _, half = stats.interval(features, interval, level)
        return values, values - half, values + half

    @property
    def stats(self) -> Stats:
        """Per-series statistics (stderr (B, D+1), cov (B, D+1, D+1), residual_std, r_squared,
        ...: :mod:`gradpoly.stats`) from the batched Gram statistics; NaN for series not
        fitted. For gradient descent they are evaluated at the coefficients reached
        (``stats.converged`` says which series met tol)."""
        if self.moments is None:
            raise InvalidOptionError("this result carries no Gram statistics")
        converged = self.converged if self.method != "lstsq" else self.valid
        return Stats(self.moments, self.basis_coef, converged=converged)

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
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManyResult:
        """Rebuild a result written by :meth:`to_dict`, checked as strictly as fresh input: a
        ValueError says what does not hold."""
        version = data.get("format_version")
        if version != FORMAT_VERSION or isinstance(version, bool) or data.get("kind") != "many":
            raise ValueError(f"not a saved ManyResult of format_version {FORMAT_VERSION}")
        coef, basis_coef = _saved_floats(data["coef"], 2), _saved_floats(data["basis_coef"], 2)
        count, size = coef.shape
        stats = data.get("statistics")
        result = cls(
            coef=coef,
            basis_coef=basis_coef,
            domains=_saved_floats(data["domains"], 2),
            final_loss=_saved_floats(data["final_loss"], 1),
            converged=_saved_flags(data["converged"]),
            steps_run=np.asarray(data["steps_run"], dtype=np.int64),
            valid=_saved_flags(data["valid"]),
            basis=Basis.parse(data["basis"]),
            method=str(data["method"]),
            seconds=float(data["seconds"]),
            problems={int(b): str(why) for b, why in dict(data.get("problems", {})).items()},
            traces=None if data.get("traces") is None else _saved_floats(data["traces"], 2),
            engine=str(data.get("engine", "numpy")),
            loss=str(data.get("loss", "mse")),
            ids=None if data.get("ids") is None else tuple(str(i) for i in data["ids"]),
            coef_error=None
            if data.get("coef_error") is None
            else _saved_floats(data["coef_error"], 1),
            condition=None
            if data.get("condition") is None
            else _saved_floats(data["condition"], 1),
            moments=None
            if stats is None
            else Moments(
                _saved_floats(stats["gram"], 3),
                _saved_floats(stats["moment"], 2),
                _saved_floats(stats["square"], 1),
                _saved_floats(stats["total"], 1),
                _saved_floats(stats["used"], 1),
                Basis.parse(data["basis"]),
                _saved_floats(data["domains"], 2),
                None if stats.get("inverse") is None else _saved_floats(stats["inverse"], 3),
                float(stats["y_scale"]),
            ),
        )
        _check_saved_many(result, count, size)
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


def _saved_floats(values: Any, ndim: int) -> FloatArray:
    """A float array from JSON (null is NaN) of exactly ``ndim`` dimensions."""
    array = np.asarray(values, dtype=object)
    if array.ndim != ndim:
        raise ValueError(f"expected a {ndim}-dimensional list, got {array.ndim} dimensions")
    return np.asarray(np.where(array == None, np.nan, array), dtype=np.float64)  # noqa: E711


def _saved_flags(values: Any) -> npt.NDArray[np.bool_]:
    array = np.asarray(values)
    if array.ndim != 1 or array.dtype != np.bool_:
        raise ValueError("converged and valid must be lists of true/false")
    return array


def _check_saved_many(result: ManyResult, count: int, size: int) -> None:
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
        with np.errstate(all="ignore"):
            product = np.matmul(g[formed], inverse[formed]) - np.eye(size)
        if product.size and not float(np.max(np.abs(product))) <= 1e-6:
            raise ValueError("statistics: inverse is not the Gram matrices' inverse")


def group_long(series: Any, *columns: Any) -> tuple[list[str], list[list[np.ndarray]]]:
    """Split long columns (one row per point) by series id, ids in first-appearance order.

    Returns the ids (as text) and, per column, one array per series.
    """
    ids = series_ids(series)
    arrays = [float_array(n, c) for n, c in zip(("x", "y", "weights"), columns, strict=False)]
    for name, values in zip(("x", "y", "weights"), arrays, strict=False):
        if values.shape != ids.shape:
            raise InvalidDataError(
                f"a long table needs one series id per point: {name} has shape {values.shape}, "
                f"series has {ids.shape}"
            )
    if ids.size == 0:
        raise InvalidDataError("the long table is empty")
    names, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    label = rank[inverse.reshape(-1)]
    sort = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[sort], np.arange(order.size + 1))
    pieces = [sort[bounds[k] : bounds[k + 1]] for k in range(order.size)]
    return [str(names[k]) for k in order], [[a[p] for p in pieces] for a in arrays]


def series_ids(series: Any) -> npt.NDArray[np.str_]:
    """Series ids as text, one per point; a missing id (None, NaN, empty) is an error."""
    raw = np.asarray(series, dtype=object).reshape(-1) if np.ndim(series) else None
    if raw is None:
        raise InvalidDataError("series must be one id per point (a 1-D column), got a scalar")
    missing = validation.missing_ids(raw)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise InvalidDataError(
            f"{rows.size} point(s) have no series id (None, NaN or empty), the first at row "
            f"{int(rows[0])}; give every point an id or drop those rows"
        )
    if np.ndim(series) != 1:
        raise InvalidDataError(
            f"series must be 1-D (one id per point), got shape {np.shape(series)}"
        )
    return np.array([str(v) for v in raw], dtype=str)


def _long_or_batch(
    x: Any, y: Any, weights: Any, series: Any, drop_nan: bool, dtype: Any = np.float64
) -> tuple[Batch, tuple[str, ...] | None]:
    """A Batch from (B, N) arrays, ragged lists, or long columns with ``series`` ids."""
    if series is None:
        return _as_batch(x, y, weights, drop_nan, dtype), None
    columns = (x, y) if weights is None else (x, y, weights)
    ids, grouped = group_long(series, *columns)
    ws = grouped[2] if weights is not None else None
    return _as_batch(grouped[0], grouped[1], ws, drop_nan, dtype), tuple(ids)


def _is_flat(x: Any) -> bool:
    """True for one 1-D sequence of numbers (a long column), not a list of series."""
    if isinstance(x, np.ndarray):
        return bool(x.ndim == 1)
    if not (isinstance(x, Sequence) and len(x) > 0):
        return False
    try:
        return bool(np.ndim(x[0]) == 0)
    except ValueError:  # a ragged first element: a series, checked later
        return False


def _as_batch(x: Any, y: Any, weights: Any, drop_nan: bool, dtype: Any = np.float64) -> Batch:
    """Checked (B, N) arrays; ragged series padded with zero weight. No copy when clean."""
    if isinstance(x, np.ndarray) and x.ndim == 2:
        xb = float_array("x", x, copy=False, dtype=dtype)
        yb = float_array("y", y, copy=False, dtype=dtype)
        if yb.shape != xb.shape:
            raise InvalidDataError(
                f"x and y must have the same shape, got {xb.shape} and {np.shape(y)}"
            )
        wb = None if weights is None else float_array("weights", weights, copy=False)
        if wb is not None and wb.shape != xb.shape:
            raise InvalidDataError(f"weights must have shape {xb.shape}, got {wb.shape}")
    else:
        xb, yb, wb = _pad(x, y, weights, dtype)
    if xb.ndim != 2 or xb.shape[0] == 0 or xb.shape[1] == 0:
        raise InvalidDataError(
            f"x must be a (B, N) array or a list of 1-D arrays, got shape {xb.shape}"
        )
    if drop_nan:
        bad = ~np.isfinite(xb) | ~np.isfinite(yb)
        if wb is not None:
            bad |= ~np.isfinite(wb)
        if bad.any():
            xb, yb = np.where(bad, 0.0, xb), np.where(bad, 0.0, yb)
            wb = np.where(bad, 0.0, 1.0 if wb is None else wb)
    # Without drop_nan, NaN/inf are caught after the statistics pass (they make that series'
    # statistics non-finite), which spares a pass over the data; see _check_finite.
    if wb is not None:
        validation.nonnegative_weights(wb, ("series", "point"))
    if wb is None:
        counts = np.full(xb.shape[0], float(xb.shape[1]))
    else:
        counts = np.maximum(np.count_nonzero(wb > 0, axis=1), 1).astype(np.float64)
    return Batch(xb, yb, wb, counts)


def _scaled(batch: Batch, loss: Loss, delta: float = 1.0) -> tuple[Batch, float]:
    """The batch with y divided by a power of two when y is far from 1 (exact), and that
    power; 1 for L1, whose trajectory does not scale with y, and for a Huber delta that
    cannot follow the scale."""
    finite = batch.y[np.isfinite(batch.y)]
    scale = exact_scale(float(np.max(np.abs(finite)))) if finite.size else 1.0
    moved = delta / scale
    if scale == 1.0 or loss is Loss.L1 or not (np.isfinite(moved) and moved > 0):
        return batch, 1.0
    return replace(batch, y=batch.y / scale), scale


def _check_finite(batch: Batch, gram: GramBatch) -> None:
    """Raise, naming series and points, when a series' statistics are not finite.

    NaN or inf anywhere in a series' x, y or weights propagates into its statistics, so only
    those series are searched; finite values too large to square overflow instead.
    """
    broken = ~(
        np.isfinite(gram.g).all(axis=(1, 2)) & np.isfinite(gram.c).all(axis=1) & np.isfinite(gram.s)
    )
    if not broken.any():
        return
    rows = np.flatnonzero(broken)
    bad = ~np.isfinite(batch.x[rows]) | ~np.isfinite(batch.y[rows])
    if batch.w is not None:
        bad |= ~np.isfinite(batch.w[rows])
    first = int(rows[0])
    if not bad.any():
        raise InvalidDataError(
            f"{rows.size} series overflow float64 when squared (series {rows[:5].tolist()}); "
            "rescale x and y"
        )
    rows = rows[bad.any(axis=1)]
    first = int(rows[0])
    points = np.flatnonzero(bad[bad.any(axis=1)][0])[:5].tolist()
    raise InvalidDataError(
        f"{rows.size} series have NaN or inf values (series {rows[:5].tolist()}"
        f"{'...' if rows.size > 5 else ''}; in series {first}, points {points}); "
        "clean them or pass drop_nan=True to give those points zero weight"
    )


def _pad(
    x: Any, y: Any, weights: Any, dtype: Any = np.float64
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Ragged lists of 1-D series -> padded (B, N) arrays with zero weight on the padding."""
    if _is_flat(x):
        raise InvalidDataError(
            "x is 1-D: for a long table pass series=ids (one id per point); "
            "for one curve use gradpoly.fit"
        )
    if not isinstance(x, Sequence) or not isinstance(y, Sequence) or len(x) != len(y):
        raise InvalidDataError(
            "x and y must be (B, N) arrays or lists of equally many 1-D series "
            "(for a long table, group it by its series id first: gradpoly.io.read_long)"
        )
    series = [
        (float_array(f"x[{k}]", a, dtype=dtype), float_array(f"y[{k}]", b, dtype=dtype))
        for k, (a, b) in enumerate(zip(x, y, strict=True))
    ]
    for b, (xs, ys) in enumerate(series):
        if xs.ndim != 1 or xs.shape != ys.shape:
            raise InvalidDataError(
                f"series {b}: x and y must be 1-D of the same length, got {xs.shape} and {ys.shape}"
            )
    if weights is not None and (not isinstance(weights, Sequence) or len(weights) != len(x)):
        raise InvalidDataError("weights must be a list with one 1-D array per series, like x")
    width = max((xs.size for xs, _ in series), default=0)
    xb = np.zeros((len(series), width), dtype=dtype)
    yb = np.zeros_like(xb)
    wb = np.zeros_like(xb)
    for b, (xs, ys) in enumerate(series):
        xb[b, : xs.size], yb[b, : xs.size] = xs, ys
        if weights is None:
            wb[b, : xs.size] = 1.0
            continue
        ws = float_array(f"weights[{b}]", weights[b])
        if ws.shape != xs.shape:
            raise InvalidDataError(
                f"series {b}: weights must have one value per point, got {ws.shape} for {xs.shape}"
            )
        wb[b, : xs.size] = ws
    return xb, yb, wb


BLOCK_SERIES = 65_536
"""Series handed to a backend at once: the unit of progress, and of memory for its scratch."""


def _statistics(
    batch: Batch,
    degree: int,
    basis: Basis,
    backend: BatchBackend,
    device: Device,
    progress: Progress | None,
    loss: Loss = Loss.MSE,
    delta: float = 1.0,
) -> tuple[Batch, float, GramBatch, npt.NDArray[np.bool_], dict[int, str]]:
    """Gram statistics of every series and which series can be fitted, with y scaled.

    Returns the batch the statistics are of, the power of two its y was divided by, the
    statistics, validity and problems. y is scanned for its scale only when the statistics
    show it is far from 1 (``s`` outside 2^+-160 or not finite): clean ordinary data pay no
    extra pass, and since the scaling is exact either way gives the same numbers.
    """
    gram = _gram_pass(batch, degree, basis, backend, device, progress)
    scale = 1.0
    top = float(np.max(gram.s)) if gram.s.size else 0.0
    if not (2.0**-160 <= top <= 2.0**160):
        batch, scale = _scaled(batch, loss, delta)
        if scale != 1.0:
            gram = _gram_pass(batch, degree, basis, backend, device, progress)
    valid, problems = _validity(batch, gram, degree)
    return batch, scale, gram, valid, problems


def _gram_pass(
    batch: Batch,
    degree: int,
    basis: Basis,
    backend: BatchBackend,
    device: Device,
    progress: Progress | None,
) -> GramBatch:
    """One pass of the backend over the series, block by block, with progress."""
    gram: GramBatch | None = None
    for start in range(0, batch.size, BLOCK_SERIES):
        part = slice(start, min(start + BLOCK_SERIES, batch.size))
        # NaN/inf in a series make its statistics non-finite: found by _check_finite below.
        with np.errstate(invalid="ignore", over="ignore"):
            block = backend.statistics(batch.rows(part), degree, basis, device)
        if gram is None:
            gram = block if part.stop == batch.size else _empty_like(block, batch.size)
        if gram is not block:
            for name in ("g", "c", "s", "domains"):
                getattr(gram, name)[part] = getattr(block, name)
        if progress is not None:
            progress(part.stop, batch.size)
    assert gram is not None  # a batch has at least one series
    return gram


def _validity(
    batch: Batch, gram: GramBatch, degree: int
) -> tuple[npt.NDArray[np.bool_], dict[int, str]]:
    """Which series can be fitted: NaN/inf named (an error), too few distinct x flagged."""
    _check_finite(batch, gram)
    valid = np.ones(batch.size, dtype=bool)
    problems: dict[int, str] = {}
    # A series with fewer than D+1 distinct x values has a singular Gram matrix. Counting
    # distinct values needs a sort, so it is done only for the series that look singular:
    # det(G) / prod(diag G) (1 for orthogonal columns, 0 for singular G) below 1e-12.
    sign, logdet = np.linalg.slogdet(gram.g)
    diagonal = np.einsum("bii->bi", gram.g)
    with np.errstate(divide="ignore", invalid="ignore"):  # singular: -inf - -inf is NaN
        ratio = logdet - np.log(diagonal).sum(axis=1)
    suspect = np.flatnonzero(~((sign > 0) & (ratio > np.log(1e-12))))
    if suspect.size:
        used = (
            np.ones_like(batch.x[suspect], dtype=bool) if batch.w is None else batch.w[suspect] > 0
        )
        distinct = _distinct_counts(np.where(used, batch.x[suspect], np.nan))
        for b, found in zip(suspect.tolist(), distinct.tolist(), strict=True):
            if found > degree:
                continue  # ill-conditioned (e.g. high-degree monomials) but not singular
            valid[b] = False
            problems[b] = validation.too_few_distinct(degree, found)
    return valid, problems


def _empty_like(block: GramBatch, count: int) -> GramBatch:
    """Room for ``count`` series' statistics shaped like ``block``'s."""
    g, c, s, domains = (
        np.empty((count, *getattr(block, f).shape[1:])) for f in ("g", "c", "s", "domains")
    )
    return GramBatch(g, c, s, domains)


def _distinct_counts(x: FloatArray) -> npt.NDArray[np.int64]:
    """Distinct non-NaN values per row."""
    ordered = np.sort(x, axis=1)
    finite = np.isfinite(ordered)
    fresh = np.ones_like(ordered, dtype=bool)
    fresh[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return np.asarray((fresh & finite).sum(axis=1), dtype=np.int64)


def basis_to_monomial(coef: FloatArray, domains: FloatArray, basis: Basis) -> FloatArray:
    """Basis coefficients on each mapped domain -> monomial coefficients in each series' x."""
    return mapping.basis_to_monomial(coef, domains, basis)


def _mse(gram: GramBatch, w: FloatArray) -> FloatArray:
    """Weighted MSE of each series at w: ``s - 2 c.w + w.G.w``."""
    gw = np.matmul(gram.g, w[:, :, None])[:, :, 0]
    return np.asarray(gram.s - 2 * (gram.c * w).sum(axis=1) + (w * gw).sum(axis=1))


def _finish(
    w: FloatArray,
    gram: GramBatch,
    valid: npt.NDArray[np.bool_],
    problems: dict[int, str],
    how: tuple[Basis, str, str, str],
    seconds: float,
    descent: Descent | None = None,
    scale: float = 1.0,
    counts: FloatArray | None = None,
    inverse: FloatArray | None = None,
    tol: float | None = None,
) -> ManyResult:
    """Assemble the result in y's units (``scale``: the power of two y was divided by).

    A series whose monomial coefficients overflow float64 is marked invalid, with the reason.
    """
    basis, method, engine, loss_name = how
    count = w.shape[0]
    w = np.where(valid[:, None], w, np.nan)
    if descent is not None and descent.final is not None:
        final = descent.final
    else:
        final = np.maximum(_mse(gram, np.nan_to_num(w)), 0.0)  # < 0 only by rounding
    error = _coef_error(gram, w, valid) if descent is not None else None
    unscaled = w
    with np.errstate(over="ignore"):  # a loss beyond float64 (|y| > ~1e154) is reported as inf
        w, final = w * scale, final * scale * scale
    coef = basis_to_monomial(w, gram.domains, basis)
    overflow = valid & ~np.isfinite(coef).all(axis=1)
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
    _warn_unrepresentable(coef, w, gram.domains, basis, valid, final)
    converged = np.ones(count, dtype=bool) if descent is None else np.zeros(count, dtype=bool)
    steps_run = np.zeros(count, dtype=np.int64)
    trace = None
    if descent is not None:
        steps_run = np.where(valid, descent.steps_run, 0)
        converged = valid & ~descent.active if method == "gd-tol" else converged
        if method == "gd-tol" and tol is not None and loss_name == str(Loss.MSE):
            converged = _confirmed(gram, unscaled, valid, basis, tol)  # stopped or at the end
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
        moments=None if counts is None else _moments(gram, basis, counts, scale, inverse),
    )


NORMAL_EQUATIONS_CONDITION = 1e6
"""Largest condition number of G for which its normal equations are solved as they are
(relative error about cond(G) * 1e-16 = 1e-10); above it a series is solved by QR."""


Points = Callable[[int], tuple[FloatArray, FloatArray, "FloatArray | None"]]
"""Series b's ``(x, y, weights or None)``, for the few series solved again from their points."""


def _batch_points(batch: Batch) -> Points:
    """:data:`Points` of a padded batch."""
    return lambda b: (batch.x[b], batch.y[b], None if batch.w is None else batch.w[b])


def _solve(
    gram: GramBatch,
    points: Points,
    basis: Basis,
    valid: npt.NDArray[np.bool_],
    problems: dict[int, str],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Each valid series' least-squares coefficients, the condition number of its design
    (an upper bound for series whose bound is small; exact for the others) and ``G^-1``
    where it was formed (NaN elsewhere), which the statistics reuse.

    Well-conditioned series solve their Gram system ``G w = c`` (batched); a series whose G is
    worse than :data:`NORMAL_EQUATIONS_CONDITION` is solved again from its own points by SVD
    least squares of the design (as ``lstsq`` does), so its accuracy is that of a QR, not the
    squared condition number of the normal equations. A series whose design is numerically
    rank deficient is marked invalid with the reason.
    """
    size = gram.g.shape[1]
    eye = np.eye(size)
    safe = np.where(valid[:, None, None], gram.g, eye)
    with np.errstate(all="ignore"):
        try:  # invert first: cond_1(G) = |G|_1 |G^-1|_1 is then two column sums away
            inverse = np.asarray(np.linalg.inv(safe), dtype=np.float64)
        except np.linalg.LinAlgError:  # an exactly singular G somewhere: each one alone
            inverse = _inverses(safe)
        # G and G^-1 are symmetric: their 1-norms are the row sums' maximum (contiguous)
        norm = np.abs(safe).sum(axis=2).max(axis=1)
        cond = norm * np.abs(inverse).sum(axis=2).max(axis=1)  # NaN/inf inverse: not finite
        cond = np.where(np.isfinite(cond), cond, np.inf)
    # cond_2 <= size * cond_1: accept the normal equations where cond_2(G) <= 1e6 for sure
    bound = size * cond
    easy = valid & (bound <= NORMAL_EQUATIONS_CONDITION)
    condition = np.where(valid, np.sqrt(bound), np.nan)  # the design's: sqrt of G's
    w = np.asarray(np.matmul(inverse, gram.c[:, :, None])[:, :, 0], dtype=np.float64)
    if not easy.all():
        w[~easy] = np.nan
        inverse[~easy] = np.nan
    for b in np.flatnonzero(valid & ~easy).tolist():
        w[b], condition[b] = _solve_points(*points(b), gram.domains[b], basis, eye.shape[0] - 1)
        trouble = rank_trouble(float(condition[b]), basis)
        if trouble is not None:
            valid[b] = False
            problems[b] = trouble
    return w, condition, inverse


def _inverses(matrices: FloatArray) -> FloatArray:
    """Each matrix's inverse, NaN where it is singular (the batched call refuses them all)."""
    out = np.full_like(matrices, np.nan)
    for b, matrix in enumerate(matrices):
        try:
            out[b] = np.linalg.inv(matrix)
        except np.linalg.LinAlgError:
            continue
    return out


def _solve_points(
    x: FloatArray,
    y: FloatArray,
    weights: FloatArray | None,
    domain: FloatArray,
    basis: Basis,
    degree: int,
) -> tuple[FloatArray, float]:
    """One series by SVD least squares of its weighted design (columns scaled to unit norm),
    and the condition number of that design."""
    used = np.ones(x.shape, dtype=bool) if weights is None else weights > 0
    root = np.ones(int(used.sum())) if weights is None else np.sqrt(weights[used])
    t = mapped(x[used][None, :], domain[None, :], basis)[0]
    a = np.stack(features(np, basis, t, degree), axis=1) * root[:, None]
    solver = SvdSolver.of(a)
    return solver.solve(y[used] * root), solver.condition


def _moments(
    gram: GramBatch,
    basis: Basis,
    counts: FloatArray,
    scale: float,
    inverse: FloatArray | None = None,
) -> Moments:
    """The batched Gram statistics of y / ``scale`` (the power of two y was divided by)."""
    return Moments(gram.g, gram.c, gram.s, counts, counts, basis, gram.domains, inverse, scale)


def _warn_unrepresentable(
    coef: FloatArray,
    w: FloatArray,
    domains: FloatArray,
    basis: Basis,
    valid: npt.NDArray[np.bool_],
    final: FloatArray,
) -> None:
    """One RepresentationWarning for the series whose monomial coefficients float64 cannot
    evaluate back into their fit (the rule of :func:`gradpoly.problem.unrepresentable`),
    checked at D + 3 points across each series' domain."""
    rows = np.flatnonzero(valid)
    if basis is Basis.MONOMIAL or rows.size == 0:
        return
    size = coef.shape[1]
    t = np.cos(np.linspace(0.0, np.pi, size + 2))  # Chebyshev points: ends and middle
    lo, hi = domains[rows, :1], domains[rows, 1:]
    with np.errstate(all="ignore"):  # values beyond float64 are judged, not warned about
        x = (0.5 * lo + 0.5 * hi) + (0.5 * hi - 0.5 * lo) * t[None, :]
        design = np.stack(features(np, basis, t, size - 1), axis=1)
        fitted = np.einsum("mk,bk->bm", design, w[rows])
        monomial = np.zeros_like(x)
        for k in range(size - 1, -1, -1):  # Horner, as np.polynomial.polynomial.polyval
            monomial = monomial * x + coef[rows, k : k + 1]
        stray = np.max(np.abs(monomial - fitted), axis=1)
        span = np.ptp(fitted, axis=1)
        spread = np.sqrt(np.maximum(final[rows], 0.0))
        lost = unrepresentable(stray, span, spread, np.max(np.abs(fitted), axis=1))
    if lost.any():
        first = int(np.flatnonzero(lost)[0])
        what = f"{int(lost.sum())} of {valid.size} series (series {int(rows[first])} first)"
        warn(
            representation_message(what, float(stray[first]), float(span[first])),
            RepresentationWarning,
        )


def _confirmed(
    gram: GramBatch, w: FloatArray, stopped: npt.NDArray[np.bool_], basis: Basis, tol: float
) -> npt.NDArray[np.bool_]:
    """The series the descent stopped by tol that are converged as ``fit`` decides it
    (:func:`gradpoly.convergence.confirmed`: the monomial and basis errors, float64's floor and
    every direction resolved), so one fit gets one verdict on every path."""
    out = np.zeros_like(stopped)
    rows = np.flatnonzero(stopped)
    if rows.size:
        errors_of = convergence.ErrorMap.of(gram.g[rows], gram.domains[rows], basis)
        out[rows] = convergence.confirmed(errors_of, gram.g[rows], gram.c[rows], w[rows], tol)
    return out


def _coef_error(gram: GramBatch, w: FloatArray, valid: npt.NDArray[np.bool_]) -> FloatArray:
    """Each series' estimated relative coefficient error at ``w`` (rates.coefficient_error)."""
    eye = np.eye(gram.g.shape[1])
    safe = np.where(valid[:, None, None], gram.g, eye)
    ws = np.nan_to_num(w)
    eig = np.linalg.eigvalsh(safe)
    grad = 2.0 * (np.matmul(safe, ws[:, :, None])[:, :, 0] - np.where(valid[:, None], gram.c, 0))
    return rates.coefficient_error(
        np.linalg.norm(grad, axis=1), 2 * eig, np.linalg.norm(ws, axis=1)
    )


def _backend(engine: str, device: Device | str) -> tuple[BatchBackend, Device]:
    """The batched backend for ``engine`` on ``device``, or EngineUnavailableError with why.

    ``engine="auto"``: torch on a CUDA device; on the CPU numba when installed (one fused
    pass per series, compiled descent), else numpy. ``result.engine`` says which ran.
    """
    where = Device.parse(device)
    if engine == "auto":
        engine = "torch" if where is Device.CUDA else "numpy"
        if where is Device.CPU and get_backend("numba").availability(where).ok:
            engine = "numba"
    backend = get_backend(engine)
    available = backend.availability(where)
    if not available.ok:
        raise EngineUnavailableError(available.reason)
    return backend, where


@keyword_only(3)
@renamed(dtype="storage")
def lstsq_many(
    x: Any,
    y: Any,
    degree: int,
    *,
    weights: Any = None,
    basis: Basis | str = BEST.basis,
    drop_nan: bool = False,
    engine: str = BEST.engine,
    device: Device | str = Device.CPU,
    progress: Progress | None = None,
    series: Any = None,
    mask: Any = None,
    storage: DType | str = DType.FLOAT64,
) -> ManyResult:
    """Closed-form least squares of B series at once (each with its own x, or one shared).

    Parameters
    ----------
    x, y : array_like, shape (B, N), or lists of B 1-D arrays (ragged, padded here), or
        long 1-D columns (one row per point) with ``series`` giving each point's series id;
        or **one shared axis**: x of shape (N,) with y (B, N) (a (B, N) x whose rows are all
        the same axis, e.g. ``np.broadcast_to``, is taken as one too). A shared axis is
        fitted from matrix products over y: one factorisation for every series without gaps.
    weights : same shape as x, optional
        Non-negative per-point weights; padding and dropped NaN points get zero. On a
        shared axis: (N,) for every series or (B, N) per series.
    drop_nan : leave out points whose x, y or weight is NaN or inf (else they are refused,
        named). On a shared axis such gaps are handled in the same matrix products.
    mask : boolean array_like, (N,) or (B, N), optional (shared axis only)
        True leaves a point out (numpy.ma's convention): gaps you know of, NaN or not.
    storage : "float64" (default) or "float32"
        The precision x and y are kept in (``dtype=`` before 0.2; in :func:`gradpoly.fit`
        ``dtype`` is the loop's precision, a different thing). float32 keeps x and y in
        float32 (float32 input is read as it is: half the memory traffic, no float64 copy);
        every sum is still accumulated in float64, so the fit equals the float64 fit of those
        float32 values to about 1e-12 relative.
    basis : solve in this basis on each series' mapped domain (chebyshev by default: the
        Gram matrix stays well conditioned, so solving its normal equations is accurate).
    engine, device : the batched backend that builds the statistics (``numpy``, ``numba``,
        ``torch`` on cpu or cuda, ``jax``); all give the same numbers to rounding. ``"auto"``
        (the default): torch on CUDA, numba on the CPU where installed, else numpy.
    progress : called as ``progress(series_done, series_total)`` after each block.
    series : array_like of ids, optional
        With long columns: the series of each point; results come in first-appearance order
        of the ids, which ``result.ids`` lists.
    """
    start = time.perf_counter()
    chosen, size = Basis.parse(basis), validation.degree(degree)
    drop = validation.flag("drop_nan", drop_nan)
    backend, where = _backend(engine, device)
    ids = None
    axis = _shared_axis(x, y, series)
    how = (chosen, "lstsq", backend.name, str(Loss.MSE))
    if axis is not None:
        data = _shared_input(axis, y, weights, mask, drop, _numpy_dtype(storage))
        data, found, scale, valid, problems = _shared_statistics(
            data, size, chosen, backend, where, drop, mask is not None, progress
        )
        w, condition, inverse = _shared_solve(data, found, chosen, valid, problems)
        gram, counts = found.gram, found.counts
    else:
        _refuse_mask(mask)
        batch, ids = _long_or_batch(x, y, weights, series, drop, _numpy_dtype(storage))
        batch, scale, gram, valid, problems = _statistics(
            batch, size, chosen, backend, where, progress
        )
        w, condition, inverse = _solve(gram, _batch_points(batch), chosen, valid, problems)
        counts = batch.counts
    seconds = time.perf_counter() - start
    result = _finish(
        w, gram, valid, problems, how, seconds, scale=scale, counts=counts, inverse=inverse
    )
    condition = np.where(result.valid, condition, np.nan)
    error = condition * np.finfo(np.float64).eps
    return replace(result, ids=ids, condition=condition, coef_error=error)


@keyword_only(3)
@renamed(dtype="storage")
def fit_many(
    x: Any,
    y: Any,
    degree: int,
    *,
    steps: int = BEST.steps,
    lr: float | str = BEST.lr,
    basis: Basis | str = BEST.basis,
    optimizer: Optimizer | str = BEST.optimizer,
    momentum: float | None = None,
    tol: float | None = BEST.tol,
    weights: Any = None,
    drop_nan: bool = False,
    traces: bool = False,
    loss: Loss | str = Loss.MSE,
    huber_delta: float = 1.0,
    gradient: Gradient | str = Gradient.MANUAL,
    engine: str = BEST.engine,
    device: Device | str = Device.CPU,
    progress: Progress | None = None,
    series: Any = None,
    mask: Any = None,
    storage: DType | str = DType.FLOAT64,
) -> ManyResult:
    """Gradient descent on B series at once, each with its own lr (``"auto"``) and stop test.

    With the MSE, every series follows exactly the GD (or momentum/Nesterov) trajectory that
    :func:`gradpoly.fit` would give it in float64 with the gram strategy; a series stops
    updating once its estimated coefficient error ``|grad| / (mu |w|)`` is at most tol.
    ``traces=True`` keeps every step's loss. The defaults are :func:`gradpoly.fit`'s
    (:data:`gradpoly.BEST`: Chebyshev, ``lr="auto"``, Nesterov, ``tol=1e-10``, at most 100,000
    steps, the fastest engine here). Options after ``degree`` are keyword-only.
    ``loss="huber"`` or ``"l1"`` runs per point with autograd (engines ``torch``, ``jax``);
    ``lr="auto"`` is then the MSE's ``1/L``, which is stable for both. Input shapes, ``series``
    ``progress``, a shared axis and ``mask`` are as in :func:`lstsq_many` (on a shared axis
    the statistics come from matrix products; the descent runs per series as usual).
    """
    start = time.perf_counter()
    chosen, rule = Basis.parse(basis), pick_optimizer(optimizer)
    if callable(loss):
        raise InvalidOptionError(
            "fit_many takes a named loss (mse, huber, l1); fit a custom loss callable with "
            "gradpoly.fit, one series at a time"
        )
    objective = Loss.parse(loss)
    size, count, rate = validation.degree(degree), validation.steps(steps), validation.lr(lr)
    stop, delta = validation.tol(tol), validation.huber_delta(huber_delta)
    drop, keep = validation.flag("drop_nan", drop_nan), validation.flag("traces", traces)
    backend, where = _backend(engine, device)
    autograd = _needs_autograd(backend, Gradient.parse(gradient), objective)
    axis, ids = _shared_axis(x, y, series), None
    if axis is not None:
        data = _shared_input(axis, y, weights, mask, drop, _numpy_dtype(storage))
        data, found, scale, valid, problems = _shared_statistics(
            data, size, chosen, backend, where, drop, mask is not None, progress
        )
        gram, batch = found.gram, _shared_batch(data, found, objective is not Loss.MSE)
    else:
        _refuse_mask(mask)
        batch, ids = _long_or_batch(x, y, weights, series, drop, _numpy_dtype(storage))
        batch, scale, gram, valid, problems = _statistics(
            batch, size, chosen, backend, where, progress, objective, delta
        )
    delta /= scale  # Huber on y / s with delta / s is exactly Huber on y, divided by s^2
    plan = _plan(
        gram, valid, count, rate, rule, stop, keep, objective, delta, autograd, chosen, momentum
    )
    descent = backend.descend(batch, gram, chosen, plan, where)
    _check_descent(descent, valid, plan, gram)
    w = descent.w
    how = (chosen, "gd-tol" if tol is not None else "gd", backend.name, str(objective))
    seconds = time.perf_counter() - start
    result = _finish(w, gram, valid, problems, how, seconds, descent, scale, batch.counts, tol=stop)
    return replace(result, ids=ids)


def _numpy_dtype(dtype: DType | str) -> Any:
    """The storage type of a batched fit's data (sums are always float64)."""
    return np.float32 if DType.parse(dtype) is DType.FLOAT32 else np.float64


def _needs_autograd(backend: BatchBackend, gradient: Gradient, loss: Loss) -> bool:
    """Whether the descent differentiates by autograd; refused where the backend has none."""
    autograd = gradient is Gradient.AUTOGRAD or loss is not Loss.MSE
    if autograd and not backend.autograd:
        have = [n for n in backend_names() if get_backend(n).autograd]
        why = f"loss {loss}" if loss is not Loss.MSE else "gradient autograd"
        raise InvalidOptionError(
            f"{why} needs autograd, which batched engine {backend.name} lacks; "
            f"use engine={have[0]!r} (engines with autograd: {', '.join(have)})"
        )
    return autograd


def _plan(
    gram: GramBatch,
    valid: npt.NDArray[np.bool_],
    steps: int,
    lr: float | str,
    rule: Optimizer,
    tol: float | None,
    traces: bool,
    loss: Loss = Loss.MSE,
    huber_delta: float = 1.0,
    autograd: bool = False,
    basis: Basis = Basis.CHEBYSHEV,
    momentum: float | None = None,
) -> Plan:
    """Per-series rates (auto, or a fixed lr checked for stability) and the stop test: the
    basis coefficients' error at most tol over the conversion's amplification, so that the
    monomial coefficients' is at most tol too (the final verdict is :func:`_confirmed`)."""
    steps, lr, tol = validation.steps(steps), validation.lr(lr), validation.tol(tol)
    safe = np.where(valid[:, None, None], gram.g, np.eye(gram.g.shape[1]))
    eig = np.asarray(np.linalg.eigvalsh(safe), dtype=np.float64)
    rate, beta = _parameters(eig, valid, lr, rule, validation.momentum(momentum))
    scale = None
    if tol is not None:  # the Hessian is 2 G: its eigenvalues are twice G's
        floor = rates.effective_min(2 * eig) / _amplification(gram, safe, basis)
        scale = np.where(valid, (tol * floor) ** 2, 0.0)
    return Plan(
        steps,
        np.where(valid, rate, np.nan),
        beta,
        tol,
        rule is Optimizer.NESTEROV,
        traces,
        loss,
        float(huber_delta),
        autograd,
        scale,
    )


def _amplification(gram: GramBatch, safe: FloatArray, basis: Basis) -> FloatArray:
    """How much the conversion to monomials can magnify a relative error of each series'
    basis coefficients near its optimum: ``|M| |w*| / |M w*|``, at least 1."""
    with np.errstate(all="ignore"):  # invalid series and monomial (NaN) domains: ratio 1
        optimum = np.matmul(np.linalg.pinv(safe), gram.c[:, :, None])[:, :, 0]
        matrices = mapping.monomial_matrices(gram.domains, basis, gram.g.shape[1])
        converted = np.linalg.norm(np.matmul(matrices, optimum[:, :, None])[:, :, 0], axis=1)
        finite = np.isfinite(matrices).all(axis=(1, 2))
        norms = np.full(matrices.shape[0], np.inf)
        if finite.any():
            norms[finite] = np.linalg.norm(matrices[finite], ord=2, axis=(1, 2))
        ratio = norms * np.linalg.norm(optimum, axis=1) / converted
    return np.asarray(np.where(np.isfinite(ratio) & (ratio > 1.0), ratio, 1.0), dtype=np.float64)


def _check_descent(
    descent: Descent, valid: npt.NDArray[np.bool_], plan: Plan, gram: GramBatch
) -> None:
    """A non-finite result is divergence: name the series and its stable rate."""
    w = descent.w
    if np.isfinite(w[valid]).all():
        return
    bad = int(np.flatnonzero(valid & ~np.isfinite(w).all(axis=1))[0])
    stable = 1.0 / float(np.linalg.eigvalsh(gram.g[bad])[-1])
    raise DivergenceError(
        plan.steps,
        float("inf"),
        float(plan.rate[bad]),
        stable,
        f"series {bad} diverged with lr={float(plan.rate[bad]):g}",
    )


def descend_gram(
    gram: GramBatch,
    steps: int = 1000,
    lr: float | str = AUTO,
    optimizer: Optimizer | str = Optimizer.GD,
    tol: float | None = None,
    gradient: Gradient | str = Gradient.MANUAL,
    engine: str = "numpy",
    device: Device | str = Device.CPU,
) -> Descent:
    """GD on Gram statistics built elsewhere (any design, e.g. scikit-learn's features), MSE.

    Every series of ``gram`` must be fittable; the options mean what they mean in fit_many.
    """
    backend, where = _backend(engine, device)
    autograd = _needs_autograd(backend, Gradient.parse(gradient), Loss.MSE)
    valid = np.ones(gram.c.shape[0], dtype=bool)
    plan = _plan(gram, valid, steps, lr, pick_optimizer(optimizer), tol, False, autograd=autograd)
    empty = np.empty((gram.c.shape[0], 0))
    descent = backend.descend(Batch(empty, empty, None, gram.s), gram, Basis.MONOMIAL, plan, where)
    _check_descent(descent, valid, plan, gram)
    return descent


def _parameters(
    eig: FloatArray,
    valid: npt.NDArray[np.bool_],
    lr: float | str,
    rule: Optimizer,
    momentum: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Per-series (lr, beta) as :func:`gradpoly.fit` chooses them: from each Hessian ``2 G``'s
    extreme eigenvalues when auto (``momentum``, when given, replaces the optimal beta).

    A fixed lr is checked against every valid series' stability limit
    (:func:`gradpoly.rates.stable_limit`) before any step, and refused with the largest rate
    that every series takes.
    """
    hess = 2 * np.where(valid[:, None], eig, 1.0)
    big = hess[:, -1]
    given = 0.0 if rule is Optimizer.GD else (0.9 if momentum is None else momentum)
    if lr != AUTO:
        value = float(lr)
        limit = rates.stable_limit(rule, given, big)
        unstable = valid & (value >= limit)
        if unstable.any():
            first = int(np.flatnonzero(unstable)[0])
            stable = float(limit[valid].min())
            raise DivergenceError(
                0,
                float("inf"),
                value,
                stable,
                f"lr={value:g} diverges on {int(unstable.sum())} of {int(valid.sum())} series "
                f"(the first is series {first}, stable below {float(limit[first]):.3g})",
            )
        return np.full_like(big, value), np.full_like(big, given)
    rate, beta = rates.auto_parameters(hess, rule)
    if momentum is not None and rule is not Optimizer.GD:
        beta = np.full_like(big, momentum)
    return rate, beta


# --- One shared axis: x (N,) for every series -------------------------------------------


@dataclass(frozen=True, eq=False)
class SharedInput:
    """Validated shared-axis data: the axis (N,), y (B, N) (gaps as NaN), weights None,
    (N,) or (B, N) (a mask folded in as zero weight)."""

    x: FloatArray
    y: FloatArray
    weights: FloatArray | None


def _shared_axis(x: Any, y: Any, series: Any) -> FloatArray | None:
    """The shared axis when x is 1-D and y 2-D, or x is (B, N) with one row repeated (a
    broadcast x); None for every other layout (its own x per series)."""
    if series is not None or not isinstance(x, np.ndarray | list | tuple):
        return None
    if not isinstance(x, np.ndarray) and not _is_flat(x):
        return None
    try:
        y_shape = np.shape(y)
    except ValueError:  # ragged y: per-series data
        return None
    xa = float_array("x", x, copy=False)
    if xa.ndim == 1 and len(y_shape) > 2:
        raise InvalidDataError(
            f"x is one axis of {xa.size} points: y must be (B, {xa.size}), got shape {y_shape}; "
            "reshape it, e.g. y.reshape(-1, y.shape[-1])"
        )
    if xa.ndim == 1 and len(y_shape) == 2:
        if y_shape[1] != xa.size:
            raise InvalidDataError(
                f"x is one axis of {xa.size} points, but y has {y_shape[1]} per series "
                f"(shape {y_shape}); y must be (B, {xa.size})"
            )
        return xa
    if xa.ndim == 2 and xa.shape == y_shape and xa.shape[0] > 1:
        if xa.strides[0] == 0 or (bool((xa[-1] == xa[0]).all()) and bool((xa[1:] == xa[0]).all())):
            return np.ascontiguousarray(xa[0])
    return None


def _shared_input(
    axis: FloatArray, y: Any, weights: Any, mask: Any, drop: bool, dtype: Any = np.float64
) -> SharedInput:
    """Check the shared-axis arrays; NaN in y is a gap only under ``drop_nan`` or ``mask``."""
    ys = float_array("y", y, copy=False, dtype=dtype)
    count, points = ys.shape
    if points == 0 or count == 0:
        raise InvalidDataError(f"y must hold at least one series and one point, got {ys.shape}")
    w = None if weights is None else float_array("weights", weights, copy=False)
    if w is not None and w.shape not in ((points,), ys.shape):
        raise InvalidDataError(
            f"weights must have shape ({points},) (shared) or {ys.shape}, got {w.shape}"
        )
    if w is not None and not np.isfinite(w).all():
        if not drop:
            raise InvalidDataError("weights has NaN or inf; clean it or pass drop_nan=True")
        w = np.where(np.isfinite(w), w, 0.0)
    if w is not None:
        validation.nonnegative_weights(w, ("series", "point") if w.ndim == 2 else ())
    bad_x = ~np.isfinite(axis)
    if bad_x.any():
        if not drop:
            where = np.flatnonzero(bad_x)[:5].tolist()
            raise InvalidDataError(
                f"x has NaN or inf at points {where}; clean it or pass drop_nan=True"
            )
        keep = np.where(bad_x, 0.0, 1.0)
        w = keep if w is None else w * keep
        axis = np.where(bad_x, 0.0, axis)
    if mask is not None:
        hidden = np.asarray(mask)
        if hidden.dtype != np.bool_ or hidden.shape not in ((points,), ys.shape):
            raise InvalidDataError(
                f"mask must be boolean of shape ({points},) or {ys.shape} (True leaves a point "
                f"out, as in numpy.ma), got {hidden.dtype} {hidden.shape}"
            )
        if hidden.ndim == 1:  # one mask for every series: the axis loses those points
            kept = (~hidden).astype(np.float64)
            w = kept if w is None else w * (kept if w.ndim == 1 else kept[None, :])
        else:
            w = np.where(hidden, 0.0, 1.0 if w is None else w)
    return SharedInput(axis, ys, w)


def _shared_statistics(
    data: SharedInput,
    degree: int,
    basis: Basis,
    backend: BatchBackend,
    device: Device,
    drop: bool,
    masked: bool,
    progress: Progress | None = None,
) -> tuple[SharedInput, SharedGram, float, npt.NDArray[np.bool_], dict[int, str]]:
    """The data the statistics are of (y divided by a power of two when far from 1), the
    statistics, that power, validity and problems; ``progress`` hears of every series at
    once (one pass)."""
    found = backend.shared(data.x, data.y, data.weights, degree, basis, device)
    scale = 1.0
    top = float(np.max(found.gram.s)) if found.gram.s.size else 0.0
    if not (2.0**-160 <= top <= 2.0**160):
        finite = data.y[np.isfinite(data.y)]
        scale = exact_scale(float(np.max(np.abs(finite)))) if finite.size else 1.0
        if scale != 1.0:
            data = replace(data, y=data.y / scale)
            found = backend.shared(data.x, data.y, data.weights, degree, basis, device)
    gram = found.gram
    axis_weights = data.weights if data.weights is not None and data.weights.ndim == 1 else None
    if axis_weights is not None and not np.any(axis_weights > 0):
        raise InvalidDataError(
            "no point of the axis has positive weight (every point masked, dropped or of "
            "weight 0): nothing to fit"
        )
    if not (np.isfinite(found.shared_g).all() and np.isfinite(gram.g).all()):
        raise InvalidDataError(
            f"x reaches {float(np.max(np.abs(data.x))):.3g}: its degree-{degree} features "
            f"overflow float64 when squared; rescale x"
            + (" or use basis='chebyshev'" if basis is Basis.MONOMIAL else "")
        )
    if not drop:
        _refuse_gaps(data, found.gapped, masked)
    if not (np.isfinite(gram.c).all() and np.isfinite(gram.s).all()):
        raise InvalidDataError("y is too large to square in float64 even scaled; rescale y")
    valid, problems = _shared_validity(data, found, degree)
    if progress is not None:
        progress(data.y.shape[0], data.y.shape[0])
    return data, found, scale, valid, problems


def _refuse_mask(mask: Any) -> None:
    """``mask=`` belongs to a shared axis; with an x per series it is refused, with the way."""
    if mask is not None:
        raise InvalidOptionError(
            "mask= is for series on one shared axis (x of shape (N,)); with an x per "
            "series give the points zero weight instead"
        )


def _refuse_gaps(data: SharedInput, gapped: npt.NDArray[np.bool_], masked: bool) -> None:
    """NaN/inf in y where a point is used: named, unless drop_nan (or a mask hides it)."""
    rows = np.flatnonzero(gapped)
    if not rows.size:
        return
    bad = ~np.isfinite(data.y[rows])
    if data.weights is not None:
        weights = data.weights if data.weights.ndim == 1 else data.weights[rows]
        bad &= np.broadcast_to(weights > 0, bad.shape)
    hit = bad.any(axis=1)
    if not hit.any():
        return
    series = rows[hit]
    points = np.flatnonzero(bad[hit][0])[:5].tolist()
    raise InvalidDataError(
        f"{series.size} series have NaN or inf values (series {series[:5].tolist()}"
        f"{'...' if series.size > 5 else ''}; in series {int(series[0])}, points {points}); "
        + ("mask them, " if masked else "")
        + "clean them or pass drop_nan=True to leave those points out"
    )


def _shared_validity(
    data: SharedInput, found: SharedGram, degree: int
) -> tuple[npt.NDArray[np.bool_], dict[int, str]]:
    """Clean series share one verdict (distinct x on the axis); gapped ones get their own."""
    count = data.y.shape[0]
    valid = np.ones(count, dtype=bool)
    problems: dict[int, str] = {}
    base = np.ones(data.x.size) if data.weights is None or data.weights.ndim == 2 else data.weights
    distinct = int(np.unique(data.x[base > 0]).size)
    if distinct <= degree:
        clean = ~found.gapped
        valid[clean] = False
        for b in np.flatnonzero(clean).tolist():
            problems[b] = validation.too_few_distinct(degree, distinct)
    rows = np.flatnonzero(found.gapped)
    shared_weights = data.weights is None or data.weights.ndim == 1
    if rows.size and shared_weights:
        if distinct == int(np.count_nonzero(base > 0)):  # distinct axis: points are x values
            for b in rows[found.counts[rows] <= degree].tolist():
                valid[b] = False
                problems[b] = validation.too_few_distinct(degree, int(found.counts[b]))
            return valid, problems
    if rows.size:
        gram = found.gram
        sign, logdet = np.linalg.slogdet(gram.g[rows])
        diagonal = np.einsum("bii->bi", gram.g[rows])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = logdet - np.log(diagonal).sum(axis=1)
        suspect = rows[~((sign > 0) & (ratio > np.log(1e-12)))]
        for b in suspect.tolist():
            weights = base if data.weights is None or data.weights.ndim == 1 else data.weights[b]
            used = (weights > 0) & np.isfinite(data.y[b])
            found_x = int(np.unique(data.x[used]).size)
            if found_x <= degree:
                valid[b] = False
                problems[b] = validation.too_few_distinct(degree, found_x)
    return valid, problems


def _shared_batch(data: SharedInput, found: SharedGram, points: bool) -> Batch:
    """The shared-axis data as a Batch (x broadcast, gaps at zero weight) when the descent
    needs the points (losses other than the MSE); else only the counts it divides by."""
    if not points:
        empty = np.empty((data.y.shape[0], 0))
        return Batch(empty, empty, None, found.counts)
    shape = data.y.shape
    finite = np.isfinite(data.y)
    weights = np.ones(shape) if data.weights is None else np.broadcast_to(data.weights, shape)
    weights = np.where(finite, weights, 0.0)
    y = np.where(finite, data.y, 0.0)
    return Batch(np.broadcast_to(data.x, shape), y, weights, found.counts)


def _shared_points(data: SharedInput) -> Points:
    """:data:`Points` of one series on the shared axis (gaps as zero weight)."""

    def points(b: int) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        y = data.y[b]
        base: Any = 1.0
        if data.weights is not None:
            base = data.weights[b] if data.weights.ndim == 2 else data.weights
        weights = np.where(np.isfinite(y), base, 0.0)
        return data.x, np.where(np.isfinite(y), y, 0.0), weights

    return points


def _shared_solve(
    data: SharedInput,
    found: SharedGram,
    basis: Basis,
    valid: npt.NDArray[np.bool_],
    problems: dict[int, str],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Clean series from one factorisation of the shared G (one matrix product over their c);
    gapped series as in :func:`_solve`. Same returns as :func:`_solve`."""
    gram = found.gram
    count, size = gram.c.shape
    w = np.full((count, size), np.nan)
    condition = np.full(count, np.nan)
    inverse = np.full((count, size, size), np.nan)
    clean = ~found.gapped & valid
    if clean.any():
        eig = np.linalg.eigvalsh(found.shared_g)
        ratio = float(eig[-1] / eig[0]) if eig[0] > 0 else float("inf")
        if ratio <= NORMAL_EQUATIONS_CONDITION:
            shared_inverse = np.linalg.inv(found.shared_g)
            w[clean] = gram.c[clean] @ shared_inverse.T
            inverse[clean] = shared_inverse
            condition[clean] = np.sqrt(ratio)
        else:  # ill-conditioned axis: one SVD of the design serves every clean series
            w[clean], condition[clean] = _shared_svd(data, clean, basis, gram.domains[0], size)
            trouble = rank_trouble(float(condition[np.flatnonzero(clean)[0]]), basis)
            if trouble is not None:
                for b in np.flatnonzero(clean).tolist():
                    valid[b] = False
                    problems[b] = trouble
    rows = np.flatnonzero(found.gapped & valid)
    if rows.size:
        part = GramBatch(gram.g[rows], gram.c[rows], gram.s[rows], gram.domains[rows])
        points = _shared_points(data)
        sub_valid = np.ones(rows.size, dtype=bool)
        sub_problems: dict[int, str] = {}
        wr, cr, ir = _solve(part, lambda k: points(int(rows[k])), basis, sub_valid, sub_problems)
        w[rows], condition[rows], inverse[rows] = wr, cr, ir
        valid[rows] = sub_valid
        problems.update({int(rows[k]): why for k, why in sub_problems.items()})
    return w, condition, inverse


def _shared_svd(
    data: SharedInput, clean: npt.NDArray[np.bool_], basis: Basis, domain: FloatArray, size: int
) -> tuple[FloatArray, float]:
    """Clean series by one SVD of the shared weighted design: coefficients and condition."""
    weights = np.ones(data.x.size) if data.weights is None else data.weights
    root = np.sqrt(weights)
    t = mapped(data.x[None, :], domain[None, :], basis)[0]
    a = np.stack(features(np, basis, t, size - 1), axis=1) * root[:, None]
    solver = SvdSolver.of(a)
    return solver.solve((data.y[clean] * root).T).T, solver.condition
