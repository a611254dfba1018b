"""gradpoly: fit polynomials by gradient descent on interchangeable engines, checked and timed.

Public API: :func:`fit`, :func:`lstsq`, :class:`FitResult`, :func:`engines`,
:func:`derivative`, :func:`fit_many`, :func:`lstsq_many`, :func:`read_xy`, the seed's
:func:`train`, :func:`poly`, :func:`dpoly_dw`, and the error family. ``import gradpoly``
needs only NumPy; optional engines import their library when used.
"""

from gradpoly.api import fit, fit_problem
from gradpoly.derivative import NotElementwiseError, derivative
from gradpoly.engines import EngineInfo, engines
from gradpoly.errors import (
    DataFileError,
    DataTypeError,
    DivergenceError,
    EngineUnavailableError,
    GradpolyError,
    InvalidDataError,
    InvalidOptionError,
    OutputError,
    UnfittedWarning,
)
from gradpoly.io import read_xy
from gradpoly.many import ManyResult, fit_many, lstsq_many
from gradpoly.options import Device, DType, FitConfig, Gradient, Mode, Strategy
from gradpoly.problem import FitProblem, lstsq, reference_gd
from gradpoly.result import FitResult
from gradpoly.seed import PRESETS, Preset, dpoly_dw, poly, train
from gradpoly.stats import StatsWarning

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "DType",
    "DataFileError",
    "DataTypeError",
    "Device",
    "DivergenceError",
    "EngineInfo",
    "EngineUnavailableError",
    "FitConfig",
    "FitProblem",
    "FitResult",
    "Gradient",
    "GradpolyError",
    "InvalidDataError",
    "InvalidOptionError",
    "ManyResult",
    "Mode",
    "NotElementwiseError",
    "OutputError",
    "Preset",
    "StatsWarning",
    "Strategy",
    "UnfittedWarning",
    "__version__",
    "derivative",
    "dpoly_dw",
    "engines",
    "fit",
    "fit_many",
    "fit_problem",
    "lstsq",
    "lstsq_many",
    "poly",
    "read_xy",
    "reference_gd",
    "train",
]
