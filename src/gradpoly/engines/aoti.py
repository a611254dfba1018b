"""AOTInductor packages: built from a traced block, kept in the private cache, loaded checked.

A package is a zip holding a shared library that loading dlopens, so gradpoly loads only a
package it built itself: from its private cache folder (:mod:`gradpoly.private`), a regular
file of this user that nobody else can write, whose SHA-256 matches the manifest written
beside it when it was built. The manifest also records what the package was built for
(torch, the engine's source, the block, its inputs' shapes, strides and dtypes); a package
trusts its example's inputs unchecked, so the key must equal the caller's before it is used,
and the bytes that were hashed are the bytes loaded (from a private scratch copy). Anything
that fails is ignored with one :class:`~gradpoly.errors.CacheWarning` line and rebuilt; a
cache that cannot be used means packages compiled in memory, never a failed fit.

Inductor's own build folder gets the same care: it holds the shared libraries inductor
compiles and then loads, and defaults to ``/tmp/torchinductor_<user>``, which another user
can create first. :func:`safe_inductor_folder` checks it before every compile and moves
inductor into the private cache when it is not the user's own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gradpoly.engines.base import OptionalLibrary
from gradpoly.errors import CacheError, CacheWarning
from gradpoly.errors import warn as warn_user
from gradpoly.private import private_folder, read_private, write_private

TORCH = OptionalLibrary("torch", "torch")
load_torch = TORCH.load

FORMAT = 1
"""The manifest's format version; another version is ignored and rebuilt."""

Block = Callable[..., tuple[Any, Any]]
"""A loaded package called with flat tensors: ``block(*tensors) -> (w, losses)``."""


def warn(message: str) -> None:
    """One line saying why a cached file or folder was not used."""
    warn_user(message, CacheWarning)


def signature(example: tuple[Any, ...]) -> list[list[Any]]:
    """What a package assumes of its inputs, unchecked: shapes, strides and dtypes."""
    return [[list(t.shape), list(t.stride()), str(t.dtype)] for t in example]


# --- inductor's build folder --------------------------------------------------------------


def safe_inductor_folder() -> None:
    """Make sure inductor builds and loads its libraries in a folder only this user can write.

    The folder inductor would use (``$TORCHINDUCTOR_CACHE_DIR`` or ``/tmp/torchinductor_<user>``)
    is kept when it is this user's own (created 0700 when missing); otherwise inductor is
    pointed at ``<cache>/inductor``, or at a private scratch folder when the cache is unusable.
    Precompiled headers are kept by torch in ``/tmp/torchinductor_<user>`` whatever the setting
    (:func:`_private_headers`).
    """
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    _private_headers(Path(default_cache_dir()))
    configured = Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR") or default_cache_dir())
    try:
        private_folder(root=configured)
        return
    except CacheError as exc:
        reason = str(exc)
    try:
        replacement = str(private_folder("inductor"))
    except CacheError as exc:
        replacement = tempfile.mkdtemp(prefix="gradpoly-inductor-")
        reason += f"; {exc}"
    warn(f"inductor's build folder is not private ({reason}); building in {replacement}")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = replacement


def _private_headers(default: Path) -> None:
    """Compile without precompiled headers unless torch's folder for them is this user's own.

    torch keeps them in ``<default folder>/precompiled_headers`` whatever
    ``TORCHINDUCTOR_CACHE_DIR`` says, and reuses any header found there under the expected
    name: another user's file there would be compiled into the package.
    """
    torch = load_torch()
    from torch._inductor import codecache

    folder = Path(getattr(codecache, "_HEADER_DIR", default / "precompiled_headers"))
    config = torch._inductor.config
    switches = (
        (config, "cpp_cache_precompile_headers"),
        (config.aot_inductor, "precompile_headers"),
    )
    used = [(owner, name) for owner, name in switches if getattr(owner, name, False)]
    if not used:
        return
    try:
        private_folder(root=folder)
    except CacheError as exc:
        for owner, name in used:
            setattr(owner, name, False)
        warn(f"torch's precompiled headers are not private ({exc}); compiling without them")


# --- building ------------------------------------------------------------------------------


def exported(function: Callable[..., Any], example: tuple[Any, ...]) -> Any:
    """``function`` traced by ``make_fx`` (autograd becomes plain operators) and exported."""
    torch = load_torch()
    from torch.fx.experimental.proxy_tensor import make_fx

    with warnings.catch_warnings():
        # torch's own notes while exporting (lifted constants, pytree deprecations)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return torch.export.export(make_fx(function)(*example), example)


@contextlib.contextmanager
def _cpu_wrapper(stack: bool) -> Iterator[None]:
    """Inductor's CPU wrapper generator for this package: the stack-array one or the plain one.

    Inductor registers the CPU generator once per process, as the option stood at its first
    compile, and later packages reuse it whatever they ask for; so it is swapped in here and
    the process's own registration put back afterwards.
    """
    from dataclasses import replace

    from torch._inductor.codegen import common
    from torch._inductor.codegen.cpp_wrapper_cpu import CppWrapperCpu
    from torch._inductor.codegen.cpp_wrapper_cpu_array_ref import CppWrapperCpuArrayRef

    common.init_backend_registration()
    registered = common.device_codegens["cpu"]
    wrapper = CppWrapperCpuArrayRef if stack else CppWrapperCpu
    common.device_codegens["cpu"] = replace(registered, cpp_wrapper_codegen=wrapper)
    try:
        yield
    finally:
        common.device_codegens["cpu"] = registered


