"""Monotone fits (gradpoly.monotone; monotone= on lstsq and lstsq_many): certified on the
whole interval, optimal, the closed form where it already is monotone, one answer per path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradpoly
from gradpoly import monotone
from gradpoly.errors import InvalidOptionError
from gradpoly.options import Basis

X = np.linspace(0.0, 10.0, 40)


def bent(seed: int, count: int = 1) -> np.ndarray:
    """A rising step with noise: its least-squares quintic turns back somewhere."""
    rng = np.random.default_rng(seed)
    return np.tanh(X - 5.0) + 0.15 * rng.standard_normal((count, X.size))


def lowest_slope(coef: np.ndarray, lo: float = 0.0, hi: float = 10.0) -> float:
    """The smallest slope of monomial coefficients on a fine grid of [lo, hi]."""
    t = np.linspace(lo, hi, 100_001)
    return float(np.polynomial.polynomial.polyval(t, np.polynomial.polynomial.polyder(coef)).min())


def test_a_fit_that_turns_back_is_made_monotone_and_is_optimal() -> None:
    from scipy.optimize import minimize

    y = bent(0)[0]
    plain = gradpoly.lstsq(X, y, 5)
    assert lowest_slope(plain) < -0.1
    fit = gradpoly.lstsq(X, y, 5, monotone="increasing", full=True)
    scale = float(np.abs(np.polynomial.polynomial.polyder(fit.coef)).max())
    assert lowest_slope(fit.coef) >= -1e-9 * scale
    # every monotone quintic fits worse: SLSQP on a fine grid (a relaxation) is no better
    # than ours by more than its grid's slack, and its answer dips below zero between points
    design = np.vander(X, 6, increasing=True)
    grid = np.linspace(0.0, 10.0, 3000)
    slopes = np.vander(grid, 5, increasing=True) * np.arange(1, 6)
    ours = float(np.sum((design @ fit.coef - y) ** 2))
    relaxed = minimize(
        lambda c: np.sum((design @ c - y) ** 2), fit.coef, method="SLSQP",
        jac=lambda c: 2 * design.T @ (design @ c - y),
        constraints=[{"type": "ineq", "fun": lambda c: slopes @ c[1:],
                      "jac": lambda c: np.column_stack([np.zeros(len(grid)), slopes])}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )  # fmt: skip
    assert relaxed.fun <= ours * (1 + 1e-9)
    assert relaxed.fun >= ours * (1 - 1e-4)
    assert fit.stats.dof > X.size - 6  # binding points count as constraints


def test_a_monotone_fit_is_left_as_it_is() -> None:
    y = 2.0 * X + 0.3 * np.random.default_rng(1).standard_normal(X.size)
    plain = gradpoly.lstsq(X, y, 3, full=True)
    fit = gradpoly.lstsq(X, y, 3, monotone="increasing", full=True)
    np.testing.assert_allclose(fit.coef, plain.coef, rtol=1e-12)
    assert fit.stats.dof == plain.stats.dof


def test_decreasing_mirrors_increasing() -> None:
    y = bent(2)[0]
    up = gradpoly.lstsq(X, y, 5, monotone="increasing")
    down = gradpoly.lstsq(X, -y, 5, monotone="decreasing")
    np.testing.assert_allclose(down, -up, rtol=1e-7, atol=1e-9)


def test_many_curves_are_each_curve_and_survive_a_round_trip() -> None:
    ys = bent(3, 6)
    ys[1] = 0.5 * X + 0.1 + 0.01 * np.sin(3 * X)  # already monotone: untouched
    many = gradpoly.lstsq_many(X, ys, 5, monotone="increasing")
    loaded = gradpoly.ManyResult.from_json(many.to_json())
    for b in range(6):
        one = gradpoly.lstsq(X, ys[b], 5, monotone="increasing", full=True)
        np.testing.assert_allclose(many.coef[b], one.coef, rtol=1e-7, atol=1e-10)
        for result in (many, loaded):
            assert np.asarray(result.stats.dof)[b] == one.stats.dof
            np.testing.assert_allclose(
                np.asarray(result.stats.stderr)[b], one.stats.stderr, rtol=1e-6
            )
        assert lowest_slope(many.coef[b]) >= -1e-8


def test_bad_requests_are_named() -> None:
    with pytest.raises(InvalidOptionError, match="monotone must be"):
        gradpoly.lstsq(X, X, 2, monotone="up")
    with pytest.raises(InvalidOptionError, match="does not combine"):
        gradpoly.lstsq(X, X, 2, monotone="increasing", fixed={0: 0.0})
    with pytest.raises(InvalidOptionError, match="mapped basis"):
        gradpoly.lstsq_many(X, X[None], 2, monotone="increasing", basis="monomial")


def test_the_certificate_sees_a_dip_between_points() -> None:
    # p'(t) = (t - 0.3)^2 - 1e-6: negative only on a sliver no coarse grid samples
    powers = np.array([0.0, 0.09 - 1e-6, -0.3, 1.0 / 3.0])
    w = np.linalg.solve(np.asarray(gradpoly.mapping.in_t(Basis.CHEBYSHEV, 4)), powers)
    assert not monotone.certified(w[None], Basis.CHEBYSHEV, 1.0)[0]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), degree=st.integers(2, 7))
def test_every_monotone_fit_is_certified(seed: int, degree: int) -> None:
    y = bent(seed)[0] + np.random.default_rng(seed).uniform(-1, 1) * np.sin(X)
    fit = gradpoly.lstsq(X, y, degree, monotone="increasing")
    scale = max(float(np.abs(np.polynomial.polynomial.polyder(fit)).max()), 1e-12)
    assert lowest_slope(fit) >= -1e-8 * scale * 100


def gram_of(ys: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Each curve's Gram statistics in the Chebyshev basis on X mapped to [-1, 1]."""
    v = np.polynomial.chebyshev.chebvander(X / 5.0 - 1.0, degree)
    g = np.broadcast_to(v.T @ v / X.size, (ys.shape[0], degree + 1, degree + 1)).copy()
    return g, ys @ v / X.size


