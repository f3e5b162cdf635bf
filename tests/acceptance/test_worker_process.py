"""Real worker processes started by the `errands worker` command."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from errands import Errands, State
from tests.apps import basic
from tests.helpers import spawn_worker, wait_until

APP = "tests.apps.basic:app"


def producer(url: str) -> Errands:
    """The test's own handle on the store, with the same task definitions as the workers."""
    app = Errands(url)
    app.tasks.update(basic.app.tasks)
    return app


def test_two_worker_processes_run_every_job_exactly_once(store_url: str, tmp_path: Path) -> None:
    app = producer(store_url)
    out = tmp_path / "lines.txt"
    ids = app.enqueue_many("append", [{"path": str(out), "line": f"job-{i}"} for i in range(600)])
    workers = [spawn_worker(APP, store_url, "--burst", "--concurrency", "4") for _ in range(2)]
    for w in workers:
        assert w.wait(120) == 0, w.output()
    lines = out.read_text().splitlines()
    assert len(lines) == 600 and len(set(lines)) == 600
    assert app.stats()["default"] == {"succeeded": 600}
    assert {app.get(i).attempt for i in ids[:: 50]} == {1}


def test_sigterm_releases_running_jobs_and_the_next_worker_resumes_them(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERRANDS_PROGRESS_INTERVAL", "0")  # every checkpoint on the timeline, to count them
    app = producer(store_url)
    job = app.enqueue("count_to", {"n": 400, "pause": 0.01})
    first = spawn_worker(APP, store_url, "--grace", "0.5")
    wait_until(lambda: (app.get(job.id).checkpoint or {}).get("i", 0) >= 20, message="progress in the first worker")
    first.send_signal(signal.SIGTERM)
    assert first.wait(30) == 0
    output = first.output()
    assert "released to the queue" in output
    released = app.get(job.id)
    assert released.state is State.QUEUED and released.checkpoint["i"] >= 20
    resumed_from = released.checkpoint["i"]
    second = spawn_worker(APP, store_url, "--burst")
    assert second.wait(60) == 0
    done = app.get(job.id)
    assert done.state is State.SUCCEEDED and done.result == 400
    checkpoints = [e for e in app.events(job.id) if e.kind == "checkpoint"]
    assert len(checkpoints) == 400  # no step redone: the second worker started at the checkpoint
    assert resumed_from < 400


def test_worker_with_an_app_that_cannot_load_exits_with_a_clear_error(store_url: str) -> None:
    proc = spawn_worker("tests.apps.missing:app", store_url, "--burst")
    assert proc.wait(30) == 2
    output = proc.output()
    assert "cannot import 'tests.apps.missing'" in output and "Traceback" not in output
