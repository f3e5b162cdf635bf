"""Turns database rows into the records of `errands.job`; shared by every dialect."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from ..job import Job, JobError, JobEvent, JobFile, Progress, State, build_job, from_timestamp

Row = Mapping[str, Any]

_STATES = {state.value: state for state in State}
NO_PROGRESS = Progress()  # shared: Progress is frozen


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _time(value: float) -> Any:
    return from_timestamp(value)


# The columns a job is made of, in the order `_job` takes them.
JOB_COLUMNS = (
    "id", "task", "queue", "priority", "args", "state", "attempt", "max_attempts", "run_at", "created_at",
    "started_at", "finished_at", "progress_current", "progress_total", "progress_message", "checkpoint", "result",
    "error_type", "error_message", "error_traceback", "worker_losses", "lease_owner", "lease_expires_at",
    "lease_token", "cancel_requested", "unique_key", "notify", "parent_id", "timeout", "lease_seconds",
    "max_worker_losses", "scheduled_for",
)


def job_from_row(row: Row) -> Job:
    """A job from its row (an sqlite3.Row, whose lookups by name scan its columns, is read once
    into a dict)."""
    if isinstance(row, sqlite3.Row):
        row = dict(zip(row.keys(), row, strict=True))
    return _job(*[row[name] for name in JOB_COLUMNS])


def jobs_from_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[Job]:
    """Jobs from plain rows (tuples) whose column names are `columns`. Hot for workers: every
    claimed job comes through here, with no mapping made per row; times stay epoch seconds until
    read (`Job.run_at` ...)."""
    position = {name: i for i, name in enumerate(columns)}
    pick = itemgetter(*(position[name] for name in JOB_COLUMNS))
    return [_job(*pick(row)) for row in rows]


def _job(
    id: int, task: str, queue: str, priority: int, args: str, state: str, attempt: int, max_attempts: int,
    run_at: float, created_at: float, started_at: float | None, finished_at: float | None,
    progress_current: float | None, progress_total: float | None, progress_message: str | None,
    checkpoint: str | None, result: str | None, error_type: str | None, error_message: str | None,
    error_traceback: str | None, worker_losses: int, lease_owner: str | None, lease_expires_at: float | None,
    lease_token: str | None, cancel_requested: Any, unique_key: str | None, notify: str | None,
    parent_id: int | None, timeout: float | None, lease_seconds: float, max_worker_losses: int,
    scheduled_for: float | None,
) -> Job:
    error = None if error_type is None else JobError(error_type, error_message or "", error_traceback)
    progress = (NO_PROGRESS if progress_current is None and progress_total is None and progress_message is None
                else Progress(progress_current, progress_total, progress_message))
    return build_job(
        id, task, queue, priority, json.loads(args), _STATES[state], attempt, max_attempts, run_at, created_at,
        started_at, finished_at, progress, None if checkpoint is None else json.loads(checkpoint),
        None if result is None else json.loads(result), error, worker_losses, lease_owner, lease_expires_at,
        lease_token, bool(cancel_requested), unique_key, None if notify is None else json.loads(notify), parent_id,
        timeout, lease_seconds, max_worker_losses, scheduled_for,
    )


def event_from_row(row: Row) -> JobEvent:
    return JobEvent(
        id=row["id"],
        job_id=row["job_id"],
        at=_time(row["at"]),
        kind=row["kind"],
        state=State(row["state"]) if row["state"] else None,
        data=loads(row["data"]),
    )


def file_from_row(row: Row) -> JobFile:
    return JobFile(
        job_id=row["job_id"],
        name=row["name"],
        size=row["size"],
        content_type=row["content_type"],
        created_at=_time(row["created_at"]),
    )
