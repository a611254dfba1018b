"""The ``gradpoly`` command line: thin commands that parse, call the public API and print.

A GradpolyError becomes one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from gradpoly import __version__, validation
from gradpoly.api import fit_problem
from gradpoly.derivative import FUNCTIONS, METHODS
from gradpoly.engines import AUTO, engine_names, engines, resolve
from gradpoly.engines.base import Progress as ProgressCallback
from gradpoly.errors import (
    EngineUnavailableError,
    GradpolyError,
    InvalidDataError,
    InvalidOptionError,
    OutputError,
)
from gradpoly.io import read_xy
from gradpoly.losses import Loss
from gradpoly.options import (
    BEST,
    NOTEBOOK,
    Basis,
    Device,
    DType,
    FitConfig,
    Gradient,
    Mode,
    Optimizer,
    Strategy,
    pick_optimizer,
)
from gradpoly.outputs import is_stdout, json_text, resolve_output, write_text_atomic
from gradpoly.problem import FitProblem, lstsq_problem
from gradpoly.result import FitResult
from gradpoly.stats import Stats, StatsWarning


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


class _Command(TyperCommand):
    """A command whose flags (``--help`` too) are shown without a value."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _flags_as_flags(params, ctx)
        return params


class _Group(TyperGroup):
    """The root group: flags shown as flags, as in every command."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _flags_as_flags(params, ctx)
        return params


app = typer.Typer(
    help="Fit polynomials by gradient descent on interchangeable engines, checked and timed.",
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
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


EngineName = StrEnum("EngineName", {n: n for n in [*engine_names(), AUTO]})  # type: ignore[misc]
_RULES = [AUTO, *(rule.value for rule in Optimizer)]
OptimizerName = StrEnum("OptimizerName", {n: n for n in _RULES})  # type: ignore[misc]
PresetName = StrEnum("PresetName", {"best": "best", "notebook": "notebook"})

F = TypeVar("F", bound=Callable[..., Any])


def _one_line_errors(command: F) -> F:
    """Turn a GradpolyError into ``error: <message>`` on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except GradpolyError as exc:
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                f"[bold red]error:[/] {exc}"
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def _progress_bars() -> Iterator[Callable[[str, int], ProgressCallback]]:
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


def _console(to_stderr: bool = False) -> Console:
    """The report's console: stdout, or stderr when stdout carries an output (``-``).

    Piped output gets a wide fixed width so tables are not squeezed.
    """
    stream = sys.stderr if to_stderr else sys.stdout
    return Console(
        highlight=False, width=None if stream.isatty() else 160, stderr=to_stderr, soft_wrap=False
    )


TEXT_OUTPUTS = (".json", ".csv")
"""Outputs that ``-`` may send to standard output."""


def _check_outputs(inputs: list[Path], **outputs: Path | None) -> bool:
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
        seen[target] = flag
    return piped


def _glob_inputs(data: Path) -> list[Path]:
    """The files a data argument names (a glob expanded), for the output checks."""
    import glob

    text = str(data)
    if any(c in text for c in "*?["):
        return [Path(p) for p in sorted(glob.glob(text))]
    return [data]


def _one_per_item(progress: ProgressCallback) -> Callable[[object], None]:
    """A callback that advances ``progress`` by one each time an item is done."""
    done = [0]

    def advance(_: object) -> None:
        done[0] += 1
        progress(done[0])

    return advance


def _wrote(console: Console, path: Path) -> None:
    """Say which file was written (nothing for ``-``: the data itself went to stdout)."""
    if not is_stdout(path):
        console.print(f"wrote {path}")


