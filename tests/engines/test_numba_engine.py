"""numba-engine specifics: manual only, loops really run in the requested dtype."""

from __future__ import annotations

import numpy as np
import pytest

from gradpoly import InvalidOptionError
from tests.engines.checks import notebook_fit as fit

pytest.importorskip("numba", reason="numba is an optional engine")


def test_autograd_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidOptionError, match="engine numba does not support gradient autograd"):
        fit([0, 1, 2], [0, 1, 2], degree=1, engine="numba", mode="compiled", gradient="autograd")


@pytest.mark.parametrize("strategy", ["per-sample", "gram"])
def test_float32_loop_matches_numpy_float32_closely(strategy) -> None:
    x = np.linspace(0, 5, 100)
    kwargs = dict(degree=4, steps=3000, dtype="float32", strategy=strategy)
    numba = fit(x, np.sin(x), engine="numba", mode="compiled", **kwargs)
    numpy = fit(x, np.sin(x), engine="numpy", **kwargs)
    np.testing.assert_allclose(numba.trace, numpy.trace, rtol=1e-5)


@pytest.mark.parametrize("strategy", ["per-sample", "gram"])
@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_momentum_loops_follow_numpy_step_by_step(strategy, optimizer, dtype) -> None:
    """numba's compiled momentum and Nesterov loops take numpy's eager steps (the update
    rules of gradpoly.updates), in the dtype asked for; chunked or in one call alike."""
    x = np.linspace(0, 5, 100)
    kwargs = dict(degree=4, steps=2000, dtype=dtype, strategy=strategy, optimizer=optimizer,
                  momentum=0.6, lr=1e-5)  # fmt: skip
    numba = fit(x, np.sin(x), engine="numba", mode="compiled", **kwargs)
    numpy = fit(x, np.sin(x), engine="numpy", **kwargs)
    assert numba.trace.dtype == numpy.trace.dtype
    rtol = 1e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(numba.trace, numpy.trace, rtol=rtol)
    np.testing.assert_allclose(numba.coef, numpy.coef, rtol=rtol * 10)
