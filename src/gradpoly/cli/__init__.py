"""The ``gradpoly`` command line: thin commands that parse, call the public API and print.

A GradpolyError becomes one line on stderr and exit code 1, never a traceback. The package
reads bottom-up: ``common`` (the app, console, progress bars, output checks), ``fit`` (option
groups and one job per kind of run), ``commands`` (demo, bench, ladder, derivative, engines),
``calibrate`` (inverse prediction), ``degree`` (degree selection), ``robust``.
"""

from __future__ import annotations

import typer
from rich.console import Console

from gradpoly.cli import fit  # noqa: F401  (registered first: the main job)

# isort: split
from gradpoly.cli import (
    calibrate,  # noqa: F401  (inverse prediction)
    commands,  # noqa: F401  (demo, bench, ladder, derivative, engines)
    degree,  # noqa: F401  (degree selection)
    robust,  # noqa: F401  (robust fits)
)
from gradpoly.cli.common import app, plain

__all__ = ["app", "main", "run"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status; usage errors become one line on stderr."""
    try:
        result = app(args=argv, prog_name="gradpoly", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        return 130
    except typer.TyperException as exc:
        format_message = getattr(exc, "format_message", None)
        message = plain(format_message() if callable(format_message) else str(exc))
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[bold red]error:[/] {message} (see --help)"
        )
        return int(getattr(exc, "exit_code", 2))
    return result if isinstance(result, int) else 0


def run() -> None:
    """``gradpoly`` console script: exit with :func:`main`'s status."""
    raise SystemExit(main())
