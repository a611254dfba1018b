"""Batched fits: equal to per-series fit/lstsq, ragged input, invalid series, NaN handling."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradpoly
from gradpoly import InvalidDataError, InvalidOptionError, fit, fit_many, lstsq, lstsq_many


def series(count: int, points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3, 7, (count, points)), axis=1)
    y = np.cos(x) + 0.1 * rng.standard_normal(x.shape)
    return x, y


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b).max(axis=1, keepdims=True)))


@pytest.mark.parametrize("basis", ["chebyshev", "legendre", "monomial"])
def test_lstsq_many_equals_per_series_lstsq(basis) -> None:
    x, y = series(40, 60)
    expected = np.array([lstsq(a, b, 4) for a, b in zip(x, y, strict=True)])
    tol = 1e-9 if basis != "monomial" else 1e-5  # raw monomial normal equations lose digits
    assert relative(lstsq_many(x, y, 4, basis=basis).coef, expected) < tol


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "nesterov"])
def test_fit_many_converges_to_each_series_lstsq(optimizer) -> None:
    x, y = series(30, 80, seed=1)
    result = fit_many(x, y, 4, steps=20_000, tol=1e-12, optimizer=optimizer)
    expected = np.array([lstsq(a, b, 4) for a, b in zip(x, y, strict=True)])
    assert result.converged.all()
    assert relative(result.coef, expected) < 1e-8
    assert result.steps_run.max() < 20_000


def test_fit_many_follows_fit_step_for_step() -> None:
    x, y = series(5, 50, seed=2)
    many = fit_many(x, y, 3, steps=40, traces=True)
    for b in range(5):
        one = fit(
            x[b],
            y[b],
            degree=3,
            steps=40,
            lr="auto",
            basis="chebyshev",
            strategy="gram",
            dtype="float64",
        )
        np.testing.assert_allclose(many.traces[b], one.trace, rtol=1e-10)
        np.testing.assert_allclose(many.coef[b], one.coef, rtol=1e-9, atol=1e-12)


@given(st.integers(1, 6), st.integers(0, 3))
def test_ragged_series_equal_their_own_fits(count, degree) -> None:
    rng = np.random.default_rng(count)
    xs = [np.sort(rng.uniform(0, 5, n)) for n in rng.integers(degree + 2, 40, count)]
    ys = [np.sin(a) for a in xs]
    result = lstsq_many(xs, ys, degree)
    for b in range(count):
        np.testing.assert_allclose(
            result.coef[b], lstsq(xs[b], ys[b], degree), rtol=1e-7, atol=1e-8
        )


def test_too_short_series_are_reported_and_the_others_fitted() -> None:
    xs = [np.linspace(0, 1, 10), np.array([0.0, 1.0]), np.linspace(0, 2, 20)]
    ys = [np.exp(a) for a in xs]
    result = fit_many(xs, ys, 3, steps=100)
    assert result.valid.tolist() == [True, False, True]
    assert result.problems[1] == (
        "degree 3 needs at least 4 distinct x values with positive weight, got 2; "
        "use degree <= 1 or more points"
    )
    assert np.isnan(result.coef[1]).all()
    assert np.isfinite(result.coef[[0, 2]]).all()


def test_nan_rows_are_an_error_unless_dropped() -> None:
    x, y = series(4, 30, seed=3)
    y[2, 5] = np.nan
    with pytest.raises(InvalidDataError, match=r"series \[2\].*points \[5\].*drop_nan=True"):
        lstsq_many(x, y, 3)
    kept = np.delete(np.arange(30), 5)
    result = lstsq_many(x, y, 3, drop_nan=True)
    np.testing.assert_allclose(result.coef[2], lstsq(x[2, kept], y[2, kept], 3), rtol=1e-8)


def test_weights_match_weighted_lstsq() -> None:
    x, y = series(3, 40, seed=4)
    w = np.random.default_rng(4).uniform(0, 2, x.shape)
    result = lstsq_many(x, y, 2, weights=w)
    for b in range(3):
        np.testing.assert_allclose(result.coef[b], lstsq(x[b], y[b], 2, w[b]), rtol=1e-8)


def test_predict_evaluates_each_series() -> None:
    x, y = series(3, 40, seed=5)
    result = lstsq_many(x, y, 3)
    np.testing.assert_allclose(
        result.predict(x)[1], np.polynomial.polynomial.polyval(x[1], result.coef[1])
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": np.ones((2, 3)), "y": np.ones((2, 4))}, InvalidDataError, "same shape"),
        ({"x": [np.ones(3)], "y": [np.ones(4)]}, InvalidDataError, "series 0"),
        ({"x": np.ones((0, 3)), "y": np.ones((0, 3))}, InvalidDataError, r"\(B, N\)"),
        ({"weights": -np.ones((2, 5))}, InvalidDataError, "non-negative"),
        ({"degree": -1}, InvalidOptionError, "degree"),
        ({"basis": "fourier"}, InvalidOptionError, "unknown basis"),
    ],
)
def test_bad_batches_are_refused(kwargs, error, match) -> None:
    args = {"x": np.tile(np.linspace(0, 1, 5), (2, 1)), "y": np.ones((2, 5)), "degree": 1}
    with pytest.raises(error, match=match):
        lstsq_many(**(args | kwargs))


def test_fit_many_option_errors() -> None:
    x, y = series(2, 10)
    with pytest.raises(InvalidOptionError, match="tol must be a positive"):
        fit_many(x, y, 2, tol=0)
    with pytest.raises(InvalidOptionError, match="steps must be a positive integer"):
        fit_many(x, y, 2, steps=0)


def test_ill_conditioned_monomial_series_stay_valid() -> None:
    x = np.tile(np.linspace(0, 10, 50), (2, 1))
    result = lstsq_many(x, np.sin(x), 8, basis="monomial")
    assert result.valid.all()
    assert not result.problems


def test_progress_reports_every_block(monkeypatch) -> None:
    import gradpoly.many.prepare

    monkeypatch.setattr(gradpoly.many.prepare, "BLOCK_SERIES", 7)
    x, y = series(20, 12)
    calls: list[tuple[int, int]] = []
    blocked = lstsq_many(x, y, 2, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(7, 20), (14, 20), (20, 20)]
    np.testing.assert_allclose(blocked.coef, lstsq_many(x, y, 2).coef, rtol=1e-12)


def test_a_long_table_with_series_ids_is_grouped_in_order_of_appearance() -> None:
    rng = np.random.default_rng(9)
    ids = np.array(["b"] * 20 + ["a"] * 15 + ["b"] * 5 + ["c"] * 30)
    x = rng.uniform(0, 4, ids.size)
    y = np.sin(x) + 0.01 * rng.standard_normal(ids.size)
    result = lstsq_many(x, y, 2, series=ids)
    assert result.ids == ("b", "a", "c")
    for b, name in enumerate(result.ids):
        mask = ids == name
        np.testing.assert_allclose(result.coef[b], lstsq(x[mask], y[mask], 2), rtol=1e-9)
    assert [row["series"] for row in result.to_rows()] == ["b", "a", "c"]
    descent = fit_many(x, y, 2, steps=2_000, tol=1e-12, series=ids, weights=np.ones(ids.size))
    np.testing.assert_allclose(descent.coef, result.coef, rtol=1e-8)
    assert descent.ids == result.ids


def test_flat_columns_need_series_ids() -> None:
    x = np.linspace(0, 1, 10)
    with pytest.raises(InvalidDataError, match="x is 1-D: for a long table pass series=ids"):
        lstsq_many(x, x, 2)
    with pytest.raises(InvalidDataError, match="x is 1-D"):
        fit_many(list(x), list(x), 2)
    with pytest.raises(InvalidDataError, match="one series id per point: y has shape"):
        lstsq_many(x, x[:-1], 2, series=["s"] * 10)


def test_zero_weight_points_follow_one_rule_on_every_path() -> None:
    """The domain is the range of x over positive weights on fit, fit_many and dask alike."""
    from gradpoly import fit

    x = np.append(np.linspace(0, 3, 40), [1e6, -1e6])
    y = np.cos(x)
    w = np.append(np.ones(40), [0.0, 0.0])
    options = {"steps": 60, "lr": "auto", "basis": "chebyshev", "tol": None}
    one = fit(x, y, 3, weights=w, strategy="gram", dtype="float64", **options)
    many = fit_many([x], [y], 3, weights=[w], **options)
    assert one.domain == (0.0, 3.0)
    np.testing.assert_allclose(many.domains[0], one.domain)
    np.testing.assert_allclose(many.coef[0], one.coef, rtol=1e-10, atol=1e-12)
    pytest.importorskip("dask")
    out_of_core = fit(
        x, y, 3, weights=w, engine="dask", strategy="gram", dtype="float64", **options
    )
    np.testing.assert_allclose(out_of_core.coef, one.coef, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shared", [False, True])
def test_predict_evaluates_in_the_basis_far_from_zero(shared) -> None:
    """Raw monomial powers put ManyResult.predict 1.6 off on data spanning 2 (x near 1000)."""
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(1000, 1010, 40))
    y = np.sin(x) + 1
    many = gradpoly.lstsq_many(x if shared else x[None], y[None], 6)
    single = gradpoly.lstsq(x, y, 6, full=True)
    grid = np.linspace(1000, 1010, 7)
    np.testing.assert_allclose(many.predict(grid)[0], single.predict(grid), atol=1e-10)
    values, _lower, upper = many.predict(grid, interval="confidence")
    mine, _low, high = single.predict(grid, interval="confidence")
    np.testing.assert_allclose(values[0], mine, atol=1e-10)
    np.testing.assert_allclose(upper[0] - values[0], high - mine, rtol=1e-6)


def test_monomials_that_cannot_hold_a_series_are_named_once() -> None:
    """The same rule as lstsq's, per series: one warning naming how many and the first."""
    from gradpoly.errors import RepresentationWarning

    x = np.linspace(0, 5, 30)
    far = 1e15 + x  # float64 holds it in steps of 0.125
    with pytest.warns(RepresentationWarning, match=r"1 of 2 series \(series 1 first\)"):
        result = gradpoly.lstsq_many(np.stack([far - 1e15, far]), np.stack([np.sin(x)] * 2), 2)
    np.testing.assert_allclose(result.predict(far)[1], result.predict(far - 1e15)[0], atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RepresentationWarning)
        gradpoly.lstsq_many(np.stack([x, x + 3]), np.stack([np.sin(x)] * 2), 4)


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])
def test_a_given_momentum_is_fits_on_every_series(optimizer) -> None:
    """fit_many had no momentum (beta fixed at 0.9): it takes fit's, with fit's meaning."""
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(0, 5, (3, 40)), axis=1)
    y = np.sin(x)
    options = dict(optimizer=optimizer, momentum=0.5, lr=0.05, steps=120, tol=None)
    many = gradpoly.fit_many(x, y, 3, traces=True, engine="numpy", **options)
    for b in range(3):
        one = gradpoly.fit(x[b], y[b], 3, engine="numpy", strategy="gram", **options)
        assert one.momentum == 0.5
        np.testing.assert_allclose(many.traces[b], one.trace, rtol=1e-9)


