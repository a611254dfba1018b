"""Each basis is one entry of gradpoly.bases.RULES; every path reads it from there."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import gradpoly
from gradpoly import bases, mapping
from gradpoly.options import Basis

ALL = sorted(bases.RULES, key=str)


def test_every_basis_has_one_rule_whose_first_step_reads_no_p_minus_one() -> None:
    assert set(bases.RULES) == set(Basis)
    for basis in ALL:
        a, c, d = bases.rule(basis).recurrence(1)
        assert c == 0, basis  # the kernels never read p_{-1}
        assert a != 0, basis
        assert d != 0, basis


@pytest.mark.parametrize("basis", ALL, ids=str)
def test_the_numba_kernel_builds_the_same_statistics(basis: Basis) -> None:
    """The fused kernel reads the recurrence from RULES: same Gram statistics as numpy's."""
    from gradpoly.batched import get_backend
    from gradpoly.batched.batch import Batch
    from gradpoly.options import Device

    numba = get_backend("numba")
    if not numba.availability(Device.CPU).ok:
        pytest.skip(numba.availability(Device.CPU).reason)
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(-3.0, 7.0, (4, 30)), axis=1)
    y = np.cos(x) + 0.1 * rng.standard_normal(x.shape)
    batch = Batch(x, y, None, np.full(4, 30.0))
    ours = numba.statistics(batch, 5, basis, Device.CPU)
    want = get_backend("numpy").statistics(batch, 5, basis, Device.CPU)
    np.testing.assert_allclose(ours.g, want.g, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.c, want.c, rtol=1e-12, atol=1e-12)


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
