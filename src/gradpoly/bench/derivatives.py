"""Timing the derivative methods across problem sizes (``gradpoly derivative --table``).

The grid is plain data. The one-hot loop does N backward passes over an N-point graph, so
its cost grows as N^2; it is capped at ONEHOT_MAX_POINTS and the cap is reported, not hidden.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from gradpoly.bench.harness import Measurement, Outcome, Spec, measure, unavailable
from gradpoly.derivative import JAX, METHODS, TORCH, analytic, derivative
from gradpoly.options import DType
from gradpoly.testing import derivative_tolerance

POINTS: tuple[int, ...] = (10, 1_000, 10_000, 100_000, 1_000_000)
ONEHOT_MAX_POINTS = 10_000
LIBRARY = {"jax": JAX, "finite-difference": None}


def _library(method: str) -> str:
    library = LIBRARY.get(method, TORCH)
    return library.name if library else "numpy"


def grid_points(n: int) -> np.ndarray:
    """The notebook's points: n values evenly spaced on [-2 pi, 2 pi]."""
    return np.linspace(-2 * np.pi, 2 * np.pi, n)


def run_derivative_bench(
    function: str = "sin",
    points: Sequence[int] = POINTS,
    methods: Sequence[str] | None = None,
    dtype: str = "float32",
    repeats: int = 3,
    on_done: Callable[[Measurement], None] | None = None,
) -> list[Measurement]:
    """Time each method at each size; gate each against the analytic derivative."""
    out = []
    for method in methods or list(METHODS):
        library = LIBRARY.get(method, TORCH)
        for n in points:
            spec = Spec(
                method,
                _library(method),
                "none" if method == "finite-difference" else "autograd",
                "cpu",
                "compiled" if method == "jax" else "eager",
                "",
                dtype,
                n,
            )
            if library is not None and not library.availability().ok:
                m = unavailable(spec, library.availability().reason)
            elif method == "onehot-loop" and n > ONEHOT_MAX_POINTS:
                m = unavailable(
                    spec,
                    f"capped: {n:,} backward passes over {n:,} points "
                    f"(cost grows as N^2; run up to {ONEHOT_MAX_POINTS:,})",
                )
            else:
                m = _measure(spec, function, method, n, DType.parse(dtype), repeats)
            out.append(m)
            if on_done is not None:
                on_done(m)
    return out


def _measure(
    spec: Spec, function: str, method: str, n: int, dtype: DType, repeats: int
) -> Measurement:
    x = grid_points(n)
    exact = analytic(function, x)

    def run() -> Outcome:
        start = time.perf_counter()
        d = derivative(function, x, method, dtype)
        seconds = time.perf_counter() - start
        return Outcome(seconds, float(np.max(np.abs(d - exact))), d)

    m = measure(spec, run, repeats)
    err = m.final_mse  # the Outcome's slot holds the max abs error here
    ok = err <= derivative_tolerance(dtype, method) * (1 + float(np.max(np.abs(exact))))
    return replace(
        m, status="ok" if ok else "wrong", final_mse=float("nan"), extra={"max_abs_err": err}
    )


def derivative_markdown(measurements: Sequence[Measurement], function: str) -> str:
    """Methods as rows, sizes as columns (median ms), plus the max error at the largest size."""
    sizes = sorted({m.spec.steps for m in measurements})
    methods = list(dict.fromkeys(m.spec.name for m in measurements))
    cell = {(m.spec.name, m.spec.steps): m for m in measurements}
    head = " | ".join(f"N={n:,}" for n in sizes)
    lines = [
        f"| method | library | {head} | max abs error |",
        "| --- | --- |" + " ---: |" * len(sizes) + " ---: |",
    ]
    notes = []
    for method in methods:
        row, errors = [], []
        for n in sizes:
            m = cell.get((method, n))
            if m is None:
                row.append("")
            elif m.status == "ok":
                row.append(f"{1e3 * m.median:,.3g} ms")
                errors.append(m.extra["max_abs_err"])
            elif m.status == "unavailable":
                row.append("capped" if m.reason.startswith("capped") else "n/a")
                notes.append(f"{method}, N={n:,}: {m.reason}")
            else:
                row.append(m.status)
        library = next(m.spec.engine for m in measurements if m.spec.name == method)
        err = f"{max(errors):.1e}" if errors else "-"
        lines.append(f"| {method} | {library} | " + " | ".join(row) + f" | {err} |")
    lines.append("")
    lines.append(
        f"d {function}(x)/dx on [-2 pi, 2 pi]; median of the repeats after one warm-up, "
        "host to host; max abs error vs the analytic derivative over all sizes."
    )
    if notes:
        lines.append("")
        lines.extend(f"- {note}" for note in sorted(set(notes)))
    return "\n".join(lines) + "\n"
