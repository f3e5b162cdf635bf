"""No starvation: a low-priority job under sustained higher-priority load still runs, aged by
maintenance to the top priority of its queue once it has waited `max_wait` (a real worker; a
producer keeps the queue full of higher-priority jobs until the low one has run)."""

from __future__ import annotations

import threading

import pytest

from errands import Errands, State
from tests.apps import basic
from tests.helpers import spawn_worker, wait_until

APP = "tests.apps.basic:app"
HIGH = 10
BACKLOG = 30  # higher-priority jobs the producer keeps waiting


def test_a_low_priority_job_runs_under_sustained_high_priority_load(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Errands(store_url)
    app.tasks.update(basic.app.tasks)
    high = {"n": 1, "pause": 0.02}
    app.enqueue_many("count_to", [high] * BACKLOG, priority=HIGH)
    low = app.enqueue("count_to", {"n": 1}, priority=0)
    producing = threading.Event()
    producing.set()
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            while producing.is_set():
                waiting = len(app.store.list_jobs(state=State.QUEUED, limit=BACKLOG + 1))
                if waiting < BACKLOG:
                    app.enqueue_many("count_to", [high] * (BACKLOG - waiting), priority=HIGH)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    feeder = threading.Thread(target=produce)
    feeder.start()
    monkeypatch.setenv("ERRANDS_MAX_WAIT", "1")
    worker = spawn_worker(APP, store_url, "--concurrency", "2", "--maintenance-interval", "0.2")
    try:
        wait_until(lambda: app.get(low.id).state is State.SUCCEEDED, timeout=120,
                   message="the low-priority job to run under load")
        producing.clear()
        feeder.join(60)
    finally:
        producing.clear()
        worker.terminate()
        worker.wait(60)
    assert errors == []
    ran = app.get(low.id)
    assert ran.started_at is not None
    aged = [e for e in app.events(low.id) if e.kind == "aged"]
    assert [e.data for e in aged] == [{"from": 0, "to": HIGH}]
    # it ran before the higher-priority backlog drained: older high jobs were still waiting
    overtaken = [j for j in app.store.list_jobs(limit=100_000)
                 if j.priority == HIGH and j.created_at < ran.started_at
                 and (j.started_at is None or j.started_at > ran.started_at)]
    assert len(overtaken) >= BACKLOG // 2
