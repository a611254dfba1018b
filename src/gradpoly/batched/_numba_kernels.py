"""Numba kernels of the batched backend; imported only when that backend first runs.

Each series' points are read once: its basis functions are built in a small scratch block
that stays in cache, then reduced into G, c and s. The kernels that open a call (the Gram
statistics of series on their own x or with weights per series, IRLS) are serial and release
the GIL, the caller giving each core its series (:func:`gradpoly.threads.spread`): numba's
``parallel=True`` doubles a kernel's cold compile. The shared-axis statistics of the grids and
the descent run their series in parallel (``prange``): OpenMP's threads start within
microseconds where a call of a few milliseconds would feel a helper thread's wake-up, and
they spin a while after a parallel kernel, so a helper thread started right after one waits.
"""

import numpy as np
from numba import njit, prange

FAST = {"reassoc"}
"""Let LLVM reorder the sums (SIMD lanes, pairwise partial sums); no fused multiply-adds, whose
single rounding makes the mapped x differ from numpy's (measured 800x less accurate monomial
coefficients on shifted narrow intervals). Inputs are checked finite."""


@njit(cache=True)
def cholesky(a, low, floor):
    """The lower Cholesky factor of the symmetric ``a`` (its lower triangle read) into ``low``
    (``a`` itself: in place); False at a pivot not above ``floor``."""
    size = a.shape[0]
    for j in range(size):
        acc = a[j, j]
        for k in range(j):
            acc -= low[j, k] * low[j, k]
        if not acc > floor:
            return False
        low[j, j] = np.sqrt(acc)
        for i in range(j + 1, size):
            acc = a[i, j]
            for k in range(j):
                acc -= low[i, k] * low[j, k]
            low[i, j] = acc / low[j, j]
    return True


@njit(cache=True)
def cholesky_solve(low, b):
    """Solves ``L L' x = b`` in place from :func:`cholesky`'s factor."""
    size = b.size
    for j in range(size):
        acc = b[j]
        for k in range(j):
            acc -= low[j, k] * b[k]
        b[j] = acc / low[j, j]
    for j in range(size - 1, -1, -1):
        acc = b[j]
        for k in range(j + 1, size):
            acc -= low[k, j] * b[k]
        b[j] = acc / low[j, j]


@njit(cache=True, nogil=True, fastmath=FAST)
def statistics(x, y, w, weighted, counts, domains, degree, mapped, recur, g, c, s):
    """Fill g (B, D+1, D+1), c (B, D+1), s (B,) for every series; one pass over its points.

    Each series' domain is found first, from its row while that row is in cache (its range
    over points with positive weight; a single point gets +-max(|x|, 1)/1024, as
    ``mapping.domains`` does), and written to ``domains``.
    """
    count, points = x.shape
    size = degree + 1
    v = np.empty((size, points))  # scratch reused by every series (each writes it whole)
    t = np.empty(points)
    for b in range(count):
        lo, hi = np.inf, -np.inf
        for n in range(points):
            if not weighted or w[b, n] > 0:
                lo = min(lo, x[b, n])
                hi = max(hi, x[b, n])
        if not np.isfinite(lo):  # no point with positive weight
            lo = 0.0
        if not hi >= lo:
            hi = lo
        if not hi > lo:
            width = max(abs(lo), 1.0) / 1024.0
            lo, hi = lo - width, lo + width
        domains[b, 0], domains[b, 1] = lo, hi
        mid, half = 0.5 * lo + 0.5 * hi, 0.5 * hi - 0.5 * lo  # no overflow near +-1e308
        for n in range(points):
            v[0, n] = 1.0
            t[n] = x[b, n] if not mapped else (x[b, n] - mid) / half  # as numpy maps
        for j in range(1, size):  # gradpoly.bases' recurrence, its a, c, d in ``recur``
            a, cj, d = recur[j, 0], recur[j, 1], recur[j, 2]
            for n in range(points):
                term = a * t[n] * v[j - 1, n]
                if cj != 0.0:  # c_1 is 0: p_{-1} is never read
                    term = term - cj * v[j - 2, n]
                v[j, n] = term / d if d != 1.0 else term
        if weighted:
            for j in range(size):
                for n in range(points):
                    v[j, n] *= np.sqrt(w[b, n])
        inv = 1.0 / counts[b]
        acc = 0.0
        for n in range(points):
            yn = y[b, n] * v[0, n]  # sqrt(weight) * y
            acc += yn * yn
        s[b] = acc * inv
        for j in range(size):
            acc = 0.0
            for n in range(points):
                acc += v[j, n] * y[b, n] * v[0, n]
            c[b, j] = acc * inv
            for k in range(j, size):
                acc = 0.0
                for n in range(points):
                    acc += v[j, n] * v[k, n]
                g[b, j, k] = acc * inv
                g[b, k, j] = acc * inv


