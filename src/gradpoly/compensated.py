"""Polynomial residuals and gradients to twice float64's precision, with float64 operations only.

Monomial coefficients are an ill-conditioned function of a mapped basis' coefficients: a
relative error of 1e-12 in the Chebyshev solution becomes 1e-8 in the monomials of a
degree-5 fit on [0, 20] (NIST's Wampler sets). The cure is iterative refinement of the
monomial coefficients themselves, which needs their residual ``y - p(x)`` and the gradient
``V^T W r`` of their normal equations computed more accurately than float64 gives. Both are
built here from error-free transformations (Knuth's TwoSum, Dekker's TwoProduct), as
compensated Horner (Graillat, Langlois and Louvet, 2005) and Dot2 (Ogita, Rump and Oishi,
2005) do: the results are as accurate as if computed in twice the working precision. Written
against NumPy alone, they give the same digits on every CPU (no extended precision, no fused
multiply-add assumed), vectorised over points and powers at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Pair = tuple[FloatArray, FloatArray]
"""An unevaluated sum ``high + low`` of two float64 arrays."""

_SPLITTER = 134217729.0  # 2**27 + 1: Dekker's split of a float64 into two 26-bit halves
SPLIT_LIMIT = 2.0**995
"""Above this magnitude Dekker's split overflows: such values are not handled here."""


def two_sum(a: FloatArray, b: FloatArray) -> Pair:
    """``(s, e)`` with ``s = fl(a + b)`` and ``s + e = a + b`` exactly (Knuth)."""
    s = a + b
    v = s - a
    return s, (a - (s - v)) + (b - v)


def _split(a: FloatArray) -> Pair:
    t = _SPLITTER * a
    high = t - (t - a)
    return high, a - high


def two_product(a: FloatArray, b: FloatArray) -> Pair:
    """``(p, e)`` with ``p = fl(a * b)`` and ``p + e = a * b`` exactly (Dekker), barring
    underflow; |a|, |b| must stay below :data:`SPLIT_LIMIT`."""
    p = a * b
    a1, a2 = _split(a)
    b1, b2 = _split(b)
    return p, a2 * b2 - (((p - a1 * b1) - a2 * b1) - a1 * b2)


EXACT_SUM_SIZE = 1 << 15
"""Up to this many terms, column sums are math.fsum's (correctly rounded); past it, a tree."""


def column_sums(values: FloatArray, errors: FloatArray) -> FloatArray:
    """``values.sum(0) + errors.sum(0)`` with every rounding of the first sum recovered.

    A pairwise tree of TwoSums down axis 0 (log2(N) vectorised levels): each level's rounding
    errors are exact, and summing them in float64 costs only a second-order error.
    """
    if values.size <= EXACT_SUM_SIZE:  # few terms: math.fsum rounds each sum exactly, faster
        both = np.concatenate([values, errors]).T.tolist()
        return np.array([math.fsum(column) for column in both])
    level = values
    carry = errors.sum(axis=0)
    while level.shape[0] > 1:
        if level.shape[0] % 2:  # an odd count: a zero row pairs with the last one
            level = np.concatenate([level, np.zeros_like(level[:1])])
        level, rounding = two_sum(level[0::2], level[1::2])
        carry = carry + rounding.sum(axis=0)
    return np.asarray(level[0] + carry, dtype=np.float64)


def _mul(a: Pair, b: Pair) -> Pair:
    """Double-float product ``a * b`` (both pairs), renormalised."""
    high, error = two_product(a[0], b[0])
    return _fast_renormal(high, error + (a[0] * b[1] + a[1] * b[0]))


def _fast_renormal(high: FloatArray, low: FloatArray) -> Pair:
    total = high + low
    return total, low - (total - high)


def mapped(x: FloatArray, mid: Any, half: Any) -> Pair:
    """``t = (x - mid) / half`` as a pair, its roundings kept (x an array or, compiled, a
    scalar; mid and half scalars)."""
    difference, rounding = two_sum(x, -mid)
    quotient = difference / half
    product, error = two_product(quotient, half)
    return _fast_renormal(quotient, ((difference - product) - error + rounding) / half)


def chebyshev_next(t: Pair, previous: Pair, before: Pair) -> Pair:
    """``T_k = 2 t T_{k-1} - T_{k-2}`` in pairs, renormalised (arrays or scalars alike)."""
    twice = _mul(t, previous)
    high, error = two_sum(2.0 * twice[0], -before[0])
    return _fast_renormal(high, error + (2.0 * twice[1] - before[1]))


