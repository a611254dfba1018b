"""Fuzz every public entry point with hostile data and options (hypothesis).

The contract: a GradpolyError with a one-line message, or a finite result (closed forms agree
with ``lstsq``'s fitted values); never another exception type, never a non-finite
coefficient, never a "converged" fit above its tolerance, never a hang. The CI profile
(tests/conftest.py) fixes the number of examples so the suite costs a few minutes.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradpoly import GradpolyError, fit, fit_many, lstsq, lstsq_many
from gradpoly.batched import backend_names, get_backend
from gradpoly.cli import main
from gradpoly.engines import get_engine
from gradpoly.options import Device, DType, make_config

DTYPES = ("int64", "int8", "bool", "float16", "float32", "float64", "longdouble", "complex128")

FUZZ_EXAMPLES = int(os.environ.get("GRADPOLY_FUZZ_EXAMPLES", "100"))
"""Examples each fuzz test draws: 100 in the README's test command, 500 in CI's exhaustive
pass (``.ci/run`` sets ``GRADPOLY_FUZZ_EXAMPLES=500``); derandomized, so each depth draws the
same examples every run."""

FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@st.composite
def hostile_xy(draw: st.DrawFn) -> tuple[Any, Any]:
    """x and y as people and programs pass them: odd dtypes, shapes, scales, NaN, ties."""
    n = draw(st.integers(0, 30))
    kind = draw(st.sampled_from(["spread", "duplicated", "constant", "clustered"]))
    base = np.linspace(-1.0, 1.0, n)
    if kind == "duplicated":
        base = np.repeat(base[: (n + 1) // 2], 2)[:n]
    elif kind == "constant":
        base = np.full(n, 0.5)
    elif kind == "clustered":
        base = np.concatenate([np.full(n // 2, -1.0), np.full(n - n // 2, 1.0)])
        base = base + 1e-6 * np.arange(n)
    x_scale = 10.0 ** draw(st.integers(-300, 300))
    x_shift = draw(st.sampled_from([0.0, 1.0, 1e6, -1e300]))
    y_scale = 10.0 ** draw(st.integers(-300, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    with np.errstate(all="ignore"):
        x = base * x_scale + x_shift
        y = (np.sin(3 * base) + 0.1 * rng.standard_normal(n)) * y_scale
    for values in (x, y):
        if n and draw(st.booleans()) and draw(st.booleans()):
            values[draw(st.integers(0, n - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    dtype = draw(st.sampled_from(("float64",) * 4 + DTYPES))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xs = x.astype(dtype) if dtype != "complex128" else x + 1j
    shape = draw(st.sampled_from(["1d"] * 6 + ["2d", "list", "scalar", "object"]))
    if shape == "2d":
        xs = np.asarray(xs).reshape(1, -1)
    elif shape == "list":
        xs = np.asarray(xs).tolist()
    elif shape == "scalar":
        xs = np.asarray(xs).reshape(-1)[:1].reshape(()) if n else np.float64(1.0)
    elif shape == "object":
        xs = np.asarray(xs).astype(object)
    if draw(st.integers(0, 9)) == 0:
        y = y[: max(n - 1, 0)]  # a length mismatch
    return xs, y


OPTIONS = st.fixed_dictionaries(
    {
        "degree": st.one_of(st.integers(-1, 6), st.sampled_from([2.5, "3", True, 10**9])),
        "steps": st.one_of(st.integers(1, 40), st.sampled_from([0, -5, 1.5, 10**12])),
        "lr": st.one_of(
            st.sampled_from(["auto", "fast", 0.0, -1.0, np.nan, 1e300]), st.floats(1e-6, 10)
        ),
        "basis": st.sampled_from(["monomial", "chebyshev", "legendre", "hermite"]),
        "optimizer": st.sampled_from(["gd", "momentum", "nesterov", "auto", "adam"]),
        "momentum": st.sampled_from([None, 0.0, 0.5, 0.99, 1.0, -0.1, np.nan, "x"]),
        "tol": st.sampled_from([None, 1e-8, 1e-3, 0.0, -1.0, np.nan, "abc"]),
    }
)


def one_line(exc: GradpolyError) -> None:
    """A GradpolyError's message is one non-empty line."""
    text = str(exc)
    assert text.strip(), type(exc)
    assert "\n" not in text, text