def _plot_folder(folder: Path) -> None:
    """Create the folder a command writes its figures into (its parent must exist)."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write plots into {folder}: it is not a folder")
    if not folder.parent.is_dir():
        raise OutputError(f"cannot write plots into {folder}: {folder.parent} does not exist")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {exc.strerror or exc}") from None


def _write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json_text(data, indent=2) + "\n")


@app.command(cls=_Command)
@_one_line_errors
def demo(
    steps: Annotated[
        int, typer.Option(help="Gradient descent steps (the seed: 200000).")
    ] = 200_000,
    lr: Annotated[float, typer.Option(help="Learning rate (the seed: 1e-5).")] = 1e-5,
    dtype: Annotated[DType, typer.Option(help="Precision (the seed: float32).")] = DType.FLOAT32,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the table and machine as JSON here.")
    ] = None,
    plots: Annotated[
        Path | None, typer.Option(help="Folder for trace.png (MSE, log scale) and fit.png.")
    ] = None,
) -> None:
    """Run the seed notebook end to end: five presets, timed and checked against lstsq."""
    from gradpoly.demo import run_demo

    validation.steps(steps)
    validation.lr(lr)
    piped = _check_outputs([], json=json_path)
    if plots is not None:
        _plot_folder(plots)
    with _progress_bars() as progress_for:
        report = run_demo(steps=steps, lr=lr, dtype=dtype, progress_for=progress_for)
    console = _console(piped)
    table = Table(
        title=f"seed problem: sin(x) on [0, 5], 100 points, degree 4, {steps} steps, lr {lr:g}, "
        f"{dtype}",
        title_justify="left",
    )
    table.add_column("preset")
    for column in ("seconds", "final error", "max |coef - lstsq|"):
        table.add_column(column, justify="right")
    for row in report.rows:
        if row.result is None:
            table.add_row(row.preset, "unavailable", "-", "-")
        else:
            result = row.result
            seconds, final = f"{result.seconds:.2f}", f"{result.final_mse:.5f}"
            table.add_row(row.preset, seconds, final, f"{row.max_coef_err:.3g}")
    console.print(table)
    for row in report.rows:
        if row.result is None:
            console.print(f"{row.preset} did not run: {row.reason}")
    console.print(f"least-squares optimum (float64 lstsq): MSE {report.lstsq_mse:.6f}")
    if json_path is not None:
        _write_json(json_path, report.to_dict())
        _wrote(console, json_path)
    if plots is not None:
        from gradpoly.plots import plot_fit, plot_traces

        ran = {row.preset: row.result for row in report.rows if row.result is not None}
        plot_traces(
            ran,
            plots / "trace.png",
            optimum=report.lstsq_mse,
            title=f"seed problem: MSE over {steps} steps of GD (lr {lr:g})",
        )
        x, y = report.problem.x, report.problem.y
        curves = {f"{name} (GD)": result.coef for name, result in ran.items()}
        plot_fit(
            x,
            y,
            curves,
            plots / "fit.png",
            title="degree-4 fit to sin(x) on [0, 5]",
            reference=("least squares (lstsq)", report.lstsq_coef),
        )
        console.print(f"wrote {plots / 'trace.png'} and {plots / 'fit.png'}")


@app.command("fit", cls=_Command)
@_one_line_errors
def fit_command(
    ctx: typer.Context,
    data: Annotated[
        Path,
        typer.Argument(
            help="Data file: CSV (header optional), Parquet, NPY or NPZ with x and y columns."
        ),
    ],
    degree: Annotated[int, typer.Option(help="Polynomial degree.")] = 4,
    steps: Annotated[
        int, typer.Option(help="Most gradient descent steps (the fit stops earlier at --tol).")
    ] = BEST.steps,
    lr: Annotated[
        str,
        typer.Option(
            help="Learning rate: a number, or 'auto' (1 / L of the loss; optimal values for "
            "momentum/nesterov)."
        ),
    ] = str(BEST.lr),
    basis: Annotated[
        Basis,
        typer.Option(
            help="Features: monomial (the seed's) or chebyshev/legendre on x mapped to [-1, 1]."
        ),
    ] = BEST.basis,
    optimizer: Annotated[
        OptimizerName,
        typer.Option(
            help="auto (nesterov where the engine has it, else momentum, else gd), gd (the "
            "seed's), momentum or nesterov."
        ),
    ] = BEST.optimizer,  # type: ignore[assignment]
    momentum: Annotated[
        float | None,
        typer.Option(
            help="Beta for momentum/nesterov (default: optimal with --lr auto, else 0.9)."
        ),
    ] = None,
    loss: Annotated[
        Loss, typer.Option(help="mse (the seed's), huber or l1; not mse needs --gradient autograd.")
    ] = Loss.MSE,
    huber_delta: Annotated[float, typer.Option(help="Huber's delta.")] = 1.0,
    tol: Annotated[
        str,
        typer.Option(
            help="Stop once the estimated relative error of the coefficients is at most tol "
            "(converged), or at the dtype's rounding floor when tol is below it (status "
            "'floor', not converged; checked every 50 steps); 'off' runs every step."
        ),
    ] = str(BEST.tol),
    engine: Annotated[
        EngineName, typer.Option(help="Engine that runs the loop (auto: the fastest here).")
    ] = BEST.engine,  # type: ignore[assignment]
    gradient: Annotated[Gradient, typer.Option(help="Hand-written or autodiff.")] = Gradient.MANUAL,
    device: Annotated[Device, typer.Option(help="cpu or cuda.")] = Device.CPU,
    mode: Annotated[
        Mode | None, typer.Option(help="eager or compiled (default: the engine's own).")
    ] = None,
    strategy: Annotated[
        Strategy | None,
        typer.Option(help="per-sample, gram or spectral (default: per-sample; gram with auto)."),
    ] = None,
    dtype: Annotated[DType, typer.Option(help="Precision of the loop.")] = BEST.dtype,
    preset: Annotated[
        PresetName,
        typer.Option(
            help="best: the defaults above, a fit that converges; notebook: the seed's run "
            "(200,000 float32 GD steps at lr 1e-5 on raw powers, numpy, no tol) for every "
            "option not given."
        ),
    ] = "best",  # type: ignore[assignment]
    x_col: Annotated[str, typer.Option(help="Name of the x column when there is a header.")] = "x",
    y_col: Annotated[str, typer.Option(help="Name of the y column when there is a header.")] = "y",
    weights_col: Annotated[
        str | None, typer.Option(help="Column of non-negative per-point weights (needs a header).")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the full result (with trace) as JSON.")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of the data and the fit.")] = None,
    series_col: Annotated[
        str | None,
        typer.Option(help="Long table: fit one polynomial per value of this column (batched)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="With --series-col: one row per series (.csv/.json/.npz/.parquet)."),
    ] = None,
    drop_nan: Annotated[
        bool, typer.Option("--drop-nan", help="Drop rows with NaN/inf instead of stopping.")
    ] = False,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="With --engine dask: a dask.distributed scheduler address (tcp://host:port); "
            "default: Dask's local threads."
        ),
    ] = None,
    stats: Annotated[
        bool,
        typer.Option(
            "--stats",
            help="Print a summary table (coefficient, std err, t, p, confidence interval, "
            "sigma, R², n); with --plot also draw the prediction band.",
        ),
    ] = False,
    level: Annotated[
        float, typer.Option(help="Confidence level of --stats intervals and --plot bands.")
    ] = 0.95,
) -> None:
    """Fit a polynomial to the x, y columns of a data file by gradient descent.

    With --series-col, fit one polynomial per series of a long table, all in one batched
    computation (gradpoly.fit_many) on --engine, and write one row per series with --out.
    With --engine dask, DATA may be a glob of Parquet/CSV files ('data/*.parquet') read
    chunk by chunk, never whole.
    """
    lazy = str(engine) == DASK_ENGINE
    if scheduler is not None and not lazy:
        raise InvalidOptionError("--scheduler needs --engine dask")
    _refuse_inapplicable(ctx, series_col is not None)
    inputs = _glob_inputs(data) if lazy else [data]
    options = dict(locals())
    del options["ctx"], options["inputs"], options["preset"]
    options.update(_preset_options(ctx, str(preset)))
    options["tol"] = _tol(options["tol"])
    lazy = options["lazy"] = str(options["engine"]) == DASK_ENGINE
    piped = _check_outputs(inputs, json=json_path, plot=plot, out=out)
    with _dask_context(scheduler) if lazy else contextlib.nullcontext():
        _fit_any(**options, inputs=inputs, piped=piped)  # every option above, by name


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was on the command line (by name: typer may vendor click)."""
    return getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"


