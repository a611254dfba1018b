"""Series on one shared axis: matrix products give what per-series lstsq gives, gaps too."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradpoly import fit_many, lstsq, lstsq_many
from gradpoly.errors import InvalidDataError, InvalidOptionError
from tests.batched.test_backends import BACKENDS


def grid(count: int = 40, points: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.linspace(-2.0, 9.0, points)
    amplitude = rng.uniform(0.5, 2.0, (count, 1))
    return x, amplitude * np.sin(x / 3) + 0.05 * rng.standard_normal((count, points))


def per_series(x: np.ndarray, y: np.ndarray, degree: int, weights=None) -> np.ndarray:
    """Each row's own lstsq on its finite points (the reference)."""
    out = []
    for b, row in enumerate(y):
        used = np.isfinite(row)
        w = None if weights is None else np.broadcast_to(weights, y.shape)[b][used]
        out.append(lstsq(x[used], row[used], degree, weights=w))
    return np.array(out)


def close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-9) -> bool:
    return bool(np.all(np.abs(a - b) <= rtol * np.abs(b).max(axis=1, keepdims=True)))


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
@pytest.mark.parametrize("basis", ["chebyshev", "legendre", "monomial"])
def test_a_shared_axis_equals_per_series_lstsq(engine: str, device: str, basis: str) -> None:
    x, y = grid()
    result = lstsq_many(x, y, 3, basis=basis, engine=engine, device=device)
    assert result.valid.all()
    assert close(result.coef, per_series(x, y, 3))
    stats = result.stats
    single = lstsq(x, y[5], 3, full=True).stats
    np.testing.assert_allclose(stats.stderr[5], single.stderr, rtol=1e-8)
    assert stats.residual_std[5] == pytest.approx(single.residual_std, rel=1e-8)


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
def test_gaps_are_fitted_in_the_same_products(engine: str, device: str) -> None:
    x, y = grid(seed=1)
    rng = np.random.default_rng(1)
    gappy = np.where(rng.random(y.shape) < 0.15, np.nan, y)
    gappy[3] = y[3]  # some series clean, some not
    result = lstsq_many(x, gappy, 2, drop_nan=True, engine=engine, device=device)
    assert result.valid.all()
    assert close(result.coef, per_series(x, gappy, 2))
    descent = fit_many(x, gappy, 2, drop_nan=True, tol=1e-13, steps=20_000, engine=engine,
                       device=device)  # fmt: skip
    assert descent.converged.all()
    assert close(descent.coef, result.coef, 1e-8)


@pytest.mark.parametrize("where", ["first", "last", "middle", "everywhere", "whole", "none"])
def test_time_first_grids_with_gaps_anywhere_equal_per_series_lstsq(where: str) -> None:
    """y stored point-major (an xarray time-first grid: ``Y.T`` of an (N, B) array) takes the
    numba column kernel, which sums a block at once with gaps where its first or last point
    shows one, else first as if clean: every placement of the gaps gives lstsq's fits."""
    x, y = grid(count=2500, points=50, seed=7)
    rng = np.random.default_rng(7)
    gappy = y.copy()
    hit = rng.random(y.shape) < 0.1
    if where == "first":
        gappy[hit[:, 0], 0] = np.nan
    elif where == "last":
        gappy[hit[:, -1], -1] = np.nan
    elif where == "middle":
        gappy[hit[:, 25], 25] = np.nan
    elif where == "everywhere":
        gappy[hit] = np.nan
    elif where == "whole":
        gappy[::97] = np.nan  # series with no point at all, as a land mask's ocean
        gappy[1::97, ::3] = np.nan
    point_major = np.ascontiguousarray(gappy.T).T  # (B, N) view of (N, B) memory
    assert not point_major.flags.c_contiguous
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the empty series are reported unfitted
        found = lstsq_many(x, point_major, 3, drop_nan=True, engine="numba")
        rows = lstsq_many(x, np.ascontiguousarray(gappy), 3, drop_nan=True, engine="numba")
    fitted = np.isfinite(gappy).sum(axis=1) > 3
    assert (found.valid == fitted).all()
    np.testing.assert_array_equal(found.stats.n, rows.stats.n)
    assert close(found.coef[fitted], rows.coef[fitted], 1e-12)
    sample = np.flatnonzero(fitted)[::250]
    assert close(found.coef[sample], per_series(x, gappy[sample], 3))


