"""The compiled monotone steps (gradpoly.batched._monotone_kernels behind NumbaBatch.shapes)
against NumPy's (gradpoly.monotone.NUMPY), the reference: the same certificate, the same
optimum, the same statistics through lstsq_many."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import gradpoly
from gradpoly import monotone
from gradpoly.batched import numba_batch
from gradpoly.options import Basis

pytest.importorskip("numba")
pytestmark = pytest.mark.xdist_group("numba-shapes")  # one worker compiles the kernels

X = np.linspace(0.0, 10.0, 60)
COMPILED = numba_batch.CompiledShapes()


def curves(seed: int, count: int) -> np.ndarray:
    """Rising steps of several widths with noise and wiggles (most least-squares fits turn
    back somewhere), a few exact lines, constants and repeated curves."""
    rng = np.random.default_rng(seed)
    width = rng.uniform(0.3, 4.0, (count, 1))
    y = np.tanh((X - 5.0) / width) + rng.uniform(0.0, 0.4, (count, 1)) * rng.standard_normal(
        (count, X.size)
    )
    y += rng.uniform(-0.5, 0.5, (count, 1)) * np.sin(2.0 * X)
    y[0], y[1], y[2] = 0.3 * X, 1.0, -0.2 * X  # a line, a constant, a falling line
    y[3] = y[4]
    return y


def gram_of(y: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    v = np.polynomial.chebyshev.chebvander(X / 5.0 - 1.0, degree)
    g = np.broadcast_to(v.T @ v / X.size, (y.shape[0], degree + 1, degree + 1)).copy()
    return g, y @ v / X.size


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("degree", [1, 2, 3, 4, 5, 6, 8])
def test_the_compiled_exchange_reaches_numpy_s_optimum(degree: int, sign: float) -> None:
    g, c = gram_of(curves(degree, 120), degree)
    ours = monotone.solve_all(g, c, Basis.CHEBYSHEV, sign, COMPILED)
    theirs = monotone.solve_all(g, c, Basis.CHEBYSHEV, sign, monotone.NUMPY)
    assert ours.found.all()
    assert theirs.found.all()
    level = np.abs(np.linalg.solve(g, c[..., None])[..., 0]).max(axis=1)  # least squares
    assert monotone.certified(ours.w, Basis.CHEBYSHEV, sign, level=level).all()

    def objective(w: np.ndarray) -> np.ndarray:
        return 0.5 * np.einsum("bi,bij,bj->b", w, g, w) - np.einsum("bi,bi->b", c, w)

    mine, reference = objective(ours.w), objective(theirs.w)
    # the same optimum: no worse than the reference beyond the certificate's slack
    assert (mine <= reference + 1e-10 * np.abs(reference) + 1e-14).all()
    scale = np.abs(theirs.w).max(axis=1, keepdims=True)
    np.testing.assert_allclose(ours.w, theirs.w, rtol=0, atol=1e-5 * scale.max())
    close = (np.abs(ours.w - theirs.w) <= 1e-9 * scale).all(axis=1)
    assert close.mean() >= 0.95  # the rest stopped a Newton step apart, within SETTLE
    # binding rows: zero slope at each, so the fit meets them
    np.testing.assert_allclose(
        np.einsum("bks,bs->bk", ours.rows, ours.w), 0.0, atol=1e-10 * scale.max()
    )


def test_a_singular_system_is_left_to_the_cutting_planes_as_numpy_leaves_it() -> None:
    g, c = gram_of(curves(3, 40), 4)
    g[5] = 0.0  # no points: G singular, no fit
    g[6, :, 2] = g[6, 2, :] = 0.0
    ours = monotone.solve_all(g, c, Basis.CHEBYSHEV, 1.0, COMPILED)
    theirs = monotone.solve_all(g, c, Basis.CHEBYSHEV, 1.0, monotone.NUMPY)
    np.testing.assert_array_equal(ours.found, theirs.found)
    assert not ours.found[5]
    assert not ours.found[6]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 6, 9])
def test_the_compiled_minimum_slope_is_numpy_s(size: int) -> None:
    rng = np.random.default_rng(size)
    w = rng.standard_normal((300, size)) * rng.uniform(1e-3, 1e3, (300, 1))
    w[0] = 0.0
    w[2] = 1.0
    lowest, place, scale = COMPILED.minimum_slope(w, Basis.CHEBYSHEV, 1.0)
    expected, _, expected_scale = monotone.NUMPY.minimum_slope(w, Basis.CHEBYSHEV, 1.0)
    ok = np.ones(len(w), dtype=bool)
    np.testing.assert_allclose(lowest[ok], expected[ok], rtol=0, atol=1e-12 * scale[ok].max())
    np.testing.assert_allclose(scale[ok], expected_scale[ok], rtol=1e-12, atol=1e-300)
    # the place is where the slope takes that least value
    slope = monotone.slopes_at_candidates(w[ok], Basis.CHEBYSHEV, 1.0)
    at = np.array([
        float(np.polynomial.polynomial.polyval(
            p, np.polynomial.polynomial.polyder(row @ np.asarray(gradpoly.mapping.in_t(
                Basis.CHEBYSHEV, size)).T)))
        for p, row in zip(place[ok], w[ok], strict=True)
    ]) if size >= 2 else np.zeros(int(ok.sum()))  # fmt: skip
    assert slope[0].shape[0] == ok.sum()
    np.testing.assert_allclose(at, lowest[ok], rtol=0, atol=1e-11 * scale[ok].max() + 1e-300)
    np.testing.assert_array_equal(
        monotone.certified(w, Basis.CHEBYSHEV, 1.0, COMPILED),
        monotone.certified(w, Basis.CHEBYSHEV, 1.0),
    )
    w[1, 0] = np.nan  # NumPy's eigenvalues refuse it; compiled, a NaN curve is not certified
    assert not monotone.certified(w[:2], Basis.CHEBYSHEV, 1.0, COMPILED)[1] or size == 1


@settings(max_examples=60, deadline=None)
@given(roots=st.lists(st.floats(-0.999, 0.999), min_size=1, max_size=6),
       lead=st.floats(0.01, 100.0), seed=st.integers(0, 1000))  # fmt: skip
def test_roots_inside_finds_every_simple_root(roots: list[float], lead: float, seed: int) -> None:
    from gradpoly.batched import _monotone_kernels as kernels

    roots = sorted(roots)
    assume(all(b - a > 1e-3 for a, b in itertools.pairwise(roots)))
    outside = np.random.default_rng(seed).uniform(1.5, 3.0, 2) * np.array([-1.0, 1.0])
    q = lead * np.polynomial.polynomial.polyfromroots(roots + outside[: seed % 3].tolist())
    count = q.size
    found, chain, spare = np.empty(count), np.empty((count, count)), np.empty(count)
    known = kernels.roots_inside(np.ascontiguousarray(q), count, chain, found, spare)
    np.testing.assert_allclose(found[:known], roots, rtol=0, atol=1e-9)


@pytest.mark.filterwarnings("ignore::gradpoly.errors.RepresentationWarning")  # the constant
def test_lstsq_many_gives_one_answer_compiled_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend's choice changes who runs the steps, not the fit or its statistics."""
    y = curves(7, 60)
    monkeypatch.setattr(numba_batch, "COMPILED_SHAPES_FROM", 1)
    ours = gradpoly.lstsq_many(X, y, 5, monotone="increasing", engine="numba")
    theirs = gradpoly.lstsq_many(X, y, 5, monotone="increasing", engine="numpy")
    scale = np.abs(theirs.coef).max()
    np.testing.assert_allclose(ours.coef, theirs.coef, rtol=1e-7, atol=1e-9 * scale)
    errors = np.asarray(theirs.stats.stderr)  # exact lines' are rounding: judged absolutely
    np.testing.assert_allclose(
        np.asarray(ours.stats.stderr), errors, rtol=1e-6, atol=1e-6 * np.nanmax(errors)
    )
    flat = np.asarray(ours.stats.dof) == X.size - 1  # a falling line made constant
    assert flat[2]
    np.testing.assert_array_equal(ours.coef[flat][:, 1:], 0.0)
    np.testing.assert_array_equal(np.asarray(ours.stats.dof), np.asarray(theirs.stats.dof))
