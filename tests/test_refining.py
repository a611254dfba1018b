"""The two refiners of monomial coefficients compute the same numbers: NumPy's designs and the
compiled kernels, bit for bit, and lstsq gives the same coefficients on either tier."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradpoly
from gradpoly import lstsq, refining
from gradpoly.compensated import Designs
from gradpoly.errors import CompiledWarning
from gradpoly.exact import exact_lstsq, hard_set, relative_error

kernels = pytest.importorskip("gradpoly._compensated_kernels", reason="numba is optional")

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, bool]:
    size = draw(st.integers(1, 8))
    count = draw(st.integers(2, 60))
    lo = draw(st.floats(-1e4, 1e4))
    width = draw(st.floats(1e-3, 1e4))
    x = np.sort(np.asarray(draw(st.lists(st.floats(0, 1), min_size=count, max_size=count))))
    x = lo + width * x
    y = np.asarray(draw(st.lists(finite, min_size=count, max_size=count)))
    coef = np.asarray(draw(st.lists(finite, min_size=size, max_size=size)))
    return x, y, coef, lo + 0.5 * width, 0.5 * width, draw(st.booleans())


def magnitude(low: float, high: float) -> st.SearchStrategy[float]:
    """Floats of either sign whose size is 10**e, e uniform in [low, high]: every scale."""
    return st.builds(
        lambda sign, e: sign * 10.0**e, st.sampled_from([-1.0, 1.0]), st.floats(low, high)
    )


@st.composite
def extreme_problems(
    draw: st.DrawFn,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, bool]:
    """Hostile scales: x far from 0 or on a subnormal-wide range, y and coefficients from
    1e-300 to 1e300 (overflowing designs, residuals and sums included)."""
    size = draw(st.integers(1, 8))
    count = draw(st.integers(2, 40))
    lo = draw(st.one_of(st.just(0.0), magnitude(-300.0, 300.0)))
    width = abs(draw(magnitude(-300.0, 300.0)))
    x = np.sort(lo + width * np.asarray(draw(st.lists(st.floats(0, 1), min_size=count,
                                                       max_size=count))))  # fmt: skip
    y = np.asarray(draw(st.lists(magnitude(-300.0, 300.0), min_size=count, max_size=count)))
    coef = np.asarray(draw(st.lists(magnitude(-300.0, 300.0), min_size=size, max_size=size)))
    return x, y, coef, lo + 0.5 * width, 0.5 * width, draw(st.booleans())


def same_numbers(problem: tuple[np.ndarray, np.ndarray, np.ndarray, float, float, bool]) -> None:
    """Both refiners' headroom and gradient: the same numbers, or both None."""
    x, y, coef, mid, half, weighted = problem
    if not (np.isfinite(x).all() and np.isfinite(mid) and half > 0):
        return
    weights = np.linspace(0.5, 2.0, x.size) if weighted else None
    with np.errstate(all="ignore"):
        numpy_side = Designs.of(x, mid, half, coef.size)
        compiled = refining.Compiled.of(kernels, x, mid, half, coef.size)
        room, compiled_room = numpy_side.headroom(coef), compiled.headroom(coef)
        assert (room is None) == (compiled_room is None)
        if room is not None:
            np.testing.assert_array_equal(np.array(compiled_room), np.array(room))
        expected = numpy_side.gradient(coef, y, weights)
        got = compiled.gradient(coef, y, weights)
    assert (expected is None) == (got is None)
    if expected is not None:
        np.testing.assert_array_equal(got, expected)


@settings(max_examples=150, deadline=None)
@given(problems())
def test_the_compiled_refiner_computes_numpys_numbers(problem) -> None:
    same_numbers(problem)


@settings(max_examples=300, deadline=None)
@given(extreme_problems())
def test_the_refiners_agree_at_every_scale(problem) -> None:
    """At 1e+-300 the headroom once differed by an ulp (BLAS's order against the kernel's)
    and by NaN against 0 (Python's max drops a NaN): the refine decision could differ."""
    same_numbers(problem)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e300, 1e300, allow_nan=False), min_size=0, max_size=50))
def test_the_kernels_exact_sum_is_fsums(values) -> None:
    try:
        expected = math.fsum(values)
    except OverflowError:
        expected = math.nan
    got = kernels.exact_sum(np.asarray(values, dtype=np.float64), len(values))
    assert (math.isnan(expected) and math.isnan(got)) or got == expected


def test_the_exact_sum_rounds_half_to_even() -> None:
    values = np.array([1.0, 2.0**-53, 2.0**-106])  # just above half an ulp: rounds up
    assert kernels.exact_sum(values, 3) == math.fsum(values.tolist()) == 1.0 + 2.0**-52
    tie = np.array([1.0, 2.0**-53])  # exactly half: to even (1.0)
    assert kernels.exact_sum(tie, 2) == math.fsum(tie.tolist()) == 1.0


