"""One contract for every batched backend: the same numbers as per-series fit/lstsq."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradpoly import EngineUnavailableError, fit, fit_many, lstsq, lstsq_many
from gradpoly.batched import backend_names, get_backend
from gradpoly.errors import DivergenceError, InvalidOptionError
from gradpoly.options import Device


def _cases() -> list[object]:
    cases = []
    for name in backend_names():
        for device in get_backend(name).devices:
            available = get_backend(name).availability(device)
            marks = [] if available.ok else [pytest.mark.skip(reason=available.reason)]
            cases.append(pytest.param(name, str(device), id=f"{name}-{device}", marks=marks))
    return cases


BACKENDS = _cases()


def series(count: int, points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3, 7, (count, points)), axis=1)
    return x, np.cos(x) + 0.1 * rng.standard_normal(x.shape)


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b).max(axis=1, keepdims=True)))


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
@pytest.mark.parametrize("basis", ["chebyshev", "legendre", "monomial"])
def test_lstsq_many_equals_per_series_lstsq(engine, device, basis) -> None:
    x, y = series(300, 40)  # more than one chunk of series on every backend
    expected = np.array([lstsq(a, b, 4) for a, b in zip(x, y, strict=True)])
    result = lstsq_many(x, y, 4, basis=basis, engine=engine, device=device)
    assert result.engine == engine
    assert relative(result.coef, expected) < (1e-9 if basis != "monomial" else 1e-5)


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
@pytest.mark.parametrize("optimizer", ["gd", "momentum", "nesterov"])
def test_fit_many_follows_fit_step_for_step(engine, device, optimizer) -> None:
    x, y = series(4, 50, seed=2)
    many = fit_many(
        x, y, 3, steps=40, optimizer=optimizer, traces=True, engine=engine, device=device
    )
    for b in range(4):
        one = fit(
            x[b],
            y[b],
            3,
            steps=40,
            lr="auto",
            basis="chebyshev",
            strategy="gram",
            optimizer=optimizer,
            dtype="float64",
        )
        np.testing.assert_allclose(many.traces[b], one.trace, rtol=1e-10)
        np.testing.assert_allclose(many.coef[b], one.coef, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
def test_tol_stops_each_series_where_numpy_does(engine, device) -> None:
    x, y = series(60, 80, seed=1)
    y[::7] *= 50  # series of very different scale need different numbers of steps
    expected = fit_many(x, y, 4, steps=20_000, tol=1e-10)
    result = fit_many(x, y, 4, steps=20_000, tol=1e-10, engine=engine, device=device)
    assert result.converged.all()
    np.testing.assert_array_equal(result.steps_run, expected.steps_run)
    # Compared in the basis the descent runs in: the monomial conversion on [-3, 7]
    # amplifies the last-bit differences of differently ordered sums (numba's SIMD lanes).
    assert relative(result.basis_coef, expected.basis_coef) < 1e-10
    lsq = np.array([lstsq(a, b, 4) for a, b in zip(x, y, strict=True)])
    assert relative(result.coef, lsq) < 1e-7


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
def test_weights_ragged_and_short_series(engine, device) -> None:
    rng = np.random.default_rng(3)
    xs = [np.sort(rng.uniform(0, 4, n)) for n in (12, 3, 30, 7)]
    ys = [np.exp(-a) for a in xs]
    ws = [rng.uniform(0.5, 2.0, a.size) for a in xs]
    result = lstsq_many(xs, ys, 3, weights=ws, engine=engine, device=device)
    assert result.valid.tolist() == [True, False, True, True]
    assert "distinct x values with positive weight, got 3" in result.problems[1]
    for b in (0, 2, 3):
        expected = lstsq(xs[b], ys[b], 3, weights=ws[b])
        np.testing.assert_allclose(result.coef[b], expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
@pytest.mark.parametrize("loss", ["huber", "l1"])
def test_robust_losses_follow_fit_or_are_refused(engine, device, loss) -> None:
    x, y = series(3, 40, seed=4)
    y[:, ::9] += 3.0  # outliers
    options = {"steps": 30, "loss": loss, "huber_delta": 0.2}
    if not get_backend(engine).autograd:
        with pytest.raises(InvalidOptionError, match="needs autograd"):
            fit_many(x, y, 3, engine=engine, device=device, **options)
        return
    many = fit_many(x, y, 3, traces=True, engine=engine, device=device, **options)
    assert many.loss == loss
    for b in range(3):
        one = fit(
            x[b],
            y[b],
            3,
            lr="auto",
            basis="chebyshev",
            dtype="float64",
            engine="torch",
            gradient="autograd",
            **options,
        )
        np.testing.assert_allclose(many.traces[b], one.trace, rtol=1e-9)
        np.testing.assert_allclose(many.coef[b], one.coef, rtol=1e-8, atol=1e-10)
        assert many.final_loss[b] < one.trace[0]


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
def test_nan_is_named_or_dropped(engine, device) -> None:
    x, y = series(5, 30)
    y[3, 7] = np.nan
    with pytest.raises(ValueError, match=r"series \[3\]; in series 3, points \[7\]"):
        lstsq_many(x, y, 2, engine=engine, device=device)
    dropped = lstsq_many(x, y, 2, drop_nan=True, engine=engine, device=device)
    keep = np.isfinite(y[3])
    np.testing.assert_allclose(dropped.coef[3], lstsq(x[3][keep], y[3][keep], 2), rtol=1e-8)


def test_unstable_fixed_lr_is_refused_with_the_stable_one() -> None:
    x, y = series(10, 30)
    with pytest.raises(DivergenceError, match="lr=100 diverges on 10 of 10 series") as caught:
        fit_many(x, y, 3, lr=100.0)
    fine = fit_many(x, y, 3, lr=0.9 * caught.value.lr_max, steps=200)
    assert np.isfinite(fine.coef).all()


def test_callable_loss_and_unknown_engine_are_refused() -> None:
    x, y = series(2, 10)
    with pytest.raises(InvalidOptionError, match="named loss"):
        fit_many(x, y, 2, loss=lambda r: (r * r).mean())
    with pytest.raises(InvalidOptionError, match="unknown engine 'cupy'"):
        lstsq_many(x, y, 2, engine="cupy")


def test_cuda_without_a_gpu_says_why() -> None:
    available = get_backend("torch").availability(Device.CUDA)
    if available.ok:
        pytest.skip("a CUDA device is present")
    x, y = series(2, 10)
    with pytest.raises(EngineUnavailableError):
        lstsq_many(x, y, 2, engine="torch", device="cuda")


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
def test_a_stopped_series_stays_where_it_stopped(engine, device) -> None:
    x, y = series(8, 60, seed=5)
    y[::3] *= 20
    stopped = fit_many(x, y, 4, steps=5_000, tol=1e-8, engine=engine, device=device)
    for b in (0, 1):
        again = fit_many(
            x[b : b + 1],
            y[b : b + 1],
            4,
            steps=int(stopped.steps_run[b]),
            engine=engine,
            device=device,
        )
        np.testing.assert_allclose(stopped.basis_coef[b], again.basis_coef[0], rtol=1e-12)


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
def test_autograd_gives_the_written_gradient_or_is_refused(engine, device) -> None:
    x, y = series(6, 40, seed=6)
    if not get_backend(engine).autograd:
        with pytest.raises(InvalidOptionError, match="gradient autograd needs autograd"):
            fit_many(x, y, 3, gradient="autograd", engine=engine, device=device)
        return
    manual = fit_many(x, y, 3, steps=60, traces=True, engine=engine, device=device)
    auto = fit_many(
        x, y, 3, steps=60, traces=True, gradient="autograd", engine=engine, device=device
    )
    np.testing.assert_allclose(auto.traces, manual.traces, rtol=1e-12)
    np.testing.assert_allclose(auto.basis_coef, manual.basis_coef, rtol=1e-10, atol=1e-13)


@given(
    st.integers(2, 12),
    st.integers(1, 4),
    st.floats(-5, 5),
    st.floats(-5, 5),
    st.randoms(use_true_random=False),
)
@settings(max_examples=25, deadline=None)
def test_closed_form_is_affine_in_y_and_blind_to_point_order(count, degree, a, b, rnd) -> None:
    """lstsq_many(a y + b) = a coef + b e_0, and shuffling a series' points changes nothing."""
    rng = np.random.default_rng(rnd.randint(0, 2**31))
    x = rng.uniform(-2, 3, (count, 25))
    y = np.cos(x) + 0.1 * rng.standard_normal(x.shape)
    base = lstsq_many(x, y, degree).coef
    moved = lstsq_many(x, a * y + b, degree).coef
    expected = a * base
    expected[:, 0] += b
    np.testing.assert_allclose(moved, expected, rtol=1e-8, atol=1e-8 * (1 + abs(a) + abs(b)))
    order = rng.permuted(np.tile(np.arange(25), (count, 1)), axis=1)
    shuffled = lstsq_many(np.take_along_axis(x, order, 1), np.take_along_axis(y, order, 1), degree)
    np.testing.assert_allclose(shuffled.coef, base, rtol=1e-9, atol=1e-10)