@njit(cache=True, parallel=True, fastmath=FAST)
def descend(
    g, c, s, rate, beta, nesterov, steps, use_tol, tol_scale, keep, w_out, steps_run, active, trace
):
    """GD / momentum / Nesterov on every series' Gram system, each stopping once its estimated
    coefficient error |grad| / (lambda_min |w|) is at most tol (|grad|^2 <= tol_scale |w|^2)."""
    count, size = c.shape
    for b in prange(count):
        if not active[b]:
            continue
        w = np.zeros(size)
        v = np.zeros(size)
        look = np.zeros(size)
        grad = np.empty(size)
        gw = np.empty(size)
        for j in range(size):
            gw[j] = -2.0 * c[b, j]
        limit = tol_scale[b]
        done = 0
        for k in range(steps):
            if keep:
                trace[b, k] = _value(g, c, s, b, w)
            if nesterov:
                for j in range(size):
                    look[j] = w[j] + beta[b] * v[j]
                for j in range(size):
                    acc = 0.0
                    for i in range(size):
                        acc += g[b, j, i] * look[i]
                    grad[j] = 2.0 * (acc - c[b, j])
            else:
                for j in range(size):
                    grad[j] = gw[j]
            for j in range(size):
                v[j] = beta[b] * v[j] - rate[b] * grad[j]
                w[j] += v[j]
            done = k + 1
            norm = 0.0
            size_w = 0.0
            for j in range(size):
                acc = 0.0
                for i in range(size):
                    acc += g[b, j, i] * w[i]
                gw[j] = 2.0 * (acc - c[b, j])
                norm += gw[j] * gw[j]
                size_w += w[j] * w[j]
            if use_tol and not norm > limit * size_w:
                active[b] = False
                break
        if keep:
            last = _value(g, c, s, b, w)
            for k in range(done, steps):
                trace[b, k] = last
        steps_run[b] = done
        for j in range(size):
            w_out[b, j] = w[j]


@njit(cache=True)
def _value(g, c, s, b, w):
    """Weighted MSE of series b at w: s - 2 c.w + w.G.w."""
    size = w.shape[0]
    total = s[b]
    for j in range(size):
        acc = 0.0
        for i in range(size):
            acc += g[b, j, i] * w[i]
        total += w[j] * (acc - 2.0 * c[b, j])
    return total


@njit(cache=True, fastmath=FAST)
def _row_moments(left, a, z, m, inv, g, c, b):
    """One series' c and G from its row in cache: ``c[b] = left z * inv`` and ``g[b] =
    left diag(m) a' * inv`` (symmetric), ``left`` and ``a`` (S, N) its basis functions
    (``left`` with any shared weights in), z its values, m its points' weights."""
    size, points = a.shape
    for j in range(size):
        total = 0.0
        for n in range(points):
            total += left[j, n] * z[n]
        c[b, j] = total * inv
        for k in range(j, size):
            total = 0.0
            for n in range(points):
                total += left[j, n] * a[k, n] * m[n]
            g[b, j, k] = total * inv
            g[b, k, j] = total * inv


