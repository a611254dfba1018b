"""Per-series tests across the rows: the same booleans as NumPy's reductions along them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradpoly import rowwise

VALUES = st.sampled_from([0.0, 1.5, -2.0, np.nan, np.inf, -np.inf])
SHAPES = hnp.array_shapes(min_dims=2, max_dims=3, min_side=0, max_side=40)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, SHAPES, elements=VALUES))
def test_row_tests_equal_numpy_reductions_along_the_rows(a: np.ndarray) -> None:
    same_as_numpy(a)


def same_as_numpy(a: np.ndarray) -> None:
    """Every per-row test of ``a`` gives NumPy's reduction's booleans."""
    rest = tuple(range(1, a.ndim))
    np.testing.assert_array_equal(rowwise.finite(a), np.isfinite(a).all(axis=rest))
    np.testing.assert_array_equal(rowwise.every(a > 0), (a > 0).all(axis=rest))
    np.testing.assert_array_equal(rowwise.some(np.isnan(a)), np.isnan(a).any(axis=rest))


MANY_ROWS = st.tuples(
    st.integers(rowwise.MANY - 2, rowwise.MANY + 300), st.integers(0, rowwise.SHORT + 2)
)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, MANY_ROWS, elements=VALUES))
def test_many_short_rows_are_tested_column_by_column_with_the_same_booleans(a) -> None:
    """Rows past :data:`rowwise.MANY` take the column-by-column path; few rows NumPy's."""
    same_as_numpy(a)


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1), elements=VALUES)
)
def test_one_row_is_every_row_equal_to_the_first(a: np.ndarray) -> None:
    assert rowwise.one_row(a) == bool((a == a[0]).all())


def test_long_rows_and_no_rows() -> None:
    a = np.ones((3, 100))
    a[1, 77] = np.nan
    np.testing.assert_array_equal(rowwise.finite(a), [True, False, True])
    assert rowwise.finite(np.ones((0, 4))).shape == (0,)
    assert not rowwise.one_row(np.ones((0, 2)))
    assert rowwise.one_row(np.array([[0.0, 364.0]] * 5))
