"""Aging on both stores: a due job that waited over `max_wait` behind a higher priority is raised to
the highest priority due in its queue (across its tasks), and only then; a queue whose waiting jobs
share one priority, a job not yet overdue, and a higher priority not yet due age nothing."""

from __future__ import annotations

import time

from errands.job import NewJob
from errands.stores import Store

MAX_WAIT = 60.0


def add(store: Store, task: str, queue: str, priority: int, waited: float) -> int:
    """A job due since `waited` seconds ago (negative: due in the future)."""
    job, _ = store.enqueue(NewJob(task=task, args_json="{}", queue=queue, priority=priority,
                                  run_at=time.time() - waited))
    return job.id


def aged(store: Store) -> dict[int, tuple[int, int]]:
    """Every aged job: (from, to) as its "aged" event says."""
    found = {}
    for event in store.events(None, after=0):
        if event.kind == "aged" and event.data is not None:
            found[event.job_id] = (event.data["from"], event.data["to"])
    return found


def test_an_overdue_job_rises_to_its_queues_top_due_priority_across_tasks(store: Store) -> None:
    add(store, "urgent", "mail", 7, MAX_WAIT / 2)
    old = add(store, "bulk", "mail", 0, MAX_WAIT * 2)
    middle = add(store, "bulk", "mail", 3, MAX_WAIT * 3)
    add(store, "bulk", "mail", 0, MAX_WAIT / 2)  # waiting, not overdue yet
    store.promote_due(max_wait=MAX_WAIT)
    assert aged(store) == {old: (0, 7), middle: (3, 7)}
    assert {store.get(old).priority, store.get(middle).priority} == {7}


def test_one_priority_a_future_higher_one_or_another_queue_ages_nothing(store: Store) -> None:
    add(store, "t", "flat", 2, MAX_WAIT * 5)
    add(store, "u", "flat", 2, MAX_WAIT * 2)
    add(store, "t", "later", 9, -3600)  # higher, but not due for an hour
    add(store, "t", "later", 1, MAX_WAIT * 2)
    add(store, "t", "high", 9, 0)  # another queue's top is not this one's
    add(store, "t", "low", 0, MAX_WAIT * 2)
    store.promote_due(max_wait=MAX_WAIT)
    assert aged(store) == {}
