"""The NumPy batched backend: Gram statistics by batched matmul in cache-sized chunks."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from gradpoly.batched import register
from gradpoly.batched.base import (
    Batch,
    Descent,
    GramBatch,
    Objective,
    Plan,
    Rates,
    domains_of,
    features,
    gram_objective,
    mapped,
    start_state,
    step,
)
from gradpoly.engines.base import Availability
from gradpoly.options import Basis, Device

CHUNK_SERIES = 64
"""Series per chunk: their features (64 x (D+1) x N floats) stay in cache while reduced."""


def matvec(g: Any, w: Any) -> Any:
    """Batched ``G_b w_b`` (a matmul: much faster than einsum for small matrices)."""
    return np.matmul(g, w[..., None])[..., 0]


@register
class NumpyBatch:
    """NumPy on the CPU; MSE only (NumPy has no autograd for other losses)."""

    name: ClassVar[str] = "numpy"
    devices: ClassVar[tuple[Device, ...]] = (Device.CPU,)
    autograd: ClassVar[bool] = False

    def availability(self, device: Device) -> Availability:
        return Availability(device is Device.CPU, f"backend numpy has no {device} device")

    def version(self) -> str:
        return np.__version__

    def statistics(self, batch: Batch, degree: int, basis: Basis, device: Device) -> GramBatch:
        count, size = batch.size, degree + 1
        g, c, s = np.empty((count, size, size)), np.empty((count, size)), np.empty(count)
        domains = domains_of(batch.x, batch.w)
        for start in range(0, count, CHUNK_SERIES):
            part = slice(start, min(start + CHUNK_SERIES, count))
            rows = batch.rows(part)
            v = np.stack(features(np, basis, mapped(rows.x, domains[part], basis), degree), 1)
            vw = v if rows.w is None else v * rows.w[:, None, :]
            n = rows.counts
            g[part] = np.matmul(vw, v.transpose(0, 2, 1)) / n[:, None, None]
            c[part] = np.matmul(vw, rows.y[:, :, None])[:, :, 0] / n[:, None]
            yy = rows.y * rows.y if rows.w is None else rows.w * rows.y * rows.y
            s[part] = yy.sum(axis=1) / n
        if basis is Basis.MONOMIAL:
            domains[:] = np.nan
        return GramBatch(g, c, s, domains)

    def descend(
        self, batch: Batch, gram: GramBatch, basis: Basis, plan: Plan, device: Device
    ) -> Descent:
        objective: Objective = gram_objective(gram.g, gram.c, gram.s, matvec)
        count = gram.c.shape[0]
        active = np.isfinite(plan.rate)
        state = start_state(np, objective, np.zeros_like(gram.c), active)
        rates = Rates(
            np.nan_to_num(plan.rate)[:, None], np.nan_to_num(plan.beta)[:, None], plan.nesterov
        )
        tol2 = None
        if plan.tol is not None:
            tol2 = plan.tol**2 * (state.grad_w * state.grad_w).sum(-1)
        trace = np.full((count, plan.steps), np.nan) if plan.traces else None
        for k in range(plan.steps):
            if trace is not None:
                trace[:, k] = objective.value(state.w)
            state = step(np, state, objective, rates, tol2)
            if tol2 is not None and not state.active.any():
                break
        return Descent(state.w, state.steps_run.astype(np.int64), state.active, trace)
