"""One validation layer: every entry point gives the same verdict for the same option value,
and data arrays are refused in one place (complex, text, masks, values beyond float64)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import gradpoly
from gradpoly import fit, fit_many, lstsq, lstsq_many, validation
from gradpoly.cli import main
from gradpoly.errors import GradpolyError, InvalidDataError, InvalidOptionError

X = np.linspace(0.0, 2.0, 12)
Y = np.cos(X)


def odd_values() -> st.SearchStrategy[Any]:
    """Values people (and programs) pass for numeric options, good and bad."""
    return st.one_of(
        st.integers(-3, 300),
        st.integers(-3, 300).map(np.int64),
        st.integers(0, 255).map(np.uint8),
        st.floats(allow_nan=True, allow_infinity=True, width=64),
        st.floats(0.0, 0.99).map(np.float32),
        st.sampled_from(["abc", "1e-3", "0.5", "auto", "", "nan", "3", " 2 "]),
        st.sampled_from([None, True, False, 1 + 2j, [1], {"a": 1}]),
    )


def refuses(call: Callable[[], object]) -> bool:
    """True when ``call`` refuses its option (InvalidOptionError); other outcomes accept it."""
    try:
        call()
    except InvalidOptionError:
        return True
    except GradpolyError:
        return False  # e.g. DivergenceError: the option itself was accepted
    return False


def cli_refuses(flag: str, value: Any, tmp_csv: str) -> bool:
    """The CLI's verdict: a usage error (exit 2) or an option error naming the option."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        args = ["fit", tmp_csv, "--degree", "2", "--steps", "5", "--lr", "auto"]
        code = main([*args, flag, str(value)])
    name = flag.lstrip("-").replace("-", "_")
    return code == 2 or (code == 1 and f"{name} must" in err.getvalue())


ENTRY_POINTS: dict[str, dict[str, Callable[[Any], object]]] = {
    "steps": {
        "fit": lambda v: fit(X, Y, 2, steps=v, lr="auto"),
        "fit_many": lambda v: fit_many([X], [Y], 2, steps=v),
    },
    "degree": {
        "fit": lambda v: fit(X, Y, v, steps=3, lr="auto"),
        "fit_many": lambda v: fit_many([X], [Y], v, steps=3),
        "lstsq_many": lambda v: lstsq_many([X], [Y], v),
        "lstsq": lambda v: lstsq(X, Y, v),
    },
    "lr": {
        "fit": lambda v: fit(X, Y, 2, steps=3, lr=v),
        "fit_many": lambda v: fit_many([X], [Y], 2, steps=3, lr=v),
    },
    "tol": {
        "fit": lambda v: fit(X, Y, 2, steps=3, lr="auto", tol=v),
        "fit_many": lambda v: fit_many([X], [Y], 2, steps=3, tol=v),
    },
    "huber_delta": {
        "fit": lambda v: fit(X, Y, 2, steps=3, lr="auto", huber_delta=v),
        "fit_many": lambda v: fit_many([X], [Y], 2, steps=3, huber_delta=v),
    },
}


@pytest.mark.parametrize("option", sorted(ENTRY_POINTS))
@settings(max_examples=30)
@given(value=odd_values())
def test_every_entry_point_gives_the_same_verdict(option, value) -> None:
    verdicts = {
        name: refuses(lambda c=call: c(value)) for name, call in ENTRY_POINTS[option].items()
    }
    assert len(set(verdicts.values())) == 1, verdicts


@pytest.mark.parametrize("option", ["steps", "degree", "tol", "lr"])
@settings(max_examples=20)
@given(value=odd_values())
def test_the_estimator_and_the_dask_engine_agree_with_fit(option, value) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("dask")
    from gradpoly.sklearn import PolynomialRegressor

    library = refuses(lambda: ENTRY_POINTS[option]["fit"](value))
    dask = {
        "steps": lambda: fit(X, Y, 2, steps=value, lr="auto", engine="dask", strategy="gram"),
        "degree": lambda: fit(X, Y, value, steps=3, lr="auto", engine="dask", strategy="gram"),
        "tol": lambda: fit(X, Y, 2, steps=3, lr="auto", tol=value, engine="dask", strategy="gram"),
        "lr": lambda: fit(X, Y, 2, steps=3, lr=value, engine="dask", strategy="gram"),
    }[option]
    assert refuses(dask) == library
    estimator = PolynomialRegressor(**{"degree": 2, "steps": 3, option: value})
    assert refuses(lambda: estimator.fit(X[:, None], Y)) == library


