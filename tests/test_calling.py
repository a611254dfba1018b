"""Options after the data are keyword-only; positional use keeps working one release, warned."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import gradpoly
from gradpoly.calling import keyword_only


@keyword_only(2)
def _door(x: int, y: int = 0, *, a: int = 1, b: int = 2) -> tuple[int, int, int, int]:
    return x, y, a, b


def test_keywords_pass_silently() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _door(1, 2, b=5) == (1, 2, 1, 5)


def test_positional_options_are_mapped_in_order_and_warned() -> None:
    with pytest.warns(
        DeprecationWarning, match=r"keyword-only since gradpoly 0\.2; write a=\.\.\., b="
    ):
        assert _door(1, 2, 3, 4) == (1, 2, 3, 4)


def test_too_many_or_twice_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="at most 4"):
        _door(1, 2, 3, 4, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(TypeError, match="multiple values for 'a'"):
            _door(1, 2, 3, a=4)


def test_the_signature_shown_is_the_keyword_only_one() -> None:
    kinds = {p.name: p.kind for p in inspect.signature(gradpoly.fit).parameters.values()}
    assert kinds["degree"] is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert kinds["steps"] is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize(
    "door", [gradpoly.fit, gradpoly.lstsq, gradpoly.fit_many, gradpoly.lstsq_many]
)
def test_every_front_door_takes_options_by_keyword(door) -> None:
    params = list(inspect.signature(door).parameters.values())
    assert [p.name for p in params[:3]] == ["x", "y", "degree"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[3:])


def test_an_old_positional_call_still_fits() -> None:
    x = np.linspace(0, 1, 20)
    with pytest.warns(DeprecationWarning, match="weights="):
        coef = gradpoly.lstsq(x, 1 + x, 1, np.ones(20))
    np.testing.assert_allclose(coef, [1, 1], atol=1e-12)
