"""``gradpoly fit``: the options read into small typed groups (how to solve, where to run,
where the points come from, what to write), then one job per kind of run (one curve or a
long table of series, in memory or on Dask), each reporting through one renderer per kind
of result. Which options apply to which kind is derived from the library's signatures.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Annotated, Any, Protocol

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from gradpoly import constraints, validation
from gradpoly.api import fit_problem
from gradpoly.cli.common import (
    Command,
    EngineName,
    Fixed,
    OptimizerName,
    PresetName,
    Through,
    app,
    auto_label,
    check_outputs,
    constraint_options,
    counted,
    given_on_command_line,
    glob_inputs,
    one_line_errors,
    progress_bars,
    report_console,
    wrote,
)
from gradpoly.engines import resolve
from gradpoly.errors import EngineUnavailableError, InvalidDataError, InvalidOptionError
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
from gradpoly.outputs import is_stdout, json_text, write_text_atomic
from gradpoly.problem import ConstrainedProblem, FitProblem, lstsq
from gradpoly.result import FitResult, known_sigma
from gradpoly.stats import Stats, StatsWarning

DASK_ENGINE = "dask"


@dataclass(frozen=True)
class Descent:
    """How to solve: the descent's options, by the library's names (``fit`` and
    ``fit_many`` take every one of them)."""

    degree: int
    steps: int
    lr: str
    basis: Basis
    optimizer: str
    momentum: float | None
    loss: Loss
    huber_delta: float
    tol: float | None
    gradient: Gradient
    fixed: list[str] | None = None
    through: list[str] | None = None

    @property
    def constraints(self) -> dict[str, Any]:
        """``--fixed``/``--through`` as the library's keywords (only those given)."""
        pairs = constraint_options(self.fixed, self.through)
        return {name: value for name, value in pairs.items() if value is not None}

    def unconstrained(self, why: str) -> None:
        """Refuse --fixed/--through where the fit cannot take them."""
        if self.constraints:
            raise InvalidOptionError(f"--fixed and --through are not available {why}")

    def batched(self) -> dict[str, Any]:
        """The keywords of ``fit_many`` (and Dask's ``fit_series_frame``), checked."""
        return {
            "steps": validation.steps(self.steps),
            "lr": validation.lr(self.lr),
            "basis": self.basis,
            "optimizer": pick_optimizer(str(self.optimizer)),
            "momentum": self.momentum,
            "tol": self.tol,
            "loss": self.loss,
            "huber_delta": self.huber_delta,
            "gradient": self.gradient,
        }


@dataclass(frozen=True)
class Placement:
    """Where to run: the engine and device, one curve's loop (mode, strategy, dtype) and
    Dask's scheduler."""

    engine: str
    device: Device
    mode: Mode | None
    strategy: Strategy | None
    dtype: DType
    scheduler: str | None

    @property
    def lazy(self) -> bool:
        """Whether the data are read chunk by chunk (``--engine dask``)."""
        return self.engine == DASK_ENGINE


@dataclass(frozen=True)
class Source:
    """Where the points come from: the file (or glob) and its columns."""

    data: Path
    x_col: str
    y_col: str
    weights_col: str | None
    series_col: str | None
    drop_nan: bool
    inputs: list[Path]
    sigma_col: str | None = None
    absolute_sigma: bool = False

    def __post_init__(self) -> None:
        if self.weights_col is not None and self.sigma_col is not None:
            raise InvalidOptionError(
                "give --weights-col (inverse variances) or --sigma-col (standard deviations), "
                "not both"
            )

    @property
    def weights_column(self) -> str | None:
        """The column the weights are read from: --weights-col, or --sigma-col's."""
        return self.weights_col if self.sigma_col is None else self.sigma_col

    def weights(self, values: Any) -> Any:
        """The inverse-variance weights of the column read (``1 / sigma**2`` of a sigma
        column, by the library's one conversion)."""
        if self.sigma_col is None:
            return values
        if isinstance(values, list):
            return [self.weights(part) for part in values]
        return validation.inverse_variance(None, values, nan_ok=True)  # --drop-nan decided

    def in_memory(self, why: str) -> None:
        """Refuse --sigma-col where the data are read lazily (its check needs the values)."""
        if self.sigma_col is not None:
            raise InvalidOptionError(
                f"--sigma-col needs the data in memory: not with {why}; give a column of "
                "weights 1/sigma**2 with --weights-col"
            )


@dataclass(frozen=True)
class Outputs:
    """What the run writes or prints besides its report; ``piped``: one output is stdout."""

    json: Path | None
    plot: Path | None
    out: Path | None
    stats: bool
    level: float
    piped: bool


