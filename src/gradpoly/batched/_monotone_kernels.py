"""Numba kernels of :mod:`gradpoly.monotone`'s exchange method and certificate: each curve's
rounds in one compiled loop, by the same rules as the batched NumPy loop
(:func:`gradpoly.monotone.exchange`), which stays the reference and serves small batches.
The GIL is released: the caller splits the curves across cores (``parallel=True`` would
double the cold compile, about 14 s already).

NumPy pays a dozen batched passes over every running curve per round (KKT assembly and two
solves, companion eigenvalues, derivative rows); here a curve's round is a few hundred flops
in cache. The real roots of ``p''`` inside (-1, 1) come from isolation by the roots of its
own derivatives (between two neighbouring roots of ``q'``, ``q`` is monotone: one sign change,
one root, found by safeguarded Newton), not from companion eigenvalues, which numba's
``eigvals`` refuses for real matrices with complex eigenvalues.
"""

import numpy as np
from numba import njit

from gradpoly.batched._numba_kernels import cholesky, cholesky_solve

LEFT, SETTLED = 0, 1
"""A curve's outcome: left to the cutting planes (a singular system, or no settlement within
the rounds), or settled (the optimum found)."""


@njit(cache=True)
def _horner(coef, count, t):
    """The power series ``coef[:count]`` at t."""
    out = 0.0
    for k in range(count - 1, -1, -1):
        out = out * t + coef[k]
    return out


@njit(cache=True)
def _root(coef, count, lo, hi, flo):
    """The one root in [lo, hi] of the power series ``coef[:count]``, which changes sign there
    (``flo`` its value at lo): Newton's steps, bisection where a step leaves the bracket, until
    the value is within Horner's rounding bound (no float nearer is known to be better)."""
    x = 0.5 * lo + 0.5 * hi
    for _ in range(200):
        f, df, bound = 0.0, 0.0, 0.0
        for k in range(count - 1, -1, -1):
            df = df * x + f
            f = f * x + coef[k]
            bound = bound * abs(x) + abs(coef[k])
        if abs(f) <= 4.5e-16 * count * bound:
            return x
        if (f < 0.0) == (flo < 0.0):
            lo, flo = x, f
        else:
            hi = x
        step = x - f / df if df != 0.0 else np.nan
        if not (lo < step < hi):
            step = 0.5 * lo + 0.5 * hi
            if not (lo < step < hi):
                return x  # the bracket is two neighbouring floats
        if abs(step - x) <= 2.2e-16 * max(abs(step), 1e-3):
            return step
        x = step
    return x


@njit(cache=True)
def roots_inside(q, count, chain, found, spare):
    """The real roots inside (-1, 1) of the power series ``q[:count]``, sorted, written to
    ``found``; returns how many. Scratch: ``chain`` (count, count), ``spare`` (count,).
    Roots of even multiplicity (no sign change) are not reported: at such a root of ``p''``
    the slope has no extremum."""
    degree = count - 1
    if degree < 1:
        return 0
    for i in range(count):
        chain[0, i] = q[i]
    for j in range(1, degree):  # chain[j]: the j-th derivative, count - j coefficients
        for i in range(count - j):
            chain[j, i] = (i + 1) * chain[j - 1, i + 1]
    known = 0
    a0, a1 = chain[degree - 1, 0], chain[degree - 1, 1]  # the last: linear
    if a1 != 0.0:
        r = -a0 / a1
        if -1.0 < r < 1.0:
            found[0] = r
            known = 1
    for j in range(degree - 2, -1, -1):  # between the roots of its derivative, each is monotone
        terms = count - j
        made = 0
        a = -1.0
        fa = _horner(chain[j], terms, a)
        for k in range(known + 1):
            b = found[k] if k < known else 1.0
            fb = _horner(chain[j], terms, b)
            if fa == 0.0 and a > -1.0:
                spare[made] = a
                made += 1
            elif (fa < 0.0 < fb) or (fb < 0.0 < fa):
                spare[made] = _root(chain[j], terms, a, b, fa)
                made += 1
            a, fa = b, fb
        for k in range(made):
            found[k] = spare[k]
        known = made
    return known


@njit(cache=True)
def _rows(powers, t, order, out):
    """``out[j]``: the ``order``-th derivative in t of basis function j (column j of
    ``powers``, the basis in powers of t) at t; zero at NaN."""
    size = powers.shape[0]
    for j in range(size):
        out[j] = 0.0
    if np.isnan(t):
        return
    step = 1.0
    for k in range(order, size):
        falling = 1.0
        for i in range(order):
            falling *= k - i
        scale = step * falling
        for j in range(size):
            out[j] += scale * powers[k, j]
        step *= t


