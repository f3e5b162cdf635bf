"""Properties of errands.backoff: the retry delay of a failed job and the pauses between store retries."""

from __future__ import annotations

from itertools import islice

from hypothesis import given
from hypothesis import strategies as st

from errands.backoff import MAX_BACKOFF, pauses, retry_delay

bases = st.floats(min_value=0.001, max_value=10_000, allow_nan=False, allow_infinity=False)
failures = st.integers(min_value=1, max_value=200)


@given(bases, failures)
def test_a_delay_is_the_doubled_base_capped_at_an_hour_with_a_quarter_of_jitter(base: float, failure: int) -> None:
    expected = min(MAX_BACKOFF, base * 2 ** (failure - 1))
    assert expected * 0.75 <= retry_delay(base, failure) <= expected * 1.25
    assert retry_delay(base, failure) <= MAX_BACKOFF * 1.25


@given(st.floats(allow_nan=False, allow_infinity=False), failures)
def test_a_callable_backoff_decides_alone_and_never_below_zero(seconds: float, failure: int) -> None:
    asked: list[int] = []

    def backoff(n: int) -> float:
        asked.append(n)
        return seconds

    assert retry_delay(backoff, failure) == max(0.0, seconds)
    assert asked == [failure]


@given(st.floats(min_value=0.001, max_value=100), st.floats(min_value=0.001, max_value=1000), st.integers(1, 60))
def test_pauses_start_at_first_and_double_up_to_the_longest(first: float, longest: float, count: int) -> None:
    seen = list(islice(pauses(first, longest), count))
    assert len(seen) == count  # for ever: the generator never ends by itself
    assert seen[0] == first
    for before, after in zip(seen, seen[1:], strict=False):
        assert after == min(before * 2, longest)
    assert all(p <= max(first, longest) for p in seen)


@given(st.floats(min_value=0.001, max_value=1), st.floats(min_value=1, max_value=1000))
def test_pauses_reach_the_longest_and_stay_there(first: float, longest: float) -> None:
    seen = list(islice(pauses(first, longest), 64))
    assert seen[-1] == seen[-2] == longest
