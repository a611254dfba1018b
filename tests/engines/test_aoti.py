"""The compiled-package cache trusts nothing it did not write itself.

Each case is made with real files, links and modes (and, run as root, a second owner): a
package is loaded only from the user's private folder, as a regular file of theirs, whose
bytes match the manifest gradpoly wrote for exactly this block and these inputs. Anything
else is ignored with one CacheWarning and rebuilt; an unusable cache never stops a fit.
Real packages are compiled once per run (``built``); a rebuild here copies the right bytes,
so each case runs in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest

from gradpoly.engines import aoti, torch_engine
from gradpoly.errors import CacheWarning
from tests.engines.packages import package_fit as _fit

pytestmark = pytest.mark.xdist_group("aoti")
"""One pytest-xdist worker runs this module (``--dist loadgroup``): its module fixture is
built once, not once per worker."""

torch = pytest.importorskip("torch", reason="torch is an optional engine")

NOBODY = 65534
AS_ROOT = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another owner needs root",
)


def _only(folder: Path, pattern: str) -> Path:
    (found,) = folder.glob(pattern)
    return found


def _plant(folder: Path, built, package_from: int, manifest_from: int | None) -> Path:
    """Put degree ``package_from``'s bytes at degree 4's name, with a manifest or none."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / built[4][0].name
    shutil.copyfile(built[package_from][0], target)
    if manifest_from is not None:
        shutil.copyfile(built[manifest_from][1], target.with_suffix(".json"))
    return target


def _fit_warning(match: str):
    with pytest.warns(CacheWarning, match=match):
        result = _fit()
    return result


def _is_reference(result, built) -> None:
    np.testing.assert_array_equal(result.trace, built[4][2].trace)
    np.testing.assert_array_equal(result.coef, built[4][2].coef)


def test_packages_are_private_and_loaded_by_the_next_process(cache, built) -> None:
    folder, compiled = cache
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        first = _fit()
        assert len(compiled) == 1
        torch_engine._PACKAGES.clear()  # as a new process would start
        again = _fit()
    assert len(compiled) == 1  # loaded, not compiled
    _is_reference(again, built)
    _is_reference(first, built)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    for file in folder.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".pt2"]


def test_a_package_of_another_block_is_not_used(cache, built) -> None:
    """Another block's package and manifest at this block's name: the key tells them apart."""
    folder, compiled = cache
    _plant(folder, built, package_from=2, manifest_from=2)
    result = _fit_warning("records another block or other inputs")
    assert len(compiled) == 1
    _is_reference(result, built)


def test_a_package_whose_bytes_differ_from_its_manifest_is_not_used(cache, built) -> None:
    folder, compiled = cache
    _plant(folder, built, package_from=2, manifest_from=4)
    result = _fit_warning("does not match the SHA-256")
    assert len(compiled) == 1
    _is_reference(result, built)
    torch_engine._PACKAGES.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        _fit()  # the rebuilt package is trusted from now on
    assert len(compiled) == 1


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        (None, "cannot be read"),
        (b"{not json", "not gradpoly's JSON"),
        (b'{"format": 99}', "not of format 1"),
        (b"[]", "not of format 1"),
    ],
)
def test_a_package_without_a_valid_manifest_is_not_used(cache, built, manifest, reason) -> None:
    folder, compiled = cache
    target = _plant(folder, built, package_from=4, manifest_from=None)
    if manifest is not None:
        target.with_suffix(".json").write_bytes(manifest)
    result = _fit_warning(reason)
    assert len(compiled) == 1
    _is_reference(result, built)


def test_a_package_writable_by_others_is_not_used(cache, built) -> None:
    folder, compiled = cache
    target = _plant(folder, built, package_from=4, manifest_from=4)
    target.chmod(0o666)
    _fit_warning("writable by others")
    assert len(compiled) == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # replaced by gradpoly's own


@AS_ROOT
def test_a_package_of_another_owner_is_not_used(cache, built) -> None:
    folder, compiled = cache
    target = _plant(folder, built, package_from=4, manifest_from=4)
    os.chown(target, NOBODY, NOBODY)
    _fit_warning("belongs to")
    assert len(compiled) == 1
    assert target.stat().st_uid == os.geteuid()


def test_a_link_at_the_package_path_is_neither_followed_nor_written_through(
    cache, built, tmp_path
) -> None:
    folder, compiled = cache
    folder.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "thesis.txt"
    victim.write_text("my own file")
    target = folder / built[4][0].name
    target.symlink_to(victim)
    shutil.copyfile(built[4][1], target.with_suffix(".json"))
    result = _fit_warning("symbolic link")
    _is_reference(result, built)
    assert victim.read_text() == "my own file"
    assert not target.is_symlink()
    assert target.read_bytes() == built[4][0].read_bytes()
    assert len(compiled) == 1


def test_a_link_to_a_real_package_is_not_followed(cache, built, tmp_path) -> None:
    folder, compiled = cache
    folder.mkdir(parents=True, mode=0o700)
    elsewhere = tmp_path / "elsewhere.pt2"
    shutil.copyfile(built[4][0], elsewhere)
    (folder / built[4][0].name).symlink_to(elsewhere)
    shutil.copyfile(built[4][1], (folder / built[4][1].name))
    _fit_warning("symbolic link")
    assert len(compiled) == 1


def test_a_folder_at_the_package_path_leaves_the_fit_running(cache, built) -> None:
    folder, _compiled = cache
    (folder / built[4][0].name).mkdir(parents=True)
    with pytest.warns(CacheWarning) as caught:
        result = _fit()
    messages = " | ".join(str(w.message) for w in caught)
    assert "is a folder" in messages
    assert str(folder) in messages  # the line says it is the cache
    _is_reference(result, built)


