"""The Numba batched backend: one fused pass per series for the statistics, compiled descent.

MSE only: Numba has no autograd for other losses. The kernels live in ``_numba_kernels``.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

import numpy as np

from gradpoly import bases, mapping, monotone, threads
from gradpoly.batched import register
from gradpoly.batched.base import Batch, BatchEngine, Descent, Plan, Reweighting
from gradpoly.batched.batch import FloatArray
from gradpoly.engines.base import OptionalLibrary
from gradpoly.gram import Gram
from gradpoly.options import Basis, Device

NUMBA = OptionalLibrary("numba", "numba")

NORM_CODES = {"huber": 0, "bisquare": 1, "clip": 2}
""":mod:`gradpoly.robust`'s norms as the IRLS kernel numbers them."""

COMPILED_SHAPES_FROM = 1024
"""From this many curves a monotone fit's batched steps run compiled
(:class:`CompiledShapes`): below it NumPy's batched loop takes under about 60 ms, while a
fresh install's first compile of the kernels takes about 14 s (then they load from disk)."""

SPLIT_AT_LEAST = 64
"""Curves per core below which the compiled monotone steps run on one core."""

SERIES_AT_LEAST = 256
"""Series per core below which a serial statistics kernel runs in the calling thread alone (a
series of a few hundred points is summed in about a microsecond; a helper thread costs tens)."""


