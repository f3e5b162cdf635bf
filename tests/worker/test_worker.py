"""The worker run in-process: outcomes, retries, timeouts, async tasks, context features."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from errands import Errands, JobCancelled, JobContext, Settings, State, WorkerConfig
from errands.job import NewJob
from tests.helpers import drain, wait_until


def drained(app: Errands, job_id: int) -> bool:
    """Run a burst worker, then say whether the job has finished (a retry may wait out its backoff)."""
    drain(app)
    return app.get(job_id).finished

def test_result_and_progress_are_recorded(app: Errands) -> None:
    @app.task
    def export(ctx: JobContext, n: int) -> dict[str, int]:
        for i in range(n):
            ctx.progress(i + 1, n, f"row {i + 1}")
        return {"rows": n}

    job = export.enqueue(n=1000)
    drain(app)
    done = app.get(job.id)
    assert done.state is State.SUCCEEDED and done.result == {"rows": 1000}
    assert (done.progress.current, done.progress.total, done.progress.message) == (1000, 1000, "row 1000")
    assert [e.state for e in app.events(job.id) if e.kind == "state"] == [
        State.QUEUED, State.RUNNING, State.SUCCEEDED]


def test_progress_writes_are_throttled(store_url: str) -> None:
    app = Errands(store_url, settings=Settings(progress_interval=0.05))

    took: list[float] = []

    @app.task
    def tight(ctx: JobContext) -> int:
        started = time.monotonic()
        deadline = started + 0.5
        calls = 0
        while time.monotonic() < deadline or calls < 100_000:
            calls += 1
            ctx.progress(calls, None)
        took.append(time.monotonic() - started)
        return calls

    job = tight.enqueue()
    drain(app)
    done = app.get(job.id)
    writes = [e for e in app.events(job.id) if e.kind == "progress"]
    assert done.result >= 100_000 and done.progress.current == done.result
    # About one per 50 ms of the loop's own run (which a loaded machine makes longer), not one per call.
    assert 1 <= len(writes) <= took[0] / 0.05 + 10


def test_failure_is_retried_with_backoff_then_recorded_with_traceback(app: Errands) -> None:
    calls = []

    @app.task(retries=2, backoff=0.01)
    def broken(ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        raise ValueError(f"bad input on attempt {ctx.attempt}")

    job = broken.enqueue()
    wait_until(lambda: drained(app, job.id), message="retries to run out")
    failed = app.get(job.id)
    assert calls == [1, 2, 3]
    assert failed.state is State.FAILED and failed.attempt == 3
    assert failed.error is not None and failed.error.type == "ValueError"
    assert failed.error.message == "bad input on attempt 3"
    assert 'raise ValueError(f"bad input on attempt {ctx.attempt}")' in (failed.error.traceback or "")
    states = [e.state for e in app.events(job.id) if e.kind == "state"]
    assert states.count(State.SCHEDULED) == 2


def test_a_retry_can_succeed_and_sees_the_checkpoint(app: Errands) -> None:
    @app.task(retries=1, backoff=0)
    def flaky(ctx: JobContext) -> object:
        if ctx.attempt == 1:
            ctx.save_checkpoint({"rows": 50})
            raise ConnectionError("upstream closed")
        return ctx.checkpoint

    job = flaky.enqueue()
    wait_until(lambda: drained(app, job.id), message="the retry")
    assert app.get(job.id).result == {"rows": 50}


def test_timeout_stops_plain_python_and_fails_the_job(app: Errands) -> None:
    @app.task(timeout=0.3)
    def spin(ctx: JobContext) -> None:
        while True:
            pass

    job = spin.enqueue()
    drain(app)
    failed = app.get(job.id)
    assert failed.state is State.FAILED and failed.error is not None
    assert failed.error.type == "errands.errors.JobTimeout"
    assert "ran longer than its timeout of 0.3s" in failed.error.message


def test_async_tasks_run_on_one_event_loop_concurrently(app: Errands) -> None:
    threads = set()
    started: set[int] = set()

    @app.task
    async def fetch(ctx: JobContext, i: int) -> int:
        threads.add(threading.get_ident())
        started.add(i)
        # A barrier: no job returns before all eight have started, so they can only finish
        # if they run at the same time (one at a time, the first would wait out its 30 s).
        await asyncio.wait_for(until_all_started(), timeout=30)
        return i * 2

    async def until_all_started() -> None:
        while len(started) < 8:
            await asyncio.sleep(0.01)

    ids = [fetch.enqueue(i=i).id for i in range(8)]
    drain(app, concurrency=8)
    assert [app.get(i).result for i in ids] == [i * 2 for i in range(8)]
    assert len(threads) == 1


def test_plain_tasks_that_wait_get_every_slot(app: Errands) -> None:
    # A burst starts on one thread (errands.worker.slots); jobs that wait must still bring up one
    # thread per slot: none of these returns before all eight have started.
    started: set[int] = set()
    threads: set[int] = set()
    lock = threading.Lock()

    @app.task
    def fetch(ctx: JobContext, i: int) -> int:
        with lock:
            started.add(i)
            threads.add(threading.get_ident())
        wait_until(lambda: len(started) == 8, timeout=30)
        return i * 2

    ids = [fetch.enqueue(i=i).id for i in range(8)]
    drain(app, concurrency=8)
    assert [app.get(i).result for i in ids] == [i * 2 for i in range(8)]
    assert len(threads) == 8


def test_async_timeout(app: Errands) -> None:
    @app.task(timeout=0.1)
    async def hang(ctx: JobContext) -> None:
        await asyncio.sleep(30)

    job = hang.enqueue()
    drain(app)
    failed = app.get(job.id)
    assert failed.state is State.FAILED and failed.error is not None and "timeout" in failed.error.message


def test_result_that_is_not_json_fails_the_job_clearly(app: Errands) -> None:
    @app.task(retries=3)
    def odd(ctx: JobContext) -> object:
        return {1, 2}

    job = odd.enqueue()
    drain(app)
    failed = app.get(job.id)
    assert failed.state is State.FAILED and failed.attempt == 1  # not retried: it would fail the same way
    assert failed.error is not None and failed.error.type == "ResultNotSerializable"
    assert "must be JSON-serializable" in failed.error.message


def test_oversized_result_fails_the_job(store_url: str) -> None:
    app = Errands(store_url, settings=Settings(max_result_bytes=100))

    @app.task
    def big(ctx: JobContext) -> str:
        return "x" * 500

    job = big.enqueue()
    drain(app)
    assert app.get(job.id).error.type == "ResultNotSerializable"  # type: ignore[union-attr]


def test_a_job_whose_task_vanished_is_left_queued_not_failed(app: Errands) -> None:
    job, _ = app.store.enqueue(NewJob(task="removed.in.last.deploy", args_json="{}"))
    drain(app)  # a burst worker that does not know the task neither claims it nor waits for it
    left = app.get(job.id)
    assert left.state is State.QUEUED and left.attempt == 0 and left.error is None


def test_files_and_logs_are_kept_on_the_job(app: Errands, tmp_path: Path) -> None:
    source = tmp_path / "report.pdf"
    source.write_bytes(b"%PDF-1.4 fake")

    @app.task
    def report(ctx: JobContext) -> None:
        ctx.log("collecting")
        ctx.save_file("data.csv", "a,b\n1,2\n")
        ctx.save_file("report.pdf", source)
        ctx.log("done")

    job = report.enqueue()
    drain(app)
    assert {(f.name, f.content_type, f.size) for f in app.files(job.id)} == {
        ("data.csv", "text/csv", 8), ("report.pdf", "application/pdf", 13)}
    assert app.file(job.id, "data.csv") == b"a,b\n1,2\n"
    assert [e.data["message"] for e in app.events(job.id) if e.kind == "log"] == ["collecting", "done"]  # type: ignore[index]


def test_oversized_or_badly_named_file_fails_the_job(store_url: str) -> None:
    app = Errands(store_url, settings=Settings(max_file_bytes=10))

    @app.task
    def save(ctx: JobContext, name: str, size: int) -> None:
        ctx.save_file(name, b"x" * size)

    big, bad = save.enqueue(name="a.bin", size=11), save.enqueue(name="../etc/passwd", size=1)
    drain(app)
    assert "over the limit of 10" in app.get(big.id).error.message  # type: ignore[union-attr]
    assert "plain name" in app.get(bad.id).error.message  # type: ignore[union-attr]


def test_priority_then_age_decides_the_order(app: Errands) -> None:
    order: list[str] = []

    @app.task
    def note(ctx: JobContext, label: str) -> None:
        order.append(label)

    for label, priority in [("old-low", 0), ("high", 5), ("new-low", 0), ("higher", 9)]:
        note.enqueue(label=label, priority=priority)
    drain(app, concurrency=1)
    assert order == ["higher", "high", "old-low", "new-low"]


def test_a_worker_serves_only_its_queues(app: Errands) -> None:
    @app.task(queue="mail")
    def mail(ctx: JobContext) -> None: ...

    @app.task(queue="reports")
    def report(ctx: JobContext) -> None: ...

    m, r = mail.enqueue(), report.enqueue()
    drain(app, queues=("mail",))
    assert app.get(m.id).state is State.SUCCEEDED and app.get(r.id).state is State.QUEUED


def test_delayed_job_waits_for_its_time(app: Errands) -> None:
    @app.task
    def later(ctx: JobContext) -> float:
        return time.time()

    enqueued = time.time()
    job = later.enqueue(delay=0.4)
    worker = app.start_worker(WorkerConfig(idle_wait=0.05))
    try:
        done = app.wait(job.id, timeout=10)
    finally:
        worker.stop()
    assert done.result >= enqueued + 0.4


def test_cancel_a_running_sync_job_raises_out_of_progress(app: Errands) -> None:
    started = threading.Event()
    seen: list[bool] = []

    @app.task
    def long(ctx: JobContext) -> None:
        started.set()
        try:
            for i in range(10_000):
                time.sleep(0.01)
                ctx.progress(i, 10_000)
        except JobCancelled:
            seen.append(ctx.cancelled.is_set())
            raise

    job = long.enqueue()
    worker = app.start_worker()
    try:
        started.wait(10)
        app.cancel(job.id)
        done = app.wait(job.id, timeout=10)
    finally:
        worker.stop()
    assert done.state is State.CANCELLED and seen == [True]


def test_cancel_a_running_async_job(app: Errands) -> None:
    @app.task
    async def sleeper(ctx: JobContext) -> None:
        await asyncio.sleep(60)

    job = sleeper.enqueue()
    worker = app.start_worker()
    try:
        wait_until(lambda: app.get(job.id).state is State.RUNNING, message="the job to start")
        app.cancel(job.id)
        done = app.wait(job.id, timeout=10)
    finally:
        worker.stop()
    assert done.state is State.CANCELLED


def test_a_task_that_ignores_cancel_is_still_cancelled_and_its_result_dropped(app: Errands) -> None:
    release = threading.Event()

    @app.task
    def stubborn(ctx: JobContext) -> str:
        release.wait(10)
        return "finished anyway"

    job = stubborn.enqueue()
    worker = app.start_worker()
    try:
        wait_until(lambda: app.get(job.id).state is State.RUNNING, message="the job to start")
        app.cancel(job.id)
        wait_until(lambda: worker.running() and worker.running()[0].ctx.cancelled.is_set(), message="the cancel")
        release.set()
        done = app.wait(job.id, timeout=10)
    finally:
        worker.stop()
    assert done.state is State.CANCELLED and done.result is None


def test_stop_releases_unfinished_jobs_with_their_checkpoint(app: Errands) -> None:
    @app.task
    def steps(ctx: JobContext) -> None:
        start = (ctx.checkpoint or {}).get("step", 0)
        for step in range(start, 1000):
            ctx.save_checkpoint({"step": step + 1})
            ctx.progress(step + 1, 1000)
            time.sleep(0.01)

    job = steps.enqueue()
    worker = app.start_worker(WorkerConfig(grace=5))
    wait_until(lambda: (app.get(job.id).checkpoint or {}).get("step", 0) >= 3, message="some steps")
    worker.stop()
    released = app.get(job.id)
    assert released.state is State.QUEUED and released.attempt == 0
    assert released.checkpoint["step"] >= 3
    assert "released at shutdown" in str([e.data for e in app.events(job.id)])
