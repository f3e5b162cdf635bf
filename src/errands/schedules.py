"""Schedules as values: when a periodic job fires (cron arithmetic or multiples of N seconds since
the Unix epoch), what it enqueues, and the record the store keeps. Pure functions, no I/O: every
worker computes the same fire times from the same schedule, never from its own clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import BadArguments
from .job import NewJob, from_timestamp

MAX_FIRES_PER_TICK = 1000  # fire times one tick enqueues per schedule; the rest come next tick


@dataclass(frozen=True, slots=True)
class Timing:
    """When a schedule fires: `cron` (in `timezone`) or `every` seconds (slots k * every since the epoch)."""

    cron: str | None = None
    every: float | None = None
    timezone: str = "UTC"

    def check(self) -> Timing:
        """This timing, or BadArguments saying what is wrong with it."""
        if (self.cron is None) == (self.every is None):
            raise BadArguments("give a schedule cron= or every=, not both or neither")
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise BadArguments(f"unknown timezone {self.timezone!r} (use an IANA name like 'Europe/Paris')") from None
        if self.every is not None:
            if isinstance(self.every, bool) or not isinstance(self.every, int | float):
                raise BadArguments(f"every must be a number of seconds, not {type(self.every).__name__}")
            if not math.isfinite(self.every) or self.every < 1:
                raise BadArguments(f"every must be at least 1 second, got {self.every!r}")
        else:
            from croniter import croniter  # type: ignore[import-untyped]  # here: workers without cron skip it

            if not isinstance(self.cron, str) or not croniter.is_valid(self.cron):
                raise BadArguments(f"not a cron expression: {self.cron!r} (e.g. '*/5 * * * *')")
            croniter(self.cron, datetime.fromtimestamp(0, zone))
        return self

    def fire_times(self, after: float, until: float, limit: int = MAX_FIRES_PER_TICK) -> list[float]:
        """The fire times t with after < t <= until (epoch seconds), oldest first, at most `limit`."""
        if self.every is not None:
            first = math.floor(after / self.every) + 1
            last = math.floor(until / self.every)
            return [k * self.every for k in range(first, min(last, first + limit - 1) + 1)]
        assert self.cron is not None
        from croniter import croniter

        zone = ZoneInfo(self.timezone)
        times: list[float] = []
        start = datetime.fromtimestamp(math.floor(after), zone)
        walk = croniter(self.cron, start)
        while len(times) < limit:
            slot = float(walk.get_next(float))
            if slot > until:
                break
            if slot > after:
                times.append(slot)
        return times

    def describe(self) -> str:
        if self.every is not None:
            return f"every {self.every:g}s"
        return f"{self.cron} ({self.timezone})"


@dataclass(frozen=True, slots=True)
class NewSchedule:
    """What the app hands the store: a named timing and the job each fire time enqueues."""

    name: str
    timing: Timing
    job: NewJob
    catch_up: bool = False
    origin: str = "runtime"  # "code" (@app.periodic, stored again at each start) or "runtime" (app.schedule)


@dataclass(frozen=True, slots=True)
class Schedule:
    """One schedule as the store last saw it. `fired_until` is the latest fire time handled."""

    name: str
    timing: Timing
    task: str
    args: dict[str, Any]
    queue: str
    catch_up: bool
    paused: bool
    origin: str
    created_at: datetime
    fired_until: datetime | None = None
    last_job_id: int | None = None
    next_fire: datetime | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view for scripts and the HTTP API (times in ISO 8601, UTC)."""

        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "name": self.name,
            "task": self.task,
            "args": self.args,
            "queue": self.queue,
            "cron": self.timing.cron,
            "every": self.timing.every,
            "timezone": self.timing.timezone,
            "catch_up": self.catch_up,
            "paused": self.paused,
            "origin": self.origin,
            "created_at": iso(self.created_at),
            "fired_until": iso(self.fired_until),
            "next_fire": iso(self.next_fire),
            "last_job_id": self.last_job_id,
        }


def next_fire(timing: Timing, after: float) -> datetime | None:
    """The first fire time after `after`, as a UTC datetime."""
    times = timing.fire_times(after, after + 400 * 86400, limit=1)
    return from_timestamp(times[0]) if times else None


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise BadArguments("a schedule name must be a non-empty string of at most 200 characters")
    return name