def _tol(text: object) -> float | None:
    """``--tol``: a number (validated as the library validates ``tol``), or ``off`` (None)."""
    if text is None or str(text).strip().lower() in ("off", "none"):
        return None
    try:
        value = float(str(text))
    except ValueError:
        raise InvalidOptionError(f"tol must be a positive number or 'off', got {text!r}") from None
    return validation.tol(value)


def _preset_options(ctx: typer.Context, preset: str) -> dict[str, object]:
    """The notebook preset's settings for every option not given; none for ``best`` (the
    defaults already are :data:`gradpoly.BEST`)."""
    if preset != "notebook":
        return {}
    parsed = {"basis": Basis.parse, "optimizer": Optimizer.parse, "dtype": DType.parse}
    return {
        name: parsed[name](value) if name in parsed else (str(value) if name == "lr" else value)
        for name, value in NOTEBOOK.options().items()
        if not _given(ctx, name)
    }


SERIES_ONLY = ("out",)
"""fit options that apply only to a long table (--series-col)."""

ONE_CURVE_OUTPUTS = ("plot", "stats", "level")
"""What one curve's run writes or prints that a batch has no form of (a batch: --out, --json)."""


def _one_curve_only() -> tuple[str, ...]:
    """fit options that apply only to one curve, derived rather than kept by hand: the
    options ``gradpoly.fit`` takes that ``gradpoly.fit_many`` does not (mode, strategy,
    dtype today), then :data:`ONE_CURVE_OUTPUTS`."""
    from gradpoly.api import fit
    from gradpoly.many import fit_many

    one, many = (set(inspect.signature(f).parameters) for f in (fit, fit_many))
    return tuple(sorted(one - many)) + ONE_CURVE_OUTPUTS


