"""One validation layer: every parameter and every data array is checked here, once.

``fit``, ``fit_many``, ``lstsq_many``, ``lstsq``, the scikit-learn estimator, the dask engine
and the CLI all parse their options and data through these functions, so the same value gets
the same verdict (and the same message) whichever door it comes in by. Options raise
:class:`InvalidOptionError`, data :class:`InvalidDataError`.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly.errors import DataFileError, GradpolyError, InvalidDataError, InvalidOptionError

AUTO = "auto"
"""``lr="auto"``: the learning rate that is optimal for the quadratic loss."""

MAX_STEPS = 1_000_000_000
"""Most GD steps one fit may ask for: the trace keeps one number per step run."""

MAX_DEGREE = 1000
"""Highest degree accepted: beyond it float64 holds no meaningful polynomial coefficients."""

FloatArray = npt.NDArray[np.float64]


def _integer(name: str, value: Any, low: int, high: int) -> int:
    """An int in [low, high] from a Python or NumPy integer (never a bool or a float)."""
    if type(value) is int and low <= value <= high:  # the common case, checked first
        return value
    kind = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer >= {low}")
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise InvalidOptionError(f"{name} must be {kind}, got {value!r}")
    number = int(value)
    if number < low:
        raise InvalidOptionError(f"{name} must be {kind}, got {number}")
    if number > high:
        raise InvalidOptionError(f"{name} must be at most {high:,}, got {number:,}")
    return number


def real(name: str, value: Any, what: str = "a finite number") -> float:
    """A finite float from a real number (Python, NumPy) or its text; never a bool or complex.

    ``what`` completes the message ``"{name} must be {what}, got {value!r}"``.
    """
    if type(value) is float and math.isfinite(value):  # the common case, checked first
        return value
    if isinstance(value, bool | np.bool_) or value is None:
        raise _not_real(name, value, what)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _not_real(name, value, what) from None
    elif isinstance(value, numbers.Real):
        number = float(value)
    else:
        raise _not_real(name, value, what)
    if not math.isfinite(number):
        raise _not_real(name, value, what)
    return number


def _not_real(name: str, value: Any, what: str) -> InvalidOptionError:
    return InvalidOptionError(f"{name} must be {what}, got {value!r}")


def steps(value: Any) -> int:
    """The number of GD steps: an integer from 1 to :data:`MAX_STEPS`."""
    return _integer("steps", value, 1, MAX_STEPS)


def degree(value: Any, low: int = 0) -> int:
    """The polynomial degree: an integer from ``low`` to :data:`MAX_DEGREE`."""
    return _integer("degree", value, low, MAX_DEGREE)


def count(name: str, value: Any, low: int = 1, high: int = 1 << 31) -> int:
    """A positive count such as repeats or threads."""
    return _integer(name, value, low, high)


def lr(value: Any) -> float | str:
    """A positive finite learning rate, or ``"auto"``."""
    if isinstance(value, str) and value.strip() == AUTO:
        return AUTO
    number = real("lr", value, "a positive finite number or 'auto'")
    if number <= 0:
        raise InvalidOptionError(f"lr must be a positive finite number or 'auto', got {value!r}")
    return number


def tol(value: Any) -> float | None:
    """None (run every step) or a relative tolerance in (0, 1]."""
    if value is None:
        return None
    number = real("tol", value, "a positive number")
    if number <= 0:
        raise InvalidOptionError(f"tol must be a positive number, got {value!r}")
    if number > 1:
        raise InvalidOptionError(
            f"tol is a relative coefficient error: it must be a positive number at most 1, "
            f"got {value!r}"
        )
    return number


def name(what: str, value: Any) -> str:
    """A name (an engine's, a basis'...): text, else InvalidOptionError."""
    if not isinstance(value, str):
        raise InvalidOptionError(f"{what} must be a name (text), got {value!r}")
    return value


def level(value: Any) -> float:
    """A confidence level in (0, 1), e.g. 0.95."""
    number = real("level", value, "a number in (0, 1)")
    if not 0.0 < number < 1.0:
        raise InvalidOptionError(f"level must be a number in (0, 1), e.g. 0.95, got {value!r}")
    return number


def momentum(value: Any) -> float | None:
    """None (the optimizer's default) or a momentum coefficient in [0, 1)."""
    if value is None:
        return None
    number = real("momentum", value, "a number in [0, 1)")
    if not 0.0 <= number < 1.0:
        raise InvalidOptionError(f"momentum must be in [0, 1), got {value!r}")
    return number


def positive(what: str, value: Any) -> float:
    """A positive finite number (a factor, a scale)."""
    number = real(what, value, "a positive number")
    if number <= 0:
        raise InvalidOptionError(f"{what} must be a positive number, got {value!r}")
    return number


def huber_delta(value: Any) -> float:
    """Huber's delta: a positive finite number."""
    number = real("huber_delta", value, "a positive number")
    if number <= 0:
        raise InvalidOptionError(f"huber_delta must be positive, got {value!r}")
    return number


def flag(name: str, value: Any) -> bool:
    """A boolean option (Python or NumPy bool only: ``"no"`` would be truthy)."""
    if not isinstance(value, bool | np.bool_):
        raise InvalidOptionError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def float_array(name: str, values: Any, copy: bool = True, dtype: Any = np.float64) -> Any:
    """Real numbers as a float64 array (a copy, or the input itself when it already is one and
    ``copy`` is False: batches of series are read, never written), any shape; NaN and inf
    are kept. ``dtype=np.float32`` keeps them in float32 instead (batched fits that read
    float32 data), refusing values beyond float32's range.

    Refused with a message naming ``name``: complex numbers (never cut to their real part),
    text, objects that are not numbers, values beyond float64's range, and the masked points
    of a NumPy masked array (their mask would otherwise be ignored).
    """
    if np.ma.isMaskedArray(values) and np.ma.getmaskarray(values).any():
        hidden = int(np.ma.getmaskarray(values).sum())
        raise InvalidDataError(
            f"{name} is a masked array with {hidden} masked value(s); drop them first "
            f"(e.g. keep = ~{name}.mask) or give them zero weight"
        )
    detach = getattr(values, "detach", None)  # a torch tensor, perhaps requiring grad
    if callable(detach) and hasattr(values, "requires_grad"):
        values = detach().cpu()
    try:
        raw = np.asarray(values)
    except Exception as exc:  # array libraries raise their own types for what numpy refuses
        raise InvalidDataError(f"{name} must be numeric: {_first_line(exc)}") from None
    if raw.dtype.kind == "c":
        raise InvalidDataError(
            f"{name} is complex; gradpoly fits real data: pass {name}.real (or abs) explicitly"
        )
    if raw.dtype.kind in "USV":
        raise InvalidDataError(f"{name} must be numeric, got text ({raw.dtype})")
    if raw.dtype.kind == "M" or raw.dtype.kind == "m":
        raise InvalidDataError(
            f"{name} holds dates or durations ({raw.dtype}); convert them to numbers first, "
            f"e.g. gradpoly.timeaxis.numbers({name}, 'day') (days since 1970-01-01)"
        )
    try:
        exact = raw.dtype == dtype or raw.dtype.kind in "biu"  # never overflows: no errstate
        with contextlib.nullcontext() if exact else np.errstate(over="ignore", invalid="ignore"):
            arr = np.array(raw, dtype=dtype, copy=True if copy else None)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidDataError(f"{name} must be numeric: {_first_line(exc)}") from None
    if (
        raw.dtype.kind == "O"
        and raw.size
        and any(isinstance(v, complex | np.complexfloating) for v in raw.reshape(-1)[:1000])
    ):
        raise InvalidDataError(f"{name} holds complex numbers; gradpoly fits real data")
    width = np.dtype(dtype).itemsize
    if raw.dtype.kind in "fiu" and raw.dtype.itemsize > width:
        with np.errstate(invalid="ignore"):
            lost = np.isfinite(raw) & ~np.isfinite(arr)
        if lost.any():
            first = int(np.flatnonzero(lost.reshape(-1))[0])
            kind = np.dtype(dtype).name
            raise InvalidDataError(
                f"{name} has values beyond {kind}'s range (the first at flat index {first}); "
                + ("rescale it" if kind == "float64" else "use dtype='float64' or rescale it")
            )
    return arr


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def vector(name: str, values: Any) -> FloatArray:
    """A finite, non-empty 1-D float64 array (read-only copy), or InvalidDataError."""
    arr = float_array(name, values)
    if arr.ndim != 1:
        raise InvalidDataError(
            f"{name} must be 1-D, got shape {arr.shape}; pass a flat array (e.g. {name}.ravel())"
        )
    if arr.size == 0:
        raise InvalidDataError(f"{name} is empty; a fit needs at least one point per coefficient")
    if np.isfinite(arr).all():
        arr.setflags(write=False)
        return arr
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise InvalidDataError(
            f"{name} has {bad.size} non-finite value(s) (NaN or inf), the first at index "
            f"{bad[0]} ({arr[bad[0]]}); drop or fill them before fitting"
        )
    arr.setflags(write=False)
    return arr


def nonnegative_weights(values: Any, labels: tuple[str, ...] = ()) -> None:
    """Refuse any negative weight (NaN aside), naming the first and how many, in one line.

    The one check every entry point makes (``fit``, ``lstsq``, the batched fits, the
    estimator, Dask): a weight is an inverse variance, and a negative one turns a least-squares
    problem into an unbounded one. ``labels`` name the axes (e.g. ``("series", "point")``).
    """
    arr = np.asarray(values)
    with np.errstate(invalid="ignore"):
        negative = arr < 0
    if not bool(negative.any()):
        return
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(negative)), arr.shape))
    if labels:
        where = ", ".join(f"{label} {i}" for label, i in zip(labels, index, strict=False))
        first = f"{where} is {float(arr[index])!r}"
    else:
        first = f"weights[{', '.join(map(str, index))}] = {float(arr[index])!r}"
    refuse_negative_weights(int(negative.sum()), first)


