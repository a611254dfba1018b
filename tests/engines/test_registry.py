"""The registry: every engine listed with availability, unknown names refused."""

from __future__ import annotations

import pytest

import gradpoly
from gradpoly import EngineUnavailableError, FitConfig, InvalidOptionError
from gradpoly.engines import engine_names, get_engine


def test_engines_returns_records_with_reason() -> None:
    records = gradpoly.engines()
    assert {(r.name, r.device) for r in records} >= {
        ("numpy", "cpu"),
        ("torch", "cpu"),
        ("torch", "cuda"),
    }
    for record in records:
        assert record.available or record.reason


def test_numpy_is_always_available() -> None:
    (numpy,) = [r for r in gradpoly.engines() if r.name == "numpy"]
    assert numpy.available
    assert numpy.version


def test_unknown_engine_lists_known_ones() -> None:
    with pytest.raises(
        InvalidOptionError, match="unknown engine 'fortran'; choose one of: "
    ) as info:
        get_engine("fortran")
    assert all(name in str(info.value) for name in engine_names())


def test_unsupported_option_is_an_option_error_not_unavailability() -> None:
    engine = get_engine("numpy")
    assert not engine.availability(FitConfig(gradient="autograd")).ok  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="does not support gradient autograd"):
        gradpoly.fit([0, 1, 2], [0, 1, 2], degree=1, engine="numpy", gradient="autograd")


def test_cuda_without_gpu_is_engine_unavailable() -> None:
    config = FitConfig(engine="torch", device="cuda")  # type: ignore[arg-type]
    if get_engine("torch").availability(config).ok:
        pytest.skip("a CUDA device is present: the error path cannot happen here")
    with pytest.raises(EngineUnavailableError, match="no CUDA device"):
        gradpoly.fit([0, 1, 2], [0, 1, 2], degree=1, engine="torch", device="cuda", steps=1)


def test_registry_order_is_stable() -> None:
    assert engine_names()[:2] == ["numpy", "torch"]


def test_import_gradpoly_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, gradpoly; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_auto_engine_on_the_cpu_imports_only_what_runs() -> None:
    """Every auto choice on the CPU (one curve, many, xarray) is numba or numpy: asking each
    batched backend's availability imported torch and jax too (4 s of a dask cube's 6 s)."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, gradpoly\n"
        "x = np.linspace(0, 5, 40); y = np.vstack([np.sin(x), np.cos(x)])\n"
        "gradpoly.lstsq_many(x, y, 3); gradpoly.fit_many(x, y, 3); gradpoly.fit(x, y[0], 3)\n"
        "print(sorted(m for m in ('torch', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("options", "honoured"),
    [
        ({"mode": "eager"}, {"mode": "eager"}),
        ({"strategy": "spectral"}, {"strategy": "spectral"}),
        ({"strategy": "per-sample"}, {"strategy": "per-sample"}),
        ({"optimizer": "nesterov"}, {"optimizer": "nesterov"}),
    ],
)
def test_auto_never_drops_an_option_it_was_given(options, honoured) -> None:
    """Asking for mode eager or strategy spectral picked numba, which then refused them."""
    import numpy as np

    from gradpoly import fit

    x = np.linspace(0, 5, 40)
    result = fit(x, np.sin(x), 3, steps=5, engine="auto", **options)
    for key, value in honoured.items():
        assert str(getattr(result.config, key)) == value
