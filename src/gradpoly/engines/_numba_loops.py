"""The numba engine's loops, compiled on first use and cached on disk beside this module (as
the batched kernels are), so a fresh process pays numba's import, not a compile; imported
only when the numba engine first runs.

GD runs the seed's loops; momentum and Nesterov run :mod:`gradpoly.updates`' rules (tied to
them by the engine contract suite, against :func:`gradpoly.reference_gd`). ``consts = (0, 2,
-2/N, N)`` in the loop's dtype keeps every accumulator in that dtype (numba promotes float
literals and ints mixed with float32 to float64).
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _residuals(a, b, w, r, zero):
    """``r = b - a w`` over every point; returns ``sum r^2``."""
    n, m = a.shape
    total = zero
    for i in range(n):
        model = zero
        for j in range(m):
            model += a[i, j] * w[j]
        r[i] = b[i] - model
        total += r[i] * r[i]
    return total


@njit(cache=True, nogil=True)
def _gram_loss(g, c, s, w, gw, zero, two):
    """``gw = G w``; returns the MSE ``s - 2 c.w + w.G w``."""
    m = w.shape[0]
    cw = zero
    wgw = zero
    for j in range(m):
        acc = zero
        for i in range(m):
            acc += g[j, i] * w[i]
        gw[j] = acc
        cw += c[j] * w[j]
        wgw += w[j] * acc
    return s - two * cw + wgw


@njit(cache=True, nogil=True)
def per_sample(a, b, w, lr, consts, trace, start, stop):
    """GD steps ``start..stop-1`` touching every point; w and trace updated in place."""
    n, m = a.shape
    r = np.empty(n, dtype=a.dtype)
    zero, scale, size = consts[0], consts[2], consts[3]
    for k in range(start, stop):
        trace[k] = _residuals(a, b, w, r, zero) / size
        for j in range(m):
            grad = zero
            for i in range(n):
                grad += a[i, j] * r[i]
            w[j] -= lr * (scale * grad)


@njit(cache=True, nogil=True)
def gram(g, c, s, w, lr, consts, trace, start, stop):
    """GD steps on the Gram statistics: O(D^2) each."""
    gw = np.empty(w.shape[0], dtype=w.dtype)
    zero, two = consts[0], consts[1]
    for k in range(start, stop):
        trace[k] = _gram_loss(g, c, s, w, gw, zero, two)
        for j in range(w.shape[0]):
            w[j] -= lr * (two * (gw[j] - c[j]))


@njit(cache=True, nogil=True)
def per_sample_momentum(a, b, w, v, lr, beta, nesterov, consts, trace, start, stop):
    """Heavy-ball or Nesterov steps ``start..stop-1`` touching every point (w, v, trace in
    place): the trace records mse(w_k), the gradient is taken at ``w + beta v`` for Nesterov,
    then ``v = beta v - lr grad``, ``w = w + v``."""
    n, m = a.shape
    r = np.empty(n, dtype=a.dtype)
    point = np.empty(m, dtype=a.dtype)
    zero, scale, size = consts[0], consts[2], consts[3]
    for k in range(start, stop):
        trace[k] = _residuals(a, b, w, r, zero) / size
        if nesterov:
            for j in range(m):
                point[j] = w[j] + beta * v[j]
            _residuals(a, b, point, r, zero)
        for j in range(m):
            grad = zero
            for i in range(n):
                grad += a[i, j] * r[i]
            v[j] = beta * v[j] - lr * (scale * grad)
            w[j] += v[j]


@njit(cache=True, nogil=True)
def gram_momentum(g, c, s, w, v, lr, beta, nesterov, consts, trace, start, stop):
    """Heavy-ball or Nesterov steps on the Gram statistics: O(D^2) each."""
    m = w.shape[0]
    gw = np.empty(m, dtype=w.dtype)
    point = np.empty(m, dtype=w.dtype)
    zero, two = consts[0], consts[1]
    for k in range(start, stop):
        trace[k] = _gram_loss(g, c, s, w, gw, zero, two)
        if nesterov:
            for j in range(m):
                point[j] = w[j] + beta * v[j]
            _gram_loss(g, c, s, point, gw, zero, two)  # gw = G (w + beta v)
        for j in range(m):
            v[j] = beta * v[j] - lr * (two * (gw[j] - c[j]))
            w[j] += v[j]
