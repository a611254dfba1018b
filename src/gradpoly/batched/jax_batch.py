"""The JAX batched backend: jit-compiled statistics per chunk and descent by ``lax.scan``.

Everything runs in float64 inside ``jax.enable_x64`` (the user's global setting is left
alone). Chunks have a fixed number of series (the last one padded with zero-weight rows)
so one compilation serves every chunk; the descent scans 50 steps per call, then checks
whether every series has stopped. Other losses than the MSE use ``jax.grad``.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any, ClassVar

import numpy as np

from gradpoly.batched import register
from gradpoly.batched.base import (
    CHECK_STEPS,
    Batch,
    BatchEngine,
    Descent,
    Objective,
    Plan,
    Rates,
    State,
    gram_objective,
    matvec,
    robust_objective,
    start_state,
    step,
    tol_squared,
)
from gradpoly.engines.base import OptionalLibrary
from gradpoly.gram import Gram
from gradpoly.losses import Loss, penalty
from gradpoly.mapping import features, mapped
from gradpoly.options import Basis, Device

JAX = OptionalLibrary("jax", "jax")
CHUNK_SERIES = 256


@cache
def _functions() -> tuple[Any, Any]:
    """(statistics of one chunk, a block of descent steps), jit-compiled on first call."""
    jax = JAX.load()
    jnp = jax.numpy

    @partial(jax.jit, static_argnames=("degree", "basis"))
    def chunk_statistics(
        x: Any, y: Any, w: Any, n: Any, domains: Any, degree: int, basis: Basis
    ) -> tuple[Any, Any, Any]:
        v = jnp.stack(features(jnp, basis, mapped(x, domains, basis), degree), 1)
        vw = v * w[:, None, :]
        g = vw @ jnp.swapaxes(v, 1, 2) / n[:, None, None]
        c = (vw @ y[:, :, None])[:, :, 0] / n[:, None]
        return g, c, (w * y * y).sum(-1) / n

    @partial(jax.jit, static_argnames=("length", "nesterov", "loss", "delta", "keep", "autograd"))
    def block(
        state: State,
        rate: Any,
        beta: Any,
        tol2: Any,
        data: tuple[Any, ...],
        length: int,
        nesterov: bool,
        loss: Loss,
        delta: float,
        keep: bool,
        autograd: bool,
    ) -> tuple[State, Any]:
        objective = _objective(jax, data, loss, delta, autograd)
        rates = Rates(rate, beta, nesterov)

        def body(state: State, _: Any) -> tuple[State, Any]:
            value = objective.value(state.w) if keep else None
            return step(jnp, state, objective, rates, tol2), value

        return jax.lax.scan(body, state, None, length=length)

    return chunk_statistics, block


def _objective(
    jax: Any, data: tuple[Any, ...], loss: Loss, delta: float, autograd: bool
) -> Objective:
    """The MSE from (g, c, s), or a named loss from (v, y, sw, counts) by ``jax.grad``."""
    if loss is Loss.MSE:
        g, c, s = data
        return gram_objective(g, c, s, matvec, jax.grad if autograd else None)
    v, y, sw, counts = data
    return robust_objective(v, y, sw, counts, penalty(loss, delta, jax.numpy.where), jax.grad)


@register
class JaxBatch(BatchEngine):
    """JAX on its default CPU backend, float64; MSE by the Gram statistics, others by autograd."""

    name: ClassVar[str] = "jax"
    autograd: ClassVar[bool] = True
    library: ClassVar[OptionalLibrary | None] = JAX

    def arrays(self, device: Device) -> Any:
        """jax.numpy in float64 (inside ``enable_x64``) for the shared-axis products."""
        from gradpoly.batched.shared import Arrays

        jax = JAX.load()
        return Arrays(jax.numpy, jax.numpy.asarray, np.asarray, lambda: jax.enable_x64(True))

    def fill(self, batch: Batch, degree: int, basis: Basis, device: Device, out: Gram) -> None:
        jax = JAX.load()
        compute, _ = _functions()
        with jax.enable_x64(True):
            for start in range(0, batch.size, CHUNK_SERIES):
                stop = min(start + CHUNK_SERIES, batch.size)
                rows = batch.rows(slice(start, stop))
                w = np.ones_like(rows.x) if rows.w is None else rows.w
                args = [
                    _padded(a, fill)
                    for a, fill in (
                        (rows.x, 0.0),
                        (rows.y, 0.0),
                        (w, 0.0),
                        (rows.counts, 1.0),
                        (out.domains[start:stop], np.array([0.0, 1.0])),
                    )
                ]
                parts = compute(*args, degree=degree, basis=basis)
                for array, part in zip((out.g, out.c, out.s), parts, strict=True):
                    array[start:stop] = np.asarray(part)[: stop - start]

    def descend(
        self, batch: Batch, gram: Gram, basis: Basis, plan: Plan, device: Device
    ) -> Descent:
        jax = JAX.load()
        jnp = jax.numpy
        _, block = _functions()
        loss = plan.loss
        with jax.enable_x64(True):
            data = self._data(batch, gram, basis, loss)
            objective = _objective(jax, data, loss, plan.delta, plan.autograd)
            active = jnp.asarray(np.isfinite(plan.rate))
            state = start_state(jnp, objective, jnp.zeros(gram.c.shape), active)
            rate = jnp.asarray(np.nan_to_num(plan.rate)[:, None])
            beta = jnp.asarray(np.nan_to_num(plan.beta)[:, None])
            tol2 = tol_squared(plan, jnp.asarray)
            values = []
            done = 0
            while done < plan.steps:
                length = min(CHECK_STEPS, plan.steps - done)
                state, losses = block(
                    state,
                    rate,
                    beta,
                    tol2,
                    data,
                    length,
                    plan.nesterov,
                    loss,
                    plan.delta,
                    plan.traces,
                    plan.autograd,
                )
                values.append(losses)
                done += length
                if tol2 is not None and not bool(state.active.any()):
                    break
            trace = None
            if plan.traces:
                trace = np.concatenate([np.asarray(v) for v in values]).T[:, :done]
            final = None if loss is Loss.MSE else np.asarray(objective.value(state.w))
            return Descent(
                np.asarray(state.w),
                np.asarray(state.steps_run).astype(np.int64),
                np.asarray(state.active),
                trace,
                final,
            )

    def _data(self, batch: Batch, gram: Gram, basis: Basis, loss: Loss) -> tuple[Any, ...]:
        """The arrays the objective needs: Gram statistics, or features and data per point."""
        jnp = JAX.load().numpy
        if loss is Loss.MSE:
            return tuple(jnp.asarray(a) for a in (gram.g, gram.c, gram.s))
        degree = gram.c.shape[1] - 1
        t = mapped(jnp.asarray(batch.x), jnp.asarray(np.nan_to_num(gram.domains)), basis)
        v = jnp.stack(features(jnp, basis, t, degree), 1)
        sw = jnp.ones(batch.x.shape) if batch.w is None else jnp.sqrt(jnp.asarray(batch.w))
        return v, jnp.asarray(batch.y), sw, jnp.asarray(batch.counts)


def _padded(values: np.ndarray, fill: float | np.ndarray) -> np.ndarray:
    """Rows padded to CHUNK_SERIES with a harmless series (zero weight), later discarded."""
    missing = CHUNK_SERIES - values.shape[0]
    if missing == 0:
        return values
    rows = np.broadcast_to(fill, (missing, *values.shape[1:]))
    return np.concatenate([values, rows])
