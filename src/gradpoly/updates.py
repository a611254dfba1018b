"""The update rules, written once: plain GD, heavy-ball momentum and Nesterov.

Small pure functions on whatever arrays they are given (NumPy, torch, JAX: only ``+``, ``-``
and ``*``), in optax's shape: where the gradient is taken, then how ``(w, v)`` advance. Every
eager runner, the batched step and the float64 reference call these; the fused loops
(numba's kernels, the compiled torch blocks, NumPy's in-place GD loop) are tied to them by
the engine contract suite, which checks each trajectory against :func:`gradpoly.reference_gd`.

With ``v = w_k - w_{k-1}`` (zero at the start):

- gd: ``w = w - lr grad(w)`` (``beta = 0`` below gives exactly this);
- heavy ball: ``v = beta v - lr grad(w)``, ``w = w + v``;
- Nesterov: ``v = beta v - lr grad(w + beta v)``, ``w = w + v``.
"""

from __future__ import annotations

from typing import Any

from gradpoly.options import Optimizer


def lookahead(optimizer: Optimizer, w: Any, v: Any, beta: Any) -> Any:
    """Where the gradient is taken: ``w + beta v`` for Nesterov, ``w`` otherwise."""
    return w + beta * v if optimizer is Optimizer.NESTEROV else w


def advance(w: Any, v: Any, grad: Any, lr: Any, beta: Any) -> tuple[Any, Any]:
    """``(w, v)`` after one step with the gradient at :func:`lookahead`'s point:
    ``v = beta v - lr grad``, ``w = w + v`` (with ``beta = 0``: plain GD)."""
    v = beta * v - lr * grad
    return w + v, v