def _refuse_inapplicable(ctx: typer.Context, series: bool) -> None:
    """Refuse options given on the command line that the chosen kind of fit would ignore."""

    def given(name: str) -> bool:
        return _given(ctx, name)

    flags = {p.name: p.opts[0] for p in ctx.command.params if p.name}
    if series:
        for name in _one_curve_only():
            if name not in flags:
                continue
            if given(name):
                raise InvalidOptionError(
                    f"{flags[name]} does not apply with --series-col (a batched fit of many "
                    "series: float64, gram statistics); write its rows with --out or the batch "
                    "with --json instead"
                    if name == "plot"
                    else f"{flags[name]} does not apply with --series-col (a batched fit of "
                    "many series runs in float64 on gram statistics)"
                )
        return
    for name in SERIES_ONLY:
        if given(name):
            raise InvalidOptionError(
                f"{flags[name]} writes one row per series: it needs --series-col; for one "
                "curve use --json"
            )


def _fit_any(
    data: Path,
    degree: int,
    steps: int,
    lr: str,
    basis: Basis,
    optimizer: str,
    momentum: float | None,
    loss: Loss,
    huber_delta: float,
    tol: float | None,
    engine: str,
    gradient: Gradient,
    device: Device,
    mode: Mode | None,
    strategy: Strategy | None,
    dtype: DType,
    x_col: str,
    y_col: str,
    weights_col: str | None,
    json_path: Path | None,
    plot: Path | None,
    series_col: str | None,
    out: Path | None,
    drop_nan: bool,
    lazy: bool,
    scheduler: str | None,
    stats: bool,
    level: float,
    inputs: list[Path],
    piped: bool,
) -> None:
    """The body of ``fit`` (one curve or many, in memory or on Dask)."""
    level = validation.level(level)
    if series_col is not None:
        _fit_series(
            SeriesJob(
                data, series_col, x_col, y_col, weights_col, drop_nan, out, inputs, piped, json_path
            ),
            degree,
            steps,
            lr,
            basis,
            optimizer,
            momentum,
            tol,
            loss,
            huber_delta,
            gradient,
            str(engine),
            device,
        )
        return
    choice = resolve(str(engine), mode, strategy, device, gradient, loss, optimizer, dtype)
    rule = choice.optimizer
    config = FitConfig(
        engine=choice.engine,
        gradient=gradient,
        device=device,
        mode=choice.mode,
        strategy=choice.strategy,
        dtype=dtype,
        steps=steps,
        lr=validation.lr(lr),
        optimizer=rule,
        momentum=momentum,
        tol=tol,
        loss=loss,
        huber_delta=huber_delta,
    )
    if lazy:
        if stats:
            raise InvalidOptionError(
                "--stats needs the data in memory: the dask engine keeps Gram statistics only "
                "(use gradpoly.fit(..., engine='dask').stats in Python for mapped bases)"
            )
        _fit_out_of_core(
            data, x_col, y_col, weights_col, drop_nan, degree, basis, config, plot, json_path, piped
        )
        return
    x, y, weights = read_xy(data, x_col, y_col, weights_col, drop_nan)
    problem = FitProblem.from_data(x, y, degree, weights, basis)
    with _progress_bars() as progress_for:
        result = fit_problem(problem, config, progress_for(str(engine), steps))
    best = lstsq_problem(problem)
    console = _console(piped)
    lr_text = _auto(f"lr {result.lr:.4g}", lr)
    if rule is not Optimizer.GD:
        lr_text += f", {rule} beta {result.momentum:.4g}"
    console.print(
        f"ran: {_auto(str(result.config), engine)} in the {basis} basis "
        f"({_count(result.steps_run, 'step')}, {lr_text}) "
        f"in {result.seconds:.3f} s: {result.stop_reason}"
    )
    console.print("coefficients (x^0 .. x^D): " + "  ".join(f"{c:.6g}" for c in result.coef))
    optimum = problem.mse_monomial(best)
    console.print(f"final MSE: {result.final_mse:.6g}   least-squares MSE: {optimum:.6g}")
    if stats:
        _print_stats(console, result, level)
    if json_path is not None:
        document = result.to_dict() | {"stats": _quiet_stats(result).summary(level)}
        write_text_atomic(json_path, json_text(document), inputs)
        _wrote(console, json_path)
    if plot is not None:
        from gradpoly.plots import plot_fit

        plot_fit(
            x,
            y,
            {f"{engine} GD, {result.steps_run} steps": result.coef},
            plot,
            title=f"degree-{degree} fit to {data.name}",
            reference=("least squares (lstsq)", best),
            intervals=result,
            level=level,
            prediction=stats,
        )
        _wrote(console, plot)


def _auto(chosen: str, asked: object) -> str:
    """What ran, marked "(auto)" wherever gradpoly chose it: one label for every auto option."""
    return f"{chosen} (auto)" if str(asked) == "auto" else chosen


def _quiet_stats(result: FitResult) -> Stats:
    """``result.stats`` without its warning (the CLI says "did not converge" itself)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatsWarning)
        return result.stats


def _print_stats(console: Console, result: FitResult, level: float) -> None:
    """The fit's statistics table (:meth:`gradpoly.stats.Stats.table`, what a notebook shows)."""
    console.print(_quiet_stats(result).table(level))


