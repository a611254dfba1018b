"""Losses other than MSE: the per-point penalty rho of ``mean(rho(r))`` on residuals r = b - A w.

They run wherever an engine has autograd (the gradient is the engine's), written with
operators that torch and jax share, plus ``where`` from the array library. Weights are
folded into the rows as for MSE, so a weighted robust loss is ``mean(rho(sqrt(s) r))``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradpoly.choices import Choice
from gradpoly.errors import InvalidOptionError

LossFunction = Callable[[Any], Any]
"""A user loss: residuals (the engine's array type, shape (N,)) -> a scalar of that type."""


class Loss(Choice):
    """Named losses. ``huber`` equals ``mse`` on residuals within ``delta``."""

    MSE = "mse"
    HUBER = "huber"
    L1 = "l1"


def penalty(loss: Loss, delta: float, where: Callable[..., Any]) -> Callable[[Any], Any]:
    """rho(r) for a named loss, built from operators and the library's ``where``.

    huber: ``r**2`` for ``|r| <= delta``, else ``2 delta |r| - delta**2`` (continuous slope),
    so a huge delta gives exactly the MSE.
    """
    if loss is Loss.HUBER:
        return lambda r: where(abs(r) <= delta, r * r, 2 * delta * abs(r) - delta * delta)
    if loss is Loss.L1:
        return abs
    return lambda r: r * r


def penalty_grad(loss: Loss, delta: float, r: np.ndarray) -> np.ndarray:
    """d rho / d r in numpy (float64 reference): 2r, 2 clip(r, -delta, delta), or sign(r)."""
    if loss is Loss.HUBER:
        return 2 * np.clip(r, -delta, delta)
    if loss is Loss.L1:
        return np.sign(r)
    return 2 * r


def describe(loss: Loss | str | LossFunction) -> str:
    """The loss as text for configs and JSON: its name, or ``callable:<function name>``."""
    if callable(loss):
        return f"callable:{getattr(loss, '__name__', type(loss).__name__)}"
    return str(Loss.parse(loss))


def check_value(value: Any, name: str, library: str) -> None:
    """A user loss must return one finite scalar of the engine's array library, computed from
    the residuals (so autograd can differentiate it); say exactly what it returned otherwise."""
    if not hasattr(value, "shape") or isinstance(value, np.ndarray | np.generic):
        raise InvalidOptionError(
            f"loss {name} must return a {library} scalar computed from the residuals with "
            f"{library} operations, but returned {type(value).__name__} {value!r:.60}"
        )
    shape = tuple(value.shape)
    if shape != ():
        raise InvalidOptionError(
            f"loss {name} must return a scalar, but returned an array of shape {shape}; "
            "reduce it (e.g. .mean())"
        )
    number = float(value)
    if not np.isfinite(number):
        raise InvalidOptionError(f"loss {name} returned {number} at w = 0; it must be finite")
