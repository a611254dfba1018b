"""The dask engine: the same numbers as in-memory engines, lazily, on threads or a cluster."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

import gradpoly
from gradpoly import InvalidDataError, lstsq
from gradpoly.engines.dask_engine import DaskProblem
from tests.engines.checks import notebook_fit as fit

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")


def data(n: int = 1_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 4.0, n)
    return x, np.sin(x) + 0.05 * rng.standard_normal(n)


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


OPTIONS = {"degree": 4, "dtype": "float64", "lr": "auto"}


@pytest.mark.parametrize("basis", ["chebyshev", "legendre", "monomial"])
@pytest.mark.parametrize("optimizer", ["gd", "nesterov"])
def test_gram_on_chunks_equals_the_in_memory_gram_loop(basis, optimizer) -> None:
    x, y = data()
    options = OPTIONS | {"basis": basis, "optimizer": optimizer, "steps": 500}
    lazy = fit(
        da.from_array(x, chunks=77),
        da.from_array(y, chunks=77),
        engine="dask",
        strategy="gram",
        **options,
    )
    memory = fit(x, y, engine="numpy", strategy="gram", **options)
    assert lazy.config.engine == "dask"
    assert relative(lazy.trace, memory.trace) < 1e-9
    assert relative(lazy.coef, memory.coef) < 1e-9
    assert lazy.environment["chunks"] == str(int(np.ceil(x.size / 77)))


def test_per_sample_on_chunks_is_the_seed_loop() -> None:
    x, y = data(300)
    options = OPTIONS | {"basis": "chebyshev", "steps": 300, "strategy": "per-sample"}
    lazy = fit(da.from_array(x, chunks=64), da.from_array(y, chunks=64), engine="dask", **options)
    memory = fit(x, y, engine="numpy", **options)
    np.testing.assert_allclose(lazy.trace, memory.trace, rtol=1e-10)
    np.testing.assert_allclose(lazy.coef, memory.coef, rtol=1e-9)
    problem = gradpoly.FitProblem.from_data(x, y, 4, basis="chebyshev")
    ref_w, ref_trace = gradpoly.reference_gd(problem, 300, lazy.lr)
    np.testing.assert_allclose(lazy.trace, ref_trace, rtol=1e-10)
    np.testing.assert_allclose(lazy.basis_coef, ref_w, rtol=1e-9)


def test_weights_tol_and_convergence_to_lstsq() -> None:
    x, y = data(2_000, seed=1)
    w = np.random.default_rng(2).uniform(0, 2, x.size)
    result = fit(
        da.from_array(x, chunks=500),
        da.from_array(y, chunks=500),
        engine="dask",
        strategy="gram",
        weights=da.from_array(w, chunks=500),
        basis="chebyshev",
        steps=10_000,
        tol=1e-12,
        **{k: v for k, v in OPTIONS.items() if k != "degree"},
    )
    assert result.converged
    np.testing.assert_allclose(result.coef, lstsq(x, y, 4, weights=w), rtol=1e-8)


def test_float32_runs_on_the_same_statistics() -> None:
    x, y = data()
    lazy = fit(
        x,
        y,
        engine="dask",
        strategy="gram",
        basis="chebyshev",
        steps=200,
        lr="auto",
        dtype="float32",
    )
    memory = fit(
        x,
        y,
        engine="numpy",
        strategy="gram",
        basis="chebyshev",
        steps=200,
        lr="auto",
        dtype="float32",
    )
    np.testing.assert_allclose(lazy.coef, memory.coef, rtol=1e-5)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda x, y: (x[:0], y[:0]), "empty"),
        (lambda x, y: (np.where(np.arange(x.size) == 5, np.nan, x), y), "x has 1 NaN or inf"),
        (lambda x, y: (x, np.where(np.arange(y.size) < 3, np.inf, y)), "y has 3 NaN or inf"),
        (lambda x, y: (x[:4], y[:4]), "5 distinct x values with positive weight, got 4"),
        (lambda x, y: (np.round(x[:50] / 2), y[:50]), "the Gram matrix in the chebyshev basis is"),
        (lambda x, y: (x, y[:-1]), "same length"),
    ],
)
def test_bad_data_is_named(change, match) -> None:
    x, y = change(*data(100))
    with pytest.raises(InvalidDataError, match=match):
        fit(
            da.from_array(x, chunks=30),
            da.from_array(y, chunks=30),
            engine="dask",
            strategy="gram",
            basis="chebyshev",
            degree=4,
            steps=10,
        )


def test_an_unstable_lr_is_caught_with_the_stable_one() -> None:
    x, y = data()
    with pytest.raises(gradpoly.DivergenceError, match="largest stable lr"):
        fit(
            x,
            y,
            engine="dask",
            strategy="gram",
            lr=10.0,
            basis="chebyshev",
            dtype="float64",
            steps=100,
        )


def test_lazy_parquet_files_fit_like_the_arrays_in_memory(tmp_path) -> None:
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    x, y = data(3_000)
    for k in range(3):
        part = slice(k * 1_000, (k + 1) * 1_000)
        pq.write_table(pyarrow.table({"x": x[part], "y": y[part]}), tmp_path / f"p{k}.parquet")
    lx, ly, lw = gradpoly.read_xy(tmp_path / "*.parquet", lazy=True)
    assert lw is None
    assert isinstance(lx, da.Array)
    options = OPTIONS | {"basis": "chebyshev", "steps": 300, "strategy": "gram"}
    lazy = fit(lx, ly, engine="dask", **options)
    memory = fit(x, y, engine="numpy", **options)
    assert relative(lazy.coef, memory.coef) < 1e-9
    assert DaskProblem.build(lx, ly, 4, basis="chebyshev").chunks == 3


def test_drop_nan_filters_lazily(tmp_path) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    x, y = data(500)
    y_bad = y.copy()
    y_bad[[3, 70]] = np.nan
    pq.write_table(pa.table({"x": x, "y": y_bad}), tmp_path / "d.parquet")
    lx, ly, _ = gradpoly.read_xy(tmp_path / "d.parquet", lazy=True)
    with pytest.raises(InvalidDataError, match="y has 2 NaN"):
        fit(lx, ly, engine="dask", strategy="gram", degree=3, steps=5)
    lx, ly, _ = gradpoly.read_xy(tmp_path / "d.parquet", lazy=True, drop_nan=True)
    keep = np.isfinite(y_bad)
    lazy = fit(lx, ly, engine="dask", strategy="gram", basis="chebyshev", **OPTIONS, steps=200)
    memory = fit(
        x[keep], y[keep], engine="numpy", strategy="gram", basis="chebyshev", **OPTIONS, steps=200
    )
    assert relative(lazy.coef, memory.coef) < 1e-9


def test_in_process_distributed_cluster_gives_the_same_result() -> None:
    distributed = pytest.importorskip("distributed")
    x, y = data(5_000)
    options = OPTIONS | {"basis": "chebyshev", "steps": 300, "strategy": "gram"}
    local = fit(
        da.from_array(x, chunks=1_000), da.from_array(y, chunks=1_000), engine="dask", **options
    )
    with (
        distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster),
    ):
        remote = fit(
            da.from_array(x, chunks=1_000), da.from_array(y, chunks=1_000), engine="dask", **options
        )
    np.testing.assert_allclose(remote.coef, local.coef, rtol=1e-12)


def _slow_chunks(values: np.ndarray, chunks: int, seconds: float) -> object:
    """A dask array whose chunks each take ``seconds`` to produce (to be killed mid-way)."""
    size = values.size // chunks

    def load(k: int) -> np.ndarray:
        time.sleep(seconds)
        return values[k * size : (k + 1) * size]

    parts = [da.from_delayed(dask.delayed(load)(k), (size,), np.float64) for k in range(chunks)]
    return da.concatenate(parts)


def test_a_worker_killed_mid_pass_is_survived() -> None:
    distributed = pytest.importorskip("distributed")
    x, y = data(4_000)
    options = OPTIONS | {"basis": "chebyshev", "steps": 300, "strategy": "gram"}
    expected = fit(x, y, engine="numpy", **options)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        outcome: dict[str, object] = {}

        def run() -> None:
            outcome["result"] = fit(
                _slow_chunks(x, 8, 0.4), _slow_chunks(y, 8, 0.4), engine="dask", **options
            )

        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(1.0)  # both workers are busy loading chunks of the first pass
        victim = next(iter(pids.values()))
        os.kill(victim, signal.SIGKILL)
        worker.join(timeout=120)
        assert not worker.is_alive()
        assert set(client.run(os.getpid).values()) != set(pids.values())  # one was replaced
    result = outcome["result"]
    np.testing.assert_allclose(result.coef, expected.coef, rtol=1e-9)