def _saved_batch():
    rng = np.random.default_rng(5)
    x = np.linspace(0, 1, 30)
    y = np.sin(x) + 0.01 * rng.standard_normal((4, 30))
    y[2, :27] = np.nan  # too few points: not fitted, with its reason
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gradpoly.lstsq_many(x, y, 3, drop_nan=True)


@pytest.mark.parametrize("method", ["lstsq", "gd"])
def test_a_batch_survives_a_json_round_trip_exactly(tmp_path, method) -> None:
    """ManyResult had no JSON round trip (FitResult had): save, load, same numbers."""
    rng = np.random.default_rng(4)
    x = np.linspace(0, 1, 30)
    y = np.sin(x) + 0.01 * rng.standard_normal((3, 30))
    fitted = (
        gradpoly.lstsq_many(x, y, 3)
        if method == "lstsq"
        else gradpoly.fit_many(x, y, 3, traces=True)
    )
    path = fitted.save(tmp_path / "batch.json")
    back = gradpoly.ManyResult.load(path)
    for name in ("coef", "basis_coef", "domains", "final_loss", "valid", "converged", "steps_run"):
        np.testing.assert_array_equal(getattr(back, name), getattr(fitted, name), err_msg=name)
    np.testing.assert_array_equal(back.stats.stderr, fitted.stats.stderr)
    np.testing.assert_array_equal(back.predict([0.25, 0.5]), fitted.predict([0.25, 0.5]))
    assert back.method == fitted.method
    assert back.basis is fitted.basis


