"""A pytest plugin: ``np.polyfit``, ``numpy.polynomial``'s ``polyfit``, ``chebfit`` and
``legfit``, and the ``fit`` of its ``Polynomial``, ``Chebyshev`` and ``Legendre`` classes are
gradpoly's drop-ins (:mod:`gradpoly.numpy`) for the whole session. Load it with
``-p tests.peers.numpy_polyfit`` to run numpy's own tests (or any project's) through them."""

from __future__ import annotations

import numpy as np
import pytest

import gradpoly.numpy as gnp

PATCHES = (
    (np, "polyfit", gnp.polyfit),
    (np.lib._polynomial_impl, "polyfit", gnp.polyfit),
    (np.polynomial.polynomial, "polyfit", gnp.polynomial_polyfit),
    (np.polynomial.chebyshev, "chebfit", gnp.chebfit),
    (np.polynomial.legendre, "legfit", gnp.legfit),
    (np.polynomial.Polynomial, "_fit", staticmethod(gnp.polynomial_polyfit)),
    (np.polynomial.Chebyshev, "_fit", staticmethod(gnp.chebfit)),
    (np.polynomial.Legendre, "_fit", staticmethod(gnp.legfit)),
)
"""(where, name, gradpoly's function): every place numpy's fits are reached from."""


@pytest.fixture(autouse=True)
def _gradpoly_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    for owner, name, replacement in PATCHES:
        monkeypatch.setattr(owner, name, replacement)
