"""Job records, their states, and the one table of legal state changes.

Values only: no I/O lives here. Stores build these records; everything
above the store reads them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, fields, make_dataclass
from datetime import UTC, datetime
from typing import Any, Literal


class State(enum.StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})

# What an enqueue with a unique key does when an unfinished job already holds the key: return that
# job, replace it (cancel the waiting holder, store the new one), or raise UniqueKeyTaken.
UniquePolicy = Literal["return", "replace", "raise"]

# Every state change a store may make, and why. Stores write each one as a
# single conditional UPDATE guarded by the "from" state (and the lease token
# where a worker holds the job). The test suite replays every event log it
# writes against this table (tests/store/history.py).
TRANSITIONS: dict[tuple[State, State], str] = {
    (State.SCHEDULED, State.QUEUED): "promoted: its run time came",
    (State.SCHEDULED, State.RUNNING): "claimed when due",
    (State.QUEUED, State.RUNNING): "claimed by a worker",
    (State.SCHEDULED, State.CANCELLED): "cancelled before it ran",
    (State.QUEUED, State.CANCELLED): "cancelled before it ran",
    (State.RUNNING, State.SUCCEEDED): "the task returned",
    (State.RUNNING, State.FAILED): "the task raised, timed out or lost its worker too often",
    (State.RUNNING, State.CANCELLED): "cancelled while running",
    (State.RUNNING, State.SCHEDULED): "retry after an error, with backoff",
    (State.RUNNING, State.QUEUED): "released at shutdown or rescued after a lost lease",
    (State.FAILED, State.QUEUED): "retried by hand",
    (State.CANCELLED, State.QUEUED): "retried by hand",
}


def from_timestamp(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True, slots=True)
class Progress:
    current: float | None = None
    total: float | None = None
    message: str | None = None

    @property
    def fraction(self) -> float | None:
        """Share done between 0 and 1, or None when the total is unknown."""
        if self.current is None or not self.total:
            return None
        return max(0.0, min(1.0, self.current / self.total))


@dataclass(frozen=True, slots=True)
class JobError:
    type: str
    message: str
    traceback: str | None = None


@dataclass(frozen=True, slots=True, repr=False)
class Job:
    """One job as the store last saw it. Compare `state` with `State` members.

    Times (`run_at`, `created_at`, `started_at`, `finished_at`, `lease_expires_at`,
    `scheduled_for`) are UTC datetimes, made when read: the store hands epoch seconds
    (`_run_at`, ...), and a worker that claims thousands of jobs a second reads none of them."""

    id: int
    task: str
    queue: str
    priority: int
    args: dict[str, Any]
    state: State
    attempt: int
    max_attempts: int
    _run_at: float
    _created_at: float
    _started_at: float | None = None
    _finished_at: float | None = None
    progress: Progress = field(default_factory=Progress)
    checkpoint: Any = None
    result: Any = None
    error: JobError | None = None
    worker_losses: int = 0
    lease_owner: str | None = None
    _lease_expires_at: float | None = None
    lease_token: str | None = None
    cancel_requested: bool = False
    unique_key: str | None = None
    notify: dict[str, Any] | None = None
    parent_id: int | None = None
    timeout: float | None = None
    lease_seconds: float = 30.0
    max_worker_losses: int = 3
    _scheduled_for: float | None = None  # the fire time a periodic job runs for

    @property
    def run_at(self) -> datetime:
        return datetime.fromtimestamp(self._run_at, UTC)

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self._created_at, UTC)

    @property
    def started_at(self) -> datetime | None:
        return from_timestamp(self._started_at)

    @property
    def finished_at(self) -> datetime | None:
        return from_timestamp(self._finished_at)

    @property
    def lease_expires_at(self) -> datetime | None:
        return from_timestamp(self._lease_expires_at)

    @property
    def scheduled_for(self) -> datetime | None:
        """The fire time a periodic job runs for, else None."""
        return from_timestamp(self._scheduled_for)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def __repr__(self) -> str:
        shown = ", ".join(f"{name.lstrip('_')}={getattr(self, name.lstrip('_'))!r}" for name in self.__slots__)
        return f"Job({shown})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view for scripts and the HTTP API (times in ISO 8601, UTC)."""

        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "id": self.id,
            "task": self.task,
            "queue": self.queue,
            "priority": self.priority,
            "state": self.state.value,
            "args": self.args,
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "worker_losses": self.worker_losses,
            "progress": {
                "current": self.progress.current,
                "total": self.progress.total,
                "message": self.progress.message,
                "fraction": self.progress.fraction,
            },
            "result": self.result,
            "error": None
            if self.error is None
            else {"type": self.error.type, "message": self.error.message, "traceback": self.error.traceback},
            "checkpoint": self.checkpoint,
            "cancel_requested": self.cancel_requested,
            "unique_key": self.unique_key,
            "parent_id": self.parent_id,
            "run_at": iso(self.run_at),
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "scheduled_for": iso(self.scheduled_for),
        }