@given(st.integers(1, 8), st.integers(0, 7))
@settings(max_examples=20, deadline=None)
def test_each_series_is_fitted_alone(count, pick) -> None:
    """A series' result does not depend on which other series share its batch."""
    x, y = series(count, 30, seed=count)
    b = pick % count
    together = fit_many(x, y, 3, steps=80)
    alone = fit_many(x[b : b + 1], y[b : b + 1], 3, steps=80)
    np.testing.assert_allclose(together.basis_coef[b], alone.basis_coef[0], rtol=1e-12)


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_stepping_only_the_running_series_changes_nothing(engine, device, loss, monkeypatch):
    """One slow series among fast ones: the descent drops the stopped series (numpy, torch)
    and every series' coefficients, steps and trace stay what they were."""
    import gradpoly.batched.base as base

    if loss != "mse" and not get_backend(engine).autograd:
        pytest.skip(f"{engine} has no autograd for {loss}")
    rng = np.random.default_rng(8)
    x = np.sort(rng.uniform(-1, 1, (12, 40)), axis=1)
    x[0] = np.concatenate([np.full(20, -1.0), np.full(20, 1.0)]) + 1e-3 * np.arange(40) / 40
    y = np.sin(3 * x)
    options = {"steps": 3000, "tol": 1e-9, "traces": True, "loss": loss, "engine": engine}
    options["device"] = device
    compact = fit_many(x, y, 5, **options)
    monkeypatch.setattr(base, "COMPACT_FRACTION", 0.0)
    plain = fit_many(x, y, 5, **options)
    np.testing.assert_array_equal(compact.steps_run, plain.steps_run)
    np.testing.assert_allclose(compact.coef, plain.coef, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(compact.traces, plain.traces, rtol=1e-12, atol=1e-14)


def test_read_only_data_reach_torch_without_its_warning() -> None:
    """A read-only y and a broadcast x: torch's as_tensor warned that it shares a
    non-writable array ("undefined behavior"); the tensors now come from writable copies,
    the same numbers."""
    pytest.importorskip("torch")
    x = np.linspace(0, 10, 60)
    y = np.sin(x)[None].repeat(3, 0)
    fresh = fit_many(x, y.copy(), 3, loss="huber", engine="torch")
    y.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        locked = fit_many(np.broadcast_to(x, y.shape), y, 3, loss="huber", engine="torch")
    np.testing.assert_array_equal(locked.coef, fresh.coef)
