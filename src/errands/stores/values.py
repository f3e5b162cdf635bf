"""The store seam's small types: the transaction protocol, change watchers, what a claim, a
readiness check, a heartbeat and a purge report, worker records, and the shape of one event-log
row. No I/O here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from ..job import Job, Progress, State
from .records import Row

Table = tuple[list[str], list[tuple[Any, ...]]]  # column names, rows as plain tuples


class Tx(Protocol):
    """One open transaction running the dialect's named statements."""

    now: float  # the store's clock, read once when the transaction began
    # Whether the batch statements of claims and settles append their own events (PostgreSQL
    # writes inside WITH: one round trip); SQLite's need a statement of their own.
    events_in_writes: bool
    # True when the transaction already knows that no flow row constrains claims (PostgreSQL asks
    # when it begins); False: look (flow.open_gate).
    flow_free: bool

    def rows(self, query: str, **params: Any) -> list[Row]: ...

    def table(self, query: str, **params: Any) -> Table:
        """The column names and the rows as plain tuples: no mapping made per row (claims)."""
        ...

    def run(self, query: str, **params: Any) -> int:
        """Execute a statement; returns how many rows it changed."""
        ...


class ChangeWatcher(Protocol):
    # True when a wake-up means a job became claimable (PostgreSQL's NOTIFY is sent only then), so
    # a worker claims at once; False when it means only that something changed (SQLite's data
    # version), so a worker looks before it takes the write lock.
    announces_jobs: bool

    def wait(self, timeout: float) -> bool:
        """Block until another connection may have changed the store, or timeout."""
        ...

    def poke(self) -> None:
        """Wake a waiting thread from this process."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LeaseReport:
    """What a heartbeat learned: the leases still held."""

    held: dict[int, str]  # job id -> lease token


@dataclass(frozen=True, slots=True)
class Claim:
    """What one claim did: the jobs leased (highest priority first), which of the outcomes settled
    in the same commit were accepted (in the order given), and in how many seconds a full rate
    limit it met lets a start through (None: it met none)."""

    jobs: list[Job]
    accepted: list[bool]
    opens_in: float | None = None


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether a due job waits, and how many failed jobs wait for a retry (counted only when asked)."""

    due: bool
    retrying: int = 0


@dataclass(frozen=True, slots=True)
class Purged:
    """What a purge removed: finished jobs past their age, and pages given back to the disk (SQLite)."""

    jobs: int
    pages: int = 0


class BulkAction(Enum):
    """What the dashboard does to many jobs at once."""

    RETRY = "retry"
    CANCEL = "cancel"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Activity:
    """Buffered progress and log lines of one running job, flushed together."""

    job_id: int
    lease_token: str
    progress: Progress | None
    logs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rescue:
    job_id: int
    failed: bool  # True when the job's workers died too often and it was failed


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    queues: tuple[str, ...]  # empty: every queue
    concurrency: int
    started_at: float = 0.0
    last_seen: float = 0.0
    tasks: tuple[str, ...] | None = None  # the tasks it claims; None: not recorded (it claims every task)

    def serves(self, queue: str, task: str) -> bool:
        """Whether this worker would claim a job of `task` in `queue`."""
        return (not self.queues or queue in self.queues) and (self.tasks is None or task in self.tasks)


LIVE_WITHIN = 60.0  # seconds: a worker not seen for longer is not counted as live (heartbeats come every few)


@dataclass(frozen=True, slots=True)
class Unserved:
    """Waiting jobs of one task in one queue that no live worker would claim, and why."""

    queue: str
    task: str
    jobs: int  # how many wait (queued or scheduled)
    reason: str


def unserved_reason(queue: str, task: str, workers: Sequence[WorkerInfo], now: float) -> str | None:
    """Why no live worker would claim a job of `task` in `queue`; None when one would.
    Such a job is never failed for it: it waits until a worker that knows its task comes."""
    live = [w for w in workers if now - w.last_seen < LIVE_WITHIN]
    if not live:
        return "no worker is running"
    knowing = [w for w in live if w.tasks is None or task in w.tasks]
    if not knowing:
        return f"no live worker knows task {task!r}"
    if not any(w.serves(queue, task) for w in knowing):
        return f"no live worker that knows task {task!r} serves queue {queue!r}"
    return None


def waiting_reason(job: Job, workers: Sequence[WorkerInfo], now: float) -> str | None:
    """Why no live worker would claim this waiting job; None when one would, or when the job is
    not waiting (queued or scheduled)."""
    if job.state not in (State.QUEUED, State.SCHEDULED):
        return None
    return unserved_reason(job.queue, job.task, workers, now)


def event(job_id: int, kind: str, state: State | None = None, data: Any = None) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "kind": kind,
        "state": state.value if state else None,
        "data": None if data is None else json.dumps(data),
    }