def _group(kind: Any, values: dict[str, Any]) -> Any:
    """One option group from the command's values, by its field names."""
    return kind(**{f.name: values[f.name] for f in fields(kind)})


@app.command("fit", cls=Command)
@one_line_errors
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
        str | None,
        typer.Option(
            help="Column of non-negative per-point weights, inverse variances (needs a header)."
        ),
    ] = None,
    sigma_col: Annotated[
        str | None,
        typer.Option(
            help="Column of y's standard deviations instead (weights 1/sigma², as "
            "scipy's curve_fit takes sigma; needs a header)."
        ),
    ] = None,
    absolute_sigma: Annotated[
        bool,
        typer.Option(
            "--absolute-sigma",
            help="The sigma (or weights) are absolute: statistics take the scale as 1 "
            "(curve_fit's absolute_sigma=True, normal p values).",
        ),
    ] = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the full result (with trace) as JSON.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a plot of the data and the fit (.png, .pdf or .svg).")
    ] = None,
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
    fixed: Fixed = None,
    through: Through = None,
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
    given = {
        "data": data, "degree": degree, "steps": steps, "lr": lr, "basis": basis,
        "optimizer": optimizer, "momentum": momentum, "loss": loss, "huber_delta": huber_delta,
        "tol": tol, "engine": engine, "gradient": gradient, "device": device, "mode": mode,
        "strategy": strategy, "dtype": dtype, "scheduler": scheduler, "x_col": x_col,
        "y_col": y_col, "weights_col": weights_col, "series_col": series_col,
        "drop_nan": drop_nan, "sigma_col": sigma_col, "absolute_sigma": absolute_sigma,
        "fixed": fixed, "through": through,
    } | _preset_options(ctx, str(preset))  # fmt: skip
    given["tol"] = _tol(given["tol"])
    given["engine"] = str(given["engine"])
    where: Placement = _group(Placement, given)
    if where.scheduler is not None and not where.lazy:
        raise InvalidOptionError("--scheduler needs --engine dask")
    _refuse_inapplicable(ctx, series_col is not None)
    inputs = glob_inputs(data) if where.lazy else [data]
    source: Source = _group(Source, given | {"inputs": inputs})
    piped = check_outputs(inputs, json=json_path, plot=plot, out=out)
    outputs = Outputs(json_path, plot, out, stats, validation.level(level), piped)
    job = JOBS[(source.series_col is not None, where.lazy)]
    with _dask_context(where.scheduler) if where.lazy else contextlib.nullcontext():
        job(_group(Descent, given), where, source, outputs)


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
        if not given_on_command_line(ctx, name)
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
        return given_on_command_line(ctx, name)

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


class Job(Protocol):
    """One kind of run: reads its points, fits, reports and writes its outputs."""

    def __call__(
        self, descent: Descent, where: Placement, source: Source, outputs: Outputs
    ) -> None: ...


def _config(descent: Descent, where: Placement) -> FitConfig:
    """One curve's loop: what ``engine="auto"`` (and auto mode, strategy, optimizer) chose."""
    choice = resolve(
        where.engine, where.mode, where.strategy, where.device, descent.gradient, descent.loss,
        descent.optimizer, where.dtype,
    )  # fmt: skip
    return FitConfig(
        engine=choice.engine,
        gradient=choice.gradient,
        device=where.device,
        mode=choice.mode,
        strategy=choice.strategy,
        dtype=where.dtype,
        steps=descent.steps,
        lr=validation.lr(descent.lr),
        optimizer=choice.optimizer,
        momentum=descent.momentum,
        tol=descent.tol,
        loss=descent.loss,
        huber_delta=descent.huber_delta,
    )


class CurveReport:
    """The one rendering of a one-curve run: what ran, the coefficients, the MSE against the
    least-squares optimum, and the files written."""

    def __init__(self, piped: bool) -> None:
        self.console: Console = report_console(piped)

    def ran(self, result: FitResult, descent: Descent, asked: Placement, what: str) -> None:
        """The run's line: configuration (auto marked), steps, rates, time and why it stopped."""
        lr_text = auto_label(f"lr {result.lr:.4g}", descent.lr)
        if result.config.optimizer is not Optimizer.GD:
            lr_text += f", {result.config.optimizer} beta {result.momentum:.4g}"
        self.console.print(
            f"ran: {auto_label(what, asked.engine)} in the {descent.basis} basis "
            f"({counted(result.steps_run, 'step')}, {lr_text}) "
            f"in {result.seconds:.3f} s: {result.stop_reason}"
        )

    def fit(self, result: FitResult, optimum: float) -> None:
        """The coefficients and the final MSE beside the least-squares one."""
        self.console.print(
            "coefficients (x^0 .. x^D): " + "  ".join(f"{c:.6g}" for c in result.coef)
        )
        self.console.print(f"final MSE: {result.final_mse:.6g}   least-squares MSE: {optimum:.6g}")

    def wrote(self, path: Path) -> None:
        """Say which file was written."""
        wrote(self.console, path)