@njit(cache=True, parallel=True, fastmath=FAST)
def shared_statistics(y, a, aw, weights, used, g, c, s, counts, gapped, infinite):
    """Series on one axis: every row of y (B, N) read once from memory.

    ``a`` (S, N) holds the basis functions, ``aw`` the same times the shared ``weights``.
    A row without NaN/inf fills c and s (its G is the shared one, set by the caller); a row
    with any is summed again from cache with those points left out, into its own g, c, s and
    count, and flagged in ``gapped`` (and in ``infinite`` where one of them is an inf).
    """
    count, points = y.shape
    size = a.shape[0]
    for b in prange(count):
        row = y[b]
        check = 0.0
        acc = 0.0
        for n in range(points):
            value = row[n]
            check += value - value  # NaN once any value is NaN or inf
            acc += weights[n] * value * value
        if check == 0.0:
            s[b] = acc / used
            for j in range(size):
                total = 0.0
                for n in range(points):
                    total += aw[j, n] * row[n]
                c[b, j] = total / used
            continue
        gapped[b] = True
        z = np.empty(points)
        m = np.empty(points)
        kept = 0.0
        acc = 0.0
        for n in range(points):
            value = row[n]
            ok = np.isfinite(value) and weights[n] > 0
            if np.isinf(value):
                infinite[b] = True
            z[n] = value if ok else 0.0
            m[n] = 1.0 if ok else 0.0
            kept += m[n]
            acc += weights[n] * z[n] * z[n]
        inv = 1.0 / max(kept, 1.0)
        counts[b] = kept
        s[b] = acc * inv
        _row_moments(aw, a, z, m, inv, g, c, b)


@njit(cache=True, nogil=True, fastmath=FAST)
def shared_statistics_weighted(y, w, a, g, c, s, counts, infinite):
    """Series on one axis with weights per series: row b of y and of w (B, N) read once into
    a scratch block (a NaN/inf value gets weight 0, as a gap), then its own g, c, s and count
    (points of positive weight) summed from that block in cache. ``a`` (S, N) holds the
    basis functions."""
    count, points = y.shape
    z = np.empty(points)  # scratch reused by every series (each writes it whole)
    m = np.empty(points)
    for b in range(count):
        check = 0.0
        for n in range(points):
            check += y[b, n] - y[b, n]  # NaN once any value is NaN or inf
        if check == 0.0:
            for n in range(points):
                z[n] = y[b, n]
                m[n] = w[b, n]
        else:
            for n in range(points):
                value = y[b, n]
                ok = np.isfinite(value)
                if np.isinf(value):
                    infinite[b] = True
                z[n] = value if ok else 0.0
                m[n] = w[b, n] if ok else 0.0
        kept = 0.0
        acc = 0.0
        for n in range(points):
            kept += 1.0 if m[n] > 0 else 0.0
            acc += m[n] * z[n] * z[n]
        inv = 1.0 / max(kept, 1.0)
        counts[b] = kept
        s[b] = acc * inv
        for n in range(points):
            z[n] *= m[n]
        _row_moments(a, a, z, m, inv, g, c, b)


@njit(cache=True)
def _four_points(aw, weights, n, r0, r1, r2, r3, cc, ss):
    """Points n..n+3 of one block (their rows ``r0..r3``, no NaN) added to its sums, each
    series' in point order: ``ss += w (y y)`` (float32 data squared in float64, as every sum
    here runs) and ``c_j += a_j y``. Four points per sweep: each accumulator is read and
    written once for four products, where its memory traffic was a pass's cost."""
    w0, w1, w2, w3 = weights[n], weights[n + 1], weights[n + 2], weights[n + 3]
    for i in range(r0.size):
        v0, v1 = np.float64(r0[i]), np.float64(r1[i])
        v2, v3 = np.float64(r2[i]), np.float64(r3[i])
        total = ss[i] + w0 * (v0 * v0)
        total = total + w1 * (v1 * v1)
        total = total + w2 * (v2 * v2)
        ss[i] = total + w3 * (v3 * v3)
    for j in range(aw.shape[0]):
        a0, a1, a2, a3 = aw[j, n], aw[j, n + 1], aw[j, n + 2], aw[j, n + 3]
        cj = cc[j]
        for i in range(r0.size):
            total = cj[i] + a0 * r0[i]
            total = total + a1 * r1[i]
            total = total + a2 * r2[i]
            cj[i] = total + a3 * r3[i]


