"""How the dashboard shows values: the Jinja2 environment (autoescaped), times, durations,
counts, pretty JSON, the throughput chart's bars, and why a waiting job is not running.

No routing and no store access here: these are pure functions of what the pages read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ...job import Job, State
from ...stores.aftermath import WAITING_FOR_PARENT
from ...stores.values import WorkerInfo, unserved_reason

STATES = [State.SCHEDULED, State.QUEUED, State.RUNNING, State.SUCCEEDED, State.FAILED, State.CANCELLED]


def when(value: datetime | float | None, relative_to: float | None = None) -> Markup:
    """A `<time>` element: UTC in its title and datetime (the page's script shows the viewer's
    zone), and "3 min ago" when `relative_to` (the store's now) is given."""
    if value is None:
        return Markup("<span class=muted>—</span>")
    at = value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    utc = at.astimezone(UTC)
    text = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    if relative_to is not None:
        shown = ago(relative_to - utc.timestamp())
        return Markup('<time datetime="{}" title="{}">{}</time>').format(utc.isoformat(), text, shown)
    return Markup('<time datetime="{}" title="{}" data-local>{}</time>').format(utc.isoformat(), text, text)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def ago(seconds: float) -> str:
    """"3 min ago", "in 2 h": the coarsest unit only."""
    if -5 < seconds < 5:
        return "just now"
    size = abs(seconds)
    if size < 60:
        text = f"{int(size)} s"
    elif size < 3600:
        text = f"{int(size // 60)} min"
    elif size < 48 * 3600:
        text = f"{int(size // 3600)} h"
    else:
        text = f"{int(size // 86400)} d"
    return f"{text} ago" if seconds > 0 else f"in {text}"


def job_duration(job: Job, now: float) -> str:
    if job.started_at is None:
        return "—"
    end = job.finished_at.timestamp() if job.finished_at else now
    if job.finished_at is None and job.state is not State.RUNNING:
        return "—"
    return duration(end - job.started_at.timestamp())


def count(n: int, cap: int) -> str:
    """A capped count: 10,001 with cap 10,000 reads "10,000+"."""
    return f"{cap:,}+" if n > cap else f"{n:,}"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction * 100:.1f} %"


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    parts: list[tuple[str, float, float]]  # (state, y, height)
    label: str


def chart_bars(per_minute: list[tuple[int, int, int]], now: float, height: float = 120.0,
               width: float = 600.0) -> tuple[list[Bar], int]:
    """Stacked bars (succeeded, failed, cancelled) for each minute of the last hour, scaled to
    the busiest minute; returns the bars and that minute's total."""
    peak = max((sum(m) for m in per_minute), default=0)
    step = width / max(len(per_minute), 1)
    bars = []
    for i, minute in enumerate(per_minute):
        y = height
        parts = []
        for state, n in zip(("succeeded", "failed", "cancelled"), minute, strict=True):
            h = 0.0 if peak == 0 else height * n / peak
            if n:
                y -= h
                parts.append((state, round(y, 2), round(h, 2)))
        start = datetime.fromtimestamp(now - (len(per_minute) - i) * 60, UTC).strftime("%H:%M UTC")
        label = f"{start}: {minute[0]} succeeded, {minute[1]} failed, {minute[2]} cancelled"
        bars.append(Bar(round(i * step + 1, 2), parts, label))
    return bars, peak


def why_waiting(job: Job, workers: list[WorkerInfo], now: float, held: str | None = None) -> list[str]:
    """Why a scheduled or queued job is not running yet, each reason a sentence; `held`: why flow
    control holds it back (a paused queue, a full concurrency limit or rate), if it does."""
    reasons = []
    if job.state is State.SCHEDULED:
        if job.run_at.timestamp() >= WAITING_FOR_PARENT - 1:
            reasons.append(f"It waits for its parent job #{job.parent_id} to succeed.")
        elif job.attempt > 0:
            reasons.append(f"It failed attempt {job.attempt} of {job.max_attempts} and retries "
                           f"{ago(now - job.run_at.timestamp())} ({job.run_at:%Y-%m-%d %H:%M:%S} UTC).")
        else:
            reasons.append(f"It is scheduled to run {ago(now - job.run_at.timestamp())} "
                           f"({job.run_at:%Y-%m-%d %H:%M:%S} UTC).")
    unserved = unserved_reason(job.queue, job.task, workers, now)
    if held is not None:
        reasons.append(held[0].upper() + held[1:] + ": it waits until that changes.")
    if unserved is not None:
        reasons.append(unserved[0].upper() + unserved[1:] + ": it waits until one starts.")
    elif held is None and job.state is State.QUEUED:
        reasons.append("It is ready: a worker serving its queue takes it when a slot frees up "
                       "(higher priorities and older jobs go first).")
    return reasons


def query(params: dict[str, Any], **changes: Any) -> str:
    """The query string of `params` with `changes` (None removes a key), for links."""
    merged = {**params, **changes}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((key, str(v)) for v in values if v not in (None, ""))
    return ("?" + urlencode(pairs)) if pairs else ""


def describe(params: dict[str, Any]) -> str:
    """The filter in words: "every failed job of task export in queue default"."""
    states = " or ".join(params["state"]) if params["state"] else ""
    words = [f"every {states} job".replace("  ", " ")]
    if params["task"]:
        words.append(f"of task {params['task']!r}")
    if params["queue"]:
        words.append(f"in queue {params['queue']!r}")
    if params["range"]:
        words.append(f"created in the last {params['range']}")
    if params["from"]:
        words.append(f"created from {params['from']}")
    if params["to"]:
        words.append(f"created before {params['to']}")
    if params["q"]:
        words.append(f"mentioning {params['q']!r}")
    return " ".join(words)


def environment() -> Environment:
    env = Environment(loader=PackageLoader("errands.web", "templates/dashboard"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(duration=duration, count=count, pretty=pretty, percent=percent)
    env.globals.update(describe=describe, when=when, job_duration=job_duration, query=query, STATES=STATES)
    return env
