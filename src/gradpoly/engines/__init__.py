"""The engine registry: name -> engine, and what is available on this machine and why not.

Engines register themselves with :func:`register`; the modules listed in ``_BUILTIN`` are
imported here. Importing an engine module never imports its optional library.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradpoly.engines.base import Engine
from gradpoly.options import Device, FitConfig
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
