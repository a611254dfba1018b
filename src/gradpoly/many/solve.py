"""The closed-form solve of many series: batched Gram systems where they are well conditioned,
SVD least squares of the design where not (one SVD for every clean series of a shared axis),
and one rank-deficiency verdict (:func:`gradpoly.problem.rank_trouble`) for all."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import constraints
from gradpoly import monotone as shapes
from gradpoly.batched.shared import SharedGram
from gradpoly.gram import Gram
from gradpoly.many.inputs import Points, SharedInput, shared_points
from gradpoly.mapping import features, mapped
from gradpoly.options import Basis
from gradpoly.problem import RANK_CONDITION, SvdSolver, rank_trouble

FloatArray = npt.NDArray[np.float64]


NORMAL_EQUATIONS_CONDITION = 1e6
"""Largest condition number of G for which its normal equations are solved as they are
(relative error about cond(G) * 1e-16 = 1e-10); above it a series is solved by QR."""


def solve_gram(
    gram: Gram,
    points: Points,
    basis: Basis,
    valid: npt.NDArray[np.bool_],
    problems: dict[int, str],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Each valid series' least-squares coefficients, the condition number of its design
    (an upper bound for series whose bound is small; exact for the others) and ``G^-1``
    where it was formed (NaN elsewhere), which the statistics reuse.

    Well-conditioned series solve their Gram system ``G w = c`` (batched); a series whose G is
    worse than :data:`NORMAL_EQUATIONS_CONDITION` is solved again from its own points by SVD
    least squares of the design (as ``lstsq`` does), so its accuracy is that of a QR, not the
    squared condition number of the normal equations. A series whose design is numerically
    rank deficient is marked invalid with the reason.
    """
    size = gram.g.shape[1]
    eye = np.eye(size)
    safe = np.where(valid[:, None, None], gram.g, eye)
    with np.errstate(all="ignore"):
        # invert first: cond_1(G) = |G|_1 |G^-1|_1 is then two column sums away
        inverse = gram_inverses(safe)
        # G and G^-1 are symmetric: their 1-norms are the row sums' maximum
        cond = one_norms(safe) * one_norms(inverse)  # NaN/inf inverse: not finite
        cond = np.where(np.isfinite(cond), cond, np.inf)
    # cond_2 <= size * cond_1: accept the normal equations where cond_2(G) <= 1e6 for sure
    bound = size * cond
    easy = valid & (bound <= NORMAL_EQUATIONS_CONDITION)
    condition = np.where(valid, np.sqrt(bound), np.nan)  # the design's: sqrt of G's
    w = np.asarray(np.einsum("bij,bj->bi", inverse, gram.c), dtype=np.float64)
    if not easy.all():
        w[~easy] = np.nan
        inverse[~easy] = np.nan
    for b in np.flatnonzero(valid & ~easy).tolist():
        w[b], condition[b] = svd_solve(*points(b), gram.domains[b], basis, eye.shape[0] - 1)
        trouble = rank_trouble(float(condition[b]), basis)
        if trouble is not None:
            valid[b] = False
            problems[b] = trouble
    return w, condition, inverse


CHOLESKY_BLOCK = 8192
"""Series taken together by the batched small-matrix steps (:func:`cholesky_inverses`,
:func:`one_norms`): each step's temporaries then stay in cache. Unblocked, the Cholesky of a
million series made ~100 passes over 8 MB arrays in memory: 1.4 s, where the blocks take
about a tenth (same numbers)."""


def one_norms(matrices: FloatArray) -> FloatArray:
    """Each matrix's largest absolute row sum (its 1-norm where it is symmetric), the row
    sums as one matrix-vector product over every row of a block of matrices (blocks of
    :data:`CHOLESKY_BLOCK`, in cache: a million 4 x 4 matrices 2.4x faster, same numbers)."""
    count, rows, cols = matrices.shape
    out = np.empty(count)
    ones = np.ones(cols)
    for start in range(0, count, CHOLESKY_BLOCK):
        part = np.abs(matrices[start : start + CHOLESKY_BLOCK]).reshape(-1, cols)
        sums = (part @ ones).reshape(-1, rows)
        top = sums[:, 0].copy()
        for k in range(1, rows):  # the largest across the rows, one column at a time
            np.maximum(top, sums[:, k], out=top)
        out[start : start + CHOLESKY_BLOCK] = top
    return out


