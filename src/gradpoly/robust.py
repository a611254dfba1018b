"""Robust regression's pieces, for B series at once: the M-estimators' norms (Huber's and
Tukey's bisquare, with statsmodels' tuning constants), sigma clipping as a 0/1 norm, the MAD
scale, the IRLS stopping rule and the robust covariance.

They follow statsmodels' ``RLM`` (``statsmodels.robust``) so that its numbers are ours:
IRLS from the least-squares fit, the scale re-estimated by the MAD (about 0) after every
weighted fit, stopping when the deviance ``sum rho(r / s_wls)`` changes by at most ``tol``,
and the covariance ``H1`` (Huber's small-sample correction ``k``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from gradpoly import validation
from gradpoly.errors import InvalidOptionError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MAD_NORMAL: Final = 0.6744897501960817
"""The standard normal's 3/4 quantile: MAD / this estimates sigma for normal errors."""

TUNING: Final = {"huber": 1.345, "bisquare": 4.685, "clip": 3.0}
"""Default tuning constants: statsmodels' HuberT and TukeyBiweight (95% efficiency at the
normal), and 3 sigma for clipping."""


class Norm(Protocol):
    """One robust norm with its tuning constant ``c``: rho, psi = rho', psi' and the IRLS
    weights psi(z) / z, of standardized residuals z."""

    @property
    def name(self) -> str: ...
    @property
    def c(self) -> float: ...
    def rho(self, z: FloatArray) -> FloatArray: ...
    def psi(self, z: FloatArray) -> FloatArray: ...
    def psi_deriv(self, z: FloatArray) -> FloatArray: ...
    def weights(self, z: FloatArray) -> FloatArray: ...


@dataclass(frozen=True)
class Huber:
    """Huber's norm: least squares within ``c`` standardized residuals, absolute beyond."""

    c: float = TUNING["huber"]
    name: str = "huber"

    def rho(self, z: FloatArray) -> FloatArray:
        a = np.abs(z)
        m = np.minimum(a, self.c)  # z^2/2 inside, c|z| - c^2/2 beyond: m (|z| - m/2)
        return np.asarray(m * (a - 0.5 * m), dtype=np.float64)

    def psi(self, z: FloatArray) -> FloatArray:
        return np.clip(z, -self.c, self.c)

    def psi_deriv(self, z: FloatArray) -> FloatArray:
        return np.where(np.abs(z) <= self.c, 1.0, 0.0)

    def weights(self, z: FloatArray) -> FloatArray:
        return np.asarray(self.c / np.maximum(np.abs(z), self.c), dtype=np.float64)  # min(1, c/|z|)


@dataclass(frozen=True)
class Bisquare:
    """Tukey's bisquare (biweight): points beyond ``c`` standardized residuals get weight 0."""

    c: float = TUNING["bisquare"]
    name: str = "bisquare"

    def rho(self, z: FloatArray) -> FloatArray:
        c = self.c
        inside = c * c / 6.0 * (1.0 - (1.0 - (z / c) ** 2) ** 3)
        return np.where(np.abs(z) <= c, inside, c * c / 6.0)

    def psi(self, z: FloatArray) -> FloatArray:
        return np.where(np.abs(z) <= self.c, z * (1.0 - (z / self.c) ** 2) ** 2, 0.0)

    def psi_deriv(self, z: FloatArray) -> FloatArray:
        u = (z / self.c) ** 2
        return np.where(np.abs(z) <= self.c, (1.0 - u) * (1.0 - 5.0 * u), 0.0)

    def weights(self, z: FloatArray) -> FloatArray:
        return np.where(np.abs(z) <= self.c, (1.0 - (z / self.c) ** 2) ** 2, 0.0)


