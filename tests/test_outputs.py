"""Outputs: regular files only, atomically, through symlinks, never over an input, and a
failed or interrupted write leaves the previous file intact and no temporary file behind."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gradpoly import FitResult, fit
from gradpoly.cli import main
from gradpoly.errors import DataFileError, OutputError
from gradpoly.io import write_rows
from gradpoly.outputs import atomic_path, json_text, resolve_output, write_text_atomic


def leftovers(folder: Path) -> list[str]:
    """Temporary files a writer left in ``folder``."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_regular_file_is_replaced_whole(tmp_path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert leftovers(tmp_path) == []


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_text_atomic(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"


NOBODY = 65534
AS_ROOT = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="making a link of another owner needs root",
)


def _shared_folder(tmp_path: Path) -> Path:
    """A sticky, world-writable folder such as /tmp, owned by this user."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    return shared


@AS_ROOT
@pytest.mark.parametrize("through", ["file", "folder"])
def test_another_user_s_link_in_a_shared_folder_is_refused(tmp_path, cli, data_csv, through
                                                          ) -> None:  # fmt: skip
    """Another user's link in /tmp aimed at this user's file, or at a folder of theirs: the
    write is refused (protected_symlinks' rule, whatever the system says) and nothing moves."""
    shared = _shared_folder(tmp_path)
    victim = tmp_path / "thesis.txt"
    victim.write_text("years of work")
    link = shared / "out.json"
    link.symlink_to(victim if through == "file" else tmp_path)
    os.lchown(link, NOBODY, NOBODY)
    name = link if through == "file" else link / "thesis.txt"
    with pytest.raises(OutputError, match=r"another user \(uid 65534\)"):
        write_text_atomic(name, "{}")
    assert victim.read_text() == "years of work"
    assert link.is_symlink()
    assert leftovers(tmp_path) == []
    assert leftovers(shared) == []
    code, _, err = cli("fit", str(data_csv), "--steps", "5", "--json", str(name))
    assert code == 1
    assert "another user" in err
    assert len(err.strip().splitlines()) == 1
    assert victim.read_text() == "years of work"


@AS_ROOT
@pytest.mark.parametrize("owner", ["mine", "the folder's owner's"])
def test_a_link_of_this_user_or_the_folder_s_owner_is_followed(tmp_path, owner) -> None:
    """The links protected_symlinks follows: this user's own, or the shared folder's owner's."""
    shared = _shared_folder(tmp_path)
    real = tmp_path / "real.json"
    real.write_text("old")
    link = shared / "out.json"
    link.symlink_to(real)
    if owner != "mine":
        os.chown(shared, NOBODY, NOBODY)
        os.lchown(link, NOBODY, NOBODY)
    write_text_atomic(link, "new")
    assert real.read_text() == "new"
    assert link.is_symlink()


def test_a_link_loop_is_one_clear_error(tmp_path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OutputError, match="links"):
        write_text_atomic(tmp_path / "a" / "out.json", "{}")


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_non_regular_targets_are_refused(tmp_path, kind) -> None:
    target = tmp_path / "target"
    if kind == "directory":
        target.mkdir()
    else:
        os.mkfifo(target)
    with pytest.raises(OutputError, match="not a regular file"):
        write_text_atomic(target, "x")
    assert target.is_dir() if kind == "directory" else stat.S_ISFIFO(target.stat().st_mode)
    assert leftovers(tmp_path) == []


def test_a_device_is_refused() -> None:
    with pytest.raises(OutputError, match="character device"):
        resolve_output("/dev/null")


def test_a_missing_folder_is_named_not_created(tmp_path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        write_text_atomic(tmp_path / "nowhere" / "out.json", "x")
    assert not (tmp_path / "nowhere").exists()


def test_an_input_is_never_an_output(tmp_path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("x,y\n1,2\n")
    with pytest.raises(OutputError, match="input of this run"):
        write_text_atomic(data, "x", inputs=[data])
    alias = tmp_path / "alias.csv"
    alias.symlink_to(data)
    with pytest.raises(OutputError, match="input of this run"):
        write_text_atomic(alias, "x", inputs=[data])
    assert data.read_text() == "x,y\n1,2\n"


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path) -> None:
    old = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "new.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o644)
    write_text_atomic(kept, "new")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o644


def test_a_full_disk_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "out.json"
    target.write_text("previous")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match="No space left on device") as caught:
        write_text_atomic(target, "new")
    assert "\n" not in str(caught.value)
    assert target.read_text() == "previous"
    assert leftovers(tmp_path) == []


def test_any_error_inside_the_writer_removes_the_temporary_file(tmp_path) -> None:
    def interrupted() -> None:
        with atomic_path(tmp_path / "out.png") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted()
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "out.png").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders anyway")
def test_a_read_only_folder_is_one_line(tmp_path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="Permission denied"):
            write_text_atomic(folder / "out.json", "x")
    finally:
        folder.chmod(0o700)


WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from gradpoly.outputs import write_atomic

    # Ctrl-C as a terminal delivers it, however the tests were started: a shell that runs
    # them in the background hands its children SIGINT ignored (and so no KeyboardInterrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def write(handle):
        handle.write("half")
        handle.flush()
        os.kill(os.getpid(), getattr(signal, sys.argv[2]))
        handle.write("never")

    write_atomic(sys.argv[1], write)
    """
)


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_signals_remove_the_temporary_file(tmp_path, name) -> None:
    target = tmp_path / "out.json"
    target.write_text("previous")
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(target), name], capture_output=True, text=True
    )
    assert done.returncode != 0
    assert target.read_text() == "previous"
    assert leftovers(tmp_path) == []
    if name != "SIGINT":
        assert done.returncode == 128 + getattr(signal, name)


def test_dash_is_standard_output_for_text(capsys) -> None:
    write_text_atomic("-", "hello\n")
    assert capsys.readouterr().out == "hello\n"
    write_rows("-", [{"series": "a", "coef_0": 1.0}])
    assert capsys.readouterr().out.splitlines()[0] == "series,coef_0"


def test_binary_formats_refuse_standard_output() -> None:
    with pytest.raises(OutputError, match=r"use a \.csv"):
        write_rows("-.bin", [{"a": 1}])


def test_json_is_strict() -> None:
    text = json_text({"a": float("nan"), "b": [float("inf"), 1.0], "c": np.float64("nan")})
    assert json.loads(text) == {"a": None, "b": [None, 1.0], "c": None}
    assert "NaN" not in text


def test_a_result_with_nan_saves_strict_json_and_loads_back(tmp_path) -> None:
    x = np.linspace(0, 1, 20)
    result = fit(x, x, degree=1, steps=5)
    result.save(tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text  # lr/momentum may be NaN in memory; JSON holds null
    assert FitResult.load(tmp_path / "r.json").coef.tolist() == result.coef.tolist()


@pytest.mark.parametrize("content", ["", "{", "[1, 2]", '{"coef": 1}', "\x00\x01"])
def test_loading_a_corrupt_result_is_a_data_file_error(tmp_path, content) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DataFileError, match=r"bad\.json"):
        FitResult.load(path)


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: ``cli(*args) -> (exit code, stdout, stderr)``."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def data_csv(tmp_path):
    """30 points of sin(x) as x,y columns."""
    x = np.linspace(0, 5, 30)
    rows = "".join(f"{a},{b}\n" for a, b in zip(x, np.sin(x), strict=True))
    path = tmp_path / "data.csv"
    path.write_text("x,y\n" + rows)
    return path


@pytest.mark.parametrize("flag", ["--json", "--plot"])
def test_cli_refuses_to_write_over_its_input(cli, data_csv, flag) -> None:
    before = data_csv.read_text()
    code, _, err = cli("fit", str(data_csv), "--steps", "5", flag, str(data_csv))
    assert code == 1
    assert "input of this run" in err
    assert len(err.strip().splitlines()) == 1
    assert data_csv.read_text() == before


def test_cli_checks_outputs_before_fitting(cli, data_csv, tmp_path) -> None:
    code, out, err = cli(
        "fit", str(data_csv), "--steps", "5", "--json", str(tmp_path / "no" / "r.json")
    )
    assert code == 1
    assert "does not exist" in err
    assert "coefficients" not in out  # refused before the fit ran


def test_cli_json_to_standard_output_keeps_stdout_pure(cli, data_csv) -> None:
    code, out, err = cli("fit", str(data_csv), "--steps", "5", "--json", "-")
    assert code == 0
    assert json.loads(out)["config"]["steps"] == 5
    assert "coefficients" in err


def test_cli_refuses_a_plot_on_standard_output(cli, data_csv) -> None:
    code, _, err = cli("fit", str(data_csv), "--steps", "5", "--plot", "-")
    assert code == 1
    assert "only JSON and CSV" in err


@pytest.mark.parametrize(("name", "magic"), [("fit.png", b"\x89PNG"), ("fit.PDF", b"%PDF"),
                                             ("fit.svg", b"<?xml")])  # fmt: skip
def test_a_plot_is_written_in_the_format_its_name_says(cli, data_csv, tmp_path, name, magic
                                                       ) -> None:  # fmt: skip
    code, _, err = cli("fit", str(data_csv), "--steps", "5", "--plot", str(tmp_path / name))
    assert code == 0, err
    assert (tmp_path / name).read_bytes().startswith(magic)


@pytest.mark.parametrize("name", ["fit.jpg", "fit.xyz", "fit"])
def test_a_plot_named_for_another_format_is_refused_before_fitting(cli, data_csv, tmp_path,
                                                                   name) -> None:  # fmt: skip
    """A .jpg once got PNG bytes: the name says the format, or the run is refused up front."""
    code, out, err = cli("fit", str(data_csv), "--steps", "5", "--plot", str(tmp_path / name))
    assert code == 1
    assert "name it .png, .pdf, .svg" in err
    assert len(err.strip().splitlines()) == 1
    assert "coefficients" not in out
    assert not (tmp_path / name).exists()


def test_the_library_s_plots_follow_the_same_rule(tmp_path) -> None:
    from gradpoly.plots import plot_traces

    result = fit(np.linspace(0, 1, 20), np.linspace(0, 1, 20), degree=1, steps=5)
    with pytest.raises(OutputError, match="name it"):
        plot_traces({"run": result}, tmp_path / "trace.jpg")
    plot_traces({"run": result}, tmp_path / "trace.svg")
    assert (tmp_path / "trace.svg").read_bytes().startswith(b"<?xml")


def test_cli_refuses_two_outputs_on_one_file(cli, data_csv, tmp_path) -> None:
    same = str(tmp_path / "same.out")
    code, _, err = cli("fit", str(data_csv), "--steps", "5", "--json", same, "--plot", same)
    assert code == 1
    assert "same file" in err


def test_a_link_to_a_pipe_is_refused_like_the_pipe(tmp_path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "stdout"
    link.symlink_to(fifo)
    with pytest.raises(OutputError, match=r"FIFO.*use -"):
        write_text_atomic(link, "x")
    assert link.is_symlink()
