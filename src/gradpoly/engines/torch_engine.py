"""The torch engine: CPU or CUDA, manual gradient or autograd, eager.

The loop keeps w and the MSE trace on the device and never syncs inside a chunk; the
trace is copied back once, at the end. torch is imported only when the engine is used.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly.engines import register
from gradpoly.engines.base import Availability, LoopEngine, Runner
from gradpoly.errors import EngineUnavailableError
from gradpoly.options import Device, FitConfig, Gradient
from gradpoly.problem import FitProblem

INSTALL_HINT = "pip install -c constraints.txt 'gradpoly[torch]'"


@cache
def _import_torch() -> ModuleType | str:
    """The torch module, or the reason it cannot be imported."""
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        return f"torch is not installed ({exc}); install it with: {INSTALL_HINT}"


def load_torch() -> Any:
    """Import torch or raise EngineUnavailableError with the install command."""
    torch = _import_torch()
    if isinstance(torch, str):
        raise EngineUnavailableError(torch)
    return torch


def cuda_availability() -> Availability:
    """Whether torch sees a CUDA device here, and if not, why."""
    torch = _import_torch()
    if isinstance(torch, str):
        return Availability(False, torch)
    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        return Availability(
            False,
            f"no CUDA device: torch {torch.__version__} ({build}) sees no GPU on this machine",
        )
    return Availability(True)


class _TorchRunner:
    """Tensors on the configured device and dtype; the step is manual or autograd."""

    def __init__(self, problem: FitProblem, config: FitConfig) -> None:
        torch = self.torch = load_torch()
        self.device = torch.device(str(config.device))
        dtype = getattr(torch, str(config.dtype))
        a, b = problem.design(np.float64)
        self.a = torch.as_tensor(a, dtype=dtype, device=self.device)
        self.at = self.a.T.contiguous()
        self.b = torch.as_tensor(b, dtype=dtype, device=self.device)
        self.w = torch.zeros(problem.n_coef, dtype=dtype, device=self.device)
        self.trace = torch.empty(config.steps, dtype=dtype, device=self.device)
        self.lr = config.lr
        self.scale = -2.0 / problem.n_points
        self.step = self._autograd if config.gradient is Gradient.AUTOGRAD else self._manual

    def _manual(self, start: int, stop: int) -> None:
        a, at, b, w, trace, lr, scale = (
            self.a,
            self.at,
            self.b,
            self.w,
            self.trace,
            self.lr,
            self.scale,
        )
        with self.torch.inference_mode():
            for k in range(start, stop):
                r = b - a @ w
                trace[k] = (r * r).mean()
                w -= lr * (scale * (at @ r))

    def _autograd(self, start: int, stop: int) -> None:
        torch, a, b, trace, lr = self.torch, self.a, self.b, self.trace, self.lr
        w = self.w.requires_grad_(True)
        for k in range(start, stop):
            loss = ((b - a @ w) ** 2).mean()
            (grad,) = torch.autograd.grad(loss, w)
            with torch.no_grad():
                w -= lr * grad
                trace[k] = loss
        self.w = w.detach()

    def advance(self, start: int, stop: int) -> float:
        self.step(start, stop)
        return float(self.trace[stop - 1].item())

    def finish(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        w = self.w.detach().to("cpu", self.torch.float64).numpy()
        trace = self.trace.to("cpu", self.torch.float64).numpy()
        return w, trace


@register
class TorchEngine(LoopEngine):
    """PyTorch eager loop; ``device="cuda"`` needs a CUDA build and a GPU."""

    name = "torch"
    gradients = (Gradient.MANUAL, Gradient.AUTOGRAD)
    devices = (Device.CPU, Device.CUDA)

    def version(self) -> str:
        torch = _import_torch()
        return "" if isinstance(torch, str) else str(torch.__version__)

    def library_availability(self) -> Availability:
        torch = _import_torch()
        return Availability(False, torch) if isinstance(torch, str) else Availability(True)

    def device_availability(self, device: Device) -> Availability:
        return cuda_availability() if device is Device.CUDA else Availability(True)

    def device_name(self, config: FitConfig) -> str:
        if config.device is Device.CUDA:
            return str(load_torch().cuda.get_device_name())
        return "cpu"

    def start(self, problem: FitProblem, config: FitConfig) -> Runner:
        return _TorchRunner(problem, config)
