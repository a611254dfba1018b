"""Many curves at once: B series, each with its own x or all on one axis, fitted in one
batched computation.

``lstsq_many`` solves every series' least squares in closed form and ``fit_many`` runs
gradient descent on all of them together, each with its own learning rate and stopping test.
Both work on the Gram statistics of each series in a basis mapped to its own x-domain, built
in blocks of series so memory stays bounded, on a batched backend (:mod:`gradpoly.batched`:
numpy, numba, torch on cpu or cuda, jax). The modules read bottom-up: ``inputs`` (layouts),
``solve`` (closed form), ``prepare`` (statistics, scaling, validity: one shape for every
layout), ``descent``, ``result`` and ``finish`` (one assembly), ``api`` (the front doors).
"""

from __future__ import annotations

from gradpoly.many.api import fit_many, lstsq_many
from gradpoly.many.descent import descend_gram
from gradpoly.many.finish import basis_to_monomial
from gradpoly.many.inputs import Progress, group_long, series_ids
from gradpoly.many.result import ManyResult
from gradpoly.many.robust import RobustResult, robust_fit
from gradpoly.many.select import DegreeSelection, select_degree

__all__ = [
    "DegreeSelection",
    "ManyResult",
    "Progress",
    "RobustResult",
    "basis_to_monomial",
    "descend_gram",
    "fit_many",
    "group_long",
    "lstsq_many",
    "robust_fit",
    "select_degree",
    "series_ids",
]