def test_a_cache_folder_writable_by_others_is_not_used(cache, built, tmp_path) -> None:
    folder, compiled = cache
    _plant(folder, built, package_from=4, manifest_from=4)
    folder.parent.chmod(0o777)
    result = _fit_warning("writable by others")
    assert len(compiled) == 1  # compiled in memory
    _is_reference(result, built)


@AS_ROOT
def test_a_cache_folder_planted_by_another_user_is_never_loaded_or_written(
    cache, built, tmp_path
) -> None:
    folder, compiled = cache
    target = _plant(folder, built, package_from=2, manifest_from=4)
    manifest = target.with_suffix(".json")
    record = json.loads(manifest.read_text())
    record["sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(record))  # a forged manifest that matches the forged bytes
    for path in (folder.parent, folder, target, manifest):
        os.chown(path, NOBODY, NOBODY)
    planted = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    result = _fit_warning("belongs to")
    _is_reference(result, built)  # the degree-2 package never ran
    assert len(compiled) == 1
    assert {p: p.stat().st_mtime_ns for p in folder.iterdir()} == planted  # nothing written there


def test_a_cache_folder_that_cannot_be_created_leaves_the_fit_running(
    tmp_path, monkeypatch, built
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("GRADPOLY_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(torch_engine, "_PACKAGES", {})
    monkeypatch.setattr(aoti, "_compile", lambda p, s, path: shutil.copyfile(built[4][0], path))
    result = _fit_warning("compiled packages are not cached")
    _is_reference(result, built)


def test_a_read_only_cache_folder_leaves_the_fit_running(cache, built) -> None:
    folder, _compiled = cache
    folder.mkdir(parents=True, mode=0o700)
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("this user (root) writes into read-only folders anyway")
        result = _fit_warning("was not cached")
    finally:
        folder.chmod(0o700)
    _is_reference(result, built)


def test_a_failed_write_leaves_no_file_and_the_fit_running(cache, built, monkeypatch) -> None:
    """A full disk or read-only mount (EROFS) while storing: one warning, no partial file."""
    folder, _compiled = cache

    def refuse(fd):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "fsync", refuse)
    result = _fit_warning("Read-only file system")
    _is_reference(result, built)
    assert list(folder.iterdir()) == []


def test_an_inductor_folder_writable_by_others_is_replaced(tmp_path, monkeypatch) -> None:
    shared = tmp_path / "torchinductor_shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(shared))
    monkeypatch.setenv("GRADPOLY_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.warns(CacheWarning, match="inductor's build folder is not private"):
        aoti.safe_inductor_folder()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "cache" / "inductor")


@AS_ROOT
def test_an_inductor_folder_of_another_user_is_replaced(tmp_path, monkeypatch) -> None:
    theirs = tmp_path / "torchinductor_root"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, NOBODY, NOBODY)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(theirs))
    monkeypatch.setenv("GRADPOLY_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.warns(CacheWarning, match="belongs to"):
        aoti.safe_inductor_folder()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "cache" / "inductor")


def _headers_in(monkeypatch, folder: Path) -> None:
    """torch's precompiled-header folder moved to ``folder``, its two switches on (restored)."""
    from torch._inductor import codecache

    monkeypatch.setattr(codecache, "_HEADER_DIR", str(folder))
    monkeypatch.setattr(torch._inductor.config, "cpp_cache_precompile_headers", True)
    monkeypatch.setattr(torch._inductor.config.aot_inductor, "precompile_headers", True)


@pytest.mark.parametrize("whose", ["writable by others", "another user's"])
def test_precompiled_headers_outside_a_private_folder_are_not_used(tmp_path, monkeypatch, whose
                                                                   ) -> None:  # fmt: skip
    """torch keeps precompiled headers in /tmp/torchinductor_<user> whatever
    TORCHINDUCTOR_CACHE_DIR says: when that folder is not this user's own, none are used."""
    if whose == "another user's" and os.geteuid() != 0:
        pytest.skip("giving a folder to another owner needs root")
    shared = tmp_path / "torchinductor_me"
    shared.mkdir()
    if whose == "writable by others":
        shared.chmod(0o777)
    else:
        os.chown(shared, NOBODY, NOBODY)
    _headers_in(monkeypatch, shared / "precompiled_headers")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    with pytest.warns(CacheWarning, match="precompiled headers are not private"):
        aoti.safe_inductor_folder()
    assert not torch._inductor.config.cpp_cache_precompile_headers
    assert not torch._inductor.config.aot_inductor.precompile_headers
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "mine")  # kept: private


def test_precompiled_headers_in_an_own_folder_are_used(tmp_path, monkeypatch) -> None:
    _headers_in(monkeypatch, tmp_path / "torchinductor_me" / "precompiled_headers")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        aoti.safe_inductor_folder()
    assert torch._inductor.config.cpp_cache_precompile_headers
    assert torch._inductor.config.aot_inductor.precompile_headers
    folder = tmp_path / "torchinductor_me" / "precompiled_headers"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_an_own_inductor_folder_is_kept_and_made_private(tmp_path, monkeypatch) -> None:
    mine = tmp_path / "torchinductor_me"
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(mine))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        aoti.safe_inductor_folder()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(mine)
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700


def test_no_package_is_written_when_inductors_caches_are_off(cache) -> None:
    folder, _compiled = cache
    with torch._inductor.config.patch(force_disable_caches=True):
        _fit()
    assert not folder.exists() or list(folder.iterdir()) == []