@pytest.fixture
def compiled_tier(monkeypatch: pytest.MonkeyPatch) -> refining._Tier:
    tier = refining._Tier()
    monkeypatch.setattr(refining, "_TIER", tier)
    monkeypatch.setattr(refining, "COMPILE_AFTER", 0)
    return tier


@pytest.mark.filterwarnings("ignore::gradpoly.errors.RepresentationWarning")
def test_lstsq_is_the_same_on_either_tier(compiled_tier, monkeypatch) -> None:
    cases = [(kind, x, y, degree) for kind, x, y, degree in hard_set()]
    cases.append(("seed", np.linspace(0, 5, 100), np.sin(np.linspace(0, 5, 100)), 4))
    on_compiled = [lstsq(x, y, degree) for _, x, y, degree in cases]
    assert compiled_tier.kernels is not None
    monkeypatch.setattr(refining, "_TIER", refining._Tier(missing=True))
    for (kind, x, y, degree), got in zip(cases, on_compiled, strict=True):
        np.testing.assert_array_equal(got, lstsq(x, y, degree), err_msg=kind)
        assert relative_error(got, exact_lstsq(x, y, degree)) <= 1e-8, kind


def test_the_compiled_refiner_compiles_once_whatever_the_inputs(compiled_tier) -> None:
    """Read-only x, float32 y and weights reach the kernels as writable float64: one compiled
    signature each, not one per caller's layout."""
    x = np.linspace(0, 5, 40)
    frozen = x.copy()
    frozen.setflags(write=False)
    y = np.sin(x)
    expected = lstsq(x, y, 4)
    np.testing.assert_array_equal(lstsq(frozen, y, 4), expected)
    lstsq(x, y.astype(np.float32), 4)
    lstsq(frozen, y, 4, weights=np.linspace(1.0, 2.0, 40).astype(np.float32))
    assert compiled_tier.kernels is not None
    assert len(kernels.designs.signatures) == 1
    assert len(kernels.gradient.signatures) == 1


def test_a_process_without_numba_keeps_numpy(monkeypatch) -> None:
    tier = refining._Tier()
    monkeypatch.setattr(refining, "_TIER", tier)
    monkeypatch.setattr(refining, "COMPILE_AFTER", 0)
    monkeypatch.setitem(sys.modules, "gradpoly._compensated_kernels", None)
    monkeypatch.delattr(gradpoly, "_compensated_kernels", raising=False)
    x = np.linspace(0, 5, 100)
    assert isinstance(refining.refiner(x, 2.5, 2.5, 5), Designs)
    assert tier.missing
    assert tier.kernels is None


def test_a_one_off_fit_does_not_load_the_kernels(monkeypatch) -> None:
    tier = refining._Tier()
    monkeypatch.setattr(refining, "_TIER", tier)
    assert isinstance(refining.refiner(np.linspace(0, 1, 10), 0.5, 0.5, 3), Designs)
    assert tier.kernels is None
    assert not tier.missing


def _tier_with(monkeypatch: pytest.MonkeyPatch, module: object) -> refining._Tier:
    """A fresh tier about to load ``module`` in place of the compiled kernels."""
    tier = refining._Tier()
    monkeypatch.setattr(refining, "_TIER", tier)
    monkeypatch.setattr(refining, "COMPILE_AFTER", 0)
    monkeypatch.setitem(sys.modules, "gradpoly._compensated_kernels", module)
    monkeypatch.setattr(gradpoly, "_compensated_kernels", module, raising=False)
    return tier


def test_kernels_that_cannot_run_leave_numpy_with_one_warning(monkeypatch) -> None:
    class Broken:
        OK = 0

        def designs(self, *args: object) -> int:
            raise RuntimeError("no LLVM target")  # numba failing to compile, as it would

    tier = _tier_with(monkeypatch, Broken())
    x = np.linspace(0, 5, 100)
    with pytest.warns(CompiledWarning, match="cannot run here .*no LLVM target"):
        expected = lstsq(x, np.sin(x), 4)
    assert tier.missing
    assert tier.kernels is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once: later fits are quiet
        np.testing.assert_array_equal(lstsq(x, np.sin(x), 4), expected)


def test_kernels_that_disagree_with_numpy_are_not_used(monkeypatch) -> None:
    class OffByAnUlp:
        """The real kernels, but a gradient one ulp off (as fused multiply-adds would give)."""

        OK = kernels.OK
        designs = staticmethod(kernels.designs)
        headroom = staticmethod(kernels.headroom)

        @staticmethod
        def gradient(*args) -> int:
            status = kernels.gradient(*args)
            out = args[-1]
            out[0] = np.nextafter(out[0], np.inf)
            return int(status)

    tier = _tier_with(monkeypatch, OffByAnUlp())
    x = np.linspace(0, 5, 100)
    with pytest.warns(CompiledWarning, match="does not reproduce NumPy's numbers"):
        lstsq(x, np.sin(x), 4)
    assert tier.missing
    assert isinstance(refining.refiner(x, 2.5, 2.5, 5), Designs)