def inverse_variance(
    weights: Any, sigma: Any, absolute_sigma: Any = False, nan_ok: bool = False, hint: str = ""
) -> Any:
    """The weights a fit uses, given ``weights`` (inverse variances) or ``sigma`` (standard
    deviations of y, as ``scipy.optimize.curve_fit`` takes them): ``1 / sigma**2``. One
    convention for every entry point; ``absolute_sigma`` is checked here too (it says the
    sigma, or the weights, are absolute rather than relative).

    A sigma of 0 or below is refused (an infinite weight, or none); NaN stays NaN where the
    entry point takes it as a gap (``nan_ok``), else it is refused here, by its name, with
    ``hint`` (e.g. ", or pass drop_nan=True"); inf gives weight 0. A list of arrays (ragged
    series) gives a list.
    """
    flag("absolute_sigma", absolute_sigma)
    if sigma is None:
        return weights
    if weights is not None:
        raise InvalidOptionError(
            "pass weights (inverse variances) or sigma (standard deviations), not both"
        )
    if isinstance(sigma, list | tuple) and sigma and np.ndim(sigma[0]) > 0:
        return [inverse_variance(None, part, nan_ok=nan_ok, hint=hint) for part in sigma]
    values = float_array("sigma", sigma)
    missing = np.flatnonzero(np.isnan(values.reshape(-1)))
    if missing.size and not nan_ok:
        raise InvalidDataError(
            f"sigma has {missing.size} NaN value(s), the first at flat index {int(missing[0])}; "
            f"drop those points first{hint}"
        )
    with np.errstate(invalid="ignore"):
        bad = values <= 0
    if bad.any():
        first = int(np.flatnonzero(bad.reshape(-1))[0])
        raise InvalidDataError(
            f"sigma must be positive (a standard deviation): {int(bad.sum())} value(s) are not,"
            f" the first at flat index {first} ({float(values.reshape(-1)[first])!r}); leave "
            "such points out or give them a finite positive sigma"
        )
    with np.errstate(over="ignore", divide="ignore"):
        weights = 1.0 / (values * values)
    if bool(np.any(np.isinf(weights))):
        raise InvalidDataError(
            "sigma has values so small that 1 / sigma**2 is beyond float64; rescale y and sigma"
        )
    return weights