def _compile(program: Any, stack: bool, path: Path) -> None:
    """AOT-compile an exported program into the package file ``path``."""
    torch = load_torch()
    safe_inductor_folder()
    options = {"aot_inductor.allow_stack_allocation": stack, "fx_graph_cache": False}
    # set globally too (the precompiled header follows it); no graph cache, whose key cannot
    # see which CPU wrapper generator is registered
    with warnings.catch_warnings(), torch._inductor.config.patch(options), _cpu_wrapper(stack):
        warnings.simplefilter("ignore", FutureWarning)  # pytree deprecations inside torch
        torch._inductor.aoti_compile_and_package(
            program, package_path=str(path), inductor_configs=options
        )


def _load(data: bytes) -> Block:
    """Load the package whose bytes are ``data`` (checked by the caller) from a private copy."""
    torch = load_torch()
    with tempfile.TemporaryDirectory(prefix="gradpoly-package-") as scratch:
        path = Path(scratch) / "block.pt2"
        path.write_bytes(data)
        return _flat(torch._inductor.aoti_load_package(str(path)))


def _flat(package: Any) -> Block:
    """Call a loaded package with its tensors as they are: the block's inputs and outputs are
    flat already, and the package's own ``__call__`` re-parses its pytree specs every call."""
    run = package.loader.boxed_run

    def block(*tensors: Any) -> tuple[Any, Any]:
        w, losses = run(list(tensors))
        return w, losses

    return block


def aoti_package(
    program: Callable[[], Any], stack: bool, key: dict[str, Any] | None = None
) -> Block:
    """An exported two-output program (``program()`` exports it) as a loaded package.

    With a ``key`` (everything the package depends on, JSON-able) the package is kept in the
    private cache and reused by later processes after every check passes, and nothing is
    exported then; without one it is compiled in memory only (a user's own loss, whose code
    gradpoly cannot key).
    """
    paths = None if key is None else package_paths(key)
    if paths is not None and key is not None:
        found = _cached(paths, key)
        if found is not None:
            return found
    with tempfile.TemporaryDirectory(prefix="gradpoly-package-") as scratch:
        built = Path(scratch) / "block.pt2"
        _compile(program(), stack, built)
        data = built.read_bytes()
    if paths is not None and key is not None:
        _store(*paths, key, data)
    return _load(data)


def cached_package(key: dict[str, Any]) -> Block | None:
    """The package cached for ``key``, loaded once every check passes; else None (nothing
    there, caching off, or a file refused with one warning line)."""
    paths = package_paths(key)
    return None if paths is None else _cached(paths, key)


def _cached(paths: tuple[Path, Path], key: dict[str, Any]) -> Block | None:
    package, manifest = paths
    if not (os.path.lexists(package) or os.path.lexists(manifest)):
        return None
    try:
        return _load(_verified(package, manifest, key))
    except CacheError as exc:
        warn(f"ignored the cached package {package}: {exc}; rebuilding it")
        return None


def package_paths(key: dict[str, Any]) -> tuple[Path, Path] | None:
    """Where the package for ``key`` and its manifest live, or None when nothing is cached."""
    folder = _package_folder()
    if folder is None:
        return None
    name = hashlib.sha256(_canonical(key).encode()).hexdigest()[:32]
    return folder / f"block-{name}.pt2", folder / f"block-{name}.json"


def _package_folder() -> Path | None:
    """The private folder for packages, or None (one warning) when caching is off or unsafe."""
    if load_torch()._inductor.config.force_disable_caches:
        return None
    try:
        return private_folder("torch-packages")
    except CacheError as exc:
        warn(f"compiled packages are not cached: {exc}")
        return None


def _canonical(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def _verified(package: Path, manifest: Path, key: dict[str, Any]) -> bytes:
    """The package's bytes, once the file, its manifest, the key and the hash all check out."""
    try:
        recorded = json.loads(read_private(manifest).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CacheError(f"its manifest {manifest.name} is not gradpoly's JSON") from None
    if not isinstance(recorded, dict) or recorded.get("format") != FORMAT:
        raise CacheError(f"its manifest {manifest.name} is not of format {FORMAT}")
    if _canonical(recorded.get("key", {})) != _canonical(key):
        raise CacheError(f"its manifest {manifest.name} records another block or other inputs")
    data = read_private(package)
    if hashlib.sha256(data).hexdigest() != recorded.get("sha256"):
        raise CacheError("its content does not match the SHA-256 its manifest records")
    return data


def _store(package: Path, manifest: Path, key: dict[str, Any], data: bytes) -> None:
    """Write the package, then its manifest (a package without one is never loaded)."""
    record = {"format": FORMAT, "sha256": hashlib.sha256(data).hexdigest(), "key": key}
    try:
        write_private(package, data)
        write_private(manifest, json.dumps(record, indent=1, sort_keys=True).encode())
    except CacheError as exc:
        warn(f"the compiled package was not cached: {exc}")


__all__ = [
    "Block",
    "aoti_package",
    "cached_package",
    "exported",
    "load_torch",
    "package_paths",
    "safe_inductor_folder",
    "signature",
]
