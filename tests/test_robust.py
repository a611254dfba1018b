"""Robust fits (gradpoly.robust, gradpoly.robust_fit): statsmodels RLM's norms, scale, stopping
rule and H1 covariance, on its own test data and on polynomial fits one curve or many."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradpoly
from gradpoly import robust
from gradpoly.batched.base import Reweighting
from gradpoly.batched.numba_batch import NUMBA, NumbaBatch
from gradpoly.errors import InvalidOptionError

sm = pytest.importorskip("statsmodels.api")
norms = pytest.importorskip("statsmodels.robust.norms")
scale = pytest.importorskip("statsmodels.robust.scale")

PAIRS = [("huber", "HuberT"), ("bisquare", "TukeyBiweight")]
needs_numba = pytest.mark.skipif(not NUMBA.availability().ok, reason="numba is not installed")


@pytest.mark.parametrize(("name", "theirs"), PAIRS)
@pytest.mark.parametrize("tuning", [None, 2.0])
def test_norms_are_statsmodels(name: str, theirs: str, tuning: float | None) -> None:
    ours = robust.norm(name, tuning)
    reference = getattr(norms, theirs)() if tuning is None else getattr(norms, theirs)(tuning)
    z = np.linspace(-9.0, 9.0, 181) + 0.013
    for method in ("rho", "psi", "psi_deriv", "weights"):
        np.testing.assert_allclose(getattr(ours, method)(z), getattr(reference, method)(z),
                                   rtol=1e-14, atol=1e-15)  # fmt: skip


def test_mad_is_statsmodels() -> None:
    rng = np.random.default_rng(1)
    r = rng.standard_normal((3, 41))
    used = np.ones_like(r, dtype=bool)
    expected = [scale.mad(row, center=0) for row in r]
    np.testing.assert_allclose(robust.mad(r, used), expected, rtol=1e-15)
    used[1, :10] = False
    assert robust.mad(r, used)[1] == pytest.approx(scale.mad(r[1, 10:], center=0), rel=1e-15)


@pytest.mark.parametrize(("name", "theirs"), PAIRS)
def test_h1_covariance_on_statsmodels_own_data(name: str, theirs: str) -> None:
    data = sm.datasets.stackloss.load()
    exog = sm.add_constant(np.asarray(data.exog, dtype=float))
    fit = sm.RLM(np.asarray(data.endog, dtype=float), exog, M=getattr(norms, theirs)()).fit()
    z = (fit.resid / fit.scale)[None, :]
    used = np.ones_like(z, dtype=bool)
    factor = robust.covariance_factor(z, used, np.array([fit.scale]), exog.shape[1],
                                      robust.norm(name))  # fmt: skip
    top = np.abs(fit.bcov_scaled).max()  # an entry near 0 cancels: judged against the largest
    np.testing.assert_allclose(factor[0] * np.linalg.pinv(exog.T @ exog), fit.bcov_scaled,
                               rtol=1e-10, atol=1e-12 * top)  # fmt: skip


def polynomial_data(seed: int, count: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 5.0, (count, 50)), axis=1)
    y = 1.0 + 0.5 * x - 0.2 * x**2 + 0.1 * rng.standard_normal((count, 50))
    hit = rng.random((count, 50)) < 0.08
    y[hit] += rng.choice([-1.0, 1.0], hit.sum()) * rng.uniform(1.0, 5.0, hit.sum())
    return x, y


ENGINES = ["numpy", pytest.param("numba", marks=needs_numba)]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("name", "theirs"), PAIRS)
def test_every_series_is_statsmodels_rlm(name: str, theirs: str, engine: str) -> None:
    x, y = polynomial_data(2)
    y[3, 7:12] = np.nan
    found = gradpoly.robust_fit(x, y, 2, norm=name, drop_nan=True, engine=engine)
    for b in range(x.shape[0]):
        ok = np.isfinite(y[b])
        reference = sm.RLM(y[b, ok], np.vander(x[b, ok], 3, increasing=True),
                           M=getattr(norms, theirs)()).fit()  # fmt: skip
        np.testing.assert_allclose(found.coef[b], reference.params, rtol=1e-8)
        np.testing.assert_allclose(found.stderr[b], reference.bse, rtol=1e-8)
        assert found.scale[b] == pytest.approx(reference.scale, rel=1e-8)
        assert found.iterations[b] == reference.fit_history["iteration"]
        assert found.converged[b]


def test_one_curve_and_a_shared_axis() -> None:
    _, y = polynomial_data(3, 4)
    axis = np.linspace(0.0, 5.0, 50)
    shared = gradpoly.robust_fit(axis, y, 2)
    for b in range(4):
        one = gradpoly.robust_fit(axis, y[b], 2)
        np.testing.assert_allclose(one.coef, shared.coef[b], rtol=1e-10)
        np.testing.assert_allclose(one.stderr, shared.stderr[b], rtol=1e-10)
    assert one.predict(np.array([1.0, 2.0])).shape == (2,)


def test_outliers_lose_their_influence() -> None:
    rng = np.random.default_rng(4)
    x = np.linspace(0.0, 5.0, 200)
    clean = 1.0 + 0.5 * x - 0.2 * x**2 + 0.1 * rng.standard_normal((50, 200))
    dirty = clean.copy()
    hit = rng.random(dirty.shape) < 0.05
    dirty[hit] += 5.0
    reference = gradpoly.lstsq_many(x, clean, 2)
    errors = np.asarray(reference.stats.stderr)
    for name in ("huber", "bisquare", "clip"):
        found = gradpoly.robust_fit(x, dirty, 2, norm=name)
        assert (np.abs(found.coef - reference.coef) <= 3 * errors).all(), name
    plain = gradpoly.lstsq_many(x, dirty, 2)
    assert (np.abs(plain.coef[:, 0] - reference.coef[:, 0]) > 3 * errors[:, 0]).any()


def test_clipping_is_least_squares_on_the_kept_points() -> None:
    x, y = polynomial_data(5, 1)
    found = gradpoly.robust_fit(x[0], y[0], 2, norm="clip")
    kept = found.weights > 0
    assert 0 < (~kept).sum() < 10
    ols = sm.OLS(y[0, kept], np.vander(x[0, kept], 3, increasing=True)).fit()
    np.testing.assert_allclose(found.coef, ols.params, rtol=1e-10)
    np.testing.assert_allclose(found.stderr, ols.bse, rtol=1e-8)


@needs_numba
@pytest.mark.parametrize("name", ["huber", "bisquare", "clip"])
def test_the_fused_loop_is_the_batched_loop(name: str) -> None:
    """numba's one compiled IRLS loop per series runs the batched loop's rules: the same
    weights, iterations and fits, gaps and padding included. RLM's stop (the deviance moving
    by at most tol, absolute) sits near rounding once the deviance is large, so a series may
    stop one fit earlier or later on either path: by then its fit has settled to ~1e-9."""
    x, y = polynomial_data(6, 40)
    y[5, 3:9] = np.nan
    fused = gradpoly.robust_fit(x, y, 3, norm=name, drop_nan=True, engine="numba")
    loop = gradpoly.robust_fit(x, y, 3, norm=name, drop_nan=True, engine="numpy")
    assert np.abs(fused.iterations - loop.iterations).max() <= 1
    assert np.mean(fused.iterations == loop.iterations) >= 0.9
    np.testing.assert_array_equal(fused.converged, loop.converged)
    np.testing.assert_allclose(fused.weights, loop.weights, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fused.coef, loop.coef, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fused.stderr, loop.stderr, rtol=1e-7)


@needs_numba
@pytest.mark.parametrize("name", ["huber", "bisquare", "clip"])
def test_the_fused_loop_starts_as_the_batched_loop_on_degenerate_series(name: str) -> None:
    """The fused loop's own start (scale and deviance of the least-squares fit) on series
    that fit exactly (a variance of 0: the kernel divides as NumPy does, no exception), that
    hold one value, or that have two outliers: the batched loop's. (One outlier on an exact
    line is left out: Huber's scale then halves each fit towards 0, and where it stops is
    rounding.)"""
    x = np.arange(10.0)
    y = np.vstack([np.zeros(10), 2 * x + 1, np.full(10, 3.0),
                   np.r_[np.zeros(8), 5.0, 7.0]])  # fmt: skip
    fused = gradpoly.robust_fit(x, y, 1, norm=name, engine="numba")
    loop = gradpoly.robust_fit(x, y, 1, norm=name, engine="numpy")
    np.testing.assert_array_equal(fused.converged, loop.converged)
    np.testing.assert_array_equal(fused.iterations, loop.iterations)
    np.testing.assert_allclose(fused.coef, loop.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fused.stderr, loop.stderr, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fused.scale, loop.scale, rtol=1e-9, atol=1e-12)


@needs_numba
def test_the_fused_loop_leaves_what_it_cannot_solve() -> None:
    """A series whose weighted system is not clearly positive definite (here: one x) is left
    untouched and active, for the batched loop and its one conditioning verdict."""
    rng = np.random.default_rng(7)
    x = np.vstack([np.full(30, 2.0), np.linspace(0.0, 1.0, 30)])
    y = rng.standard_normal((2, 30))
    residuals = y - y.mean(axis=1, keepdims=True)
    state = Reweighting(x, y, np.ones((2, 30), dtype=bool), residuals.copy(), np.ones((2, 30)),
                        np.ones(2), np.full(2, 1e9), np.ones(2, dtype=np.int64),
                        np.zeros(2, dtype=bool), np.ones(2, dtype=bool),
                        np.full((2, 3), np.nan))  # fmt: skip
    NumbaBatch().reweight(state, 2, "huber", robust.TUNING["huber"], 1e-8, 50)
    assert state.active.tolist() == [True, False]
    np.testing.assert_array_equal(state.residuals[0], residuals[0])
    assert state.iterations.tolist()[0] == 1
    assert state.iterations[1] > 1
    assert state.converged[1]


@needs_numba
def test_one_compiled_irls_serves_every_layout() -> None:
    """The fused loop costs one cold compile (~8 s on 2 cores), not one per argument layout:
    one series, a shared axis broadcast to many, read-only y and per-series x all reach the
    kernel as C-contiguous writable float64 (the shared axis as its one row)."""
    from gradpoly.batched import _numba_kernels

    x = np.linspace(0.0, 5.0, 40)
    y = 1.0 + 0.5 * x
    y[[5, 17]] += [4.0, -3.0]
    frozen = np.tile(y, (3, 1))
    frozen.setflags(write=False)
    shared = gradpoly.robust_fit(x, np.tile(y, (3, 1)), 1, engine="numba")
    for xs, ys in ((x, y), (x, frozen), (np.tile(x, (3, 1)), np.tile(y, (3, 1)))):
        fit = gradpoly.robust_fit(xs, ys, 1, engine="numba")
        np.testing.assert_array_equal(np.atleast_2d(fit.coef)[0], shared.coef[0])
    assert len(_numba_kernels.irls.signatures) == 1


def test_bad_options_are_named() -> None:
    x = np.linspace(0.0, 1.0, 20)
    with pytest.raises(InvalidOptionError, match="norm must be one of"):
        gradpoly.robust_fit(x, x, 1, norm="cauchy")
    with pytest.raises(InvalidOptionError, match="tuning"):
        gradpoly.robust_fit(x, x, 1, tuning=0)
    with pytest.raises(InvalidOptionError, match="max_iter"):
        gradpoly.robust_fit(x, x, 1, max_iter=0)


@pytest.mark.parametrize("norm", ["huber", "bisquare", "clip"])
def test_a_series_with_as_many_points_as_coefficients_keeps_its_interpolant(norm) -> None:
    """n = D + 1: nothing to reweight; the coefficients are the interpolant (lstsq_many's), the
    statistics NaN with the no-degrees-of-freedom warning, not NaN coefficients "beyond
    float64"; a series beside it is fitted as before."""
    x = np.array([0.0, 1.0, 2.0])
    y = np.array([[1.0, 2.0, 5.0], [0.5, -1.0, 2.0]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = gradpoly.robust_fit(x, y, 2, norm=norm)
    messages = [str(w.message) for w in caught]
    assert not any("beyond float64" in m for m in messages)
    assert any("no residual degrees of freedom" in m for m in messages)
    np.testing.assert_allclose(result.coef, gradpoly.lstsq_many(x, y, 2).coef, rtol=1e-12,
                               atol=1e-12)  # fmt: skip
    assert np.isnan(result.stderr).all()
    assert result.converged.all()
    rng = np.random.default_rng(5)
    wide = np.linspace(0, 1, 30)
    both = gradpoly.robust_fit([x, wide], [y[0], np.sin(wide) + 0.01 * rng.standard_normal(30)],
                               2, norm=norm)  # fmt: skip
    alone = gradpoly.robust_fit(wide, np.sin(wide) + 0.0, 2, norm=norm)
    assert np.isfinite(both.coef).all()
    assert np.isfinite(both.stderr[1]).all()
    assert np.isfinite(alone.coef).all()
