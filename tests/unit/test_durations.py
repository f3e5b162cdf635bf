"""Properties of errands.cli.loading.parse_duration: '90', '90s', '15m', '12h', '7d', '2w' -> seconds."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from errands.cli.loading import parse_duration
from errands.errors import ConfigError

UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
amounts = st.one_of(st.integers(min_value=0, max_value=10**9),
                    st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False))


@given(amounts, st.sampled_from(sorted(UNITS)))
def test_an_amount_with_a_unit_is_that_many_seconds(amount: float, unit: str) -> None:
    assert parse_duration(f"{amount}{unit}") == pytest.approx(float(amount) * UNITS[unit])


@given(st.one_of(st.integers(max_value=-1), st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False)),
       st.sampled_from(sorted(UNITS)))
def test_a_negative_duration_is_refused(amount: float, unit: str) -> None:
    with pytest.raises(ConfigError, match="cannot be negative"):
        parse_duration(f"{amount}{unit}")


@given(st.text(max_size=20))
def test_any_text_is_a_duration_or_a_config_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ConfigError as exc:
        assert repr(text) in str(exc)
    else:
        assert isinstance(seconds, float)


@given(st.text(max_size=20))
@example("nan")
@example("inf")
@example("1e400")
def test_a_duration_is_finite_and_never_negative(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ConfigError:
        return
    assert math.isfinite(seconds) and seconds >= 0
