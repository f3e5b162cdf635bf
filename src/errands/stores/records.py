"""Turns database rows into the records of `errands.job`; shared by every dialect."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..job import Job, JobError, JobEvent, JobFile, Progress, State, from_timestamp

Row = Mapping[str, Any]


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _time(value: float) -> Any:
    return from_timestamp(value)


def job_from_row(row: Row) -> Job:
    error = None
    if row["error_type"] is not None:
        error = JobError(row["error_type"], row["error_message"] or "", row["error_traceback"])
    return Job(
        id=row["id"],
        task=row["task"],
        queue=row["queue"],
        priority=row["priority"],
        args=json.loads(row["args"]),
        state=State(row["state"]),
        attempt=row["attempt"],
        max_attempts=row["max_attempts"],
        run_at=_time(row["run_at"]),
        created_at=_time(row["created_at"]),
        started_at=from_timestamp(row["started_at"]),
        finished_at=from_timestamp(row["finished_at"]),
        progress=Progress(row["progress_current"], row["progress_total"], row["progress_message"]),
        checkpoint=loads(row["checkpoint"]),
        result=loads(row["result"]),
        error=error,
        worker_losses=row["worker_losses"],
        lease_owner=row["lease_owner"],
        lease_expires_at=from_timestamp(row["lease_expires_at"]),
        lease_token=row["lease_token"],
        cancel_requested=bool(row["cancel_requested"]),
        unique_key=row["unique_key"],
        notify=loads(row["notify"]),
        parent_id=row["parent_id"],
        timeout=row["timeout"],
        lease_seconds=row["lease_seconds"],
        max_worker_losses=row["max_worker_losses"],
        scheduled_for=from_timestamp(row["scheduled_for"]),
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