DASK_ENGINE = "dask"


@contextmanager
def _dask_context(scheduler: str | None) -> Iterator[None]:
    """Run Dask work on a distributed scheduler if given, else locally with a progress bar."""
    from gradpoly.engines.dask_engine import DASK

    DASK.load()
    if scheduler is None:
        from dask.diagnostics import ProgressBar

        if sys.stderr.isatty():
            with ProgressBar(out=sys.stderr):
                yield
        else:
            yield
        return
    try:
        from distributed import Client
    except ImportError:
        raise EngineUnavailableError(
            "--scheduler needs dask.distributed: pip install -c constraints.txt 'gradpoly[dask]'"
        ) from None
    from gradpoly.dask import check_scheduler

    check_scheduler(scheduler)
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise EngineUnavailableError(
            f"cannot reach the Dask scheduler at {scheduler}: {exc}"
        ) from None
    with client:
        yield


def _fit_out_of_core(
    data: Path,
    x_col: str,
    y_col: str,
    weights_col: str | None,
    drop_nan: bool,
    degree: int,
    basis: Basis,
    config: FitConfig,
    plot: Path | None,
    json_path: Path | None,
    piped: bool = False,
) -> None:
    """``fit --engine dask``: files read chunk by chunk, Gram statistics, then the loop."""

    from gradpoly.dask import read_xy as read_lazy
    from gradpoly.engines.dask_engine import DaskEngine, DaskProblem

    if plot is not None:
        raise InvalidOptionError("--plot needs the points in memory: not with --engine dask")
    x, y, weights = read_lazy(data, x_col, y_col, weights_col, drop_nan)
    problem = DaskProblem.build(x, y, degree, weights, basis)
    result = DaskEngine().fit_lazy(problem, config)
    g, c, _ = problem.gram.one()
    optimum = problem.mse(np.linalg.solve(g, c))
    console = _console(piped)
    console.print(
        f"read {_count(problem.n_points, 'point')} in {_count(problem.chunks, 'chunk')} from "
        f"{data}; two passes "
        f"(range and checks, Gram statistics) took {problem.seconds:.3f} s"
    )
    console.print(
        f"ran: {config} in the {basis} basis ({_count(result.steps_run, 'step')}, lr "
        f"{result.lr:.4g}) in {result.seconds:.3f} s: {result.stop_reason}"
    )
    console.print("coefficients (x^0 .. x^D): " + "  ".join(f"{v:.6g}" for v in result.coef))
    console.print(f"final MSE: {result.final_mse:.6g}   least-squares MSE: {optimum:.6g}")
    if json_path is not None:
        result.save(json_path)
        _wrote(console, json_path)


def _fit_series_on_dask(job: SeriesJob, degree: int, options: dict[str, Any]) -> None:
    """``fit --series-col --engine dask``: shuffle by series, fit_many per partition."""
    if job.json is not None:
        raise InvalidOptionError(
            "--json with --series-col saves the batch in memory; with --engine dask use --out"
        )
    from gradpoly.dask import fit_series_frame, read_frame
    from gradpoly.io import write_rows

    numeric = [job.x_col, job.y_col] + ([job.weights_col] if job.weights_col else [])
    frame = read_frame(job.data, [job.series_col, *numeric], numeric if job.drop_nan else ())
    rows_frame = fit_series_frame(
        frame, job.series_col, job.x_col, job.y_col, job.weights_col, degree, **options
    )
    from gradpoly.engines.dask_engine import computed

    rows = computed(rows_frame).sort_values("series").to_dict("records")
    fitted = sum(bool(r["valid"]) for r in rows)
    console = _console(job.piped)
    console.print(
        f"fitted {fitted} of {len(rows)} series from {job.data} on dask "
        f"({rows_frame.npartitions} partitions, fit_many in each)"
    )
    for row in rows:
        if row["problem"]:
            console.print(f"series {row['series']!r} not fitted: {row['problem']}")
    if job.out is not None:
        write_rows(job.out, rows, job.inputs)
        _wrote(console, job.out)
    _nothing_fitted(fitted, len(rows))


def _nothing_fitted(fitted: int, total: int) -> None:
    """A run that fitted no series is a failure (exit 1), whatever it wrote."""
    if fitted == 0:
        raise InvalidDataError(f"none of the {total} series could be fitted (reasons above)")


@dataclass(frozen=True)
class SeriesJob:
    """Where a batched fit's long table comes from and where its rows go."""

    data: Path
    series_col: str
    x_col: str
    y_col: str
    weights_col: str | None
    drop_nan: bool
    out: Path | None
    inputs: list[Path]
    piped: bool = False
    json: Path | None = None
    """The whole batch (ManyResult.save): every field, statistics included."""


