"""Examples shown with their real output: run when the site or the README is built.

``{{ example NAME }}`` on a page (``hooks.py``) and ``<!-- example: NAME -->`` blocks in the
README (``benchmarks/readme_sync.py``) both come from :func:`render`, so the output beside a
snippet is what that snippet prints today. ``same`` compares two renderings with times masked.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECONDS = re.compile(r"\d[\d,]*(\.\d+)? ?(s|ms|µs)\b")

PYTHON: dict[str, str] = {
    "fit": """import numpy as np
import gradpoly

x = np.linspace(0, 5, 100)
result = gradpoly.fit(x, np.sin(x), degree=4)   # the defaults converge (gradpoly.BEST)
print(result.config, result.status, result.steps_run, "steps;", result.stop_reason)
print("coef ", result.coef)
print("lstsq", gradpoly.lstsq(x, np.sin(x), 4))""",
    "xarray": """import numpy as np, pandas as pd, xarray as xr
import gradpoly.xarray  # registers the .gradpoly accessor

rng = np.random.default_rng(0)
values = np.arange(365.0)[:, None, None] * 0.01 + rng.standard_normal((365, 100, 100))
values[rng.random(values.shape) < 0.1] = np.nan                       # 10% gaps
cube = xr.DataArray(values, dims=("time", "y", "x"),
                    coords={"time": pd.date_range("2025-01-01", periods=365)})
ours = cube.gradpoly.polyfit("time", 1, skipna=True)
theirs = cube.polyfit("time", 1, skipna=True)
print(ours.polyfit_coefficients.dims, ours.polyfit_coefficients.shape)
difference = abs(ours.polyfit_coefficients - theirs.polyfit_coefficients).max()
print("max relative difference to xarray's own fit:",
      float(difference / abs(theirs.polyfit_coefficients).max()))""",
    "many": """import numpy as np
import gradpoly

rng = np.random.default_rng(0)
x = np.sort(rng.uniform(0, 10, (10_000, 1_000)), axis=1)      # every series its own x
y = np.sin(x) + 0.1 * rng.standard_normal(x.shape)
many = gradpoly.fit_many(x, y, 4, steps=5_000, tol=1e-12, engine="numba")
print(many.coef.shape, many.converged.all(), int(many.steps_run.max()))""",
    "stats": """import numpy as np
import gradpoly

rng = np.random.default_rng(7)   # a calibration curve, degree 2, noise 0.05
x = np.linspace(0, 10, 25)
y = 0.5 + 1.9 * x - 0.02 * x**2 + 0.05 * rng.standard_normal(25)
result = gradpoly.lstsq(x, y, 2, full=True)
print(result.coef, result.stats.stderr)
print(result.stats.residual_std, result.stats.r_squared, result.stats.dof)
print(result.predict([5.0], interval="prediction"))""",
    "sigma": """import numpy as np
import gradpoly

rng = np.random.default_rng(3)   # each reading with its own known standard deviation
x = np.linspace(0, 10, 25)
sigma = np.where(x < 5, 0.05, 0.2)
y = 0.5 + 1.9 * x - 0.02 * x**2 + sigma * rng.standard_normal(25)
known = gradpoly.lstsq(x, y, 2, sigma=sigma, absolute_sigma=True, full=True)
relative = gradpoly.lstsq(x, y, 2, sigma=sigma, full=True)
print("stderr, sigma known:   ", known.stats.stderr)
print("stderr, sigma relative:", relative.stats.stderr)
print("sqrt(chi2 / dof):", known.stats.residual_std)""",
    "degree": """import numpy as np
import gradpoly

rng = np.random.default_rng(1)
x = np.linspace(0, 5, 60)
y = np.sin(x) + 0.05 * rng.standard_normal(60)
chosen = gradpoly.select_degree(x, y, 8)          # AICc over degrees 0..8
print(chosen.table())
print(gradpoly.select_degree(x, y, 8, criterion="bic").degree,
      gradpoly.select_degree(x, y, 8, criterion="loo").degree)

