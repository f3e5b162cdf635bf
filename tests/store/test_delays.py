"""A delay counts from the store's clock, read in the insert's own transaction: the job is due
exactly `delay` seconds after its creation time, whatever the producer's clock says."""

from __future__ import annotations

from datetime import timedelta

from errands import State
from errands.job import NewJob
from errands.stores import Store

EXACT = timedelta(milliseconds=1)  # one clock reading on both sides: only float rounding differs


def test_a_delayed_job_is_due_delay_seconds_after_its_creation(store: Store) -> None:
    job, _ = store.enqueue(NewJob(task="t", args_json="{}", delay=30.0))
    assert job.state is State.SCHEDULED
    assert abs(job.run_at - job.created_at - timedelta(seconds=30)) < EXACT


def test_many_delayed_jobs_are_due_delay_seconds_after_their_creation(store: Store) -> None:
    ids = store.enqueue_many([NewJob(task="t", args_json="{}", delay=d) for d in (0.0, 45.0)])
    now, later = (store.get(i) for i in ids)
    assert (now.state, later.state) == (State.QUEUED, State.SCHEDULED)
    assert now.run_at == now.created_at
    assert abs(later.run_at - later.created_at - timedelta(seconds=45)) < EXACT


def test_an_absolute_run_at_stays_as_given(store: Store) -> None:
    when = store.now() + 3600.0
    job, _ = store.enqueue(NewJob(task="t", args_json="{}", run_at=when))
    assert abs(job.run_at.timestamp() - when) < EXACT.total_seconds()
