"""A per-user cache folder that only its owner can write, and the checked reads and writes in it.

gradpoly keeps compiled code (AOTInductor packages: shared libraries it will load and run) in
a cache. Anything loaded from there must be what gradpoly itself wrote, so the folder and every
file in it are checked on every use: the folder is the user's own, mode 0700, and no folder above
it lets another user swap it (each is owned by root or the user, and writable by others only
when sticky, as ``/tmp`` is); a file is read only if it is a regular file (a symlink is never
followed), owned by the user and writable by nobody else; a write goes to a fresh temporary
file in the folder and is renamed over the name, which replaces a planted link instead of
writing through it. Every failed check raises :class:`CacheError`, which callers turn into
"no cache" with one warning line, never into a failed fit.

The folder is ``$GRADPOLY_CACHE_DIR`` when set, else the platform's user cache folder
(``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches`` on macOS,
``%LOCALAPPDATA%`` on Windows) followed by ``gradpoly``.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from gradpoly.errors import CacheError

ENVIRONMENT = "GRADPOLY_CACHE_DIR"
"""The environment variable that moves the cache folder (the same checks apply there)."""

_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def cache_root() -> Path:
    """The configured cache folder (not created): ``$GRADPOLY_CACHE_DIR`` or the platform's."""
    configured = os.environ.get(ENVIRONMENT)
    if configured:
        return Path(configured).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "gradpoly"


def _uid() -> int | None:
    """The effective user id, or None where the platform has no owners (Windows)."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid() if callable(geteuid) else None


def _owner_name(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def check_private(info: os.stat_result, what: str) -> None:
    """Refuse ``info`` unless it is owned by this user and writable by nobody else."""
    uid = _uid()
    if uid is None:
        return
    if info.st_uid != uid:
        raise CacheError(f"{what} belongs to {_owner_name(info.st_uid)}, not to this user")
    if info.st_mode & _OTHERS_WRITE:
        raise CacheError(f"{what} is writable by others (mode {stat.S_IMODE(info.st_mode):04o})")


def _check_ancestors(folder: Path) -> None:
    """Refuse a folder that another user could swap: every folder above it is owned by root
    or this user, and writable by others only when sticky (as /tmp is)."""
    uid = _uid()
    if uid is None:
        return
    for parent in folder.parents:
        info = os.stat(parent)
        if info.st_uid not in (0, uid):
            raise CacheError(f"the folder {parent} above it belongs to {_owner_name(info.st_uid)}")
        if info.st_mode & _OTHERS_WRITE and not info.st_mode & stat.S_ISVTX:
            raise CacheError(
                f"the folder {parent} above it is writable by others and not sticky "
                f"(mode {stat.S_IMODE(info.st_mode):04o})"
            )


def _own_folder(path: Path, create: bool) -> None:
    """Create ``path`` (mode 0700) if asked and missing, then check it is a private folder."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if not create:
            raise CacheError(f"{path} does not exist") from None
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass  # another process of this user made it first; checked below
        info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise CacheError(f"{path} is a symbolic link, not a folder")
    if not stat.S_ISDIR(info.st_mode):
        raise CacheError(f"{path} is not a folder")
    check_private(info, f"the folder {path}")


def private_folder(*parts: str, root: Path | None = None) -> Path:
    """The cache folder ``root/parts...``, created 0700 where missing, checked on every call.

    Raises CacheError (one line, naming the cache folder) when it cannot be created or is not
    private: another owner, writable by others, a link or a file in its place, or a folder
    above it that another user could swap.
    """
    top = cache_root() if root is None else root
    try:
        top = Path(os.path.realpath(top.expanduser()))  # a linked ~/.cache is checked where it is
        missing = []
        probe = top
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        _check_ancestors(probe / "x")
        for folder in reversed(missing):
            os.mkdir(folder, 0o700)
        _own_folder(top, create=False)
        folder = top
        for part in parts:
            folder = folder / part
            _own_folder(folder, create=True)
    except CacheError as exc:
        raise CacheError(f"the cache folder {top} cannot be used: {exc}") from None
    except OSError as exc:
        raise CacheError(f"the cache folder {top} cannot be used: {exc.strerror or exc}") from None
    return folder


def read_private(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file of this user that nobody else can write.

    A symbolic link is not followed (it is refused); raises CacheError otherwise.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            raise CacheError(f"{path} is a symbolic link") from None
        raise CacheError(f"{path} cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CacheError(f"{path} is not a regular file")
        check_private(info, str(path))
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise CacheError(f"{path} cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (mode 0600) atomically, never through a link at ``path``.

    The bytes go to a fresh file beside it (``O_EXCL``), are flushed, and the file is renamed
    over ``path``: a planted symbolic link is replaced, its target untouched. Raises CacheError
    when ``path`` is a folder or the write fails.
    """
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            raise CacheError(f"{path} is a folder, not a file")
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise CacheError(f"{path} cannot be written: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except OSError as exc:
        Path(name).unlink(missing_ok=True)
        raise CacheError(f"{path} cannot be written: {exc.strerror or exc}") from None
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