@njit(cache=True)
def _factor(a, n, pivots):
    """LU with partial pivoting of ``a[:n, :n]`` in place (LAPACK's getrf, unblocked); False
    at an exactly zero pivot, where NumPy's solve raises."""
    for k in range(n):
        p = k
        top = abs(a[k, k])
        for i in range(k + 1, n):
            if abs(a[i, k]) > top:
                p, top = i, abs(a[i, k])
        pivots[k] = p
        if a[p, k] == 0.0:
            return False
        if p != k:
            for j in range(n):
                a[k, j], a[p, j] = a[p, j], a[k, j]
        inverse = 1.0 / a[k, k]
        for i in range(k + 1, n):
            a[i, k] *= inverse
            factor = a[i, k]
            if factor != 0.0:
                for j in range(k + 1, n):
                    a[i, j] -= factor * a[k, j]
    return True


@njit(cache=True)
def _solve(lu, n, pivots, b):
    """Solves ``a x = b[:n]`` in place from :func:`_factor`'s ``lu`` and ``pivots``."""
    for k in range(n):
        p = pivots[k]
        if p != k:
            b[k], b[p] = b[p], b[k]
    for i in range(n):
        acc = b[i]
        for j in range(i):
            acc -= lu[i, j] * b[j]
        b[i] = acc
    for i in range(n - 1, -1, -1):
        acc = b[i]
        for j in range(i + 1, n):
            acc -= lu[i, j] * b[j]
        b[i] = acc / lu[i, i]


@njit(cache=True)
def _candidate_room(size):
    """Room for :func:`_candidates` of curves of ``size`` coefficients, allocated once per
    kernel call: (slope, second, third, chain, spare, places, values, minimum)."""
    choices = max(2, size - 1)  # the ends, and the roots of p'' inside: S - 3 at most
    return (np.empty(size), np.empty(size), np.empty(size), np.empty((size, size)),
            np.empty(size), np.empty(choices), np.empty(choices),
            np.zeros(choices, dtype=np.bool_))  # fmt: skip


@njit(cache=True)
def _candidates(w, powers, sign, room):
    """The ends and the roots of ``p''`` inside (-1, 1) (``places``, NaN-padded), ``sign * p'``
    there (``values``, inf at padding) and which are local minima of it (ends always; inside,
    where ``sign * p'''`` > 0): :func:`gradpoly.monotone._local_minima`'s candidates, written
    into ``room`` (:func:`_candidate_room`), every entry each call."""
    slope, second, third, chain, spare, places, values, minimum = room
    size = w.size
    for k in range(size - 1):  # p' as a power series in t
        acc = 0.0
        for j in range(size):
            acc += powers[k + 1, j] * w[j]
        slope[k] = (k + 1) * acc
    for i in range(size - 2):
        second[i] = (i + 1) * slope[i + 1]
    for i in range(size - 3):
        third[i] = (i + 1) * second[i + 1]
    places[0], places[1] = -1.0, 1.0
    for k in range(2, places.size):
        places[k] = np.nan
    if size >= 4:
        count = roots_inside(second, size - 2, chain, places[2:], spare)
        for k in range(2, 2 + count):
            minimum[k] = sign * _horner(third, size - 3, places[k]) > 0.0
    for k in range(places.size):
        if k < 2:
            minimum[k] = True
        if np.isnan(places[k]):
            values[k] = np.inf
            minimum[k] = False
        else:
            values[k] = sign * _horner(slope, size - 1, places[k])


@njit(cache=True)
def _least(values):
    """The least of a curve's candidate values (NaN if any is: a NaN curve is never
    certified), where it is, and the largest finite magnitude among them (the scale)."""
    lowest, where, scale = np.inf, 0, 0.0
    for k in range(values.size):
        if np.isnan(values[k]):
            return np.nan, k, scale
        if values[k] < lowest:
            lowest, where = values[k], k
        if np.isfinite(values[k]):
            scale = max(scale, abs(values[k]))
    return lowest, where, scale


@njit(cache=True, nogil=True)
def minimum_slope(w, powers, sign, lowest, place, scale):
    """:func:`gradpoly.monotone.minimum_slope` of every curve (B, S coefficients): the least
    ``sign * p'`` on [-1, 1], where it is (1.0 for a NaN curve), and the slope's scale."""
    count, size = w.shape
    room = _candidate_room(size)
    places, values = room[5], room[6]
    for b in range(count):
        _candidates(w[b], powers, sign, room)
        least, where, top = _least(values)
        lowest[b], scale[b] = least, top
        place[b] = 1.0 if np.isnan(places[where]) else places[where]


