"""The one convergence test: how far B fits' coefficients are from their optimum, and whether
float64 can confirm it.

On the quadratic loss ``w - w* = H^+ grad`` exactly (H the loss Hessian ``2 G``), so the
error of the monomial coefficients is ``M H^+ grad`` (M the basis-to-monomial matrix) and of
the basis ones ``H^+ grad``: the estimate follows the conditioning of both the fit and the
conversion, not merely a small gradient. Its rounding floor is the gradient's own rounding,
``2 eps (|G| |w| + |c|)``, carried through the same maps. Where H has curvatures below
:data:`gradpoly.rates.MU_FLOOR` of its largest, the coefficients along those directions are
not determined by float64 arithmetic at all: no estimate can confirm them (``resolved`` is
False). ``fit`` (B = 1) and ``fit_many`` call these functions; nothing else estimates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from gradpoly import mapping, rates, rowwise
from gradpoly.options import Basis

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ErrorMap:
    """What the estimates need of B fits' Gram matrices, computed once per fit.

    ``inverse`` (B, K, K) is H^+ beyond the numerical null space, ``to_monomial`` (B, K, K)
    the conversion, ``norms`` (B, 3) the 2-norms ``[|G|, |H^+|, |M H^+|]``, and ``resolved``
    (B,) whether every curvature of H is above the null-space floor.
    """

    inverse: FloatArray
    to_monomial: FloatArray
    norms: FloatArray
    resolved: npt.NDArray[np.bool_]
    expand: FloatArray | None = None
    """A constrained fit's loop runs on free coefficients z of ``w = particular + null z``:
    ``null`` (B, S, K) here, so the errors are those of w and of its monomials."""
    particular: FloatArray | None = None
    """(B, S): the particular solution of those constraints."""
    offset: FloatArray | None = None
    """(B, S): its monomial coefficients (``to_monomial`` then maps z alone)."""

    @classmethod
    def of(
        cls,
        g: FloatArray,
        domains: FloatArray,
        basis: Basis,
        null: FloatArray | None = None,
        particular: FloatArray | None = None,
    ) -> ErrorMap:
        """The map of Gram matrices ``g`` (B, K, K) on ``domains`` (B, 2) in ``basis``; for a
        constrained fit, of its free coefficients (``null`` (B, S, K), ``particular`` (B, S)).
        Where every series has one matrix and domain (a shared axis), it is made once."""
        if null is None and rates.shared_rows(g, domains):
            one = cls.of(g[:1], domains[:1], basis)
            count = g.shape[0]
            return replace(
                one,
                norms=np.repeat(one.norms, count, axis=0),
                resolved=np.repeat(one.resolved, count, axis=0),
            )  # inverse and to_monomial (1, K, K): each product broadcasts them
        lam, q = np.linalg.eigh(2.0 * g)
        top = lam[:, -1:]
        keep = lam > rates.MU_FLOOR * top
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            scaled = np.where(keep, 1.0 / np.where(keep, lam, 1.0), 0.0)
            inverse = (q * scaled[:, None, :]) @ np.swapaxes(q, 1, 2)
            size = g.shape[-1] if null is None else null.shape[1]
            to_monomial = mapping.monomial_matrices(domains, basis, size)
            offset = None
            if null is not None and particular is not None:
                offset = np.matmul(to_monomial, particular[:, :, None])[:, :, 0]
                to_monomial = to_monomial @ null
            both = to_monomial @ inverse
            smallest = np.where(keep, lam, np.inf).min(axis=1)
            norms = np.stack(
                [
                    top[:, 0] / 2.0,
                    np.where(np.isfinite(smallest), 1.0 / smallest, 0.0),
                    _spectral_norms(both),
                ],
                axis=1,
            )
        resolved = rowwise.every(keep)
        return cls(inverse, to_monomial, norms, resolved, null, particular, offset)


def _spectral_norms(matrices: FloatArray) -> FloatArray:
    """Each matrix's 2-norm (inf where it is not finite)."""
    finite = rowwise.finite(matrices)
    out = np.full(matrices.shape[0], np.inf)
    if finite.any():
        # norm(ord=2)'s own computation (the largest singular value), without its set-up;
        # every matrix finite (the common case): no gather
        kept = matrices if finite.all() else matrices[finite]
        out[finite] = np.linalg.svd(kept, compute_uv=False).max(axis=-1)
    return out


def estimates(
    errors_of: ErrorMap, g: FloatArray, c: FloatArray, w: FloatArray, eps: float
) -> tuple[FloatArray, FloatArray]:
    """``(errors, floors)``, each (B, 2): the estimated relative errors of the monomial and the
    basis coefficients at ``w`` (B, K), and their rounding floors for a loop whose arithmetic
    has unit roundoff ``eps`` (inf errors where not finite)."""
    grad = 2.0 * (np.matmul(g, w[:, :, None])[:, :, 0] - c)
    step = np.matmul(errors_of.inverse, grad[:, :, None])  # (B, K, 1)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        pair = np.concatenate([w[:, :, None], step], axis=2)  # (B, K, 2): w and its step
        full = pair
        if errors_of.expand is not None and errors_of.particular is not None:
            full = np.matmul(errors_of.expand, pair)
            full[:, :, 0] += errors_of.particular
        mono = np.matmul(errors_of.to_monomial, pair)
        if errors_of.offset is not None:
            mono[:, :, 0] += errors_of.offset
        # 2-norms of [monomial w, full w] (sizes) and of [monomial step, full step] (lengths)
        norms = np.sqrt(
            np.concatenate(
                [
                    np.sum(mono * mono, axis=1, keepdims=True),
                    np.sum(full * full, axis=1, keepdims=True),
                ],
                axis=1,
            )
        )
        sizes, lengths = norms[:, :, 0], norms[:, :, 1]
        loop_size = np.sqrt(np.sum(w * w, axis=1))
        noise = 2.0 * eps * (errors_of.norms[:, 0] * loop_size + np.sqrt(np.sum(c * c, axis=1)))
        errors = np.where(lengths == 0, 0.0, lengths / sizes)
        floors = errors_of.norms[:, [2, 1]] * noise[:, None] / sizes
    return np.where(np.isnan(errors), np.inf, errors), np.where(np.isnan(floors), 0.0, floors)


def judged(errors: FloatArray, floors: FloatArray, resolved: npt.NDArray[np.bool_], tol: float
           ) -> npt.NDArray[np.bool_]:  # fmt: skip
    """Whether each fit is converged for ``tol`` from its float64 :func:`estimates`: both
    estimated errors at most tol, float64's own floor at most tol (below it the estimate can
    read anything), and every direction of H resolved."""
    return rowwise.every(np.maximum(errors, floors) <= tol) & resolved


def confirmed(
    errors_of: ErrorMap, g: FloatArray, c: FloatArray, w: FloatArray, tol: float
) -> npt.NDArray[np.bool_]:
    """Whether each fit is converged for ``tol``: both estimated errors at most tol, float64's
    own floor at most tol (below it the estimate can read anything), and every direction of
    H resolved. This is what "converged" means on every path."""
    errors, floors = estimates(errors_of, g, c, w, float(np.finfo(np.float64).eps))
    return judged(errors, floors, errors_of.resolved, tol)
