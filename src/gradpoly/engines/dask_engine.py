"""The dask engine: fits on data that never sits in memory at once, on threads or a cluster.

Two passes over the chunks, each a Dask reduction: first the count, the x range (the domain
the basis is mapped to) and a check for NaN/inf; then each chunk's Gram statistics
``X'SX``, ``X'Sy``, ``y'Sy`` in that mapped basis, summed. The descent then runs on the
small Gram system with the very runner the numpy engine uses (strategy ``gram``), so the
result equals an in-memory fit to rounding. Strategy ``per-sample`` is the exact seed loop
over chunks: one Dask pass per step, faithful and slow. Whatever scheduler is active runs
the passes: Dask's threads by default, a ``distributed.Client`` when one is open.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from gradpoly import mapping, validation
from gradpoly.engines import register
from gradpoly.engines.base import LoopEngine, OptionalLibrary, Progress, Runner
from gradpoly.engines.numpy_engine import GramRunner, PerSampleRunner
from gradpoly.errors import DataFileError, GradpolyError, InvalidDataError, InvalidOptionError
from gradpoly.gram import Gram
from gradpoly.options import Basis, FitConfig, Optimizer, Strategy
from gradpoly.problem import FitProblem, Problem, _features
from gradpoly.result import FitResult

DASK = OptionalLibrary("dask", "dask")
CHUNK_POINTS = 1_000_000
"""Points per chunk when in-memory arrays are handed to the dask engine."""

FloatArray = npt.NDArray[np.float64]


def as_dask(values: Any, name: str, chunks: int = CHUNK_POINTS) -> Any:
    """A 1-D float dask array: dask arrays as they are (lazy), anything else wrapped in chunks."""
    da = _dask_array()
    if isinstance(values, da.Array):
        array = values
    else:
        array = da.from_array(validation.float_array(name, values), chunks=chunks)
    if array.ndim != 1:
        raise InvalidDataError(f"{name} must be 1-D, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise InvalidDataError(f"{name} is complex; gradpoly fits real data")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise InvalidDataError(f"{name} must be numeric, got dtype {array.dtype}")
    return array


def computed(collection: Any) -> Any:
    """``collection.compute()``, with what the chunks' readers raise as one DataFileError."""
    try:
        return collection.compute()
    except GradpolyError:
        raise
    except (ValueError, TypeError, OSError, KeyError) as exc:
        first = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise DataFileError(f"cannot read the data chunk by chunk: {first}") from None


def _dask_array() -> Any:
    DASK.load()
    import dask.array as da

    return da


def per_chunk(func: Any, x: Any, y: Any, w: Any, width: int, dtype: Any, **options: Any) -> Any:
    """``func(x, y, w, **options)`` on every chunk, each giving one row of ``width``: a
    (chunks, width) dask array. ``w`` is None (passed as such) or a dask array like x."""
    da = _dask_array()
    arrays = (x, y) if w is None else (x, y, w)
    if w is None:
        options = options | {"w": None}
    return da.map_blocks(
        func,
        *arrays,
        new_axis=1,
        chunks=((1,) * x.numblocks[0], (width,)),
        dtype=dtype,
        **options,
    )


SUMMARY = ("points", "y_points", "bad_x", "bad_y", "bad_w", "negative", "positive", "lo", "hi")
"""What the first pass learns of each chunk (one row each; lo/hi over positive weights)."""