def test_a_batch_with_unfitted_series_round_trips_with_its_reasons() -> None:
    fitted = _saved_batch()
    back = gradpoly.ManyResult.from_json(fitted.to_json())
    assert back.problems == fitted.problems
    assert not back.valid[2]
    assert np.isnan(back.coef[2]).all()


def _edited(change):
    data = json.loads(_saved_batch().to_json())
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format_version=99), "format_version"),
        (lambda d: d.update(kind="fit"), "format_version"),
        (lambda d: d["coef"][0].__setitem__(1, 5.0), "different polynomials"),
        (lambda d: d["valid"].__setitem__(1, "yes"), "true/false"),
        (lambda d: d["final_loss"].pop(), "one entry per series"),
        (lambda d: d["problems"].clear(), "must say why"),
        (lambda d: d["problems"].update({"9": "?"}), "not in the batch"),
        (lambda d: d["steps_run"].__setitem__(0, -1), "non-negative"),
        (lambda d: d["statistics"].update(y_scale=3.0), "power of two"),
        (lambda d: d["statistics"]["used"].__setitem__(0, -4), "whole numbers"),
        (lambda d: d["statistics"]["gram"][0][0].__setitem__(1, 7.0), "symmetric"),
        (lambda d: d["statistics"]["inverse"][0][0].__setitem__(0, 7.0), "inverse"),
        (lambda d: d.update(coef=[1, 2]), "dimensional"),
        (lambda d: d.update(residual_sums=[[1.0], [2.0]]), "one entry per series"),
        (lambda d: d.update(residual_sums=[[-1.0] * 3, [1.0] * 3]), "non-negative"),
        (lambda d: d.update(residual_sums="sums"), "dimensional"),
        (lambda d: d.update(residual_sums=[[1.0] * 3]), "two lists"),
    ],
)
def test_a_saved_batch_is_checked_as_strictly_as_fresh_input(change, message) -> None:
    with pytest.raises(gradpoly.DataFileError, match=message):
        gradpoly.ManyResult.from_json(_edited(change))


