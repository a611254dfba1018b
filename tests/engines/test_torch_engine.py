"""torch-engine specifics: autograd's gradient equals the manual one; CUDA runs when present."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradpoly import fit
from gradpoly.engines.torch_engine import cuda_availability

torch = pytest.importorskip("torch", reason="torch is an optional engine")


@given(
    arrays(np.float64, 12, elements=st.floats(-2, 2)),
    arrays(np.float64, st.integers(1, 5), elements=st.floats(-2, 2)),
)
def test_autograd_gradient_equals_the_manual_one(y, w) -> None:
    x = np.linspace(-1, 1, 12)
    a = torch.from_numpy(np.vander(x, w.size, increasing=True))
    b = torch.from_numpy(y)
    wt = torch.from_numpy(w).requires_grad_(True)
    loss = ((b - a @ wt) ** 2).mean()
    (auto,) = torch.autograd.grad(loss, wt)
    manual = -2.0 / x.size * a.T @ (b - a @ wt.detach())
    np.testing.assert_allclose(auto.numpy(), manual.numpy(), rtol=1e-12, atol=1e-12)


def test_autograd_and_manual_give_the_same_float64_trace() -> None:
    x = np.linspace(0, 5, 100)
    kwargs = dict(degree=4, steps=2000, engine="torch", dtype="float64")
    manual = fit(x, np.sin(x), gradient="manual", **kwargs)
    auto = fit(x, np.sin(x), gradient="autograd", **kwargs)
    np.testing.assert_allclose(auto.trace, manual.trace, rtol=1e-12)


def test_torch_engine_leaves_grad_mode_as_it_found_it() -> None:
    fit(np.linspace(0, 1, 5), np.ones(5), degree=1, steps=3, engine="torch", gradient="autograd")
    assert torch.is_grad_enabled()
    assert not torch.is_inference_mode_enabled()


@pytest.mark.skipif(not cuda_availability().ok, reason=cuda_availability().reason or "no CUDA")
@pytest.mark.parametrize("gradient", ["manual", "autograd"])
def test_cuda_matches_cpu(gradient) -> None:
    x = np.linspace(0, 5, 100)
    kwargs = dict(degree=4, steps=5000, engine="torch", gradient=gradient, dtype="float64")
    cpu = fit(x, np.sin(x), device="cpu", **kwargs)
    gpu = fit(x, np.sin(x), device="cuda", **kwargs)
    assert gpu.environment["device_name"] != "cpu"
    np.testing.assert_allclose(gpu.trace, cpu.trace, rtol=1e-9)