@pytest.mark.parametrize(
    ("flag", "values"),
    [
        ("--steps", [5, 0, -1, "abc", 1.5, 10**12]),
        ("--degree", [2, -1, "x", 2.5]),
        ("--lr", ["auto", "1e-3", "fast", "0", "-1", "nan", "inf"]),
        ("--tol", ["1e-3", "0", "-1", "abc", "nan"]),
        ("--huber-delta", ["1", "0", "-2", "abc", "inf"]),
    ],
)
def test_the_cli_agrees_with_the_library(tmp_path, flag, values) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in zip(X, Y, strict=True)))
    option = flag.lstrip("-").replace("-", "_")
    call = ENTRY_POINTS[option]["fit"]
    for value in values:
        text = str(value)
        if option in ("steps", "degree"):
            try:
                number = int(text)
            except ValueError:
                library = True  # not an integer on the command line either
            else:
                library = refuses(lambda n=number: call(n))
        else:
            library = refuses(lambda t=text: call(t))
        assert cli_refuses(flag, text, str(path)) == library, (flag, value)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (np.array([1 + 1j, 2, 3]), "complex"),
        ([1, 2 + 0j, 3], "complex"),
        (np.array(["1", "2", "3"]), "numeric"),
        (np.array([1, 2, 3], dtype="datetime64[s]"), "dates"),
        (np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0]), "masked"),
        (np.array([1, np.longdouble("1e4000"), 3], dtype=np.longdouble), "beyond float64"),
        ([[1, 2], [3]], "numeric"),
    ],
)
def test_bad_arrays_are_refused_in_one_place(values, match) -> None:
    with pytest.raises(InvalidDataError, match=match):
        validation.vector("x", values)
    with pytest.raises(InvalidDataError, match=match):
        fit(values, [1, 2, 3], 1, steps=3)
    with pytest.raises(InvalidDataError, match=match):
        fit_many([values], [[1.0, 2.0, 3.0]], 1, steps=3)


def test_a_tensor_that_requires_grad_is_data() -> None:
    torch = pytest.importorskip("torch")
    x = torch.tensor(X, requires_grad=True)
    assert np.allclose(fit(x, Y, 2, steps=3).coef, fit(X, Y, 2, steps=3).coef)


@pytest.mark.parametrize("ids", [["a", None, "b"], ["a", float("nan"), "b"], ["a", "", "b"]])
def test_missing_series_ids_are_refused(ids) -> None:
    x = np.array([0.0, 1.0, 2.0])
    with pytest.raises(InvalidDataError, match="no series id"):
        fit_many(x, x, 0, series=ids)


def test_numpy_integers_are_integers_everywhere() -> None:
    fit(X, Y, np.int64(2), steps=np.int64(3), lr="auto")
    fit_many([X], [Y], np.int32(2), steps=np.int16(3))


def _weighted_entry_points():
    from gradpoly.sklearn import PolynomialRegressor

    x = np.linspace(0, 5, 12)
    y = np.sin(x)

    def estimator(solver):
        return lambda w: PolynomialRegressor(degree=2, solver=solver).fit(
            x[:, None], y, sample_weight=w
        )

    return {
        "lstsq": lambda w: gradpoly.lstsq(x, y, 2, weights=w),
        "fit": lambda w: gradpoly.fit(x, y, 2, steps=5, weights=w),
        "lstsq_many": lambda w: gradpoly.lstsq_many(x[None], y[None], 2, weights=w[None]),
        "lstsq_many shared": lambda w: gradpoly.lstsq_many(x, y[None], 2, weights=w),
        "fit_many": lambda w: gradpoly.fit_many(x[None], y[None], 2, steps=5, weights=w[None]),
        "estimator gd": estimator("gd"),
        "estimator lstsq": estimator("lstsq"),
        "dask": lambda w: gradpoly.fit(x, y, 2, steps=5, weights=w, engine="dask"),
    }


def test_xarray_w_multiplies_residuals_so_its_sign_is_free() -> None:
    """xarray's (and numpy's) ``w`` multiplies the residuals, not their squares: a negative
    one is legitimate there and means its absolute value, as in xarray itself."""
    xr = pytest.importorskip("xarray")
    import gradpoly.xarray as gx

    x = np.linspace(0, 5, 12)
    data = xr.DataArray(np.sin(x), dims="t", coords={"t": x})
    w = np.ones(12)
    w[3] = -50.0
    ours = gx.polyfit(data, "t", 2, w=w).polyfit_coefficients.values
    theirs = data.polyfit("t", 2, w=np.abs(w)).polyfit_coefficients.values
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("entry", sorted(_weighted_entry_points()))
@pytest.mark.parametrize("bad", [-50.0, -0.5, -1e-300])
def test_negative_weights_are_refused_by_every_entry_point(entry, bad) -> None:
    """A negative weight made the estimator's GD return -6e154 'converged' and its lstsq
    solver raise LAPACK's own lines; every path now refuses it in one place."""
    pytest.importorskip("sklearn")
    pytest.importorskip("dask")
    weights = np.ones(12)
    weights[3] = bad
    with pytest.raises(InvalidDataError, match="weights must be non-negative"):
        _weighted_entry_points()[entry](weights)


@given(
    arrays(np.float64, st.integers(0, 30), elements=st.sampled_from([-1.5, -0.0, 0.0, 2.0, 1e300]))
)
def test_distinct_count_is_numpy_unique_s(values) -> None:
    assert validation.distinct_count(values) == np.unique(values).size
