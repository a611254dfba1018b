"""Elementwise derivatives d f(x)/dx at many points, six ways, each checked against the truth.

The notebook opens by differentiating sin with autograd: one ``backward`` per point with a
one-hot vector. That is correct but costs N backward passes. Because an elementwise
function has a diagonal Jacobian, one backward with a vector of ones gives every derivative
at once, provided the function really is elementwise, which ``grad-outputs`` and
``forward-mode`` check with a random probe before answering.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly.engines.base import OptionalLibrary
from gradpoly.errors import InvalidDataError, InvalidOptionError
from gradpoly.options import DType

FloatArray = npt.NDArray[np.float64]
TORCH = OptionalLibrary("torch", "torch")
JAX = OptionalLibrary("jax", "jax")

# The notebook's example polynomial, w = 0.1 * (3, -2, -1.5, 5): written with operators only,
# so the same function works on numpy arrays, torch tensors and jax arrays.
POLY_COEF = (0.3, -0.2, -0.15, 0.5)


def _poly(x: Any) -> Any:
    a, b, c, d = POLY_COEF
    return a + x * (b + x * (c + x * d))


def _poly_derivative(x: FloatArray) -> FloatArray:
    _, b, c, d = POLY_COEF
    return b + x * (2 * c + x * 3 * d)


@dataclass(frozen=True)
class Elementwise:
    """A named elementwise function: how to get it in any array library, and its derivative."""

    name: str
    get: Callable[[Any], Callable[[Any], Any]]  # namespace (np, torch, jnp) -> f
    derivative: Callable[[FloatArray], FloatArray]  # analytic, float64


FUNCTIONS: dict[str, Elementwise] = {
    f.name: f
    for f in (
        Elementwise("sin", lambda xp: xp.sin, np.cos),
        Elementwise("cos", lambda xp: xp.cos, lambda x: -np.sin(x)),
        Elementwise("exp", lambda xp: xp.exp, np.exp),
        Elementwise("tanh", lambda xp: xp.tanh, lambda x: 1.0 - np.tanh(x) ** 2),
        Elementwise("poly", lambda xp: _poly, _poly_derivative),
    )
}
"""Functions known by name; any other callable must be written for the method's library."""


class NotElementwiseError(InvalidOptionError):
    """The function mixes points (its Jacobian is not diagonal), so a one-pass method is wrong."""


def _function(f: str | Callable[[Any], Any], namespace: Any) -> Callable[[Any], Any]:
    if callable(f):
        return f
    if f not in FUNCTIONS:
        raise InvalidOptionError(
            f"unknown function {f!r}; choose one of: {', '.join(FUNCTIONS)}, or pass a callable"
        )
    return FUNCTIONS[f].get(namespace)


def _probe_rng() -> np.random.Generator:
    return np.random.default_rng(20171020)  # fixed: the same probe every call


def _torch_input(x: FloatArray, dtype: DType) -> Any:
    torch = TORCH.load()
    return torch.tensor(x, dtype=getattr(torch, str(dtype)))


def _to_numpy(values: Any) -> FloatArray:
    return np.asarray(
        values.detach().numpy() if hasattr(values, "detach") else values, dtype=np.float64
    )


def _check_elementwise(name: str, d: Any, vjp: Callable[[Any], Any], xt: Any) -> None:
    """Refuse non-elementwise f: for a diagonal Jacobian J, ``J^T v == d * v`` for any v."""
    torch = TORCH.load()
    v = torch.tensor(_probe_rng().standard_normal(xt.shape[0]), dtype=xt.dtype)
    probe = vjp(v)
    scale = float(torch.max(torch.abs(d * v))) + 1.0
    tol = 1e3 * float(torch.finfo(xt.dtype).eps) * scale
    if not torch.allclose(probe, d * v, rtol=0.0, atol=tol):
        raise NotElementwiseError(
            f"method {name} needs an elementwise function (a diagonal Jacobian), but f mixes "
            "points: a random probe disagreed; use method 'torch-func' or 'jax', which "
            "differentiate f at each point on its own"
        )


def onehot_loop(f: str | Callable[[Any], Any], x: FloatArray, dtype: DType) -> FloatArray:
    """The notebook's way: N backward passes, each with a one-hot vector, grads accumulated."""
    torch = TORCH.load()
    xt = _torch_input(x, dtype).requires_grad_(True)
    y = _function(f, torch)(xt)
    dout = torch.zeros_like(y)
    for i in range(x.size):
        dout[:] = 0
        dout[i] = 1
        y.backward(dout, retain_graph=True)
    return _to_numpy(xt.grad)


