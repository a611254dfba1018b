"""The choices of a fit (DESIGN.md vocabulary) as str Enums, and the frozen FitConfig.

Enums are defined once here and imported by the engines, the CLI and the benchmarks, so a
bad value is rejected in one place with the list of valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from gradpoly import validation
from gradpoly.bases import Basis as Basis  # re-exported: each basis lives in gradpoly.bases
from gradpoly.choices import Choice as Choice  # re-exported: options' vocabulary
from gradpoly.errors import InvalidOptionError
from gradpoly.losses import Loss, describe
from gradpoly.validation import AUTO as AUTO  # lr="auto" is part of the options' vocabulary


class Gradient(Choice):
    """How the gradient is obtained: hand-written or by the engine's autodiff."""

    MANUAL = "manual"
    AUTOGRAD = "autograd"


def differentiated(gradient: Gradient | str, loss: object) -> Gradient:
    """How a descent takes its gradient: by autograd where asked, and for every loss but MSE
    (no engine has a hand-written gradient for huber, l1 or a callable), hand-written
    otherwise. One rule for ``fit`` (:func:`gradpoly.engines.resolve`) and ``fit_many``."""
    chosen = Gradient.parse(gradient)
    mse = isinstance(loss, str) and Loss.parse(loss) is Loss.MSE
    return chosen if mse else Gradient.AUTOGRAD


class Device(Choice):
    """Where the loop runs."""

    CPU = "cpu"
    CUDA = "cuda"


class Mode(Choice):
    """Eager (a Python loop of library calls) or compiled (the loop or a chunk compiled)."""

    EAGER = "eager"
    COMPILED = "compiled"


class Strategy(Choice):
    """How each step touches the data: all N points (the seed's), the Gram matrix, or no loop.

    ``per-sample`` costs O(N D) a step; ``gram`` builds ``X^T X, X^T y, y^T y`` once and costs
    O(D^2) a step; ``spectral`` evaluates the whole GD trajectory in closed form from the Gram
    matrix's eigendecomposition. All three follow the same trajectory in exact arithmetic.
    """

    PER_SAMPLE = "per-sample"
    GRAM = "gram"
    SPECTRAL = "spectral"


class Optimizer(Choice):
    """The update rule: plain GD (the seed's), heavy-ball momentum, or Nesterov's."""

    GD = "gd"
    MOMENTUM = "momentum"
    NESTEROV = "nesterov"


AUTO_EXCLUDED = ("dask",)
"""Engines ``engine="auto"`` never picks: dask is for data past one machine, asked for by name."""


def auto_order(device: Device, autograd: bool, names: Sequence[str]) -> list[str]:
    """The one order in which ``engine="auto"`` tries the registered ``names``, for one curve
    and for many alike: torch then jax on a CUDA device or where autograd is needed (losses
    other than the MSE, ``gradient="autograd"``); else numba (compiled, no Python per step)
    then numpy; then every other one (never those in :data:`AUTO_EXCLUDED`)."""
    first = ["torch", "jax"] if device is Device.CUDA or autograd else ["numba", "numpy"]
    known = [n for n in first if n in names]
    return known + [n for n in names if n not in known and n not in AUTO_EXCLUDED]


FASTEST_FIRST = (Optimizer.NESTEROV, Optimizer.MOMENTUM, Optimizer.GD)
"""Update rules from the fewest steps to converge (O(sqrt(cond)) for the accelerated ones,
Nesterov's the most robust) to the most: what ``optimizer="auto"`` tries, in order."""


def pick_optimizer(
    optimizer: Optimizer | str, can_run: Callable[[Optimizer], bool] = lambda _: True
) -> Optimizer:
    """``optimizer`` parsed; ``"auto"``: the first of :data:`FASTEST_FIRST` that ``can_run``
    (the engine and mode chosen support it), else gd."""
    if optimizer != AUTO:
        return Optimizer.parse(optimizer)
    return next((rule for rule in FASTEST_FIRST if can_run(rule)), Optimizer.GD)


class DType(Choice):
    """Floating point precision of the loop; float32 is the seed's."""

    FLOAT32 = "float32"
    FLOAT64 = "float64"


@dataclass(frozen=True)
class Settings:
    """How a descent is run when the caller names nothing: one record, so every front door
    (fit, fit_many, the estimator, the CLI) takes its defaults from the same place."""

    steps: int
    lr: float | str
    engine: str
    dtype: DType
    basis: Basis
    optimizer: Optimizer | str
    tol: float | None

    def options(self) -> dict[str, Any]:
        """These settings as keyword arguments of :func:`gradpoly.fit`."""
        return {k: (str(v) if isinstance(v, Enum) else v) for k, v in asdict(self).items()}


BEST = Settings(100_000, AUTO, AUTO, DType.FLOAT64, Basis.CHEBYSHEV, AUTO, 1e-10)
"""The front doors' defaults, a fit that converges: the Chebyshev basis on the mapped x,
``lr="auto"``, ``optimizer="auto"`` (Nesterov with its optimal momentum, where the engine
has it), float64, stopping once the coefficients are right to 1e-10 (at most 100,000
steps), on the fastest engine here."""

NOTEBOOK = Settings(200_000, 1e-5, "numpy", DType.FLOAT32, Basis.MONOMIAL, Optimizer.GD, None)
"""The seed notebook's run: 200,000 float32 steps of plain GD at lr 1e-5 on the raw powers
of x, in NumPy, which do not converge. ``gradpoly.fit(x, y, **NOTEBOOK.options())``."""


