"""The map of x's domain to [-1, 1] and back to monomials, safe over all of float64.

Every path (``fit``, ``lstsq``, the batched engines, the estimator, dask) maps x with these
functions, so they agree on one rule: the domain is the range of x over the points with
positive weight; ``t = (x - mid) / half`` with ``mid = lo/2 + hi/2`` and ``half = hi/2 - lo/2``
(halving first, so neither overflows even for x near +-1e308). Converting coefficients in t
back to monomials in x is checked: where float64 cannot hold them, the caller is told why.
"""

from __future__ import annotations

import math
from functools import cache
from math import comb
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import bases, rowwise
from gradpoly.errors import InvalidDataError
from gradpoly.options import Basis

FloatArray = npt.NDArray[np.float64]


SCALE_BAND = (2.0**-40, 2.0**40)
"""Values whose largest magnitude lies outside this band are scaled by a power of two."""


def exact_scale(top: float) -> float:
    """A power of two s with ``top / s`` of order 1 when ``top`` is outside :data:`SCALE_BAND`,
    else 1. Dividing by a power of two is exact in floating point, so a fit of y / s times s
    is exactly the fit of y: any representable y can be fitted without overflow."""
    if top == 0.0 or not np.isfinite(top) or SCALE_BAND[0] <= top <= SCALE_BAND[1]:
        return 1.0
    exponent = min(max(int(np.frexp(top)[1]), -1021), 1023)  # a normal number: exact
    return float(np.ldexp(1.0, exponent))


def domains(lo: npt.ArrayLike, hi: npt.ArrayLike) -> FloatArray:
    """(..., 2) domains from x ranges; a single point gets a small interval around itself."""
    low, high = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    width = np.maximum(np.abs(low), 1.0) / 1024.0  # lo +- width never overflows
    flat = ~(high > low)
    return np.stack([np.where(flat, low - width, low), np.where(flat, low + width, high)], -1)


def domain(lo: float, hi: float) -> tuple[float, float]:
    """:func:`domains` for one x range, as a tuple (the same operations on Python floats)."""
    low, high = float(lo), float(hi)
    if high > low:
        return low, high
    width = max(abs(low), 1.0) / 1024.0
    return low - width, low + width


