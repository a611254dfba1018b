"""The choice Enums and FitConfig validation."""

from __future__ import annotations

import math

import pytest

from gradpoly import Device, DType, FitConfig, Gradient, InvalidOptionError, Mode, Strategy


@pytest.mark.parametrize("kind", [Gradient, Device, Mode, Strategy, DType])
def test_every_choice_parses_its_own_values(kind) -> None:
    for member in kind:
        assert kind.parse(member.value) is member
        assert str(member) == member.value


def test_unknown_choice_lists_the_valid_ones() -> None:
    with pytest.raises(
        InvalidOptionError, match="unknown gradient 'magic'; choose one of: manual, autograd"
    ):
        Gradient.parse("magic")


@pytest.mark.parametrize("steps", [0, -5, 2.5, True])
def test_steps_must_be_a_positive_integer(steps) -> None:
    with pytest.raises(InvalidOptionError, match="steps must be a positive integer"):
        FitConfig(steps=steps)


@pytest.mark.parametrize("lr", [0.0, -1e-3, math.inf, math.nan, "fast"])
def test_lr_must_be_positive_and_finite(lr) -> None:
    with pytest.raises(InvalidOptionError, match="lr must be a positive"):
        FitConfig(lr=lr)


def test_config_strings_are_parsed_and_round_trip() -> None:
    config = FitConfig(engine="torch", gradient="autograd", device="cpu", dtype="float64")  # type: ignore[arg-type]
    assert config.gradient is Gradient.AUTOGRAD
    assert str(config) == "torch-autograd-cpu-eager-per-sample-float64"
    assert FitConfig.from_dict(config.to_dict()) == config