def honest(result: Any, tol: Any) -> None:
    """A returned fit is finite, and "converged" only when its estimated coefficient error
    met tol, or reached the dtype's rounding floor (named, with its value) above tol."""
    assert np.isfinite(result.coef).all(), result.coef
    assert np.isfinite(result.trace).all()
    if result.converged and not result.coef_error <= tol:
        floor = re.search(r"rounding floor ([0-9.e+-]+)", result.stop_reason)
        assert floor is not None, result.stop_reason
        assert tol < float(floor.group(1)), result.stop_reason
        assert result.coef_error <= float(floor.group(1)) * 1.001, result.stop_reason


def contract(call: Callable[[], Any], check: Callable[[Any], None]) -> None:
    """``call`` raises a one-line GradpolyError, or returns a result that passes ``check``."""
    try:
        with warnings.catch_warnings():
            # A silent NaN in gradpoly's own arithmetic would warn first.
            warnings.filterwarnings("error", category=RuntimeWarning, module="gradpoly")
            result = call()
    except GradpolyError as exc:
        one_line(exc)
        return
    check(result)


SINGLE = [
    ("numpy", {"strategy": "per-sample"}),
    ("numpy", {"strategy": "gram"}),
    ("numpy", {"strategy": "spectral"}),
    ("numba", {"strategy": "gram", "mode": "compiled"}),
    ("torch", {"strategy": "per-sample", "dtype": "float64"}),
    ("torch", {"strategy": "gram", "gradient": "autograd"}),
    ("jax", {"strategy": "gram", "mode": "compiled"}),
]


def available(engine: str, **options: Any) -> bool:
    config = make_config(engine, **options)
    return bool(get_engine(engine).availability(config).ok)


@pytest.mark.parametrize(("engine", "extra"), SINGLE, ids=lambda v: str(v))
@FUZZ
@given(data=hostile_xy(), options=OPTIONS)
def test_fit_on_every_engine_keeps_the_contract(engine, extra, data, options) -> None:
    if not available(engine, **extra):
        pytest.skip(f"engine {engine} is not available here")
    x, y = data
    kwargs = dict(options)
    if extra.get("strategy") == "spectral" and kwargs["optimizer"] != "gd":
        kwargs["optimizer"] = "gd"

    def run() -> Any:
        return fit(x, y, engine=engine, **extra, **kwargs)

    contract(run, lambda r: honest(r, kwargs["tol"]))


def test_fit_on_the_dask_engine_keeps_the_contract() -> None:
    pytest.importorskip("dask")

    @settings(FUZZ, max_examples=40)
    @given(data=hostile_xy(), options=OPTIONS)
    def check(data: tuple[Any, Any], options: dict[str, Any]) -> None:
        x, y = data
        contract(
            lambda: fit(x, y, engine="dask", strategy="gram", **options),
            lambda r: honest(r, options["tol"]),
        )

    check()