def test_nan_tokens_are_not_json() -> None:
    text = _saved_batch().to_json().replace("null", "NaN", 1)
    with pytest.raises(gradpoly.DataFileError, match="not JSON"):
        gradpoly.ManyResult.from_json(text)


@pytest.mark.parametrize("loss", ["mse", "huber", "l1"])
def test_both_layouts_scale_y_by_one_rule(loss) -> None:
    """One axis for every series, or each series its own x (long columns): the same fit,
    whatever the loss, with y far beyond 1 (where y is scaled: never for L1)."""
    engine = "numpy" if loss == "mse" else "torch"
    if engine == "torch":
        pytest.importorskip("torch")
    x = np.linspace(-1.0, 2.0, 40)
    y = np.vstack([1e30 * (1 + x - x**2), -3e29 * x]) + 1e28 * np.sin(7 * x)
    shared = fit_many(x, y, 2, loss=loss, steps=60, tol=None, engine=engine, huber_delta=1e29)
    ids = np.repeat(["a", "b"], x.size)
    long = fit_many(np.tile(x, 2), y.reshape(-1), 2, series=ids, loss=loss, steps=60, tol=None,
                    engine=engine, huber_delta=1e29)  # fmt: skip
    np.testing.assert_allclose(shared.coef, long.coef, rtol=1e-9)
    np.testing.assert_allclose(shared.final_loss, long.final_loss, rtol=1e-9)


def test_a_batch_shares_one_fits_evaluation_polynomials_and_intervals() -> None:
    """ManyResult and lstsq's result are one family: the same polynomial, values and
    intervals for the same series."""
    x = np.linspace(1000.0, 1010.0, 30)
    y = np.vstack([np.cos(x - 1000.0), 0.5 * (x - 1005.0) ** 2]) + 0.01 * np.sin(17 * x)
    batch = lstsq_many(x, y, 3)
    at = np.linspace(999.0, 1011.0, 7)
    values, lower, upper = batch.predict(at, interval="prediction")
    for b in range(2):
        one = lstsq(x, y[b], 3, full=True)
        alone = one.predict(at, interval="prediction")
        for mine, theirs in zip((values[b], lower[b], upper[b]), alone, strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-9)
        poly = batch.polynomial(b)
        assert type(poly) is type(one.polynomial())
        np.testing.assert_allclose(poly(at), values[b], rtol=1e-12, atol=1e-12)