def _fit_series(
    job: SeriesJob,
    degree: int,
    steps: int,
    lr: str,
    basis: Basis,
    optimizer: str,
    momentum: float | None,
    tol: float | None,
    loss: Loss,
    huber_delta: float,
    gradient: Gradient,
    engine: str,
    device: Device,
) -> None:
    """``fit --series-col``: every series of a long table in one batched fit_many."""
    from gradpoly.io import ROW_FORMATS, read_long, write_rows
    from gradpoly.many import fit_many

    if job.out is not None and not is_stdout(job.out) and job.out.suffix.lower() not in ROW_FORMATS:
        raise InvalidOptionError(
            f"--out {job.out}: use one of {', '.join(ROW_FORMATS)} (or - for CSV on stdout)"
        )
    options: dict[str, Any] = {
        "steps": validation.steps(steps),
        "lr": validation.lr(lr),
        "basis": basis,
        "optimizer": pick_optimizer(str(optimizer)),
        "momentum": momentum,
        "tol": tol,
        "loss": loss,
        "huber_delta": huber_delta,
        "gradient": gradient,
    }
    if engine == DASK_ENGINE:
        _fit_series_on_dask(job, degree, options)
        return
    ids, xs, ys, ws = read_long(
        job.data, job.series_col, job.x_col, job.y_col, job.weights_col, job.drop_nan
    )
    with _progress_bars() as progress_for:
        bar = progress_for("statistics", len(ids))
        result = fit_many(
            xs,
            ys,
            degree,
            weights=ws,
            engine=engine,
            device=device,
            progress=lambda done, total: bar(done),
            **options,
        )
    console = _console(job.piped)
    console.print(
        f"fitted {int(result.valid.sum())} of {len(ids)} series from {job.data.name} "
        f"(degree {degree}, {basis}, {options['optimizer']}, loss {loss}, "
        f"engine {_auto(result.engine, engine)}) in "
        f"{result.seconds:.3f} s; {int(result.converged.sum())} reached tol"
    )
    for b, reason in result.problems.items():
        console.print(f"series {ids[b]!r} not fitted: {reason}")
    shown = min(len(ids), 10)
    title = "every series" if shown == len(ids) else f"the first {shown} of {len(ids)} series"
    table = Table(title=f"{title} (monomial coefficients, increasing)", title_justify="left")
    for column in ("series", "coefficients", f"final {loss}", "steps"):
        table.add_column(column)
    for row in result.to_rows(ids)[:10]:
        coef = "  ".join(f"{row[f'coef_{j}']:.5g}" for j in range(degree + 1))
        table.add_row(str(row["series"]), coef, f"{row['final_loss']:.4g}", str(row["steps_run"]))
    console.print(table)
    if job.out is not None:
        write_rows(job.out, result.to_rows(ids), job.inputs)
        _wrote(console, job.out)
    if job.json is not None:
        replace(result, ids=tuple(ids)).save(job.json, job.inputs)
        _wrote(console, job.json)
    _nothing_fitted(int(result.valid.sum()), len(ids))


@app.command(cls=_Command)
@_one_line_errors
def bench(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help="Configurations to run (repeatable); default: all. See --list."
        ),
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="List the configurations and exit.")
    ] = False,
    steps: Annotated[int, typer.Option(help="GD steps per fit (the seed: 200000).")] = 200_000,
    repeats: Annotated[
        int, typer.Option(help="Timed runs per configuration, after one warm-up.")
    ] = 5,
    threads: Annotated[int, typer.Option(help="Threads pinned for torch (recorded).")] = 1,
    dtype: Annotated[DType, typer.Option(help="Precision of every configuration.")] = DType.FLOAT32,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write records as JSON.")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write records as CSV.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a bar chart (PNG, log scale).")] = None,
) -> None:
    """Time engine configurations on the seed problem: warm-up excluded, median and IQR, gated."""
    from gradpoly.bench import report, suite

    console = _console()
    if list_:
        for entry in suite.CATALOGUE:
            console.print(
                f"{entry.name:34} {entry.engine} {entry.gradient} {entry.device} "
                f"{entry.mode} {entry.strategy}"
            )
        return
    validation.steps(steps)
    validation.count("repeats", repeats, high=10_000)
    validation.count("threads", threads, high=4096)
    piped = _check_outputs([], json=json_path, csv=csv_path, plot=plot)
    console = _console(piped)
    chosen = suite.entries(only)
    with _progress_bars() as progress_for:
        advance = _one_per_item(progress_for("bench", len(chosen)))
        measurements = suite.run_suite(
            [e.name for e in chosen],
            steps=steps,
            dtype=str(dtype),
            repeats=repeats,
            threads=threads,
            on_done=advance,
        )
    title = (
        f"seed problem, {steps:,} steps, {dtype}, {threads} thread(s), median of {repeats} "
        "after 1 warm-up"
    )
    console.print(report.bench_table(measurements, title))
    for m in measurements:
        if m.status == "unavailable":
            console.print(f"{m.spec.name} did not run: {m.reason}")
    settings = {"steps": steps, "repeats": repeats, "threads": threads, "dtype": str(dtype)}
    if json_path is not None:
        report.write_json(json_path, report.bench_document(measurements, **settings))
        _wrote(console, json_path)
    if csv_path is not None:
        report.write_csv(csv_path, measurements)
        _wrote(console, csv_path)
    if plot is not None:
        from gradpoly.plots import plot_bench

        plot_bench(measurements, plot, title)
        _wrote(console, plot)


