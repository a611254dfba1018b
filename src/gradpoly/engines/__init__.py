"""The engine registry: name -> engine, and what is available on this machine and why not.

Engines register themselves with :func:`register`; the modules listed in ``_BUILTIN`` are
imported here. Importing an engine module never imports its optional library.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradpoly.engines.base import Engine
from gradpoly.errors import EngineUnavailableError, InvalidOptionError
from gradpoly.options import (
    AUTO_EXCLUDED,
    FASTEST_FIRST,
    Device,
    DType,
    FitConfig,
    Gradient,
    Mode,
    Optimizer,
    Strategy,
    auto_order,
    differentiated,
    pick_optimizer,
)
from gradpoly.registry import Registry

_REGISTRY: Registry[Engine] = Registry("engine")
_BUILTIN = ("numpy_engine", "torch_engine", "jax_engine", "numba_engine", "dask_engine")

register = _REGISTRY.register


def get_engine(name: str) -> Engine:
    """The registered engine called ``name``; InvalidOptionError lists the known ones."""
    return _REGISTRY.get(name)


def engine_names() -> list[str]:
    """Names of all registered engines, in registration order."""
    return _REGISTRY.names()


AUTO = "auto"
"""The engine name that lets gradpoly choose (:func:`resolve`)."""


@dataclass(frozen=True)
class Choice:
    """What runs: an engine, its mode and strategy, its update rule and how it takes the
    gradient (``result.config`` records them too)."""

    engine: str
    mode: Mode
    strategy: Strategy
    optimizer: Optimizer = Optimizer.GD
    gradient: Gradient = Gradient.MANUAL


def resolve(
    engine: str,
    mode: Mode | str | None,
    strategy: Strategy | str | None,
    device: Device | str = Device.CPU,
    gradient: Gradient | str = Gradient.MANUAL,
    loss: object = "mse",
    optimizer: Optimizer | str = Optimizer.GD,
    dtype: DType | str = DType.FLOAT64,
) -> Choice:
    """Fill in what the user left to gradpoly.

    ``engine="auto"``: for the MSE with the written gradient on the CPU, numba's compiled
    loop on the Gram statistics (every step O(D^2), no Python per step), else numpy's; torch
    for a CUDA device or for autograd and other losses (jax without torch); among the engines
    that honour every option given (a named mode or strategy is never dropped for a faster
    engine that lacks it). ``mode=None``: the engine's own (compiled for numba and jax, eager
    for numpy and torch). ``strategy=None``: gram when auto chose the engine for the MSE, else
    the seed's per-sample loop. A loss other than MSE is differentiated by autograd whatever
    ``gradient`` says (:func:`gradpoly.options.differentiated`, as ``fit_many`` does).
    ``optimizer="auto"``: Nesterov where the engine runs it in that mode, else momentum, else
    gd (:func:`gradpoly.options.pick_optimizer`); with ``engine="auto"`` the engines that run
    Nesterov come first.
    """
    where, grad = Device.parse(device), differentiated(gradient, loss)
    picked = strategy is None and engine == AUTO
    if engine == AUTO:
        rules = FASTEST_FIRST if optimizer == AUTO else (Optimizer.parse(optimizer),)
        found = (_auto_engine(where, grad, loss, rule, mode, strategy) for rule in rules)
        named = next((name for name in found if name is not None), None)
        if named is None:
            message, missing = _none_honours(where, grad, loss, rules[-1], mode, strategy)
            raise (EngineUnavailableError if missing else InvalidOptionError)(message)
        engine = named
    chosen = get_engine(engine)
    run_mode = chosen.modes[0] if mode is None else Mode.parse(mode)
    if strategy is not None:
        run_strategy = Strategy.parse(strategy)
    elif picked and loss == "mse" and Strategy.GRAM in chosen.strategies:
        run_strategy = Strategy.GRAM
    else:
        run_strategy = Strategy.PER_SAMPLE

    def can_run(rule: Optimizer) -> bool:
        config = FitConfig(
            engine=engine,
            gradient=grad,
            device=where,
            mode=run_mode,
            strategy=run_strategy,
            dtype=DType.parse(dtype),
            optimizer=rule,
            loss=loss,
        )
        return chosen.unsupported(config) is None

    return Choice(engine, run_mode, run_strategy, pick_optimizer(optimizer, can_run), grad)


def _auto_engine(
    device: Device,
    gradient: Gradient,
    loss: object,
    optimizer: Optimizer,
    mode: Mode | str | None = None,
    strategy: Strategy | str | None = None,
) -> str | None:
    """The fastest engine here that honours every option given (see :func:`resolve`), or
    None where none does."""
    mse = loss == "mse"
    for name in auto_order(device, gradient is Gradient.AUTOGRAD or not mse, engine_names()):
        chosen = get_engine(name)
        run_strategy = (
            Strategy.parse(strategy)
            if strategy is not None
            else (
                Strategy.GRAM if mse and Strategy.GRAM in chosen.strategies else Strategy.PER_SAMPLE
            )
        )
        config = FitConfig(
            engine=name,
            gradient=gradient,
            device=device,
            mode=chosen.modes[0] if mode is None else Mode.parse(mode),
            strategy=run_strategy,
            optimizer=optimizer,
            loss=loss,
        )
        if chosen.availability(config).ok:
            return name
    return None


def _none_honours(
    device: Device,
    gradient: Gradient,
    loss: object,
    optimizer: Optimizer,
    mode: Mode | str | None,
    strategy: Strategy | str | None,
) -> tuple[str, bool]:
    """Why ``engine="auto"`` found nothing: each engine's own first reason, in one line; and
    whether some engine takes these options but its library or device is missing here (an
    EngineUnavailableError, as the batched fits raise, rather than a bad option)."""
    reasons = []
    missing = False
    for name in [n for n in engine_names() if n not in AUTO_EXCLUDED]:
        chosen = get_engine(name)
        config = FitConfig(
            engine=name,
            gradient=gradient,
            device=device,
            mode=chosen.modes[0] if mode is None else Mode.parse(mode),
            strategy=Strategy.PER_SAMPLE if strategy is None else Strategy.parse(strategy),
            optimizer=optimizer,
            loss=loss,
        )
        problem = chosen.unsupported(config)  # None: the options are fine, the engine absent
        missing = missing or problem is None
        reason = problem or chosen.availability(config).reason
        reasons.append(reason if f"engine {name} " in reason else f"engine {name}: {reason}")
    return "no engine here runs these options: " + "; ".join(reasons), missing


@dataclass(frozen=True)
class EngineInfo:
    """One engine on one device: can it run here, and if not, why."""

    name: str
    device: str
    available: bool
    reason: str
    version: str
    gradients: tuple[str, ...]
    modes: tuple[str, ...]
    strategies: tuple[str, ...]


def engines() -> list[EngineInfo]:
    """Every registered engine on each of its devices, with availability and the reason."""
    infos = []
    for engine in map(get_engine, engine_names()):
        for device in engine.devices:
            config = FitConfig(
                engine=engine.name,
                gradient=engine.gradients[0],
                device=device,
                mode=engine.modes[0],
                strategy=engine.strategies[0],
            )
            available = engine.availability(config)
            infos.append(
                EngineInfo(
                    name=engine.name,
                    device=str(device),
                    available=available.ok,
                    reason=available.reason,
                    version=engine.version() if available.ok else "",
                    gradients=tuple(str(g) for g in engine.gradients),
                    modes=tuple(str(m) for m in engine.modes),
                    strategies=tuple(str(s) for s in engine.strategies),
                )
            )
    return infos


_REGISTRY.load("gradpoly.engines", _BUILTIN)

__all__ = ["Device", "Engine", "EngineInfo", "engine_names", "engines", "get_engine", "register"]
