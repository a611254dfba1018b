"""Which refiner a fit's monomial coefficients get (:mod:`gradpoly.compensated`): NumPy's,
or once a process has refined enough fits to repay Numba's import, the compiled one
(:mod:`gradpoly._compensated_kernels`). Both compute the same numbers; only the time differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from gradpoly import threads
from gradpoly.compensated import Designs, FloatArray, Refiner
from gradpoly.errors import CompiledWarning, warn


@dataclass(frozen=True)
class Compiled:
    """The refiner in Numba (:mod:`gradpoly._compensated_kernels`): the same operations point
    by point, both designs built once per fit (:meth:`of`); its gradients equal the NumPy
    refiner's bit for bit where the NumPy column sums are exact (``N (D+1) <=``
    :data:`gradpoly.compensated.EXACT_SUM_SIZE`), and are exact sums beyond."""

    kernels: ModuleType
    designs: tuple[FloatArray, FloatArray, FloatArray, FloatArray] | None
    """The powers' and the basis' high and low parts, (N, size) each; None out of range."""

    @classmethod
    def of(cls, kernels: ModuleType, x: FloatArray, mid: float, half: float, size: int) -> Compiled:
        """The refiner of points ``x`` on ``t = (x - mid) / half``."""
        built = tuple(np.empty((x.size, size)) for _ in range(4))
        status = kernels.designs(threads.kernel_array(x), mid, half, *built)
        return cls(kernels, built if status == kernels.OK else None)  # type: ignore[arg-type]

    def headroom(self, coef: FloatArray) -> tuple[float, float] | None:
        if self.designs is None:
            return None
        out = np.empty(2)
        self.kernels.headroom(self.designs[0], coef, out)
        return float(out[0]), float(out[1])

    def gradient(
        self, coef: FloatArray, y: FloatArray, weights: FloatArray | None
    ) -> FloatArray | None:
        if self.designs is None:
            return None
        out = np.empty(coef.size)
        w = np.empty(1) if weights is None else threads.kernel_array(weights)
        status = self.kernels.gradient(
            *self.designs, threads.kernel_array(y), w, weights is not None, coef, out
        )
        return out if status == self.kernels.OK else None


COMPILE_AFTER = 400
"""Refinements a process runs in NumPy before it loads Numba for the rest: about as long as
Numba's import takes (a one-off fit never waits for it; a loop of fits soon runs compiled)."""


@dataclass
class _Tier:
    """Which refiner this process uses: NumPy until :data:`COMPILE_AFTER` refinements have
    run, then Numba where it is installed. The numbers are the same either way."""

    runs: int = 0
    kernels: ModuleType | None = None
    missing: bool = False

    def compiled(self) -> ModuleType | None:
        self.runs += 1
        if self.kernels is None and not self.missing and self.runs > COMPILE_AFTER:
            self.kernels = _proven_kernels()
            self.missing = self.kernels is None
        return self.kernels


def _proven_kernels() -> ModuleType | None:
    """The compiled kernels, once they have reproduced the NumPy refiner's numbers here on a
    small weighted problem with rounding in every step; None (NumPy serves, with the same
    numbers) where numba is missing, and with one :class:`CompiledWarning` where the kernels
    cannot be built or loaded or do not agree (a numba that fused a multiply and an add)."""
    try:
        from gradpoly import _compensated_kernels
    except ImportError:
        return None  # no numba: NumPy serves every refinement
    x = np.linspace(-1.0, 3.0, 9)
    y, weights = np.sin(x), np.linspace(0.5, 2.0, 9)
    coef = np.array([0.1, -1.0 / 3.0, 0.7, 1.0 / 7.0])
    expected = Designs.of(x, 1.0, 2.0, coef.size)
    try:
        compiled = Compiled.of(_compensated_kernels, x, 1.0, 2.0, coef.size)
        room, room_expected = compiled.headroom(coef), expected.headroom(coef)
        agree = room == room_expected and all(
            _same(compiled.gradient(coef, y, w), expected.gradient(coef, y, w))
            for w in (None, weights)
        )
    except Exception as exc:  # numba could not compile or load them here: NumPy serves
        warn(f"the compiled refinement cannot run here ({exc}); NumPy's serves", CompiledWarning)
        return None
    if not agree:
        warn(
            "the compiled refinement does not reproduce NumPy's numbers here; NumPy's serves",
            CompiledWarning,
        )
        return None
    return _compensated_kernels


def _same(a: FloatArray | None, b: FloatArray | None) -> bool:
    return a is not None and b is not None and bool(np.array_equal(a, b))


_TIER = _Tier()


def refiner(x: FloatArray, mid: float, half: float, size: int) -> Refiner:
    """The refiner of one fit's points: compiled once this process has refined enough fits to
    repay Numba's import (:data:`COMPILE_AFTER`), else NumPy."""
    kernels = _TIER.compiled()
    if kernels is None:
        return Designs.of(x, mid, half, size)
    return Compiled.of(kernels, x, mid, half, size)
