"""The seed notebook's own API, kept working: ``poly``, ``dpoly_dw``, ``train`` and its presets.

``poly`` and ``dpoly_dw`` accept numpy arrays and torch tensors alike by dispatching on the
array's type through a registry (functools.singledispatch), not an if/elif chain; ``train``
is the notebook's function, now built on :func:`gradpoly.fit`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import singledispatch
from typing import Any

import numpy as np

from gradpoly.api import fit
from gradpoly.errors import InvalidDataError
from gradpoly.options import NOTEBOOK, Device, DType, FitConfig, Gradient


@dataclass(frozen=True)
class Preset:
    """A named combination of options; the seed's five are in :data:`PRESETS`."""

    name: str
    engine: str
    gradient: str = "manual"
    device: str = "cpu"

    def options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`gradpoly.fit` this preset stands for: the
        notebook's settings (:data:`gradpoly.NOTEBOOK`) on this engine."""
        return NOTEBOOK.options() | {
            "engine": self.engine,
            "gradient": self.gradient,
            "device": self.device,
        }

    def config(
        self, dtype: DType = DType.FLOAT32, steps: int = 200_000, lr: float = 1e-5
    ) -> FitConfig:
        """The FitConfig of this preset for the given dtype, steps and learning rate."""
        return FitConfig(
            engine=self.engine,
            gradient=Gradient.parse(self.gradient),
            device=Device.parse(self.device),
            dtype=dtype,
            steps=steps,
            lr=lr,
        )


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("numpy", "numpy"),
        Preset("torch", "torch"),
        Preset("torch-gpu", "torch", device="cuda"),
        Preset("torch-autograd", "torch", gradient="autograd"),
        Preset("torch-autograd-gpu", "torch", gradient="autograd", device="cuda"),
    )
}
"""The seed notebook's five runs, in the order of its final table."""


@singledispatch
def powers(x: Any, n: int) -> Any:
    """``x ** [0, 1, ..., n-1]`` in x's own array library; x has shape (N, 1) as in the seed."""
    if _register_loaded_libraries():
        return powers(x, n)
    raise InvalidDataError(f"poly expects a numpy array or a torch tensor, got {type(x).__name__}")


@powers.register
def _(x: np.ndarray, n: int) -> np.ndarray:
    return x ** np.arange(n, dtype=x.dtype if x.dtype.kind == "f" else np.float64)


def _torch_powers(x: Any, n: int) -> Any:
    import torch

    return x ** torch.arange(n, dtype=x.dtype, device=x.device)


_OPTIONAL_TYPES = {"torch": ("Tensor", _torch_powers)}


def _register_loaded_libraries() -> bool:
    """Register optional array types whose library is already imported; True if any was new.

    An array of a library can only exist once that library is imported, so this keeps
    ``import gradpoly`` free of torch while tensors still dispatch.
    """
    added = False
    for module, (attr, impl) in list(_OPTIONAL_TYPES.items()):
        if module in sys.modules:
            powers.register(getattr(sys.modules[module], attr), impl)
            del _OPTIONAL_TYPES[module]
            added = True
    return added


def _coef_count(w: Any) -> int:
    return int(w.shape[0])


def poly(x: Any, w: Any) -> Any:
    """The seed's model: ``x ** range(D+1) @ w`` for x of shape (N, 1), w of shape (D+1, 1)."""
    return powers(x, _coef_count(w)) @ w


def dpoly_dw(x: Any, w: Any) -> Any:
    """The seed's gradient of ``poly`` with respect to w: the powers of x, shape (N, D+1)."""
    return powers(x, _coef_count(w))


def train(
    x: Any,
    y: Any,
    nSteps: int = 200000,
    learnRate: float = 0.00001,
    degree: int = 4,
    use_torch: bool = False,
    use_autograd: bool = False,
    use_gpu: bool = False,
) -> dict[str, Any]:
    """The seed's ``train``, same arguments and same returned dict, running on :func:`fit`.

    As in the seed, ``use_gpu`` or ``use_autograd`` imply ``use_torch``; float32 throughout.
    ``w`` comes back with shape (D+1, 1), as a torch tensor when torch ran, else numpy.
    """
    use_torch = use_torch or use_gpu or use_autograd
    result = fit(
        np.asarray(x, dtype=np.float64).reshape(-1),
        np.asarray(y, dtype=np.float64).reshape(-1),
        degree,
        **NOTEBOOK.options()
        | {
            "steps": nSteps,
            "lr": learnRate,
            "engine": "torch" if use_torch else "numpy",
            "gradient": "autograd" if use_autograd else "manual",
            "device": "cuda" if use_gpu else "cpu",
        },
    )
    w: Any = result.coef.astype(np.float32).reshape(-1, 1)
    if use_torch:
        import torch

        w = torch.from_numpy(w)
    return {
        "mseTrace": result.trace.astype(np.float32),
        "w": w,
        "learnRate": learnRate,
        "seconds": result.seconds,
        "use_torch": use_torch,
        "use_autograd": use_autograd,
        "use_gpu": use_gpu,
    }


def seed_data(n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's data: ``n`` points of sin(x) on [0, 5] (float64, 1-D)."""
    x = np.linspace(0.0, 5.0, n)
    return x, np.sin(x)