@njit(cache=True)
def _one_per_place(t, same_point):
    """Touch points without those that coincide with an earlier one (set NaN)."""
    for k in range(1, t.size):
        for j in range(k):
            if abs(t[j] - t[k]) <= same_point:
                t[k] = np.nan
                break


@njit(cache=True)
def _inverse(g, out):
    """``out = g^-1`` of a symmetric positive definite g by Cholesky; False where g is not."""
    size = g.shape[0]
    low = np.zeros((size, size))
    if not cholesky(g, low, 0.0):
        return False
    column = np.empty(size)
    for col in range(size):
        for i in range(size):
            column[i] = 1.0 if i == col else 0.0
        cholesky_solve(low, column)
        for i in range(size):
            out[i, col] = column[i]
    return True


@njit(cache=True)
def _times(left, right, rows, columns, inner, out):
    """``out[:rows, :columns] = left[:rows, :inner] @ right[:columns, :inner]'``."""
    for r in range(rows):
        for q in range(columns):
            acc = 0.0
            for i in range(inner):
                acc += left[r, i] * right[q, i]
            out[r, q] = acc


@njit(cache=True)
def _bordered(inverse, spread, lu, pivots, k, first, second, out, multipliers):
    """Solves the KKT system ``[G, -D'; D, 0] [x; m] = [first; second]`` of k active rows D
    by its Schur complement: ``x = G^-1 (first + D'm)`` with ``(D G^-1 D') m = second - D
    G^-1 first``; ``spread`` holds D G^-1 (k, S), ``lu`` and ``pivots`` the factors of
    D G^-1 D'. Writes x to ``out`` and m to ``multipliers``."""
    size = inverse.shape[0]
    for j in range(size):
        acc = 0.0
        for i in range(size):
            acc += inverse[j, i] * first[i]
        out[j] = acc
    for a in range(k):
        acc = second[a]
        for i in range(size):
            acc -= spread[a, i] * first[i]
        multipliers[a] = acc
    _solve(lu, k, pivots, multipliers)
    for j in range(size):
        acc = out[j]
        for a in range(k):
            acc += spread[a, j] * multipliers[a]
        out[j] = acc


