"""The timing harness: samples kept, median/IQR derived, warm-up excluded, gate applied."""

from __future__ import annotations

import numpy as np
import pytest

from gradpoly.bench.harness import Measurement, Outcome, Spec, measure, pinned_threads, unavailable

SPEC = Spec("x", "numpy", "manual", "cpu", "eager", "per-sample", "float32", 100)


def test_median_iqr_and_noise_flag() -> None:
    m = Measurement(SPEC, (1.0, 2.0, 3.0, 4.0, 100.0))
    assert m.median == 3.0
    assert m.iqr == pytest.approx(2.0)
    assert m.noisy
    assert not Measurement(SPEC, (1.0, 1.0, 1.01)).noisy
    assert m.per_step_us == pytest.approx(3e4)


def test_warm_up_is_excluded_and_reported_as_compile_time() -> None:
    times = iter([5.0, 1.0, 1.2, 0.8])

    def run() -> Outcome:
        return Outcome(next(times), 0.5, np.zeros(2))

    m = measure(SPEC, run, repeats=3, check=lambda o: ("ok", 0.0))
    assert m.samples == (1.0, 1.2, 0.8)
    assert m.compile_seconds == pytest.approx(4.0)
    assert m.env["python"]
    assert m.to_dict()["median_s"] == 1.0


def test_gate_marks_wrong_results() -> None:
    m = measure(SPEC, lambda: Outcome(0.1, 9.9, np.ones(2)), 2, check=lambda o: ("wrong", 1.0))
    assert m.status == "wrong"
    assert m.max_coef_err == 1.0


def test_unavailable_keeps_the_reason() -> None:
    m = unavailable(SPEC, "no GPU")
    assert m.status == "unavailable"
    assert m.reason == "no GPU"
    assert np.isnan(m.median)


def test_pinned_threads_restores_torch() -> None:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with pinned_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