def fitted_values(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.polynomial.polynomial.polyval(x, coef)


@FUZZ
@given(data=hostile_xy(), degree=OPTIONS.map(lambda o: o["degree"]))
def test_lstsq_keeps_the_contract(data, degree) -> None:
    x, y = data

    def check(coef: np.ndarray) -> None:
        assert np.isfinite(coef).all()

    contract(lambda: lstsq(x, y, degree), check)


@st.composite
def well_spread(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """Data where fitted values are well determined: distinct, spread x of any scale."""
    degree = draw(st.integers(0, 5))
    n = draw(st.integers(degree + 1, 40))
    scale = 10.0 ** draw(st.integers(-30, 30))
    shift = draw(st.sampled_from([0.0, 3.0]))
    x = (np.linspace(-1, 1, n) + shift) * scale
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    y = (np.cos(2 * np.linspace(-1, 1, n)) + rng.standard_normal(n)) * 10.0 ** draw(
        st.integers(-200, 200)
    )
    return x, y, degree


@pytest.mark.parametrize("engine", backend_names())
@FUZZ
@given(problem=well_spread())
def test_lstsq_many_agrees_with_lstsq(engine, problem) -> None:
    if not get_backend(engine).availability(Device.CPU).ok:
        pytest.skip(f"batched engine {engine} is not available here")
    x, y, degree = problem
    try:
        reference = lstsq(x, y, degree)
    except GradpolyError as exc:  # beyond float64 for monomials: lstsq_many must agree
        one_line(exc)
        result = lstsq_many([x], [y], degree, engine=engine)
        assert not result.valid[0]
        return
    result = lstsq_many([x], [y], degree, engine=engine)
    assert result.valid[0], result.problems
    top = float(np.max(np.abs(y)))
    expected, got = fitted_values(reference, x), fitted_values(result.coef[0], x)
    assert np.max(np.abs(got - expected)) <= 1e-6 * top


@pytest.mark.parametrize("engine", backend_names())
@FUZZ
@given(
    data=hostile_xy(),
    options=OPTIONS,
    storage=st.sampled_from(["float64", "float32", "float16", DType.FLOAT32]),
)
def test_fit_many_keeps_the_contract(engine, data, options, storage) -> None:
    if not get_backend(engine).availability(Device.CPU).ok:
        pytest.skip(f"batched engine {engine} is not available here")
    x, y = data
    kwargs = {k: v for k, v in options.items() if k != "degree"} | {"storage": storage}

    def check(result: Any) -> None:
        fitted = result.coef[result.valid]
        assert np.isfinite(fitted).all()
        assert np.isnan(result.coef[~result.valid]).all()

    degree = options["degree"]
    contract(lambda: fit_many([x], [y], degree, engine=engine, **kwargs), check)
    contract(lambda: lstsq_many([x], [y], degree, engine=engine, storage=storage), check)


@FUZZ
@given(data=hostile_xy(), options=OPTIONS, solver=st.sampled_from(["gd", "lstsq"]))
def test_the_estimator_keeps_the_contract(data, options, solver) -> None:
    pytest.importorskip("sklearn")
    from gradpoly.sklearn import PolynomialRegressor

    x, y = data
    kwargs = {k: v for k, v in options.items() if k != "basis" or v != "hermite"}
    kwargs.pop("momentum")  # the estimator has no momentum option (its descent: BEST)

    def run() -> Any:
        model = PolynomialRegressor(solver=solver, **kwargs)
        return model.fit(np.asarray(x).reshape(-1, 1) if np.ndim(x) <= 1 else x, y)

    def check(model: Any) -> None:
        assert np.isfinite(model.coef_).all()
        assert np.isfinite(model.intercept_)

    contract(run, check)


def cli(*args: str) -> tuple[int, str]:
    """Run the CLI in-process; return its exit code and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(args))
    return code, err.getvalue()


def cli_contract(code: int, err: str, piped: bool = False) -> None:
    """Success, or exit 1/2 with one error line on stderr and no traceback.

    With ``piped`` (an output on stdout: ``-``) the report goes to stderr before the error.
    """
    assert code in (0, 1, 2), code
    assert "Traceback" not in err
    if code:
        lines = err.strip().splitlines()
        assert len(lines) == 1 or piped, err
        assert sum(line.startswith("error:") for line in lines) == 1, err
        assert lines[-1].startswith("error:"), err


CLI_FLAGS = st.lists(
    st.sampled_from(
        [
            ["--degree", "3"],
            ["--degree", "-1"],
            ["--steps", "0"],
            ["--lr", "auto"],
            ["--lr", "1e9"],
            ["--basis", "chebyshev"],
            ["--optimizer", "nesterov"],
            ["--optimizer", "auto"],
            ["--momentum", "0.5"],
            ["--tol", "off"],
            ["--preset", "notebook"],
            ["--tol", "1e-6"],
            ["--dtype", "float64"],
            ["--strategy", "gram"],
            ["--drop-nan"],
            ["--stats"],
            ["--level", "0.9"],
            ["--level", "1"],
            ["--engine", "auto"],
            ["--series-col", "id"],
            ["--out", "-"],
            ["--json", "-"],
            ["--engine", "numba"],
            ["--weights-col", "w"],
            ["--plot", "plot.xyz"],  # a name no image format has: refused before any work
        ]
    ),
    max_size=4,
)


def hostile_csv(folder: Any, data: tuple[Any, Any]) -> Any:
    """hostile_xy's points as a long CSV a command reads (id, x, y, w columns)."""
    x, y = data
    xs = np.ravel(np.asarray(x)).tolist() if np.ndim(x) else [x]
    ys = np.ravel(np.asarray(y)).tolist()
    rows = [f"{i % 3},{a},{b},1" for i, (a, b) in enumerate(zip(xs, ys, strict=False))]
    path = folder / "data.csv"
    path.write_text("id,x,y,w\n" + "\n".join(rows) + "\n")
    return path


@FUZZ
@given(data=hostile_xy(), flags=CLI_FLAGS)
def test_the_cli_keeps_the_contract(tmp_path_factory, data, flags) -> None:
    path = hostile_csv(tmp_path_factory.mktemp("cli"), data)
    args = [a for flag in flags for a in flag]
    cli_contract(*cli("fit", str(path), "--steps", "20", *args), piped="-" in args)


def valid_files(folder: Any) -> list[Any]:
    """One good file of every format the CLI reads, to be mutated."""
    x = np.linspace(0, 1, 12)
    y = np.sin(x)
    csv = folder / "d.csv"
    csv.write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in zip(x, y, strict=True)))
    npy = folder / "d.npy"
    np.save(npy, np.column_stack([x, y]))
    npz = folder / "d.npz"
    np.savez(npz, x=x, y=y)
    files = [csv, npy, npz]
    with contextlib.suppress(ImportError):
        import pyarrow as pa
        import pyarrow.parquet as pq

        parquet = folder / "d.parquet"
        pq.write_table(pa.table({"x": x, "y": y}), parquet)
        files.append(parquet)
    return files


