"""The cores gradpoly may use, one pool of helper threads, BLAS held to one thread around
small-matrix work (on a few cores, BLAS threads left spinning after a batched product of tiny
matrices steal the cores from the next parallel kernel, numba's), and arrays in the one layout
a numba kernel is compiled for."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any, Final

import numpy as np
import numpy.typing as npt


@functools.cache
def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@functools.cache
def pool() -> concurrent.futures.ThreadPoolExecutor:
    """One pool of helper threads for element-wise work that releases the GIL."""
    return concurrent.futures.ThreadPoolExecutor(max(1, cores() - 1), "gradpoly")


def spread(count: int, one: Callable[[int, int], None], least: int = 1) -> None:
    """``one(start, stop)`` over ``range(count)`` in one part per core (each at least
    ``least`` long), the caller's thread taking the first: for work that releases the GIL."""
    parts = max(1, min(cores(), count // max(least, 1)))
    bounds = [count * k // parts for k in range(parts + 1)]
    spans = list(itertools.pairwise(bounds))
    jobs = [pool().submit(one, *span) for span in spans[1:]]
    one(*spans[0])
    for job in jobs:
        job.result()


@functools.cache
def _controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries (None without threadpoolctl)."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl.ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS at one thread inside the block (batched products of (D+1)-sized matrices gain
    nothing from more), restored after; a no-op where threadpoolctl is absent."""
    controller = _controller()
    if controller is None or cores() == 1:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


QUIET_FROM: Final = 1024
"""From this many series a batch's solve and assembly run with BLAS at one thread: measured
on 90,000 series of 365 points (2 cores), the (B, D+1)-sized products left OpenBLAS threads
spinning that halved the next call's numba statistics (47 ms alone, 92-102 ms after)."""


def quiet_blas(count: int) -> contextlib.AbstractContextManager[None]:
    """:func:`one_blas_thread` for the small-matrix work of a batch of ``count`` series (from
    :data:`QUIET_FROM`; a few series skip threadpoolctl's ~10 us)."""
    return one_blas_thread() if count >= QUIET_FROM else contextlib.nullcontext()


def kernel_array(values: npt.NDArray[Any], dtype: Any = np.float64) -> npt.NDArray[Any]:
    """``values`` as a numba kernel takes them: C-contiguous, writable, of ``dtype``
    (copied only where they are not). Numba compiles a kernel once per layout, writability
    and dtype of each argument: a read-only or strided input would cost a second cold compile,
    seconds for the parallel kernels. torch's ``as_tensor`` takes them so too (it shares a
    writable array and warns on a read-only one)."""
    if values.dtype == dtype and values.flags.c_contiguous and values.flags.writeable:
        return values
    return np.array(values, dtype=dtype, order="C")