@app.command(cls=_Command)
@_one_line_errors
def ladder(
    steps: Annotated[int, typer.Option(help="GD steps per timed run.")] = 20_000,
    repeats: Annotated[int, typer.Option(help="Timed runs per rung, after one warm-up.")] = 3,
    threads: Annotated[int, typer.Option(help="Threads pinned for torch (recorded).")] = 1,
    device: Annotated[Device, typer.Option(help="Device of the torch rungs.")] = Device.CPU,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the ladder as JSON.")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write the ladder as a markdown table.")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of microseconds per step.")] = None,
) -> None:
    """The seed's torch loop, one remedy at a time: where autograd's time goes."""
    from gradpoly.bench import report
    from gradpoly.bench.ladder import RUNGS, run_ladder
    from gradpoly.engines.torch_engine import cuda_availability, load_torch

    validation.steps(steps)
    validation.count("repeats", repeats, high=10_000)
    validation.count("threads", threads, high=4096)
    piped = _check_outputs([], json=json_path, markdown=markdown, plot=plot)
    load_torch()
    if device is Device.CUDA and not cuda_availability().ok:
        raise EngineUnavailableError(cuda_availability().reason)
    console = _console(piped)
    with _progress_bars() as progress_for:
        advance = _one_per_item(progress_for("ladder", len(RUNGS)))
        rows = run_ladder(
            steps=steps, repeats=repeats, device=str(device), threads=threads, on_done=advance
        )
    text = report.ladder_markdown(rows, steps)
    console.print(text, markup=False)
    settings = {"steps": steps, "repeats": repeats, "threads": threads, "device": str(device)}
    if json_path is not None:
        report.write_json(json_path, report.ladder_document(rows, **settings))
        _wrote(console, json_path)
    if markdown is not None:
        write_text_atomic(markdown, text)
        _wrote(console, markdown)
    if plot is not None:
        from gradpoly.plots import plot_ladder

        plot_ladder(
            rows,
            plot,
            f"the ladder on {device}: seed problem, {steps:,} steps, float32, {threads} thread(s)",
        )
        _wrote(console, plot)


DerivativeFunction = StrEnum("DerivativeFunction", {n: n for n in FUNCTIONS})  # type: ignore[misc]
DerivativeMethod = StrEnum("DerivativeMethod", {n: n for n in METHODS})  # type: ignore[misc]