@njit(cache=True)
def _one_point(aw, weights, n, row, cc, ss):
    """Point n of one block (its row, no NaN) added to its sums, as :func:`_four_points`
    adds four: the last points of a pass."""
    wn = weights[n]
    for i in range(row.size):
        value = np.float64(row[i])
        ss[i] = ss[i] + wn * (value * value)
    for j in range(aw.shape[0]):
        weight = aw[j, n]
        cj = cc[j]
        for i in range(row.size):
            cj[i] = cj[i] + weight * row[i]


@njit(cache=True)
def _clean_columns(yt, aw, weights, start, span, cc, ss):
    """The clean pass of :func:`shared_statistics_columns` over one block of series, four
    points per sweep (:func:`_four_points`; 2.3 -> 1.4 ms at 10,000 x 365). No fast-math:
    each series' sums run point by point in the order written, the numbers of one point per
    sweep (``ss += w (y y)``, ``c_j += a_j y``), bit for bit."""
    points = yt.shape[0]
    n = 0
    while n + 3 < points:
        r0, r1 = yt[n, start : start + span], yt[n + 1, start : start + span]
        r2, r3 = yt[n + 2, start : start + span], yt[n + 3, start : start + span]
        _four_points(aw, weights, n, r0, r1, r2, r3, cc, ss)
        n += 4
    while n < points:  # the last points, one per sweep
        _one_point(aw, weights, n, yt[n, start : start + span], cc, ss)
        n += 1


@njit(cache=True)
def _kept_values(yt, weights, n, start, span, inf, z, m):
    """Point n of a block: its values with NaN/inf as 0 (``z``), 1 where kept at a positive
    weight (``m``), and each series' count of infs grown (branch-free, vectorised)."""
    positive = 1.0 if weights[n] > 0 else 0.0
    row = yt[n, start : start + span]
    for i in range(span):
        value = row[i]
        ok = np.isfinite(value)
        inf[i] += 1.0 if np.isinf(value) else 0.0
        z[i] = value if ok else 0.0
        m[i] = positive if ok else 0.0


@njit(cache=True)
def _gapped_columns(yt, aw, pairs, weights, start, span, cc, ss, kk, inf, miss):
    """The gapped pass of :func:`shared_statistics_columns` over one block: each series'
    kept count, sums without its gaps, and the pairs at its missing points (a kept point adds
    an exact 0, a point of zero weight 0 too). Four points per sweep, as
    :func:`_clean_columns`, each sum in point order without fast-math."""
    points = yt.shape[0]
    npairs = pairs.shape[0]
    z = np.empty((4, span))
    m = np.empty((4, span))
    n = 0
    while n + 3 < points:
        for q in range(4):
            _kept_values(yt, weights, n + q, start, span, inf, z[q], m[q])
        w0, w1, w2, w3 = weights[n], weights[n + 1], weights[n + 2], weights[n + 3]
        m0, m1, m2, m3 = m[0], m[1], m[2], m[3]
        for i in range(span):
            kk[i] = (((kk[i] + m0[i]) + m1[i]) + m2[i]) + m3[i]
        _four_points(aw, weights, n, z[0], z[1], z[2], z[3], cc, ss)
        for p in range(npairs):
            p0 = pairs[p, n] if w0 > 0 else 0.0
            p1 = pairs[p, n + 1] if w1 > 0 else 0.0
            p2 = pairs[p, n + 2] if w2 > 0 else 0.0
            p3 = pairs[p, n + 3] if w3 > 0 else 0.0
            mp = miss[p]
            for i in range(span):
                total = mp[i] + p0 * (1.0 - m0[i])
                total = total + p1 * (1.0 - m1[i])
                total = total + p2 * (1.0 - m2[i])
                mp[i] = total + p3 * (1.0 - m3[i])
        n += 4
    while n < points:  # the last points, one per sweep
        _kept_values(yt, weights, n, start, span, inf, z[0], m[0])
        wn = weights[n]
        m0 = m[0]
        for i in range(span):
            kk[i] = kk[i] + m0[i]
        _one_point(aw, weights, n, z[0], cc, ss)
        if wn > 0:
            for p in range(npairs):
                pair = pairs[p, n]
                mp = miss[p]
                for i in range(span):
                    mp[i] = mp[i] + pair * (1.0 - m0[i])
        n += 1