@pytest.mark.parametrize("points", [4, 5, 6, 7, 8, 9, 13])
def test_time_first_clean_grids_sum_every_point_whatever_the_count(points: int) -> None:
    """The column kernel's clean pass sweeps four points at a time and the rest one by one:
    every count (a multiple of four or not) gives each series lstsq's fit, weighted too."""
    rng = np.random.default_rng(points)
    x = np.sort(rng.uniform(-2.0, 5.0, points))
    y = rng.normal(size=(1500, points)) + np.cos(x)
    weights = rng.uniform(0.2, 3.0, points)
    point_major = np.ascontiguousarray(y.T).T
    degree = min(3, points - 1)
    for w in (None, weights):
        found = lstsq_many(x, point_major, degree, weights=w, engine="numba")
        rows = lstsq_many(x, np.ascontiguousarray(y), degree, weights=w, engine="numba")
        assert close(found.coef, rows.coef, 1e-12)
        np.testing.assert_allclose(found.final_loss, rows.final_loss, rtol=1e-9, atol=1e-12)
        sample = np.arange(0, 1500, 300)
        assert close(found.coef[sample], per_series(x, y[sample], degree, w))


def test_a_broadcast_x_is_taken_as_one_axis() -> None:
    x, y = grid()
    shared = lstsq_many(x, y, 3)
    broadcast = lstsq_many(np.broadcast_to(x, y.shape), y, 3)
    repeated = lstsq_many(np.tile(x, (y.shape[0], 1)), y, 3)
    np.testing.assert_array_equal(shared.coef, broadcast.coef)
    np.testing.assert_array_equal(shared.coef, repeated.coef)


def test_masks_and_weights() -> None:
    x, y = grid(count=12)
    rng = np.random.default_rng(4)
    hidden = rng.random(y.shape) < 0.2
    masked = lstsq_many(x, np.where(hidden, 1e6, y), 3, mask=hidden)  # hidden values ignored
    assert close(masked.coef, per_series(x, np.where(hidden, np.nan, y), 3))
    column = np.zeros(x.size, dtype=bool)
    column[::7] = True
    dropped = lstsq_many(x, y, 3, mask=column)
    assert close(dropped.coef, per_series(x[~column], y[:, ~column], 3))
    w = rng.uniform(0.5, 2.0, x.size)
    assert close(lstsq_many(x, y, 3, weights=w).coef, per_series(x, y, 3, w))
    each = rng.uniform(0.5, 2.0, y.shape)
    assert close(lstsq_many(x, y, 3, weights=each).coef, per_series(x, y, 3, each))
    stats = lstsq_many(x, y, 3, weights=w).stats
    single = lstsq(x, y[2], 3, weights=w, full=True).stats
    np.testing.assert_allclose(stats.stderr[2], single.stderr, rtol=1e-8)


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
def test_weights_per_series_with_gaps_on_every_backend(engine: str, device: str) -> None:
    """Weights per series (some zero) with NaN and inf gaps: each backend's own path (numba's
    fused rows, the others' matrix products) gives each row's weighted lstsq on its points."""
    x, y = grid(count=16, seed=5)
    rng = np.random.default_rng(5)
    each = rng.uniform(0.5, 2.0, y.shape)
    each[rng.random(y.shape) < 0.1] = 0.0
    gappy = y.copy()
    gappy[3, 4], gappy[6, 10:13], gappy[9, 0] = np.nan, np.nan, np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = lstsq_many(x, gappy, 3, weights=each, drop_nan=True, engine=engine, device=device)
    kept = np.where(np.isfinite(gappy), each, 0.0)
    reference = []
    for b in range(y.shape[0]):
        ok = kept[b] > 0
        reference.append(lstsq(x[ok], gappy[b, ok], 3, weights=kept[b, ok]))
    assert found.valid.all()
    assert close(found.coef, np.array(reference))
    np.testing.assert_array_equal(found.stats.n, (kept > 0).sum(axis=1))


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
def test_a_series_with_no_point_counts_none_on_every_backend(engine: str, device: str) -> None:
    """A series whose every point is a gap or of weight 0 is not fitted and has n = 0, the
    same on every backend and path (numpy's products once said 1, the count they divide by)."""
    x = np.arange(6.0)
    y = np.vstack([np.full(6, np.nan), 1.0 + x, np.r_[np.nan, 2.0, 3.0, 4.0, 5.0, 6.0]])
    each = np.ones_like(y)
    each[2, 1:] = 0.0  # series 2: its finite points weigh 0, its one weighted point is NaN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for weights in (None, each):
            found = lstsq_many(x, y, 1, weights=weights, drop_nan=True, engine=engine,
                               device=device)  # fmt: skip
            expected_n = [0, 6, 5] if weights is None else [0, 6, 0]
            assert found.valid.tolist() == [False, True, weights is None]
            np.testing.assert_array_equal(found.stats.n, expected_n)


