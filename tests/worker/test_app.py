"""The Python API: registering tasks, enqueueing with clear errors, reading and controlling jobs."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import errands
from errands import (
    BadArguments,
    ConfigError,
    Errands,
    InvalidTransition,
    JobContext,
    Settings,
    State,
    UnknownTask,
    WaitTimeout,
)


def register(app: Errands) -> None:
    @app.task(name="export", retries=2, queue="exports", priority=4, timeout=60)
    def export(ctx: JobContext, view_id: int, fmt: str = "csv") -> dict[str, int]:
        return {"view": view_id}


def test_public_api_is_exactly_what_all_lists() -> None:
    exported = {name for name, value in vars(errands).items()
                if not name.startswith("_") and not inspect.ismodule(value)}
    assert exported == set(errands.__all__)


def test_enqueue_stores_the_task_defaults(app: Errands) -> None:
    register(app)
    job = app.tasks["export"].enqueue(view_id=7)
    stored = app.get(job.id)
    assert (stored.task, stored.args, stored.queue, stored.priority, stored.max_attempts, stored.timeout) == (
        "export", {"view_id": 7}, "exports", 4, 3, 60)
    assert stored.state is State.QUEUED


def test_enqueue_options_override_defaults(app: Errands) -> None:
    register(app)
    job = app.enqueue("export", {"view_id": 1}, queue="urgent", priority=9, delay=3600)
    assert (job.queue, job.priority, job.state) == ("urgent", 9, State.SCHEDULED)
    later = app.enqueue("export", {"view_id": 2}, run_at=datetime.now(UTC) + timedelta(hours=1))
    assert later.state is State.SCHEDULED


def test_default_task_name_is_the_function_name(app: Errands) -> None:
    @app.task
    def hello(ctx: JobContext) -> None: ...

    assert hello.name == "test_default_task_name_is_the_function_name.<locals>.hello"
    with pytest.raises(ValueError, match="already registered"):
        app.task(name=hello.name)(lambda ctx: None)


def test_a_task_without_a_context_parameter_is_refused(app: Errands) -> None:
    with pytest.raises(TypeError, match="job context"):
        app.task(lambda: None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"view_id": 1, "nope": 2}, "unexpected keyword argument 'nope'"),
        ({}, "missing a required argument: 'view_id'"),
        ({"view_id": object()}, "must be JSON-serializable"),
        ({"view_id": float("nan")}, "must be JSON-serializable"),
        ({"view_id": "x" * 2000}, "over the limit of 1,000"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_stored(store_url: str, args: dict[str, object],
                                                         message: str) -> None:
    app = Errands(store_url, settings=Settings(max_args_bytes=1000))
    register(app)
    with pytest.raises(BadArguments, match=message):
        app.enqueue("export", args)
    assert app.list_jobs() == []


def test_unknown_task_is_refused_at_enqueue(app: Errands) -> None:
    with pytest.raises(UnknownTask, match="unknown task 'nope'"):
        app.enqueue("nope", {})
    assert app.list_jobs() == []


def test_naive_run_at_and_both_delay_and_run_at_are_refused(app: Errands) -> None:
    register(app)
    with pytest.raises(BadArguments, match="timezone-aware"):
        app.enqueue("export", {"view_id": 1}, run_at=datetime.now())
    with pytest.raises(BadArguments, match="not both"):
        app.enqueue("export", {"view_id": 1}, delay=1, run_at=datetime.now(UTC))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delay": 1e300}, "delay must be between 0"),
        ({"delay": -1}, "delay must be between 0"),
        ({"delay": float("nan")}, "delay must be between 0"),
        ({"priority": 2**40}, "32-bit"),
        ({"queue": ""}, "1 to 200 characters"),
        ({"unique_key": "k" * 1001}, "at most 1000"),
    ],
)
def test_options_no_store_can_hold_are_refused(app: Errands, options: dict[str, object], message: str) -> None:
    register(app)
    with pytest.raises(BadArguments, match=message):
        app.enqueue("export", {"view_id": 1}, **options)  # type: ignore[arg-type]
    assert app.list_jobs() == []


def test_unique_key_returns_the_existing_unfinished_job(app: Errands) -> None:
    register(app)
    first = app.enqueue("export", {"view_id": 1}, unique_key="view-1")
    second = app.enqueue("export", {"view_id": 1}, unique_key="view-1")
    assert first.id == second.id and len(app.list_jobs()) == 1


def test_enqueue_many_is_all_or_nothing(app: Errands) -> None:
    register(app)
    ids = app.enqueue_many("export", [{"view_id": i} for i in range(100)])
    assert len(ids) == 100
    with pytest.raises(BadArguments):
        app.enqueue_many("export", [{"view_id": 1}, {"bad": 2}])
    assert len(app.list_jobs(limit=1000)) == 100


def test_cancel_and_retry_from_the_facade(app: Errands) -> None:
    register(app)
    job = app.enqueue("export", {"view_id": 1})
    assert app.cancel(job.id).state is State.CANCELLED
    assert app.cancel(job.id).state is State.CANCELLED  # cancelling twice is harmless
    assert app.retry(job.id).state is State.QUEUED
    with pytest.raises(InvalidTransition, match="only failed or cancelled"):
        app.retry(job.id)


def test_wait_times_out_with_a_clear_error(app: Errands) -> None:
    register(app)
    job = app.enqueue("export", {"view_id": 1})
    with pytest.raises(WaitTimeout, match="still queued"):
        app.wait(job.id, timeout=0.05)


def test_async_twins(app: Errands) -> None:
    register(app)

    async def scenario() -> None:
        job = await app.tasks["export"].enqueue_async(view_id=3)
        assert (await app.get_async(job.id)).args == {"view_id": 3}
        assert [j.id for j in await app.list_jobs_async(task="export")] == [job.id]
        assert (await app.cancel_async(job.id)).state is State.CANCELLED
        assert (await app.retry_async(job.id)).state is State.QUEUED
        with pytest.raises(WaitTimeout):
            await app.wait_async(job.id, timeout=0.05)
        assert len(await app.enqueue_many_async("export", [{"view_id": 1}])) == 1

    asyncio.run(scenario())


def test_url_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ERRANDS_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert Errands().url.endswith("env.db")
    monkeypatch.delenv("ERRANDS_URL")
    assert Errands().url == "sqlite:///errands.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://localhost", "unknown store URL"),
        ("errands.db", "unknown store URL"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite:///x.db?synchronous=sometimes", "synchronous='sometimes'"),
        ("sqlite:///x.db?colour=blue", "unknown option"),
        ("sqlite:///no/such/folder/x.db", "does not exist"),
    ],
)
def test_bad_store_urls_get_clear_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Errands(url).store  # noqa: B018 - opening is the point


def test_unwritable_database_path_is_a_clear_error(read_only_folder: Path) -> None:
    with pytest.raises(ConfigError, match="not writable"):
        Errands(f"sqlite:///{read_only_folder / 'x.db'}").store  # noqa: B018
