"""Every derivative method equals the analytic derivative; non-elementwise f is refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradpoly import InvalidDataError, InvalidOptionError
from gradpoly.derivative import FUNCTIONS, METHODS, NotElementwiseError, analytic, derivative
from gradpoly.testing import derivative_tolerance

torch = pytest.importorskip("torch", reason="most methods are torch's")
pytest.importorskip("jax", reason="the jax method needs jax")

X = np.linspace(-2 * np.pi, 2 * np.pi, 100)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("function", list(FUNCTIONS))
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_equals_the_analytic_derivative(method, function, dtype) -> None:
    exact = analytic(function, X)
    got = derivative(function, X, method, dtype)
    assert got.shape == X.shape
    assert got.dtype == np.float64
    tol = derivative_tolerance(dtype, method) * (1 + np.max(np.abs(exact)))
    assert np.max(np.abs(got - exact)) <= tol


@given(st.floats(-3, 3), st.floats(0.1, 3), st.integers(1, 50))
def test_autodiff_methods_agree_on_random_grids(start, width, n) -> None:
    x = np.linspace(start, start + width, n)
    reference = derivative("tanh", x, "torch-func")
    for method in ("grad-outputs", "forward-mode", "jax"):
        np.testing.assert_allclose(derivative("tanh", x, method), reference, atol=1e-12)


def test_a_user_callable_in_the_methods_library() -> None:
    def cube(t):
        return t**3

    np.testing.assert_allclose(derivative(cube, X, "grad-outputs"), 3 * X**2, rtol=1e-12)
    np.testing.assert_allclose(derivative(cube, X, "finite-difference"), 3 * X**2, rtol=1e-7)


@pytest.mark.parametrize("method", ["grad-outputs", "forward-mode"])
@pytest.mark.parametrize(
    "mixing", [lambda t: t - t.mean(), lambda t: torch.cumsum(t, 0), lambda t: t * t.sum()]
)
def test_non_elementwise_functions_are_refused(method, mixing) -> None:
    with pytest.raises(NotElementwiseError, match="needs an elementwise function"):
        derivative(mixing, X, method)


def test_not_elementwise_is_an_option_error() -> None:
    assert issubclass(NotElementwiseError, InvalidOptionError)


def test_vmap_methods_differentiate_each_point_on_its_own() -> None:
    # x * sum(x) per point is x * x: torch-func sees one scalar at a time, so 2x is right.
    got = derivative(lambda t: t * t.sum(), X, "torch-func")
    np.testing.assert_allclose(got, 2 * X, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"f": "sinh"}, InvalidOptionError, "unknown function 'sinh'"),
        ({"method": "magic"}, InvalidOptionError, "unknown method 'magic'"),
        ({"x": []}, InvalidDataError, "non-empty 1-D"),
        ({"x": np.ones((2, 2))}, InvalidDataError, "non-empty 1-D"),
        ({"x": [1.0, np.nan]}, InvalidDataError, "non-finite"),
        ({"dtype": "float16"}, InvalidOptionError, "unknown dtype"),
    ],
)
def test_bad_input_is_refused(kwargs, error, match) -> None:
    args = {"f": "sin", "x": X, "method": "grad-outputs", "dtype": "float64"} | kwargs
    with pytest.raises(error, match=match):
        derivative(**args)
