"""The store contract: every store dialect must pass these same tests."""

from __future__ import annotations

import json
import threading

import pytest

from errands import InvalidTransition, JobNotFound, State
from errands.job import Job, JobError, NewJob, Outcome
from errands.stores import Store
from tests.helpers import wait_until


def new(task: str = "t", **fields: object) -> NewJob:
    return NewJob(task=task, args_json=json.dumps(fields.pop("args", {})), **fields)  # type: ignore[arg-type]


def test_enqueue_then_get_returns_the_stored_job(store: Store) -> None:
    job, created = store.enqueue(new(args={"n": 1}, queue="q", priority=3, max_attempts=2))
    assert created
    got = store.get(job.id)
    assert (got.task, got.args, got.queue, got.priority, got.max_attempts) == ("t", {"n": 1}, "q", 3, 2)
    assert got.state is State.QUEUED and got.attempt == 0
    assert [(e.kind, e.state) for e in store.events(job.id)] == [("state", State.QUEUED)]


def test_get_unknown_job_raises(store: Store) -> None:
    with pytest.raises(JobNotFound):
        store.get(12345)


def test_future_run_at_makes_a_scheduled_job_that_is_not_claimed(store: Store) -> None:
    job, _ = store.enqueue(new(run_at=store.now() + 3600))
    assert job.state is State.SCHEDULED
    assert store.claim("w", None, 10).jobs == []


def test_unique_key_returns_the_unfinished_job_then_allows_a_new_one(store: Store) -> None:
    first, created = store.enqueue(new(unique_key="k"))
    again, created_again = store.enqueue(new(unique_key="k"))
    assert created and not created_again and again.id == first.id
    [claimed] = store.claim("w", None, 1).jobs
    store.settle([Outcome(claimed.id, claimed.lease_token or "", State.SUCCEEDED, result_json="1")])
    third, created_third = store.enqueue(new(unique_key="k"))
    assert created_third and third.id != first.id


def test_enqueue_many_stores_all_in_order(store: Store) -> None:
    later = store.now() + 3600
    ids = store.enqueue_many([new(args={"i": i}, priority=i, run_at=later if i % 5 == 0 else None,
                                  notify_json='{"on": []}' if i == 3 else None) for i in range(50)])
    assert len(set(ids)) == 50
    jobs = [store.get(i) for i in ids]
    assert [(j.args, j.priority) for j in jobs] == [({"i": i}, i) for i in range(50)]
    assert [j.state for j in jobs] == [State.SCHEDULED if i % 5 == 0 else State.QUEUED for i in range(50)]
    assert jobs[3].notify == {"on": []} and jobs[4].notify is None
    assert [e.state for e in store.events(ids[0])] == [State.SCHEDULED]
    assert store.counts()["default"] == {"queued": 40, "scheduled": 10}


def test_enqueue_many_with_unique_keys_and_parents(store: Store) -> None:
    parent, _ = store.enqueue(new())
    ids = store.enqueue_many([new(unique_key="a"), new(unique_key="a"), new(parent_id=parent.id)])
    assert ids[0] == ids[1] and store.get(ids[2]).state is State.SCHEDULED


def test_claim_orders_by_priority_then_age_and_respects_limit(store: Store) -> None:
    low = store.enqueue(new(priority=0))[0]
    high = store.enqueue(new(priority=10))[0]
    low2 = store.enqueue(new(priority=0))[0]
    claimed = store.claim("w", None, 2).jobs
    assert [j.id for j in claimed] == [high.id, low.id]
    assert all(j.state is State.RUNNING and j.attempt == 1 and j.lease_owner == "w" for j in claimed)
    assert [j.id for j in store.claim("w", None, 5).jobs] == [low2.id]


def test_a_claim_of_every_queue_takes_the_best_jobs_across_queues_of_its_tasks(store: Store) -> None:
    ids = {}
    for queue, task, priority in [("b", "t", 1), ("a", "t", 0), ("c", "t", 5), ("a", "u", 9), ("c", "other", 7),
                                  ("b", "t", 5), ("d", "u", 3)]:
        ids[queue, task, priority] = store.enqueue(new(task, queue=queue, priority=priority))[0].id
    assert store.ready(None, ["t", "u"]).due and not store.ready(None, ["nothing"]).due
    got = [j.id for j in store.claim("w", None, 4, ["t", "u"]).jobs]
    assert got == [ids["a", "u", 9], ids["c", "t", 5], ids["b", "t", 5], ids["d", "u", 3]]
    got = [j.id for j in store.claim("w", None, 5, ["t", "u"]).jobs]
    assert got == [ids["b", "t", 1], ids["a", "t", 0]]
    assert not store.ready(None, ["t", "u"]).due
    assert store.get(ids["c", "other", 7]).state is State.QUEUED