@app.command("derivative", cls=_Command)
@_one_line_errors
def derivative_command(
    function: Annotated[DerivativeFunction, typer.Option(help="The elementwise f.")] = "sin",  # type: ignore[assignment]
    points: Annotated[int, typer.Option(help="Points on [-2 pi, 2 pi].")] = 100,
    method: Annotated[
        DerivativeMethod, typer.Option(help="How to differentiate.")
    ] = "grad-outputs",  # type: ignore[assignment]
    dtype: Annotated[DType, typer.Option(help="Precision.")] = DType.FLOAT64,
    plot: Annotated[
        Path | None, typer.Option(help="PNG of f, its derivative, the exact one.")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the result (or table).")
    ] = None,
    table: Annotated[
        bool, typer.Option(help="Time every method at N = 10 .. 1e6 instead.")
    ] = False,
    repeats: Annotated[int, typer.Option(help="Timed runs per cell with --table.")] = 3,
    markdown: Annotated[
        Path | None, typer.Option(help="With --table: write it as markdown.")
    ] = None,
) -> None:
    """d f(x)/dx at many points by autograd (several ways) or finite differences, checked."""
    import time

    from gradpoly.derivative import analytic, derivative

    validation.count("repeats", repeats, high=10_000)
    piped = _check_outputs([], json=json_path, markdown=markdown, plot=plot)
    console = _console(piped)
    if table:
        from gradpoly.bench import derivatives, report

        with _progress_bars() as progress_for:
            advance = _one_per_item(
                progress_for("derivative", len(METHODS) * len(derivatives.POINTS))
            )
            rows = derivatives.run_derivative_bench(
                str(function),
                derivatives.POINTS,
                dtype=str(dtype),
                repeats=repeats,
                on_done=advance,
            )
        text = derivatives.derivative_markdown(rows, str(function))
        console.print(text, markup=False)
        if markdown is not None:
            write_text_atomic(markdown, text)
            _wrote(console, markdown)
        if json_path is not None:
            report.write_json(
                json_path, report.bench_document(rows, function=str(function), dtype=str(dtype))
            )
            _wrote(console, json_path)
        return
    validation.count("points", points, high=100_000_000)
    x = np.linspace(-2 * np.pi, 2 * np.pi, points)
    derivative(str(function), x, str(method), dtype)  # warm-up: imports, jax compilation
    derivative(str(function), x, str(method), dtype)  # warm-up: imports, jax compilation
    start = time.perf_counter()
    d = derivative(str(function), x, str(method), dtype)
    seconds = time.perf_counter() - start
    exact = analytic(str(function), x)
    err = float(np.max(np.abs(d - exact)))
    console.print(
        f"d {function}(x)/dx at {points:,} points on [-2 pi, 2 pi] by {method} "
        f"({dtype}): max |error| vs analytic {err:.2e}, {1e3 * seconds:.2f} ms "
        "(after a warm-up call)"
    )
    if json_path is not None:
        _write_json(
            json_path,
            {
                "function": str(function),
                "method": str(method),
                "dtype": str(dtype),
                "x": x.tolist(),
                "derivative": d.tolist(),
                "max_abs_err": err,
                "seconds": seconds,
            },
        )
        _wrote(console, json_path)
    if plot is not None:
        from gradpoly.derivative import FUNCTIONS as named
        from gradpoly.plots import plot_derivative

        values = named[str(function)].get(np)(x)
        labels = (f"{function}(x)", f"d {function}/dx by {method}", "analytic derivative")
        plot_derivative(
            x,
            values,
            d,
            exact,
            plot,
            labels,
            f"d {function}(x)/dx at {points:,} points, {method}, {dtype}",
        )
        _wrote(console, plot)


@app.command("engines", cls=_Command)
@_one_line_errors
def engines_command(
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
) -> None:
    """List every engine and device: whether it fits one curve (fit) and many curves
    (fit_many, lstsq_many, xarray) here, and why not when it does not."""
    infos = engines()
    many = [_many_curves(info.name, info.device) for info in infos]
    console = _console()
    if json_out:
        rows = [info.__dict__ | {"many": found} for info, found in zip(infos, many, strict=True)]
        console.print_json(json.dumps(rows))
        return
    table = Table(title="gradpoly engines", title_justify="left")
    for column in (
        "engine", "device", "one curve", "many curves", "version", "gradients", "modes",
        "strategies",
    ):  # fmt: skip
        table.add_column(column)
    for info, found in zip(infos, many, strict=True):
        available = "yes" if info.available else "no"
        batched = "-" if found is None else ("yes" if found["available"] else "no")
        options = (", ".join(info.gradients), ", ".join(info.modes), ", ".join(info.strategies))
        table.add_row(info.name, info.device, available, batched, info.version, *options)
    console.print(table)
    for info, found in zip(infos, many, strict=True):
        if not info.available:
            console.print(f"{info.name} on {info.device} is unavailable: {info.reason}")
        elif found is not None and not found["available"]:
            console.print(f"{info.name} on {info.device} fits no batch: {found['reason']}")


def _many_curves(name: str, device: str) -> dict[str, object] | None:
    """The batched backend of the same library on ``device``: available and why not, or None
    where the library has none (Dask fits many series through the others, per partition)."""
    from gradpoly.batched import backend_names, get_backend

    if name not in backend_names():
        return None
    available = get_backend(name).availability(Device.parse(device))
    return {"available": available.ok, "reason": available.reason}


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
        message = _plain(format_message() if callable(format_message) else str(exc))
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[bold red]error:[/] {message} (see --help)"
        )
        return int(getattr(exc, "exit_code", 2))
    return result if isinstance(result, int) else 0


def _count(number: int, noun: str) -> str:
    """``1 step``, ``2 steps``, ``1,000 points``: the noun agrees with the number."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _plain(message: str) -> str:
    """A usage error in plain words: ``Value error, 'x' is not one of 'a', 'b'.`` becomes
    ``'x' is not one of: a, b``."""
    message = message.replace("Value error, ", "")
    choices = re.search(r"is not one of (('[^']*'(, )?)+)\.?", message)
    if choices:
        listed = ", ".join(re.findall(r"'([^']*)'", choices.group(1)))
        message = message[: choices.start()] + f"is not one of: {listed}" + message[choices.end() :]
    return message


def run() -> None:
    """``gradpoly`` console script: exit with :func:`main`'s status."""
    raise SystemExit(main())
