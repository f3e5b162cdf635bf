"""The dashboard's pages (overview, jobs, one job, workers, a bulk run) and the filters in
their query strings. Each page reads the store in a thread and renders one template.

Bad filter values get a page saying what is wrong (422), never a traceback.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response

from ...app import Errands
from ...errors import JobNotFound
from ...job import JobEvent, State
from ...stores import dashboard as reads
from ...stores.base import Store
from ...stores.flow import why_waiting as why_held
from ...stores.values import LIVE_WITHIN
from ..auth import Denied
from .bulk import BulkRunner
from .guard import Viewer
from .present import chart_bars, why_waiting

RANGES = {"15m": 900.0, "1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0}
MAX_TEXT = 200
PAGE_SIZE = 50
MAX_EVENTS = 5000  # a job page shows this many events at most (a note says when there are more)
MAX_ID = 2**63 - 1



class Render(Protocol):
    def __call__(self, request: Request, who: Viewer, template: str, status: int = 200,
                 **context: Any) -> Response: ...


def invalid(message: str) -> Denied:
    return Denied(422, "invalid", message)


def text_param(values: ImmutableMultiDict[str, Any], name: str) -> str | None:
    raw = values.get(name)
    if not isinstance(raw, str) or not raw.strip():
        return None
    if len(raw) > MAX_TEXT or "\x00" in raw:
        raise invalid(f"'{name}' must be at most {MAX_TEXT} characters, without NUL")
    return raw.strip()


def time_param(values: ImmutableMultiDict[str, Any], name: str) -> float | None:
    raw = text_param(values, name)
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid(f"'{name}' must be a date and time such as 2026-01-31T14:00 (UTC unless it names a zone)"
                      ) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def parse_filter(values: ImmutableMultiDict[str, Any], now: float) -> tuple[reads.JobFilter, dict[str, Any]]:
    """The filter in a query string (or a bulk form), and its canonical parameters for links."""
    states = []
    for raw in values.getlist("state"):
        if raw == "":
            continue
        try:
            states.append(State(raw))
        except ValueError:
            raise invalid(f"unknown state {raw!r}: use one of {', '.join(s.value for s in State)}") from None
    span = text_param(values, "range")
    if span is not None and span not in RANGES:
        raise invalid(f"unknown range {span!r}: use one of {', '.join(RANGES)}")
    since = now - RANGES[span] if span else time_param(values, "from")
    task, queue, search = text_param(values, "task"), text_param(values, "queue"), text_param(values, "q")
    params = {"state": [s.value for s in states], "task": task, "queue": queue, "range": span,
              "from": None if span else text_param(values, "from"), "to": text_param(values, "to"), "q": search}
    f = reads.JobFilter(tuple(states), task, queue, since, time_param(values, "to"), search)
    return f, params


def before_param(values: ImmutableMultiDict[str, Any]) -> int | None:
    raw = values.get("before")
    if raw in (None, ""):
        return None
    if not isinstance(raw, str) or not raw.isdigit() or int(raw) > MAX_ID:
        raise invalid("'before' must be a job id")
    return int(raw)


@dataclass(frozen=True, slots=True)
class TimelineRow:
    event: JobEvent
    worker: str | None


def timeline(events: list[JobEvent]) -> tuple[list[TimelineRow], int]:
    """Every event but progress updates (counted instead), each with the worker of its run."""
    rows, progress, worker = [], 0, None
    for e in events:
        data = e.data if isinstance(e.data, dict) else {}
        if e.kind == "state" and e.state is State.RUNNING:
            worker = data.get("worker")
        if e.kind == "progress":
            progress += 1
            continue
        rows.append(TimelineRow(e, worker if e.kind != "state" or e.state is not State.QUEUED else None))
        if e.kind == "state" and e.state is not State.RUNNING:
            worker = None
    return rows, progress


class Pages:
    def __init__(self, errands: Errands, render: Render, bulk: BulkRunner) -> None:
        self.errands = errands
        self.render = render
        self.bulk = bulk

    @property
    def store(self) -> Store:
        return self.errands.store

    async def overview(self, request: Request, viewer: Viewer) -> Response:
        data = await asyncio.to_thread(reads.overview, self.store)
        last = await asyncio.to_thread(self.store.last_event_id)
        bars, peak = chart_bars(data.per_minute, data.now)
        served = {q.queue: sum(1 for w in data.live_workers if not w.queues or q.queue in w.queues)
                  for q in data.queues}
        every_flow = sorted(await asyncio.to_thread(self.store.flows), key=lambda f: (f.kind != "queue", f.name))
        flows = {f.name: f for f in every_flow if f.kind == "queue"}
        return self.render(request, viewer, "overview.html", page="overview", o=data, bars=bars, peak=peak,
                           served=served, flows=flows, every_flow=every_flow, stream=f"events?last_event_id={last}")

    async def jobs(self, request: Request, viewer: Viewer) -> Response:
        now = await asyncio.to_thread(self.store.now)
        f, params = parse_filter(request.query_params, now)
        before = before_param(request.query_params)
        page = await asyncio.to_thread(reads.find_jobs, self.store, f, before, PAGE_SIZE)
        counts = await asyncio.to_thread(reads.state_counts, self.store)
        last = await asyncio.to_thread(self.store.last_event_id)
        exact = None
        if params["q"] and params["q"].lstrip("#").isdigit() and int(params["q"].lstrip("#")) <= MAX_ID:
            exact = await asyncio.to_thread(self._maybe_job, int(params["q"].lstrip("#")))
        return self.render(request, viewer, "jobs.html", page="jobs", jobs=page.jobs, next_before=page.next_before,
                           scanned_down_to=page.scanned_down_to, before=before, params=params, counts=counts,
                           cap=reads.COUNT_CAP, now=now, exact=exact, ranges=list(RANGES),
                           stream=f"events?last_event_id={last}")

    def _maybe_job(self, job_id: int) -> Any:
        try:
            return self.store.get(job_id)
        except JobNotFound:
            return None

    async def job(self, request: Request, viewer: Viewer) -> Response:
        job_id = int(request.path_params["job_id"])
        if job_id > MAX_ID:
            raise Denied(404, "not_found", f"job {job_id} not found")
        job = await asyncio.to_thread(self.store.get, job_id)
        events = await asyncio.to_thread(self.store.events, job_id, 0, MAX_EVENTS)
        files = await asyncio.to_thread(self.store.files, job_id)
        workers = await asyncio.to_thread(self.store.workers)
        now = await asyncio.to_thread(self.store.now)
        held = why_held(job.queue, job.task, await asyncio.to_thread(self.store.flows))
        rows, progress_events = timeline(events)
        logs = [e for e in events if e.kind == "log"]
        last = events[-1].id if events else 0
        stream = "" if job.finished else f"jobs/{job.id}/events?last_event_id={last}"
        return self.render(request, viewer, "job.html", page="jobs", job=job, rows=rows, logs=logs, files=files,
                           progress_events=progress_events, truncated=len(events) >= MAX_EVENTS, now=now,
                           why=why_waiting(job, workers, now, held) if job.state in (State.QUEUED, State.SCHEDULED)
                           else [], stream=stream)

    async def workers(self, request: Request, viewer: Viewer) -> Response:
        workers = await asyncio.to_thread(self.store.workers)
        in_hand = await asyncio.to_thread(reads.jobs_in_hand, self.store)
        stopped = await asyncio.to_thread(reads.recently_stopped, self.store, workers)
        now = await asyncio.to_thread(self.store.now)
        last = await asyncio.to_thread(self.store.last_event_id)
        live = [w for w in workers if now - w.last_seen < LIVE_WITHIN]
        silent = [w for w in workers if now - w.last_seen >= LIVE_WITHIN]
        return self.render(request, viewer, "workers.html", page="workers", live=live, silent=silent,
                           stopped=stopped, in_hand=in_hand, now=now, stream=f"events?last_event_id={last}")

    async def bulk_run(self, request: Request, viewer: Viewer) -> Response:
        run = self.bulk.runs.get(request.path_params["run_id"])
        if run is None:
            raise Denied(404, "not_found", "no such bulk action in this process (it ended long ago, or the "
                                           "server restarted): start it again from the jobs page")
        return self.render(request, viewer, "bulk.html", page="jobs", run=run, stream="",
                           poll=0 if run.done else 1000)
