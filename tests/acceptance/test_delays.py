"""Delays on the store's clock: a producer whose clock is two minutes off (libfaketime) still
gets a job due `delay` seconds after the store's now, and a real worker starts delayed jobs in
due order, never before they are due by the store's clock."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta

import pytest

from errands import Errands, State
from tests.apps import basic
from tests.helpers import ROOT, spawn_worker, wait_until

APP = "tests.apps.basic:app"
DELAY = 30.0
ENQUEUE = (
    "import sys, time; from errands import Errands; from tests.apps import basic; "
    "app = Errands(sys.argv[1]); app.tasks.update(basic.app.tasks); "
    "job = app.enqueue('add', {'a': 1, 'b': 2}, delay=float(sys.argv[2])); print(job.id, time.time())"
)


def producer(url: str) -> Errands:
    app = Errands(url)
    app.tasks.update(basic.app.tasks)
    return app


@pytest.mark.skipif(shutil.which("faketime") is None, reason="needs Debian's faketime (libfaketime)")
@pytest.mark.parametrize("offset", ["+120s", "-120s"])
def test_a_producer_with_a_wrong_clock_gets_a_job_due_on_the_stores_clock(postgres_url: str, offset: str) -> None:
    """PostgreSQL only: the server's clock is the store's. (A SQLite store has no clock of its own:
    every process on its one host reads the same system clock, which faketime fakes per process.)"""
    app = producer(postgres_url)
    before = app.store.now()
    done = subprocess.run(["faketime", "-f", offset, sys.executable, "-c", ENQUEUE, postgres_url, str(DELAY)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    job_id, producer_clock = done.stdout.split()
    after = app.store.now()
    assert abs(float(producer_clock) - after) > 100  # the producer's clock really was two minutes off
    job = app.get(int(job_id))
    assert job.state is State.SCHEDULED
    assert before <= job.created_at.timestamp() <= after  # created on the store's clock
    assert abs(job.run_at - job.created_at - timedelta(seconds=DELAY)) < timedelta(milliseconds=1)


def test_a_worker_starts_delayed_jobs_in_due_order_and_never_early(store_url: str) -> None:
    app = producer(store_url)
    later = app.enqueue("add", {"a": 2, "b": 2}, delay=2.0)
    sooner = app.enqueue("add", {"a": 1, "b": 1}, delay=1.0)
    now = app.enqueue("add", {"a": 0, "b": 0})
    worker = spawn_worker(APP, store_url, "--maintenance-interval", "0.2")
    try:
        wait_until(lambda: all(app.get(j.id).state is State.SUCCEEDED for j in (later, sooner, now)),
                   timeout=120, message="the delayed jobs to run")
    finally:
        worker.terminate()
        worker.wait(60)
    jobs = [app.get(j.id) for j in (now, sooner, later)]
    starts = [j.started_at for j in jobs]
    assert all(s is not None for s in starts)
    assert starts == sorted(starts)  # type: ignore[type-var]
    for job in jobs:  # both times on the store's clock
        assert job.started_at is not None and job.started_at >= job.run_at
