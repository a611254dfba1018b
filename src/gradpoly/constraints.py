"""Equality constraints on a fitted polynomial, exact in closed form: fixed coefficients (a
line through the origin, only some terms), points the curve passes through, slopes it has.

Each constraint is a linear equation ``C w = d`` in the fit's basis coefficients on each
series' mapped domain. The fit is solved by the null-space method: ``w = w_p + N z`` with
``w_p`` the least-norm solution of the constraints and N an orthonormal basis of their null
space (an SVD of C), so the constrained least squares is an unconstrained one in z, and its
Gram statistics are ``N'GN``, ``N'(c - G w_p)`` and ``s - 2 c.w_p + w_p'G w_p``: the
batched solve, its verdict and the statistics (K fewer free coefficients: dof = n - (D+1) +
K; the fixed combinations have zero variance) all follow from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import mapping, rowwise, threads, validation
from gradpoly.errors import InvalidOptionError
from gradpoly.gram import Gram
from gradpoly.options import Basis

FloatArray = npt.NDArray[np.float64]

DEPENDENT = (
    "are not independent (one repeats or contradicts another, or asks what the degree cannot "
    "give, such as a slope of a constant), or lie too far from the data for float64"
)
"""Why a set of constraints is refused."""

INDEPENDENT = 1e-10
"""Constraints whose matrix has a singular value below this times its largest are dependent
(one repeats or contradicts another): refused, named."""


@dataclass(frozen=True)
class Constraints:
    """What a fit must satisfy: ``fixed`` monomial coefficients ``{power: value}``, points
    ``through`` ``((x, y), ...)`` and slopes ``((x, dy/dx), ...)``."""

    fixed: tuple[tuple[int, float], ...] = ()
    through: tuple[tuple[float, float], ...] = ()
    slope: tuple[tuple[float, float], ...] = ()

    @property
    def count(self) -> int:
        """K, the number of equations."""
        return len(self.fixed) + len(self.through) + len(self.slope)

    def describe(self) -> str:
        """One line, for reports."""
        parts = [f"x^{p} = {v:g}" for p, v in self.fixed]
        parts += [f"through ({x:g}, {y:g})" for x, y in self.through]
        parts += [f"slope {s:g} at {x:g}" for x, s in self.slope]
        return ", ".join(parts)


def parse(fixed: Any, through: Any, slope: Any, degree: int) -> Constraints | None:
    """The constraints of a front door's ``fixed=``, ``through=``, ``slope=``, checked (None
    when there are none): powers within the degree, finite numbers, at most D+1 of them."""
    pinned: list[tuple[int, float]] = []
    if fixed is not None:
        if not isinstance(fixed, Mapping):
            raise InvalidOptionError(
                f"fixed must map powers to values, e.g. {{0: 0.0}} (through the origin), "
                f"got {fixed!r}"
            )
        for power, value in fixed.items():
            p = validation.degree(power)
            if p > degree:
                raise InvalidOptionError(f"fixed power {p} is above the degree {degree}")
            pinned.append((p, validation.real(f"fixed[{p}]", value)))
    found = Constraints(tuple(sorted(pinned)), _pairs("through", through), _pairs("slope", slope))
    if found.count == 0:
        return None
    if found.count > degree + 1:
        raise InvalidOptionError(
            f"{found.count} constraints for {degree + 1} coefficients: at most {degree + 1}"
        )
    return found


def _pairs(name: str, values: Any) -> tuple[tuple[float, float], ...]:
    """``((x, value), ...)`` from a sequence of pairs (or one pair), finite."""
    if values is None:
        return ()
    if not isinstance(values, Sequence | np.ndarray) or isinstance(values, str):
        raise InvalidOptionError(
            f"{name} takes (x, value) pairs, e.g. [(1.0, 2.0)], got {values!r}"
        )
    if len(values) == 2 and not isinstance(values[0], Sequence | np.ndarray):
        values = [values]  # one pair
    out = []
    for item in values:
        if not isinstance(item, Sequence | np.ndarray) or len(item) != 2:
            raise InvalidOptionError(f"{name} takes (x, value) pairs, got {item!r}")
        out.append((validation.real(f"{name} x", item[0]), validation.real(name, item[1])))
    return tuple(out)


def equations(
    found: Constraints, domains: FloatArray, basis: Basis, size: int
) -> tuple[FloatArray, FloatArray]:
    """``C`` (B, K, S) and ``d`` (K,): the constraints as equations in each series' basis
    coefficients on its domain (monomials: unmapped)."""
    count = domains.shape[0]
    rows: list[FloatArray] = []
    if found.fixed:
        convert = mapping.monomial_matrices(domains, basis, size)  # monomial = M @ basis
        rows += [convert[:, p, :] for p, _ in found.fixed]
    mid, half = _affine(domains, basis)
    powers_of = mapping.in_t(basis, size)  # basis -> powers of t
    for x0, _ in found.through:
        t = (x0 - mid) / half
        rows.append(_powers(t, size) @ powers_of)
    for x0, _ in found.slope:
        t = (x0 - mid) / half
        slopes = _powers(t, size - 1) * np.arange(1, size)  # d t^j / dt = j t^(j-1)
        rows.append((slopes @ powers_of[1:]) / half[:, None])
    values = [v for _, v in found.fixed] + [y for _, y in found.through]
    values += [s for _, s in found.slope]
    return np.stack(rows, axis=1).reshape(count, len(values), size), np.asarray(values)


def _affine(domains: FloatArray, basis: Basis) -> tuple[FloatArray, FloatArray]:
    """Each series' mid and half width (0 and 1 for monomials: x unmapped)."""
    if basis is Basis.MONOMIAL:
        return np.zeros(domains.shape[0]), np.ones(domains.shape[0])
    return 0.5 * domains[:, 0] + 0.5 * domains[:, 1], 0.5 * domains[:, 1] - 0.5 * domains[:, 0]