@njit(cache=True, parallel=True, fastmath=FAST)
def shared_statistics_columns(yt, aw, pairs, weights, used, g, c, s, counts, gapped, infinite):
    """:func:`shared_statistics` for y stored point-major, ``yt`` (N, B) (xarray's time-first
    grids): blocks of series run in parallel, each point's row of the block is read once and
    every series' c and s grow side by side (vectorised across series, 1-D slices).

    ``pairs`` (P, N) holds ``aw[j] * a[k]`` for j <= k in row order. A block with a NaN/inf
    is summed again with those points left out, or at once where its first or last point
    already shows one (a grid with gaps pays one pass, not two; the sums are the same either
    way); a series with gaps gets its own G as the axis' sum of pairs minus the pairs at its
    missing points (or, when it misses more than half, its kept pairs summed directly).
    """
    points, count = yt.shape
    size = aw.shape[0]
    npairs = pairs.shape[0]
    full = np.zeros(npairs)
    for p in range(npairs):
        for n in range(points):
            full[p] += pairs[p, n]
    width = 1024
    blocks = (count + width - 1) // width
    for block in prange(blocks):
        start = block * width
        span = min(start + width, count) - start
        cc = np.zeros((size, span))
        ss = np.zeros(span)
        probe = 0.0  # NaN once the block's first or last point has a NaN/inf
        for i in range(span if points > 0 else 0):
            first, last = yt[0, start + i], yt[points - 1, start + i]
            probe += (first - first) + (last - last)
        if probe == 0.0:  # as if clean: a NaN/inf reaches ss and marks the block
            _clean_columns(yt, aw, weights, start, span, cc, ss)
            clean = True
            for i in range(span):
                if not np.isfinite(ss[i]):
                    clean = False
            if clean and used == points:
                for i in range(span):
                    s[start + i] = ss[i] / used
                    for j in range(size):
                        c[start + i, j] = cc[j, i] / used
                continue
            cc[:] = 0.0
            ss[:] = 0.0
        kk = np.zeros(span)
        inf = np.zeros(span)
        miss = np.zeros((npairs, span))
        _gapped_columns(yt, aw, pairs, weights, start, span, cc, ss, kk, inf, miss)
        for i in range(span):
            if inf[i] > 0.0:
                infinite[start + i] = True
        sparse = False
        for i in range(span):
            if kk[i] < 0.5 * used:
                sparse = True
                for p in range(npairs):
                    miss[p, i] = 0.0
        if sparse:  # series missing most points: sum their kept pairs directly
            for n in range(points):
                if weights[n] > 0:
                    row = yt[n, start : start + span]
                    for i in range(span):
                        if kk[i] < 0.5 * used and np.isfinite(row[i]):
                            for p in range(npairs):
                                miss[p, i] += pairs[p, n]
        for i in range(span):
            b = start + i
            kept = kk[i]
            inv = 1.0 / max(kept, 1.0)
            s[b] = ss[i] * inv
            for j in range(size):
                c[b, j] = cc[j, i] * inv
            if kept == used:
                continue
            gapped[b] = True
            counts[b] = kept
            if kept >= 0.5 * used:  # else miss already holds the kept sum
                for p in range(npairs):
                    miss[p, i] = full[p] - miss[p, i]
            p = 0
            for j in range(size):
                for k in range(j, size):
                    g[b, j, k] = miss[p, i] * inv
                    g[b, k, j] = miss[p, i] * inv
                    p += 1


