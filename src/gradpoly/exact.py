"""Exact least squares in rational arithmetic: the reference for hard (ill-conditioned) data.

Floats are converted to fractions exactly, so the normal equations, solved by fraction
Gaussian elimination, give the exact optimum of the float data whatever the conditioning. It
is slow (small problems only) and is what the hard-set tests and benchmark measure against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources

import numpy as np
import numpy.typing as npt

from gradpoly import bases

FloatArray = npt.NDArray[np.float64]


def exact_lstsq(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    degree: int,
    weights: npt.ArrayLike | None = None,
    basis: str = "monomial",
    domain: tuple[float, float] | None = None,
) -> FloatArray:
    """Coefficients (increasing) of the exact weighted least-squares optimum.

    ``basis="monomial"``: in x. ``"chebyshev"``/``"legendre"``: in that basis of x mapped
    from ``domain`` to [-1, 1] (exactly, in fractions), as gradpoly's fits report them in
    ``basis_coef``.
    """
    xs = [Fraction(float(v)) for v in np.asarray(x, dtype=np.float64)]
    ys = [Fraction(float(v)) for v in np.asarray(y, dtype=np.float64)]
    ws = (
        [Fraction(1)] * len(xs)
        if weights is None
        else [Fraction(float(v)) for v in np.asarray(weights, dtype=np.float64)]
    )
    if basis != "monomial":
        lo, hi = (Fraction(float(v)) for v in (domain or (min(xs), max(xs))))
        xs = [(v - (lo + hi) / 2) / ((hi - lo) / 2) for v in xs]
    size = degree + 1
    rows = [_basis_row(basis, t, size) for t in xs]
    zero = Fraction(0)
    a: list[list[Fraction]] = [
        [sum((w * r[i] * r[j] for w, r in zip(ws, rows, strict=True)), zero) for j in range(size)]
        + [sum((w * yv * r[i] for w, yv, r in zip(ws, ys, rows, strict=True)), zero)]
        for i in range(size)
    ]
    for col in range(size):
        pivot = next(r for r in range(col, size) if a[r][col] != 0)
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(size):
            if r != col and a[r][col] != 0:
                f = a[r][col] / a[col][col]
                a[r] = [u - f * v for u, v in zip(a[r], a[col], strict=True)]
    return np.array([float(a[i][size] / a[i][i]) for i in range(size)])


def _basis_row(basis: str, t: Fraction, size: int) -> list[Fraction]:
    """The basis functions 0..size-1 at t, exactly, by their three-term recurrences."""
    return bases.terms(basis, t, size - 1, Fraction(1))


def hard_set(seed: int = 17) -> list[tuple[str, FloatArray, FloatArray, int]]:
    """A seeded set of hard problems: (kind, x, y, degree) — clustered, shifted, nearly
    interpolating and wide-range data, each with some noise."""
    rng = np.random.default_rng(seed)
    problems: list[tuple[str, FloatArray, FloatArray, int]] = []
    for k in range(6):
        degree = 5 + k % 5
        half = (degree + 3) // 2
        x = np.concatenate([-1 + 0.1 * rng.random(half), 1 - 0.1 * rng.random(half)])
        problems.append(
            ("clustered", x, np.sin(3 * x) + 1e-3 * rng.standard_normal(x.size), degree)
        )
    for k in range(6):
        degree = 3 + k % 4
        x = 1e3 + np.sort(rng.random(30))
        problems.append(("shifted", x, np.cos(x - 1e3) + 1e-3 * rng.standard_normal(30), degree))
    for k in range(6):
        degree = 4 + k % 5
        x = np.sort(rng.uniform(-2, 3, degree + 2))
        problems.append(
            ("nearly interpolating", x, np.exp(x / 3) + rng.standard_normal(x.size), degree)
        )
    for k in range(6):
        degree = 3 + k % 4
        x = np.sort(rng.uniform(0, 100, 40))
        problems.append(("wide", x, np.sqrt(x) + 0.1 * rng.standard_normal(40), degree))
    return problems


def relative_error(coef: npt.ArrayLike, exact: npt.ArrayLike) -> float:
    """max |coef - exact| / max |exact| (inf when coef is not finite)."""
    c, e = np.asarray(coef, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    if not np.isfinite(c).all():
        return float("inf")
    return float(np.max(np.abs(c - e)) / max(float(np.max(np.abs(e))), np.finfo(float).tiny))


@dataclass(frozen=True)
class CertifiedSet:
    """One polynomial set of NIST's StRD linear regression suite with its certified values."""

    name: str
    difficulty: str
    x: FloatArray
    y: FloatArray
    degree: int
    coef: FloatArray
    """Certified coefficients, increasing powers."""
    stderr: FloatArray
    """Certified standard deviations of the coefficients."""
    residual_std: float
    r_squared: float


def certified_sets() -> list[CertifiedSet]:
    """NIST StRD's polynomial sets (Norris, Pontius, Wampler1-5, Filip), easiest first."""
    text = resources.files("gradpoly").joinpath("data/nist_strd.json").read_text("utf-8")
    return [
        CertifiedSet(
            name,
            entry["difficulty"],
            np.asarray(entry["x"], dtype=np.float64),
            np.asarray(entry["y"], dtype=np.float64),
            int(entry["degree"]),
            np.asarray(entry["beta"], dtype=np.float64),
            np.asarray(entry["sd"], dtype=np.float64),
            float(entry["residual_sd"]),
            float(entry["r_squared"]),
        )
        for name, entry in json.loads(text)["sets"].items()
    ]


def digits(value: npt.ArrayLike, certified: npt.ArrayLike) -> float:
    """NIST's log relative error, the fewest correct significant digits over the entries:
    ``-log10(|v - c| / |c|)`` (``-log10 |v - c|`` where c = 0), capped at 15."""
    v = np.atleast_1d(np.asarray(value, dtype=np.float64))
    c = np.atleast_1d(np.asarray(certified, dtype=np.float64))
    if not np.isfinite(v).all():
        return 0.0
    error = np.abs(v - c) / np.where(c == 0, 1.0, np.abs(c))
    with np.errstate(divide="ignore"):
        lre = np.where(error == 0, 15.0, -np.log10(error))
    return float(np.clip(lre, 0.0, 15.0).min())
