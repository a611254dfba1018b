"""The batched closed form's monomial coefficients held to lstsq's (gradpoly.many.refine):
series whose conversion may cost more than the solve's own accuracy get lstsq's answer,
on every layout and front door; ordinary grids pay nothing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.polynomial import polynomial as P

import gradpoly
import gradpoly.numpy
from gradpoly import mapping
from gradpoly.exact import certified_sets, digits
from gradpoly.many import refine
from gradpoly.options import Basis
from gradpoly.problem import SETTLED, SvdSolver, conversion_flags, needs_refinement

SETS = {s.name: s for s in certified_sets()}


def hard(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Few points, a high degree, x of any scale around 0: the conversion cancels digits
    (before the refinement, lstsq_many's residual norms were up to 10^4 times lstsq's)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(9, 40))
    degree = int(rng.integers(6, 9))
    x = rng.normal(size=n) * 10.0 ** int(rng.integers(-2, 5))
    y = P.polyval(x, rng.normal(size=degree + 1)) + rng.normal(size=n) * 1e-3
    return x, y, degree


def quiet(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


@pytest.mark.parametrize("seed", range(12))
def test_refined_series_are_lstsqs_on_every_layout(seed: int) -> None:
    x, y, degree = hard(seed)
    expected = quiet(gradpoly.lstsq, x, y, degree)
    shared = quiet(gradpoly.lstsq_many, x, y[None], degree)
    own = quiet(gradpoly.lstsq_many, x[None], y[None], degree)
    drop_in = quiet(gradpoly.numpy.polyfit, x, y, degree)[::-1]
    coef = shared.coef[0]
    if refine.flagged(shared.coef, shared.basis_coef, shared.domains, Basis.CHEBYSHEV,
                      shared.condition, shared.valid).size:  # fmt: skip
        np.testing.assert_array_equal(coef, expected)
        np.testing.assert_array_equal(own.coef[0], expected)
        np.testing.assert_array_equal(drop_in, expected)
    else:  # the conversion is within the solve's accuracy
        np.testing.assert_allclose(coef, expected, rtol=1e-9, atol=0)


def test_hard_series_fit_as_well_as_lstsq_and_better_than_polyfit() -> None:
    """Residual norms (the coefficients evaluated in extended precision where the CPU has
    it): lstsq_many within 1.5x of lstsq's, as np.polyfit is not always."""
    worse_polyfit = 0
    for seed in range(40):
        x, y, degree = hard(seed)
        xl = x.astype(np.longdouble)

        def residual(coef: np.ndarray, x=x, y=y, xl=xl) -> float:
            fitted = P.polyval(xl, np.asarray(coef, dtype=np.longdouble))
            return float(np.linalg.norm((y - fitted).astype(np.float64)))

        best = residual(quiet(gradpoly.lstsq, x, y, degree))
        many = quiet(gradpoly.lstsq_many, x, y[None], degree).coef[0]
        assert residual(many) <= 1.5 * best + 1e-10 * float(np.linalg.norm(y)), seed
        worse_polyfit += residual(quiet(np.polyfit, x, y, degree)[::-1]) > 1.5 * best
    assert worse_polyfit > 0  # the anchor loses here; the batched path no longer does


@pytest.mark.parametrize("name", ["Wampler1", "Wampler3", "Wampler4", "Wampler5", "Filip"])
def test_certified_sets_keep_lstsqs_digits_through_the_batched_doors(name: str) -> None:
    s = SETS[name]
    mine = digits(gradpoly.lstsq(s.x, s.y, s.degree), s.coef)
    shared = quiet(gradpoly.lstsq_many, s.x, s.y[None], s.degree).coef[0]
    own = quiet(gradpoly.lstsq_many, s.x[None], s.y[None], s.degree).coef[0]
    drop_in = quiet(gradpoly.numpy.polyfit, s.x, s.y, s.degree)[::-1]
    theirs = digits(quiet(np.polyfit, s.x, s.y, s.degree)[::-1], s.coef)
    for coef in (shared, own, drop_in):
        assert digits(coef, s.coef) >= mine - 0.25
        assert digits(coef, s.coef) >= theirs + 1.0


def test_degree_selection_hands_back_lstsq_many_fits() -> None:
    x, y, _ = hard(3)
    chosen = quiet(gradpoly.select_degree, x, y[None], 8)
    for degree in (6, 7, 8):
        np.testing.assert_array_equal(
            chosen.result(degree).coef, quiet(gradpoly.lstsq_many, x, y[None], degree).coef
        )


def test_an_ordinary_grid_pays_nothing() -> None:
    """A year of days, degree 3, 10% gaps: no series is solved again (the batched solve's
    own accuracy, 2e-10, already bounds their conversion)."""
    rng = np.random.default_rng(0)
    x = np.arange(365.0)
    y = np.sin(x / 50)[None] + 0.1 * rng.standard_normal((2000, x.size))
    y[rng.random(y.shape) < 0.1] = np.nan
    result = gradpoly.lstsq_many(x, y, 3, drop_nan=True)
    rows = refine.flagged(result.coef, result.basis_coef, result.domains, Basis.CHEBYSHEV,
                          result.condition, result.valid)  # fmt: skip
    assert rows.size == 0


@given(
    size=st.integers(1, 8),
    lo=st.floats(-1e6, 1e6),
    width=st.floats(1e-3, 1e6),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_batched_rule_is_lstsqs_row_by_row(size, lo, width, seed) -> None:
    """conversion_flags over many fits answers each as needs_refinement answers one."""
    rng = np.random.default_rng(seed)
    units = rng.normal(size=(5, size)) * 10.0 ** rng.integers(-3, 3, (5, 1))
    doms = np.array([[lo, lo + width]])
    with np.errstate(all="ignore"):
        convert = mapping.monomial_matrices(doms, Basis.CHEBYSHEV, size)[0]
        coefs = units @ convert.T
    design = rng.normal(size=(size + 3, size))
    solver = SvdSolver.of(design)
    conditions = np.full(5, solver.condition)
    reach = np.broadcast_to(np.abs(convert).sum(axis=1), coefs.shape)
    batched = conversion_flags(coefs, units, reach, conditions, SETTLED)
    single = [needs_refinement(c, u, convert, solver) for c, u in zip(coefs, units, strict=True)]
    assert batched.tolist() == single
