"""Reading the batched fits' inputs: (B, N) arrays, ragged lists (padded with zero weight),
long columns grouped by series id, or one shared axis with its weights and mask."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import validation
from gradpoly.batched.base import (
    Batch,
)
from gradpoly.errors import (
    InvalidDataError,
    InvalidOptionError,
)
from gradpoly.options import DType
from gradpoly.validation import float_array

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[int, int], None]
"""Called as ``progress(series_done, series_total)``."""


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


def long_or_batch(
    x: Any, y: Any, weights: Any, series: Any, drop_nan: bool, dtype: Any = np.float64
) -> tuple[Batch, tuple[str, ...] | None]:
    """A Batch from (B, N) arrays, ragged lists, or long columns with ``series`` ids."""
    if series is None:
        return as_batch(x, y, weights, drop_nan, dtype), None
    columns = (x, y) if weights is None else (x, y, weights)
    ids, grouped = group_long(series, *columns)
    ws = grouped[2] if weights is not None else None
    return as_batch(grouped[0], grouped[1], ws, drop_nan, dtype), tuple(ids)


def is_flat(x: Any) -> bool:
    """True for one 1-D sequence of numbers (a long column), not a list of series."""
    if isinstance(x, np.ndarray):
        return bool(x.ndim == 1)
    if not (isinstance(x, Sequence) and len(x) > 0):
        return False
    try:
        return bool(np.ndim(x[0]) == 0)
    except ValueError:  # a ragged first element: a series, checked later
        return False


def as_batch(x: Any, y: Any, weights: Any, drop_nan: bool, dtype: Any = np.float64) -> Batch:
    """Checked (B, N) arrays; ragged series padded with zero weight. No copy when clean."""
    if isinstance(x, np.ndarray) and x.ndim == 2:
        xb = float_array("x", x, copy=False, dtype=dtype)
        yb = float_array("y", y, copy=False, dtype=dtype)
        if yb.shape != xb.shape:
            raise InvalidDataError(
                f"x and y must have the same shape, got {xb.shape} and {np.shape(y)}"
            )
        wb = None if weights is None else broadcast_weights(weights, xb.shape, shared=False)
    else:
        xb, yb, wb = pad(x, y, weights, dtype)
    if xb.ndim != 2 or xb.shape[0] == 0 or xb.shape[1] == 0:
        raise InvalidDataError(
            f"x must be a (B, N) array or a list of 1-D arrays, got shape {xb.shape}"
        )
    holds_inf = None
    if drop_nan:
        bad = ~np.isfinite(xb) | ~np.isfinite(yb)
        if wb is not None:
            bad |= ~np.isfinite(wb)
        if bad.any():
            holds_inf = np.asarray(np.isinf(yb).any(axis=1))
            xb, yb = np.where(bad, 0.0, xb), np.where(bad, 0.0, yb)
            wb = np.where(bad, 0.0, 1.0 if wb is None else wb)
    # Without drop_nan, NaN/inf are caught after the statistics pass (they make that series'
    # statistics non-finite), which spares a pass over the data; see check_finite.
    if wb is not None:
        validation.nonnegative_weights(wb, ("series", "point"))
    if wb is None:
        counts = np.full(xb.shape[0], float(xb.shape[1]))
    else:
        counts = np.maximum(np.count_nonzero(wb > 0, axis=1), 1).astype(np.float64)
    return Batch(xb, yb, wb, counts, holds_inf)


def broadcast_weights(weights: Any, shape: tuple[int, ...], shared: bool) -> FloatArray:
    """Weights that broadcast to y's (B, N) by numpy's rules: (N,) or (1, N) per point,
    (B, 1) per series, (B, N), or a scalar. With ``shared``, weights the same for every
    series come back (N,) (one factorisation serves them all), else (B, N)."""
    w = float_array("weights", weights, copy=False)
    count, points = shape
    try:
        fits = np.broadcast_shapes(w.shape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        hint = (
            "; for one weight per series pass a (B, 1) array, e.g. weights[:, None]"
            if w.ndim == 1 and w.size == count
            else ""
        )
        raise InvalidDataError(
            f"weights must broadcast to y's shape {tuple(shape)}: ({points},) per point, "
            f"({count}, 1) per series, {tuple(shape)}, or a scalar; got {w.shape}{hint}"
        )
    if shared and (w.ndim < 2 or w.shape[0] == 1):
        return np.ascontiguousarray(np.broadcast_to(w.reshape(-1), (points,)))
    if w.shape == tuple(shape):
        return w
    return np.ascontiguousarray(np.broadcast_to(w, shape))


def pad(
    x: Any, y: Any, weights: Any, dtype: Any = np.float64
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Ragged lists of 1-D series -> padded (B, N) arrays with zero weight on the padding."""
    if is_flat(x):
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


@dataclass(frozen=True, eq=False)
class SharedInput:
    """Validated shared-axis data: the axis (N,), y (B, N) (gaps as NaN), weights None,
    (N,) or (B, N) (a mask folded in as zero weight)."""

    x: FloatArray
    y: FloatArray
    weights: FloatArray | None


def one_curve(x: Any, y: Any) -> bool:
    """x and y are one curve's points (1-D each), not B series (ragged lists included)."""
    try:
        return bool(np.ndim(x) == 1 and np.ndim(y) == 1)
    except ValueError:  # a ragged list of series
        return False


def shared_axis(x: Any, y: Any, series: Any) -> FloatArray | None:
    """The shared axis when x is 1-D and y 2-D, or x is (B, N) with one row repeated (a
    broadcast x); None for every other layout (its own x per series)."""
    if series is not None or not isinstance(x, np.ndarray | list | tuple):
        return None
    if not isinstance(x, np.ndarray) and not is_flat(x):
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


def shared_input(
    axis: FloatArray, y: Any, weights: Any, mask: Any, drop: bool, dtype: Any = np.float64
) -> SharedInput:
    """Check the shared-axis arrays; NaN in y is a gap only under ``drop_nan`` or ``mask``."""
    ys = float_array("y", y, copy=False, dtype=dtype)
    count, points = ys.shape
    if points == 0 or count == 0:
        raise InvalidDataError(f"y must hold at least one series and one point, got {ys.shape}")
    w = None if weights is None else broadcast_weights(weights, ys.shape, shared=True)
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


def refuse_mask(mask: Any) -> None:
    """``mask=`` belongs to a shared axis; with an x per series it is refused, with the way."""
    if mask is not None:
        raise InvalidOptionError(
            "mask= is for series on one shared axis (x of shape (N,)); with an x per "
            "series give the points zero weight instead"
        )


def storage_dtype(dtype: DType | str) -> Any:
    """The storage type of a batched fit's data (sums are always float64)."""
    return np.float32 if DType.parse(dtype) is DType.FLOAT32 else np.float64


Points = Callable[[int], tuple[FloatArray, FloatArray, "FloatArray | None"]]
"""Series b's ``(x, y, weights or None)``, for the few series solved again from their points."""


def batch_points(batch: Batch) -> Points:
    """:data:`Points` of a padded batch."""
    return lambda b: (batch.x[b], batch.y[b], None if batch.w is None else batch.w[b])


def shared_points(data: SharedInput) -> Points:
    """:data:`Points` of one series on the shared axis (gaps as zero weight)."""

    def points(b: int) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        y = data.y[b]
        base: Any = 1.0
        if data.weights is not None:
            base = data.weights[b] if data.weights.ndim == 2 else data.weights
        weights = np.where(np.isfinite(y), base, 0.0)
        return data.x, np.where(np.isfinite(y), y, 0.0), weights

    return points
