"""Real AOTInductor packages, built once per test run, for the package tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gradpoly.engines import aoti, torch_engine
from tests.engines.packages import package_fit


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Real packages and manifests for degree 4 and degree 2, and the degree-4 reference fit."""
    root = tmp_path_factory.mktemp("built")
    saved = os.environ.get("GRADPOLY_CACHE_DIR")
    os.environ["GRADPOLY_CACHE_DIR"] = str(root)
    tables = dict(torch_engine._PACKAGES)
    try:
        found = {}
        for degree in (4, 2):
            torch_engine._PACKAGES.clear()
            before = set((root / "torch-packages").glob("*.pt2")) if root.exists() else set()
            result = package_fit(degree)
            (package,) = set((root / "torch-packages").glob("*.pt2")) - before
            found[degree] = (package, package.with_suffix(".json"), result)
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
