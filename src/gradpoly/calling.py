"""How the front doors are called: options after the data and degree are keyword-only.

gradpoly is 0.x and renames freely, but a call that worked in the last release keeps working
for one more, with a :class:`DeprecationWarning` that says what to write instead.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from gradpoly.errors import warn

F = TypeVar("F", bound=Callable[..., Any])


def keyword_only(positional: int, since: str = "0.2") -> Callable[[F], F]:
    """Let the options of ``func`` (declared after ``*``) still be passed by position, in
    their declared order, after its first ``positional`` parameters, with a
    DeprecationWarning naming them; removed in the release after ``since``."""

    def decorate(func: F) -> F:
        options = [
            name
            for name, p in inspect.signature(func).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]

        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            if len(args) <= positional:
                return func(*args, **kwargs)
            extra = args[positional:]
            if len(extra) > len(options):
                raise TypeError(
                    f"{func.__name__}() takes at most {positional + len(options)} arguments "
                    f"({len(args)} given)"
                )
            named = dict(zip(options, extra, strict=False))
            twice = sorted(set(named) & set(kwargs))
            if twice:
                raise TypeError(f"{func.__name__}() got multiple values for {twice[0]!r}")
            spelled = ", ".join(f"{name}=..." for name in named)
            warn(
                f"{func.__name__}(): options after the first {positional} arguments are "
                f"keyword-only since gradpoly {since}; write {spelled}",
                DeprecationWarning,
            )
            return func(*args[:positional], **named, **kwargs)

        return call  # type: ignore[return-value]

    return decorate


def renamed(since: str = "0.2", **old_to_new: str) -> Callable[[F], F]:
    """Let ``func`` still take each old keyword (``old=new``) for one release, with a
    DeprecationWarning naming the new one: one name, one meaning, across the front doors."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(f"{func.__name__}() got both {old!r} and its new name {new!r}")
                warn(
                    f"{func.__name__}(): {old}= is {new}= since gradpoly {since}",
                    DeprecationWarning,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return call  # type: ignore[return-value]

    return decorate
