"""Turns database rows into the records of `errands.job`; shared by every dialect."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from ..job import Job, JobError, JobEvent, JobFile, Progress, State, from_timestamp

Row = Mapping[str, Any]

_STATES = {state.value: state for state in State}
_NO_PROGRESS = Progress()


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _time(value: float) -> Any:
    return from_timestamp(value)


def job_from_row(row: Row) -> Job:
    """A job from its row. Hot for workers (every claimed job comes through here): times stay epoch
    seconds until read (`Job.run_at` ...), and an sqlite3.Row, whose lookups by name scan its
    columns, is read once into a dict."""
    if isinstance(row, sqlite3.Row):
        row = dict(zip(row.keys(), row, strict=True))
    error = None
    if row["error_type"] is not None:
        error = JobError(row["error_type"], row["error_message"] or "", row["error_traceback"])
    current, total, message = row["progress_current"], row["progress_total"], row["progress_message"]
    progress = _NO_PROGRESS if current is None and total is None and message is None else Progress(current, total,
                                                                                                   message)
    checkpoint, result, notify = row["checkpoint"], row["result"], row["notify"]
    return Job(
        row["id"],
        row["task"],
        row["queue"],
        row["priority"],
        json.loads(row["args"]),
        _STATES[row["state"]],
        row["attempt"],
        row["max_attempts"],
        row["run_at"],
        row["created_at"],
        row["started_at"],
        row["finished_at"],
        progress,
        None if checkpoint is None else json.loads(checkpoint),
        None if result is None else json.loads(result),
        error,
        row["worker_losses"],
        row["lease_owner"],
        row["lease_expires_at"],
        row["lease_token"],
        bool(row["cancel_requested"]),
        row["unique_key"],
        None if notify is None else json.loads(notify),
        row["parent_id"],
        row["timeout"],
        row["lease_seconds"],
        row["max_worker_losses"],
        row["scheduled_for"],
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
