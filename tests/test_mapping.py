"""The single-fit forms of the domain rules (Python floats, for speed) are the batched ones."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gradpoly import mapping

finite = st.floats(allow_nan=False, allow_infinity=False)


@given(finite, finite)
def test_one_domain_is_the_batched_rule_s(lo, hi) -> None:
    with np.errstate(over="ignore"):  # a single point at float64's edge widens to inf in both
        batched = tuple(mapping.domains(lo, hi).tolist())
    assert mapping.domain(lo, hi) == batched


@given(finite, finite, st.integers(0, 40))
def test_one_monomial_verdict_is_the_batched_one(lo, hi, degree) -> None:
    dom = mapping.domain(lo, hi)
    refused = mapping.monomial_trouble(dom, max(abs(lo), abs(hi)), degree) is not None
    assert refused == bool(mapping.beyond_float64(np.array([dom]), degree)[0])