def test_claim_filters_by_queue(store: Store) -> None:
    mail = store.enqueue(new(queue="mail"))[0]
    store.enqueue(new(queue="reports"))
    assert [j.id for j in store.claim("w", ["mail", "other"], 10).jobs] == [mail.id]


def test_each_claim_issues_a_fresh_token(store: Store) -> None:
    store.enqueue_many([new() for _ in range(3)])
    first = store.claim("w", None, 3).jobs
    tokens = [j.lease_token for j in first]
    assert len(set(tokens)) == 3 and all(tokens)
    # The same job released and claimed again by the same worker, with the same attempt count: a new
    # token, and the first one no longer fences anything.
    job = first[0]
    assert store.settle([Outcome(job.id, job.lease_token or "", State.QUEUED, released=True)]) == [True]
    [again] = store.claim("w", None, 1).jobs
    assert again.id == job.id and again.attempt == job.attempt and again.lease_token not in tokens
    stale = Outcome(job.id, job.lease_token or "", State.SUCCEEDED, result_json="1")
    assert store.settle([stale]) == [False] and store.get(job.id).state is State.RUNNING


def test_concurrent_claims_never_hand_out_a_job_twice(store: Store) -> None:
    store.enqueue_many([new() for _ in range(200)])
    seen: list[int] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while jobs := store.claim(name, None, 7).jobs:
            with lock:
                seen.extend(j.id for j in jobs)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 200 and len(set(seen)) == 200


def test_settle_is_fenced_by_the_lease_token(store: Store) -> None:
    store.enqueue(new())
    [job] = store.claim("w", None, 1).jobs
    ok = store.settle([
        Outcome(job.id, "not-the-token", State.FAILED, error=JobError("X", "late")),
        Outcome(job.id, job.lease_token or "", State.SUCCEEDED, result_json='{"a": 1}'),
        Outcome(job.id, job.lease_token or "", State.FAILED, error=JobError("X", "twice")),
    ])
    assert ok == [False, True, False]
    done = store.get(job.id)
    assert done.state is State.SUCCEEDED and done.result == {"a": 1} and done.error is None
    assert done.lease_token is None and done.finished_at is not None


def test_retry_outcome_schedules_the_job_with_its_error(store: Store) -> None:
    store.enqueue(new(max_attempts=3))
    [job] = store.claim("w", None, 1).jobs
    store.settle([Outcome(job.id, job.lease_token or "", State.SCHEDULED, error=JobError("E", "boom", "tb"),
                          retry_in=3600)])
    got = store.get(job.id)
    assert got.state is State.SCHEDULED and got.error == JobError("E", "boom", "tb")
    assert got.run_at > got.created_at
    assert store.claim("w", None, 1).jobs == []


def test_released_job_keeps_its_checkpoint_and_attempt_count(store: Store) -> None:
    store.enqueue(new())
    [job] = store.claim("w", None, 1).jobs
    assert store.save_checkpoint(job.id, job.lease_token or "", '{"row": 40}')
    store.settle([Outcome(job.id, job.lease_token or "", State.QUEUED, released=True)])
    got = store.get(job.id)
    assert got.state is State.QUEUED and got.checkpoint == {"row": 40} and got.attempt == 0
    [again] = store.claim("w2", None, 1).jobs
    assert again.checkpoint == {"row": 40} and again.attempt == 1


def test_writes_with_a_lost_lease_are_refused(store: Store) -> None:
    store.enqueue(new())
    [job] = store.claim("w", None, 1).jobs
    token = job.lease_token or ""
    store.settle([Outcome(job.id, token, State.SUCCEEDED, result_json="1")])
    assert not store.save_checkpoint(job.id, token, "{}")
    assert not store.save_file(job.id, token, "a.txt", "text/plain", b"x")
    from errands.job import Progress
    from errands.stores.base import Activity

    assert store.save_activity([Activity(job.id, token, Progress(1, 2, "m"))]) == {job.id}


