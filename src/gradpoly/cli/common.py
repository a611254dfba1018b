"""What every ``gradpoly`` command shares: the typer app (flags shown as flags, one-line
errors), the report console, progress bars, output checks before any work, and small
renderings (counts, "(auto)" labels, plain usage errors)."""

from __future__ import annotations

import functools
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperCommand, TyperGroup

from gradpoly import __version__
from gradpoly.engines import AUTO, engine_names
from gradpoly.engines.base import Progress as ProgressCallback
from gradpoly.errors import (
    GradpolyError,
    InvalidOptionError,
    OutputError,
)
from gradpoly.options import (
    Optimizer,
)
from gradpoly.outputs import (
    image_format,
    is_stdout,
    json_text,
    resolve_output,
    write_text_atomic,
)


def _flags_as_flags(params: list[Any], ctx: Any) -> None:
    """Tidy --help: on/off options shown as flags (typer labels them ``<bool>``), and long
    choice lists named by the option and spelled out in its help, never cut mid-word."""
    for param in params:
        if param.metavar is not None or getattr(param, "param_type_name", "") == "argument":
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
            continue
        shown = param.display_type(ctx) if hasattr(param, "display_type") else None
        if shown and shown.startswith("<") and "|" in shown and len(shown) > 24:
            param.metavar = f"<{param.name.replace('_', '-')}>"
            choices = ", ".join(shown.strip("<>").split("|"))
            param.help = f"{param.help or ''} One of: {choices}.".strip()


class Command(TyperCommand):
    """A command whose flags (``--help`` too) are shown without a value."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _flags_as_flags(params, ctx)
        return params


class Group(TyperGroup):
    """The root group: flags shown as flags, as in every command."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _flags_as_flags(params, ctx)
        return params


