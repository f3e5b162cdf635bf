"""Django's Tasks framework on errands, in this process: enqueue through the framework, run with
an errands worker, read results back through the framework's API; and settings.ERRANDS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import django
import httpx
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings

from errands import Errands, JobContext, State, WorkerConfig
from errands.integrations.django import DjangoErrands, get_app
from errands.integrations.django.asgi import with_errands_api
from errands.integrations.django.backend import RUNNER
from errands.integrations.django.framework import (
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_enqueued,
    task_finished,
    task_started,
)
from tests.helpers import wait_until
from tests.integrations.live import ThreadServer

BACKEND = "errands.integrations.django.backend.ErrandsBackend"


@pytest.fixture(scope="module")
def defs() -> ModuleType:
    """Django set up once for this process (no other test here uses it), then the task module."""
    if not settings.configured:
        framework = ["django_tasks"] if django.VERSION < (6,) else []
        settings.configure(
            INSTALLED_APPS=[*framework, "errands.integrations.django"],
            TASKS={"default": {"BACKEND": BACKEND, "QUEUES": ["default", "reports"]}},
            SECRET_KEY="backend-test", USE_TZ=True, TIME_ZONE="UTC", DATABASES={}, ERRANDS={},
        )
        django.setup()
    from tests.integrations import django_tasks_defs

    return django_tasks_defs


@pytest.fixture
def jobs(defs: ModuleType, tmp_path: Path) -> Iterator[Errands]:
    with override_settings(ERRANDS={"URL": f"sqlite:///{tmp_path / 'errands.db'}", "LEASE": 9}):
        yield get_app()


def drain(jobs: Errands) -> None:
    jobs.worker(WorkerConfig(burst=True, idle_wait=0.05)).run()


def test_a_task_is_stored_run_by_errands_and_read_back(defs: ModuleType, jobs: Errands) -> None:
    result = defs.add.enqueue(2, b=3)
    assert result.status == TaskResultStatus.READY and result.args == [2] and result.kwargs == {"b": 3}
    job = jobs.get(int(result.id))
    assert (job.task, job.state, job.queue, job.priority) == (RUNNER, State.QUEUED, "default", 0)

    drain(jobs)
    done = defs.add.get_result(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == 5
    assert done.attempts == 1 and done.worker_ids[0] and done.errors == []
    assert done.enqueued_at and done.started_at and done.finished_at and done.finished_at >= done.started_at
    result.refresh()  # the framework's own refresh goes through get_result
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 5


def test_queue_priority_and_run_after_become_the_jobs(defs: ModuleType, jobs: Errands) -> None:
    shouted = defs.shout.enqueue(["a", "b"])
    assert (jobs.get(int(shouted.id)).queue, jobs.get(int(shouted.id)).priority) == ("reports", 7)
    later = datetime.now(UTC) + timedelta(hours=1)
    deferred = defs.add.using(run_after=later).enqueue(1, 1)
    job = jobs.get(int(deferred.id))
    assert job.state is State.SCHEDULED and abs((job.run_at - later).total_seconds()) < 0.01
    assert defs.add.get_result(deferred.id).status == TaskResultStatus.READY
    drain(jobs)
    assert defs.shout.get_result(shouted.id).return_value == "A B"
    assert defs.add.get_result(deferred.id).status == TaskResultStatus.READY  # not due yet


def test_async_tasks_context_and_async_api(defs: ModuleType, jobs: Errands) -> None:
    async def enqueue_both() -> tuple[Any, Any]:
        return await defs.add_later.aenqueue(4, 5), await defs.which_attempt.aenqueue()

    summed, context = asyncio.run(enqueue_both())
    drain(jobs)
    assert asyncio.run(defs.add_later.aget_result(summed.id)).return_value == 9
    assert defs.which_attempt.get_result(context.id).return_value == {"attempt": 1, "id": context.id}


def test_a_failure_reports_its_exception_class_and_traceback(defs: ModuleType, jobs: Errands) -> None:
    result = defs.explode.enqueue()
    drain(jobs)
    failed = defs.explode.get_result(result.id)
    assert failed.status == TaskResultStatus.FAILED
    [error] = failed.errors
    assert error.exception_class is KeyError and "no such thing" in error.traceback
    with pytest.raises(ValueError):
        failed.return_value  # noqa: B018 - the framework raises for a failed task


def test_a_cancelled_job_is_a_failed_task(defs: ModuleType, jobs: Errands) -> None:
    result = defs.add.enqueue(1, 2)
    jobs.cancel(int(result.id))
    cancelled = defs.add.get_result(result.id)
    assert cancelled.status == TaskResultStatus.FAILED
    assert cancelled.errors[0].exception_class_path == "errands.errors.JobCancelled"


def test_signals_are_sent_at_enqueue_start_and_finish(defs: ModuleType, jobs: Errands) -> None:
    seen: list[tuple[str, str]] = []

    def record(name: str) -> Any:
        def receiver(sender: Any, task_result: Any, **kwargs: Any) -> None:
            seen.append((name, str(task_result.status)))
        return receiver

    receivers = {signal: record(name) for signal, name in
                 [(task_enqueued, "enqueued"), (task_started, "started"), (task_finished, "finished")]}
    for signal, receiver in receivers.items():
        signal.connect(receiver)
    try:
        defs.add.enqueue(1, 1)
        defs.explode.enqueue()
        drain(jobs)
    finally:
        for signal, receiver in receivers.items():
            signal.disconnect(receiver)
    assert seen[:2] == [("enqueued", "READY"), ("enqueued", "READY")]
    assert sorted(seen[2:]) == [("finished", "FAILED"), ("finished", "SUCCESSFUL"),
                                ("started", "RUNNING"), ("started", "RUNNING")]


def test_bad_arguments_are_refused_before_anything_is_stored(defs: ModuleType, jobs: Errands) -> None:
    with pytest.raises(TypeError):
        defs.add.enqueue(object(), 1)
    with pytest.raises(ValueError):
        defs.add.enqueue(float("nan"), 1)
    assert jobs.list_jobs() == []


def test_ids_that_are_no_django_task_do_not_exist(defs: ModuleType, jobs: Errands) -> None:
    @jobs.task(name="plain")
    def plain(ctx: JobContext) -> None: ...

    other = plain.enqueue()
    for result_id in [str(other.id), "999", "abc"]:
        with pytest.raises(TaskResultDoesNotExist):
            defs.add.get_result(result_id)


def test_settings_configure_the_app(defs: ModuleType, jobs: Errands, tmp_path: Path) -> None:
    assert isinstance(jobs, DjangoErrands) and jobs.settings.lease == 9
    assert jobs.follow_url(3).startswith("/errands/api/jobs/3?token=")
    url = f"sqlite:///{tmp_path / 'other.db'}"
    with override_settings(ERRANDS={"URL": url, "PREFIX": "/bg", "TOKEN": "t"}):
        other = get_app()
        assert other is not jobs and other.url == url
        assert other.follow_url(3).startswith("/bg/api/jobs/3?token=")
        # Same SECRET_KEY, same follow-token secret: every process of the site signs alike.
        assert other.secret == jobs.secret
        with override_settings(SECRET_KEY="another"):
            assert DjangoErrands().secret != jobs.secret
    with override_settings(ERRANDS={"URL": url, "LEASSE": 3}), pytest.raises(ImproperlyConfigured, match="LEASSE"):
        get_app()
    with override_settings(ERRANDS={"APP": "tests.integrations.test_django_backend:BACKEND"}):
        with pytest.raises(ImproperlyConfigured, match="is not an Errands app"):
            get_app()
    with override_settings(ERRANDS={"APP": "no_such_module.jobs:jobs"}):
        with pytest.raises(ImproperlyConfigured, match="no_such_module"):
            get_app()


def test_the_api_and_a_worker_beside_django_in_one_asgi_app(defs: ModuleType, jobs: Errands) -> None:
    from django.core.asgi import get_asgi_application

    site = {"ROOT_URLCONF": "tests.integrations.django_urls", "ALLOWED_HOSTS": ["127.0.0.1"],
            "ERRANDS": {"URL": jobs.url, "TOKEN": "admin-token"}}
    with override_settings(**site):
        asgi = with_errands_api(get_asgi_application(), worker=WorkerConfig(idle_wait=0.05), trust_loopback=False)
        with ThreadServer(asgi) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            started = client.post("/add/", data={"a": 2, "b": 3}).json()
            follow = started["follow"]
            assert follow.startswith(f"/errands/api/jobs/{started['id']}?token=")
            job = wait_until(lambda: (j := client.get(follow).json())["state"] == "succeeded" and j)
            assert job["result"] == 5  # run by the worker the ASGI app's lifespan started
            assert client.get("/errands/api/jobs").status_code == 401
            assert client.get("/errands/api/jobs", headers={"Authorization": "Bearer admin-token"}).status_code == 200
            assert client.get("/nothing/").status_code == 404  # Django answers everything else