@FUZZ
@given(
    which=st.integers(0, 3),
    cuts=st.lists(st.tuples(st.integers(0, 4000), st.binary(max_size=8)), min_size=1, max_size=4),
    truncate=st.one_of(st.none(), st.integers(0, 4000)),
)
def test_mutated_files_are_one_line_errors(tmp_path_factory, which, cuts, truncate) -> None:
    folder = tmp_path_factory.mktemp("files")
    files = valid_files(folder)
    path = files[which % len(files)]
    raw = bytearray(path.read_bytes())
    for at, junk in cuts:
        at = at % (len(raw) + 1)
        raw[at : at + len(junk)] = junk
    if truncate is not None:
        raw = raw[: truncate % (len(raw) + 1)]
    path.write_bytes(bytes(raw))
    cli_contract(*cli("fit", str(path), "--steps", "5", "--lr", "auto"))


@FUZZ
@pytest.mark.parametrize("engine", backend_names())
@given(
    data=hostile_xy(),
    series=st.integers(1, 4),
    drop=st.booleans(),
    masked=st.sampled_from([None, "axis", "each"]),
    dtype=st.sampled_from(["float64", "float32"]),
    degree=st.integers(0, 5),
)
def test_a_shared_axis_keeps_the_contract(
    engine, data, series, drop, masked, dtype, degree
) -> None:
    """x (N,) with y (B, N): hostile axes and values, gaps, masks, float32 storage."""
    if not get_backend(engine).availability(Device.CPU).ok:
        pytest.skip(f"batched engine {engine} is not available here")
    x, y = data
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rows = np.vstack([np.asarray(y, dtype=float) * (k + 1) for k in range(series)])
        except (TypeError, ValueError):
            rows = y  # odd shapes and objects go in as they are
    mask = None
    if masked is not None and np.ndim(rows) == 2:
        rng = np.random.default_rng(series)
        shape = rows.shape[1:] if masked == "axis" else rows.shape
        mask = rng.random(shape) < 0.3

    def check(result: Any) -> None:
        assert np.isfinite(result.coef[result.valid]).all()
        assert np.isnan(result.coef[~result.valid]).all()

    options = {"drop_nan": drop, "mask": mask, "dtype": dtype, "engine": engine}
    contract(lambda: lstsq_many(x, rows, degree, **options), check)
    contract(lambda: fit_many(x, rows, degree, steps=200, tol=1e-8, **options), check)


HOSTILE_SIGMA = st.sampled_from(
    ["ones", "spread", "zero", "negative", "nan", "inf", "tiny", "text", "short", "per-series",
     "scalar", "both"]
)  # fmt: skip
"""How sigma (or weights beside it) is given: well, badly, or of a shape that must broadcast."""


def _sigma(kind: str, count: int, points: int) -> tuple[Any, Any]:
    """``(weights, sigma)`` of one hostile kind for ``count`` series of ``points``."""
    base = np.linspace(0.5, 2.0, points)
    table: dict[str, Any] = {
        "ones": np.ones(points), "spread": base, "zero": np.zeros(points), "negative": -base,
        "nan": np.where(np.arange(points) == 0, np.nan, base), "inf": np.full(points, np.inf),
        "tiny": np.full(points, 1e-200), "text": ["a"] * points, "short": base[:-1],
        "per-series": np.linspace(1.0, 2.0, count)[:, None], "scalar": 0.3,
    }  # fmt: skip
    if kind == "both":
        return base, base
    return None, table[kind]


