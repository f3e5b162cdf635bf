"""Upkeep of the store, run by the one worker that leads: rescuing jobs whose lease expired,
promoting due jobs, aging jobs that waited too long behind higher priorities, deleting finished
jobs past their age, forgetting dead workers. Each function runs inside a transaction its caller
opened."""

from __future__ import annotations

import json
from typing import Any

from ..job import State
from .aftermath import FollowUps
from .produce import ended, insert_events
from .values import Rescue, Tx, event

AGE_BATCH = 500  # overdue jobs aged per maintenance tick


def lead(tx: Tx, name: str, owner: str, ttl: float) -> bool:
    if ttl <= 0:
        tx.run("release_leadership", name=name, owner=owner)
        return False
    return bool(tx.rows("take_leadership", name=name, owner=owner, ttl=ttl, now=tx.now))


def rescue_expired(tx: Tx, since: float | None, follow_ups: FollowUps | None) -> list[Rescue]:
    """Requeue or fail running jobs whose lease expired; each update re-checks the expiry."""
    rescued = []
    events = []
    for r in tx.rows("expired_leases", now=tx.now, since=since):
        losses = r["worker_losses"] + 1
        if losses >= r["max_worker_losses"]:
            message = f"its worker died {losses} times while running it (max_worker_losses={r['max_worker_losses']})"
            failed = tx.rows("fail_lost", job_id=r["id"], lease_token=r["lease_token"], message=message, now=tx.now)
            if failed:
                events.append(event(r["id"], "state", State.FAILED, {"error": message, "type": "WorkerLost"}))
                events.extend(ended(tx, failed[0], State.FAILED, follow_ups))
                rescued.append(Rescue(r["id"], True))
        elif tx.run("rescue", job_id=r["id"], lease_token=r["lease_token"], now=tx.now):
            events.append(event(r["id"], "rescued", None, {"worker_losses": losses}))
            events.append(event(r["id"], "state", State.QUEUED, {"reason": "lease expired"}))
            rescued.append(Rescue(r["id"], False))
    insert_events(tx, events)
    return rescued


def promote_due(tx: Tx) -> int:
    rows = tx.rows("promote_due", now=tx.now)
    insert_events(tx, [event(r["id"], "state", State.QUEUED) for r in rows])
    return len(rows)


def age_overdue(tx: Tx, max_wait: float, limit: int = AGE_BATCH) -> int:
    """Raise each due job that waited over `max_wait` seconds past its run time to the highest
    priority due in its queue, with an "aged" event; returns how many. Claims order by priority,
    then run time: an aged job is next in its queue however many higher jobs keep coming."""
    top: dict[str, int] = {}
    bottom: dict[str, int] = {}
    for r in tx.rows("waiting_pairs", now=tx.now):
        if r["top"] is not None:
            top[r["queue"]] = max(r["top"], top.get(r["queue"], r["top"]))
        bottom[r["queue"]] = min(r["bottom"], bottom.get(r["queue"], r["bottom"]))
    events: list[dict[str, Any]] = []
    for queue in sorted(q for q in top if bottom[q] < top[q]):  # one priority: nothing to age
        for r in tx.rows("select_overdue", queue=queue, top=top[queue], cutoff=tx.now - max_wait,
                         limit=limit - len(events)):
            if tx.run("age_job", job_id=r["id"], priority=top[queue]):
                events.append(event(r["id"], "aged", None, {"from": r["was"], "to": top[queue]}))
        if len(events) >= limit:
            break
    insert_events(tx, events)
    return len(events)


def purge_batch(tx: Tx, state: State, older_than: float, batch: int) -> int:
    """Delete up to `batch` jobs of `state` that ended over `older_than` seconds ago, with their
    events and files; returns how many."""
    ids = [r["id"] for r in tx.rows("select_prunable", state=state.value, before=tx.now - older_than, limit=batch)]
    if ids:
        encoded = json.dumps(ids)
        for query in ("delete_job_events", "delete_job_files", "delete_jobs"):
            tx.run(query, ids=encoded)
    return len(ids)


def forget_workers(tx: Tx, older_than: float) -> None:
    tx.run("delete_stale_workers", before=tx.now - older_than)
