"""The seed notebook's API: poly, dpoly_dw on numpy and torch, train's dict, the presets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import gradpoly
from gradpoly import PRESETS, EngineUnavailableError, InvalidDataError, dpoly_dw, poly, train
from gradpoly.engines import get_engine
from gradpoly.seed import seed_data

torch = pytest.importorskip("torch", reason="torch is an optional engine")

coefs = arrays(np.float64, st.integers(1, 6), elements=st.floats(-3, 3))


def test_poly_matches_the_notebook_example() -> None:
    x = np.linspace(-5, 5, 20).reshape((-1, 1))
    w = 0.1 * np.array([3.0, -2.0, -1.5, 5]).reshape((-1, 1))
    assert poly(x, w).shape == (20, 1)
    assert dpoly_dw(x, w).shape == (20, 4)
    np.testing.assert_allclose(poly(x, w)[:, 0], np.polynomial.polynomial.polyval(x[:, 0], w[:, 0]))


@given(coefs, st.floats(-2, 2))
def test_numpy_and_torch_agree(w, x0) -> None:
    x = np.linspace(x0, x0 + 1, 7).reshape(-1, 1)
    w = w.reshape(-1, 1)
    np.testing.assert_allclose(poly(torch.from_numpy(x), torch.from_numpy(w)).numpy(), poly(x, w))
    np.testing.assert_allclose(
        dpoly_dw(torch.from_numpy(x), torch.from_numpy(w)).numpy(), dpoly_dw(x, w)
    )


@given(coefs, st.integers(0, 5), st.floats(-2, 2))
def test_dpoly_dw_agrees_with_finite_differences(w, j, x0) -> None:
    w = w.reshape(-1, 1)
    j = j % w.shape[0]
    x = np.linspace(x0, x0 + 1, 9).reshape(-1, 1)
    h = 1e-4
    step = np.zeros_like(w)
    step[j] = h
    numeric = (poly(x, w + step) - poly(x, w - step)) / (2 * h)
    np.testing.assert_allclose(numeric[:, 0], dpoly_dw(x, w)[:, j], rtol=1e-6, atol=1e-8)


def test_poly_refuses_other_array_types() -> None:
    with pytest.raises(InvalidDataError, match="got list"):
        poly([[1.0]], np.ones((2, 1)))


def test_train_returns_the_notebooks_dict() -> None:
    x, y = seed_data()
    out = train(x.reshape(-1, 1), y.reshape(-1, 1), nSteps=300, use_torch=True)
    assert set(out) == {
        "mseTrace",
        "w",
        "learnRate",
        "seconds",
        "use_torch",
        "use_autograd",
        "use_gpu",
    }
    assert out["mseTrace"].shape == (300,)
    assert out["mseTrace"].dtype == np.float32
    assert isinstance(out["w"], torch.Tensor)
    assert out["w"].shape == (5, 1)
    assert out["learnRate"] == 1e-5
    assert out["use_torch"]
    assert not out["use_autograd"]
    assert not out["use_gpu"]


def test_train_autograd_implies_torch_and_matches_manual() -> None:
    x, y = seed_data()
    manual = train(x, y, nSteps=500)
    auto = train(x, y, nSteps=500, use_autograd=True)
    assert auto["use_torch"]
    assert isinstance(manual["w"], np.ndarray)
    np.testing.assert_allclose(auto["mseTrace"], manual["mseTrace"], rtol=1e-5)


def test_train_gpu_without_cuda_says_why() -> None:
    config = PRESETS["torch-gpu"].config()
    if get_engine("torch").availability(config).ok:
        pytest.skip("a CUDA device is present: the error path cannot happen here")
    x, y = seed_data()
    with pytest.raises(EngineUnavailableError, match="no CUDA device"):
        train(x, y, nSteps=10, use_gpu=True)


def test_the_five_presets_in_the_notebooks_order() -> None:
    assert list(PRESETS) == ["numpy", "torch", "torch-gpu", "torch-autograd", "torch-autograd-gpu"]
    assert PRESETS["torch-autograd-gpu"].options() == gradpoly.NOTEBOOK.options() | {
        "engine": "torch",
        "gradient": "autograd",
        "device": "cuda",
    }
