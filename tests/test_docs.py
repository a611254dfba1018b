"""The documentation site builds with warnings as errors, and its generated parts are right."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs_tools"))

import tables  # noqa: E402  (the site's renderers)


def test_every_table_renders_from_its_json() -> None:
    for name, render in tables.RENDERERS.items():
        text = render()
        assert text.count("\n|") >= 2, name  # a header, its rule and rows


def test_directives_expand_and_unknown_text_stays() -> None:
    text = "before\n{{ table ladder }}\n{{ machine bench }}\n{{ include targets.txt }}\nafter"
    out = tables.expand(text)
    assert "| rung |" in out
    assert "Measured on" in out
    assert "```text" in out
    assert out.startswith("before\n")
    assert out.endswith("\nafter")


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra builds the site")
    env = dict(os.environ, GRADPOLY_DOCS_EXECUTE="false")  # tests/test_examples.py runs them
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    api = (tmp_path / "reference" / "api" / "index.html").read_text()
    assert "lstsq_many" in api
    assert "PolynomialRegressor" in api
    cli = (tmp_path / "reference" / "cli" / "index.html").read_text()
    assert "--series-col" in cli
    assert (tmp_path / "examples" / "seed_retold" / "index.html").is_file()


def test_examples_run_by_this_interpreter_and_stop_the_build_when_they_fail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The many-curves page once published ``gradpoly: not found [exit status 127]`` and the
    strict build passed: examples run through ``sys.executable -m gradpoly`` whatever PATH
    holds, and one that ends otherwise than meant raises."""
    import examples

    monkeypatch.setenv("PATH", "/nonexistent")
    assert "Usage: gradpoly" in examples.render("cli_tour")
    monkeypatch.setitem(examples.CONSOLE, "broken", [("gradpoly fit no-such-file.csv", 0)])
    with pytest.raises(examples.ExampleError, match="exited 1, not 0"):
        examples.render("broken")
    monkeypatch.setitem(examples.PYTHON, "broken", "raise SystemExit(3)")
    with pytest.raises(examples.ExampleError, match="failed"):
        examples.render("broken")
    with pytest.raises(examples.ExampleError, match="run gradpoly"):
        examples._argv("rm -rf /")
