"""Each basis is one entry of gradpoly.bases.RULES; every path reads it from there."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import gradpoly
from gradpoly import bases, mapping
from gradpoly.options import Basis

ALL = sorted(bases.RULES, key=str)


def test_every_basis_has_one_rule_and_its_own_kernel_code() -> None:
    assert set(bases.RULES) == set(Basis)
    codes = [bases.rule(b).code for b in ALL]
    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize("basis", ALL, ids=str)
def test_the_recurrence_is_numpys_basis(basis: Basis) -> None:
    t = np.linspace(-1.0, 1.0, 9)
    rule = bases.rule(basis)
    ours = np.stack(mapping.features(np, basis, t, 6), axis=1)
    np.testing.assert_allclose(ours, rule.vander(t, 6), rtol=1e-13, atol=1e-14)
    for j in range(7):
        np.testing.assert_allclose(rule.series.basis(j)(t) if rule.mapped else t**j, ours[:, j],
                                   rtol=1e-13, atol=1e-14)  # fmt: skip


@pytest.mark.parametrize("basis", ALL, ids=str)
def test_the_recurrence_is_exact_on_fractions(basis: Basis) -> None:
    t = Fraction(1, 3)
    row = bases.terms(basis, t, 5, Fraction(1))
    assert all(isinstance(v, Fraction) for v in row)
    floats = np.stack(mapping.features(np, basis, np.array([1 / 3]), 5), axis=1)[0]
    np.testing.assert_allclose([float(v) for v in row], floats, rtol=1e-15)


@pytest.mark.parametrize("basis", ALL, ids=str)
def test_the_conversion_to_monomials_keeps_the_polynomial(basis: Basis) -> None:
    coef = np.array([0.5, -1.0, 2.0, 0.25])
    t = np.linspace(-1.0, 1.0, 7)
    rule = bases.rule(basis)
    np.testing.assert_allclose(
        np.polynomial.polynomial.polyval(t, rule.to_monomial(coef)), rule.vander(t, 3) @ coef,
        rtol=1e-13, atol=1e-13,
    )  # fmt: skip


@pytest.mark.parametrize("basis", ALL, ids=str)
def test_every_front_door_fits_in_every_basis(basis: Basis) -> None:
    """A new entry in RULES is fitted by many curves and by GD alike (lstsq solves in
    Chebyshev whatever the fit's basis)."""
    x = np.linspace(-2.0, 3.0, 40)
    y = 1 - x + 0.5 * x**2 - 0.1 * x**3
    want = np.array([1.0, -1.0, 0.5, -0.1])
    many = gradpoly.lstsq_many(x, np.vstack([y, 2 * y]), 3, basis=basis)
    np.testing.assert_allclose(many.coef, [want, 2 * want], atol=1e-9)
    one = gradpoly.fit(x, y, 3, basis=basis, tol=1e-10)
    if one.converged:
        np.testing.assert_allclose(one.coef, want, atol=1e-6)
    assert type(many.polynomial(0)) is bases.rule(basis).series
