"""The gradpoly exception family.

Every error the library raises on purpose is a :class:`GradpolyError`; each subclass also
inherits the builtin it refines, so existing ``except ValueError`` clauses keep working.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType

import numpy as np

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class GradpolyError(Exception):
    """Base class of every error gradpoly raises on purpose; the message says what to do.

    The message is always one line (text quoted from other libraries is folded), so the CLI
    prints every error as exactly one line.
    """

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (" ".join(args[0].split()), *args[1:])
        super().__init__(*args)


class InvalidDataError(GradpolyError, ValueError):
    """The data cannot be fitted: empty, wrong shape, mismatched, non-finite, too few points."""


class DataTypeError(InvalidDataError, TypeError):
    """The data hold values of a type that cannot be numbers (objects, dicts, text)."""


class DataShapeError(InvalidDataError, TypeError):
    """Arrays of the wrong number of dimensions or mismatched lengths, where numpy's own
    functions raise ``TypeError`` (the numpy drop-ins): code catching either keeps working."""


class InvalidOptionError(GradpolyError, ValueError):
    """An option is unknown, out of range, or not supported by the chosen engine."""


class EngineUnavailableError(GradpolyError, RuntimeError):
    """The engine or device exists in gradpoly but not on this machine (library or GPU missing)."""


class DivergenceError(GradpolyError, FloatingPointError):
    """Gradient descent diverged: the loss became non-finite or rose above its starting value.

    Attributes
    ----------
    step : int
        The first step whose loss was non-finite or above the starting loss.
    loss : float
        That loss.
    lr : float
        The learning rate that diverged.
    lr_max : float
        The largest stable learning rate for this data, ``2 / lambda_max`` of the loss Hessian.
    """

    def __init__(
        self, step: int, loss: float, lr: float, lr_max: float, detail: str | None = None
    ) -> None:
        self.step, self.loss, self.lr, self.lr_max = step, loss, lr, lr_max
        what = detail or f"loss became {loss:.3g} at step {step} with lr={lr:g}"
        super().__init__(f"{what}; {advice(lr, lr_max)}")


def advice(lr: float, lr_max: float) -> str:
    """What to do about a divergence: a smaller lr only when one was computed and is smaller.

    ``lr_max`` is the stability limit on this data; a suggestion is made only when it is
    finite, positive and below the rate that failed (else lowering lr cannot be the cure).
    """
    if not (lr_max == lr_max and 0.0 < lr_max < float("inf")):
        return "no stable learning rate could be computed for this data; check its scale"
    if lr < lr_max:
        return (
            f"lr={lr:g} is below the stability limit {lr_max:.3g} of this data, so the rise is "
            "not a step-size problem: the loss overshoots early (momentum) or the precision "
            "is too low (try dtype='float64')"
        )
    return f"the largest stable lr here is {lr_max:.3g} (try lr <= {0.9 * lr_max:.3g})"


class ConvergenceWarning(UserWarning):
    """A fit ran but did not converge: its ``stop_reason`` says why (e.g. it stopped at its
    precision's rounding floor above ``tol``), as scikit-learn's ConvergenceWarning does."""


class RepresentationWarning(UserWarning):
    """Monomial coefficients that float64 cannot evaluate back into the fit (x far from 0 for
    the degree): use the result's ``predict()`` or ``polynomial()``, which use the basis."""


class CalibrationWarning(UserWarning):
    """Some measured values have no inverse prediction (NaN): outside the values the curve
    takes on the range of its standards, or reached twice; the message says how many and why."""


class UnfittedWarning(UserWarning):
    """Some series of a batched fit could not be fitted (their coefficients are NaN); the
    message gives how many and the first reason (``ManyResult.problems`` has them all)."""


class UnfittedRankWarning(UnfittedWarning, np.exceptions.RankWarning):
    """:class:`UnfittedWarning` of the xarray drop-in, also numpy's ``RankWarning``: series
    whose design is rank deficient are NaN there (xarray returns minimum-norm coefficients),
    and code that filters or catches numpy's ``RankWarning`` around ``polyfit`` keeps
    working."""


class DataFileError(GradpolyError, OSError):
    """A data file is missing, unreadable, or its contents are not numeric columns."""


class OutputError(DataFileError):
    """An output cannot be written: not a regular file, an input of the run, a missing folder,
    or the write itself failed (full disk, permissions); the previous file is left intact."""


class CacheError(GradpolyError, OSError):
    """The cache folder or a file in it fails a safety check (another owner, writable by others,
    a link, not a regular file) or cannot be used; gradpoly then runs without the cache."""


class CompiledWarning(UserWarning):
    """Compiled code gradpoly uses for speed alone cannot be used here (it failed to build or
    load, or did not reproduce the NumPy path's numbers): the NumPy path runs, and gives the
    same numbers."""


class CacheWarning(UserWarning):
    """A cached file was ignored, or the cache could not be used: the one line says why. The fit
    still runs (what it needed was built anew, in memory or in a safe place)."""


def warn(message: str, category: type[Warning]) -> None:
    """Warn at the first frame outside gradpoly (the user's line), however deep inside the
    package the warning is raised and however many wrappers the front door has: a
    hand-counted ``stacklevel`` goes stale whenever a call path changes (Python 3.12's
    ``skip_file_prefixes``, for 3.11)."""
    frame: FrameType | None = sys._getframe(1)
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level)