def test_refusals_name_the_problem() -> None:
    x, y = grid(count=5)
    gappy = y.copy()
    gappy[2, 7] = np.nan
    with pytest.raises(InvalidDataError, match=r"series \[2\].*points \[7\].*drop_nan"):
        lstsq_many(x, gappy, 3)
    masked = np.zeros(y.shape, dtype=bool)
    masked[2, 7] = True
    assert lstsq_many(x, gappy, 3, mask=masked).valid.all()  # a masked NaN is a known gap
    with pytest.raises(InvalidDataError, match="y must be"):
        lstsq_many(x[:-1], y, 3)
    with pytest.raises(InvalidDataError, match="mask must be boolean"):
        lstsq_many(x, y, 3, mask=np.zeros(y.shape))
    with pytest.raises(InvalidOptionError, match="shared axis"):
        lstsq_many(np.tile(x, (5, 1)) + np.arange(5)[:, None], y, 3, mask=masked)
    bad_x = x.copy()
    bad_x[0] = np.nan
    with pytest.raises(InvalidDataError, match="x has NaN"):
        lstsq_many(bad_x, y, 3)
    assert close(lstsq_many(bad_x, y, 3, drop_nan=True).coef, per_series(x[1:], y[:, 1:], 3))


def test_a_series_left_with_too_few_points_is_flagged() -> None:
    x, y = grid(count=4)
    gappy = y.copy()
    gappy[1, 3:] = np.nan  # three points left for degree 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = lstsq_many(x, gappy, 3, drop_nan=True)
    assert result.valid.tolist() == [True, False, True, True]
    assert "distinct x values" in result.problems[1]
    assert np.isnan(result.coef[1]).all()


