"""A real AOTInductor package, built once per test run, for the package tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gradpoly.engines import aoti, torch_engine
from tests.engines.packages import package_fit


class _Keyed(Exception):
    """Raised in place of packaging: the cache key the fit would record (``args[0]``)."""


def _key_of(degree: int) -> dict:
    """The key a compiled fit of ``degree`` caches its package under, from its own packaging
    call (nothing exported or compiled)."""

    def capture(program, stack, key=None):
        del program, stack
        raise _Keyed(key)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch_engine, "_PACKAGES", {})
        patch.setattr(torch_engine, "aoti_package", capture)
        with pytest.raises(_Keyed) as caught:
            package_fit(degree)
    return caught.value.args[0]


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A real package and manifest for degree 4 with the degree-4 reference fit, and another
    block's entry for degree 2: the manifest gradpoly writes for degree 2's key over bytes
    that are not degree 4's package (its bytes, the last one changed). The cache checks the
    key and the hash before it loads anything, so one compile serves both (each is ~20 s)."""
    root = tmp_path_factory.mktemp("built")
    saved = os.environ.get("GRADPOLY_CACHE_DIR")
    os.environ["GRADPOLY_CACHE_DIR"] = str(root)
    tables = dict(torch_engine._PACKAGES)
    try:
        torch_engine._PACKAGES.clear()
        result = package_fit(4)
        (package,) = (root / "torch-packages").glob("*.pt2")
        found = {4: (package, package.with_suffix(".json"), result)}
        other = bytearray(package.read_bytes())
        other[-1] ^= 0xFF
        key = _key_of(2)
        paths = aoti.package_paths(key)
        assert paths is not None
        assert paths[0] != package
        aoti._store(*paths, key, bytes(other))
        found[2] = (paths[0], paths[1], None)
    finally:
        torch_engine._PACKAGES.clear()
        torch_engine._PACKAGES.update(tables)
        if saved is None:
            del os.environ["GRADPOLY_CACHE_DIR"]
        else:
            os.environ["GRADPOLY_CACHE_DIR"] = saved
    return found


@pytest.fixture
def cache(tmp_path, monkeypatch, built):
    """A fresh private cache folder; compiling copies the right degree-4 bytes (counted)."""
    monkeypatch.setenv("GRADPOLY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(torch_engine, "_PACKAGES", {})
    compiled = []
    good = built[4][0].read_bytes()

    def compile_copy(program, stack, path):
        del program, stack
        compiled.append(path)
        Path(path).write_bytes(good)

    monkeypatch.setattr(aoti, "_compile", compile_copy)
    folder = tmp_path / "cache" / "torch-packages"
    return folder, compiled
