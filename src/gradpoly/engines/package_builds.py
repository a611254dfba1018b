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


MAX_BUILDERS = 2
"""Builder processes one process runs at once (each imports torch and runs compilers); more
packages wait their turn, and their fits run eager meanwhile."""

_RUNNING: list[PendingPackage] = []
"""This process's builders that have been started and not yet finished with."""


class PendingPackage:
    """A package a builder process is to build: started when a builder slot is free, then
    loaded (or built here, if the builder failed or could not start) once it has exited."""

    def __init__(
        self, start: Callable[[], subprocess.Popen[bytes]], finish: Callable[[], Block]
    ) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self._start = start
        self._finish = finish
        self._next = 0.0

    def ready(self) -> Block | None:
        """The loaded package once its builder has exited, else None (asked at most every
        :data:`POLL_SECONDS`; the builder is started here when a slot is free)."""
        now = time.monotonic()
        if now < self._next:
            return None
        self._next = now + POLL_SECONDS
        if self.process is None:
            if sum(p.process is not None and p.process.poll() is None for p in _RUNNING) >= (
                MAX_BUILDERS
            ):
                return None
            if not self._launch():
                return self._done()
        assert self.process is not None
        return None if self.process.poll() is None else self._done()

    def wait(self) -> Block:
        """Wait for the builder (started now if it was waiting its turn), then the package."""
        if self.process is None and not self._launch():
            return self._done()
        assert self.process is not None
        self.process.wait()
        return self._done()

    def _launch(self) -> bool:
        """Start the builder; False where no process can be started (built here instead)."""
        try:
            self.process = self._start()
        except OSError:
            return False
        _RUNNING.append(self)
        return True

    def _done(self) -> Block:
        if self in _RUNNING:
            _RUNNING.remove(self)
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
    if not sys.executable:  # an embedded interpreter: nothing to run a builder with
        raise OSError("this Python has no executable to run a builder process")
    source = str(Path(__file__).resolve().parents[2])  # the folder holding this gradpoly
    return subprocess.Popen(
        [sys.executable, "-P", "-c", _CHILD, source, json.dumps(request)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=dict(os.environ),
    )
