"""``fit``: the one entry point that validates, picks the engine from the registry and runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy.typing as npt

from gradpoly import constraints, validation
from gradpoly.calling import keyword_only
from gradpoly.engines import get_engine, resolve
from gradpoly.engines.base import Progress
from gradpoly.errors import InvalidOptionError
from gradpoly.options import (
    BEST,
    Basis,
    Device,
    DType,
    FitConfig,
    Gradient,
    Mode,
    Optimizer,
    Strategy,
    make_config,
)
from gradpoly.problem import ConstrainedProblem, FitProblem, Problem
from gradpoly.result import FitResult, known_sigma


@keyword_only(3)
def fit(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    degree: int = 4,
    *,
    steps: int = BEST.steps,
    lr: float | str = BEST.lr,
    engine: str = BEST.engine,
    gradient: Gradient | str = "manual",
    device: Device | str = "cpu",
    mode: Mode | str | None = None,
    dtype: DType | str = BEST.dtype,
    strategy: Strategy | str | None = None,
    weights: npt.ArrayLike | None = None,
    sigma: npt.ArrayLike | None = None,
    absolute_sigma: bool = False,
    basis: Basis | str = BEST.basis,
    optimizer: Optimizer | str = BEST.optimizer,
    momentum: float | None = None,
    tol: float | None = BEST.tol,
    loss: str | Callable[[Any], Any] = "mse",
    huber_delta: float = 1.0,
    progress: Progress | None = None,
    fixed: Any = None,
    through: Any = None,
    slope: Any = None,
) -> FitResult:
    """Fit a degree-``degree`` polynomial to ``(x, y)`` by full-batch gradient descent.

    The defaults (:data:`gradpoly.BEST`) converge: Chebyshev basis, ``lr="auto"``, Nesterov,
    float64, ``tol=1e-10``, at most 100,000 steps, on the fastest engine here. The seed
    notebook's run (w = 0, 200,000 float32 steps of GD at lr 1e-5 on raw powers, numpy) is
    ``fit(x, y, **gradpoly.NOTEBOOK.options())``. Options after ``degree`` are keyword-only.

    Parameters
    ----------
    x, y : array_like, shape (N,)
        The samples.
    engine : str
        ``numpy`` (the seed's), ``torch``, ``jax``, ``numba``, ``dask``, or ``"auto"``: the
        fastest available for the job (numba's compiled Gram loop for the MSE on the CPU,
        else numpy; torch for CUDA or autograd); ``result.config`` says what ran.
    mode, strategy : optional
        Default: the engine's own mode (compiled for numba and jax, eager otherwise) and the
        seed's per-sample loop (gram when ``engine="auto"`` chose for the MSE).
    lr : float or "auto"
        The learning rate; ``"auto"`` takes ``1 / L`` for gd, L the loss Hessian's largest
        eigenvalue, and the optimal quadratic-case parameters for momentum and nesterov
        (``result.lr`` and ``result.momentum`` say what ran).
    weights : array_like, shape (N,), optional
        Non-negative per-point weights of the MSE: inverse variances for the statistics
        (statsmodels' WLS convention; ``np.polyfit``'s ``w`` is their square root).
    sigma : array_like, shape (N,), optional
        Standard deviations of y instead of ``weights`` (``weights = 1 / sigma**2``), as
        ``scipy.optimize.curve_fit`` takes them.
    absolute_sigma : bool
        ``True``: sigma (or the weights) are absolute, so the statistics take the scale as 1
        instead of estimating it from the residuals (``cov = (X' W X)^-1``, normal p values);
        ``False`` (default): only their ratios matter, as in ``curve_fit``.
    basis : {"monomial", "chebyshev", "legendre"}
        Features the loop runs in; non-monomial bases map x's domain to [-1, 1] and converge
        far faster. ``result.coef`` is monomial in x whatever the basis.
    optimizer : {"auto", "gd", "momentum", "nesterov"}
        The update rule (``"auto"``: Nesterov where the engine runs it, else momentum, else
        gd; ``result.config`` says which ran); with ``lr="auto"`` the step and ``momentum``
        (beta) are the optimal ones for the quadratic loss, else beta defaults to 0.9.
    tol : float, optional
        Stop once the estimated relative errors of the monomial coefficients ``|M H^+ grad| /
        |M w|`` and of the basis coefficients are at most ``tol`` — or at the dtype's rounding
        floor when ``tol`` is below it (``status="floor"``, not converged, with a
        ``ConvergenceWarning``: use :func:`lstsq` for the closed form); checked every 50
        steps (every 10,000 on jax). ``result.converged``, ``result.steps_run``,
        ``result.stop_reason`` and ``result.coef_error`` say what happened.
    loss : {"mse", "huber", "l1"} or callable
        The trace and the gradient's objective: ``mean(rho(b - A w))``. Anything but MSE is
        differentiated by autograd whatever ``gradient`` says (torch or jax, the per-sample
        strategy; no engine has a hand-written gradient for it), as in :func:`fit_many`; a
        callable takes the residuals in the engine's array type and returns a scalar.
    progress : callable, optional
        Called with the number of steps done after every chunk of steps.
    fixed, through, slope : optional
        Equality constraints, as :func:`gradpoly.lstsq` takes them (``fixed={power: value}``,
        ``through=[(x, y)]``, ``slope=[(x, dydx)]``): the loop runs on the free coefficients
        of the constraints' null space (:class:`~gradpoly.problem.ConstrainedProblem`), so
        every iterate meets them exactly, on any engine but dask; a mapped basis only.

    Raises
    ------
    InvalidDataError, InvalidOptionError
        Bad data or options, before anything runs.
    EngineUnavailableError
        The engine's library or the CUDA device is missing here.
    DivergenceError
        The loss blew up; the message names the largest stable learning rate.
    """
    choice = resolve(
        validation.name("engine", engine), mode, strategy, device, gradient, loss, optimizer, dtype
    )
    config = make_config(
        choice.engine,
        choice.gradient,
        device,
        choice.mode,
        choice.strategy,
        dtype,
        steps,
        lr,
        choice.optimizer,
        momentum,
        tol,
        loss,
        huber_delta,
    )
    weights = validation.inverse_variance(weights, sigma, absolute_sigma)
    found = constraints.parse(fixed, through, slope, validation.degree(degree))
    chosen = get_engine(config.engine)
    fit_data = getattr(chosen, "fit_data", None)
    if fit_data is not None:  # an out-of-core engine: it must not gather the data here
        if found is not None:
            raise InvalidOptionError(
                f"engine {config.engine} streams its data and takes no constraints; use another "
                "engine, or gradpoly.lstsq"
            )
        result: FitResult = fit_data(x, y, degree, weights, basis, config, progress)
    else:
        problem: Problem = FitProblem.from_data(x, y, degree, weights, basis)
        if found is not None:
            problem = ConstrainedProblem.of(problem, found)  # type: ignore[arg-type]
        result = fit_problem(problem, config, progress)
    return known_sigma(result, absolute_sigma)


def fit_problem(problem: Problem, config: FitConfig, progress: Progress | None = None) -> FitResult:
    """Run ``config`` on an already validated problem (what the CLI and benchmarks call)."""
    return get_engine(config.engine).fit(problem, config, progress)
