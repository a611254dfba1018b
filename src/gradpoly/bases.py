"""Everything gradpoly knows of each basis, in one place: adding a basis is one member of
:class:`Basis` and one entry of :data:`RULES`, here; every path reads them (the features and
their recurrence, numpy's classes, the conversion to monomials, the numba kernels' recurrence
coefficients), and the tests parametrized over :data:`RULES` run a new entry on every path.

A basis is defined by its three-term recurrence ``p_j = (a_j t p_{j-1} - c_j p_{j-2}) / d_j``
(``p_0 = 1``, ``p_{-1} = 0``) on the mapped ``t``, with integer ``a, c, d``: written once, for
any arithmetic (NumPy, torch and JAX arrays, the numba kernels, exact Fractions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.polynomial import Chebyshev, Legendre, Polynomial

from gradpoly.choices import Choice

Series = Polynomial | Chebyshev | Legendre


class Basis(Choice):
    """The polynomial basis of the features.

    ``monomial`` (the seed's) uses x as given; ``chebyshev`` and ``legendre`` map x's domain
    to [-1, 1] first, as numpy.polynomial does, which makes the Gram matrix well conditioned.
    """

    MONOMIAL = "monomial"
    CHEBYSHEV = "chebyshev"
    LEGENDRE = "legendre"


@dataclass(frozen=True)
class BasisRule:
    """One basis: its recurrence, numpy class, vander and conversion to monomials."""

    recurrence: Callable[[int], tuple[int, int, int]]
    """``(a_j, c_j, d_j)`` of ``p_j = (a_j t p_{j-1} - c_j p_{j-2}) / d_j`` for j >= 1."""
    series: type[Polynomial] | type[Chebyshev] | type[Legendre]
    to_monomial: Callable[[Any], Any]
    """Coefficients in the basis -> monomial coefficients in the same (mapped) variable."""
    vander: Callable[[Any, int], Any]
    """The (N, D+1) matrix of the basis functions at points (numpy's ``*vander``)."""
    mapped: bool = True
    """Whether x is mapped to [-1, 1] first (every basis but the monomials)."""

    def next_term(self, j: int, t: Any, p1: Any, p2: Any) -> Any:
        """``p_j`` from ``p_{j-1}`` and ``p_{j-2}`` (a zero ``c`` or unit ``d`` is skipped,
        so the arithmetic is exactly the textbook form's)."""
        a, c, d = self.recurrence(j)
        term = a * t * p1
        if c:
            term = term - c * p2
        return term / d if d != 1 else term

    def coefficients(self, degree: int) -> Any:
        """(D+1, 3) float64 ``(a_j, c_j, d_j)``, row 0 unused: what the numba kernels read."""
        rows = [(0, 0, 1)] + [self.recurrence(j) for j in range(1, degree + 1)]
        return np.asarray(rows, dtype=np.float64)


RULES: dict[Basis, BasisRule] = {
    Basis.MONOMIAL: BasisRule(
        lambda j: (1, 0, 1),
        Polynomial,
        np.asarray,
        np.polynomial.polynomial.polyvander,
        mapped=False,
    ),
    Basis.CHEBYSHEV: BasisRule(
        lambda j: (1, 0, 1) if j == 1 else (2, 1, 1),
        Chebyshev,
        np.polynomial.chebyshev.cheb2poly,
        np.polynomial.chebyshev.chebvander,
    ),
    Basis.LEGENDRE: BasisRule(
        lambda j: (2 * j - 1, j - 1, j),
        Legendre,
        np.polynomial.legendre.leg2poly,
        np.polynomial.legendre.legvander,
    ),
}


def rule(basis: Basis | str) -> BasisRule:
    """The rule of ``basis`` (a name is parsed: an unknown one lists the known)."""
    return RULES[Basis.parse(basis)]


def terms(basis: Basis | str, t: Any, degree: int, one: Any) -> list[Any]:
    """Basis functions 0..D at ``t`` by the recurrence, ``one`` being the 1 of t's kind."""
    chosen = rule(basis)
    cols = [one]
    for j in range(1, degree + 1):
        cols.append(chosen.next_term(j, t, cols[j - 1], cols[j - 2] if j >= 2 else 0 * one))
    return cols
