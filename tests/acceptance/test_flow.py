"""Flow control with real worker processes on both stores: a task's and a queue's global
concurrency limit, a rate limit, and a paused queue, measured from the runs' own records."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from errands import Errands, State
from tests.apps import flow
from tests.helpers import WorkerProcess, spawn_worker, wait_until

APP = "tests.apps.flow:app"


def producer(url: str) -> Errands:
    app = Errands(url)
    app.tasks.update(flow.app.tasks)
    return app


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in started:
        w.wait(60)


def records(path: Path) -> list[tuple[str, float, str]]:
    if not path.exists():
        return []
    return [(kind, float(at), name) for kind, at, name in (line.split() for line in path.read_text().splitlines())]


def most_at_once(path: Path) -> int:
    """The most runs that were between their start and end records at the same time."""
    changes = sorted((at, 1 if kind == "start" else -1) for kind, at, _ in records(path))
    running = peak = 0
    for _, step in sorted(changes, key=lambda c: (c[0], c[1])):  # an end before a start at the same time
        running += step
        peak = max(peak, running)
    return peak


def all_succeeded(app: Errands, ids: list[int]) -> bool:
    return all(app.get(i).state is State.SUCCEEDED for i in ids)


def test_a_task_limit_of_two_holds_across_six_workers(store_url: str, tmp_path: Path,
                                                       workers: list[WorkerProcess]) -> None:
    app = producer(store_url)
    out = tmp_path / "runs.txt"
    ids = app.enqueue_many("limited", [{"path": str(out), "pause": 0.4}] * 12)
    workers += [spawn_worker(APP, store_url, "--concurrency", "2") for _ in range(6)]
    wait_until(lambda: all_succeeded(app, ids), timeout=180, message="every limited job done",
               explain=lambda: "\n".join(w.output()[-2000:] for w in workers))
    assert len([r for r in records(out) if r[0] == "start"]) == 12
    assert most_at_once(out) == 2


def test_a_queue_limit_holds_for_every_task_of_the_queue(store_url: str, tmp_path: Path,
                                                         workers: list[WorkerProcess]) -> None:
    app = producer(store_url)
    out = tmp_path / "runs.txt"
    ids = app.enqueue_many("export", [{"path": str(out), "pause": 0.4}] * 12)
    workers += [spawn_worker(APP, store_url, "--concurrency", "3") for _ in range(4)]
    wait_until(lambda: all_succeeded(app, ids), timeout=180, message="every export done")
    assert most_at_once(out) == 3


def test_a_rate_of_ten_per_second_holds_over_ten_seconds(store_url: str, tmp_path: Path,
                                                         workers: list[WorkerProcess]) -> None:
    app = producer(store_url)
    out = tmp_path / "starts.txt"
    app.enqueue_many("rated", [{"path": str(out)}] * 160)
    workers += [spawn_worker(APP, store_url, "--concurrency", "4") for _ in range(4)]
    first = wait_until(lambda: records(out) and records(out)[0][1], timeout=120, message="a first start")
    wait_until(lambda: records(out)[-1][1] >= first + 10.5, timeout=120, message="ten seconds of starts")
    starts = sorted(at for _, at, _ in records(out))
    in_ten = [at for at in starts if at < first + 10]
    assert 90 <= len(in_ten) <= 110, len(in_ten)
    # Never more than ten in any one second, as the store's sliding window promises (the runs'
    # own clocks can lag the store's claim by a little: a 5% margin on the window).
    assert max(sum(1 for b in starts if a <= b < a + 0.95) for a in starts) <= 10


def test_a_paused_queue_is_claimed_by_no_worker_until_resumed(store_url: str, tmp_path: Path,
                                                              workers: list[WorkerProcess]) -> None:
    app = producer(store_url)
    out, marks = tmp_path / "notes.txt", tmp_path / "marks.txt"

    def ran(queue: str) -> None:
        """A job only a worker serving `queue` can run has run: that worker claimed since now."""
        job = app.enqueue("rated", {"path": str(marks)}, queue=queue)
        wait_until(lambda: app.get(job.id).state is State.SUCCEEDED, timeout=120, message=f"a job of {queue}")

    workers.append(spawn_worker(APP, store_url, "--concurrency", "2", "--queues", "default,pausable"))
    ran("default")  # the first worker runs, started before the pause
    app.pause("pausable", by="test")
    held = app.enqueue_many("note", [{"path": str(out)}] * 5)
    ran("default")
    workers.append(spawn_worker(APP, store_url, "--concurrency", "2", "--queues", "pausable,other"))
    ran("other")  # the worker started after the pause claims, and not the paused queue
    ran("default")
    assert [app.get(i).state for i in held] == [State.QUEUED] * 5 and not out.exists()
    reason = app.store.waiting_reason(app.get(held[0]))
    assert reason is not None and reason.startswith("queue 'pausable' is paused by test at ")
    app.resume("pausable", by="test")
    wait_until(lambda: all_succeeded(app, held), timeout=120, message="the resumed queue runs")
    assert len(records(out)) == 5