app = typer.Typer(
    help="Fit polynomials by gradient descent on interchangeable engines, checked and timed.",
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"gradpoly {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Fit polynomials by gradient descent on interchangeable engines, checked and timed."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


DataFile = Annotated[
    Path, typer.Argument(help="CSV, Parquet, NPY or NPZ file with x and y columns.")
]
XCol = Annotated[str, typer.Option(help="Name of the x column when there is a header.")]
YCol = Annotated[str, typer.Option(help="Name of the y column when there is a header.")]
WeightsCol = Annotated[str | None, typer.Option(help="Column of inverse-variance weights.")]
SigmaCol = Annotated[
    str | None, typer.Option(help="Column of y's standard deviations (weights 1/sigma²).")
]
DropNan = Annotated[
    bool, typer.Option("--drop-nan", help="Drop rows with NaN/inf instead of stopping.")
]
"""The options every file-reading command shares, each declared once."""

Fixed = Annotated[
    list[str] | None,
    typer.Option(help="Fix a coefficient, POWER=VALUE (0=0: through the origin); repeat."),
]
Through = Annotated[
    list[str] | None, typer.Option(help="A point X,Y the curve passes through; repeat.")
]
"""The equality constraints (:mod:`gradpoly.constraints`), for the commands that fit them."""


def constraint_options(fixed: list[str] | None, through: list[str] | None) -> dict[str, Any]:
    """``--fixed 0=0`` / ``--through 1,2`` as the library's ``fixed={power: value}`` and
    ``through=[(x, y)]`` keywords (None where not given); a malformed one is named."""
    return {
        "fixed": _pairs("--fixed", fixed, "=", dict),
        "through": _pairs("--through", through, ",", list),
    }


def _pairs(option: str, texts: list[str] | None, sep: str, kind: type) -> Any:
    """``texts`` read as {power: value} (``kind`` dict) or [(x, y)], else None."""
    if not texts:
        return None
    pairs = []
    for text in texts:
        left, mark, right = text.partition(sep)
        try:
            if not mark:
                raise ValueError
            pairs.append((int(left) if kind is dict else float(left), float(right)))
        except ValueError:
            raise InvalidOptionError(
                f"{option} takes {'POWER=VALUE' if kind is dict else 'X,Y'}, got {text!r}"
            ) from None
    return dict(pairs) if kind is dict else pairs


EngineName = StrEnum("EngineName", {n: n for n in [*engine_names(), AUTO]})  # type: ignore[misc]


_RULES = [AUTO, *(rule.value for rule in Optimizer)]


OptimizerName = StrEnum("OptimizerName", {n: n for n in _RULES})  # type: ignore[misc]


PresetName = StrEnum("PresetName", {"best": "best", "notebook": "notebook"})


F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(command: F) -> F:
    """Turn a GradpolyError into ``error: <message>`` on stderr and exit code 1; the library's
    warnings (not Python's two-line form with a source line) as ``warning: ...`` lines on
    stderr once the command is done, where it succeeded."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        stderr = Console(stderr=True, highlight=False, soft_wrap=True)
        failed = False
        with warnings.catch_warnings(record=True) as caught:
            try:
                return command(*args, **kwargs)
            except GradpolyError as exc:
                failed = True
                stderr.print(f"[bold red]error:[/] {exc}")
                raise typer.Exit(1) from None
            finally:
                if not failed:  # an error is its one line; else each warning as one line
                    print_warnings(stderr, caught)

    return wrapper  # type: ignore[return-value]


@contextmanager
def progress_bars() -> Iterator[Callable[[str, int], ProgressCallback]]:
    """Yield a factory of per-run progress callbacks drawing rich bars on stderr."""
    console = Console(stderr=True)
    bars = Progress(
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # bars are for people; logs and pipes stay clean
    )

    def factory(name: str, total: int) -> ProgressCallback:
        task = bars.add_task(name, total=total)
        return lambda done: bars.update(task, completed=done)

    with bars:
        yield factory


def report_console(to_stderr: bool = False) -> Console:
    """The report's console: stdout, or stderr when stdout carries an output (``-``).

    Piped output gets a wide fixed width so tables are not squeezed, and its lines are never
    broken (a log line that wraps mid-phrase defeats ``grep``).
    """
    stream = sys.stderr if to_stderr else sys.stdout
    piped = not stream.isatty()
    return Console(highlight=False, width=160 if piped else None, stderr=to_stderr, soft_wrap=piped)


TEXT_OUTPUTS = (".json", ".csv")
"""Outputs that ``-`` may send to standard output."""


def check_outputs(inputs: list[Path], **outputs: Path | None) -> bool:
    """Check every output path before any work: regular files, not inputs, not each other.

    ``-`` (standard output) is allowed for the JSON/CSV outputs named ``json``/``out``.
    Returns True when one of them is ``-`` (the report then goes to stderr).
    """
    seen: dict[Path, str] = {}
    piped = False
    for option, path in outputs.items():
        if path is None:
            continue
        flag = "--" + option.replace("_", "-")
        if is_stdout(path):
            if option not in ("json", "out", "markdown", "csv"):
                raise OutputError(f"{flag} - : only JSON and CSV outputs can go to standard output")
            if piped:
                raise OutputError("only one output can go to standard output (-)")
            piped = True
            continue
        target = resolve_output(path, inputs)
        if target in seen:
            raise OutputError(f"{flag} and {seen[target]} name the same file {path}")
        if option == "plot":
            image_format(path)
        seen[target] = flag
    return piped


def glob_inputs(data: Path) -> list[Path]:
    """The files a data argument names (a glob expanded), for the output checks."""
    import glob

    text = str(data)
    if any(c in text for c in "*?["):
        return [Path(p) for p in sorted(glob.glob(text))]
    return [data]


def one_per_item(progress: ProgressCallback) -> Callable[[object], None]:
    """A callback that advances ``progress`` by one each time an item is done."""
    done = [0]

    def advance(_: object) -> None:
        done[0] += 1
        progress(done[0])

    return advance


@contextmanager
def warnings_as_lines(console: Console) -> Iterator[None]:
    """The library's warnings inside the block, each printed once after it as one
    ``warning: ...`` line of the report (not Python's two-line form with a source line)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    print_warnings(console, caught)


def print_warnings(console: Console, caught: list[warnings.WarningMessage]) -> None:
    """Each distinct warning as one ``warning: ...`` line (every command's warnings are shown
    so: :func:`one_line_errors` and :func:`warnings_as_lines`)."""
    seen: set[str] = set()
    for message in caught:
        text = str(message.message)
        if text not in seen:
            seen.add(text)
            console.print(f"warning: {text}", markup=False, highlight=False)


def wrote(console: Console, path: Path) -> None:
    """Say which file was written (nothing for ``-``: the data itself went to stdout)."""
    if not is_stdout(path):
        console.print(f"wrote {path}")


def make_plot_folder(folder: Path) -> None:
    """Create the folder a command writes its figures into (its parent must exist)."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write plots into {folder}: it is not a folder")
    if not folder.parent.is_dir():
        raise OutputError(f"cannot write plots into {folder}: {folder.parent} does not exist")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {exc.strerror or exc}") from None


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json_text(data, indent=2) + "\n")


def counted(number: int, noun: str) -> str:
    """``1 step``, ``2 steps``, ``1,000 points``: the noun agrees with the number."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def plain(message: str) -> str:
    """A usage error in plain words: ``Value error, 'x' is not one of 'a', 'b'.`` becomes
    ``'x' is not one of: a, b``."""
    message = message.replace("Value error, ", "")
    choices = re.search(r"is not one of (('[^']*'(, )?)+)\.?", message)
    if choices:
        listed = ", ".join(re.findall(r"'([^']*)'", choices.group(1)))
        message = message[: choices.start()] + f"is not one of: {listed}" + message[choices.end() :]
    return message


def auto_label(chosen: str, asked: object) -> str:
    """What ran, marked "(auto)" wherever gradpoly chose it: one label for every auto option."""
    return f"{chosen} (auto)" if str(asked) == "auto" else chosen


def given_on_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was on the command line (by name: typer may vendor click)."""
    return getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"
