"""FitResult: prediction, numpy.polynomial view, JSON round trip, atomic save."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradpoly
from gradpoly import FitConfig, FitResult, fit
from gradpoly.errors import DataFileError


@pytest.fixture
def result() -> FitResult:
    x = np.linspace(-1, 1, 20)
    return fit(x, 1 + 2 * x, degree=1, **gradpoly.NOTEBOOK.options() | {"steps": 500, "lr": 0.4})


def test_predict_and_polynomial_agree(result) -> None:
    x = np.linspace(-1, 1, 7)
    np.testing.assert_allclose(result.predict(x), result.polynomial()(x))
    np.testing.assert_allclose(result.coef, [1.0, 2.0], atol=1e-5)
    assert result.degree == 1


def test_final_mse_is_the_last_trace_entry(result) -> None:
    assert result.final_mse == result.trace[-1]
    assert result.trace.size == 500


def test_json_round_trip_is_exact(result) -> None:
    again = FitResult.from_json(result.to_json())
    np.testing.assert_array_equal(again.coef, result.coef)
    np.testing.assert_array_equal(again.trace, result.trace)
    assert again.config == result.config
    assert again.seconds == result.seconds
    assert again.environment == result.environment


def test_save_and_load(result, tmp_path) -> None:
    (tmp_path / "out").mkdir()
    path = result.save(tmp_path / "out" / "fit.json")
    assert json.loads(path.read_text())["config"]["engine"] == "numpy"
    np.testing.assert_array_equal(FitResult.load(path).coef, result.coef)
    assert [p.name for p in path.parent.iterdir()] == ["fit.json"]


def test_result_is_immutable(result) -> None:
    with pytest.raises(AttributeError):
        result.seconds = 0.0  # type: ignore[misc]


def test_from_dict_keeps_config_types() -> None:
    data = {"coef": [1.0], "trace": [2.0], "seconds": 0.5, "config": FitConfig(steps=1).to_dict()}
    assert FitResult.from_dict(data).config == FitConfig(steps=1)


def test_chebyshev_result_gives_the_matching_numpy_series() -> None:
    x = np.linspace(0, 5, 40)
    result = fit(x, np.sin(x), degree=4, steps=200, lr="auto", basis="chebyshev", dtype="float64")
    series = result.polynomial()
    assert isinstance(series, np.polynomial.Chebyshev)
    assert list(series.domain) == [0.0, 5.0]
    np.testing.assert_allclose(
        result.predict(x), np.polynomial.polynomial.polyval(x, result.coef), atol=1e-10
    )
    again = FitResult.from_json(result.to_json())
    assert again.basis == result.basis
    assert again.domain == result.domain
    assert again.lr == result.lr
    assert again.config.lr == "auto"
    np.testing.assert_array_equal(again.basis_coef, result.basis_coef)


def _saved() -> dict:
    x = np.linspace(0, 5, 40)
    result = fit(x, np.sin(x), degree=3, steps=300, lr="auto", basis="chebyshev", dtype="float64")
    return json.loads(result.to_json())


def _edit(path: str, value):
    def apply(data: dict) -> None:
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target[key]
        target[last] = value(target[last]) if callable(value) else value

    return apply


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (_edit("format_version", 99), "format_version"),
        (_edit("statistics.used", -40.0), "point count"),
        (_edit("statistics.used", 0.5), "point count"),
        (_edit("statistics.y_scale", 0.0), "power of two"),
        (_edit("statistics.y_scale", -1.0), "power of two"),
        (_edit("statistics.y_scale", 3.0), "power of two"),
        (_edit("statistics.total", 0.0), "total weight"),
        (_edit("statistics.coef", lambda c: [v * 2 for v in c]), "different polynomials"),
        (_edit("statistics.gram", lambda g: [[*g[0][:-1], g[0][-1] + 1], *g[1:]]), "symmetric"),
        (_edit("statistics.residual_sums", [-1.0, 2.0]), "non-negative"),
        (_edit("coef", []), "coef"),
        (_edit("coef", [[1.0, 2.0]]), "coef"),
        (_edit("basis_coef", lambda c: [c[0] + 1, *c[1:]]), "different polynomials"),
        (_edit("trace", []), "trace"),
        (_edit("status", "fine"), "status"),
        (_edit("domain", [5.0, 0.0]), "domain"),
    ],
)
def test_a_saved_result_is_checked_as_strictly_as_fresh_input(edit, match) -> None:
    data = _saved()
    edit(data)
    with pytest.raises(DataFileError, match=match):
        FitResult.from_json(json.dumps(data))


def test_bare_nan_and_infinity_tokens_are_refused() -> None:
    text = json.dumps(_saved()).replace('"final_mse": ', '"final_mse": NaN, "x": ', 1)
    with pytest.raises(DataFileError, match="NaN is not JSON"):
        FitResult.from_json(text)
    assert FitResult.from_json(json.dumps(_saved())).converged in (True, False)
