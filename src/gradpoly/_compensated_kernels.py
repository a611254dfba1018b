"""Numba kernels of :mod:`gradpoly.compensated`: one refinement step's residual and gradient,
point by point, with the same error-free transformations in the same order (bit for bit the
NumPy design's numbers) and no array built; imported only once a process has spent numba's
import on refinements (:func:`gradpoly.refining.refiner`).

No fast-math flags: LLVM then neither reassociates nor fuses a multiply and an add, so every
TwoSum and TwoProduct stays exact.
"""

from types import FunctionType
from typing import Any

import numpy as np
from numba import njit

from gradpoly import compensated
from gradpoly.compensated import SPLIT_LIMIT


def _compiled(function: Any, **jitted: Any) -> Any:
    """``function`` of :mod:`gradpoly.compensated` compiled as written there, its calls to
    other primitives bound to their compiled forms: one text of each transformation."""
    scope = {**vars(compensated), **jitted}
    return njit(FunctionType(function.__code__, scope, function.__name__))


_two_sum = _compiled(compensated.two_sum)
_two_product = _compiled(compensated.two_product, _split=_compiled(compensated._split))
_renormal = _compiled(compensated._fast_renormal)
_mul = _compiled(compensated._mul, two_product=_two_product, _fast_renormal=_renormal)
_mapped = _compiled(
    compensated.mapped, two_sum=_two_sum, two_product=_two_product, _fast_renormal=_renormal
)
_chebyshev_next = _compiled(
    compensated.chebyshev_next, _mul=_mul, two_sum=_two_sum, _fast_renormal=_renormal
)

OK, OUT_OF_RANGE, RESIDUAL_LOST, GRADIENT_LOST = 0, 1, 2, 3
"""What a kernel reports: done; the design leaves the split's range (nothing to refine); the
residual does; the gradient is not finite (the refinement stops)."""


@njit(cache=True)
def _designs(xi, mid, half, ph, pl, th, tl, i):
    """Row i of both designs, ``x**k`` and ``T_k(t)``, as :class:`compensated.Design` builds
    them; False where a value leaves the split's range."""
    size = ph.shape[1]
    ph[i, 0], pl[i, 0], th[i, 0], tl[i, 0] = 1.0, 0.0, 1.0, 0.0
    t = _mapped(xi, mid, half)
    for k in range(1, size):
        ph[i, k], pl[i, k] = _mul((ph[i, k - 1], pl[i, k - 1]), (xi, 0.0))
        if k == 1:
            th[i, k], tl[i, k] = t
        else:
            th[i, k], tl[i, k] = _chebyshev_next(
                t, (th[i, k - 1], tl[i, k - 1]), (th[i, k - 2], tl[i, k - 2])
            )
    for k in range(size):
        if not (np.isfinite(pl[i, k]) and np.isfinite(tl[i, k])):
            return False
        if not (abs(ph[i, k]) < SPLIT_LIMIT and abs(th[i, k]) < SPLIT_LIMIT):
            return False
    return True


@njit(cache=True)
def _greater(a, b):
    """``max`` as ``np.max`` takes it: NaN once either is NaN (Python's keeps the first)."""
    if np.isnan(a) or np.isnan(b):
        return np.nan
    return max(a, b)


@njit(cache=True)
def designs(x, mid, half, ph, pl, th, tl):
    """Both designs of every point as pairs, rows ``(ph + pl)[i] = x_i**k`` and ``(th + tl)[i]
    = T_k(t_i)`` ((N, size) each), built once per fit for every refinement step;
    OUT_OF_RANGE where a value leaves the split's range."""
    for i in range(x.size):
        if not _designs(x[i], mid, half, ph, pl, th, tl, i):
            return OUT_OF_RANGE
    return OK


@njit(cache=True)
def headroom(ph, coef, out):
    """``out = (max_i sum_k |x_i^k c_k|, max_i |sum_k x_i^k c_k|)`` in float64 from the
    powers' high parts: whether float64 monomials can hold the fit at all."""
    size = coef.size
    reach = value = 0.0
    for i in range(ph.shape[0]):
        row_reach = row_value = 0.0
        for k in range(size):
            row_reach += abs(ph[i, k]) * abs(coef[k])
            row_value += ph[i, k] * coef[k]
        reach = _greater(reach, row_reach)
        value = _greater(value, abs(row_value))
    out[0], out[1] = reach, value
    return OK


@njit(cache=True)
def exact_sum(values, count):
    """The correctly rounded sum of ``values[:count]`` (Shewchuk's partials, rounded half to
    even as ``math.fsum``); NaN where a partial sum overflows."""
    partials = np.empty(64)
    used = 0
    for j in range(count):
        x = values[j]
        kept = 0
        for p in range(used):
            y = partials[p]
            if abs(x) < abs(y):
                x, y = y, x
            high = x + y
            low = y - (high - x)
            if low != 0.0:
                partials[kept] = low
                kept += 1
            x = high
        if not np.isfinite(x):
            return np.nan
        if kept == partials.size:  # unreachable for finite float64 (about 40 at most)
            return np.nan
        partials[kept] = x
        used = kept + 1
    if used == 0:
        return 0.0
    used -= 1
    high = partials[used]
    low = 0.0
    while used > 0:
        x = high
        used -= 1
        y = partials[used]
        high = x + y
        low = y - (high - x)
        if low != 0.0:
            break
    if used > 0 and ((low < 0.0 and partials[used - 1] < 0.0) or
                     (low > 0.0 and partials[used - 1] > 0.0)):  # fmt: skip
        y = low * 2.0
        x = high + y
        if y == x - high:
            high = x
    return high


@njit(cache=True)
def gradient(ph, pl, th, tl, y, weights, weighted, coef, out):
    """``out = T^T W (y - V c)``, the residual of monomial coefficients ``c`` and the gradient
    of the Chebyshev design's normal equations (both designs from :func:`designs`), each as
    if in twice float64's precision: the numbers of ``Design.residual`` then
    ``Design.gradient``, with exact column sums."""
    size, count = coef.size, y.size
    terms = np.empty((size, 2 * count))
    for i in range(count):
        total, carry = _two_product(ph[i, 0], coef[0])
        carry = carry + pl[i, 0] * coef[0]
        for k in range(1, size):
            product, error = _two_product(ph[i, k], coef[k])
            error = error + pl[i, k] * coef[k]
            total, rounding = _two_sum(total, product)
            carry = carry + (rounding + error)
        if not abs(total) < SPLIT_LIMIT:
            return RESIDUAL_LOST
        difference, rounding = _two_sum(y[i], -total)
        r_high, r_low = _two_sum(difference, rounding - carry)
        if not (np.isfinite(r_high) and np.isfinite(r_low)):
            return RESIDUAL_LOST
        if weighted:
            r_high, rounding = _two_product(r_high, weights[i])
            r_low = r_low * weights[i] + rounding
        for k in range(size):
            product, error = _two_product(th[i, k], r_high)
            terms[k, i] = product
            terms[k, count + i] = (error + tl[i, k] * r_high) + th[i, k] * r_low
    for k in range(size):
        out[k] = exact_sum(terms[k], 2 * count)
        if not np.isfinite(out[k]):
            return GRADIENT_LOST
    return OK
