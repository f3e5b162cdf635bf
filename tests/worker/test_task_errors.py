"""Whatever a task raises, its outcome is recorded: unprintable exceptions, BaseExceptions,
text no store accepts, and a 50 MB message (stored capped, with its event and log line)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import psycopg
import pytest

from errands import Errands, JobContext, Settings, State
from errands.job import JobError, NewJob, Outcome
from errands.stores import Store
from errands.text import capped, describe, format_error, type_name, utf8_size
from errands.worker.settle import Settler
from tests.apps import hostile
from tests.helpers import drain, spawn_worker

APP = "tests.apps.hostile:app"
CAP = 65_536


def producer(url: str) -> Errands:
    app = Errands(url)
    app.tasks.update(hostile.app.tasks)
    return app


def test_a_burst_worker_process_fails_every_unprintable_exception_and_exits(store_url: str) -> None:
    app = producer(store_url)
    ids = {(task, kind): app.enqueue(task, {"kind": kind}).id
           for task in ("raise_sync", "raise_async") for kind in hostile.KINDS}
    logged = app.enqueue("log_unprintable", {}).id
    worker = spawn_worker(APP, store_url, "--burst", "--concurrency", "4")
    assert worker.wait(180) == 0, worker.output()
    jobs = {key: app.get(job_id) for key, job_id in ids.items()}
    assert {key: job.state for key, job in jobs.items()} == {key: State.FAILED for key in ids}
    for (task, kind), job in jobs.items():
        assert job.error is not None and job.attempt == 1, (task, kind)
        assert job.error.traceback and job.error.traceback.endswith("\n"), (task, kind)
    unprintable = jobs["raise_sync", "unprintable"].error
    assert unprintable is not None
    assert unprintable.type == "tests.apps.hostile.Unprintable"
    assert unprintable.message == "<unprintable tests.apps.hostile.Unprintable>"
    assert jobs["raise_async", "unprintable_base"].error.message == (  # type: ignore[union-attr]
        "<unprintable tests.apps.hostile.UnprintableBase>")
    assert jobs["raise_sync", "system_exit"].error.type == "SystemExit"  # type: ignore[union-attr]
    assert jobs["raise_async", "system_exit"].error.message == "3"  # type: ignore[union-attr]
    assert jobs["raise_sync", "keyboard_interrupt"].error.type == "KeyboardInterrupt"  # type: ignore[union-attr]
    assert "could not be formatted" in jobs["raise_sync", "bad_notes"].error.traceback  # type: ignore[union-attr,operator]
    assert jobs["raise_async", "bad_notes"].error.message == "notes that cannot be read"  # type: ignore[union-attr]
    assert jobs["raise_sync", "bad_text"].error.message == (  # type: ignore[union-attr]
        "a lone surrogate \ufffd and a NUL \ufffd in one message")
    failed_events = [e for e in app.events(ids["raise_sync", "unprintable"]) if e.state is State.FAILED]
    assert failed_events[0].data["error"] == "<unprintable tests.apps.hostile.Unprintable>"  # type: ignore[index]
    output = worker.output()
    assert "failed: tests.apps.hostile.Unprintable: <unprintable tests.apps.hostile.Unprintable>" in output
    assert "Traceback" not in output  # the pool threads and the event loop survived every one

    done = app.get(logged)
    assert done.state is State.SUCCEEDED and done.progress.message == "<unprintable tests.apps.hostile.Unprintable>"
    lines = [e.data["message"] for e in app.events(logged) if e.kind == "log"]  # type: ignore[index]
    assert lines == ["<unprintable tests.apps.hostile.Unprintable>", "NUL \ufffd and surrogate \ufffd"]


def _database_bytes(store_url: str) -> int:
    if store_url.startswith("sqlite"):
        path = Path(store_url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    with psycopg.connect(store_url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


def test_a_50_mb_error_message_is_stored_capped(store_url: str, caplog: pytest.LogCaptureFixture) -> None:
    app = Errands(store_url)

    @app.task(retries=1, backoff=0)
    def huge(ctx: JobContext) -> None:
        raise ValueError("x" * 50_000_000)

    job = huge.enqueue()
    before = _database_bytes(store_url)
    with caplog.at_level(logging.INFO, logger="errands.worker"):
        drain(app)  # the first failure is retried at once, then fails for good: two capped errors
    failed = app.get(job.id)
    assert failed.state is State.FAILED and failed.attempt == 2 and failed.error is not None
    message, trace = failed.error.message, failed.error.traceback or ""
    assert utf8_size(message) <= CAP and message.endswith("… [truncated, 50000000 bytes in all]")
    assert message.startswith("xxxx")
    assert utf8_size(trace) <= CAP and "raise ValueError(\"x\" * 50_000_000)" in trace
    assert "[truncated, " in trace and trace.rstrip().endswith("x")
    ends = [e for e in app.events(job.id) if e.kind == "state" and e.data and "error" in e.data]
    assert [e.state for e in ends] == [State.SCHEDULED, State.FAILED]
    assert all(len(json.dumps(e.data)) < CAP + 1_000 for e in ends)
    lines = [r.getMessage() for r in caplog.records if f"job {job.id} failed" in r.getMessage()]
    assert len(lines) == 2 and all(len(line) < CAP + 200 for line in lines)
    # Four capped texts of 64 KB each (two errors, their events) are ~0.3 MB; SQLite's WAL keeps a
    # frame for every version of every page written (claim, settle, events), so the file grows by one
    # to two MB, depending on when a checkpoint restarts it. 50 MB stored would show far above that.
    grown = _database_bytes(store_url) - before
    assert grown < 4_000_000, f"the database grew by {grown:,} bytes"


def test_rendering_never_raises_and_caps_by_utf8_bytes() -> None:
    assert describe(hostile.Unprintable()) == "<unprintable tests.apps.hostile.Unprintable>"
    assert describe(hostile.NotAString()) == "NotAString()"  # str() fails, repr() works
    assert type_name(ValueError()) == "ValueError"
    assert "could not be formatted" in format_error(_raised_with_bad_notes())
    text = "é" * 100_000  # two bytes each
    cut = capped(text, 1_000)
    assert utf8_size(cut) <= 1_000 and cut.endswith("… [truncated, 200000 bytes in all]")
    both = capped("A" + "é" * 100_000 + "Z", 1_000, keep_end=True)
    assert utf8_size(both) <= 1_000 and both.startswith("Aé") and both.endswith("éZ")
    assert capped("short \x00 \udc80", 1_000) == "short \ufffd \ufffd"


def _raised_with_bad_notes() -> BaseException:
    try:
        hostile.raise_kind("bad_notes")
    except ValueError as exc:
        return exc
    raise AssertionError("not raised")


def test_text_cap_is_a_setting(store_url: str) -> None:
    app = Errands(store_url, settings=Settings.from_env({"ERRANDS_MAX_TEXT_BYTES": "1000"}))

    @app.task
    def wordy(ctx: JobContext) -> None:
        raise RuntimeError("y" * 5_000)

    job = wordy.enqueue()
    drain(app)
    error = app.get(job.id).error
    assert error is not None and utf8_size(error.message) <= 1_000 and "[truncated, 5000 bytes in all]" in error.message


def test_progress_a_store_cannot_hold_fails_the_task_clearly(store_url: str) -> None:
    app = Errands(store_url)

    @app.task
    def report(ctx: JobContext, kind: str) -> None:
        current = {"huge": 10**30, "nan": float("nan"), "text": "5"}[kind]
        ctx.progress(current, 10**40)  # type: ignore[arg-type]

    huge, nan, text = (report.enqueue(kind=kind) for kind in ("huge", "nan", "text"))
    drain(app)
    done = app.get(huge.id)
    assert done.state is State.SUCCEEDED and (done.progress.current, done.progress.total) == (1e30, 1e40)
    assert "progress current must be a finite number, got nan" in app.get(nan.id).error.message  # type: ignore[union-attr]
    assert "progress current must be a number, not str" in app.get(text.id).error.message  # type: ignore[union-attr]


def test_an_outcome_the_store_refuses_is_recorded_as_a_bare_failure(store: Store) -> None:
    good, bad = (store.enqueue(NewJob(task="t", args_json="{}"))[0] for _ in range(2))
    claimed = {job.id: job.lease_token or "" for job in store.claim("w1", None, 2).jobs}
    seen: list[tuple[int, bool]] = []
    settler = Settler(store, lambda outcomes, accepted: seen.extend(zip((o.job_id for o in outcomes), accepted,
                                                                         strict=True)))
    settler.start()
    refused = JobError("ValueError", "a lone surrogate \ud800 no driver can encode")  # past the worker's own checks
    settler.submit(Outcome(bad.id, claimed[bad.id], State.FAILED, error=refused))
    settler.submit(Outcome(good.id, claimed[good.id], State.SUCCEEDED, result_json="1"))
    assert settler.wait_idle(30)
    settler.close(5)
    assert sorted(seen) == sorted([(good.id, True), (bad.id, True)])
    assert store.get(good.id).state is State.SUCCEEDED and store.get(good.id).result == 1
    ended = store.get(bad.id)
    assert ended.state is State.FAILED and ended.error is not None and ended.error.type == "OutcomeNotRecorded"
