"""What ``gradpoly bench`` runs: named configurations on the seed problem, gated and timed.

The catalogue holds the seed's five presets and the best variants of every engine; grids
are plain data here. Each configuration is checked against the float64 GD reference
(trace and coefficients within ``gradpoly.testing.tolerance``) before its time counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gradpoly.api import fit_problem
from gradpoly.bench.harness import (
    Measurement,
    Outcome,
    Spec,
    measure,
    reference_check,
    unavailable,
)
from gradpoly.bench.ladder import Loop, seed_autograd, seed_manual, seed_numpy
from gradpoly.engines import get_engine
from gradpoly.errors import InvalidOptionError
from gradpoly.options import FitConfig, make_config
from gradpoly.problem import FitProblem
from gradpoly.seed import PRESETS, seed_data


@dataclass(frozen=True)
class Entry:
    """A named benchmark configuration (options of :func:`gradpoly.fit`).

    With ``loop`` set, the entry times that hand-written loop (the notebook's code as
    written) instead of a gradpoly engine, so ratios against it come from the same run.
    """

    name: str
    engine: str
    gradient: str = "manual"
    device: str = "cpu"
    mode: str = "eager"
    strategy: str = "per-sample"
    loop: Loop | None = None

    def config(self, steps: int, lr: float, dtype: str) -> FitConfig:
        """The FitConfig of this entry."""
        return make_config(
            self.engine, self.gradient, self.device, self.mode, self.strategy, dtype, steps, lr
        )


CATALOGUE: tuple[Entry, ...] = (
    Entry("numpy-as-written", "numpy", loop=seed_numpy),
    Entry("torch-as-written", "torch", loop=seed_manual),
    Entry("torch-autograd-as-written", "torch", "autograd", loop=seed_autograd),
    *(Entry(p.name, p.engine, p.gradient, p.device) for p in PRESETS.values()),
    Entry("numpy-gram", "numpy", strategy="gram"),
    Entry("numpy-spectral", "numpy", strategy="spectral"),
    Entry("torch-compiled", "torch", mode="compiled"),
    Entry("torch-autograd-compiled", "torch", "autograd", mode="compiled"),
    Entry("torch-compiled-gram", "torch", mode="compiled", strategy="gram"),
    Entry("torch-autograd-compiled-gram", "torch", "autograd", mode="compiled", strategy="gram"),
    Entry("torch-gpu-compiled-gram", "torch", device="cuda", mode="compiled", strategy="gram"),
    Entry("torch-autograd-gpu-compiled-gram", "torch", "autograd", "cuda", "compiled", "gram"),
    Entry("jax", "jax", mode="compiled"),
    Entry("jax-autograd", "jax", "autograd", mode="compiled"),
    Entry("jax-gram", "jax", mode="compiled", strategy="gram"),
    Entry("jax-autograd-gram", "jax", "autograd", mode="compiled", strategy="gram"),
    Entry("numba", "numba", mode="compiled"),
    Entry("numba-gram", "numba", mode="compiled", strategy="gram"),
)
"""Every configuration ``gradpoly bench`` knows, in report order."""


def entries(names: Sequence[str] | None = None) -> list[Entry]:
    """Catalogue entries by name (all when ``names`` is empty); unknown names are refused."""
    if not names:
        return list(CATALOGUE)
    by_name = {e.name: e for e in CATALOGUE}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise InvalidOptionError(
            f"unknown benchmark configuration {unknown[0]!r}; choose from: {', '.join(by_name)}"
        )
    return [by_name[n] for n in names]


def run_entry(
    entry: Entry,
    problem: FitProblem,
    steps: int,
    lr: float,
    dtype: str,
    repeats: int,
    threads: int,
    check: Callable[[Outcome], tuple[str, float]],
) -> Measurement:
    """Measure one entry, or record why it cannot run here."""
    config = entry.config(steps, lr, dtype)
    spec = Spec(
        entry.name,
        config.engine,
        str(config.gradient),
        str(config.device),
        str(config.mode),
        str(config.strategy),
        "float64" if entry.loop is seed_numpy else str(config.dtype),
        steps,
        "the notebook's code as written" if entry.loop else "",
    )
    available = get_engine(config.engine).availability(config)
    if not available.ok:
        return unavailable(spec, available.reason)

    def run() -> Outcome:
        if entry.loop is not None:
            return entry.loop(problem, steps, lr, str(config.device))
        result = fit_problem(problem, config)
        return Outcome(result.seconds, result.final_mse, result.coef)

    return measure(spec, run, repeats, check, threads)


def run_suite(
    names: Sequence[str] | None = None,
    steps: int = 200_000,
    lr: float = 1e-5,
    dtype: str = "float32",
    repeats: int = 5,
    threads: int = 1,
    on_done: Callable[[Measurement], None] | None = None,
) -> list[Measurement]:
    """Benchmark the chosen catalogue entries on the seed problem, one after the other."""
    x, y = seed_data()
    problem = FitProblem.from_data(x, y, 4)
    chosen = entries(names)
    check = reference_check(problem, chosen[0].config(steps, lr, dtype))
    out = []
    for entry in chosen:
        measurement = run_entry(entry, problem, steps, lr, dtype, repeats, threads, check)
        out.append(measurement)
        if on_done is not None:
            on_done(measurement)
    return out
