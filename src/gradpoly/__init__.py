"""gradpoly: fit polynomials by gradient descent on interchangeable engines, checked and timed.

``__all__`` is the public API, the one the API reference documents: :func:`fit`, :func:`lstsq`,
:func:`fit_many`, :func:`lstsq_many`, :func:`select_degree`, :func:`robust_fit`, their results
and statistics, the option vocabulary, :func:`engines`, :func:`derivative`, :func:`read_xy`,
the seed's :func:`train`, :func:`poly` and :func:`dpoly_dw`, and the error family.
Integrations are submodules: ``gradpoly.sklearn``, ``gradpoly.xarray``, ``gradpoly.dask``.
``import gradpoly`` needs NumPy and SciPy; optional engines import their library when used.
"""

from gradpoly.api import fit, fit_problem
from gradpoly.derivative import NotElementwiseError, derivative
from gradpoly.engines import EngineInfo, engines
from gradpoly.errors import (
    CalibrationWarning,
    DataFileError,
    DataShapeError,
    DataTypeError,
    DivergenceError,
    EngineUnavailableError,
    GradpolyError,
    InvalidDataError,
    InvalidOptionError,
    OutputError,
    UnfittedRankWarning,
    UnfittedWarning,
)
from gradpoly.io import read_xy
from gradpoly.losses import Loss
from gradpoly.many import (
    DegreeSelection,
    ManyResult,
    RobustResult,
    fit_many,
    lstsq_many,
    robust_fit,
    select_degree,
)
from gradpoly.options import (
    BEST,
    NOTEBOOK,
    Basis,
    Device,
    DType,
    FitConfig,
    Gradient,
    Mode,
    Optimizer,
    Strategy,
)
from gradpoly.problem import FitProblem, lstsq, reference_gd
from gradpoly.result import FitResult, LstsqResult
from gradpoly.seed import PRESETS, Preset, dpoly_dw, poly, train
from gradpoly.stats import Stats, StatsWarning

__version__ = "0.1.0"

__all__ = [
    "BEST",
    "NOTEBOOK",
    "PRESETS",
    "Basis",
    "CalibrationWarning",
    "DType",
    "DataFileError",
    "DataShapeError",
    "DataTypeError",
    "DegreeSelection",
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
    "Loss",
    "LstsqResult",
    "ManyResult",
    "Mode",
    "NotElementwiseError",
    "Optimizer",
    "OutputError",
    "Preset",
    "RobustResult",
    "Stats",
    "StatsWarning",
    "Strategy",
    "UnfittedRankWarning",
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
    "robust_fit",
    "select_degree",
    "train",
]