SMALL_ORDER, MANY_SERIES = 8, 256
"""Up to this order, and from this many series, G is inverted by :func:`cholesky_inverses`."""


def gram_inverses(matrices: FloatArray) -> FloatArray:
    """Each Gram matrix's inverse, NaN where it is singular (or, for the Cholesky path, not
    positive definite: such a G is solved again from its points, as an ill-conditioned one)."""
    count, order = matrices.shape[0], matrices.shape[1]
    if order <= SMALL_ORDER and count >= MANY_SERIES:
        return cholesky_inverses(matrices)
    try:
        return np.asarray(np.linalg.inv(matrices), dtype=np.float64)
    except np.linalg.LinAlgError:  # an exactly singular G somewhere: each one alone
        return inverses(matrices)


def cholesky_inverses(matrices: FloatArray) -> FloatArray:
    """``G^-1 = L^-T L^-1`` of each symmetric positive definite G (B, n, n) by Cholesky, each
    scalar step one vector operation across a block of series: for small n about 3x NumPy's
    batched ``inv``, which pays one LAPACK call per matrix. NaN where G is not positive
    definite. Backward stable, as Cholesky is, without pivoting."""
    count, n = matrices.shape[0], matrices.shape[1]
    out = np.empty((count, n, n))
    for start in range(0, count, CHOLESKY_BLOCK):
        stop = min(start + CHOLESKY_BLOCK, count)
        finite = _cholesky_block(matrices[start:stop], out[start:stop])
        out[start:stop][~finite] = np.nan  # a zero pivot gives inf: singular
    return out


def _cholesky_block(matrices: FloatArray, out: FloatArray) -> npt.NDArray[np.bool_]:
    """:func:`cholesky_inverses` of one block of series, written into ``out``; returns
    which inverses are finite in every entry."""
    n = matrices.shape[1]
    finite = np.ones(matrices.shape[0], dtype=bool)
    a = np.ascontiguousarray(np.moveaxis(matrices, 0, -1))  # (n, n, B): contiguous entries
    low: list[list[Any]] = [[None] * n for _ in range(n)]
    inv: list[list[Any]] = [[None] * n for _ in range(n)]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for j in range(n):
            pivot = a[j, j].copy()
            for k in range(j):
                pivot -= low[j][k] * low[j][k]
            low[j][j] = np.sqrt(pivot)  # NaN where G is not positive definite
            scale = 1.0 / low[j][j]
            for i in range(j + 1, n):
                entry = a[i, j].copy()
                for k in range(j):
                    entry -= low[i][k] * low[j][k]
                low[i][j] = entry * scale
        for i in range(n):  # L^-1 by forward substitution
            inv[i][i] = 1.0 / low[i][i]
            for j in range(i):
                entry = low[i][j] * inv[j][j]
                for k in range(j + 1, i):
                    entry = entry + low[i][k] * inv[k][j]
                inv[i][j] = -entry * inv[i][i]
        for i in range(n):  # (L^-T L^-1)[i, j] = sum over k >= i of L^-1[k, i] L^-1[k, j]
            for j in range(i + 1):
                entry = inv[i][i] * inv[i][j]
                for k in range(i + 1, n):
                    entry = entry + inv[k][i] * inv[k][j]
                out[:, i, j] = entry
                out[:, j, i] = entry
                finite &= np.isfinite(entry)
    return finite


def inverses(matrices: FloatArray) -> FloatArray:
    """Each matrix's inverse, NaN where it is singular (the batched call refuses them all)."""
    out = np.full_like(matrices, np.nan)
    for b, matrix in enumerate(matrices):
        try:
            out[b] = np.linalg.inv(matrix)
        except np.linalg.LinAlgError:
            continue
    return out


