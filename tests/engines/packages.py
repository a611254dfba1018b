"""The package tests' fit: the gram block in float64, 45 steps (two blocks and a short one)."""

from __future__ import annotations

import numpy as np

from tests.engines.checks import notebook_fit as fit

X = np.linspace(0, 5, 100)
Y = np.sin(X)
OPTIONS = dict(steps=45, engine="torch", mode="compiled", strategy="gram", dtype="float64")


def package_fit(degree: int = 4):
    """The compiled fit whose packages ``built`` holds (the notebook's settings otherwise)."""
    return fit(X, Y, degree=degree, **OPTIONS)