def test_extend_leases_reports_held_jobs_and_cancel_requests(store: Store) -> None:
    store.enqueue_many([new(), new()])
    a, b = store.claim("w", None, 2).jobs
    store.cancel(b.id)
    report = store.extend_leases("w", [a.lease_token or "", b.lease_token or ""])
    assert report.held == {a.id: a.lease_token, b.id: b.lease_token}
    assert store.cancel_requests("w") == {b.id}
    assert store.extend_leases("other", [a.lease_token or ""]).held == {}


def test_a_lease_the_worker_does_not_know_of_is_not_renewed(store: Store) -> None:
    """A claim whose answer was lost on the way: the worker never runs it, so it must expire."""
    store.enqueue_many([new(lease_seconds=0.05), new(lease_seconds=60)])
    lost, known = store.claim("w", None, 2).jobs
    assert store.extend_leases("w", [known.lease_token or ""]).held == {known.id: known.lease_token}
    rescues = wait_until(store.rescue_expired, message="the unknown claim to expire")
    assert [r.job_id for r in rescues] == [lost.id]
    assert store.get(lost.id).state is State.QUEUED and store.get(known.id).state is State.RUNNING


def test_expired_lease_is_rescued_with_checkpoint_then_failed_after_max_losses(store: Store) -> None:
    store.enqueue(new(lease_seconds=0.05, max_worker_losses=2))
    for loss in (1, 2):
        [job] = store.claim("w", None, 1).jobs
        store.save_checkpoint(job.id, job.lease_token or "", json.dumps({"loss": loss}))
        rescues = wait_until(store.rescue_expired, message="lease expiry")
        assert [r.job_id for r in rescues] == [job.id]
        assert rescues[0].failed is (loss == 2)
    got = store.get(job.id)
    assert got.state is State.FAILED and got.worker_losses == 2 and got.checkpoint == {"loss": 2}
    assert got.error is not None and "died 2 times" in got.error.message
    kinds = [e.kind for e in store.events(job.id)]
    assert kinds.count("rescued") == 1


def test_rescue_leaves_live_leases_alone(store: Store) -> None:
    store.enqueue(new(lease_seconds=60))
    store.claim("w", None, 1)
    assert store.rescue_expired() == []


def test_rescue_rechecks_the_expiry_in_its_update(store: Store) -> None:
    """A heartbeat that commits between the rescue's read and its update wins: the update
    itself requires the lease to be expired still, not only the token to match."""
    store.enqueue(new(lease_seconds=60))
    store.enqueue(new(lease_seconds=60, max_worker_losses=1))
    a, b = store.claim("w", None, 2).jobs
    with store._transaction() as tx:  # the read saw both expired; a heartbeat then renewed them
        assert tx.run("rescue", job_id=a.id, lease_token=a.lease_token, now=tx.now) == 0
        assert tx.rows("fail_lost", job_id=b.id, lease_token=b.lease_token, message="lost", now=tx.now) == []
    assert store.get(a.id).lease_token == a.lease_token and store.get(a.id).state is State.RUNNING
    assert store.get(b.id).lease_token == b.lease_token and store.get(b.id).state is State.RUNNING


def expiry(job: Job) -> float:
    assert job.lease_expires_at is not None
    return job.lease_expires_at.timestamp()


def test_after_an_outage_rescue_leaves_a_lease_to_renew(store: Store) -> None:
    """`since` (the leader regained the store): an expired job waits one lease after it."""
    store.enqueue(new(lease_seconds=2))
    [job] = store.claim("w", None, 1).jobs
    wait_until(lambda: store.now() > expiry(job), message="lease expiry")
    regained = store.now()
    assert store.rescue_expired(since=regained) == []
    wait_until(lambda: store.now() > regained + 1, message="half a lease after the outage")
    assert store.extend_leases("w", [job.lease_token or ""]).held == {job.id: job.lease_token}
    wait_until(lambda: store.now() > regained + 2, message="one lease after the outage")
    assert store.rescue_expired(since=regained) == []  # renewed in time: left alone
    wait_until(lambda: store.now() > expiry(store.get(job.id)), message="expiry again")
    assert [r.job_id for r in store.rescue_expired(since=regained)] == [job.id]


def test_promote_due_moves_scheduled_jobs_to_the_queue(store: Store) -> None:
    job, _ = store.enqueue(new(run_at=store.now() + 0.05))
    wait_until(lambda: store.promote_due() == 1, message="promotion")
    assert store.get(job.id).state is State.QUEUED


