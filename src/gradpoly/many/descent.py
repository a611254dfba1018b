"""Gradient descent on many series: per-series rates and momentum (as ``fit`` picks them), the
stop test in the basis, divergence named by series, and GD on Gram statistics built elsewhere."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gradpoly import constraints, mapping, rates, rowwise, validation
from gradpoly.batched import backend_names, get_backend
from gradpoly.batched.base import (
    Batch,
    BatchBackend,
    Descent,
    Plan,
)
from gradpoly.errors import (
    DivergenceError,
    InvalidOptionError,
)
from gradpoly.gram import Gram
from gradpoly.losses import Loss
from gradpoly.many.prepare import choose_backend
from gradpoly.options import (
    AUTO,
    Basis,
    Device,
    Gradient,
    Optimizer,
    differentiated,
    pick_optimizer,
)

FloatArray = npt.NDArray[np.float64]


def wants_autograd(gradient: Gradient | str, loss: Loss) -> bool:
    """Whether the descent differentiates by autograd (:func:`gradpoly.options.differentiated`:
    asked for, or a loss other than MSE)."""
    return differentiated(gradient, loss) is Gradient.AUTOGRAD


def needs_autograd(backend: BatchBackend, gradient: Gradient, loss: Loss) -> bool:
    """:func:`wants_autograd`, refused (with the engines that have it) where the backend
    has no autograd."""
    autograd = wants_autograd(gradient, loss)
    if autograd and not backend.autograd:
        have = [n for n in backend_names() if get_backend(n).autograd]
        why = f"loss {loss}" if loss is not Loss.MSE else "gradient autograd"
        raise InvalidOptionError(
            f"{why} needs autograd, which batched engine {backend.name} lacks; "
            f"use engine={have[0]!r} (engines with autograd: {', '.join(have)})"
        )
    return autograd


def make_plan(
    gram: Gram,
    valid: npt.NDArray[np.bool_],
    steps: int,
    lr: float | str,
    rule: Optimizer,
    tol: float | None,
    traces: bool,
    loss: Loss = Loss.MSE,
    huber_delta: float = 1.0,
    autograd: bool = False,
    basis: Basis = Basis.CHEBYSHEV,
    momentum: float | None = None,
    reduction: constraints.Reduction | None = None,
) -> Plan:
    """Per-series rates (auto, or a fixed lr checked for stability) and the stop test: the
    basis coefficients' error at most tol over the conversion's amplification, so that the
    monomial coefficients' is at most tol too (the final verdict is :func:`confirmed_series`).
    A constrained descent runs on free coefficients (``reduction``)."""
    steps, lr, tol = validation.steps(steps), validation.lr(lr), validation.tol(tol)
    safe = np.where(valid[:, None, None], gram.g, np.eye(gram.g.shape[1]))
    eig = rates.eigenvalues(safe)
    rate, beta = rate_parameters(eig, valid, lr, rule, validation.momentum(momentum))
    scale = None
    if tol is not None:  # the Hessian is 2 G: its eigenvalues are twice G's
        floor = rates.effective_min(2 * eig) / amplification(gram, safe, basis, reduction)
        scale = np.where(valid, (tol * floor) ** 2, 0.0)
    return Plan(
        steps,
        np.where(valid, rate, np.nan),
        beta,
        tol,
        rule is Optimizer.NESTEROV,
        traces,
        loss,
        float(huber_delta),
        autograd,
        scale,
    )


def amplification(
    gram: Gram, safe: FloatArray, basis: Basis, reduction: constraints.Reduction | None = None
) -> FloatArray:
    """How much the conversion to monomials can magnify a relative error of each series'
    basis coefficients near its optimum: ``|M| |w*| / |M w*|``, at least 1; for free
    coefficients z of ``w = p + N z``, ``|M N| |z*| / |M w*|``."""
    one = reduction is None and rates.shared_rows(safe, gram.domains)  # one matrix for all
    with np.errstate(all="ignore"):  # invalid series and monomial (NaN) domains: ratio 1
        optimum = np.matmul(np.linalg.pinv(safe[:1] if one else safe), gram.c[:, :, None])[:, :, 0]
        if reduction is None:
            doms = gram.domains[:1] if one else gram.domains
            convert = mapping.monomial_matrices(doms, basis, gram.g.shape[1])
            matrices, whole = convert, optimum
        else:
            size = reduction.particular.shape[1]
            convert = mapping.monomial_matrices(gram.domains, basis, size)
            matrices, whole = convert @ reduction.null, reduction.full(optimum)
        converted = np.linalg.norm(np.matmul(convert, whole[:, :, None])[:, :, 0], axis=1)
        finite = np.isfinite(matrices).all(axis=(1, 2))
        norms = np.full(matrices.shape[0], np.inf)
        if finite.any():
            norms[finite] = np.linalg.norm(matrices[finite], ord=2, axis=(1, 2))
        ratio = norms * np.linalg.norm(optimum, axis=1) / converted
    return np.asarray(np.where(np.isfinite(ratio) & (ratio > 1.0), ratio, 1.0), dtype=np.float64)


def check_descent(descent: Descent, valid: npt.NDArray[np.bool_], plan: Plan, gram: Gram) -> None:
    """A non-finite result is divergence: name the series and its stable rate."""
    w = descent.w
    if np.isfinite(w[valid]).all():
        return
    bad = int(np.flatnonzero(valid & ~rowwise.finite(w))[0])
    stable = 1.0 / float(np.linalg.eigvalsh(gram.g[bad])[-1])
    raise DivergenceError(
        plan.steps,
        float("inf"),
        float(plan.rate[bad]),
        stable,
        f"series {bad} diverged with lr={float(plan.rate[bad]):g}",
    )


def descend_gram(
    gram: Gram,
    steps: int = 1000,
    lr: float | str = AUTO,
    optimizer: Optimizer | str = Optimizer.GD,
    tol: float | None = None,
    gradient: Gradient | str = Gradient.MANUAL,
    engine: str = "numpy",
    device: Device | str = Device.CPU,
) -> Descent:
    """GD on Gram statistics built elsewhere (any design, e.g. scikit-learn's features), MSE.

    Every series of ``gram`` must be fittable; the options mean what they mean in fit_many.
    """
    backend, where = choose_backend(engine, device, wants_autograd(gradient, Loss.MSE))
    autograd = needs_autograd(backend, Gradient.parse(gradient), Loss.MSE)
    valid = np.ones(gram.c.shape[0], dtype=bool)
    plan = make_plan(
        gram, valid, steps, lr, pick_optimizer(optimizer), tol, False, autograd=autograd
    )
    empty = np.empty((gram.c.shape[0], 0))
    descent = backend.descend(Batch(empty, empty, None, gram.s), gram, Basis.MONOMIAL, plan, where)
    check_descent(descent, valid, plan, gram)
    return descent


def rate_parameters(
    eig: FloatArray,
    valid: npt.NDArray[np.bool_],
    lr: float | str,
    rule: Optimizer,
    momentum: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Per-series (lr, beta) as :func:`gradpoly.fit` chooses them: from each Hessian ``2 G``'s
    extreme eigenvalues when auto (``momentum``, when given, replaces the optimal beta).

    A fixed lr is checked against every valid series' stability limit
    (:func:`gradpoly.rates.stable_limit`) before any step, and refused with the largest rate
    that every series takes.
    """
    hess = 2 * np.where(valid[:, None], eig, 1.0)
    big = hess[:, -1]
    given = 0.0 if rule is Optimizer.GD else (0.9 if momentum is None else momentum)
    if lr != AUTO:
        value = float(lr)
        limit = rates.stable_limit(rule, given, big)
        unstable = valid & (value >= limit)
        if unstable.any():
            first = int(np.flatnonzero(unstable)[0])
            stable = float(limit[valid].min())
            raise DivergenceError(
                0,
                float("inf"),
                value,
                stable,
                f"lr={value:g} diverges on {int(unstable.sum())} of {int(valid.sum())} series "
                f"(the first is series {first}, stable below {float(limit[first]):.3g})",
            )
        return np.full_like(big, value), np.full_like(big, given)
    rate, beta = rates.auto_parameters(hess, rule)
    if momentum is not None and rule is not Optimizer.GD:
        beta = np.full_like(big, momentum)
    return rate, beta
