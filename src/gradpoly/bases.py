"""Everything gradpoly knows of each basis, in one table: adding a basis is one entry here
(plus its recurrence in the fused numba kernel, tied to this one by the contract suite).

Each rule gives the numpy.polynomial class (results' ``polynomial()``, conversions), the
three-term recurrence of its functions on mapped points (written for any arithmetic: NumPy,
torch, JAX arrays, numba-free Python floats and exact Fractions alike), its conversion to
monomials in the mapped variable, and the integer code the numba kernels branch on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.polynomial import Chebyshev, Legendre, Polynomial

from gradpoly.options import Basis

Series = Polynomial | Chebyshev | Legendre


@dataclass(frozen=True)
class BasisRule:
    """One basis: its numpy class, recurrence, conversion to monomials and kernel code."""

    series: type[Polynomial] | type[Chebyshev] | type[Legendre]
    next_term: Callable[[int, Any, Any, Any], Any]
    """``p_j`` from ``(j, t, p_{j-1}, p_{j-2})`` for j >= 2 (``p_0 = 1``, ``p_1 = t``)."""
    to_monomial: Callable[[Any], Any]
    """Coefficients in the basis -> monomial coefficients in the same (mapped) variable."""
    vander: Callable[[Any, int], Any]
    """The (N, D+1) matrix of the basis functions at points (numpy's ``*vander``)."""
    code: int
    """What the numba kernels call it."""
    mapped: bool = True
    """Whether x is mapped to [-1, 1] first (every basis but the monomials)."""


RULES: dict[Basis, BasisRule] = {
    Basis.MONOMIAL: BasisRule(
        Polynomial,
        lambda j, t, p1, p2: t * p1,
        np.asarray,
        np.polynomial.polynomial.polyvander,
        0,
        mapped=False,
    ),
    Basis.CHEBYSHEV: BasisRule(
        Chebyshev,
        lambda j, t, p1, p2: 2 * t * p1 - p2,
        np.polynomial.chebyshev.cheb2poly,
        np.polynomial.chebyshev.chebvander,
        1,
    ),
    Basis.LEGENDRE: BasisRule(
        Legendre,
        lambda j, t, p1, p2: ((2 * j - 1) * t * p1 - (j - 1) * p2) / j,
        np.polynomial.legendre.leg2poly,
        np.polynomial.legendre.legvander,
        2,
    ),
}


def rule(basis: Basis | str) -> BasisRule:
    """The rule of ``basis`` (a name is parsed: an unknown one lists the known)."""
    return RULES[Basis.parse(basis)]


def terms(basis: Basis | str, t: Any, degree: int, one: Any) -> list[Any]:
    """Basis functions 0..D at ``t`` by the recurrence, ``one`` being the 1 of t's kind."""
    step = rule(basis).next_term
    cols = [one, t][: degree + 1]
    for j in range(2, degree + 1):
        cols.append(step(j, t, cols[j - 1], cols[j - 2]))
    return cols
