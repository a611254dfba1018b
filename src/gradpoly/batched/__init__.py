"""Batched backends for ``fit_many`` / ``lstsq_many``: name -> backend, like the engines.

Each module in ``_BUILTIN`` registers one backend; importing it never imports its optional
library (that happens on first use, and its absence is reported as a reason).
"""

from __future__ import annotations

import importlib
from typing import TypeVar

from gradpoly.batched.base import BatchBackend
from gradpoly.errors import InvalidOptionError

_REGISTRY: dict[str, BatchBackend] = {}
_BUILTIN = ("numpy_batch", "numba_batch", "torch_batch", "jax_batch")

B = TypeVar("B", bound=type)


def register(cls: B) -> B:
    """Class decorator: instantiate the backend and file it under its ``name``."""
    backend = cls()
    _REGISTRY[backend.name] = backend
    return cls


def get_backend(name: str) -> BatchBackend:
    """The batched backend called ``name``; InvalidOptionError lists the known ones."""
    try:
        return _REGISTRY[str(name)]
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise InvalidOptionError(
            f"unknown engine {name!r} for batched fits; choose one of: {known}"
        ) from None


def backend_names() -> list[str]:
    """Names of the batched backends, in registration order."""
    return list(_REGISTRY)


for _module in _BUILTIN:
    importlib.import_module(f"gradpoly.batched.{_module}")