class CompiledShapes:
    """:class:`gradpoly.monotone.Shapes` by the kernels of ``_monotone_kernels``, the curves
    split across cores (the kernels release the GIL)."""

    def minimum_slope(
        self, w: np.ndarray, basis: Basis, sign: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from gradpoly.batched import _monotone_kernels

        count, size = w.shape
        if size < 2:  # a constant: its slope is 0, nothing to compile
            return monotone.NUMPY.minimum_slope(w, basis, sign)
        lowest, place, scale = np.empty(count), np.empty(count), np.empty(count)
        w = np.ascontiguousarray(w, dtype=np.float64)
        powers = np.ascontiguousarray(mapping.in_t(basis, size))

        def part(start: int, stop: int) -> None:
            _monotone_kernels.minimum_slope(w[start:stop], powers, float(sign),
                lowest[start:stop], place[start:stop], scale[start:stop])  # fmt: skip

        with np.errstate(all="ignore"):
            threads.spread(count, part, SPLIT_AT_LEAST)
        return lowest, place, scale

    def exchange(
        self, g: np.ndarray, c: np.ndarray, basis: Basis, sign: float, out: monotone.Shaped
    ) -> None:
        from gradpoly.batched import _monotone_kernels

        count, size = c.shape
        w = np.empty((count, size))
        rows = np.zeros((count, size - 1, size))
        state = np.zeros(count, dtype=np.int8)
        g = np.ascontiguousarray(g, dtype=np.float64)
        c = np.ascontiguousarray(c, dtype=np.float64)
        powers = np.ascontiguousarray(mapping.in_t(basis, size))
        rounding = monotone.rounding_unit(basis, size)
        limits = (
            monotone.EXCHANGES,
            monotone.SETTLE,
            monotone.CERTIFY,
            rounding,
            monotone.SAME_POINT,
        )

        def part(start: int, stop: int) -> None:
            _monotone_kernels.exchange(g[start:stop], c[start:stop], powers, float(sign),
                *limits, w[start:stop], rows[start:stop], state[start:stop])  # fmt: skip

        with np.errstate(all="ignore"):
            threads.spread(count, part, SPLIT_AT_LEAST)
        settled = state == _monotone_kernels.SETTLED
        out.w[settled] = w[settled]
        out.rows[settled] = rows[settled]
        out.found[settled] = True


@cache
def _kernels() -> tuple[Any, Any]:
    """The two kernels (compiled on first call, cached on disk by numba)."""
    NUMBA.load()
    from gradpoly.batched import _numba_kernels

    return _numba_kernels.statistics, _numba_kernels.descend


@register
class NumbaBatch(BatchEngine):
    """Numba on the CPU, all cores; MSE only."""

    name: ClassVar[str] = "numba"
    library: ClassVar[OptionalLibrary | None] = NUMBA

    def domains(self, batch: Batch) -> np.ndarray:
        """Room only: the kernel finds each series' domain in its own pass over the row."""
        return np.empty((batch.size, 2))

    def fill(self, batch: Batch, degree: int, basis: Basis, device: Device, out: Gram) -> None:
        kernel, _ = _kernels()
        w = np.empty((1, 1)) if batch.w is None else batch.w
        x, y = np.ascontiguousarray(batch.x), np.ascontiguousarray(batch.y)
        weighted = batch.w is not None
        mapped, recur = bases.rule(basis).mapped, bases.rule(basis).coefficients(degree)

        def part(start: int, stop: int) -> None:  # series [start, stop) on one core
            kernel(x[start:stop], y[start:stop], w[start:stop] if weighted else w, weighted,
                   batch.counts[start:stop], out.domains[start:stop], degree, mapped, recur,
                   out.g[start:stop], out.c[start:stop], out.s[start:stop])  # fmt: skip

        threads.spread(len(y), part, SERIES_AT_LEAST)

    def shared(
        self,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray | None,
        degree: int,
        basis: Basis,
        device: Device,
    ) -> Any:
        """One fused read of every row (clean rows: c and s; rows with gaps, or weights per
        series, their own G from cache); other layouts take the matrix-product path."""
        from gradpoly.batched import _numba_kernels
        from gradpoly.batched.shared import finish, prepare

        columns = not y.flags.c_contiguous and y.T.flags.c_contiguous  # (N, B) in memory
        each = weights is not None and weights.ndim == 2
        rows_w = (
            weights is not None and each and y.flags.c_contiguous and weights.flags.c_contiguous
        )
        if (each and not rows_w) or not (y.flags.c_contiguous or columns):
            return super().shared(x, y, weights, degree, basis, device)  # BLAS takes layouts
        NUMBA.load()
        count, size = y.shape[0], degree + 1
        with threads.quiet_blas(count):  # no BLAS thread left spinning into the kernel
            axis = prepare(x, weights, degree, basis)
        if rows_w:  # per-series weights: every series its own G, from its row in cache
            g, c, s = np.empty((count, size, size)), np.empty((count, size)), np.empty(count)
            counts, infinite = np.empty(count), np.zeros(count, dtype=bool)
            a, per = np.ascontiguousarray(axis.a.T), np.asarray(weights)

            def weighted(start: int, stop: int) -> None:  # series [start, stop) on one core
                with np.errstate(over="ignore", invalid="ignore"):
                    _numba_kernels.shared_statistics_weighted(y[start:stop], per[start:stop],
                        a, g[start:stop], c[start:stop], s[start:stop], counts[start:stop],
                        infinite[start:stop])  # fmt: skip

            threads.spread(count, weighted, SERIES_AT_LEAST)
            gapped = np.ones(count, dtype=bool)
            return finish(axis, count, g, c, s, counts, gapped, basis, infinite)
        g = np.broadcast_to(axis.shared_g, (count, size, size)).copy()
        c, s = np.empty((count, size)), np.empty(count)
        counts, gapped = np.full(count, axis.used), np.zeros(count, dtype=bool)
        infinite = np.zeros(count, dtype=bool)
        a, aw = np.ascontiguousarray(axis.a.T), np.ascontiguousarray(axis.aw.T)
        ones = threads.kernel_array(axis.ones)  # a user's read-only weights: no second compile
        with np.errstate(over="ignore", invalid="ignore"):
            if columns:
                upper = [(j, k) for j in range(size) for k in range(j, size)]
                pairs = np.ascontiguousarray(np.stack([aw[j] * a[k] for j, k in upper]))
                _numba_kernels.shared_statistics_columns(
                    y.T, aw, pairs, ones, axis.used, g, c, s, counts, gapped, infinite
                )
            else:
                _numba_kernels.shared_statistics(
                    y, a, aw, ones, axis.used, g, c, s, counts, gapped, infinite
                )
        return finish(axis, count, g, c, s, counts, gapped, basis, infinite)

    def descend(
        self, batch: Batch, gram: Gram, basis: Basis, plan: Plan, device: Device
    ) -> Descent:
        _, kernel = _kernels()
        count, size = gram.c.shape
        active = np.isfinite(plan.rate)
        w = np.zeros((count, size))
        steps_run = np.zeros(count, dtype=np.int64)
        trace = np.full((count, plan.steps), np.nan) if plan.traces else np.empty((1, 1))
        kernel(
            gram.g,
            gram.c,
            gram.s,
            np.nan_to_num(plan.rate),
            np.nan_to_num(plan.beta),
            plan.nesterov,
            plan.steps,
            plan.tol_scale is not None,
            np.zeros(count) if plan.tol_scale is None else plan.tol_scale,
            plan.traces,
            w,
            steps_run,
            active,
            trace,
        )
        return Descent(w, steps_run, active, trace if plan.traces else None)

    def shapes(self, count: int) -> monotone.Shapes:
        """The compiled kernels from :data:`COMPILED_SHAPES_FROM` curves, NumPy below."""
        if count < COMPILED_SHAPES_FROM:
            return monotone.NUMPY
        NUMBA.load()
        return CompiledShapes()

    def reweight(
        self, state: Reweighting, size: int, norm: str, tuning: float, tolerance: float, limit: int
    ) -> None:
        """Every active series' IRLS in one compiled loop (:func:`_numba_kernels.irls`), from
        its start where the scale is NaN; the series whose weighted system it leaves to the one
        conditioning verdict stay active, started."""
        NUMBA.load()
        from gradpoly.batched import _numba_kernels

        rows = np.flatnonzero(state.active)
        if rows.size == 0:
            return
        columns = np.column_stack(
            [state.scale, state.deviance, state.iterations, np.zeros((state.scale.size, 5))]
        )
        residuals = np.ascontiguousarray(state.residuals)
        weights = np.ascontiguousarray(state.weights)
        x = threads.kernel_array(_shared_row(state.x))
        y = threads.kernel_array(state.y)
        used = threads.kernel_array(state.used, bool)
        active = np.ascontiguousarray(state.active)
        recur = bases.rule(Basis.CHEBYSHEV).coefficients(size - 1)
        shared = x.shape[0] == 1

        def part(start: int, stop: int) -> None:  # rows [start, stop) on one core
            with np.errstate(all="ignore"):
                _numba_kernels.irls(  # one signature for every call: one cold compile (~2 s)
                    x if shared else x[start:stop], y[start:stop], used[start:stop], recur,
                    NORM_CODES[norm], float(tuning), float(tolerance), float(limit),
                    columns[start:stop], residuals[start:stop], weights[start:stop],
                    active[start:stop],
                )  # fmt: skip

        threads.spread(len(active), part, least=IRLS_ROWS)
        started = rows[np.isnan(state.scale[rows])]
        state.scale[started] = columns[started, 0]  # a series left to the caller keeps its start
        state.deviance[started] = columns[started, 1]
        done = rows[columns[rows, 4] == 0.0]
        if norm != "clip":
            state.h1[done] = columns[done, 5:8]
        state.scale[done] = columns[done, 0]
        state.deviance[done] = columns[done, 1]
        state.iterations[done] = columns[done, 2].astype(np.int64)
        state.converged[done] = columns[done, 3] == 1.0
        if residuals is not state.residuals:  # a copy was run: its finished rows go back
            state.residuals[done] = residuals[done]
        if weights is not state.weights:
            state.weights[done] = weights[done]
        state.active[done] = False


IRLS_ROWS = 8
"""Series per core at least when the IRLS kernel's rows are spread over the cores (one series
costs some 0.1 ms; fewer run in the calling thread)."""


def _shared_row(x: FloatArray) -> FloatArray:
    """x (B, N) as the IRLS kernel reads it: one axis broadcast to every series is its one
    row (1, N), not copied B times."""
    return x[:1] if x.shape[0] > 1 and x.strides[0] == 0 else x
