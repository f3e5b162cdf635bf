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
    queues: tuple[str, ...]
    concurrency: int
    started_at: float = 0.0
    last_seen: float = 0.0


def event(job_id: int, kind: str, state: State | None = None, data: Any = None) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "kind": kind,
        "state": state.value if state else None,
        "data": None if data is None else json.dumps(data),
    }
