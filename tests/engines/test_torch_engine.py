"""torch-engine specifics: autograd's gradient equals the manual one; CUDA runs when present."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradpoly import FitConfig
from gradpoly.engines import torch_engine
from gradpoly.engines.torch_engine import cuda_availability
from tests.engines.checks import notebook_fit as fit
from tests.engines.checks import worker_group

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


@pytest.mark.parametrize("mode", [torch_engine.Mode.EAGER, torch_engine.Mode.COMPILED])
@given(
    arrays(np.float64, 12, elements=st.floats(-2, 2)),
    arrays(np.float64, st.integers(1, 5), elements=st.floats(-2, 2)),
)
def test_each_layout_s_loss_and_gradients_are_the_mse_s(mode, y, w) -> None:
    """The eager pair (BLAS matvecs) and the compiled one (the transposed design, fused sums)
    compute one MSE and one gradient; autograd's derivative of each loss is its manual one."""
    x = np.linspace(-1, 1, 12)
    a = torch.from_numpy(np.vander(x, w.size, increasing=True))
    data = (a, a.T.contiguous(), torch.from_numpy(y))
    wt = torch.from_numpy(w)
    strategy = torch_engine.Strategy.PER_SAMPLE
    loss, grad = torch_engine.make_step(strategy, torch_engine.Gradient.MANUAL, mode)(wt, *data)
    auto_loss, auto = torch_engine._autograd_eager(torch_engine.objective(strategy, mode=mode))(
        wt, *data
    )
    r = y - np.vander(x, w.size, increasing=True) @ w
    np.testing.assert_allclose(float(loss), np.mean(r * r), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(float(auto_loss), float(loss), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(auto.numpy(), grad.numpy(), rtol=1e-12, atol=1e-12)


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


# --- the compiled CPU block: every compile route computes the eager trajectory --------------

GRADIENTS = ("manual", "autograd")


def _route(compiler: str, strategy: str, gradient: str) -> Any:
    """A route's case; the default route's in the contract's group of its configuration (one
    worker: the package the contract built for the small problem's shape serves it too)."""
    config = FitConfig(
        engine="torch", gradient=gradient, device="cpu", mode="compiled", strategy=strategy,
        dtype="float64",
    )  # fmt: skip
    default = compiler == torch_engine.Compiler.AOTI_STACK
    marks = worker_group(config) if default else ()
    return pytest.param(
        compiler, strategy, gradient, marks=marks, id=f"{compiler}-{strategy}-{gradient}"
    )


ROUTES = [  # the default route in full; the ladder's other routes once each (compiles cost)
    *(
        _route(torch_engine.Compiler.AOTI_STACK, s, g)
        for s in ("per-sample", "gram")
        for g in GRADIENTS
    ),
    *(_route(c, "gram", "autograd") for c in torch_engine.Compiler if c != "aoti-stack"),
]


@pytest.mark.parametrize(("compiler", "strategy", "gradient"), ROUTES)
def test_every_compile_route_follows_the_eager_trace(compiler, strategy, gradient) -> None:
    x = np.linspace(-1.0, 2.0, 30)  # the contract's small problem's shape: its packages serve
    # 47 steps: two whole 20-step blocks and a masked one
    kwargs = dict(degree=3, steps=47, engine="torch", gradient=gradient, strategy=strategy)
    kwargs |= dict(dtype="float64")
    eager = fit(x, np.sin(x), mode="eager", **kwargs)
    with torch_engine.compiling_with(compiler):
        compiled = fit(x, np.sin(x), mode="compiled", **kwargs)
    np.testing.assert_allclose(compiled.trace, eager.trace, rtol=1e-12)
    np.testing.assert_allclose(compiled.coef, eager.coef, rtol=1e-12, atol=1e-15)


STACK_GRAM = FitConfig(
    engine="torch", gradient="manual", device="cpu", mode="compiled", strategy="gram",
    dtype="float32",
)  # fmt: skip
"""The notebook's fit, compiled on the Gram statistics: the contract's configuration and cubic
(:func:`tests.engines.checks.small_problem`), so its worker's package serves this test too."""


@pytest.mark.xdist_group(str(STACK_GRAM))
def test_a_stack_package_result_survives_later_calls() -> None:
    """Stack-buffer packages return the same memory on every call; the runner copies it."""
    x = np.linspace(0, 5, 100)
    kwargs = dict(degree=3, steps=45, engine="torch", mode="compiled", strategy="gram")
    first = fit(x, np.sin(x), **kwargs)
    trace, coef = first.trace.copy(), first.coef.copy()
    fit(x, np.cos(x), **kwargs)
    np.testing.assert_array_equal(first.trace, trace)
    np.testing.assert_array_equal(first.coef, coef)
    assert len(set(np.round(trace, 6))) > 40  # every block's losses, not one block's repeated


def test_a_user_loss_compiles_into_a_package() -> None:
    x = np.linspace(0, 5, 60)
    kwargs = dict(degree=3, steps=30, engine="torch", gradient="autograd", dtype="float64")
    huber = fit(x, np.sin(x), loss="huber", mode="eager", **kwargs)
    mine = fit(x, np.sin(x), loss=lambda r: (r * r).mean(), mode="compiled", **kwargs)
    mse = fit(x, np.sin(x), mode="eager", **kwargs)
    np.testing.assert_allclose(mine.trace, mse.trace, rtol=1e-12)
    assert not np.allclose(huber.trace, mse.trace)


@pytest.fixture
def uncached(monkeypatch):
    """No package cache and an empty in-process table, as a new process with caches off.

    torch's options are set through its own ``config.patch``: undoing a monkeypatch on a
    module gradpoly does not own can delete the option (pytest 9) instead of restoring it.
    """
    monkeypatch.setattr(torch_engine, "_PACKAGES", {})
    with torch._inductor.config.patch(force_disable_caches=True):
        yield


def _returns_its_own_memory(block, example) -> bool:
    first = block(*example)
    second = block(*example)
    return bool(first[1].data_ptr() == second[1].data_ptr())


def _grouped_with(strategy: str) -> pytest.MarkDecorator:
    """The xdist group of the contract's compiled float64 manual ``strategy`` configuration:
    a test needing the stack package that group builds for the contract's cubic (four
    coefficients, float64, a float64 lr tensor) loads it from the package cache instead of
    compiling it cold again."""
    options = dict(engine="torch", gradient="manual", device="cpu", mode="compiled")
    return worker_group(FitConfig(strategy=strategy, dtype="float64", **options))


def test_stack_and_heap_packages_in_one_process_are_what_they_ask_for(uncached) -> None:
    """Inductor registers one CPU wrapper generator per process; each package gets its own.
    (Its own shapes: both packages are built here, the stack one after the heap one.)"""
    strategy, gradient = torch_engine.Strategy.GRAM, torch_engine.Gradient.MANUAL
    g = torch.eye(3, dtype=torch.float64)
    example = (
        torch.zeros(3, dtype=torch.float64),
        torch.tensor(20),
        torch.tensor(0.1),
        g,
        g[0],
        g[0, 0],
    )
    heap = torch_engine.packaged_block(strategy, gradient, example, stack=False)
    stack = torch_engine.packaged_block(strategy, gradient, example, stack=True)
    assert not _returns_its_own_memory(heap, example)
    assert _returns_its_own_memory(stack, example)


@pytest.fixture
def empty_table(monkeypatch):
    """An empty in-process table with the package cache on: what this worker's group built
    for the same key loads from the cache, anything else is built here."""
    monkeypatch.setattr(torch_engine, "_PACKAGES", {})


@_grouped_with("per-sample")
def test_a_package_is_never_reused_for_other_strides(empty_table) -> None:
    """AOTI trusts its example's strides unchecked; a column-major design got wrong steps.
    The row-major package is the contract's (cached by its group); the column-major one must
    be another package, keyed by its strides, and fit as the reference does."""
    strategy, gradient = torch_engine.Strategy.PER_SAMPLE, torch_engine.Gradient.MANUAL
    rows = torch.randn(30, 4, dtype=torch.float64)
    columns = rows.T.contiguous().T  # the same values, column-major (as chebvander gives)
    b = torch.randn(30, dtype=torch.float64)
    w, n = torch.zeros(4, dtype=torch.float64), torch.tensor(20)
    lr = torch.tensor(0.01, dtype=torch.float64)
    reference = torch_engine.make_block(
        torch_engine.make_step(strategy, gradient, torch_engine.Mode.COMPILED), 20
    )(w, n, lr, rows, rows.T.contiguous(), b)
    for a in (rows, columns):
        example = (w, n, lr, a, rows.T.contiguous(), b)
        block = torch_engine.packaged_block(strategy, gradient, example)
        torch.testing.assert_close(block(*example)[1], reference[1])
    assert len(torch_engine._PACKAGES) == 2


def test_a_chebyshev_design_fits_as_eager_does() -> None:
    x = np.linspace(-1, 2, 30)
    kwargs = dict(degree=3, steps=45, engine="torch", basis="chebyshev", dtype="float64")
    eager = fit(x, np.cos(2 * x), lr=0.4, mode="eager", **kwargs)
    compiled = fit(x, np.cos(2 * x), lr=0.4, mode="compiled", **kwargs)
    np.testing.assert_allclose(compiled.trace, eager.trace, rtol=1e-12)