def test_a_batch_names_series_it_cannot_give_as_a_polynomial() -> None:
    result = lstsq_many(np.arange(5.0), np.vstack([np.arange(5.0), [1, 1, 1, 0, 2]]), 1)
    with pytest.raises(InvalidOptionError, match="integer in"):
        result.polynomial(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gapped = lstsq_many(np.arange(5.0), [[0, 1, np.nan, np.nan, np.nan], [1, 2, 3, 4, 5]], 2,
                            drop_nan=True)  # fmt: skip
    with pytest.raises(InvalidOptionError, match="series 0 was not fitted"):
        gapped.polynomial(0)


def test_batch_statistics_warn_for_series_that_did_not_converge() -> None:
    x = np.linspace(0.0, 1.0, 40)
    y = np.vstack([1 + x, np.cos(3 * x)])
    short = fit_many(x, y, 4, steps=3, basis="monomial", optimizer="gd")
    with pytest.warns(gradpoly.StatsWarning, match="2 of 2 series did not converge"):
        assert short.stats.stderr.shape == (2, 5)
    done = fit_many(x, y, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(done.stats.stderr).all()


def test_auto_picks_a_batched_engine_with_autograd_where_the_loss_needs_it() -> None:
    """One order for both families (options.auto_order): defaults never refuse a loss."""
    pytest.importorskip("torch")
    x = np.linspace(0.0, 1.0, 50)
    y = np.vstack([1 + x, 1 - x])
    result = fit_many(x, y, 1, loss="huber")
    assert result.engine in ("torch", "jax")
    np.testing.assert_allclose(result.coef, [[1, 1], [1, -1]], atol=1e-6)


@pytest.mark.parametrize(
    "shape", [(), (40,), (1, 40), (5, 1), (5, 40)], ids=["scalar", "N", "1N", "B1", "BN"]
)
@pytest.mark.parametrize("shared", [True, False], ids=["shared-axis", "own-x"])
def test_weights_of_any_broadcast_shape_equal_the_full_array(shape, shared: bool) -> None:
    """Weights broadcast to y's (B, N) by numpy's rules: per point, per series, both, or one
    number; each equals passing the broadcast (B, N) array series by series."""
    rng = np.random.default_rng(11)
    x = np.linspace(-1.0, 1.0, 40)
    ys = np.cos(3 * x) + 0.1 * rng.standard_normal((5, 40))
    weights = rng.uniform(0.2, 2.0, shape) if shape else 2.5
    xs = x if shared else np.tile(x, (5, 1)) + 1e-9 * np.arange(5)[:, None]
    full = np.broadcast_to(weights, (5, 40))
    for run in (lstsq_many, fit_many):
        got = run(xs, ys, 3, weights=weights)
        want = run(list(np.broadcast_to(xs, (5, 40))), list(ys), 3, weights=list(full))
        assert np.allclose(got.coef, want.coef, rtol=1e-9, atol=1e-12)
        assert np.allclose(got.stats.stderr_array, want.stats.stderr_array, rtol=1e-8)


def test_weights_that_do_not_broadcast_say_how_to_give_one_per_series() -> None:
    x = np.linspace(0.0, 1.0, 40)
    with pytest.raises(InvalidDataError, match=r"\(5, 1\) per series.*weights\[:, None\]"):
        lstsq_many(x, np.zeros((5, 40)), 1, weights=np.ones(5))
    with pytest.raises(InvalidDataError, match="must broadcast"):
        lstsq_many(np.zeros((5, 40)) + x, np.zeros((5, 40)), 1, weights=np.ones((2, 40)))


@given(
    seed=st.integers(0, 2**16),
    order=st.integers(1, 8),
    count=st.sampled_from([256, 300]),
)
def test_cholesky_inverses_equal_numpys_and_refuse_what_is_not_definite(seed, order, count):
    """The batched Cholesky inverse of Gram matrices (well conditioned, as the Gram solve
    takes them) equals NumPy's to cond * eps; a singular or indefinite G is NaN."""
    from gradpoly.many.solve import cholesky_inverses, gram_inverses

    rng = np.random.default_rng(seed)
    x = np.linspace(-1.0, 1.0, 3 * order + 5)
    design = np.polynomial.chebyshev.chebvander(x, order - 1)
    kept = rng.random((count, x.size)) > 0.2
    kept[:, :order] = True  # enough distinct points in every series
    g = np.einsum("ni,bn,nj->bij", design, kept.astype(float), design) / x.size
    want = np.linalg.inv(g)
    cond = np.linalg.cond(g)
    got = gram_inverses(g)
    assert np.all(
        np.abs(got - want).max(axis=(1, 2)) <= 1e-13 * cond * np.abs(want).max(axis=(1, 2))
    )
    g[0] = 0.0
    g[1] = -np.eye(order)
    bad = cholesky_inverses(g)
    assert np.isnan(bad[:2]).all()
    assert np.isfinite(bad[2:]).all()


@pytest.mark.parametrize("count", [1, 7, 8, 9, 23])
def test_cholesky_inverses_in_blocks_are_the_whole_batch_s_bits(monkeypatch, count) -> None:
    """Series are inverted in cache-sized blocks: across any block boundary (here blocks of
    8), with singular and indefinite matrices among them, the numbers are one block's."""
    from gradpoly.many import solve

    rng = np.random.default_rng(count)
    a = rng.standard_normal((count, 7, 4))
    g = np.einsum("bki,bkj->bij", a, a)
    g[count // 2] = 0.0
    g[-1] = -np.eye(4)
    whole = solve.cholesky_inverses(g)
    monkeypatch.setattr(solve, "CHOLESKY_BLOCK", 8)
    blocked = solve.cholesky_inverses(g)
    np.testing.assert_array_equal(blocked, whole)
    assert np.isnan(blocked[[count // 2, -1]]).all()


@pytest.mark.parametrize("count", [1, 7, 8, 9, 23])
def test_one_norms_are_the_largest_absolute_row_sums(monkeypatch, count) -> None:
    """The 1-norms that condition numbers are built from, in blocks across any boundary:
    each matrix's largest absolute row sum, NaN where a row holds NaN."""
    from gradpoly.many import solve

    rng = np.random.default_rng(count)
    m = rng.standard_normal((count, 5, 5)) * 10.0 ** rng.integers(-3, 3, (count, 1, 1))
    m[count // 2, 3, 1] = np.nan
    expected = np.abs(m).sum(axis=2).max(axis=1)
    monkeypatch.setattr(solve, "CHOLESKY_BLOCK", 8)
    np.testing.assert_allclose(solve.one_norms(m), expected, rtol=1e-15)
    assert np.isnan(solve.one_norms(m)[count // 2])


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("basis", ["chebyshev", "monomial"])
def test_a_constant_fit_still_refuses_bad_x(bad, basis) -> None:
    """A degree-0 fit's statistics never see x, so NaN/inf x is looked for there (it used to
    be fitted as if clean per series, as one shared axis and lstsq refuse it)."""
    x, y = np.array([[0.0, bad, 1.0]]), np.array([[0.1, 0.2, 0.3]])
    with pytest.raises(InvalidDataError, match="NaN or inf"):
        lstsq_many(x, y, 0, basis=basis)
    with pytest.raises(InvalidDataError, match="NaN or inf"):
        fit_many(x, y, 0, basis=basis)
    dropped = lstsq_many(x, y, 0, basis=basis, drop_nan=True)
    np.testing.assert_allclose(dropped.coef, [[0.2]])


@pytest.mark.parametrize("optimizer", ["gd", "nesterov"])
def test_a_shared_axis_descends_with_its_linear_algebra_done_once(monkeypatch, optimizer) -> None:
    """On one axis without gaps every series has one Gram matrix and domain: its rates,
    stopping scale and verdicts are computed once (``rates.shared_rows``), with the numbers
    the per-series computation gives, series with gaps among them or not."""
    from gradpoly import rates

    assert rates.shared_rows(np.ones((3, 2, 2)), np.zeros((3, 2)))
    assert not rates.shared_rows(np.ones((1, 2, 2)))  # one series: nothing to share
    assert not rates.shared_rows(np.full((3, 2), np.nan))  # monomial domains
    assert not rates.shared_rows(np.arange(6.0).reshape(3, 2))
    rng = np.random.default_rng(8)
    x = np.linspace(-1.0, 30.0, 80)
    y = np.sin(x / 5)[None, :] * rng.uniform(0.5, 2.0, (40, 1))
    y = y + 0.01 * rng.standard_normal(y.shape)
    gappy = y.copy()
    gappy[::9, ::4] = np.nan
    runs = []
    for once in (True, False):
        if not once:
            monkeypatch.setattr(rates, "shared_rows", lambda *arrays: False)
        runs.append(
            [
                fit_many(x, data, 3, optimizer=optimizer, tol=1e-10, drop_nan=True)
                for data in (y, gappy)
            ]
        )
    for fast, slow in zip(*runs, strict=True):
        np.testing.assert_array_equal(fast.coef, slow.coef)
        np.testing.assert_array_equal(fast.steps_run, slow.steps_run)
        np.testing.assert_array_equal(fast.converged, slow.converged)
        np.testing.assert_array_equal(fast.coef_error, slow.coef_error)
    assert runs[0][0].converged.all()
