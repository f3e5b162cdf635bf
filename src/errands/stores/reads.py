"""Reads of the store for anyone: jobs, their events and files, counts, and the workers seen.
Each function runs inside a read its caller opened; all return records, never rows."""

from __future__ import annotations

import json

from ..job import Job, JobEvent, JobFile, State
from .records import event_from_row, file_from_row, job_from_row
from .values import Tx, Unserved, WorkerInfo, unserved_reason


def list_jobs(tx: Tx, state: State | None, task: str | None, queue: str | None, limit: int,
              cursor: int | None) -> list[Job]:
    rows = tx.rows("select_jobs", state=state.value if state else None, task=task, queue=queue, cursor=cursor,
                   limit=limit)
    return [job_from_row(r) for r in rows]


def counts(tx: Tx, finished: bool = True) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in tx.rows("count_by_queue_state" if finished else "count_unfinished_by_queue_state"):
        out.setdefault(r["queue"], {})[r["state"]] = r["n"]
    return out


def events(tx: Tx, job_id: int | None, after: int, limit: int) -> list[JobEvent]:
    if job_id is None:
        rows = tx.rows("select_all_events", after=after, limit=limit)
    else:
        rows = tx.rows("select_events", job_id=job_id, after=after, limit=limit)
    return [event_from_row(r) for r in rows]


def last_event_id(tx: Tx) -> int:
    return int(tx.rows("select_last_event_id")[0]["id"])


def files(tx: Tx, job_id: int) -> list[JobFile]:
    return [file_from_row(r) for r in tx.rows("select_files", job_id=job_id)]


def file(tx: Tx, job_id: int, name: str) -> tuple[JobFile, bytes] | None:
    rows = tx.rows("select_file", job_id=job_id, name=name)
    return (file_from_row(rows[0]), bytes(rows[0]["data"])) if rows else None


def workers(tx: Tx) -> list[WorkerInfo]:
    return [
        WorkerInfo(r["id"], r["host"], r["pid"], tuple(json.loads(r["queues"])), r["concurrency"], r["started_at"],
                   r["last_seen"], None if r["tasks"] is None else tuple(json.loads(r["tasks"])))
        for r in tx.rows("select_workers")
    ]


def unserved(tx: Tx) -> list[Unserved]:
    """Waiting jobs, by queue and task, that no live worker would claim, and why."""
    rows = tx.rows("count_waiting_by_task")
    now = tx.now
    live = workers(tx)
    found = []
    for r in sorted(rows, key=lambda r: (r["queue"], r["task"])):
        reason = unserved_reason(r["queue"], r["task"], live, now)
        if reason is not None:
            found.append(Unserved(r["queue"], r["task"], int(r["n"]), reason))
    return found