@FUZZ
@given(
    data=hostile_xy(),
    kind=HOSTILE_SIGMA,
    absolute=st.sampled_from([False, True, "yes"]),
    degree=st.integers(0, 4),
    drop=st.booleans(),
)
def test_sigma_keeps_the_contract_on_every_front_door(data, kind, absolute, degree, drop):
    """sigma= and absolute_sigma=: a one-line typed error, or statistics that can be read
    (one standard error per coefficient, never negative), on lstsq, fit, lstsq_many and
    fit_many alike. (Finite they need not be: x near 1e-155 gives variances beyond float64.)"""
    x, y = data
    points = int(np.size(y))
    weights, sigma = _sigma(kind, 2, max(points, 1))
    single = {"weights": weights, "sigma": sigma if kind != "per-series" else None}
    batched = {"weights": weights, "sigma": sigma, "absolute_sigma": absolute, "drop_nan": drop}

    def finite_stats(result: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = result.stats
            errors = np.atleast_2d(np.asarray(stats.stderr, dtype=float))
        assert errors.shape[-1] == np.atleast_2d(result.coef).shape[-1]
        assert not (errors < 0).any()

    contract(lambda: lstsq(x, y, degree, absolute_sigma=absolute, full=True, **single),
             finite_stats)  # fmt: skip
    contract(lambda: fit(x, y, degree, absolute_sigma=absolute, **single), finite_stats)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rows = np.vstack([np.asarray(y, dtype=float), 2.0 * np.asarray(y, dtype=float)])
        except (TypeError, ValueError):
            rows = y
    contract(lambda: lstsq_many(x, rows, degree, **batched), finite_stats)
    contract(lambda: fit_many(x, rows, degree, steps=100, **batched), finite_stats)


@FUZZ
@given(data=hostile_xy(), deg=st.one_of(
    st.integers(-1, 5), st.sampled_from([[0, 2], [], [1, -1], [[0]], 2.5, True, "2", 10**6])
))  # fmt: skip
def test_the_numpy_drop_ins_keep_the_contract(data, deg) -> None:
    """np.polyfit's and numpy.polynomial's drop-ins: a one-line typed error (a TypeError too
    for bad shapes, as numpy's), or finite coefficients where the fit could be made."""
    gnp = pytest.importorskip("gradpoly.numpy")
    x, y = data

    def check(coef: Any) -> None:
        values = np.asarray(coef[0] if isinstance(coef, tuple) else coef, dtype=float)
        assert np.isfinite(values).all() or np.isnan(values).all()

    for run in (gnp.polynomial_polyfit, gnp.chebfit, gnp.legfit):
        contract(lambda run=run: run(x, y, deg), check)
    if not isinstance(deg, list):
        contract(lambda: gnp.polyfit(x, y, deg, cov=True), check)


@FUZZ
@given(
    count=st.integers(-(2**62), 2**62),
    resolution=st.sampled_from(["Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns"]),
    unit=st.sampled_from(["year", "day", "s", "ns", "D", "fortnight", "", 3, None]),
    kind=st.sampled_from(["datetime64", "timedelta64"]),
)
def test_time_units_keep_the_contract(count, resolution, unit, kind) -> None:
    """Any date or duration of any resolution in any unit: a finite number (NaN for NaT), or
    a one-line typed error naming the units."""
    from gradpoly import timeaxis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = np.array([count, np.iinfo(np.int64).min], dtype=np.int64).view(
            f"{kind}[{resolution}]"
        )

    def check(numbers: Any) -> None:
        assert np.isfinite(numbers[0])
        assert np.isnan(numbers[1])  # NaT

    contract(lambda: timeaxis.numbers(values, unit), check)


CONSTRAINTS = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"fixed": st.sampled_from([{0: 0.0}, {1: 2.0}, {9: 0.0}, {0: np.nan},
                                                     [0.0], {"a": 1}, {-1: 0.0}])}),
    st.fixed_dictionaries({"through": st.sampled_from([[(0.0, 1.0)], (0.5, 0.5), 1.0, "ab",
                                                       [(np.inf, 0.0)], [(0.0, 1.0), (0.0, 2.0)],
                                                       [(1e300, 0.0)], [(1, 2, 3)]])}),
    st.fixed_dictionaries(
        {"slope": st.sampled_from([[(0.0, 1.0)], [(0.0, np.nan)], [(2.0, 0.0)]])}
    ),
)  # fmt: skip


