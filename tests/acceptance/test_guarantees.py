"""Nothing lost: real worker processes killed, paused, stopped and cancelled, with exact counts."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

from errands import Errands, State
from tests.apps import chaos
from tests.helpers import WorkerProcess, spawn_worker, wait_until

APP = "tests.apps.chaos:app"
FAST = ("--maintenance-interval", "0.5")


def producer(url: str) -> Errands:
    app = Errands(url)
    app.tasks.update(chaos.app.tasks)
    return app


def stop(proc: WorkerProcess) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(30)


def pause_outside_a_write(proc: WorkerProcess, store_url: str) -> None:
    """SIGSTOP the worker. On SQLite a process paused inside a write transaction keeps the
    database's write lock until it resumes (a documented limit): pause it again until the
    pause falls between two of its writes, which is the case this test is about."""
    for _ in range(50):
        proc.send_signal(signal.SIGSTOP)
        if not store_url.startswith("sqlite"):
            return
        conn = sqlite3.connect(store_url.removeprefix("sqlite:///"), timeout=0.2, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            proc.send_signal(signal.SIGCONT)
            time.sleep(0.05)
        finally:
            conn.close()
    raise AssertionError("could not pause the worker outside a write transaction")


def test_chaos_every_job_succeeds_once_while_a_worker_is_killed_every_two_seconds(store_url: str,
                                                                                 tmp_path: Path) -> None:
    app = producer(store_url)
    out = tmp_path / "runs.txt"
    short = app.enqueue_many("short", [{"path": str(out), "key": f"s{i}"} for i in range(1800)])
    long = app.enqueue_many("resumable", [{"path": str(out), "key": f"r{i}", "steps": 10, "pause": 0.05}
                                          for i in range(200)])
    workers = [spawn_worker(APP, store_url, "--concurrency", "4", *FAST) for _ in range(2)]
    kills = 0
    try:
        deadline = time.monotonic() + 240
        while app.stats().get("default", {}).get("succeeded", 0) < 2000:
            assert time.monotonic() < deadline, f"not drained: {app.stats()}"
            time.sleep(2)
            victim = kills % 2
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait(10)
            workers[victim] = spawn_worker(APP, store_url, "--concurrency", "4", *FAST)
            kills += 1
    finally:
        for w in workers:
            stop(w)

    assert app.stats() == {"default": {"succeeded": 2000}}  # none failed, none left running or queued
    lines = Counter(out.read_text().splitlines())
    assert all(lines[f"s{i}"] >= 1 for i in range(1800))  # at least once
    rescued_jobs = 0
    for job_id in short + long:
        job = app.get(job_id)
        events = app.events(job_id)
        assert [e.state for e in events if e.kind == "state"].count(State.SUCCEEDED) == 1  # recorded once
        assert sum(e.kind == "rescued" for e in events) == job.worker_losses  # every rescue is in the log
        rescued_jobs += job.worker_losses > 0
        if job.task == "resumable":
            key = job.args["key"]
            redone = sum(lines[f"{key}:{step}"] - 1 for step in range(10))
            assert all(lines[f"{key}:{step}"] >= 1 for step in range(10))  # no step skipped
            assert redone <= job.worker_losses  # each rescue redid at most one checkpoint interval
    assert kills >= 2 and rescued_jobs >= 1


def test_fencing_a_paused_worker_cannot_overwrite_the_worker_that_took_over(store_url: str) -> None:
    app = producer(store_url)
    job = app.enqueue("slow_pid", {"seconds": 3})
    zombie = spawn_worker(APP, store_url, *FAST)
    try:
        wait_until(lambda: app.get(job.id).state is State.RUNNING, message="the first worker to start the job")
        pause_outside_a_write(zombie, store_url)  # past its 1 s lease, as by a long GC pause or a partition
        rescuer = spawn_worker(APP, store_url, *FAST)
        try:
            done = app.wait(job.id, timeout=60)
            assert done.state is State.SUCCEEDED and done.result == rescuer.pid
            zombie.send_signal(signal.SIGCONT)
            wait_until(lambda: "lease" in zombie.output() and ("refused" in zombie.output()
                                                                  or "discarded" in zombie.output()),
                       timeout=30, message="the zombie to notice its lease is gone")
            time.sleep(0.5)
            after = app.get(job.id)
            assert after.state is State.SUCCEEDED and after.result == rescuer.pid  # the first result stands
            assert after.worker_losses >= 1  # more if a loaded machine also delayed the rescuer's heartbeat
        finally:
            stop(rescuer)
    finally:
        zombie.send_signal(signal.SIGCONT)
        stop(zombie)


def test_sigterm_during_eight_running_jobs_releases_them_and_the_next_worker_resumes(store_url: str,
                                                                                    tmp_path: Path) -> None:
    app = producer(store_url)
    out = tmp_path / "runs.txt"
    ids = app.enqueue_many("resumable", [{"path": str(out), "key": f"r{i}", "steps": 100, "pause": 0.02}
                                         for i in range(8)])
    first = spawn_worker(APP, store_url, "--concurrency", "8", "--grace", "1")
    try:
        wait_until(lambda: all((app.get(i).checkpoint or {}).get("next", 0) >= 2 for i in ids),
                   message="all eight jobs to make progress")
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
    finally:
        stop(first)
    released = [app.get(i) for i in ids]
    # The 1 s grace was kept: each job still had at least 98 steps of 0.02 s to sleep through (2 s,
    # however fast the machine), so a worker that waited for its jobs would have finished them.
    assert all(j.state is State.QUEUED and j.attempt == 0 and 2 <= j.checkpoint["next"] < 100 for j in released)
    assert "released to the queue" in first.output() and "failed" not in first.output()
    second = spawn_worker(APP, store_url, "--concurrency", "8", "--burst")
    assert second.wait(120) == 0
    lines = Counter(out.read_text().splitlines())
    for job in released:
        done = app.get(job.id)
        assert done.state is State.SUCCEEDED
        key = job.args["key"]
        assert all(lines[f"{key}:{step}"] >= 1 for step in range(100))
        assert sum(lines[f"{key}:{step}"] - 1 for step in range(100)) <= 1  # resumed, not restarted


def test_cancel_reaches_running_sync_and_async_jobs_within_a_heartbeat_and_a_second(store_url: str,
                                                                                    tmp_path: Path) -> None:
    app = producer(store_url)
    sync_job = app.enqueue("resumable", {"path": str(tmp_path / "r"), "key": "k", "steps": 10_000, "pause": 0.01})
    async_job = app.enqueue("async_sleep", {"seconds": 600})
    worker = spawn_worker(APP, store_url)
    try:
        wait_until(lambda: all(app.get(j.id).state is State.RUNNING for j in (sync_job, async_job))
                   and (tmp_path / "r").exists(), message="both jobs to run")
        steps_before = len((tmp_path / "r").read_text().splitlines())
        app.cancel(sync_job.id)
        app.cancel(async_job.id)
        wait_until(lambda: all(app.get(j.id).state is State.CANCELLED for j in (sync_job, async_job)),
                   timeout=30, message="both jobs to end cancelled")
        # Counted in the sync job's own steps, not on the test's clock: each step sleeps 0.01 s, so
        # within a heartbeat and a second it can run at most that many (a loaded machine runs fewer).
        heartbeat = app.settings.lease / 3
        assert len((tmp_path / "r").read_text().splitlines()) - steps_before <= (heartbeat + 1) / 0.01
        assert worker.poll() is None  # the worker itself goes on
    finally:
        stop(worker)


def test_poison_job_fails_after_max_worker_losses_and_the_rest_still_run(store_url: str, tmp_path: Path) -> None:
    app = producer(store_url)
    out = tmp_path / "runs.txt"
    poison = app.enqueue("poison", {})
    others = app.enqueue_many("short", [{"path": str(out), "key": f"s{i}"} for i in range(50)])
    workers = [spawn_worker(APP, store_url, *FAST) for _ in range(2)]
    restarts = 0
    try:
        deadline = time.monotonic() + 120
        while not (app.get(poison.id).finished and all(app.get(i).finished for i in others)):
            assert time.monotonic() < deadline, f"not finished: {app.stats()}"
            for n, w in enumerate(workers):
                if w.poll() is not None:  # the poison killed it: restart, as a process supervisor would
                    workers[n] = spawn_worker(APP, store_url, *FAST)
                    restarts += 1
            time.sleep(0.1)
    finally:
        for w in workers:
            stop(w)
    failed = app.get(poison.id)
    assert failed.state is State.FAILED and failed.worker_losses == 3 and restarts == 3
    assert failed.error is not None and failed.error.type == "WorkerLost"
    assert "worker died 3 times" in failed.error.message
    assert all(app.get(i).state is State.SUCCEEDED for i in others)
    assert sorted(Counter(out.read_text().splitlines())) == sorted(f"s{i}" for i in range(50))
    assert os.path.exists(out)