def affine(dom: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``(scale, shift)`` with ``t = scale * x + shift`` mapping ``dom`` (..., 2) to [-1, 1]."""
    d = np.asarray(dom, dtype=np.float64)
    lo, hi = d[..., 0], d[..., 1]
    mid, half = 0.5 * lo + 0.5 * hi, 0.5 * hi - 0.5 * lo
    return 1.0 / half, -mid / half


def midpoint(dom: npt.ArrayLike) -> tuple[float, float]:
    """``(mid, half)`` of one domain, with ``t = (x - mid) / half`` as :func:`to_unit` maps."""
    lo, hi = np.asarray(dom, dtype=np.float64).tolist()
    return 0.5 * lo + 0.5 * hi, 0.5 * hi - 0.5 * lo


def to_unit(x: Any, lo: Any, hi: Any) -> Any:
    """x mapped from [lo, hi] to [-1, 1]; works on NumPy, torch and JAX arrays alike."""
    mid, half = 0.5 * lo + 0.5 * hi, 0.5 * hi - 0.5 * lo
    return (x - mid) / half


def mapped(x: Any, domains: Any, basis: Basis) -> Any:
    """x (B, N) mapped from each series' domain (B, 2) to [-1, 1]; monomials keep x as it
    is (their domains are NaN)."""
    if basis is Basis.MONOMIAL:
        return x
    return to_unit(x, domains[:, 0:1], domains[:, 1:2])


def basis_to_monomial(coef: FloatArray, doms: FloatArray, basis: Basis) -> FloatArray:
    """Basis coefficients (B, D+1) on each mapped domain (B, 2) -> monomials in each x.

    ``t = a x + b``, so ``t^j = sum_k C(j, k) a^k b^(j-k) x^k``; entries float64 cannot hold
    come out inf or 0 (see :func:`check_monomial`).
    """
    if basis is Basis.MONOMIAL:
        return np.array(coef, dtype=np.float64, copy=True)
    size = coef.shape[1]
    if rowwise.one_row(doms):  # one fit, or one shared axis: one matrix
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            shared = monomial_matrices(doms[:1], basis, size)[0]
            return np.asarray(coef @ shared.T, dtype=np.float64)
    powers = coef @ in_t(basis, size).T
    alpha, beta = affine(doms)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        alpha_k = np.cumprod(np.column_stack([np.ones_like(alpha)] + [alpha] * (size - 1)), axis=1)
        beta_k = np.cumprod(np.column_stack([np.ones_like(beta)] + [beta] * (size - 1)), axis=1)
        out = np.zeros_like(coef)
        for j in range(size):
            for k in range(j + 1):
                out[:, k] += comb(j, k) * powers[:, j] * beta_k[:, j - k]
        return np.asarray(out * alpha_k, dtype=np.float64)


@cache
def in_t(basis: Basis, size: int) -> FloatArray:
    """(size, size): column j is basis function j as a monomial in t (computed once)."""
    out = np.stack(
        [_padded(bases.rule(basis).to_monomial(np.eye(size)[j]), size) for j in range(size)], axis=1
    )
    out.setflags(write=False)
    return out


def monomial_matrices(doms: FloatArray, basis: Basis, size: int) -> FloatArray:
    """(B, size, size) matrices M with ``monomial coef = M @ basis coef`` on each domain.

    ``t = a x + b``, so ``t^j = sum_k C(j, k) a^k b^(j-k) x^k`` and, with T taking basis
    functions to powers of t, ``M[k, i] = a^k sum_p b^p C(k+p, k) T[k+p, i]``: one product of
    the powers of b with constant matrices (:func:`_shifted`), then a scaling by ``a^k``.
    """
    count = doms.shape[0]
    if basis is Basis.MONOMIAL:
        return np.broadcast_to(np.eye(size), (count, size, size)).copy()
    one = midpoint(doms[0]) if count == 1 else None
    if one is not None and one[1] != 0.0:  # one fit: affine's operations on floats
        mid, half = one
        alpha, beta = np.array([1.0 / half]), np.array([-mid / half])
    else:
        alpha, beta = affine(doms)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        alpha_k, beta_p = _powers(alpha, size), _powers(beta, size)
        summed = (beta_p @ _shifted(basis, size).reshape(size, -1)).reshape(count, size, size)
        return np.asarray(summed * alpha_k[:, :, None], dtype=np.float64)


def _powers(base: FloatArray, size: int) -> FloatArray:
    """(B, size): ``base**0 .. base**(size-1)`` by repeated products (one fit: a short loop)."""
    if base.shape[0] == 1:
        value, row = float(base[0]), [1.0]
        for _ in range(size - 1):
            row.append(row[-1] * value)
        return np.array([row])
    ones = np.ones_like(base)
    return np.asarray(
        np.cumprod(np.column_stack([ones] + [base] * (size - 1)), axis=1), dtype=np.float64
    )


@cache
def _shifted(basis: Basis, size: int) -> FloatArray:
    """(size, size, size): ``K[p, k, i] = C(k+p, k) T[k+p, i]`` (zero past the degree)."""
    t = in_t(basis, size)
    out = np.zeros((size, size, size))
    for p in range(size):
        for k in range(size - p):
            out[p, k] = comb(k + p, k) * t[k + p]
    out.setflags(write=False)
    return out


def _padded(values: npt.ArrayLike, size: int) -> FloatArray:
    out = np.zeros(size)
    v = np.asarray(values, dtype=np.float64)
    out[: v.size] = v
    return out


def monomial_trouble(dom: tuple[float, float] | None, x_max: float, degree: int) -> str | None:
    """Why monomial coefficients of degree ``degree`` cannot live in float64 here, or None.

    With a mapped basis (``dom`` given) the coefficients carry ``(1 / half)^k``: beyond
    float64 when the domain is very narrow or very wide. With monomial features (``dom``
    None) ``x**degree`` itself must stay finite and not vanish.
    """
    if degree == 0:
        return None
    if dom is None:
        if x_max == 0.0:
            return None
        power = degree * np.log2(x_max)
        if power >= 1024:
            return f"x reaches {x_max:.3g}, so x**{degree} overflows float64"
        if power < -1022:  # below float64's smallest normal number
            return f"x is at most {x_max:.3g}, so x**{degree} vanishes in float64"
        return None
    lo, hi = float(dom[0]), float(dom[1])
    mid, half = midpoint(dom)  # affine's scale and shift from these, on Python floats
    scale = reach = math.inf  # an empty domain (half 0) maps nowhere
    if half != 0.0:
        alpha, beta = 1.0 / half, -mid / half
        scale = float(np.log2(abs(alpha))) * degree
        reach = float(np.log2(abs(alpha) * (abs(beta) + 1.0))) * degree
    if scale < -1022 or scale >= 1024 or reach >= 1024:
        return (
            f"x spans [{lo:.3g}, {hi:.3g}]: the monomial coefficients of a degree-{degree} "
            "polynomial there are beyond float64's range"
        )
    return None


def beyond_float64(doms: FloatArray, degree: int) -> npt.NDArray[np.bool_]:
    """Per domain (B, 2): whether degree-``degree`` monomial coefficients there leave float64
    (the vectorised test of :func:`monomial_trouble` for mapped bases)."""
    if degree == 0:
        return np.zeros(doms.shape[0], dtype=bool)
    if doms.shape[0] > 1 and rowwise.one_row(doms):  # one shared axis: one verdict
        return np.repeat(beyond_float64(doms[:1], degree), doms.shape[0])
    alpha, beta = affine(doms)
    with np.errstate(divide="ignore"):
        scale = np.log2(np.abs(alpha)) * degree
        reach = np.log2(np.abs(alpha) * (np.abs(beta) + 1.0)) * degree
    return np.asarray(~((scale >= -1022) & (scale < 1024) & (reach < 1024)), dtype=bool)


def check_monomial(dom: tuple[float, float] | None, x_max: float, degree: int) -> None:
    """Raise InvalidDataError (naming the scale and the remedy) where :func:`monomial_trouble`."""
    trouble = monomial_trouble(dom, x_max, degree)
    if trouble is not None:
        scale = 10.0 ** np.floor(np.log10(max(x_max, np.finfo(float).tiny)))
        raise InvalidDataError(
            f"{trouble}; rescale x (for example x / {scale:.0e}) or lower the degree"
        )


def features(xp: Any, basis: Basis, t: Any, degree: int) -> list[Any]:
    """Basis functions 0..D at mapped points ``t`` by the basis' three-term recurrence
    (:mod:`gradpoly.bases`), in ``xp``'s arrays."""
    return bases.terms(basis, t, degree, xp.ones_like(t))