@given(data=hostile_xy(), degree=OPTIONS.map(lambda o: o["degree"]), options=CONSTRAINTS)
def test_constrained_fits_keep_the_contract(data, degree, options) -> None:
    x, y = data

    def check(result: Any) -> None:
        coef = np.asarray(result.coef)
        assert np.isfinite(coef).all()
        for power, value in options.get("fixed", {}).items():
            assert coef[power] == value

    contract(lambda: lstsq(x, y, degree, full=True, **options), check)
    contract(lambda: lstsq_many(x, np.atleast_2d(y) if np.ndim(y) == 1 else y, degree, **options),
             lambda result: None)  # fmt: skip


@given(
    data=hostile_xy(),
    degree=OPTIONS.map(lambda o: o["degree"]),
    criterion=st.sampled_from(["aicc", "aic", "bic", "gcv", "loo", "r2", 3]),
)
def test_degree_selection_keeps_the_contract(data, degree, criterion) -> None:
    from gradpoly import select_degree

    x, y = data

    def check(chosen: Any) -> None:
        degrees = np.atleast_1d(chosen.degree)
        assert ((degrees >= -1) & (degrees <= int(degree))).all()
        fitted = degrees >= 0
        assert np.isfinite(np.atleast_2d(chosen.coef)[fitted]).all()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unfitted series are said, and checked
        contract(lambda: select_degree(x, y, degree, criterion=criterion), check)


@given(
    data=hostile_xy(),
    measured=st.sampled_from([0.0, 0.5, np.nan, np.inf, "a", [0.1, 0.2], 1e300]),
    interval=st.sampled_from([None, "classical", "delta", "wide"]),
    replicates=st.sampled_from([1, 3, 0, 1.5]),
)
def test_inverse_prediction_keeps_the_contract(data, measured, interval, replicates) -> None:
    x, y = data

    def fitted() -> Any:
        return lstsq(x, y, 2, full=True)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fitted()
    except GradpolyError:
        return

    def check(found: Any) -> None:
        values = found if interval is None else found[0]
        finite = np.isfinite(values)
        assert np.isfinite(np.asarray(fitted().predict(values[finite]))).all()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # CalibrationWarning: NaN said
        contract(lambda: result.inverse(measured, interval=interval, replicates=replicates),
                 check)  # fmt: skip


@given(
    data=hostile_xy(),
    norm=st.sampled_from(["huber", "bisquare", "clip", "l1"]),
    tuning=st.sampled_from([None, 2.0, 0.0, "a", np.inf]),
)
def test_robust_fits_keep_the_contract(data, norm, tuning) -> None:
    from gradpoly import robust_fit

    x, y = data

    def check(found: Any) -> None:
        coef = np.atleast_2d(found.coef)
        fitted = np.isfinite(coef).all(axis=1)
        assert (np.atleast_1d(found.scale)[fitted] >= 0).all()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        contract(lambda: robust_fit(x, y, 2, norm=norm, tuning=tuning), check)


NEW_COMMANDS = st.sampled_from(
    [
        ["degree", "--max-degree", "4"],
        ["degree", "--criterion", "loo", "--series-col", "id"],
        ["degree", "--max-degree", "-2"],
        ["calibrate", "--measured", "0.1", "--measured", "nan"],
        ["calibrate", "--degree", "2", "--monotone", "increasing", "--measured", "0.5"],
        ["calibrate", "--fixed", "0=0", "--interval", "delta", "--measured", "1e300"],
        ["calibrate", "--through", "0,0", "--through", "0,1"],
        ["calibrate", "--weights-col", "w", "--measured", "0.2", "--replicates", "0"],
        ["robust", "--degree", "2", "--norm", "bisquare"],
        ["robust", "--series-col", "id", "--norm", "clip", "--tuning", "0"],
        ["robust", "--json", "-"],
    ]
)


@FUZZ
@given(data=hostile_xy(), command=NEW_COMMANDS, drop=st.booleans())
def test_the_new_commands_keep_the_contract(tmp_path_factory, data, command, drop) -> None:
    path = hostile_csv(tmp_path_factory.mktemp("cli"), data)
    args = [command[0], str(path), *command[1:], *(["--drop-nan"] if drop else [])]
    cli_contract(*cli(*args), piped="-" in args)
