"""Numba kernels of the batched backend; imported only when that backend first runs.

Each series' points are read once: its basis functions are built in a small scratch block
that stays in cache, then reduced into G, c and s. Series run in parallel (``prange``).
"""

import numpy as np
from numba import njit, prange

FAST = {"reassoc"}
"""Let LLVM reorder the sums (SIMD lanes, pairwise partial sums); no fused multiply-adds, whose
single rounding makes the mapped x differ from numpy's (measured 800x less accurate monomial
coefficients on shifted narrow intervals). Inputs are checked finite."""


@njit(cache=True, parallel=True, fastmath=FAST)
def statistics(x, y, w, weighted, counts, domains, degree, kind, g, c, s):
    """Fill g (B, D+1, D+1), c (B, D+1), s (B,) for every series; one pass over its points."""
    count, points = x.shape
    size = degree + 1
    for b in prange(count):
        v = np.empty((size, points))
        lo, hi = domains[b, 0], domains[b, 1]
        mid, half = 0.5 * lo + 0.5 * hi, 0.5 * hi - 0.5 * lo  # no overflow near +-1e308
        for n in range(points):
            v[0, n] = 1.0
            if size > 1:
                v[1, n] = x[b, n] if kind == 0 else (x[b, n] - mid) / half  # as numpy maps
        for j in range(2, size):
            for n in range(points):
                t = v[1, n]
                if kind == 1:
                    v[j, n] = 2.0 * t * v[j - 1, n] - v[j - 2, n]
                elif kind == 2:
                    v[j, n] = ((2 * j - 1) * t * v[j - 1, n] - (j - 1) * v[j - 2, n]) / j
                else:
                    v[j, n] = t * v[j - 1, n]
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
