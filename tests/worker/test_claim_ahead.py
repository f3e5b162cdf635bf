"""Claiming ahead: a worker running short jobs holds more than its slots, in few claims; long jobs
are never held ahead; a job waiting for a slot keeps its lease, does not time out, and does not run
when it was cancelled meanwhile. And the one log line per job end."""

from __future__ import annotations

import logging
import threading
from functools import partial
from typing import Any

import pytest

from errands import Errands, JobContext, Settings, State, WorkerConfig
from errands.task import Task
from errands.worker import Worker
from errands.worker.loop import MAX_AHEAD
from tests.helpers import drain, wait_until

Claims = list[tuple[str, int, int]]


def succeeded(app: Errands, job_id: int) -> bool:
    return app.get(job_id).state is State.SUCCEEDED  # worker id, limit asked, jobs got


def count_claims(app: Errands, monkeypatch: pytest.MonkeyPatch) -> Claims:
    claims: Claims = []
    claim = app.store.claim

    def recording(worker_id: str, *args: Any, **kwargs: Any) -> Any:
        done = claim(worker_id, *args, **kwargs)
        claims.append((worker_id, args[1], len(done.jobs)))
        return done

    monkeypatch.setattr(app.store, "claim", recording)
    return claims


def test_short_jobs_are_claimed_many_at_a_time(app: Errands, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[int] = []

    @app.task
    def quick(ctx: JobContext, n: int) -> None:
        ran.append(n)

    app.enqueue_many(quick, [{"n": n} for n in range(600)])
    claims = count_claims(app, monkeypatch)
    drain(app, concurrency=2)
    assert sorted(ran) == list(range(600))
    # Claiming only the free slots took one claim per two jobs (300); a claim now feeds the
    # slots for a while. Never more than the slots plus MAX_AHEAD are asked for.
    assert len(claims) < 60, claims
    assert max(limit for _, limit, _ in claims) <= 2 + MAX_AHEAD


def test_long_jobs_are_never_claimed_ahead(app: Errands, monkeypatch: pytest.MonkeyPatch) -> None:
    @app.task
    def slow(ctx: JobContext) -> None:
        threading.Event().wait(0.1)  # past SHORT_JOB: a free slot anywhere should take the next one

    app.enqueue_many(slow, [{}] * 12)
    claims = count_claims(app, monkeypatch)
    workers = [app.worker(WorkerConfig(concurrency=2, burst=True)) for _ in range(2)]
    threads = [threading.Thread(target=w.run) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert app.stats()["default"] == {"succeeded": 12}
    assert max(limit for _, limit, _ in claims) <= 2  # each worker holds at most its two slots
    assert {worker for worker, _, got in claims if got} == {w.id for w in workers}


def _gated(app: Errands) -> tuple[threading.Event, Task, list[int]]:
    """A task `block` that waits for the gate, and a task `quick` that records its number."""
    gate = threading.Event()
    ran: list[int] = []

    @app.task(name="block")
    def block(ctx: JobContext) -> None:
        assert gate.wait(30)

    @app.task(name="quick", timeout=0.3)
    def quick(ctx: JobContext, n: int) -> None:
        ctx.progress(1, 1)  # raises if the job was interrupted (timed out, cancelled) before it ran
        ran.append(n)

    return gate, quick, ran


def _held_behind_a_blocked_slot(app: Errands) -> tuple[threading.Event, list[int], Worker, list[int]]:
    """A started worker with one slot that ran ten quick jobs (so jobs are short), then holds five
    quick jobs ahead (`waiting`) behind a job that blocks its only slot until the gate opens."""
    gate, quick, ran = _gated(app)
    app.enqueue_many(quick, [{"n": n} for n in range(10)])
    worker = app.start_worker(WorkerConfig(concurrency=1, maintenance_interval=0.1))
    wait_until(lambda: len(ran) == 10, message="the first quick jobs")
    blocker = app.enqueue("block", {}, priority=1)
    waiting = [j.id for j in (app.enqueue("quick", {"n": n}) for n in range(10, 15))]
    wait_until(lambda: all(app.get(i).state is State.RUNNING for i in [blocker.id, *waiting]),
               message="the blocker and the quick jobs behind it claimed")
    assert len(ran) == 10
    return gate, ran, worker, waiting


def _finish(app: Errands, gate: threading.Event, worker: Worker, ran: list[int], count: int) -> None:
    gate.set()
    wait_until(lambda: len(ran) == count and set(app.stats()["default"]) <= {"succeeded", "cancelled"},
               message="every job to end")
    worker.stop(timeout=30)


def test_a_claim_that_got_fewer_jobs_than_asked_waits_for_a_wake_up(postgres_url: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """It saw every job it could take; claiming again at once would find none and keep the job just
    started waiting for the interpreter. On PostgreSQL only a claimable job wakes an idle worker."""
    app = Errands(postgres_url)
    ran: list[int] = []

    @app.task
    def quick(ctx: JobContext, n: int) -> None:
        ran.append(n)

    claims = count_claims(app, monkeypatch)
    worker = app.worker(WorkerConfig(concurrency=4, idle_wait=60, maintenance_interval=60)).start()
    try:
        wait_until(lambda: claims, message="the worker's first claim")
        for n in range(3):
            wait_until(partial(succeeded, app, quick.enqueue(n=n).id), message=f"job {n} to succeed")
        assert worker.settler.wait_idle(10)
    finally:
        worker.stop()
        app.close()
    assert ran == [0, 1, 2]
    assert [got for _, _, got in claims] == [0, 1, 1, 1]


def test_a_job_held_ahead_keeps_its_lease_and_times_out_only_once_it_runs(store_url: str) -> None:
    app = Errands(store_url, settings=Settings(lease=0.6))  # shorter than the wait below: heartbeats keep it
    try:
        gate, ran, worker, waiting = _held_behind_a_blocked_slot(app)
        threading.Event().wait(1.5)  # two and a half leases, and the 0.3 s timeout five times over
        _finish(app, gate, worker, ran, 15)
        assert sorted(ran) == list(range(15))
        for job_id in waiting:
            job = app.get(job_id)
            assert job.state is State.SUCCEEDED and job.attempt == 1, job
            assert not [e for e in app.events(job_id) if e.kind == "rescued"]
    finally:
        app.close()


def test_a_job_cancelled_while_held_ahead_never_runs(app: Errands) -> None:
    gate, ran, worker, waiting = _held_behind_a_blocked_slot(app)
    target = waiting[2]
    app.cancel(target)
    wait_until(lambda: any(ex.job.id == target and ex.ctx.cancelled.is_set() for ex in worker.running()),
               message="the cancel request to reach the worker")
    _finish(app, gate, worker, ran, 14)
    assert app.get(target).state is State.CANCELLED
    assert sorted(ran) == sorted(set(range(15)) - {12})


def test_one_info_line_per_job_end_with_task_runtime_and_attempt(app: Errands,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    tries: list[int] = []

    @app.task(name="flaky", retries=1, backoff=0)
    def flaky(ctx: JobContext) -> None:
        tries.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ValueError("first time")

    @app.task(name="fine")
    def fine(ctx: JobContext) -> None:
        pass

    bad, good = flaky.enqueue(), fine.enqueue()
    with caplog.at_level(logging.INFO, logger="errands.worker"):
        drain(app)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.getMessage().startswith("job ")]
    assert ("WARNING", f"job {bad.id} failed, will retry: ValueError: first time") in lines
    ends = [message for level, message in lines if level == "INFO"]
    assert len(ends) == 2, lines  # no "started" line at INFO
    good_line = next(m for m in ends if m.startswith(f"job {good.id} "))
    assert good_line.startswith(f"job {good.id} fine succeeded in ") and good_line.endswith(" ms")
    bad_line = next(m for m in ends if m.startswith(f"job {bad.id} "))
    assert bad_line.startswith(f"job {bad.id} flaky succeeded in ") and bad_line.endswith(" (attempt 2)")