def svd_solve(
    x: FloatArray,
    y: FloatArray,
    weights: FloatArray | None,
    domain: FloatArray,
    basis: Basis,
    degree: int,
) -> tuple[FloatArray, float]:
    """SVD least squares of the weighted design on ``x`` (points of zero weight left out,
    columns scaled to unit norm) for y of shape (N,) or (N, K), and the design's condition
    number: one series solved from its points, or every clean series of a shared axis."""
    used = np.ones(x.shape, dtype=bool) if weights is None else weights > 0
    root = np.ones(int(used.sum())) if weights is None else np.sqrt(weights[used])
    t = mapped(x[used][None, :], domain[None, :], basis)[0]
    a = np.stack(features(np, basis, t, degree), axis=1) * root[:, None]
    solver = SvdSolver.of(a)
    return solver.solve(y[used] * (root if y.ndim == 1 else root[:, None])), solver.condition


def shared_solve(
    data: SharedInput,
    found: SharedGram,
    basis: Basis,
    valid: npt.NDArray[np.bool_],
    problems: dict[int, str],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Clean series from one factorisation of the shared G (one matrix product over their c);
    gapped series as in :func:`solve_gram`. Same returns as :func:`solve_gram`."""
    gram = found.gram
    count, size = gram.c.shape
    w = np.full((count, size), np.nan)
    condition = np.full(count, np.nan)
    inverse = np.full((count, size, size), np.nan)
    clean = ~found.gapped & valid
    if clean.any():
        eig = np.linalg.eigvalsh(found.shared_g)
        ratio = float(eig[-1] / eig[0]) if eig[0] > 0 else float("inf")
        if ratio <= NORMAL_EQUATIONS_CONDITION:
            shared_inverse = np.linalg.inv(found.shared_g)
            if clean.all():  # every series: whole arrays, no gather and scatter by rows
                w = gram.c @ shared_inverse.T
                inverse[:] = shared_inverse
                condition[:] = np.sqrt(ratio)
            else:
                w[clean] = gram.c[clean] @ shared_inverse.T
                inverse[clean] = shared_inverse
                condition[clean] = np.sqrt(ratio)
        else:  # ill-conditioned axis: one SVD of the design serves every clean series
            solved, condition[clean] = svd_solve(
                data.x, data.y[clean].T, data.weights, gram.domains[0], basis, size - 1
            )
            w[clean] = solved.T
            trouble = rank_trouble(float(condition[np.flatnonzero(clean)[0]]), basis)
            if trouble is not None:
                for b in np.flatnonzero(clean).tolist():
                    valid[b] = False
                    problems[b] = trouble
    rows = np.flatnonzero(found.gapped & valid)
    points = shared_points(data)
    if rows.size == count:  # every series gapped (a map with gaps): no gather and scatter
        return solve_gram(gram, points, basis, valid, problems)
    if rows.size:
        part = Gram(gram.g[rows], gram.c[rows], gram.s[rows], gram.domains[rows])
        sub_valid = np.ones(rows.size, dtype=bool)
        sub_problems: dict[int, str] = {}
        wr, cr, ir = solve_gram(
            part, lambda k: points(int(rows[k])), basis, sub_valid, sub_problems
        )
        w[rows], condition[rows], inverse[rows] = wr, cr, ir
        valid[rows] = sub_valid
        problems.update({int(rows[k]): why for k, why in sub_problems.items()})
    return w, condition, inverse


def monotone_solve(
    gram: Gram,
    w: FloatArray,
    inverse: FloatArray,
    basis: Basis,
    sign: float,
    valid: npt.NDArray[np.bool_],
    problems: dict[int, str],
    by: shapes.Shapes,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """Every valid series kept monotone on its domain (:mod:`gradpoly.monotone`): those whose
    least-squares fit ``w`` already is are certified in one batch and kept; the others are
    solved by the certified shape-constrained fit from their Gram statistics, their batched
    steps run ``by`` the backend's :meth:`~gradpoly.batched.base.BatchEngine.shapes`.
    Returns the coefficients, the statistics' ``G^-1`` shapes and each series' count of
    binding zero-slope constraints."""
    w, inverse = np.array(w), np.array(inverse)  # rows are replaced
    counts = np.zeros(w.shape[0], dtype=np.int64)
    rows = np.flatnonzero(valid)
    if not rows.size:
        return w, inverse, counts
    bent = rows[~shapes.certified(w[rows], basis, sign, by)]
    solved = shapes.solve_all(gram.g[bent], gram.c[bent], basis, sign, by, w[bent])
    for b in bent[~solved.found].tolist():
        valid[b] = False
        problems[b] = "no monotone fit could be certified; lower the degree"
    index = bent[solved.found]
    if index.size:
        w[index] = solved.w[solved.found]
        inverse[index], counts[index] = shapes.covariance_shapes(
            gram.g[index], solved.rows[solved.found]
        )
    return w, inverse, counts


def reduce(
    gram: Gram,
    found: constraints.Constraints,
    basis: Basis,
    scale: float,
    valid: npt.NDArray[np.bool_],
    problems: dict[int, str],
) -> constraints.Reduction:
    """The constraints' null space for every series (one for a shared axis), y divided by
    ``scale``; a series whose constraints are dependent on its domain is marked invalid."""
    size = gram.c.shape[1]
    domains = gram.domains
    one = bool(np.isnan(domains).all() or (domains == domains[:1]).all())  # a shared axis
    c_matrix, d = constraints.equations(found, domains[:1] if one else domains, basis, size)
    reduction = constraints.null_space(c_matrix, d / scale)  # one for all, or per series
    independent = np.broadcast_to(reduction.independent, valid.shape)
    for b in np.flatnonzero(valid & ~independent).tolist():
        valid[b] = False
        problems[b] = f"its constraints ({found.describe()}) {constraints.DEPENDENT}"
    return reduction


def constrained_solve(
    gram: Gram,
    found: constraints.Constraints,
    basis: Basis,
    scale: float,
    valid: npt.NDArray[np.bool_],
    problems: dict[int, str],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The constrained least squares of every series (:mod:`gradpoly.constraints`): the
    normal equations of the free coefficients, batched, with the one conditioning verdict.
    Returns the basis coefficients, the reduced design's condition number and the
    constrained ``N (N'GN)^-1 N'`` for the statistics. ``scale``: the power of two y (and so
    each constraint's value) was divided by."""
    size = gram.c.shape[1]
    reduction = reduce(gram, found, basis, scale, valid, problems)
    free = size - found.count
    count = gram.c.shape[0]
    if free == 0:  # the constraints fix every coefficient
        particular = np.broadcast_to(reduction.particular, (count, size)).copy()
        return particular, np.ones(count), np.zeros((count, size, size))
    reduced = reduction.gram(gram)
    eye = np.eye(free)
    first = reduced.g[:1]
    if reduction.shared and bool((reduced.g == first).all()):  # one axis, no gaps: one G
        safe = first if bool(valid.any()) else eye[None]
    else:
        safe = np.where(valid[:, None, None], reduced.g, eye)
    with np.errstate(all="ignore"):
        inverse = gram_inverses(safe)
        bound = free * one_norms(safe) * one_norms(inverse)
    condition = np.sqrt(np.where(np.isfinite(bound), bound, np.inf))
    if safe.shape[0] != count:  # every series shares the factorisation
        inverse = np.broadcast_to(inverse, (count, free, free))
        condition = np.broadcast_to(condition, (count,))
    for b in np.flatnonzero(valid & ~(condition <= RANK_CONDITION)).tolist():
        valid[b] = False
        problems[b] = str(rank_trouble(float(condition[b]), basis))
    z = np.einsum("bij,bj->bi", inverse, reduced.c)
    w = reduction.full(z)
    if inverse.strides[0] == 0:  # shared: N H N' once, seen by every series
        full = reduction.inverse(np.ascontiguousarray(inverse[:1]))
        return w, np.where(valid, condition, np.nan), np.broadcast_to(full, (count, size, size))
    return w, np.where(valid, condition, np.nan), reduction.inverse(inverse)