def test_the_exchange_method_reaches_the_cutting_planes_optimum() -> None:
    """Batched exchange (Newton on the touch points) and one curve's cutting planes find the
    same optimum: certified, multipliers non-negative, and no worse than the cutting planes'
    (which may dip by the certificate's slack, so be lower by as little)."""
    g, c = gram_of(bent(11, 40), 5)
    batched = monotone.solve_all(g, c, Basis.CHEBYSHEV, 1.0)
    assert batched.found.all()
    for b, (w, rows) in enumerate(zip(batched.w, batched.rows, strict=True)):
        planes = monotone.solve(g[b], c[b], Basis.CHEBYSHEV, 1.0)
        assert planes is not None
        assert monotone.certified(w[None], Basis.CHEBYSHEV, 1.0)[0]
        np.testing.assert_allclose(rows @ w, 0.0, atol=1e-12 * np.abs(w).max())

        def objective(u: np.ndarray, b: int = b) -> float:
            return float(0.5 * u @ g[b] @ u - c[b] @ u)

        assert objective(w) <= objective(planes[0]) + 1e-10 * abs(objective(planes[0]))
        np.testing.assert_allclose(w, planes[0], rtol=0, atol=1e-5 * np.abs(w).max())


def test_curves_the_exchange_leaves_take_the_cutting_planes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    g, c = gram_of(bent(12, 5), 5)
    batched = monotone.solve_all(g, c, Basis.CHEBYSHEV, 1.0)
    monkeypatch.setattr(monotone, "EXCHANGES", 0)
    planes = monotone.solve_all(g, c, Basis.CHEBYSHEV, 1.0)
    assert batched.found.all()
    assert planes.found.all()
    for ours, theirs in zip(batched.w, planes.w, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-5 * np.abs(ours).max())


def test_a_singular_curve_leaves_alone_for_the_cutting_planes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One curve's singular system used to send the whole batch to the cutting planes."""
    g, c = gram_of(bent(13, 12), 5)
    g[4] = 0.0  # no points: no fit
    planes: list[int] = []
    solve = monotone.solve
    monkeypatch.setattr(monotone, "solve", lambda *a: (planes.append(1), solve(*a))[1])
    found = monotone.solve_all(g, c, Basis.CHEBYSHEV, 1.0)
    assert len(planes) == 1
    assert not found.found[4]
    assert found.found[np.arange(12) != 4].all()


@pytest.mark.parametrize("exchanges", [monotone.EXCHANGES, 0])
def test_data_against_the_direction_give_the_constant_fit(
    exchanges: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rising data kept decreasing: the optimum is the constant, exact, with every slope pinned
    (dof n - 1), by the exchange or by the cutting planes."""
    monkeypatch.setattr(monotone, "EXCHANGES", exchanges)
    y = np.tanh(X - 5.0) + 0.05 * np.random.default_rng(3).standard_normal(X.size)
    fit = gradpoly.lstsq(X, y, 5, monotone="decreasing", full=True)
    np.testing.assert_allclose(fit.coef, [np.mean(y), 0, 0, 0, 0, 0], rtol=1e-12, atol=1e-15)
    assert fit.stats.dof == X.size - 1


def test_covariance_shapes_hold_for_an_ill_conditioned_gram() -> None:
    """Few points, high degree: G's inverse is large, so subtracting from it (the projection)
    would lose every digit (and once raised); such curves take the null space."""
    from scipy.linalg import null_space

    t = np.r_[-1.0, -0.2, 1.0 - 0.08 * np.arange(7)]  # crowded at one end: cond(G) ~ 3e8
    v = np.polynomial.chebyshev.chebvander(t, 7)
    g = v.T @ v / t.size
    assert np.linalg.cond(g) > 1e7
    rows = np.zeros((7, 8))
    rows[:4] = monotone.slope_rows(np.array([-0.9, -0.3, 0.4, 0.8]), Basis.CHEBYSHEV, 8)
    shape, rank = monotone.covariance_shape(g, rows)
    null = null_space(rows[:4])
    expected = null @ np.linalg.inv(null.T @ g @ null) @ null.T
    assert rank == 4
    np.testing.assert_allclose(shape, expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())
    both = np.stack([g, np.eye(8)])
    shapes, ranks = monotone.covariance_shapes(both, np.stack([rows, rows]))
    np.testing.assert_allclose(shapes[0], expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())
    assert ranks.tolist() == [4, 4]