@dataclass(frozen=True)
class Clip:
    """Sigma clipping: least squares on the points within ``c`` standard deviations."""

    c: float = TUNING["clip"]
    name: str = "clip"

    def rho(self, z: FloatArray) -> FloatArray:
        return np.where(np.abs(z) <= self.c, 0.5 * z * z, 0.5 * self.c * self.c)

    def psi(self, z: FloatArray) -> FloatArray:
        return np.where(np.abs(z) <= self.c, z, 0.0)

    def psi_deriv(self, z: FloatArray) -> FloatArray:
        return np.where(np.abs(z) <= self.c, 1.0, 0.0)

    def weights(self, z: FloatArray) -> FloatArray:
        return np.where(np.abs(z) <= self.c, 1.0, 0.0)


NORMS: Final[dict[str, type[Huber] | type[Bisquare] | type[Clip]]] = {
    "huber": Huber,
    "bisquare": Bisquare,
    "clip": Clip,
}


def norm(name: str, tuning: float | None = None) -> Norm:
    """A norm by name (``"huber"``, ``"bisquare"``, ``"clip"``), with its default tuning."""
    key = str(name).lower()
    if key not in NORMS:
        raise InvalidOptionError(f"norm must be one of {', '.join(NORMS)}, got {name!r}")
    if tuning is None:
        return NORMS[key]()
    return NORMS[key](validation.positive("tuning", tuning))


def mad(residuals: FloatArray, used: BoolArray) -> FloatArray:
    """Each row's median absolute residual (about 0) over its used points, / 0.6745: the
    normal-consistent MAD of ``statsmodels.robust.scale.mad(r, center=0)``."""
    if used.all():
        return np.asarray(np.median(np.abs(residuals), axis=1) / MAD_NORMAL, dtype=np.float64)
    masked = np.where(used, np.abs(residuals), np.nan)
    with np.errstate(all="ignore"):
        return np.asarray(np.nanmedian(masked, axis=1) / MAD_NORMAL, dtype=np.float64)


def clip_scale(residuals: FloatArray, kept: BoolArray, params: int) -> FloatArray:
    """Sigma clipping's scale: the residual standard deviation of the kept points,
    ``sqrt(sum r^2 / (n_kept - p))``."""
    n = kept.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(
            np.sqrt(np.where(kept, residuals**2, 0.0).sum(axis=1) / (n - params)), dtype=np.float64
        )


def h1_sums(z: FloatArray, used: BoolArray, chosen: Norm) -> FloatArray:
    """What the H1 covariance needs of each row's used standardized residuals z, (B, 3):
    ``sum psi(z)^2``, ``mean psi'(z)`` and ``var psi'(z)`` (a fused IRLS loop gives the same
    three for the series it runs)."""
    n = used.sum(axis=1).astype(np.float64)
    psi = np.where(used, chosen.psi(z), 0.0)
    deriv = np.where(used, chosen.psi_deriv(z), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = deriv.sum(axis=1) / n
        variance = np.where(used, (deriv - mean[:, None]) ** 2, 0.0).sum(axis=1) / n
    return np.stack([np.sum(psi**2, axis=1), mean, variance], axis=1)


def h1_factor(sums: FloatArray, n: FloatArray, scale: FloatArray, params: int) -> FloatArray:
    """The factor (B,) that turns ``(X'X)^-1`` into statsmodels' ``H1`` robust covariance,
    from :func:`h1_sums`: ``k^2 (sum psi(z)^2 s^2 / (n - p)) / (mean psi'(z))^2`` with
    ``k = 1 + p / n * var psi'(z) / mean psi'(z)^2`` (Huber 1981)."""
    psi2, mean, variance = sums[:, 0], sums[:, 1], sums[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 1.0 + params / n * variance / mean**2
        return np.asarray(k**2 * (psi2 * scale**2 / (n - params)) / mean**2, dtype=np.float64)


def covariance_factor(
    z: FloatArray, used: BoolArray, scale: FloatArray, params: int, chosen: Norm
) -> FloatArray:
    """:func:`h1_factor` of :func:`h1_sums`: the H1 factor of rows of standardized residuals
    ``z``, ``used`` their points, ``scale`` their robust scale."""
    n = used.sum(axis=1).astype(np.float64)
    return h1_factor(h1_sums(z, used, chosen), n, scale, params)