@njit(cache=True)
def _select(a, m, k):
    """The k-th smallest of a[:m] (0-based), a[:m] reordered in place (quickselect, middle
    pivot): a[:k] then holds the k smaller ones."""
    lo, hi = 0, m - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return a[k]


@njit(cache=True)
def _median(a, m):
    """``np.median(a[:m])`` (m > 0), without a copy: a[:m] is reordered."""
    k = m // 2
    upper = _select(a, m, k)
    if m % 2 == 1:
        return upper
    lower = a[0]
    for i in range(1, k):
        lower = max(lower, a[i])
    return (lower + upper) / 2.0


@njit(cache=True)
def _median_near(values, m, guess, scratch):
    """``np.median(values[:m])`` (values kept as they are) when ``guess`` is near it: one pass
    counts the values below 0.9 guess and gathers those within 10% of it, and the median is
    selected among the few gathered (exact: the same order statistics). Otherwise (a median
    that moved further, or NaN) a quickselect of all m, as :func:`_median`."""
    k = m // 2
    lo, hi = 0.9 * guess, 1.1 * guess
    below, inside, above = 0, 0, 0
    below_max = -np.inf
    for i in range(m):
        a = values[i]
        scratch[inside] = a
        low = a < lo
        high = a > hi
        below += low
        above += high
        inside += (a >= lo) & (a <= hi)
        below_max = max(below_max, a if low else -np.inf)
    if below + inside + above == m and below <= k < below + inside:
        upper = _select(scratch, inside, k - below)
        if m % 2 == 1:
            return upper
        if k - below == 0:
            return (below_max + upper) / 2.0
        lower = scratch[0]
        for i in range(1, k - below):
            lower = max(lower, scratch[i])
        return (lower + upper) / 2.0
    for i in range(m):
        scratch[i] = values[i]
    return _median(scratch, m)


@njit(cache=True, fastmath=FAST, error_model="numpy")
def _deviance(code, tuning, r, m, variance):
    """RLM's stopping statistic ``sum rho(r / variance)`` of r[:m] (each norm's loop written
    out: loops the compiler vectorises)."""
    total = 0.0
    if code == 0:
        for i in range(m):
            a = abs(r[i] / variance)
            h = min(a, tuning)
            total += h * (a - 0.5 * h)
    elif code == 1:
        top = tuning * tuning / 6.0
        for i in range(m):
            z = r[i] / variance
            u = 1.0 - (z / tuning) ** 2
            total += top * (1.0 - u * u * u) if abs(z) <= tuning else top
    else:
        for i in range(m):
            z = r[i] / variance
            total += 0.5 * z * z if abs(z) <= tuning else 0.5 * tuning * tuning
    return total


