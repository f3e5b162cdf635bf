"""Flow control in the store contract: concurrency limits, rate limits and paused queues, enforced
by the claim itself on every dialect, including claimers racing for the last slot."""

from __future__ import annotations

import json
import threading

import pytest

from errands import State
from errands.job import NewJob, Outcome
from errands.stores import Store
from errands.stores.flow import Limits, Rate, parse_rate
from errands.stores.values import WorkerInfo


def new(task: str = "t", queue: str = "default") -> NewJob:
    return NewJob(task=task, args_json=json.dumps({}), queue=queue)


def declare(store: Store, limits: dict[tuple[str, str], Limits]) -> None:
    store.register_worker(WorkerInfo("decl", "h", 1, (), 1, tasks=("t",)), limits)


def done(store: Store, worker: str, jobs: list[int]) -> None:
    for job_id in jobs:
        job = store.get(job_id)
        assert job.lease_token is not None
        assert store.settle([Outcome(job_id, job.lease_token, State.SUCCEEDED, task=job.task)]) == [True]


def test_a_task_concurrency_limit_caps_running_jobs_and_a_settle_frees_a_slot(store: Store) -> None:
    declare(store, {("task", "t"): Limits(concurrency=2)})
    for _ in range(5):
        store.enqueue(new())
    first = store.claim("w1", None, 10, ["t"]).jobs
    assert len(first) == 2
    assert store.claim("w2", None, 10, ["t"]).jobs == []
    assert not store.ready(None, ["t"]).due
    done(store, "w1", [first[0].id])
    assert len(store.claim("w2", None, 10, ["t"]).jobs) == 1
    assert store.claim("w2", ["default"], 10, ["t"]).jobs == []


def test_a_queue_limit_caps_every_task_of_the_queue_and_leaves_other_queues_alone(store: Store) -> None:
    declare(store, {("queue", "exports"): Limits(concurrency=3)})
    for task in ("a", "b", "a", "b", "a"):
        store.enqueue(new(task, "exports"))
    store.enqueue(new("a", "other"))
    got = store.claim("w", None, 10, ["a", "b"]).jobs
    assert sorted(j.queue for j in got) == ["exports", "exports", "exports", "other"]
    assert store.claim("w", ["exports", "other"], 10, ["a", "b"]).jobs == []
    # A claimer naming no tasks (and no queues) is held back the same way.
    assert store.claim("w", None, 10).jobs == []


def test_claimers_racing_for_the_last_slot_take_it_once(store: Store) -> None:
    declare(store, {("task", "t"): Limits(concurrency=1)})
    for _ in range(10):
        store.enqueue(new())
    barrier = threading.Barrier(8)
    taken: list[int] = []

    def claimer(n: int) -> None:
        barrier.wait()
        taken.extend(j.id for j in store.claim(f"w{n}", None, 5, ["t"]).jobs)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(taken) == 1
    assert store.counts()["default"]["running"] == 1


def test_a_rate_limit_lets_n_starts_through_per_period_and_says_when_it_opens(store: Store) -> None:
    declare(store, {("task", "t"): Limits(rate=parse_rate("3/h"))})
    for _ in range(5):
        store.enqueue(new())
    assert len(store.claim("w", None, 2, ["t"]).jobs) == 2
    claim = store.claim("w", None, 10, ["t"])
    assert len(claim.jobs) == 1
    again = store.claim("w", None, 10, ["t"])
    assert again.jobs == [] and again.opens_in is not None and 3500 < again.opens_in <= 3600
    flows = {(f.kind, f.name): f for f in store.flows()}
    assert flows[("task", "t")].recent == 3
    waiting = store.list_jobs(state=State.QUEUED)[0]
    assert store.waiting_reason(waiting) == "the task's rate limit 3/h reached"


def test_a_paused_queue_is_not_claimed_until_resumed(store: Store) -> None:
    store.enqueue(new(queue="q"))
    store.enqueue(new(queue="free"))
    paused = store.pause("q", True, "ops@host")
    assert paused.paused and paused.paused_by == "ops@host" and paused.paused_at is not None
    assert [j.queue for j in store.claim("w", None, 10, ["t"]).jobs] == ["free"]
    assert store.claim("w", ["q"], 10, ["t"]).jobs == []
    assert store.claim("w", None, 10).jobs == []
    assert not store.ready(["q"], ["t"]).due and not store.ready(None, ["t"]).due
    job = store.list_jobs(queue="q")[0]
    reason = store.waiting_reason(job)
    assert reason is not None and reason.startswith("queue 'q' is paused by ops@host at ")
    assert not store.pause("q", False, "ops@host").paused
    assert [j.queue for j in store.claim("w", ["q"], 10, ["t"]).jobs] == ["q"]


def test_an_idle_worker_sees_a_full_limit_of_a_rate_limited_task_as_nothing_ready(store: Store) -> None:
    declare(store, {("task", "t"): Limits(concurrency=1, rate=Rate(100, 1.0))})
    store.enqueue(new())
    store.enqueue(new())
    assert store.ready(None, ["t"]).due
    assert len(store.claim("w", None, 10, ["t"]).jobs) == 1
    assert not store.ready(None, ["t"]).due and not store.ready(["default"], ["t"]).due


def test_the_newest_declaration_wins_and_can_lift_a_limit(store: Store) -> None:
    declare(store, {("task", "t"): Limits(concurrency=1)})
    declare(store, {("task", "t"): Limits(concurrency=3, rate=Rate(100, 1.0))})
    assert [(f.concurrency, str(f.rate)) for f in store.flows()] == [(3, "100/s")]
    declare(store, {("task", "t"): Limits()})
    for _ in range(4):
        store.enqueue(new())
    assert len(store.claim("w", None, 10, ["t"]).jobs) == 4


@pytest.mark.parametrize("text", ["10", "0/s", "ten/s", "10/d", "-1/s", "10/0s", ""])
def test_a_bad_rate_is_refused_with_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="rate must look like '10/s'"):
        parse_rate(text)


def test_rates_read_back_as_written() -> None:
    assert [str(parse_rate(t)) for t in ("10/s", "100/m", "5/h", "3/10s", " 7 / 2m ")] == [
        "10/s", "100/m", "5/h", "3/10s", "7/2m"]
