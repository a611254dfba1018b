"""Batched backends for ``fit_many`` / ``lstsq_many``: name -> backend, like the engines.

Each module in ``_BUILTIN`` registers one backend; importing it never imports its optional
library (that happens on first use, and its absence is reported as a reason).
"""

from __future__ import annotations

from gradpoly.batched.base import BatchBackend
from gradpoly.registry import Registry

_REGISTRY: Registry[BatchBackend] = Registry("engine", " for batched fits")
_BUILTIN = ("numpy_batch", "numba_batch", "torch_batch", "jax_batch")

register = _REGISTRY.register


def get_backend(name: str) -> BatchBackend:
    """The batched backend called ``name``; InvalidOptionError lists the known ones."""
    return _REGISTRY.get(name)


def backend_names() -> list[str]:
    """Names of the batched backends, in registration order."""
    return _REGISTRY.names()


_REGISTRY.load("gradpoly.batched", _BUILTIN)
