"""Any input layout of the batched fits read into one shape: validated series, their Gram
statistics (y scaled by a power of two when far from 1), which series can be fitted and why
not, and how the layout solves. Both front doors run on this, whatever the input."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from gradpoly import rowwise, validation
from gradpoly.batched import backend_names, get_backend
from gradpoly.batched.base import (
    Batch,
    BatchBackend,
)
from gradpoly.batched.shared import SharedGram
from gradpoly.errors import (
    EngineUnavailableError,
    InvalidDataError,
)
from gradpoly.gram import Gram
from gradpoly.losses import Loss
from gradpoly.many.inputs import (
    Points,
    Progress,
    SharedInput,
    batch_points,
    long_or_batch,
    refuse_mask,
    shared_axis,
    shared_input,
    shared_points,
    storage_dtype,
)
from gradpoly.many.solve import shared_solve, solve_gram
from gradpoly.mapping import exact_scale
from gradpoly.options import Basis, Device, DType, auto_order

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def choose_backend(
    engine: str, device: Device | str, autograd: bool = False
) -> tuple[BatchBackend, Device]:
    """The batched backend for ``engine`` on ``device``, or EngineUnavailableError with why.

    ``engine="auto"``: the first available backend in :func:`gradpoly.options.auto_order`
    (the order ``fit`` uses too) that has autograd where the descent needs it: torch on a
    CUDA device or for autograd, else numba (one fused pass per series, compiled descent),
    else numpy. ``result.engine`` says which ran.
    """
    where = Device.parse(device)
    if engine == "auto":
        order = auto_order(where, autograd, backend_names())
        fits = [n for n in order if get_backend(n).autograd or not autograd]
        # the first that runs: later ones are not asked, so their libraries (torch, jax:
        # seconds to import) stay unimported where numba or numpy serves
        ready = next((n for n in fits if get_backend(n).availability(where).ok), None)
        if ready is None:
            reasons = "; ".join(get_backend(n).availability(where).reason for n in fits)
            raise EngineUnavailableError(f"no batched engine here runs this fit: {reasons}")
        engine = ready
    backend = get_backend(engine)
    available = backend.availability(where)
    if not available.ok:
        raise EngineUnavailableError(available.reason)
    return backend, where


BLOCK_SERIES = 65_536
"""Series handed to a backend at once: the unit of progress, and of memory for its scratch."""


def y_scale(y: FloatArray, loss: Loss = Loss.MSE, delta: float = 1.0) -> float:
    """The power of two y is divided by when it is far from 1 (an exact scaling), for every
    layout: 1 for L1, whose trajectory does not scale with y, and for a Huber delta that
    cannot follow the scale."""
    finite = y[np.isfinite(y)]
    scale = exact_scale(float(np.max(np.abs(finite)))) if finite.size else 1.0
    moved = delta / scale
    if scale == 1.0 or loss is Loss.L1 or not (np.isfinite(moved) and moved > 0):
        return 1.0
    return scale


def far_from_one(gram: Gram) -> bool:
    """Whether the statistics say y is far from 1 (``s`` outside 2^+-160 or not finite): only
    then is y scanned for its scale, so clean ordinary data pay no extra pass."""
    top = float(np.max(gram.s)) if gram.s.size else 0.0
    return not (2.0**-160 <= top <= 2.0**160)


def looks_singular(g: FloatArray) -> npt.NDArray[np.bool_]:
    """Gram matrices that may be singular: det(G) / prod(diag G) (1 for orthogonal columns, 0
    for singular G) below 1e-12. Only these have their distinct x counted (a sort)."""
    sign, logdet = np.linalg.slogdet(g)
    diagonal = np.einsum("bii->bi", g)
    with np.errstate(divide="ignore", invalid="ignore"):  # singular: -inf - -inf is NaN
        ratio = logdet - np.log(diagonal).sum(axis=1)
    return np.asarray(~((sign > 0) & (ratio > np.log(1e-12))))


def nan_error(
    rows: npt.NDArray[np.intp], points: list[int], masked: bool = False
) -> InvalidDataError:
    """The one error naming series with NaN or inf values where a point is used."""
    return InvalidDataError(
        f"{rows.size} series have NaN or inf values (series {rows[:5].tolist()}"
        f"{'...' if rows.size > 5 else ''}; in series {int(rows[0])}, points {points}); "
        + ("mask them, " if masked else "")
        + "clean them or pass drop_nan=True to leave those points out"
    )


def check_finite(batch: Batch, gram: Gram, degree: int) -> None:
    """Raise, naming series and points, when a series' statistics are not finite.

    NaN or inf anywhere in a series' x, y or weights propagates into its statistics, so only
    those series are searched; finite values too large to square overflow instead.
    """
    broken = ~(rowwise.finite(gram.g) & rowwise.finite(gram.c) & np.isfinite(gram.s))
    if degree == 0:  # a constant's statistics never see x: look at it
        broken |= ~np.isfinite(batch.x).all(axis=1)
    if not broken.any():
        return
    rows = np.flatnonzero(broken)
    bad = ~np.isfinite(batch.x[rows]) | ~np.isfinite(batch.y[rows])
    if batch.w is not None:
        bad |= ~np.isfinite(batch.w[rows])
    if not bad.any():
        raise InvalidDataError(
            f"{rows.size} series overflow float64 when squared (series {rows[:5].tolist()}); "
            "rescale x and y"
        )
    rows = rows[bad.any(axis=1)]
    raise nan_error(rows, np.flatnonzero(bad[bad.any(axis=1)][0])[:5].tolist())


def series_statistics(
    batch: Batch,
    degree: int,
    basis: Basis,
    backend: BatchBackend,
    device: Device,
    progress: Progress | None,
    loss: Loss = Loss.MSE,
    delta: float = 1.0,
) -> tuple[Batch, float, Gram, npt.NDArray[np.bool_], dict[int, str]]:
    """Gram statistics of every series and which series can be fitted, with y scaled.

    Returns the batch the statistics are of, the power of two its y was divided by, the
    statistics, validity and problems. y is scanned for its scale only when the statistics
    show it is far from 1 (:func:`far_from_one`); the scaling is exact (:func:`y_scale`).
    """
    gram = gram_pass(batch, degree, basis, backend, device, progress)
    scale = y_scale(batch.y, loss, delta) if far_from_one(gram) else 1.0
    if scale != 1.0:
        batch = replace(batch, y=batch.y / scale)
        gram = gram_pass(batch, degree, basis, backend, device, progress)
    valid, problems = series_validity(batch, gram, degree)
    return batch, scale, gram, valid, problems


def gram_pass(
    batch: Batch,
    degree: int,
    basis: Basis,
    backend: BatchBackend,
    device: Device,
    progress: Progress | None,
) -> Gram:
    """One pass of the backend over the series, block by block, with progress."""
    gram: Gram | None = None
    for start in range(0, batch.size, BLOCK_SERIES):
        part = slice(start, min(start + BLOCK_SERIES, batch.size))
        # NaN/inf in a series make its statistics non-finite: found by check_finite below.
        with np.errstate(invalid="ignore", over="ignore"):
            block = backend.statistics(batch.rows(part), degree, basis, device)
        if gram is None:
            gram = block if part.stop == batch.size else empty_like(block, batch.size)
        if gram is not block:
            for name in ("g", "c", "s", "domains"):
                getattr(gram, name)[part] = getattr(block, name)
        if progress is not None:
            progress(part.stop, batch.size)
    assert gram is not None  # a batch has at least one series
    return gram


def series_validity(
    batch: Batch, gram: Gram, degree: int
) -> tuple[npt.NDArray[np.bool_], dict[int, str]]:
    """Which series can be fitted: NaN/inf named (an error), too few distinct x flagged."""
    check_finite(batch, gram, degree)
    valid = np.ones(batch.size, dtype=bool)
    problems: dict[int, str] = {}
    # A series with fewer than D+1 distinct x values has a singular Gram matrix.
    suspect = np.flatnonzero(looks_singular(gram.g))
    if suspect.size:
        used = (
            np.ones_like(batch.x[suspect], dtype=bool) if batch.w is None else batch.w[suspect] > 0
        )
        distinct = distinct_counts(np.where(used, batch.x[suspect], np.nan))
        for b, found in zip(suspect.tolist(), distinct.tolist(), strict=True):
            if found > degree:
                continue  # ill-conditioned (e.g. high-degree monomials) but not singular
            valid[b] = False
            problems[b] = validation.too_few_distinct(degree, found)
    return valid, problems


def empty_like(block: Gram, count: int) -> Gram:
    """Room for ``count`` series' statistics shaped like ``block``'s."""
    g, c, s, domains = (
        np.empty((count, *getattr(block, f).shape[1:])) for f in ("g", "c", "s", "domains")
    )
    return Gram(g, c, s, domains)


def distinct_counts(x: FloatArray) -> npt.NDArray[np.int64]:
    """Distinct non-NaN values per row."""
    ordered = np.sort(x, axis=1)
    finite = np.isfinite(ordered)
    fresh = np.ones_like(ordered, dtype=bool)
    fresh[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return np.asarray((fresh & finite).sum(axis=1), dtype=np.int64)


def shared_statistics(
    data: SharedInput,
    degree: int,
    basis: Basis,
    backend: BatchBackend,
    device: Device,
    drop: bool,
    masked: bool,
    progress: Progress | None = None,
    loss: Loss = Loss.MSE,
    delta: float = 1.0,
) -> tuple[SharedInput, SharedGram, float, npt.NDArray[np.bool_], dict[int, str]]:
    """The data the statistics are of (y divided by a power of two when far from 1), the
    statistics, that power, validity and problems; ``progress`` hears of every series at
    once (one pass)."""
    found = backend.shared(data.x, data.y, data.weights, degree, basis, device)
    scale = y_scale(data.y, loss, delta) if far_from_one(found.gram) else 1.0
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
        refuse_gaps(data, found.gapped, masked)
    if not (np.isfinite(gram.c).all() and np.isfinite(gram.s).all()):
        raise InvalidDataError("y is too large to square in float64 even scaled; rescale y")
    valid, problems = shared_validity(data, found, degree)
    if progress is not None:
        progress(data.y.shape[0], data.y.shape[0])
    return data, found, scale, valid, problems


def refuse_gaps(data: SharedInput, gapped: npt.NDArray[np.bool_], masked: bool) -> None:
    """NaN/inf in y where a point is used: named, unless drop_nan (or a mask hides it)."""
    rows = np.flatnonzero(gapped)
    if not rows.size:
        return
    y = data.y if rows.size == data.y.shape[0] else data.y[rows]  # every row: no gather
    bad = ~np.isfinite(y)
    if not bad.any():
        return
    if data.weights is not None:
        weights = data.weights if data.weights.ndim == 1 else data.weights[rows]
        bad &= np.broadcast_to(weights > 0, bad.shape)
    hit = bad.any(axis=1)
    if not hit.any():
        return
    raise nan_error(rows[hit], np.flatnonzero(bad[hit][0])[:5].tolist(), masked)


def shared_validity(
    data: SharedInput, found: SharedGram, degree: int
) -> tuple[npt.NDArray[np.bool_], dict[int, str]]:
    """Clean series share one verdict (distinct x on the axis); gapped ones get their own."""
    count = data.y.shape[0]
    valid = np.ones(count, dtype=bool)
    problems: dict[int, str] = {}
    base = np.ones(data.x.size) if data.weights is None or data.weights.ndim == 2 else data.weights
    distinct = validation.distinct_count(data.x[base > 0])
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
        suspect = rows[looks_singular(found.gram.g[rows])]
        for b in suspect.tolist():
            weights = base if data.weights is None or data.weights.ndim == 1 else data.weights[b]
            used = (weights > 0) & np.isfinite(data.y[b])
            found_x = validation.distinct_count(data.x[used])
            if found_x <= degree:
                valid[b] = False
                problems[b] = validation.too_few_distinct(degree, found_x)
    return valid, problems


def shared_batch(data: SharedInput, found: SharedGram, points: bool) -> Batch:
    """The shared-axis data as a Batch (x broadcast, gaps at zero weight) when the descent
    needs the points (losses other than the MSE); else only the counts it divides by."""
    if not points:
        empty = np.empty((data.y.shape[0], 0))
        return Batch(empty, empty, None, found.counts)
    shape = data.y.shape
    finite = np.isfinite(data.y)
    if data.weights is None and bool(finite.all()):  # every point at weight 1: no copies
        return Batch(np.broadcast_to(data.x, shape), data.y, None, found.counts)
    weights = np.ones(shape) if data.weights is None else np.broadcast_to(data.weights, shape)
    weights = np.where(finite, weights, 0.0)
    y = np.where(finite, data.y, 0.0)
    return Batch(np.broadcast_to(data.x, shape), y, weights, found.counts)


class Layout(Protocol):
    """How the series lie: an x per series (a padded :class:`Batch`) or one shared axis. The
    closed-form solve and the descent's data are the two things that differ."""

    def solve(
        self, gram: Gram, basis: Basis, valid: BoolArray, problems: dict[int, str]
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Coefficients, design condition numbers and ``G^-1`` (see :func:`solve_gram`)."""
        ...

    def descent_batch(self, points: bool) -> Batch:
        """The data a descent reads: the points where its loss needs them, else the counts."""
        ...

    def log_weight_sums(self) -> FloatArray:
        """Each series' sum of the logs of its used points' weights (0 unweighted): the
        constant WLS adds to a log-likelihood."""
        ...

    def points(self) -> Points:
        """Each series' own points, for the few series solved again from them."""
        ...

    def point_rows(
        self, rows: npt.NDArray[np.intp]
    ) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        """Some series' points at once (:data:`gradpoly.many.sums.PointRows`)."""
        ...

    def leading(self, size: int, gram: Gram) -> tuple[Layout, Gram, BoolArray, dict[int, str]]:
        """The same series at degree ``size - 1``: its layout, statistics (the leading block
        of these), and which series that degree can fit, with the reasons."""
        ...


@dataclass(frozen=True, eq=False)
class PerSeries:
    """Each series on its own x, padded to one (B, N) batch."""

    batch: Batch

    def solve(
        self, gram: Gram, basis: Basis, valid: BoolArray, problems: dict[int, str]
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Batched Gram solves; ill-conditioned series again from their own points."""
        return solve_gram(gram, batch_points(self.batch), basis, valid, problems)

    def descent_batch(self, points: bool) -> Batch:
        """The padded batch itself."""
        return self.batch

    def points(self) -> Points:
        """See :meth:`Layout.points`."""
        return batch_points(self.batch)

    def point_rows(
        self, rows: npt.NDArray[np.intp]
    ) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        """See :meth:`Layout.point_rows` (padding at weight 0)."""
        w = self.batch.w
        return self.batch.x[rows], self.batch.y[rows], None if w is None else w[rows]

    def log_weight_sums(self) -> FloatArray:
        """See :meth:`Layout.log_weight_sums`."""
        w = self.batch.w
        if w is None:
            return np.zeros(self.batch.size)
        with np.errstate(divide="ignore"):
            return np.asarray(np.where(w > 0, np.log(w), 0.0).sum(axis=1), dtype=np.float64)

    def leading(self, size: int, gram: Gram) -> tuple[Layout, Gram, BoolArray, dict[int, str]]:
        """Degree ``size - 1`` of the same batch (see :meth:`Layout.leading`)."""
        lower = gram.leading(size)
        valid, problems = series_validity(self.batch, lower, size - 1)
        return self, lower, valid, problems


@dataclass(frozen=True, eq=False)
class SharedAxis:
    """Every series on one x axis: statistics and clean solves by matrix products over y."""

    data: SharedInput
    found: SharedGram

    def solve(
        self, gram: Gram, basis: Basis, valid: BoolArray, problems: dict[int, str]
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """One factorisation for the clean series; gapped ones as :class:`PerSeries` does."""
        return shared_solve(self.data, self.found, basis, valid, problems)

    def descent_batch(self, points: bool) -> Batch:
        """The axis broadcast to every series (gaps at zero weight), or only the counts."""
        return shared_batch(self.data, self.found, points)

    def points(self) -> Points:
        """See :meth:`Layout.points` (gaps as zero weight)."""
        return shared_points(self.data)

    def point_rows(
        self, rows: npt.NDArray[np.intp]
    ) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        """See :meth:`Layout.point_rows` (gaps at weight 0, their y 0)."""
        y, weights = self.data.y[rows], self.data.weights
        finite = np.isfinite(y)
        base = 1.0 if weights is None else (weights[rows] if weights.ndim == 2 else weights)
        return self.data.x, np.where(finite, y, 0.0), np.where(finite, base, 0.0)

    def log_weight_sums(self) -> FloatArray:
        """See :meth:`Layout.log_weight_sums` (gaps in y are not used)."""
        w, y = self.data.weights, self.data.y
        if w is None:
            return np.zeros(y.shape[0])
        with np.errstate(divide="ignore"):
            logs = np.where(w > 0, np.log(w), 0.0)
        if w.ndim == 1 and not self.found.gapped.any():  # one axis, every point used
            return np.full(y.shape[0], float(logs.sum()))
        return np.asarray(np.where(np.isfinite(y), logs, 0.0).sum(axis=1), dtype=np.float64)

    def leading(self, size: int, gram: Gram) -> tuple[Layout, Gram, BoolArray, dict[int, str]]:
        """Degree ``size - 1`` on the same axis (see :meth:`Layout.leading`)."""
        found = self.found.leading(size)
        valid, problems = shared_validity(self.data, found, size - 1)
        return SharedAxis(self.data, found), found.gram, valid, problems


@dataclass(frozen=True, eq=False)
class Prepared:
    """Validated series, the Gram statistics of y / ``scale`` and which series can be fitted:
    what either layout hands to the closed-form solve and to the descent, so that
    ``lstsq_many`` and ``fit_many`` are one pipeline each whatever the input's shape."""

    layout: Layout
    gram: Gram
    scale: float
    valid: BoolArray
    problems: dict[int, str]
    counts: FloatArray
    ids: tuple[str, ...] | None = None
    holds_inf: npt.NDArray[np.bool_] | None = None
    """Series whose y held an inf, left out as a gap (see ``ManyResult.holds_inf``)."""

    def solve(self, basis: Basis) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The least-squares solve of every valid series; a series found rank deficient on
        the way is marked invalid here (``valid`` and ``problems`` are updated)."""
        return self.layout.solve(self.gram, basis, self.valid, self.problems)

    def leading(self, size: int) -> Prepared:
        """The same series prepared for degree ``size - 1`` from these statistics (no pass
        over the data): the nested fits of a degree selection."""
        layout, gram, valid, problems = self.layout.leading(size, self.gram)
        return replace(self, layout=layout, gram=gram, valid=valid, problems=problems)


def prepare(
    x: Any,
    y: Any,
    degree: int,
    basis: Basis,
    backend: BatchBackend,
    device: Device,
    *,
    weights: Any,
    series: Any,
    mask: Any,
    drop: bool,
    storage: DType | str,
    progress: Progress | None,
    loss: Loss = Loss.MSE,
    delta: float = 1.0,
) -> Prepared:
    """Read any input layout of the batched front doors into :class:`Prepared`: a shared axis
    (x (N,) with y (B, N), or a broadcast x), else (B, N) arrays, ragged lists or long
    columns with ``series`` ids. The only place the two layouts part."""
    dtype = storage_dtype(storage)
    axis = shared_axis(x, y, series)
    if axis is not None:
        data = shared_input(axis, y, weights, mask, drop, dtype)
        data, found, scale, valid, problems = shared_statistics(
            data, degree, basis, backend, device, drop, mask is not None, progress, loss, delta
        )
        return Prepared(SharedAxis(data, found), found.gram, scale, valid, problems, found.counts,
                        holds_inf=found.holds_inf)  # fmt: skip
    refuse_mask(mask)
    batch, ids = long_or_batch(x, y, weights, series, drop, dtype)
    batch, scale, gram, valid, problems = series_statistics(
        batch, degree, basis, backend, device, progress, loss, delta
    )
    infinite = np.zeros(batch.size, dtype=bool) if batch.holds_inf is None else batch.holds_inf
    return Prepared(PerSeries(batch), gram, scale, valid, problems, batch.counts, ids, infinite)
