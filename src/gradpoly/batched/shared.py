"""Series on one shared axis: the Gram statistics of B series from matrix products over y.

Most grids share one x: daily maps (time x lat x lon), spectra on one wavelength grid,
sensor logs on one clock. Then the features ``A`` (N, D+1) are built once, every clean
series' ``G`` is the same ``A' S A / n``, and ``c = Y (S A) / n`` is one matrix product with
all series at once. Series with gaps (NaN in y, a mask, or per-series weights) get their own
``G_b = M_b P / n_b`` from the same kind of product, ``P`` (N, (D+1)^2) holding the products
of feature pairs, so no series is visited by a Python loop. The backend supplies the array
library (:class:`Arrays`): NumPy's BLAS, torch on CPU or CUDA, or jax.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from gradpoly import rowwise
from gradpoly.batched.batch import domains_of
from gradpoly.gram import Gram
from gradpoly.mapping import features, mapped
from gradpoly.options import Basis

FloatArray = npt.NDArray[np.float64]


class Arrays(NamedTuple):
    """An array library for the products: its namespace, to-device, back-to-NumPy, and the
    context the products run in (jax's float64 switch; nothing for the others)."""

    xp: Any
    put: Any
    get: Any
    scope: Any = contextlib.nullcontext


NUMPY = Arrays(np, np.asarray, np.asarray)


@dataclass(frozen=True, eq=False)
class SharedGram:
    """Statistics of B series on one axis: ``gram`` (per series), which series have gaps,
    and each series' count of used points."""

    gram: Gram
    gapped: npt.NDArray[np.bool_]
    counts: FloatArray
    shared_g: FloatArray
    """The clean series' common ``G`` (D+1, D+1)."""
    holds_inf: npt.NDArray[np.bool_]
    """Series whose y held an inf (left out as a gap, as NaN is), seen by the same pass."""

    def leading(self, size: int) -> SharedGram:
        """The statistics of the fit of degree ``size - 1`` (:meth:`Gram.leading`)."""
        shared = self.shared_g[:size, :size]
        return SharedGram(self.gram.leading(size), self.gapped, self.counts, shared, self.holds_inf)


def shared_statistics(
    arrays: Arrays,
    x: FloatArray,
    y: FloatArray,
    weights: FloatArray | None,
    degree: int,
    basis: Basis,
    chunk: int = 8192,
) -> SharedGram:
    """Gram statistics of every row of ``y`` (B, N) on the axis ``x`` (N,).

    ``weights`` is None, (N,) (shared) or (B, N) (per series, zero = not used). NaN or inf in
    a row of y is a gap: that point gets zero weight (the caller has decided NaN is allowed).
    The domain is the axis' range over points with positive shared weight, for every series.
    """
    axis = prepare(x, weights, degree, basis)
    each_w = weights if weights is not None and weights.ndim == 2 else None
    with arrays.scope(), np.errstate(over="ignore", invalid="ignore"):
        return _products(arrays, axis, y, each_w, basis, chunk)


class Axis(NamedTuple):
    """What every series on the axis shares: domain (1, 2), features ``a`` (N, S), features
    times the shared weights, those weights (ones when none), their count and ``G``."""

    dom: FloatArray
    a: FloatArray
    aw: FloatArray
    ones: FloatArray
    used: float
    shared_g: FloatArray


def prepare(x: FloatArray, weights: FloatArray | None, degree: int, basis: Basis) -> Axis:
    """The shared part of the statistics, computed once for the whole grid."""
    shared_w = weights if weights is not None and weights.ndim == 1 else None
    dom = domains_of(x[None, :], None if shared_w is None else shared_w[None, :])
    t = mapped(x[None, :], dom, basis)[0] if basis is not Basis.MONOMIAL else x
    ones = np.ones_like(x) if shared_w is None else shared_w
    used = float(np.count_nonzero(ones > 0))
    with np.errstate(over="ignore", invalid="ignore"):  # huge monomials: refused by the caller
        a = np.stack(features(np, basis, t, degree), axis=1)  # (N, S)
        aw = a * ones[:, None]
        shared_g = aw.T @ a / used
    return Axis(dom, a, aw, ones, used, shared_g)


def finish(
    axis: Axis,
    count: int,
    g: FloatArray,
    c: FloatArray,
    s: FloatArray,
    counts: FloatArray,
    gapped: npt.NDArray[np.bool_],
    basis: Basis,
    holds_inf: npt.NDArray[np.bool_],
) -> SharedGram:
    """Assemble the result: per-series domains (the axis' for all; NaN for monomials)."""
    domains = np.repeat(axis.dom, count, axis=0)
    if basis is Basis.MONOMIAL:
        domains[:] = np.nan
    return SharedGram(Gram(g, c, s, domains), gapped, counts, axis.shared_g, holds_inf)


def _products(
    arrays: Arrays,
    axis: Axis,
    y: FloatArray,
    each_w: FloatArray | None,
    basis: Basis,
    chunk: int,
) -> SharedGram:
    """The matrix products of :func:`shared_statistics`, in ``arrays``' library."""
    a, ones, used = axis.a, axis.ones, axis.used
    count, size = y.shape[0], a.shape[1]
    g = np.broadcast_to(axis.shared_g, (count, size, size)).copy()  # 16 B^2 floats
    c = np.empty((count, size))
    s = np.empty(count)
    counts = np.full(count, used)
    xp, put, get, _ = arrays
    awd, onesd = put(axis.aw), put(ones)
    if each_w is None:  # per-series weights: every row is summed with its own, below
        for start in range(0, count, chunk):  # a gap's NaN spreads to its own row only
            part = slice(start, min(start + chunk, count))
            yd = put(y[part])
            c[part] = get(yd @ awd) / used
            s[part] = get(xp.einsum("bn,bn,n->b", yd, yd, onesd)) / used
        gapped = ~(rowwise.finite(c) & np.isfinite(s))
    else:
        gapped = np.ones(count, dtype=bool)
    rows = np.flatnonzero(gapped)
    holds_inf = np.zeros(count, dtype=bool)
    if rows.size:
        pairs = put((a[:, :, None] * a[:, None, :]).reshape(a.shape[0], size * size))
        ad = put(a)
        for start in range(0, rows.size, chunk):
            pick = rows[start : start + chunk]
            yr = y[pick]
            finite = np.isfinite(yr)
            holds_inf[pick] = np.isinf(yr).any(axis=1)
            mask = finite * (ones[None, :] if each_w is None else each_w[pick])
            z = np.where(finite, yr, 0.0)
            md, zd = put(mask), put(z)
            kept = np.count_nonzero(mask > 0, axis=1).astype(np.float64)
            n = np.maximum(kept, 1.0)  # a series with no point: sums of 0, and a count of 0
            g[pick] = get(md @ pairs).reshape(-1, size, size) / n[:, None, None]
            c[pick] = get((md * zd) @ ad) / n[:, None]
            s[pick] = get((md * zd * zd).sum(1)) / n
            counts[pick] = kept
    return finish(axis, count, g, c, s, counts, gapped, basis, holds_inf)
