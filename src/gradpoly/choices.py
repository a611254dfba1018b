"""The base of every option vocabulary: a str Enum that names its valid values when refused.

It sits below options and losses (both define choices), so neither needs the other to exist.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from gradpoly.errors import InvalidOptionError


class Choice(StrEnum):
    """A str Enum whose ``parse`` names the valid values when given a wrong one."""

    @classmethod
    def parse(cls, value: str | Self) -> Self:
        """Return the member for ``value`` or raise InvalidOptionError listing the choices."""
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except (ValueError, TypeError):
            choices = ", ".join(m.value for m in cls)
            raise InvalidOptionError(
                f"unknown {cls.__name__.lower()} {value!r}; choose one of: {choices}"
            ) from None
