"""What follows a job's end, inside the transaction that ended it: its continuations are
queued (it succeeded) or cancelled (it did not), and its notification jobs are stored.

Doing this in the same transaction is what makes continuations and notifications
durable: a crash can lose neither.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..job import Job, NewJob, State
from .records import Row, job_from_row

# A job waiting for its parent is scheduled at the end of time, so nothing claims or promotes it.
WAITING_FOR_PARENT = 253402300799.0  # 9999-12-31T23:59:59Z

FollowUps = Callable[[Job, State], list[NewJob]]
Insert = Callable[[Any, NewJob], Any]
Event = Callable[..., dict[str, Any]]


def after_finish(tx: Any, row: Row, state: State, follow_ups: FollowUps | None, insert: Insert,
                 event: Event) -> list[dict[str, Any]]:
    """Run the consequences of `row` ending in `state`; returns the events to append."""
    events: list[dict[str, Any]] = []
    if follow_ups is not None and row["notify"] is not None:  # building a Job costs: only when needed
        for new in follow_ups(job_from_row(row), state):
            insert(tx, new)
    if not row["has_children"]:
        return events
    if state is State.SUCCEEDED:
        for child in tx.rows("release_children", job_id=row["id"], now=tx.now):
            events.append(event(child["id"], "state", State.QUEUED, {"reason": f"parent job {row['id']} succeeded"}))
        return events
    message = f"parent job {row['id']} ended {state.value}"
    for child in tx.rows("cancel_children", job_id=row["id"], now=tx.now, message=message):
        events.append(event(child["id"], "state", State.CANCELLED, {"reason": message}))
        events.extend(after_finish(tx, child, State.CANCELLED, follow_ups, insert, event))
    return events