def test_cancel_waiting_and_running_jobs(store: Store) -> None:
    waiting = store.enqueue(new())[0]
    assert store.cancel(waiting.id).state is State.CANCELLED
    store.enqueue(new())
    [running] = store.claim("w", None, 1).jobs
    requested = store.cancel(running.id)
    assert requested.state is State.RUNNING and requested.cancel_requested
    assert [e.kind for e in store.events(running.id)][-1] == "cancel_requested"


def test_retry_requeues_failed_and_refuses_running(store: Store) -> None:
    store.enqueue(new())
    [job] = store.claim("w", None, 1).jobs
    with pytest.raises(InvalidTransition):
        store.retry(job.id)
    store.save_checkpoint(job.id, job.lease_token or "", '{"at": 5}')
    store.settle([Outcome(job.id, job.lease_token or "", State.FAILED, error=JobError("E", "x"))])
    again = store.retry(job.id)
    assert again.state is State.QUEUED and again.error is None and again.attempt == 0
    assert again.checkpoint == {"at": 5}


def test_files_round_trip_and_replace(store: Store) -> None:
    store.enqueue(new())
    [job] = store.claim("w", None, 1).jobs
    token = job.lease_token or ""
    assert store.save_file(job.id, token, "a.csv", "text/csv", b"1,2\n")
    assert store.save_file(job.id, token, "a.csv", "text/csv", b"3,4\n")
    [info] = store.files(job.id)
    assert (info.name, info.size, info.content_type) == ("a.csv", 4, "text/csv")
    found = store.file(job.id, "a.csv")
    assert found is not None and found[1] == b"3,4\n"
    assert store.file(job.id, "missing") is None


def test_prune_removes_old_finished_jobs_with_events_and_files(store: Store) -> None:
    store.enqueue_many([new(), new()])
    a, b = store.claim("w", None, 2).jobs
    store.save_file(a.id, a.lease_token or "", "f", "text/plain", b"x")
    store.settle([Outcome(a.id, a.lease_token or "", State.SUCCEEDED, result_json="1")])
    keep = store.enqueue(new())[0]
    assert store.purge({State.SUCCEEDED: 3600}).jobs == 0
    assert store.purge({State.SUCCEEDED: 0}, batch=1).jobs == 1
    with pytest.raises(JobNotFound):
        store.get(a.id)
    assert store.events(a.id) == [] and store.files(a.id) == []
    assert store.get(b.id).state is State.RUNNING and store.get(keep.id).state is State.QUEUED


def test_list_filters_and_paginates_newest_first(store: Store) -> None:
    ids = [store.enqueue(new(task="a" if i % 2 else "b"))[0].id for i in range(7)]
    page1 = store.list_jobs(limit=3)
    page2 = store.list_jobs(limit=3, cursor=page1[-1].id)
    assert [j.id for j in page1 + page2] == sorted(ids, reverse=True)[:6]
    assert {j.task for j in store.list_jobs(task="a")} == {"a"}
    assert store.list_jobs(state=State.RUNNING) == []


def test_all_events_follow_one_increasing_order(store: Store) -> None:
    store.enqueue_many([new(), new()])
    store.claim("w", None, 2)
    events = store.events(None)
    assert [e.id for e in events] == sorted(e.id for e in events) and len(events) == 4
    assert store.events(None, after=events[1].id)[0].id == events[2].id


def test_leadership_is_exclusive_until_released_or_expired(store: Store) -> None:
    assert store.lead("duty", "a", ttl=60)
    assert store.lead("duty", "a", ttl=60)
    assert not store.lead("duty", "b", ttl=60)
    store.lead("duty", "a", ttl=0)
    assert store.lead("duty", "b", ttl=0.05)
    wait_until(lambda: store.lead("duty", "c", ttl=60), message="expiry of b's lease")


def test_workers_register_and_deregister(store: Store) -> None:
    from errands.stores.base import WorkerInfo

    store.register_worker(WorkerInfo("w1", "host", 42, ("a", "b"), 4))
    [info] = store.workers()
    assert (info.id, info.host, info.pid, info.queues, info.concurrency) == ("w1", "host", 42, ("a", "b"), 4)
    store.deregister_worker("w1")
    assert store.workers() == []
