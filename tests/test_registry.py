"""The plug-in registry shared by the engines and the batched engines."""

from __future__ import annotations

import pytest

from gradpoly.errors import InvalidOptionError
from gradpoly.registry import Registry


def test_register_get_names_and_unknown_names() -> None:
    registry: Registry[object] = Registry("engine", " for tests")

    @registry.register
    class Second:
        name = "b"

    @registry.register
    class First:
        name = "a"

    assert registry.names() == ["b", "a"]
    assert isinstance(registry.get("a"), First)
    with pytest.raises(
        InvalidOptionError, match="unknown engine 'z' for tests; choose one of: b, a"
    ):
        registry.get("z")