@njit(cache=True, fastmath=FAST, error_model="numpy")
def _h1_sums(code, tuning, r, m, scale, out):
    """``out[:] = sum psi(z)^2, mean psi'(z), var psi'(z)`` over z = r[:m] / scale (1 where
    the scale is 0): what :func:`gradpoly.robust.h1_sums` gives for one series."""
    unit = scale if scale > 0.0 else 1.0
    psi2, total = 0.0, 0.0
    for i in range(m):
        z = r[i] / unit
        inside = abs(z) <= tuning
        if code == 0:
            p = min(max(z, -tuning), tuning)
            d = 1.0 if inside else 0.0
        else:
            u = (z / tuning) ** 2
            p = z * (1.0 - u) ** 2 if inside else 0.0
            d = (1.0 - u) * (1.0 - 5.0 * u) if inside else 0.0
        psi2 += p * p
        total += d
    mean = total / m
    spread = 0.0
    for i in range(m):
        z = r[i] / unit
        if code == 0:
            d = 1.0 if abs(z) <= tuning else 0.0
        else:
            u = (z / tuning) ** 2
            d = (1.0 - u) * (1.0 - 5.0 * u) if abs(z) <= tuning else 0.0
        spread += (d - mean) ** 2
    out[0], out[1], out[2] = psi2, mean, spread / m


