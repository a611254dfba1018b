"""The PyTorch batched backend: statistics by ``bmm`` on CPU or CUDA; descent in eager torch.

Losses other than the MSE run per-sample with ``torch.func.grad``. On CUDA the data moves to
the GPU once per chunk of series; the descent checks "all stopped?" every 50 steps (one sync).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from gradpoly import threads
from gradpoly.batched import register
from gradpoly.batched.base import (
    CHECK_STEPS,
    Batch,
    BatchEngine,
    Descent,
    Objective,
    Plan,
    Rates,
    eager_descent,
    gram_objective,
    matvec,
    robust_objective,
    start_state,
    tol_squared,
)
from gradpoly.engines.base import Availability, OptionalLibrary
from gradpoly.engines.torch_engine import cuda_availability
from gradpoly.gram import Gram
from gradpoly.losses import penalty
from gradpoly.mapping import features, mapped
from gradpoly.options import Basis, Device

TORCH = OptionalLibrary("torch", "torch")
CHUNK_SERIES = {Device.CPU: 256, Device.CUDA: 16384}
"""Series per chunk of the statistics pass: cache-sized on the CPU, large on a GPU."""


@register
class TorchBatch(BatchEngine):
    """PyTorch, CPU or CUDA, float64; MSE by the Gram statistics, other losses by autograd."""

    name: ClassVar[str] = "torch"
    devices: ClassVar[tuple[Device, ...]] = (Device.CPU, Device.CUDA)
    autograd: ClassVar[bool] = True
    library: ClassVar[OptionalLibrary | None] = TORCH

    def device_availability(self, device: Device) -> Availability:
        return cuda_availability() if device is Device.CUDA else Availability(True)

    def arrays(self, device: Device) -> Any:
        """torch on ``device`` (float64) for the shared-axis products."""
        from gradpoly.batched.shared import Arrays

        torch = TORCH.load()
        return Arrays(
            torch,
            lambda values: self._tensor(values, device),
            lambda tensor: tensor.cpu().numpy(),
        )

    def _tensor(self, values: Any, device: Device) -> Any:
        torch = TORCH.load()
        # writable and C-ordered: torch shares such an array, and warns on a read-only one
        array = threads.kernel_array(np.asarray(values))
        return torch.as_tensor(array, dtype=torch.float64).to(str(device))

    def _rows(self, batch: Batch, domains: Any, degree: int, basis: Basis, device: Device) -> Any:
        """(features (b, D+1, N), y, weights or None, counts) of ``batch`` on ``device``."""
        torch = TORCH.load()
        x = self._tensor(batch.x, device)
        t = mapped(x, self._tensor(domains, device), basis)
        v = torch.stack(features(torch, basis, t, degree), 1)
        w = None if batch.w is None else self._tensor(batch.w, device)
        return v, self._tensor(batch.y, device), w, self._tensor(batch.counts, device)

    def fill(self, batch: Batch, degree: int, basis: Basis, device: Device, out: Gram) -> None:
        chunk = CHUNK_SERIES[device]
        for start in range(0, batch.size, chunk):
            part = slice(start, min(start + chunk, batch.size))
            v, y, w, n = self._rows(batch.rows(part), out.domains[part], degree, basis, device)
            vw = v if w is None else v * w[:, None, :]
            out.g[part] = (vw @ v.mT / n[:, None, None]).cpu().numpy()
            out.c[part] = ((vw @ y[:, :, None])[:, :, 0] / n[:, None]).cpu().numpy()
            yy = y * y if w is None else w * y * y
            out.s[part] = (yy.sum(-1) / n).cpu().numpy()

    def _objective(
        self, batch: Batch, gram: Gram, basis: Basis, plan: Plan, device: Device
    ) -> Objective:
        torch = TORCH.load()
        if plan.is_mse:
            g, c, s = (self._tensor(a, device) for a in (gram.g, gram.c, gram.s))
            return gram_objective(g, c, s, matvec, torch.func.grad if plan.autograd else None)
        degree = gram.c.shape[1] - 1
        domains = np.nan_to_num(gram.domains)
        v, y, w, n = self._rows(batch, domains, degree, basis, device)
        sw = torch.ones_like(y) if w is None else torch.sqrt(w)
        rho = penalty(plan.loss, plan.delta, torch.where)
        return robust_objective(v, y, sw, n, rho, torch.func.grad)

    def descend(
        self, batch: Batch, gram: Gram, basis: Basis, plan: Plan, device: Device
    ) -> Descent:
        torch = TORCH.load()
        objective = self._objective(batch, gram, basis, plan, device)
        active = torch.as_tensor(np.isfinite(plan.rate), device=str(device))
        state = start_state(torch, objective, self._tensor(np.zeros_like(gram.c), device), active)
        rates = Rates(
            self._tensor(np.nan_to_num(plan.rate)[:, None], device),
            self._tensor(np.nan_to_num(plan.beta)[:, None], device),
            plan.nesterov,
        )
        tol2 = tol_squared(plan, lambda values: self._tensor(values, device))
        with torch.no_grad() if plan.is_mse and not plan.autograd else torch.enable_grad():
            state, losses = eager_descent(torch, state, objective, rates, tol2, plan, CHECK_STEPS)
        trace = None
        if plan.traces:
            trace = torch.stack(losses, 1).detach().cpu().numpy()  # the steps that ran
        final = None if plan.is_mse else objective.value(state.w).detach().cpu().numpy()
        return Descent(
            state.w.detach().cpu().numpy(),
            state.steps_run.cpu().numpy().astype(np.int64),
            state.active.cpu().numpy(),
            trace,
            final,
        )