Y = np.sin(x)[None, :] * rng.uniform(0.5, 2, (1000, 1)) + rng.uniform(0.01, 0.5, (1000, 1)) * (
    rng.standard_normal((1000, 60)))              # 1,000 series, noise from small to large
many = gradpoly.select_degree(x, Y, 8)
print(many)                                       # how many series chose each degree
fits = many.result(5)                             # every series' degree-5 fit, with statistics
print(fits.stats.stderr[many.degree == 5][:2])""",
    "calibration": """import numpy as np
import gradpoly

# Miller & Miller, Statistics and Chemometrics for Analytical Chemistry, sections 5.3-5.7
conc = np.array([0, 2, 4, 6, 8, 10, 12.0])           # standards, pg/ml
signal = np.array([2.1, 5.0, 9.0, 12.6, 17.3, 21.0, 24.7])
curve = gradpoly.lstsq(conc, signal, 1, full=True)
x0, low, high = curve.inverse([2.9, 13.5, 23.0], interval="delta")
print(x0.round(2), ((high - low) / 2).round(2))       # the book: 0.72 6.21 11.13, +- 0.68 0.62 0.68
print(curve.inverse([2.9, 13.5, 23.0], interval="classical")[1:])   # Fieller's limits
print(curve.detection_limits())                       # ICH Q2: 3.3 and 10 sigma / slope
print(curve.inverse(30.0))                  # beyond the standards: NaN (a warning says why)""",
    "robust": """import numpy as np
import gradpoly

rng = np.random.default_rng(2)
x = np.linspace(0, 10, 60)
y = 2.0 + 0.8 * x + 0.3 * rng.standard_normal(60)
y[[7, 23, 41, 55]] += [6.0, -5.0, 8.0, 7.0]          # four bad readings
print(gradpoly.lstsq(x, y, 1))                        # pulled by them
fit = gradpoly.robust_fit(x, y, 1)                    # Huber, as statsmodels' RLM
print(fit.coef, fit.stderr, fit.scale, fit.iterations)
tukey = gradpoly.robust_fit(x, y, 1, norm="bisquare")  # weight 0 beyond 4.685 sigma
print(tukey.coef, tukey.rejected, np.flatnonzero(tukey.weights == 0))""",
    "constraints": """import numpy as np
import gradpoly

rng = np.random.default_rng(0)
x = np.linspace(0.5, 5, 40)
y = 2.0 * x + 0.3 * x**2 + 0.2 * rng.standard_normal(40)
origin = gradpoly.lstsq(x, y, 2, fixed={0: 0.0}, full=True)      # through the origin
print(origin.coef, origin.stats.stderr, origin.stats.dof)
even = gradpoly.lstsq(x, y, 4, fixed={1: 0.0, 3: 0.0})            # only the even terms
print(even)
pinned = gradpoly.lstsq(x, y, 3, through=[(1.0, 2.5)], slope=[(4.0, 4.0)], full=True)
slope = np.polynomial.Polynomial(pinned.coef).deriv()
print(pinned.predict(1.0), slope(4.0))
many = gradpoly.lstsq_many(x, y[None] * [[1.0], [0.5]], 2, fixed={0: 0.0})   # every series
print(many.coef)
descent = gradpoly.fit(x, y, 2, fixed={0: 0.0})    # gradient descent, on the free terms
print(descent.coef, descent.status, descent.steps_run)""",
    "numpy": """import warnings
import numpy as np
import gradpoly.numpy as gnp   # np.polyfit, polynomial.polyfit, chebfit, legfit

x = 1e4 + np.linspace(0, 1, 40)       # a calibration axis far from 0
y = np.cos(3 * (x - 1e4))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # numpy: "Polyfit may be poorly conditioned"
    print("numpy   ", np.polyfit(x, y, 3))
print("gradpoly", gnp.polyfit(x, y, 3))
print(gnp.polynomial_polyfit(np.linspace(-1, 1, 9), np.linspace(-1, 1, 9) ** 4 + 1, [0, 2, 4]))""",
    "api": """import numpy as np
import gradpoly

x = np.linspace(0, 5, 100)
y = np.sin(x)

notebook = gradpoly.NOTEBOOK.options()   # 200,000 float32 GD steps at lr 1e-5, numpy
result = gradpoly.fit(x, y, degree=4, **notebook)
print(result)
print(result.coef)                       # monomial coefficients, increasing order
print(gradpoly.lstsq(x, y, 4))           # the float64 closed-form reference
print(result.predict([0.0, 2.5]))

options = notebook | dict(engine="jax", gradient="autograd", strategy="gram")
gradpoly.fit(x, y, **options)            # compiles the scan once
fast = gradpoly.fit(x, y, **options)     # the same trajectory, all 200,000 steps traced
print(fast.config, fast.final_mse)

try:
    gradpoly.fit(x, y, **notebook | dict(lr=1e-4))
except gradpoly.DivergenceError as err:
    print(err)""",
}
"""Python examples: the code, then what it printed."""

