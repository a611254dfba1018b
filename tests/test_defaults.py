"""Every front door's defaults are the best path, taken from one record (gradpoly.BEST)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import gradpoly
from gradpoly.options import BEST, NOTEBOOK


def _defaults(func) -> dict[str, object]:
    return {
        name: p.default
        for name, p in inspect.signature(func).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


@pytest.mark.parametrize("door", [gradpoly.fit, gradpoly.fit_many])
def test_descent_doors_default_to_best(door) -> None:
    found = _defaults(door)
    found.setdefault("dtype", found.get("storage"))  # fit_many keeps x, y in storage=
    for name, value in BEST.options().items():
        assert str(found[name]) == str(value), (door.__name__, name)


def test_lstsq_many_runs_on_the_fastest_engine() -> None:
    assert _defaults(gradpoly.lstsq_many)["engine"] == BEST.engine == "auto"


def test_the_estimator_defaults_to_best() -> None:
    pytest.importorskip("sklearn")
    from gradpoly.sklearn import PolynomialRegressor

    params = PolynomialRegressor().get_params()
    for name in ("steps", "lr", "engine", "basis", "optimizer", "tol"):
        assert str(params[name]) == str(BEST.options()[name]), name


def test_the_cli_defaults_to_best() -> None:
    import typer.main

    from gradpoly.cli import app

    command = typer.main.get_command(app).commands["fit"]  # type: ignore[attr-defined]
    found = {p.name: p.default for p in command.params}
    for name, value in BEST.options().items():
        assert str(found[name]) == str(value), name


def test_a_default_fit_converges_to_lstsq() -> None:
    x = np.linspace(0, 5, 100)
    result = gradpoly.fit(x, np.sin(x))
    assert result.converged
    np.testing.assert_allclose(result.coef, gradpoly.lstsq(x, np.sin(x), 4), rtol=1e-8, atol=1e-9)


def test_the_notebook_preset_is_the_seed_run() -> None:
    assert NOTEBOOK.options() == {
        "steps": 200_000,
        "lr": 1e-5,
        "engine": "numpy",
        "dtype": "float32",
        "basis": "monomial",
        "optimizer": "gd",
        "tol": None,
    }
    x = np.linspace(0, 5, 100)
    result = gradpoly.fit(x, np.sin(x), **NOTEBOOK.options() | {"steps": 100})
    assert str(result.config) == "numpy-manual-cpu-eager-per-sample-float32"
    assert result.steps_run == 100
    assert not result.converged
    assert gradpoly.PRESETS["numpy"].options() == NOTEBOOK.options() | {
        "engine": "numpy",
        "gradient": "manual",
        "device": "cpu",
    }
