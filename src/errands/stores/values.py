"""The store seam's small types: the transaction protocol, change watchers, heartbeat reports,
worker records, and the shape of one event-log row. No I/O here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..job import Progress, State
from .records import Row


class Tx(Protocol):
    """One open transaction running the dialect's named statements."""

    now: float  # the store's clock, read once when the transaction began

    def rows(self, query: str, **params: Any) -> list[Row]: ...

    def run(self, query: str, **params: Any) -> int:
        """Execute a statement; returns how many rows it changed."""
        ...

    def run_many(self, query: str, params: Sequence[dict[str, Any]]) -> None: ...


class ChangeWatcher(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block until another connection may have changed the store, or timeout."""
        ...

    def poke(self) -> None:
        """Wake a waiting thread from this process."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LeaseReport:
    """What a heartbeat learned: leases still held, and those asked to cancel."""

    held: dict[int, str]  # job id -> lease token
    cancel_requested: frozenset[int]


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


def event(job_id: int, kind: str, state: State | None = None, data: Any = None) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "kind": kind,
        "state": state.value if state else None,
        "data": None if data is None else json.dumps(data),
    }
