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
