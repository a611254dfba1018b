"""Writing outputs safely: regular files only, atomically, never over an input of the run.

Every file gradpoly writes (``--json``, ``--plot``, ``--out``, ``FitResult.save``,
``io.write_rows``, the benchmark documents) goes through :func:`atomic_path`: the data goes to
a temporary file beside the real target (a symlink is followed, and stays a symlink), is
flushed to disk, and is renamed over the target only when complete. A link another user made in
a shared sticky folder (``/tmp``) is refused, as Linux's ``protected_symlinks`` refuses it,
whatever the system's setting. A directory, device, FIFO or socket is refused, a missing
folder is named, a new file gets the umask's mode and a replaced file keeps its own,
SIGTERM/SIGHUP/SIGINT remove the temporary file, and a full disk leaves the previous file
intact. ``-`` means standard output for text outputs (JSON, CSV).
:func:`read_text` is the one text read that every loader shares.
"""

from __future__ import annotations

import json
import math
import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO, Any

from gradpoly.errors import DataFileError, OutputError

STDOUT = "-"
"""The output name that means standard output (text formats only)."""

_UMASK_LOCK = threading.Lock()


def is_stdout(path: str | Path | None) -> bool:
    """True when ``path`` is ``-``, the name for standard output."""
    return path is not None and str(path) == STDOUT


IMAGE_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
"""What a plot's file name may end with, and the format written: a PNG to look at, PDF or SVG
(vector) for a paper."""


