"""The jax engine: the whole loop compiled, ``jax.jit`` over ``lax.scan`` of a chunk of steps.

Manual gradient or ``jax.grad``; per-sample or gram. A chunk is scanned at a fixed length
with the steps past ``n`` masked, so one compilation serves every step count. float64 runs
inside ``jax.enable_x64`` so the user's global jax setting is left alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import updates
from gradpoly.engines import register
from gradpoly.engines.base import LoopEngine, OptionalLibrary, Runner
from gradpoly.losses import Loss, check_value, describe, penalty
from gradpoly.options import DType, FitConfig, Gradient, Mode, Optimizer, Strategy
from gradpoly.problem import Problem

SCAN_STEPS = 10_000
"""Steps per compiled scan (and per divergence check)."""

JAX = OptionalLibrary("jax", "jax")
load_jax = JAX.load


def _losses(jnp: Any) -> dict[Strategy, tuple[Callable[..., Any], Callable[..., Any]]]:
    """Per strategy: ``loss(w, *data)`` and ``manual(w, *data) -> (loss, grad)``."""

    def per_sample_loss(w: Any, a: Any, b: Any) -> Any:
        r = b - a @ w
        return jnp.mean(r * r)

    def per_sample_manual(w: Any, a: Any, b: Any) -> tuple[Any, Any]:
        r = b - a @ w
        return jnp.mean(r * r), (-2.0 / a.shape[0]) * (r @ a)

    def gram_loss(w: Any, g: Any, c: Any, s: Any) -> Any:
        return s - 2 * (c @ w) + w @ (g @ w)

    def gram_manual(w: Any, g: Any, c: Any, s: Any) -> tuple[Any, Any]:
        gw = g @ w
        return s - 2 * (c @ w) + w @ gw, 2 * (gw - c)

    return {
        Strategy.PER_SAMPLE: (per_sample_loss, per_sample_manual),
        Strategy.GRAM: (gram_loss, gram_manual),
    }


def objective(strategy: Strategy, loss: Any = Loss.MSE, delta: float = 1.0) -> Callable[..., Any]:
    """``loss(w, *data)``: MSE for the strategy, or ``mean(rho(r))``, or a user's ``f(r)``."""
    jnp = load_jax().numpy
    if not callable(loss) and Loss.parse(loss) is Loss.MSE:
        return _losses(jnp)[strategy][0]
    rho = None if callable(loss) else penalty(Loss.parse(loss), delta, jnp.where)

    def robust(w: Any, a: Any, b: Any) -> Any:
        r = b - a @ w
        return loss(r) if rho is None else jnp.mean(rho(r))

    return robust


@cache
def compiled_chunk(
    strategy: Strategy,
    gradient: Gradient,
    length: int,
    optimizer: Optimizer = Optimizer.GD,
    loss_kind: Any = Loss.MSE,
    delta: float = 1.0,
) -> Callable[..., Any]:
    """``chunk((w, v), n, lr, beta, *data) -> ((w, v), losses)``: ``length`` scanned steps.

    Only the first ``n`` steps are applied. ``v = w_k - w_{k-1}`` carries the momentum of
    heavy-ball and Nesterov updates; plain GD leaves it at zero.
    """
    jax = load_jax()
    jnp = jax.numpy
    manual = _losses(jnp)[strategy][1]
    loss = objective(strategy, loss_kind, delta)
    if gradient is Gradient.AUTOGRAD:
        value_and_grad = jax.value_and_grad(loss)
    else:
        value_and_grad = manual

    def update(w: Any, v: Any, lr: Any, beta: Any, data: tuple[Any, ...]) -> tuple[Any, Any, Any]:
        if optimizer is Optimizer.GD:
            value, grad = value_and_grad(w, *data)
            return w - lr * grad, v, value  # v stays 0: one multiply fewer in the scan
        if optimizer is Optimizer.NESTEROV:
            value = loss(w, *data)  # the trace records mse(w_k), not the lookahead's
            _, grad = value_and_grad(updates.lookahead(optimizer, w, v, beta), *data)
        else:
            value, grad = value_and_grad(w, *data)
        w, v = updates.advance(w, v, grad, lr, beta)
        return w, v, value

    def chunk(state: Any, n: Any, lr: Any, beta: Any, *data: Any) -> tuple[Any, Any]:
        def body(state: Any, j: Any) -> tuple[Any, Any]:
            w, v = state
            w_next, v_next, value = update(w, v, lr, beta, data)
            active = j < n
            return (jnp.where(active, w_next, w), jnp.where(active, v_next, v)), value

        return jax.lax.scan(body, state, jnp.arange(length))

    return jax.jit(chunk)


class _JaxRunner:
    def __init__(self, problem: Problem, config: FitConfig) -> None:
        self.jax = jax = load_jax()
        self.x64 = config.dtype is DType.FLOAT64
        with self._precision():
            jnp = jax.numpy
            dtype = jnp.dtype(str(config.dtype))
            if config.strategy is Strategy.GRAM:
                g, c, s = problem.gram.one()
                host: tuple[Any, ...] = (g, c, np.asarray(s))
            else:
                host = problem.design(np.float64)
            self.data = tuple(jnp.asarray(np.asarray(v), dtype=dtype) for v in host)
            self.state = (jnp.zeros(problem.n_coef, dtype=dtype),) * 2
            self.lr = jnp.asarray(config.lr_value, dtype=dtype)
            self.beta = jnp.asarray(config.momentum_value, dtype=dtype)
            self.chunk = compiled_chunk(
                config.strategy,
                config.gradient,
                SCAN_STEPS,
                config.optimizer,
                config.loss,
                config.huber_delta,
            )
            if callable(config.loss):
                value = objective(config.strategy, config.loss)(self.state[0], *self.data)
                check_value(value, describe(config.loss), "jax")
        self.pieces: list[Any] = []

    def _precision(self) -> contextlib.AbstractContextManager[Any]:
        return self.jax.enable_x64(True) if self.x64 else contextlib.nullcontext()

    def advance(self, start: int, stop: int) -> float:
        with self._precision():
            n = stop - start
            self.state, losses = self.chunk(self.state, n, self.lr, self.beta, *self.data)
            self.pieces.append(losses[:n] if n < SCAN_STEPS else losses)
            return float(losses[n - 1])

    def notes(self) -> dict[str, str]:
        return {}

    def current(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.state[0], dtype=np.float64)

    def finish(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        with self._precision():
            trace = self.jax.numpy.concatenate(self.pieces)
            w = self.state[0]
            return np.asarray(w, dtype=np.float64), np.asarray(trace, dtype=np.float64)


@register
class JaxEngine(LoopEngine):
    """JAX on the CPU (the machine's jaxlib); the loop is one compiled scan per chunk."""

    name = "jax"
    library = JAX
    gradients = (Gradient.MANUAL, Gradient.AUTOGRAD)
    optimizers = (Optimizer.GD, Optimizer.MOMENTUM, Optimizer.NESTEROV)
    modes = (Mode.COMPILED,)
    strategies = (Strategy.PER_SAMPLE, Strategy.GRAM)

    def chunk_steps(self, config: FitConfig) -> int:
        # Every scan runs its full length (masked past n), so even with tol a chunk is a scan.
        del config
        return SCAN_STEPS

    def start(self, problem: Problem, config: FitConfig) -> Runner:
        return _JaxRunner(problem, config)