def _powers(t: FloatArray, size: int) -> FloatArray:
    """(B, size): ``t^0 .. t^(size-1)``."""
    return np.asarray(np.power.outer(t, np.arange(size)), dtype=np.float64)


@dataclass(frozen=True)
class Reduction:
    """The null-space form of the constraints of B fits: ``w = particular + null @ z``."""

    particular: FloatArray
    """(B, S): the least-norm solution of the constraints."""
    null: FloatArray
    """(B, S, S-K): orthonormal columns spanning the constraints' null space."""
    independent: npt.NDArray[np.bool_]
    """Series whose constraints are independent (on their domain)."""

    @property
    def shared(self) -> bool:
        """One null space for every series (a shared axis): products become one BLAS call."""
        return self.null.shape[0] == 1

    def full(self, z: FloatArray) -> FloatArray:
        """The basis coefficients w (B, S) of free coefficients z (B, S-K)."""
        if self.shared:
            return np.asarray(self.particular + z @ self.null[0].T)
        return np.asarray(self.particular + np.matmul(self.null, z[:, :, None])[:, :, 0])

    def inverse(self, reduced_inverse: FloatArray) -> FloatArray:
        """``N (N'GN)^-1 N'`` (B, S, S): the constrained fit's covariance shape."""
        if self.shared:
            return _sandwich(reduced_inverse, self.null[0].T)
        return np.asarray(
            np.matmul(np.matmul(self.null, reduced_inverse), np.swapaxes(self.null, 1, 2))
        )

    def gram(self, gram: Gram) -> Gram:
        """The Gram statistics of the free coefficients: ``N'GN``, ``N'(c - G w_p)`` and
        ``s - 2 c.w_p + w_p'G w_p`` (the same residuals, in z)."""
        g, c, p = gram.g, gram.c, self.particular  # null and p: (B, ...) or one for all (1, ...)
        if self.shared:
            n, w = self.null[0], p[0]
            gp = g @ w  # (B, S)
            return Gram(
                _sandwich(g, n),
                (c - gp) @ n,
                gram.s - 2.0 * (c @ w) + gp @ w,
                gram.domains,
            )
        gp = np.matmul(g, p[:, :, None])[:, :, 0]
        across = np.swapaxes(self.null, 1, 2)
        return Gram(
            np.matmul(np.matmul(across, g), self.null),
            np.matmul(across, (c - gp)[:, :, None])[:, :, 0],
            gram.s - 2.0 * np.sum(c * p, axis=1) + np.sum(p * gp, axis=1),
            gram.domains,
        )


@threads.one_blas_thread()  # threads left spinning would slow the next numba kernel
def _sandwich(matrices: FloatArray, n: FloatArray) -> FloatArray:
    """``n' M n`` for each of B matrices M (B, S, S) and one n (S, F): one BLAS product of
    the flattened matrices with ``kron(n, n)``."""
    count, size, free = matrices.shape[0], n.shape[0], n.shape[1]
    flat = matrices.reshape(count, size * size) @ np.kron(n, n)
    return np.asarray(flat.reshape(count, free, free), dtype=np.float64)


def null_space(c_matrix: FloatArray, d: FloatArray) -> Reduction:
    """The least-norm solution and the orthonormal null space of ``C w = d`` for each series
    (one SVD of C each); dependent constraints are flagged (:data:`INDEPENDENT`)."""
    k = c_matrix.shape[1]
    finite = rowwise.finite(c_matrix)
    safe = np.where(finite[:, None, None], c_matrix, 0.0)
    u, singular, vt = np.linalg.svd(safe, full_matrices=True)
    top = np.maximum(singular[:, :1], 1e-300)
    kept = singular > INDEPENDENT * top
    independent = rowwise.every(kept) & finite
    inverse = np.where(kept, 1.0 / np.where(kept, singular, 1.0), 0.0)
    particular = np.einsum("bji,bj,bkj,k->bi", vt[:, :k, :], inverse, u, d)
    null = np.ascontiguousarray(np.transpose(vt[:, k:, :], (0, 2, 1)))
    return Reduction(particular, null, independent)