_CHOICES: tuple[tuple[str, type[Choice]], ...] = (
    ("gradient", Gradient),
    ("device", Device),
    ("mode", Mode),
    ("strategy", Strategy),
    ("dtype", DType),
    ("optimizer", Optimizer),
)
"""A config's fields that name a choice, with their vocabularies."""


def _settle(config: Any, name: str, value: Any) -> None:
    """Set a frozen config's field to its validated ``value`` where that is another object (a
    config rebuilt by ``replace`` holds validated values already: nothing to set)."""
    if getattr(config, name) is not value:
        object.__setattr__(config, name, value)


@dataclass(frozen=True)
class FitConfig:
    """What to run: engine and its options, plus the loop's steps and learning rate (a
    record: its field defaults are the notebook's, :data:`NOTEBOOK`, which the ladder and
    the seed's presets build on; the front doors pass :data:`BEST`)."""

    engine: str = "numpy"
    gradient: Gradient = Gradient.MANUAL
    device: Device = Device.CPU
    mode: Mode = Mode.EAGER
    strategy: Strategy = Strategy.PER_SAMPLE
    dtype: DType = DType.FLOAT32
    steps: int = 200_000
    lr: float | str = 1e-5
    """A positive learning rate, or ``"auto"``: chosen from the loss Hessian's eigenvalues."""
    optimizer: Optimizer = Optimizer.GD
    momentum: float | None = None
    """Momentum coefficient beta in [0, 1) for momentum/nesterov; None: optimal with lr="auto",
    else 0.9."""
    tol: float | None = None
    """Stop once the estimated relative coefficient error is at most tol (every chunk)."""
    loss: Any = "mse"
    """``"mse"`` (the seed's), ``"huber"``, ``"l1"``, or a callable residuals -> scalar."""
    huber_delta: float = 1.0

    def __post_init__(self) -> None:
        for name, kind in _CHOICES:
            _settle(self, name, kind.parse(getattr(self, name)))
        _settle(self, "steps", validation.steps(self.steps))
        _settle(self, "momentum", validation.momentum(self.momentum))
        if not callable(self.loss):
            from gradpoly.losses import Loss

            _settle(self, "loss", Loss.parse(self.loss))
        _settle(self, "huber_delta", validation.huber_delta(self.huber_delta))
        _settle(self, "tol", validation.tol(self.tol))
        _settle(self, "lr", validation.lr(self.lr))
        if not isinstance(self.engine, str):
            raise InvalidOptionError(f"engine must be a name, got {self.engine!r}")

    @property
    def momentum_value(self) -> float:
        """Beta of the update: 0 for gd; the given value, else 0.9, for momentum/nesterov."""
        if self.optimizer is Optimizer.GD:
            return 0.0
        return 0.9 if self.momentum is None else float(self.momentum)

    @property
    def lr_value(self) -> float:
        """The numeric learning rate; ``"auto"`` must be resolved against a problem first."""
        if isinstance(self.lr, str):
            raise InvalidOptionError("lr='auto' is chosen per problem: resolve it before running")
        return self.lr

    def __str__(self) -> str:
        return "-".join(
            [
                self.engine,
                str(self.gradient),
                str(self.device),
                str(self.mode),
                str(self.strategy),
                str(self.dtype),
            ]
            + ([] if self.optimizer is Optimizer.GD else [str(self.optimizer)])
        )

    @property
    def is_mse(self) -> bool:
        """True for the notebook's loss, the only one with hand-written gradients."""
        return not callable(self.loss) and str(self.loss) == "mse"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of the configuration (a callable loss is named, not kept)."""
        out = {k: (str(v) if isinstance(v, Enum) else v) for k, v in asdict(self).items()}
        out["loss"] = describe(self.loss)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitConfig:
        """Inverse of :meth:`to_dict`; a callable loss comes back as its ``callable:`` name."""
        data = dict(data)
        if str(data.get("loss", "mse")).startswith("callable:"):
            name = data["loss"]

            def unavailable(residuals: Any) -> Any:
                raise InvalidOptionError(f"the {name} loss was not saved; pass the function")

            unavailable.__name__ = name.split(":", 1)[1]
            data["loss"] = unavailable
        return cls(**data)


def make_config(
    engine: str = "numpy",
    gradient: Gradient | str = Gradient.MANUAL,
    device: Device | str = Device.CPU,
    mode: Mode | str = Mode.EAGER,
    strategy: Strategy | str = Strategy.PER_SAMPLE,
    dtype: DType | str = DType.FLOAT32,
    steps: int = 200_000,
    lr: float | str = 1e-5,
    optimizer: Optimizer | str = Optimizer.GD,
    momentum: float | None = None,
    tol: float | None = None,
    loss: Any = "mse",
    huber_delta: float = 1.0,
) -> FitConfig:
    """A FitConfig from strings or Enums; unknown values raise InvalidOptionError."""
    return FitConfig(
        engine=engine,
        gradient=Gradient.parse(gradient),
        device=Device.parse(device),
        mode=Mode.parse(mode),
        strategy=Strategy.parse(strategy),
        dtype=DType.parse(dtype),
        steps=steps,
        lr=lr,
        optimizer=Optimizer.parse(optimizer),
        momentum=momentum,
        tol=tol,
        loss=loss,
        huber_delta=huber_delta,
    )
