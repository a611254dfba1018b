"""A registry of named plug-ins (engines, batched engines): name -> one instance.

Modules register their class with :meth:`Registry.register`; lookups of unknown names raise
InvalidOptionError listing the known ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from gradpoly.errors import InvalidOptionError

T = TypeVar("T")
C = TypeVar("C", bound=type)


class Registry(Generic[T]):
    """Instances by ``name``, in registration order."""

    def __init__(self, noun: str, context: str = "") -> None:
        self.noun, self.context = noun, context  # "unknown {noun} 'x'{context}; choose one of"
        self._items: dict[str, Any] = {}

    def register(self, cls: C) -> C:
        """Class decorator: instantiate the class and file it under its ``name``."""
        item = cls()
        self._items[item.name] = item
        return cls

    def get(self, name: str) -> T:
        """The item called ``name``; InvalidOptionError lists the known ones."""
        try:
            item: T = self._items[str(name)]
        except KeyError:
            known = ", ".join(self._items)
            raise InvalidOptionError(
                f"unknown {self.noun} {name!r}{self.context}; choose one of: {known}"
            ) from None
        return item

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def load(self, package: str, modules: Iterable[str]) -> None:
        """Import the built-in modules of ``package``; each registers itself."""
        for module in modules:
            importlib.import_module(f"{package}.{module}")