def distinct_count(values: Any) -> int:
    """How many distinct values a 1-D array of finite numbers holds (``np.unique``'s count,
    by one sort and one comparison: a single fit's validation pays it on every call)."""
    ordered = np.sort(np.asarray(values).reshape(-1))
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1 if ordered.size else 0


def too_few_distinct(degree: int, found: int | None, why: str = "") -> str:
    """The one sentence for a fit with too few distinct x (with positive weight) for its
    degree, every path's (``fit``, ``lstsq``, each batched series, Dask): ``found`` where
    counted, else ``why`` says how it was seen."""
    got = f", got {found}" if found is not None else ""
    advice = (
        f"; use degree <= {found - 1} or more points"
        if found is not None and found > 0
        else "; lower the degree or add points"
    )
    return (
        f"degree {degree} needs at least {degree + 1} distinct x values with positive "
        f"weight{got}{why}{advice}"
    )


def refuse_negative_weights(count: int, first: str | None = None) -> None:
    """The one InvalidDataError for ``count`` negative weights, naming the ``first`` where known
    (a streamed source, such as Dask's chunks, knows only how many)."""
    if first is None:
        raise InvalidDataError(f"weights must be non-negative; {count} of them are negative")
    more = f" ({count} are negative)" if count > 1 else ""
    raise InvalidDataError(f"weights must be non-negative; {first}{more}")


MISSING_IDS = frozenset({"", "nan", "none", "null", "na", "n/a", "<na>"})
"""Id texts that mean "no id" (pandas' missing-value spellings), compared lower-case."""


def columns(
    source: object,
    wanted: Any,
    have: Any,
    where: str = "it has",
    error: type[GradpolyError] = DataFileError,
) -> None:
    """Every wanted column present exactly once among ``have``, or ``error`` naming
    ``source`` (a file, or a frame) and what is there: one check for every table reader."""
    names = [str(h) for h in have]
    gone = [c for c in wanted if c not in names]
    if gone:
        raise error(f"{source}: no column named {gone[0]!r}; {where} {', '.join(names) or 'none'}")
    for c in wanted:
        places = [str(i + 1) for i, h in enumerate(names) if h == c]
        if len(places) > 1:
            raise error(
                f"{source}: the column name {c!r} appears {len(places)} times (columns "
                f"{', '.join(places)}); rename the duplicates"
            )


def missing_ids(values: Any) -> npt.NDArray[np.bool_]:
    """Which series ids are missing: None, NaN, or an empty / NaN-like text."""
    raw = np.asarray(values, dtype=object).reshape(-1)
    return np.fromiter(
        (
            v is None
            or (isinstance(v, float | np.floating) and v != v)
            or str(v).strip().lower() in MISSING_IDS
            for v in raw
        ),
        dtype=bool,
        count=raw.size,
    )
