"""mkdocs hooks: every page's generated parts are made at build time, from their sources.

``{{ table/machine/include ... }}`` come from the benchmarks' JSON (``tables.py``);
``{{ example NAME }}`` is a snippet run now, with its output (``examples.py``);
``{{ cli }}`` is each command's ``--help`` as the CLI prints it; ``{{ api }}`` is one
mkdocstrings entry per name in ``gradpoly.__all__`` plus the integration modules.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import examples  # beside this file: mkdocs loads hooks by path
import tables

EXAMPLE = re.compile(r"^\{\{ example (\w+) \}\}$", re.MULTILINE)

INTEGRATIONS = ("gradpoly.sklearn", "gradpoly.xarray", "gradpoly.dask", "gradpoly.timeaxis")


def cli_reference() -> str:
    """``gradpoly --help`` and every command's ``--help``, captured from the CLI itself."""
    os.environ["COLUMNS"] = "100"
    from typer.main import get_command
    from typer.testing import CliRunner

    from gradpoly.cli import app

    runner = CliRunner()
    parts = []
    names = [None, *sorted(get_command(app).commands)]  # type: ignore[attr-defined]
    for name in names:
        args = ["--help"] if name is None else [name, "--help"]
        result = runner.invoke(app, args, terminal_width=100, prog_name="gradpoly")
        if result.exit_code != 0:
            raise RuntimeError(f"gradpoly {' '.join(args)} failed: {result.output}")
        title = "gradpoly" if name is None else f"gradpoly {name}"
        parts.append(f"## `{title}`\n\n```text\n{result.output.rstrip()}\n```")
    return "\n\n".join(parts)


def api_reference() -> str:
    """One mkdocstrings block per public name, then the integration modules."""
    import gradpoly

    names = [n for n in gradpoly.__all__ if not n.startswith("_")]
    blocks = [f"## `gradpoly.{n}`\n\n::: gradpoly.{n}" for n in names]
    blocks += [f"## `{m}`\n\n::: {m}" for m in INTEGRATIONS]
    return "\n\n".join(blocks)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Expand the directives of one page."""
    markdown = tables.expand(markdown)
    markdown = EXAMPLE.sub(lambda m: examples.render(m.group(1)), markdown)
    if "{{ cli }}" in markdown:
        markdown = markdown.replace("{{ cli }}", cli_reference())
    if "{{ api }}" in markdown:
        markdown = markdown.replace("{{ api }}", api_reference())
    return markdown