CONSOLE: dict[str, list[tuple[str, int]]] = {
    "cli": [
        (
            "gradpoly fit examples/calibration.csv --x-col reference --y-col reading --degree 2 "
            "--stats",
            0,
        )
    ],
    "sensors": [
        (
            "gradpoly fit examples/sensors.csv --series-col sensor --x-col t --y-col value "
            "--degree 3",
            0,
        )
    ],
    "degree_cli": [
        (
            "gradpoly degree examples/sensors.csv --series-col sensor --x-col t --y-col value "
            "--criterion bic",
            0,
        )
    ],
    "calibrate_cli": [
        (
            "gradpoly calibrate examples/fluorescein.csv --x-col conc --y-col signal "
            "--measured 2.9 --measured 13.5 --measured 23.0",
            0,
        )
    ],
    "cli_tour": [
        ("gradpoly --help", 0),
        ("gradpoly fit examples/sin.csv", 0),
        ("gradpoly fit examples/sin.csv --preset notebook --lr 1e-4", 1),  # the divergence
        ("gradpoly fit examples/sin.csv --engine torch --device cuda", 1),  # no CUDA here
    ],
}
"""Shell examples: each command and the exit status it is meant to end with (a page shows
what it printed, and the status when not 0)."""


class ExampleError(RuntimeError):
    """An example ended otherwise than it is meant to: the build stops rather than publish it."""


def render(name: str) -> str:
    """The example as a page shows it (markdown); ExampleError where one fails."""
    if name in PYTHON:
        code = PYTHON[name]
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT
        )
        if done.returncode:
            raise ExampleError(f"example {name!r} failed:\n{done.stderr}")
        return f"```python\n{code}\n```\n\n```text\n{done.stdout}```\n"
    shown = []
    for command, expected in CONSOLE[name]:
        done = subprocess.run(_argv(command), capture_output=True, text=True, cwd=ROOT, env=_env())
        if done.returncode != expected:
            raise ExampleError(
                f"example {name!r}: `{command}` exited {done.returncode}, not {expected}:\n"
                f"{done.stdout}{done.stderr}"
            )
        status = f"[exit status {done.returncode}]\n" if done.returncode else ""
        shown.append(f"$ {command}\n{done.stdout}{done.stderr}{status}")
    return "```console\n" + "\n".join(shown) + "```\n"


def _argv(command: str) -> list[str]:
    """``gradpoly ...`` run by the interpreter running this build (``python -m gradpoly``),
    never whichever ``gradpoly`` is first on PATH (or none: the site once showed
    ``gradpoly: not found``)."""
    words = shlex.split(command.replace("\\\n", " "))
    if words[0] != "gradpoly":
        raise ExampleError(f"console examples run gradpoly, not {words[0]!r}")
    return [sys.executable, "-m", "gradpoly", *words[1:]]


def _env() -> dict[str, str]:
    import os

    return dict(os.environ, COLUMNS="100", NO_COLOR="1", TERM="dumb")


def same(a: str, b: str) -> bool:
    """Whether two renderings agree once times (which vary run to run) are masked."""
    return SECONDS.sub("<time>", a) == SECONDS.sub("<time>", b)