@dataclass(frozen=True)
class Design:
    """A design matrix (N, size) as double-float pairs, exact to about twice float64's
    precision: the monomials ``x**k`` (:meth:`powers`) or Chebyshev polynomials of the
    mapped x (:meth:`chebyshev`), built once per fit and reused by every refinement step."""

    high: FloatArray
    low: FloatArray

    @classmethod
    def powers(cls, x: FloatArray, size: int) -> Design | None:
        """``x**k`` for k < size, or None where they leave the split's range (overflow)."""
        return cls._build(lambda k, previous: _mul(previous[-1], (x, np.zeros_like(x))), x, size)

    @classmethod
    def chebyshev(cls, x: FloatArray, mid: float, half: float, size: int) -> Design | None:
        """``T_k(t)`` at ``t = (x - mid) / half`` computed in pairs (the map too), k < size."""
        t = mapped(x, mid, half)

        def recurrence(k: int, previous: list[Pair]) -> Pair:
            return t if k == 1 else chebyshev_next(t, previous[-1], previous[-2])

        return cls._build(recurrence, x, size)

    @classmethod
    def _build(cls, column: Any, x: FloatArray, size: int) -> Design | None:
        high, low = np.empty((x.size, size)), np.empty((x.size, size))
        previous: list[Pair] = [(np.ones_like(x), np.zeros_like(x))]
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(1, size):
                previous.append(column(k, previous))
            for k, (h, lo) in enumerate(previous):
                high[:, k], low[:, k] = h, lo
        if not np.isfinite(low).all() or not float(np.max(np.abs(high))) < SPLIT_LIMIT:
            return None
        return cls(high, low)

    def residual(self, coef: FloatArray, y: FloatArray) -> Pair | None:
        """``y - design @ coef`` as a pair, accurate as if in twice float64's precision;
        None where the values leave the split's range."""
        with np.errstate(over="ignore", invalid="ignore"):
            products, errors = two_product(self.high, coef[None, :])
            errors = errors + self.low * coef[None, :]
            total, carry = products[:, 0], errors[:, 0]
            for k in range(1, coef.size):
                total, rounding = two_sum(total, products[:, k])
                carry = carry + (rounding + errors[:, k])
            difference, rounding = two_sum(y, -total)
            high, low = two_sum(difference, rounding - carry)
        if not (np.isfinite(high).all() and np.isfinite(low).all()):
            return None
        if not float(np.max(np.abs(total), initial=0.0)) < SPLIT_LIMIT:
            return None
        return high, low

    def gradient(self, r: Pair, weights: FloatArray | None) -> FloatArray:
        """``design^T W r`` as if in twice float64's precision (Dot2): at a near-optimal point
        a sum of large terms that cancel, which float64 alone cannot resolve."""
        r_high, r_low = r
        with np.errstate(over="ignore", invalid="ignore"):
            if weights is not None:  # w * (high + low), its rounding kept
                r_high, rounding = two_product(r_high, weights)
                r_low = r_low * weights + rounding
            products, errors = two_product(self.high, r_high[:, None])
            errors = errors + self.low * r_high[:, None] + self.high * r_low[:, None]
            return column_sums(products, errors)


class Refiner(Protocol):
    """What one refinement of monomial coefficients needs of the data, built once per fit."""

    def headroom(self, coef: FloatArray) -> tuple[float, float] | None:
        """``(max_i sum_k |x_i^k c_k|, max_i |p(x_i)|)``, or None where the designs leave the
        split's range (nothing can be refined)."""
        ...

    def gradient(
        self, coef: FloatArray, y: FloatArray, weights: FloatArray | None
    ) -> FloatArray | None:
        """``T^T W (y - V c)`` as if in twice float64's precision, or None where the residual
        or the gradient leaves float64 (the refinement stops)."""
        ...


@dataclass(frozen=True)
class Designs:
    """The refiner in NumPy: both designs as pairs, vectorised over points."""

    powers: Design | None
    basis: Design | None

    @classmethod
    def of(cls, x: FloatArray, mid: float, half: float, size: int) -> Designs:
        """The monomial and Chebyshev designs of x (on ``t = (x - mid) / half``)."""
        return cls(Design.powers(x, size), Design.chebyshev(x, mid, half, size))

    def headroom(self, coef: FloatArray) -> tuple[float, float] | None:
        if self.powers is None or self.basis is None:
            return None
        high = self.powers.high
        reach, value = np.zeros(high.shape[0]), np.zeros(high.shape[0])
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(high.shape[1]):  # term by term, not BLAS: one order on every CPU
                reach += np.abs(high[:, k]) * abs(coef[k])
                value += high[:, k] * coef[k]
            return float(np.max(reach)), float(np.max(np.abs(value)))

    def gradient(
        self, coef: FloatArray, y: FloatArray, weights: FloatArray | None
    ) -> FloatArray | None:
        if self.powers is None or self.basis is None:
            return None
        r = self.powers.residual(coef, y)
        if r is None:
            return None
        gradient = self.basis.gradient(r, weights)
        return gradient if bool(np.isfinite(gradient).all()) else None