def _builder(cls: type[Any]) -> Callable[..., Any]:
    """A faster maker of a frozen slotted dataclass, taking what `cls(...)` takes. The frozen
    `__init__` sets each field through `object.__setattr__` (for Job's 28: ~3 µs, a few percent of
    a worker's CPU per job); an unfrozen twin with the same slots and defaults sets them as plain
    stores, then becomes `cls` (CPython allows a class change between classes of one layout). The
    result is an ordinary frozen instance: equal to what `cls(...)` makes, and immutable."""
    twin = make_dataclass(
        f"_{cls.__name__}Draft",
        [(f.name, f.type, field(default=f.default, default_factory=f.default_factory)) for f in fields(cls)],
        slots=True,
    )

    def build(*values: Any, **named: Any) -> Any:
        draft = twin(*values, **named)
        draft.__class__ = cls
        return draft

    return build


# Job(...) for stores (claims build one per job; an enqueue one).
build_job: Callable[..., Job] = _builder(Job)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One line of a job's append-only history: a state change, a log line, a rescue."""

    id: int
    job_id: int
    at: datetime
    kind: str  # "state", "progress", "log", "checkpoint", "cancel_requested", "rescued", ...
    state: State | None = None
    data: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class JobFile:
    job_id: int
    name: str
    size: int
    content_type: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewJob:
    """What a producer hands the store: a job before it has an id."""

    task: str
    args_json: str
    queue: str = "default"
    priority: int = 0
    max_attempts: int = 1
    run_at: float | None = None  # epoch seconds; None means now (or `delay` after it)
    unique_key: str | None = None
    notify_json: str | None = None
    parent_id: int | None = None
    timeout: float | None = None
    lease_seconds: float = 30.0
    max_worker_losses: int = 3
    delay: float | None = None  # seconds after the store's clock at the insert (not the caller's)
    unique: UniquePolicy = "return"  # what an unfinished job already holding `unique_key` means
    # The arguments as json.loads(args_json) gives them, when the producer has them at hand (the
    # job an enqueue returns is made without decoding them again); not part of equality.
    args: dict[str, Any] | None = field(default=None, compare=False, repr=False)


# NewJob(...) for producers (an enqueue makes one).
build_new_job: Callable[..., NewJob] = _builder(NewJob)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one run of a job ended, as a worker reports it to the store.

    `state` is where the job goes: succeeded, failed, cancelled, scheduled
    (retry later, at `run_at`) or queued (released with its checkpoint).
    """

    job_id: int
    lease_token: str
    state: State
    result_json: str | None = None
    error: JobError | None = None
    retry_in: float | None = None  # seconds until the retry, for state scheduled
    progress: Progress | None = None
    worker_lost: bool = False
    released: bool = False  # handed back unfinished at shutdown: the attempt does not count
    task: str | None = None  # for the event log (metrics by task)
    runtime: float | None = None  # seconds the run took, for the event log
    attempt: int | None = None  # which run this was, for the worker's log line