def grad_outputs(f: str | Callable[[Any], Any], x: FloatArray, dtype: DType) -> FloatArray:
    """One backward pass with a vector of ones: ``J^T 1``, the diagonal when J is diagonal."""
    torch = TORCH.load()
    xt = _torch_input(x, dtype).requires_grad_(True)
    y = _function(f, torch)(xt)
    (d,) = torch.autograd.grad(y, xt, torch.ones_like(y), retain_graph=True)

    def vjp(v: Any) -> Any:
        return torch.autograd.grad(y, xt, v)[0]

    _check_elementwise("grad-outputs", d, vjp, xt)
    return _to_numpy(d)


def forward_mode(f: str | Callable[[Any], Any], x: FloatArray, dtype: DType) -> FloatArray:
    """One forward-mode pass (``torch.func.jvp``) with a tangent of ones: ``J 1``."""
    torch = TORCH.load()
    xt = _torch_input(x, dtype)
    fn = _function(f, torch)
    _, d = torch.func.jvp(fn, (xt,), (torch.ones_like(xt),))
    _, vjp_fn = torch.func.vjp(fn, xt)
    _check_elementwise("forward-mode", d, lambda v: vjp_fn(v)[0], xt)
    return _to_numpy(d)


def torch_func(f: str | Callable[[Any], Any], x: FloatArray, dtype: DType) -> FloatArray:
    """``torch.func.vmap(torch.func.grad(f))``: f differentiated at each point on its own."""
    torch = TORCH.load()
    xt = _torch_input(x, dtype)
    return _to_numpy(torch.func.vmap(torch.func.grad(_function(f, torch)))(xt))


@lru_cache(maxsize=64)
def _jax_derivative(f: str | Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``jit(vmap(grad(f)))``, kept per f so that jax compiles once per f, shape and dtype."""
    jax = JAX.load()
    return jax.jit(jax.vmap(jax.grad(_function(f, jax.numpy))))


def jax_vmap_grad(f: str | Callable[[Any], Any], x: FloatArray, dtype: DType) -> FloatArray:
    """``jax.vmap(jax.grad(f))``, jitted; float64 inside ``jax.enable_x64``."""
    jax = JAX.load()
    with jax.enable_x64(dtype is DType.FLOAT64):
        d = _jax_derivative(f)(jax.numpy.asarray(x, dtype=str(dtype)))
        return np.asarray(d, dtype=np.float64)


def finite_difference(f: str | Callable[[Any], Any], x: FloatArray, dtype: DType) -> FloatArray:
    """Central differences in numpy, no autodiff: ``(f(x+h) - f(x-h)) / 2h``, h ~ eps^(1/3)."""
    fn = _function(f, np)
    xs = x.astype(str(dtype))
    eps = np.finfo(xs.dtype).eps
    h = np.cbrt(eps) * np.maximum(1.0, np.abs(xs))
    h = ((xs + h) - xs).astype(xs.dtype)  # a step that is exact in this dtype
    return np.asarray((fn(xs + h) - fn(xs - h)) / (2 * h), dtype=np.float64)


METHODS: dict[str, Callable[[str | Callable[[Any], Any], FloatArray, DType], FloatArray]] = {
    "onehot-loop": onehot_loop,
    "grad-outputs": grad_outputs,
    "torch-func": torch_func,
    "forward-mode": forward_mode,
    "jax": jax_vmap_grad,
    "finite-difference": finite_difference,
}
"""Every method by name; each returns float64 derivatives at the points."""


def derivative(
    f: str | Callable[[Any], Any],
    x: npt.ArrayLike,
    method: str = "grad-outputs",
    dtype: DType | str = DType.FLOAT64,
) -> FloatArray:
    """d f(x)/dx at every point of ``x`` (1-D), for an elementwise ``f``.

    Parameters
    ----------
    f : str or callable
        A name from :data:`FUNCTIONS` (``sin``, ``cos``, ``exp``, ``tanh``, ``poly``) or a
        callable written for the method's library (torch for the torch methods, jax.numpy
        for ``jax``, numpy for ``finite-difference``).
    x : array_like, shape (N,)
    method : str
        One of :data:`METHODS`.

    Raises
    ------
    NotElementwiseError
        ``grad-outputs`` or ``forward-mode`` given a function that mixes points.
    """
    if method not in METHODS:
        raise InvalidOptionError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    points = np.asarray(x, dtype=np.float64)
    if points.ndim != 1 or points.size == 0:
        raise InvalidDataError(f"x must be a non-empty 1-D array, got shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise InvalidDataError("x has non-finite values (NaN or inf)")
    return METHODS[method](f, points, DType.parse(dtype))


def analytic(name: str, x: npt.ArrayLike) -> FloatArray:
    """The exact derivative of a named function, float64."""
    if name not in FUNCTIONS:
        raise InvalidOptionError(
            f"no analytic derivative for {name!r}; known: {', '.join(FUNCTIONS)}"
        )
    return FUNCTIONS[name].derivative(np.asarray(x, dtype=np.float64))
