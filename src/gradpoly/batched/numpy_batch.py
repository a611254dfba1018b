"""The NumPy batched backend: Gram statistics by batched matmul in cache-sized chunks."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from gradpoly.batched import register
from gradpoly.batched.base import (
    Batch,
    BatchEngine,
    Descent,
    Plan,
    Rates,
    eager_descent,
    gram_objective,
    matvec,
    start_state,
    tol_squared,
)
from gradpoly.gram import Gram
from gradpoly.mapping import features, mapped
from gradpoly.options import Basis, Device

CHUNK_SERIES = 64
"""Series per chunk: their features (64 x (D+1) x N floats) stay in cache while reduced."""


@register
class NumpyBatch(BatchEngine):
    """NumPy on the CPU; MSE only (NumPy has no autograd for other losses)."""

    name: ClassVar[str] = "numpy"

    def fill(self, batch: Batch, degree: int, basis: Basis, device: Device, out: Gram) -> None:
        for start in range(0, batch.size, CHUNK_SERIES):
            part = slice(start, min(start + CHUNK_SERIES, batch.size))
            rows = batch.rows(part)
            v = np.stack(features(np, basis, mapped(rows.x, out.domains[part], basis), degree), 1)
            vw = v if rows.w is None else v * rows.w[:, None, :]
            n = rows.counts
            out.g[part] = np.matmul(vw, v.transpose(0, 2, 1)) / n[:, None, None]
            out.c[part] = np.matmul(vw, rows.y[:, :, None])[:, :, 0] / n[:, None]
            yy = rows.y * rows.y if rows.w is None else rows.w * rows.y * rows.y
            out.s[part] = yy.sum(axis=1) / n

    def descend(
        self, batch: Batch, gram: Gram, basis: Basis, plan: Plan, device: Device
    ) -> Descent:
        objective = gram_objective(gram.g, gram.c, gram.s, matvec)
        active = np.isfinite(plan.rate)
        state = start_state(np, objective, np.zeros_like(gram.c), active)
        rates = Rates(
            np.nan_to_num(plan.rate)[:, None], np.nan_to_num(plan.beta)[:, None], plan.nesterov
        )
        state, losses = eager_descent(
            np, state, objective, rates, tol_squared(plan, np.asarray), plan
        )
        trace = None
        if plan.traces:
            trace = np.stack(losses, 1)  # as many columns as steps ran, not as asked for
        return Descent(state.w, state.steps_run.astype(np.int64), state.active, trace)
