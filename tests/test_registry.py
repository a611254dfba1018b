"""The plug-in registry shared by the engines and the batched engines."""

from __future__ import annotations

import pytest

from gradpoly.errors import InvalidOptionError
from gradpoly.registry import Registry


def test_register_get_names_and_unknown_names() -> None:
    registry: Registry[object] = Registry("engine", " for tests")

    @registry.register
    class Second:
        name = "b"

    @registry.register
    class First:
        name = "a"

    assert registry.names() == ["b", "a"]
    assert isinstance(registry.get("a"), First)
    with pytest.raises(
        InvalidOptionError, match="unknown engine 'z' for tests; choose one of: b, a"
    ):
        registry.get("z")


def test_auto_picks_an_engine_and_says_which() -> None:
    import numpy as np

    import gradpoly
    from gradpoly.engines import get_engine, resolve
    from gradpoly.options import Mode, Strategy

    x = np.linspace(0, 5, 100)
    y = np.sin(x)
    options = {"basis": "chebyshev", "lr": "auto", "tol": 1e-10, "steps": 10_000}
    fast = gradpoly.fit(x, y, 3, engine="auto", dtype="float64", optimizer="gd", **options)
    has_numba = get_engine("numba").availability(fast.config).ok
    assert fast.config.engine == ("numba" if has_numba else "numpy")
    assert fast.config.strategy is Strategy.GRAM
    assert fast.converged
    nesterov = gradpoly.fit(x, y, 3, engine="auto", optimizer="nesterov", **options)
    assert nesterov.config.engine == ("numba" if has_numba else "numpy")  # compiled Nesterov
    assert nesterov.converged
    choice = resolve("auto", None, None, gradient="autograd")
    assert choice.engine in ("torch", "jax")
    assert resolve("numba", None, None).mode is Mode.COMPILED  # the engine's own mode
    assert resolve("jax", None, None).mode is Mode.COMPILED
    assert resolve("torch", None, None).mode is Mode.EAGER
    assert resolve("numpy", None, None).strategy is Strategy.PER_SAMPLE  # the seed's
    many = gradpoly.lstsq_many(x, np.vstack([y, 2 * y]), 3, engine="auto")
    assert many.engine == ("numba" if has_numba else "numpy")


def test_numba_and_jax_run_without_naming_a_mode() -> None:
    import numpy as np
    import pytest

    import gradpoly

    x = np.linspace(0, 5, 50)
    for engine in ("numba", "jax"):
        try:
            result = gradpoly.fit(x, np.sin(x), 2, steps=200, engine=engine)
        except gradpoly.EngineUnavailableError as exc:
            pytest.skip(str(exc))
        assert result.config.mode.value == "compiled"