@njit(cache=True, nogil=True, fastmath=FAST, error_model="numpy")  # x / 0: inf, NaN
def irls(x, y, used, recur, code, tuning, tolerance, limit, state, residuals, weights, active):
    """IRLS of every active series in one compiled loop, the rules of
    :mod:`gradpoly.many.robust`'s batched loop (statsmodels' RLM). Serial, without the GIL:
    the caller gives each core its rows (numba's ``parallel`` doubled the cold compile, ~4 s).

    ``x`` is (B, N), or (1, N) for one axis every series shares. ``state`` (B, 8) holds
    scale, deviance, iterations, converged, fallback and the H1 sums
    (:func:`_h1_sums`, M-estimators); ``residuals`` and ``weights`` (B, N) the current ones. A
    NaN scale asks for the start: the least-squares fit's scale and deviance, from its
    residuals. A series' used points are gathered once; each weighted fit solves its Gram
    system in the Chebyshev basis on its mapped x, equilibrated, by Cholesky. A series whose
    system is not clearly positive definite is left untouched (its start written) with
    fallback set (the caller's batched loop, with the one conditioning verdict, takes it).
    """
    count, points = y.shape
    size = recur.shape[0]
    for b in range(count):
        if not active[b]:
            continue
        m = 0
        for n in range(points):
            if used[b, n]:
                m += 1
        index = np.empty(m, dtype=np.int64)
        xb = np.empty(m)
        yb = np.empty(m)
        r = np.empty(m)
        i = 0
        row = b if x.shape[0] > 1 else b - b  # one row: the shared axis (b - b keeps b's type)
        for n in range(points):
            if used[b, n]:
                index[i] = n
                xb[i] = x[row, n]
                yb[i] = y[b, n]
                r[i] = residuals[b, n]
                i += 1
        scratch = np.empty(m)
        scale = state[b, 0]
        deviance = state[b, 1]
        if np.isnan(scale):  # the start, from the least-squares fit's residuals
            squares = 0.0
            for i in range(m):
                squares += r[i] * r[i]
            if code == 2:
                scale = np.sqrt(squares / (m - size))
            else:
                for i in range(m):
                    scratch[i] = abs(r[i])
                scale = _median(scratch, m) / 0.6744897501960817
            deviance = _deviance(code, tuning, r, m, squares / (m - size))
            state[b, 0] = scale
            state[b, 1] = deviance
        lo, hi = np.inf, -np.inf
        for i in range(m):
            lo = min(lo, xb[i])
            hi = max(hi, xb[i])
        if not hi > lo:
            state[b, 4] = 1.0
            continue
        mid, half = 0.5 * lo + 0.5 * hi, 0.5 * hi - 0.5 * lo
        v = np.empty((size, m))
        for i in range(m):
            t = (xb[i] - mid) / half
            v[0, i] = 1.0
            if size > 1:
                v[1, i] = recur[1, 0] * t / recur[1, 2]
            for j in range(2, size):
                v[j, i] = (recur[j, 0] * t * v[j - 1, i] - recur[j, 1] * v[j - 2, i]) / recur[j, 2]
        w = np.ones(m)
        fresh = np.empty(m)
        fv = np.empty((size, m))
        fit_r = np.empty(m)
        absolute = np.empty(m)
        g = np.empty((size, size))
        c = np.empty(size)
        d = np.empty(size)
        iterations = state[b, 2]
        converged = scale == 0.0  # a perfect fit: nothing to reweight (NaN: not converged)
        failed = False
        while scale > 0.0:
            inverse = 1.0 / scale
            if code == 0:  # each norm's loop written out: loops the compiler vectorises
                for i in range(m):
                    fresh[i] = tuning / max(abs(r[i] * inverse), tuning)
            elif code == 1:
                for i in range(m):
                    z = r[i] * inverse
                    u = 1.0 - (z / tuning) ** 2
                    fresh[i] = u * u if abs(z) <= tuning else 0.0
            else:
                for i in range(m):
                    fresh[i] = 1.0 if abs(r[i] * inverse) <= tuning else 0.0
            for j in range(size):  # the weighted design once: the same products below
                for i in range(m):
                    fv[j, i] = fresh[i] * v[j, i]
            for j in range(size):
                fj = fv[j]
                acc = 0.0
                for i in range(m):
                    acc += fj[i] * yb[i]
                c[j] = acc
                for k in range(j, size):
                    vk = v[k]
                    acc = 0.0
                    for i in range(m):
                        acc += fj[i] * vk[i]
                    g[j, k] = acc
                    g[k, j] = acc
            for j in range(size):  # equilibrate: unit diagonal
                if not g[j, j] > 0.0:
                    failed = True
            if failed:
                break
            for j in range(size):
                d[j] = np.sqrt(g[j, j])
            for j in range(size):
                c[j] /= d[j]
                for k in range(size):
                    g[j, k] /= d[j] * d[k]
            if not cholesky(g, g, 1e-8):  # in place, its pivots checked
                failed = True
                break
            cholesky_solve(g, c)
            for j in range(size):
                c[j] /= d[j]
            for i in range(m):
                fit_r[i] = yb[i]
            for j in range(size):
                cj = c[j]
                for i in range(m):
                    fit_r[i] -= v[j, i] * cj
            weighted = 0.0
            for i in range(m):
                weighted += fresh[i] * fit_r[i] * fit_r[i]
            if code == 2:
                kept = 0.0
                sum_kept = 0.0
                for i in range(m):
                    if fresh[i] > 0.0:
                        kept += 1.0
                        sum_kept += fit_r[i] * fit_r[i]
                new_scale = np.sqrt(sum_kept / (kept - size))
                stop = True
                for i in range(m):
                    again = abs(fit_r[i] / new_scale) <= tuning  # kept by the new scale
                    if again != (fresh[i] > 0.0):
                        stop = False
            else:
                for i in range(m):
                    absolute[i] = abs(fit_r[i])
                new_scale = _median_near(absolute, m, scale * 0.6744897501960817, scratch)
                new_scale /= 0.6744897501960817
                new_deviance = _deviance(code, tuning, fit_r, m, weighted / (m - size))
                stop = abs(new_deviance - deviance) <= tolerance
                deviance = new_deviance
            iterations += 1.0
            w, fresh = fresh, w  # this step's weights and residuals become the current ones
            r, fit_r = fit_r, r
            scale = new_scale
            converged = stop or new_scale == 0.0
            if stop or not new_scale > 0.0 or iterations >= limit:
                break
        if failed:
            state[b, 4] = 1.0
            continue
        state[b, 0] = scale
        state[b, 1] = deviance
        state[b, 2] = iterations
        state[b, 3] = 1.0 if converged else 0.0
        if code != 2:
            _h1_sums(code, tuning, r, m, scale, state[b, 5:8])
        for n in range(points):
            weights[b, n] = 0.0
            residuals[b, n] = 0.0
        for i in range(m):
            residuals[b, index[i]] = r[i]
            weights[b, index[i]] = w[i]
