"""The dashboard's reads and bulk actions on any store: filtered job pages, capped counts,
per-minute throughput, recently seen workers, and retry/cancel/delete by filter in chunks.

Lists read one window of ids at a time on the primary key (never OFFSET, never a count over
the table), so every page costs about the same at any table size. No HTML here (see web/dashboard).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..job import FINISHED, Job, State
from .base import Store
from .records import job_from_row
from .values import LIVE_WITHIN, BulkAction, WorkerInfo

__all__ = ["BulkAction", "Chunk", "JobFilter", "JobPage", "Overview", "QueueLoad", "SeenWorker", "act_on_chunk",
           "applies_to", "find_jobs", "jobs_in_hand", "overview", "recently_stopped", "state_counts", "top_id"]

WINDOW = 50_000  # ids one page (or one bulk chunk) looks at, at most
COUNT_CAP = 10_000  # counts stop here: "10,000+"
CHUNK = 500  # jobs a bulk action changes per transaction
MAX_ID = 2**63 - 1
RECENT_EVENTS = 20_000  # how far back in the event log recently stopped workers are looked for
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs a list or a bulk action covers; every field optional."""

    states: tuple[State, ...] = ()
    task: str | None = None
    queue: str | None = None
    since: float | None = None  # created at or after (store clock, epoch seconds)
    until: float | None = None  # created before
    search: str | None = None  # text in the arguments, the error message or the progress message

    def params(self) -> dict[str, Any]:
        pattern = None
        if self.search:
            escaped = self.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
        return {
            "states": json.dumps([s.value for s in self.states]) if self.states else None,
            "task": self.task or None,
            "queue": self.queue or None,
            "since": self.since,
            "until": self.until,
            "pattern": pattern,
        }


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of a list, newest first. `next_before` continues it (None: nothing older);
    `scanned_down_to` is the lowest id looked at when the page ended short of its size
    because its window ended (more matches may lie further back)."""

    jobs: list[Job]
    next_before: int | None
    scanned_down_to: int | None = None


def _bounds(tx: Any, before: int | None) -> tuple[int, int]:
    top = int(tx.rows("dash_max_id")[0]["id"]) + 1
    before = top if before is None else max(0, min(before, top, MAX_ID))
    return before, int(tx.rows("dash_min_id")[0]["id"])


def _continue_from(tx: Any, f: JobFilter, floor: int, lowest: int) -> int | None:
    """Where the next window starts, or None when no older job can match."""
    if floor <= lowest:
        return None
    if f.since is not None:
        below = tx.rows("dash_created_below", before=floor)
        if not below or below[0]["created_at"] < f.since:
            return None
    return floor


def find_jobs(store: Store, f: JobFilter, before: int | None = None, limit: int = 50,
              window: int = WINDOW) -> JobPage:
    """Up to `limit` jobs matching `f` with ids below `before`, looking at `window` ids at most."""
    with store._read() as tx:
        before, lowest = _bounds(tx, before)
        floor = max(before - window, 0)
        rows = tx.rows("dash_find_jobs", before=before, floor=floor, limit=limit + 1, **f.params())
        jobs = [job_from_row(r) for r in rows[:limit]]
        if len(rows) > limit:
            return JobPage(jobs, jobs[-1].id)
        following = _continue_from(tx, f, floor, lowest)
        return JobPage(jobs, following, None if following is None else floor)


def state_counts(store: Store, cap: int = COUNT_CAP) -> dict[State, int]:
    """Jobs per state; a count above `cap` means "more than cap" (it stops counting there)."""
    with store._read() as tx:
        rows = tx.rows("dash_state_counts", cap=cap + 1)
    return {State(r["state"]): int(r["n"]) for r in rows}


@dataclass(frozen=True, slots=True)
class QueueLoad:
    queue: str
    scheduled: int = 0
    queued: int = 0
    running: int = 0
    oldest_due: float | None = None  # when the longest-waiting queued job became due


@dataclass(frozen=True, slots=True)
class Overview:
    now: float
    states: dict[State, int]
    queues: list[QueueLoad]
    # per minute over the last hour, oldest first: (succeeded, failed, cancelled)
    per_minute: list[tuple[int, int, int]]
    workers: list[WorkerInfo]
    cap: int = COUNT_CAP

    @property
    def finished_last_hour(self) -> int:
        return sum(sum(m) for m in self.per_minute)

    @property
    def failure_rate(self) -> float | None:
        """Failed among the jobs that ended in the last hour (cancelled ones not counted)."""
        done = sum(s + f for s, f, _ in self.per_minute)
        return None if done == 0 else sum(f for _, f, _ in self.per_minute) / done

    @property
    def live_workers(self) -> list[WorkerInfo]:
        return [w for w in self.workers if self.now - w.last_seen < LIVE_WITHIN]


def overview(store: Store, cap: int = COUNT_CAP) -> Overview:
    states = state_counts(store, cap)
    workers = store.workers()
    with store._read() as tx:
        now = tx.now
        since = now - HOUR
        loads: dict[str, dict[str, Any]] = {}
        for r in tx.rows("count_unfinished_by_queue_state"):
            load = loads.setdefault(r["queue"], {"queue": r["queue"]})
            load[r["state"]] = int(r["n"])
            if r["state"] == State.QUEUED.value:
                load["oldest_due"] = float(r["oldest"])
        minutes = [[0, 0, 0] for _ in range(60)]
        column = {State.SUCCEEDED.value: 0, State.FAILED.value: 1, State.CANCELLED.value: 2}
        for r in tx.rows("dash_finished_per_minute", since=since):
            minute = min(max(int(r["minute"]), 0), 59)
            minutes[minute][column[r["state"]]] += int(r["n"])
    for w in workers:  # a queue served but empty still shows
        for q in w.queues:
            loads.setdefault(q, {"queue": q})
    queues = [QueueLoad(**loads[q]) for q in sorted(loads)]
    return Overview(now, states, queues, [(s, f, c) for s, f, c in minutes], workers, cap)


@dataclass(frozen=True, slots=True)
class SeenWorker:
    """A worker that claimed jobs lately but is no longer registered (stopped or forgotten)."""

    id: str
    last_claim: float
    claims: int


def recently_stopped(store: Store, registered: Sequence[WorkerInfo]) -> list[SeenWorker]:
    """Workers seen claiming jobs in the newest events but no longer registered, latest first."""
    known = {w.id for w in registered}
    with store._read() as tx:
        last = int(tx.rows("select_last_event_id")[0]["id"])
        rows = tx.rows("dash_recent_claims", after=max(0, last - RECENT_EVENTS))
    found = [SeenWorker(r["worker"], float(r["last"]), int(r["n"])) for r in rows
             if isinstance(r["worker"], str) and r["worker"] not in known]
    return sorted(found, key=lambda s: -s.last_claim)


@dataclass(slots=True)
class Chunk:
    """What one chunk of a bulk action did; `next_before` None when the action is done."""

    matched: int
    changed: int
    next_before: int | None
    ids: list[int] = field(default_factory=list)


def act_on_chunk(store: Store, action: BulkAction, f: JobFilter, before: int, chunk: int = CHUNK,
                 window: int = WINDOW) -> Chunk:
    """Apply `action` to up to `chunk` jobs matching `f` below id `before`, in one transaction.
    Each change is conditional on the job's state (a job that moved on meanwhile is skipped),
    so running it again, or alongside workers, is safe."""
    with store._read() as tx:
        before, lowest = _bounds(tx, before)
        floor = max(before - window, 0)
        ids = [int(r["id"]) for r in tx.rows("dash_find_ids", before=before, floor=floor, limit=chunk, **f.params())]
        following = ids[-1] if len(ids) == chunk else _continue_from(tx, f, floor, lowest)
    changed = store.bulk(action, ids)
    return Chunk(len(ids), len(changed), following, changed)


def applies_to(action: BulkAction, job: Job) -> bool:
    """Whether `action` would change this job now (the dashboard shows only buttons that do)."""
    if action is BulkAction.RETRY:
        return job.state in (State.FAILED, State.CANCELLED)
    if action is BulkAction.DELETE:
        return job.state in FINISHED
    return job.state not in FINISHED and not (job.state is State.RUNNING and job.cancel_requested)


def top_id(store: Store) -> int:
    """One above the newest job's id: a bulk action started now covers the jobs below it."""
    with store._read() as tx:
        return int(tx.rows("dash_max_id")[0]["id"]) + 1


def jobs_in_hand(store: Store) -> dict[str, int]:
    """Running jobs per worker id."""
    with store._read() as tx:
        return {r["worker"]: int(r["n"]) for r in tx.rows("dash_running_by_worker") if r["worker"]}
