"""The private cache folder: created 0700, checked on every use, links never followed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gradpoly.errors import CacheError, GradpolyError
from gradpoly.private import cache_root, private_folder, read_private, write_private


def test_the_root_follows_the_environment_then_the_platform(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GRADPOLY_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"
    monkeypatch.delenv("GRADPOLY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and os.uname().sysname == "Linux":
        assert cache_root() == tmp_path / "xdg" / "gradpoly"


def test_folders_are_created_private(tmp_path) -> None:
    folder = private_folder("a", "b", root=tmp_path / "new" / "root")
    assert folder == tmp_path / "new" / "root" / "a" / "b"
    for path in (folder, folder.parent, folder.parent.parent, folder.parent.parent.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_a_folder_under_a_non_sticky_shared_folder_is_refused(tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(CacheError, match="writable by others and not sticky"):
        private_folder("x", root=shared / "cache")
    shared.chmod(0o777 | stat.S_ISVTX)  # as /tmp is: others cannot swap what is ours
    assert private_folder("x", root=shared / "cache").is_dir()


def test_a_link_in_place_of_a_cache_folder_is_refused(tmp_path) -> None:
    root = private_folder(root=tmp_path / "root")
    (tmp_path / "elsewhere").mkdir()
    (root / "packages").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(CacheError, match="symbolic link"):
        private_folder("packages", root=root)


def test_a_file_in_place_of_the_cache_folder_is_refused(tmp_path) -> None:
    (tmp_path / "root").write_text("")
    with pytest.raises(CacheError, match="not a folder") as caught:
        private_folder(root=tmp_path / "root")
    assert isinstance(caught.value, GradpolyError)
    assert isinstance(caught.value, OSError)


def test_reads_refuse_links_and_what_others_can_write(tmp_path) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"data")
    real.chmod(0o600)
    assert read_private(real) == b"data"
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(CacheError, match="symbolic link"):
        read_private(tmp_path / "link")
    real.chmod(0o646)
    with pytest.raises(CacheError, match="writable by others"):
        read_private(real)
    with pytest.raises(CacheError, match="not a regular file"):
        read_private(tmp_path)


def test_writes_replace_a_link_and_leave_its_target(tmp_path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    link = tmp_path / "cached"
    link.symlink_to(victim)
    write_private(link, b"new")
    assert victim.read_text() == "keep"
    assert not link.is_symlink()
    assert link.read_bytes() == b"new"
    assert stat.S_IMODE(link.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cached", "victim"]


def test_a_write_over_a_folder_is_refused(tmp_path) -> None:
    (tmp_path / "name").mkdir()
    with pytest.raises(CacheError, match="is a folder"):
        write_private(tmp_path / "name", b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["name"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_files_and_folders_of_another_owner_are_refused(tmp_path) -> None:
    theirs = Path(tmp_path / "theirs")
    theirs.write_bytes(b"x")
    theirs.chmod(0o600)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(CacheError, match="belongs to"):
        read_private(theirs)
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(CacheError, match="belongs to"):
        private_folder(root=folder)
    above = tmp_path / "above"
    above.mkdir(mode=0o755)
    os.chown(above, 65534, 65534)
    with pytest.raises(CacheError, match=r"above it belongs to"):
        private_folder(root=above / "cache")