def _chunk_summary(x: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> FloatArray:
    """One chunk's sizes, NaN/inf and negative-weight counts and x range, as a (1, 9) row."""
    finite = np.isfinite(x)
    used = finite if w is None else finite & (w > 0)
    lo = float(x[used].min()) if used.any() else np.inf
    hi = float(x[used].max()) if used.any() else -np.inf
    bad_w = 0 if w is None else int((~np.isfinite(w)).sum())
    negative = 0 if w is None else int((w < 0).sum())
    positive = x.size if w is None else int((w > 0).sum())
    row = [x.size, y.size, (~finite).sum(), (~np.isfinite(y)).sum(), bad_w, negative, positive]
    return np.array([[*row, lo, hi]], dtype=np.float64)


def _chunk_gram(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    basis: Basis,
    domain: tuple[float, float],
    degree: int,
) -> FloatArray:
    """One chunk's ``[X'SX, X'Sy, y'Sy]`` flattened into a (1, P) row (float64)."""
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if w is not None:  # zero-weight points take no part (their features may not be finite)
        xs = np.where(np.asarray(w) > 0, xs, domain[0])
    a = _features(basis, xs, domain, degree)
    aw = a if w is None else a * np.asarray(w, dtype=np.float64)[:, None]
    yw = ys if w is None else ys * np.asarray(w, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow: refused from the totals
        row = np.concatenate([(aw.T @ a).ravel(), aw.T @ ys, [yw @ ys]])
    return row[None, :]


def _chunk_loss_grad(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    point: np.ndarray,
    basis: Basis,
    domain: tuple[float, float],
    degree: int,
) -> np.ndarray:
    """One chunk's ``[sum r^2, A'r]`` at ``point`` in the point's dtype, as a (1, D+2) row."""
    dtype = point.dtype
    xs = np.asarray(x, dtype=np.float64)
    if w is not None:
        xs = np.where(np.asarray(w) > 0, xs, domain[0])
    a = _features(basis, xs, domain, degree)
    b = np.asarray(y, dtype=np.float64)
    if w is not None:
        root = np.sqrt(np.asarray(w, dtype=np.float64))
        a, b = a * root[:, None], b * root
    a, b = a.astype(dtype), b.astype(dtype)
    r = b - a @ point
    return np.concatenate([[r @ r], a.T @ r])[None, :]


@dataclass(frozen=True, eq=False)
class DaskProblem(Problem):
    """A fit problem known by lazy arrays and their Gram statistics, never by all its points.

    ``x``, ``y`` and ``weights`` are dask arrays; :meth:`build` runs the two passes and keeps
    their result as a :class:`~gradpoly.gram.Gram` of one series, from which
    :class:`~gradpoly.problem.Problem` gives the loop everything it needs (the Gram system,
    its eigenvalues, lr auto, the stopping test, the conversion to monomials).
    """

    x: Any
    y: Any
    degree: int
    weights: Any
    basis: Basis
    count: int
    span: tuple[float, float]
    """The x range (the mapped domain), monomial fits included."""
    statistics: Gram
    """The two passes' Gram statistics (a batch of one), all the loop reads."""
    seconds: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "basis", Basis.parse(self.basis))

    @classmethod
    def build(
        cls, x: Any, y: Any, degree: int, weights: Any = None, basis: Basis | str = "monomial"
    ) -> DaskProblem:
        """Validate and summarise lazy data in two passes (range and checks; statistics)."""
        start = time.perf_counter()
        chosen, degree = Basis.parse(basis), validation.degree(degree)
        xs, ys = as_dask(x, "x"), as_dask(y, "y")
        ws = None if weights is None else as_dask(weights, "weights")
        if not (np.isnan(xs.shape[0]) or np.isnan(ys.shape[0])) and xs.shape != ys.shape:
            raise InvalidDataError(
                f"x and y must have the same length, got {xs.shape[0]} and {ys.shape[0]} points"
            )
        summaries = computed(per_chunk(_chunk_summary, xs, ys, ws, len(SUMMARY), np.float64))
        summary = dict(zip(SUMMARY, summaries.T, strict=True))
        count = int(summary["points"].sum())
        if summary["y_points"].sum() != count or np.any(summary["y_points"] != summary["points"]):
            raise InvalidDataError(
                f"x and y must have the same length and chunks, got {count} and "
                f"{int(summary['y_points'].sum())} points"
            )
        _check_summary(
            count,
            int(summary["bad_x"].sum()),
            int(summary["bad_y"].sum()),
            int(summary["negative"].sum()),
            int(summary["bad_w"].sum()),
            degree,
        )
        lo, hi = float(np.min(summary["lo"])), float(np.max(summary["hi"]))
        if not hi > lo and degree > 0:
            raise InvalidDataError(validation.too_few_distinct(degree, 1))
        reach = max(abs(lo), abs(hi))
        lo, hi = mapping.domain(lo, hi)
        if chosen is Basis.MONOMIAL:
            mapping.check_monomial(None, reach, degree)
        mapping.check_monomial((lo, hi), reach, degree)
        if ws is not None and int(summary["positive"].sum()) <= degree:
            raise InvalidDataError(
                f"degree {degree} needs at least {degree + 1} points with positive weight"
            )
        size = degree + 1
        width = size * size + size + 1
        rows = per_chunk(
            _chunk_gram, xs, ys, ws, width, np.float64, basis=chosen, domain=(lo, hi), degree=degree
        )
        total = np.asarray(computed(rows.sum(axis=0)), dtype=np.float64) / int(count)
        g = total[: size * size].reshape(size, size)
        c = total[size * size : size * size + size]
        mapped = None if chosen is Basis.MONOMIAL else (lo, hi)
        gram = Gram.single(g, c, float(total[-1]), mapped)
        seconds = time.perf_counter() - start
        problem = cls(xs, ys, degree, ws, chosen, int(count), (lo, hi), gram, seconds)
        problem.check_rank()
        return problem

    @property
    def chunks(self) -> int:
        """Number of chunks (Dask blocks) of the data."""
        return int(self.x.numblocks[0])

    def check_rank(self) -> None:
        """Too few distinct x values make G singular: say so (exact counting needs a sort)."""
        trouble = self.trouble(np.float64)
        if trouble is not None:
            raise InvalidDataError(trouble)
        eig = np.linalg.eigvalsh(self.gram.g[0])
        if not eig[0] > 1e-13 * eig[-1]:
            raise InvalidDataError(
                validation.too_few_distinct(
                    self.degree,
                    None,
                    f" (the Gram matrix in the {self.basis} basis is singular, smallest "
                    f"eigenvalue {eig[0]:.3g})",
                )
            )

    @property
    def gram(self) -> Gram:
        return self.statistics

    @property
    def n_points(self) -> int:
        return self.count

    @property
    def domain(self) -> tuple[float, float]:
        return self.span

    def loss_grad(self, point: np.ndarray) -> tuple[float, np.ndarray]:
        """One pass: the MSE at ``point`` and its gradient, summed over chunks."""
        rows = per_chunk(
            _chunk_loss_grad,
            self.x,
            self.y,
            self.weights,
            self.n_coef + 1,
            point.dtype,
            point=point,
            basis=self.basis,
            domain=self.span,
            degree=self.degree,
        )
        total = computed(rows.sum(axis=0))
        n = point.dtype.type(self.count)
        two = point.dtype.type(2.0)
        return total[0] / n, -two * total[1:] / n


def _check_summary(
    count: int, bad_x: int, bad_y: int, negative: int, bad_w: int, degree: int
) -> None:
    if count == 0:
        raise InvalidDataError("x is empty: at least degree + 1 points are needed")
    for name, bad in (("x", bad_x), ("y", bad_y), ("weights", bad_w)):
        if bad:
            raise InvalidDataError(
                f"{name} has {bad} NaN or inf value(s) among {count} points; drop them first "
                "(gradpoly.read_xy(..., lazy=True, drop_nan=True) does it chunk by chunk)"
            )
    if negative:
        validation.refuse_negative_weights(negative)
    if count <= degree:
        raise InvalidDataError(validation.too_few_distinct(degree, count))


class _ChunkedRunner(PerSampleRunner):
    """The seed's loop, exactly, with every step's loss and gradient one pass over the chunks."""

    def _load(self, problem: Problem, dtype: np.dtype[Any]) -> None:
        if not isinstance(problem, DaskProblem):
            raise InvalidOptionError("the chunked per-sample loop needs a DaskProblem")
        self.lazy = problem

    def loss_grad(self, point: np.ndarray) -> tuple[Any, np.ndarray]:
        return self.lazy.loss_grad(point)

    def advance(self, start: int, stop: int) -> float:
        if self.optimizer is not Optimizer.GD:
            return self.advance_momentum(start, stop)
        for k in range(start, stop):
            self.trace[k], grad = self.loss_grad(self.w)
            self.w -= self.lr * grad
        return float(self.trace[stop - 1])


@register
class DaskEngine(LoopEngine):
    """Dask arrays (threads by default, a cluster through an open distributed.Client)."""

    name: ClassVar[str] = "dask"
    strategies = (Strategy.GRAM, Strategy.PER_SAMPLE)
    optimizers = (Optimizer.GD, Optimizer.MOMENTUM, Optimizer.NESTEROV)
    library = DASK

    def fit(
        self, problem: Problem, config: FitConfig, progress: Progress | None = None
    ) -> FitResult:
        """Fit an in-memory problem through the chunked passes (what the CLI and tests call)."""
        self.check(config)
        if not isinstance(problem, FitProblem):  # lazy data: fit_lazy, built by fit_data
            raise InvalidOptionError("DaskEngine.fit takes points in memory; use fit_data")
        lazy = DaskProblem.build(
            problem.x, problem.y, problem.degree, problem.weights, problem.basis
        )
        return self.fit_lazy(lazy, config, progress)

    def fit_data(
        self,
        x: Any,
        y: Any,
        degree: int,
        weights: Any,
        basis: Basis | str,
        config: FitConfig,
        progress: Progress | None = None,
    ) -> FitResult:
        """Fit dask (or in-memory) arrays without gathering them: ``gradpoly.fit`` calls this."""
        self.check(config)
        return self.fit_lazy(DaskProblem.build(x, y, degree, weights, basis), config, progress)

    def fit_lazy(
        self, problem: DaskProblem, config: FitConfig, progress: Progress | None = None
    ) -> FitResult:
        """The shared loop on a summarised problem; the passes count as setup time."""
        result = super().fit(problem, config, progress)
        environment = result.environment | {
            "statistics_seconds": f"{problem.seconds:.6f}",
            "points": str(problem.count),
            "chunks": str(problem.chunks),
        }
        return replace(
            result,
            setup_seconds=result.setup_seconds + problem.seconds,
            environment=environment,
        )

    def start(self, problem: Problem, config: FitConfig) -> Runner:
        if config.strategy is Strategy.GRAM:
            return GramRunner(problem, config)
        return _ChunkedRunner(problem, config)