@njit(cache=True, nogil=True)
def exchange(g, c, powers, sign, rounds, settle, certify, rounding, same_point, w_out, rows, state):
    """Every curve's exchange method (:func:`gradpoly.monotone.exchange`'s rules): its
    coefficients ``w_out`` (B, S), the slope rows ``sign * p'`` of its binding touch points
    (``rows`` (B, S-1, S), zero elsewhere: a positive multiplier binds) and its outcome
    ``state`` (B,): :data:`SETTLED`, or :data:`LEFT` for the cutting planes. ``rounding``:
    :func:`gradpoly.monotone.rounding_unit` (a slope within ``rounding`` of the largest
    coefficient, or of the least-squares fit's, counts as zero).

    NumPy solves the whole KKT system (an empty slot's multiplier pinned to 0 by an identity
    row); here only the k touch points in use enter, by the Schur complement of G, whose
    inverse is formed once per curve: the same system, a k x k factorisation a round."""
    count, size = c.shape
    slots = size - 1
    room = _candidate_room(size)  # rewritten whole by each call of _candidates
    places, values, minimum = room[5], room[6], room[7]
    choices = places.size
    for b in range(count):
        state[b] = LEFT
        inverse = np.empty((size, size))
        if not _inverse(g[b], inverse):
            continue
        active = np.empty(slots, dtype=np.int64)
        d = np.zeros((slots, size))
        spread = np.empty((slots, size))
        lu = np.empty((slots, slots))
        pivots = np.empty(slots, dtype=np.int64)
        multipliers = np.zeros(slots)  # by slot
        solved = np.empty(slots)  # by active row
        pulled = np.empty(slots)  # the multipliers' derivatives, unused
        zeros = np.zeros(slots)
        first = np.empty(size)
        moves = np.empty((slots, size))
        t = np.full(slots, np.nan)
        tr = np.empty(slots)
        curve = np.zeros((slots, size))
        bend = np.zeros(size)
        h = np.zeros(slots)
        newton = np.zeros(slots)
        jacobian = np.empty((slots, slots))
        jpivots = np.empty(slots, dtype=np.int64)
        interior = np.zeros(slots, dtype=np.bool_)
        nearest = np.zeros(slots, dtype=np.int64)
        tracked = np.zeros(slots, dtype=np.bool_)
        claimed = np.zeros(choices, dtype=np.bool_)
        w = w_out[b]
        level = 0.0  # the least-squares fit's largest coefficient: its rounding stays
        for i in range(size):
            acc = 0.0
            for j in range(size):
                acc += inverse[i, j] * c[b, j]
            level = max(level, abs(acc))
        for _ in range(rounds):
            k = 0  # the fit with zero slope at the touch points: its KKT system
            for slot in range(slots):
                if not np.isnan(t[slot]):
                    active[k] = slot
                    _rows(powers, t[slot], 1, d[k])
                    for j in range(size):
                        d[k, j] *= sign
                    k += 1
            _times(d, inverse, k, size, size, spread)  # D G^-1 (G^-1 symmetric)
            _times(spread, d, k, k, size, lu)  # D G^-1 D'
            if not _factor(lu, k, pivots):
                break
            _bordered(inverse, spread, lu, pivots, k, c[b], zeros, w, solved)
            finite = True
            for j in range(size):
                finite = finite and np.isfinite(w[j])
            if not finite:
                break
            for slot in range(slots):
                multipliers[slot] = 0.0
            top = 0.0
            for a in range(k):
                multipliers[active[a]] = solved[a]
                top = max(top, abs(solved[a]))
            leave = False
            worst, held = -1, np.inf
            for a in range(k):
                leave = leave or solved[a] < -1e-12 * max(top, 1e-300)
                if solved[a] < held:
                    worst, held = active[a], solved[a]
            _candidates(w, powers, sign, room)
            lowest, where, scale = _least(values)
            noise = rounding * level
            for j in range(size):
                noise = max(noise, rounding * abs(w[j]))
            if not leave and lowest >= -max(settle * scale, noise):
                for a in range(k):
                    if solved[a] > 0.0:
                        for j in range(size):
                            rows[b, active[a], j] = d[a, j]
                state[b] = SETTLED
                break
            # Newton on h_a = sign p''(t_a) = 0 at the interior touch points
            for a in range(k):
                slot = active[a]
                _rows(powers, t[slot], 2, curve[a])
                _rows(powers, t[slot], 3, bend)
                acc, bent = 0.0, 0.0
                for j in range(size):
                    curve[a, j] *= sign
                    acc += curve[a, j] * w[j]
                    bent += sign * bend[j] * w[j]
                h[a] = acc
                newton[a] = bent  # the diagonal's own term, for now
                interior[a] = abs(t[slot]) < 1.0
            for a in range(k):  # d(w, multipliers) / dt_a, from the same factors
                for j in range(size):
                    first[j] = curve[a, j] * solved[a]
                for e in range(k):
                    zeros[e] = -h[a] if e == a and interior[a] else 0.0
                _bordered(inverse, spread, lu, pivots, k, first, zeros, moves[a], pulled)
                for e in range(k):
                    zeros[e] = 0.0
            for a in range(k):
                for e in range(k):
                    if interior[a] and interior[e]:
                        acc = 0.0
                        for j in range(size):
                            acc += curve[a, j] * moves[e, j]
                        jacobian[a, e] = acc + (newton[a] if a == e else 0.0)
                    else:
                        jacobian[a, e] = 1.0 if a == e else 0.0
            for a in range(k):
                newton[a] = h[a] if interior[a] else 0.0
            if _factor(jacobian, k, jpivots):
                _solve(jacobian, k, jpivots, newton)
            else:
                for a in range(k):
                    newton[a] = np.nan
            for slot in range(slots):
                tr[slot] = np.nan
                tracked[slot] = False
            for a in range(k):  # the nearest local minimum each touch point tracks
                slot = active[a]
                best = np.inf
                for i in range(choices):
                    if minimum[i] and abs(t[slot] - places[i]) < best:
                        best, nearest[slot] = abs(t[slot] - places[i]), i
                tracked[slot] = best < np.inf
                step = t[slot] - newton[a]
                if interior[a] and np.isfinite(step) and abs(step) < 1.0:
                    tr[slot] = step
                elif tracked[slot]:
                    tr[slot] = places[nearest[slot]]
            if leave:  # the worst goes, alone
                for slot in range(slots):
                    tr[slot] = np.nan if slot == worst else t[slot]
            for i in range(choices):
                claimed[i] = False
            for slot in range(slots):
                if tracked[slot]:
                    claimed[nearest[slot]] = True
            # the lowest local minimum no touch point tracks joins where the slope dips there
            where, lowest = -1, np.inf
            for i in range(choices):
                if minimum[i] and not claimed[i] and values[i] < lowest:
                    where, lowest = i, values[i]
            if not leave and where >= 0 and lowest < -max(certify * scale, noise):
                for slot in range(slots):
                    if np.isnan(tr[slot]):
                        tr[slot] = places[where]
                        break
            _one_per_place(tr, same_point)
            for slot in range(slots):
                t[slot] = tr[slot]
