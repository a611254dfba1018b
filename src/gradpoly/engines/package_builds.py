"""Packages built in another process, so a first compiled fit need not wait for its compiler.

A cold AOTInductor build takes 15-40 s on two cores, most of it C++ compilers. Where packages
are cached, the torch runner starts a builder instead: a fresh Python process running
gradpoly's own code builds the package and stores it in the private cache (the same key, the
same checks), while the fit runs its steps eager; the runner loads the package once the
builder exits and runs the remaining steps compiled, and later processes find it cached.
Inside :func:`waiting_for_packages` (the benchmarks time compiled steps only), with caching
off, or for a user's own loss, the package is built in the call, as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from gradpoly.engines.aoti import Block

_BACKGROUND: ContextVar[bool] = ContextVar("gradpoly_background_builds", default=True)

POLL_SECONDS = 0.05
"""How often a running fit asks whether its builder has exited (a ``waitpid``, not a file)."""

EAGER_SLICE = 200
"""Eager steps between two such questions while the package is being built."""


@contextlib.contextmanager
def waiting_for_packages() -> Iterator[None]:
    """Build compiled packages inside the call that needs them, not in the background.

    The benchmarks time compiled steps, so every fit they run waits for its package.
    """
    token = _BACKGROUND.set(False)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


def background_builds() -> bool:
    """Whether a missing package may be built in another process (see the module's notes)."""
    return _BACKGROUND.get()


class PendingPackage:
    """A package being built by a builder process; ``finish`` loads it (or builds it here)."""

    def __init__(self, process: subprocess.Popen[bytes], finish: Callable[[], Block]) -> None:
        self.process = process
        self._finish = finish
        self._next = 0.0

    def ready(self) -> Block | None:
        """The loaded package once the builder has exited, else None (asked at most every
        :data:`POLL_SECONDS`)."""
        now = time.monotonic()
        if now < self._next:
            return None
        self._next = now + POLL_SECONDS
        return None if self.process.poll() is None else self._finish()

    def wait(self) -> Block:
        """Wait for the builder, then load its package (built here if the builder failed)."""
        self.process.wait()
        return self._finish()


_CHILD = (
    "import sys; sys.path.append(sys.argv[1]); "
    "from gradpoly.engines.torch_engine import build_requested; build_requested(sys.argv[2])"
)


def start_builder(request: dict[str, Any]) -> subprocess.Popen[bytes]:
    """A detached process that builds and caches the package ``request`` describes.

    It is this interpreter in safe-path mode (``-P``: no current folder on its path), with
    this gradpoly's folder appended to the path, so the code that builds is the code that
    asked; its output is discarded: a failed build is redone in the asking process, where
    its error is reported as a synchronous build reports it. It outlives an exiting parent,
    so the package still lands in the cache for the next process.
    """
    source = str(Path(__file__).resolve().parents[2])  # the folder holding this gradpoly
    return subprocess.Popen(
        [sys.executable, "-P", "-c", _CHILD, source, json.dumps(request)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=dict(os.environ),
    )
