"""Periodic jobs in the store: saving, pausing and removing schedules, and firing them. Each fire
time is taken by inserting its row into `schedule_fires` (unique per schedule and fire time) in the
transaction that stores its job, so any number of workers may fire at once and each fire time
still runs once. Each function runs inside a transaction its caller opened.
"""

from __future__ import annotations

import json
from typing import Any

from ..job import NewJob, from_timestamp
from ..schedules import NewSchedule, Schedule, Timing, next_fire
from .produce import insert
from .records import Row
from .values import Tx

KEEP_FIRES = 3600.0  # seconds a fire row outlives its fire time: far past the grace in which it can be tried


def schedule_from_row(row: Row, now: float | None = None) -> Schedule:
    args = row["args"]
    timing = Timing(row["cron"], row["every"], row["timezone"])
    return Schedule(
        name=row["name"],
        timing=timing,
        task=row["task"],
        args=json.loads(args) if isinstance(args, str | bytes) else args,
        queue=row["queue"],
        catch_up=bool(row["catch_up"]),
        paused=bool(row["paused"]),
        origin=row["origin"],
        created_at=from_timestamp(row["created_at"]),  # type: ignore[arg-type]
        fired_until=from_timestamp(row["fired_until"]),
        last_job_id=row["last_job_id"],
        next_fire=None if row["paused"] or now is None else next_fire(timing, now),
    )


def save(tx: Tx, new: NewSchedule) -> Schedule:
    job = new.job
    rows = tx.rows(
        "save_schedule", name=new.name, task=job.task, args=job.args_json, queue=job.queue, priority=job.priority,
        max_attempts=job.max_attempts, timeout=job.timeout, lease_seconds=job.lease_seconds,
        max_worker_losses=job.max_worker_losses, notify=job.notify_json, cron=new.timing.cron,
        every=new.timing.every, timezone=new.timing.timezone, catch_up=new.catch_up, origin=new.origin, now=tx.now,
    )
    return schedule_from_row(rows[0], tx.now)


def change(tx: Tx, name: str, action: str) -> Schedule | None:
    """Pause, resume or remove a schedule; None when there is none by that name."""
    if action not in ("pause", "resume", "remove"):
        raise ValueError(f"unknown schedule action {action!r}")
    rows = tx.rows({"pause": "pause_schedule", "resume": "resume_schedule", "remove": "delete_schedule"}[action],
                   name=name, now=tx.now)
    if action == "remove":
        tx.run("delete_schedule_fires", name=name)
    return schedule_from_row(rows[0], tx.now) if rows else None


def listing(tx: Tx) -> list[Schedule]:
    return [schedule_from_row(row, tx.now) for row in tx.rows("select_schedules")]


def fire(tx: Tx, ahead: float, grace: float) -> int:
    """Store a job for every fire time of every active schedule up to `ahead` seconds from now,
    each due at its fire time; returns how many. Fire times more than `grace` seconds old were
    missed (no worker could fire them: the cluster was down): skipped, or with `catch_up` the
    latest of them runs once."""
    stored = 0
    for row in tx.rows("active_schedules"):
        timing = Timing(row["cron"], row["every"], row["timezone"])
        times = timing.fire_times(row["fired_until"], tx.now + ahead)
        if not times:
            continue
        missed = [t for t in times if t < tx.now - grace]
        due = ([missed[-1]] if missed and row["catch_up"] else []) + [t for t in times if t >= tx.now - grace]
        last_job = None
        for fire_time in due:
            if tx.rows("take_fire", name=row["name"], fire_time=fire_time):
                last_job = _store_job(tx, row, fire_time)
                stored += 1
        tx.run("advance_schedule", name=row["name"], fired_until=times[-1], job_id=last_job)
    tx.run("delete_old_fires", before=tx.now - max(KEEP_FIRES, grace + ahead))
    return stored


def _store_job(tx: Tx, row: Row, fire_time: float) -> int:
    new = NewJob(
        task=row["task"], args_json=_text(row["args"]), queue=row["queue"], priority=row["priority"],
        max_attempts=row["max_attempts"], run_at=fire_time, notify_json=_text(row["notify"]),
        timeout=row["timeout"], lease_seconds=row["lease_seconds"], max_worker_losses=row["max_worker_losses"],
    )
    job_row, _ = insert(tx, new)
    tx.run("set_scheduled_for", job_id=job_row["id"], fire_time=fire_time)
    tx.run("record_fire", name=row["name"], fire_time=fire_time, job_id=job_row["id"])
    return int(job_row["id"])


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else json.dumps(value)