def image_format(path: str | Path) -> str:
    """The image format a plot at ``path`` is written in, from its extension; OutputError
    (one line) for any other name, before any work (a ``.jpg`` once got PNG bytes)."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_FORMATS:
        raise OutputError(
            f"cannot write the plot {path}: name it {', '.join(IMAGE_FORMATS)} (the format "
            "follows the extension)"
        )
    return IMAGE_FORMATS[suffix]


def _umask() -> int:
    """The process umask (read by setting and restoring it, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def resolve_output(path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """The regular file that writing ``path`` will replace (symlinks followed), checked.

    Raises OutputError, in one line, when ``path`` names a directory, device, FIFO or socket,
    when its folder does not exist or is not a folder, or when it is one of ``inputs``.
    """
    given = Path(path)
    if str(path) == "" or given.name in ("", ".", ".."):
        raise OutputError(f"cannot write {str(path)!r}: it names a folder, not a file")
    target = _resolved(given)
    try:
        info = os.stat(given)  # follows links: /dev/stdout is a pipe, a tty or a file
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"cannot write {given}: {exc.strerror or exc}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        hint = "" if stat.S_ISDIR(info.st_mode) else " (for standard output use -)"
        raise OutputError(
            f"cannot write {given}: it is {_kind(info.st_mode)}, not a regular file{hint}"
        )
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(
            f"cannot write {given}: the folder {given.parent} does not exist; create it first"
        )
    for source in inputs:
        if _same_file(target, source):
            raise OutputError(
                f"cannot write {given}: it is an input of this run ({source}); "
                "choose another output name"
            )
    return target


MAX_LINKS = 40
"""Links followed in one output path at most (Linux's own limit), so a loop is an error."""


def _resolved(given: Path) -> Path:
    """``given`` with every link resolved, as ``os.path.realpath`` resolves it, checking each
    link it follows (:func:`_check_link`); missing parts are kept as written."""
    parts = list(reversed(given.parts))
    current = Path(parts.pop()) if given.is_absolute() else Path.cwd()
    links = 0
    while parts:
        part = parts.pop()
        if part == "..":
            current = current.parent
            continue
        candidate = current / part
        try:
            info = os.lstat(candidate)
        except OSError:  # missing or unreadable: nothing to follow
            current = candidate
            continue
        if not stat.S_ISLNK(info.st_mode):
            current = candidate
            continue
        links += 1
        if links > MAX_LINKS:
            raise OutputError(f"cannot write {given}: more than {MAX_LINKS} links (a loop?)")
        _check_link(given, candidate, info)
        aim = Path(os.readlink(candidate))
        if aim.is_absolute():
            current = Path(aim.anchor)
            aim = aim.relative_to(aim.anchor)
        parts.extend(reversed(aim.parts))
    return current


def _check_link(given: Path, link: Path, info: os.stat_result) -> None:
    """Refuse a link in a sticky, world-writable folder owned by neither this user nor the
    folder's owner: another user's link there could aim the write at any file this user can
    write (the rule of Linux's ``fs.protected_symlinks``, applied here whatever its setting,
    since the rename below never asks the kernel to follow the link)."""
    folder = os.stat(link.parent)
    shared = folder.st_mode & stat.S_ISVTX and folder.st_mode & stat.S_IWOTH
    if shared and info.st_uid not in (os.geteuid(), folder.st_uid):
        raise OutputError(
            f"cannot write {given}: {link} is a link that another user (uid {info.st_uid}) "
            f"made in the shared folder {link.parent}; write to a file you own"
        )


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _same_file(target: Path, source: str | Path) -> bool:
    """Whether ``target`` and ``source`` are the same file (by inode, or by resolved name)."""
    try:
        return os.path.samefile(target, source)
    except OSError:
        return Path(os.path.realpath(source)) == target


@contextmanager
def _signals_raise() -> Iterator[None]:
    """While a file is written, SIGTERM and SIGHUP raise SystemExit so its temp is removed.

    (SIGINT already raises KeyboardInterrupt.) Only the main thread may set handlers;
    elsewhere the writer relies on the caller's own handling.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        del frame
        raise SystemExit(128 + signum)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        previous[sig] = signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def atomic_path(
    path: str | Path, suffix: str = "", inputs: Iterable[str | Path] = ()
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``'s real target; on success rename it over it.

    Readers see the old file or the whole new one; an interrupted or failed write (a signal,
    a full disk, any OSError) leaves no temporary file and the previous file intact, and is
    reported as one OutputError line. ``suffix`` keeps writers that pick a format from the
    extension (matplotlib) happy.
    """
    target = resolve_output(path, inputs)
    existing = target.stat() if target.exists() else None
    mode = stat.S_IMODE(existing.st_mode) if existing else 0o666 & ~_umask()
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent
        )
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        with _signals_raise():
            yield tmp
            os.chmod(tmp, mode)
            _flush_to_disk(tmp)
            os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _flush_to_disk(path: Path) -> None:
    """fsync ``path`` so a full disk or I/O error shows before the rename, not after."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(
    path: str | Path, write: Callable[[IO[str]], None], inputs: Iterable[str | Path] = ()
) -> Path:
    """Write a text file atomically through ``write(handle)``; ``-`` writes to stdout."""
    if is_stdout(path):
        write(sys.stdout)
        sys.stdout.flush()
        return Path(STDOUT)
    with atomic_path(path, inputs=inputs) as tmp, tmp.open("w", encoding="utf-8", newline="") as f:
        write(f)
    return Path(path)


def write_text_atomic(path: str | Path, text: str, inputs: Iterable[str | Path] = ()) -> Path:
    """Write ``text`` to ``path`` atomically (``-``: standard output)."""

    def write(handle: IO[str]) -> None:
        handle.write(text)

    return write_atomic(path, write, inputs)


def strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, so it is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalars
        return strict(value.item())
    return value


def json_text(data: Any, indent: int | None = None) -> str:
    """Strict JSON (RFC 8259): NaN and infinities are written as null, never as bare NaN."""
    return json.dumps(strict(data), indent=indent, allow_nan=False)


def read_text(path: str | Path) -> str:
    """Read a UTF-8 text file, turning OS errors into one readable DataFileError."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")  # a BOM (spreadsheets) is skipped
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DataFileError(f"cannot read {path}: it is not UTF-8 text") from None
