"""Control of jobs from outside a worker: cancel, retry, and the dashboard's bulk retry, cancel
and delete. Every change is conditional on the job's state, so a job that moved on meanwhile is
left alone. Each function runs inside a transaction its caller opened."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..job import State
from .aftermath import FollowUps
from .produce import ended, insert_events
from .values import BulkAction, Tx, event


def cancel(tx: Tx, job_id: int, follow_ups: FollowUps | None, events: list[dict[str, Any]]) -> bool:
    """Cancel a waiting job, or ask the worker of a running one to stop; False when it is finished
    (or already asked). Appends the events to write."""
    if cancelled := tx.rows("cancel_waiting", job_id=job_id, now=tx.now):
        events.append(event(job_id, "state", State.CANCELLED))
        events.extend(ended(tx, cancelled[0], State.CANCELLED, follow_ups))
        return True
    if tx.run("request_cancel", job_id=job_id):
        events.append(event(job_id, "cancel_requested"))
        return True
    return False


def retry(tx: Tx, job_id: int, events: list[dict[str, Any]]) -> bool:
    """Queue a failed or cancelled job again, keeping its checkpoint; False for any other state."""
    if tx.run("requeue_finished", job_id=job_id, now=tx.now):
        events.append(event(job_id, "state", State.QUEUED, {"reason": "retried"}))
        return True
    return False


def bulk(tx: Tx, action: BulkAction, ids: Sequence[int], follow_ups: FollowUps | None) -> list[int]:
    """Apply `action` to these jobs; returns the ids it changed."""
    ordered = sorted(ids)  # rows in id order, as every multi-row write (no deadlocks)
    if action is BulkAction.DELETE:
        deleted = sorted(int(r["id"]) for r in tx.rows("dash_delete_finished", ids=json.dumps(ordered)))
        if deleted:
            encoded = json.dumps(deleted)
            tx.run("delete_job_events", ids=encoded)
            tx.run("delete_job_files", ids=encoded)
        return deleted
    events: list[dict[str, Any]] = []
    if action is BulkAction.RETRY:
        changed = [job_id for job_id in ordered if retry(tx, job_id, events)]
    else:
        changed = [job_id for job_id in ordered if cancel(tx, job_id, follow_ups, events)]
    insert_events(tx, events)
    return changed