def _quiet_stats(result: FitResult) -> Stats:
    """``result.stats`` without its warning (the CLI says "did not converge" itself)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatsWarning)
        return result.stats


def fit_one_curve(descent: Descent, where: Placement, source: Source, outputs: Outputs) -> None:
    """``fit``: one curve in memory, with statistics, JSON and a plot on request."""
    config = _config(descent, where)
    x, y, weights = read_xy(
        source.data, source.x_col, source.y_col, source.weights_column, source.drop_nan
    )
    whole = FitProblem.from_data(x, y, descent.degree, source.weights(weights), descent.basis)
    pins = descent.constraints
    found = constraints.parse(pins.get("fixed"), pins.get("through"), None, descent.degree)
    problem = whole if found is None else ConstrainedProblem.of(whole, found)
    with progress_bars() as progress_for:
        result = fit_problem(problem, config, progress_for(where.engine, descent.steps))
    result = known_sigma(result, source.absolute_sigma)
    best = lstsq(x, y, descent.degree, weights=whole.weights, **pins)
    report = CurveReport(outputs.piped)
    report.ran(result, descent, where, str(result.config))
    report.fit(result, problem.mse_monomial(best))
    if outputs.stats:
        report.console.print(_quiet_stats(result).table(outputs.level))
    if outputs.json is not None:
        document = result.to_dict() | {"stats": _quiet_stats(result).summary(outputs.level)}
        write_text_atomic(outputs.json, json_text(document), source.inputs)
        report.wrote(outputs.json)
    if outputs.plot is not None:
        from gradpoly.plots import plot_fit

        plot_fit(
            x,
            y,
            {f"{where.engine} GD, {result.steps_run} steps": result.coef},
            outputs.plot,
            title=f"degree-{descent.degree} fit to {source.data.name}",
            reference=("least squares (lstsq)", best),
            intervals=result,
            level=outputs.level,
            prediction=outputs.stats,
        )
        report.wrote(outputs.plot)


def fit_one_curve_on_dask(
    descent: Descent, where: Placement, source: Source, outputs: Outputs
) -> None:
    """``fit --engine dask``: files read chunk by chunk, Gram statistics, then the loop."""
    from gradpoly.dask import read_xy as read_lazy
    from gradpoly.engines.dask_engine import DaskEngine, DaskProblem

    if outputs.stats:
        raise InvalidOptionError(
            "--stats needs the data in memory: the dask engine keeps Gram statistics only "
            "(use gradpoly.fit(..., engine='dask').stats in Python for mapped bases)"
        )
    if outputs.plot is not None:
        raise InvalidOptionError("--plot needs the points in memory: not with --engine dask")
    source.in_memory("--engine dask")
    descent.unconstrained("with --engine dask (it streams its data)")
    config = _config(descent, where)
    x, y, weights = read_lazy(
        source.data, source.x_col, source.y_col, source.weights_col, source.drop_nan
    )
    problem = DaskProblem.build(x, y, descent.degree, weights, descent.basis)
    result = DaskEngine().fit_lazy(problem, config)
    g, c, _ = problem.gram.one()
    report = CurveReport(outputs.piped)
    report.console.print(
        f"read {counted(problem.n_points, 'point')} in {counted(problem.chunks, 'chunk')} from "
        f"{source.data}; two passes "
        f"(range and checks, Gram statistics) took {problem.seconds:.3f} s"
    )
    report.ran(result, descent, where, str(config))
    report.fit(result, problem.mse(np.linalg.solve(g, c)))
    if outputs.json is not None:
        result.save(outputs.json)
        report.wrote(outputs.json)


class SeriesReport:
    """The one rendering of a batched run: how many series were fitted, why the others were
    not, and the files written; no series fitted is a failure (exit 1)."""

    def __init__(self, piped: bool) -> None:
        self.console: Console = report_console(piped)

    def not_fitted(self, reasons: dict[str, str]) -> None:
        """One line per series that could not be fitted, with its reason."""
        for name, reason in reasons.items():
            self.console.print(f"series {name!r} not fitted: {reason}")

    def rows(self, path: Path | None, rows: list[dict[str, Any]], inputs: list[Path]) -> None:
        """Write one row per series (``--out``)."""
        from gradpoly.io import write_rows

        if path is not None:
            write_rows(path, rows, inputs)
            wrote(self.console, path)

    @staticmethod
    def none_fitted(fitted: int, total: int) -> None:
        """A run that fitted no series is a failure (exit 1), whatever it wrote."""
        if fitted == 0:
            raise InvalidDataError(f"none of the {total} series could be fitted (reasons above)")


def _rows_output(out: Path | None) -> Path | None:
    """``--out``: one of the row formats (or ``-``, CSV on stdout), checked before any work."""
    from gradpoly.io import ROW_FORMATS

    if out is not None and not is_stdout(out) and out.suffix.lower() not in ROW_FORMATS:
        raise InvalidOptionError(
            f"--out {out}: use one of {', '.join(ROW_FORMATS)} (or - for CSV on stdout)"
        )
    return out


def fit_series(descent: Descent, where: Placement, source: Source, outputs: Outputs) -> None:
    """``fit --series-col``: every series of a long table in one batched fit_many."""
    from gradpoly.io import read_long
    from gradpoly.many import fit_many

    out = _rows_output(outputs.out)
    options = descent.batched()
    ids, xs, ys, ws = read_long(
        source.data, str(source.series_col), source.x_col, source.y_col,
        source.weights_column, source.drop_nan,
    )  # fmt: skip
    with progress_bars() as progress_for:
        bar = progress_for("statistics", len(ids))
        result = fit_many(
            xs, ys, descent.degree, weights=None if ws is None else source.weights(ws),
            absolute_sigma=source.absolute_sigma, engine=where.engine, device=where.device,
            progress=lambda done, total: bar(done), **options, **descent.constraints,
        )  # fmt: skip
    report = SeriesReport(outputs.piped)
    report.console.print(
        f"fitted {int(result.valid.sum())} of {len(ids)} series from {source.data.name} "
        f"(degree {descent.degree}, {descent.basis}, {options['optimizer']}, loss "
        f"{descent.loss}, engine {auto_label(result.engine, where.engine)}) in "
        f"{result.seconds:.3f} s; {int(result.converged.sum())} reached tol"
    )
    report.not_fitted({ids[b]: reason for b, reason in result.problems.items()})
    shown = min(len(ids), 10)
    title = "every series" if shown == len(ids) else f"the first {shown} of {len(ids)} series"
    table = Table(title=f"{title} (monomial coefficients, increasing)", title_justify="left")
    for column in ("series", "coefficients", f"final {descent.loss}", "steps"):
        table.add_column(column)
    rows = result.to_rows(ids)
    for row in rows[:10]:
        coef = "  ".join(f"{row[f'coef_{j}']:.5g}" for j in range(descent.degree + 1))
        table.add_row(str(row["series"]), coef, f"{row['final_loss']:.4g}", str(row["steps_run"]))
    report.console.print(table)
    report.rows(out, rows, source.inputs)
    if outputs.json is not None:
        replace(result, ids=tuple(ids)).save(outputs.json, source.inputs)
        wrote(report.console, outputs.json)
    report.none_fitted(int(result.valid.sum()), len(ids))


def fit_series_on_dask(
    descent: Descent, where: Placement, source: Source, outputs: Outputs
) -> None:
    """``fit --series-col --engine dask``: shuffle by series, fit_many per partition."""
    if outputs.json is not None:
        raise InvalidOptionError(
            "--json with --series-col saves the batch in memory; with --engine dask use --out"
        )
    from gradpoly.dask import fit_series_frame, read_frame
    from gradpoly.engines.dask_engine import computed

    source.in_memory("--engine dask")
    descent.unconstrained("with --engine dask (it streams its data)")
    out = _rows_output(outputs.out)
    series = str(source.series_col)
    numeric = [source.x_col, source.y_col] + ([source.weights_col] if source.weights_col else [])
    frame = read_frame(source.data, [series, *numeric], numeric if source.drop_nan else ())
    rows_frame = fit_series_frame(
        frame, series, source.x_col, source.y_col, source.weights_col, descent.degree,
        **descent.batched(),
    )  # fmt: skip
    rows = computed(rows_frame).sort_values("series").to_dict("records")
    fitted = sum(bool(r["valid"]) for r in rows)
    report = SeriesReport(outputs.piped)
    report.console.print(
        f"fitted {fitted} of {len(rows)} series from {source.data} on dask "
        f"({rows_frame.npartitions} partitions, fit_many in each)"
    )
    report.not_fitted({str(r["series"]): str(r["problem"]) for r in rows if r["problem"]})
    report.rows(out, rows, source.inputs)
    report.none_fitted(fitted, len(rows))


JOBS: dict[tuple[bool, bool], Job] = {
    (False, False): fit_one_curve,
    (False, True): fit_one_curve_on_dask,
    (True, False): fit_series,
    (True, True): fit_series_on_dask,
}
"""One job per kind of run, keyed by (a long table of series?, on Dask?)."""