def test_an_ill_conditioned_axis_falls_back_to_one_svd() -> None:
    x = np.linspace(0.0, 10.0, 50)
    y = np.cos(x)[None, :] * np.array([[1.0], [2.0]])
    result = lstsq_many(x, y, 5, basis="monomial")
    assert result.valid.all()
    assert result.condition[0] > 1e3  # cond(G) > 1e6: solved from the points, not G
    assert close(result.coef, per_series(x, y, 5), 1e-8)
    hopeless = lstsq_many(1000.0 + x / 10.0, y, 4, basis="monomial")
    assert not hopeless.valid.any()
    assert "rank deficient" in hopeless.problems[0]
    assert "chebyshev" in hopeless.problems[0]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    rate=st.floats(0.0, 0.4),
    degree=st.integers(0, 4),
)
def test_a_series_does_not_see_the_gaps_of_others(seed: int, rate: float, degree: int) -> None:
    """Gaps are per series: a row's fit is the same alone or in a batch with other gaps."""
    x, y = grid(count=6, points=30, seed=seed)
    rng = np.random.default_rng(seed)
    gappy = np.where(rng.random(y.shape) < rate, np.nan, y)
    gappy[:, : degree + 1] = y[:, : degree + 1]  # enough points everywhere
    together = lstsq_many(x, gappy, degree, drop_nan=True)
    for b in (0, 3):
        alone = lstsq_many(x, gappy[b : b + 1], degree, drop_nan=True)
        np.testing.assert_allclose(together.coef[b], alone.coef[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("engine", "device"), BACKENDS)
def test_float32_data_is_read_as_it_is_and_summed_in_float64(engine: str, device: str) -> None:
    """dtype='float32': no float64 copy of the data, and the fit of those float32 values."""
    x, y = grid(count=30, seed=5)
    y32 = y.astype(np.float32)
    y32[3, 4] = np.nan
    exact = lstsq_many(x, y32.astype(np.float64), 3, drop_nan=True, engine=engine, device=device)
    fast = lstsq_many(x, y32, 3, drop_nan=True, engine=engine, device=device, storage="float32")
    np.testing.assert_allclose(fast.coef, exact.coef, rtol=1e-12, atol=1e-15)
    rng = np.random.default_rng(0)
    xs = np.sort(rng.uniform(0, 5, (20, 40)), axis=1).astype(np.float32)
    ys = np.cos(xs).astype(np.float32)
    per = lstsq_many(xs, ys, 2, engine=engine, device=device, storage="float32")
    ref = lstsq_many(xs.astype(float), ys.astype(float), 2, engine=engine, device=device)
    np.testing.assert_allclose(per.coef, ref.coef, rtol=1e-12, atol=1e-15)
    gd = fit_many(xs, ys, 2, tol=1e-12, steps=20_000, engine=engine, device=device,
                  storage="float32")  # fmt: skip
    np.testing.assert_allclose(gd.coef, ref.coef, rtol=1e-8, atol=1e-12)


def test_float32_keeps_the_input_and_refuses_what_float32_cannot_hold() -> None:
    from gradpoly.many.inputs import as_batch, shared_input

    x, y = grid(count=4)
    y32 = y.astype(np.float32)
    assert np.shares_memory(shared_input(x, y32, None, None, False, np.float32).y, y32)
    xs = np.tile(x, (4, 1)).astype(np.float32) + np.arange(4, dtype=np.float32)[:, None]
    assert np.shares_memory(as_batch(xs, y32, None, False, np.float32).y, y32)
    with pytest.raises(InvalidDataError, match=r"beyond float32's range.*dtype='float64'"):
        lstsq_many(x, y * 1e300, 3, storage="float32")
    with pytest.raises(InvalidOptionError, match="dtype"):
        lstsq_many(x, y, 3, storage="float16")


def test_shapes_and_empty_axes_are_named() -> None:
    x, y = grid(count=3)
    with pytest.raises(InvalidDataError, match=r"y must be \(B, 60\), got shape \(3, 60, 1\)"):
        lstsq_many(x, y[:, :, None], 2)
    with pytest.raises(InvalidDataError, match="no point of the axis has positive weight"):
        lstsq_many(x, y, 2, mask=np.ones(x.size, dtype=bool))


@pytest.mark.parametrize("factor", [1e152, 1e-152])
def test_y_far_from_one_on_an_ill_conditioned_axis(factor: float) -> None:
    """The SVD fallbacks solve the scaled y too (y's power of two applied once)."""
    x = np.array([-1.0, 1.000001, 1.000002, 1.5])
    y = np.array([[0.3, -0.2, 0.5, 0.1], [0.1, 0.4, -0.3, 0.2]]) * factor
    gappy = y.copy()
    gappy[1, 0] = np.nan
    for data, drop in ((y, False), (gappy, True)):
        result = lstsq_many(x, data, 2, drop_nan=drop)
        assert close(result.coef[result.valid], per_series(x, data, 2)[result.valid], 1e-6)
