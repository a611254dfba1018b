"""The one shape of the Gram statistics, for one fit (B = 1) or many: what the closed form,
the gram-strategy descent, the batched backends, the Dask engine and the statistics read.

A weighted least-squares problem in a basis is summarised, exactly for the MSE, by
``G = X'SX/n``, ``c = X'Sy/n`` and ``s = y'Sy/n``: ``mse(w) = s - 2 c.w + w.G w`` and
``grad = 2 (G w - c)``. Every path builds these once and shares the type, so a sum computed
by one path and read by another cannot disagree in shape or meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Gram:
    """Per series: ``G = X'SX/n`` (B, D+1, D+1), ``c = X'Sy/n`` (B, D+1), ``s = y'Sy/n`` (B,).

    X holds the basis functions at each series' points mapped from ``domains`` (B, 2) to
    [-1, 1] (monomial: unmapped, domains NaN). The weighted MSE of w is ``s - 2c.w + w.Gw``.
    """

    g: FloatArray
    c: FloatArray
    s: FloatArray
    domains: FloatArray

    @classmethod
    def single(
        cls, g: FloatArray, c: FloatArray, s: float, domain: tuple[float, float] | None = None
    ) -> Gram:
        """One fit's statistics as a batch of one (``domain`` None: monomial, unmapped)."""
        span = (np.nan, np.nan) if domain is None else domain
        return cls(g[None], c[None], np.array([float(s)]), np.array([span], dtype=np.float64))

    @property
    def size(self) -> int:
        """Number of series, B."""
        return int(self.c.shape[0])

    def one(self) -> tuple[FloatArray, FloatArray, float]:
        """The statistics of a batch of one as ``(G, c, s)``."""
        if self.size != 1:
            raise ValueError(f"one() needs a batch of one, this one holds {self.size}")
        return self.g[0], self.c[0], float(self.s[0])

    def leading(self, size: int) -> Gram:
        """The statistics of the first ``size`` basis functions: the fit of degree
        ``size - 1`` (every basis here is graded, so its leading block is that degree's)."""
        return Gram(self.g[:, :size, :size], self.c[:, :size], self.s, self.domains)

    def mse(self, w: FloatArray) -> FloatArray:
        """Weighted MSE of each series at its coefficients ``w`` (B, D+1): ``s - 2c.w +
        w.Gw``, the one formula of every batched result's loss."""
        gw = np.einsum("bij,bj->bi", self.g, w)  # einsum: ~2x a batched matmul of small G
        return np.asarray(
            self.s - 2 * np.einsum("bi,bi->b", self.c, w) + np.einsum("bi,bi->b", w, gw)
        )
