"""gradpoly.threads: the cores, the helper pool and BLAS held to one thread, restored after."""

from __future__ import annotations

import numpy as np
import pytest

from gradpoly import threads


def test_cores_and_pool() -> None:
    assert threads.cores() >= 1
    assert threads.pool().submit(lambda: 7).result() == 7
    assert threads.pool() is threads.pool()  # one pool, made once


def test_one_blas_thread_limits_and_restores() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    with threads.one_blas_thread():
        inside = [
            i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        ]
        a = np.arange(16.0).reshape(4, 4)
        assert np.allclose(a @ np.eye(4), a)
    after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert after == before
    if threads.cores() > 1:
        assert all(n == 1 for n in inside)


def test_one_blas_thread_decorates() -> None:
    @threads.one_blas_thread()
    def twice(v: float) -> float:
        return 2 * v

    assert twice(3.0) == 6.0
    assert twice(4.0) == 8.0  # re-entered on every call


def test_quiet_blas_holds_big_batches_to_one_thread_only() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads() -> list[int]:
        return [
            i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        ]

    before = blas_threads()
    with threads.quiet_blas(threads.QUIET_FROM - 1):
        assert blas_threads() == before  # a few series: threadpoolctl is not even asked
    with threads.quiet_blas(threads.QUIET_FROM):
        if threads.cores() > 1:
            assert all(n == 1 for n in blas_threads())
    assert blas_threads() == before


def test_a_quiet_batch_gives_the_same_bits(monkeypatch) -> None:
    """BLAS at one thread changes the time of a big batch's solve, never its numbers."""
    from gradpoly import lstsq_many

    rng = np.random.default_rng(3)
    x = np.linspace(0.0, 9.0, 60)
    y = np.sin(x)[None, :] * rng.uniform(0.5, 2.0, (threads.QUIET_FROM + 5, 1))
    y = y + 0.01 * rng.standard_normal(y.shape)
    y[::7, ::5] = np.nan  # gapped series too: their own G
    quiet = lstsq_many(x, y, 3, drop_nan=True)
    monkeypatch.setattr(threads, "QUIET_FROM", 10**12)
    loud = lstsq_many(x, y, 3, drop_nan=True)
    np.testing.assert_array_equal(quiet.coef, loud.coef)
    np.testing.assert_array_equal(quiet.stats.stderr, loud.stats.stderr)


def test_kernel_arrays_are_one_layout_and_copied_only_when_needed() -> None:
    """One compiled signature per kernel: C-contiguous, writable float64 (or the dtype asked),
    the input itself where it already is."""
    ready = np.arange(6.0)
    assert threads.kernel_array(ready) is ready
    frozen = np.arange(6.0)
    frozen.setflags(write=False)
    for values in (frozen, np.arange(12.0)[::2], np.arange(6, dtype=np.float32),
                   np.broadcast_to(np.arange(3.0), (2, 3))):  # fmt: skip
        out = threads.kernel_array(values)
        assert out is not values
        assert out.dtype == np.float64
        assert out.flags.c_contiguous
        assert out.flags.writeable
        np.testing.assert_array_equal(out, values)
    mask = np.ones(4, dtype=bool)
    assert threads.kernel_array(mask, bool) is mask
