"""Slot arithmetic of periodic jobs: fire times come from the schedule alone, never from the clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from errands.errors import BadArguments
from errands.schedules import Timing, next_fire

EPOCHS = st.floats(min_value=0, max_value=4e9, allow_nan=False)
CRONS = st.sampled_from(["*/5 * * * *", "0 9 * * 1-5", "30 2 * * *", "0 0 1 * *", "* * * * *"])


@given(EPOCHS, st.floats(min_value=0, max_value=3600), st.floats(min_value=0, max_value=3600),
       st.integers(min_value=1, max_value=600))
def test_every_fire_times_are_multiples_since_the_epoch_and_splitting_a_window_changes_nothing(
        start: float, first: float, second: float, every: int) -> None:
    timing = Timing(every=every)
    middle, end = start + first, start + first + second
    whole = timing.fire_times(start, end, limit=10**6)
    assert whole == timing.fire_times(start, middle, limit=10**6) + timing.fire_times(middle, end, limit=10**6)
    assert all(t % every == 0 and start < t <= end for t in whole)
    assert len(whole) == int(end // every) - int(start // every)


@settings(deadline=None, max_examples=50)  # croniter walks each minute of "* * * * *"
@given(st.floats(min_value=1.6e9, max_value=2e9), st.integers(min_value=0, max_value=86400), CRONS,
       st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]))
def test_cron_fire_times_do_not_depend_on_where_a_window_is_cut(start: float, cut: int, cron: str, zone: str) -> None:
    timing = Timing(cron=cron, timezone=zone)
    end = start + 86400
    whole = timing.fire_times(start, end, limit=10**5)
    assert whole == timing.fire_times(start, start + cut, limit=10**5) + timing.fire_times(start + cut, end,
                                                                                         limit=10**5)
    assert whole == sorted(set(whole)) and all(start < t <= end for t in whole)


def test_cron_runs_in_its_timezone() -> None:
    paris = ZoneInfo("Europe/Paris")
    winter = datetime(2026, 1, 5, 12, tzinfo=paris).timestamp()  # a Monday
    times = Timing(cron="0 9 * * *", timezone="Europe/Paris").fire_times(winter, winter + 2 * 86400)
    assert [datetime.fromtimestamp(t, paris).hour for t in times] == [9, 9]
    assert [datetime.fromtimestamp(t, ZoneInfo("UTC")).hour for t in times] == [8, 8]
    summer = datetime(2026, 7, 6, 12, tzinfo=paris).timestamp()
    (july,) = Timing(cron="0 9 * * *", timezone="Europe/Paris").fire_times(summer, summer + 86400)
    assert datetime.fromtimestamp(july, ZoneInfo("UTC")).hour == 7


def test_a_window_yields_at_most_the_limit_oldest_first() -> None:
    assert Timing(every=1).fire_times(0, 5000, limit=3) == [1, 2, 3]
    assert len(Timing(cron="* * * * *").fire_times(0, 86400, limit=7)) == 7
    nxt = next_fire(Timing(every=30), 95)
    assert nxt is not None and nxt.timestamp() == 120


@pytest.mark.parametrize(("timing", "message"), [
    (Timing(), "cron= or every="),
    (Timing(cron="* * * * *", every=5), "not both"),
    (Timing(every=0), "at least 1 second"),
    (Timing(every=float("nan")), "at least 1 second"),
    (Timing(every="5"), "number of seconds"),  # type: ignore[arg-type]
    (Timing(cron="61 * * * *"), "not a cron expression"),
    (Timing(cron="every monday"), "not a cron expression"),
    (Timing(cron="* * * * *", timezone="Mars/Olympus"), "unknown timezone"),
])
def test_bad_timings_are_refused_with_a_message(timing: Timing, message: str) -> None:
    with pytest.raises(BadArguments, match=message):
        timing.check()

