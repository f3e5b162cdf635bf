"""A backend for Django's Tasks framework: `@task` functions are stored as errands jobs and run by
errands workers (`manage.py errands_worker`), durably. Their results are read back through the
framework's own API (`task.get_result(id)`, `result.refresh()`).

    TASKS = {"default": {"BACKEND": "errands.integrations.django.backend.ErrandsBackend"}}
"""

from __future__ import annotations

import builtins
import json
import traceback
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string

from ... import errors
from ...app import Errands
from ...context import JobContext
from ...errors import JobInterrupt, JobNotFound
from ...job import Job, State
from ..wrapping import run_inside
from . import DjangoErrands, fresh_connections, get_app
from .framework import (
    BaseTaskBackend,
    Task,
    TaskContext,
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_backends,
    task_enqueued,
    task_finished,
    task_started,
)

RUNNER = "django_task"  # the errands task every Django task is stored under

STATUS = {
    State.SCHEDULED: TaskResultStatus.READY,
    State.QUEUED: TaskResultStatus.READY,
    State.RUNNING: TaskResultStatus.RUNNING,
    State.SUCCEEDED: TaskResultStatus.SUCCESSFUL,
    State.FAILED: TaskResultStatus.FAILED,
    State.CANCELLED: TaskResultStatus.FAILED,  # the framework has no "cancelled"
}


class ErrandsBackend(BaseTaskBackend):
    """Stores each enqueued task as a job of the project's errands app (see `get_app`): its queue
    is the task's `queue_name`, its priority the task's priority (higher first), `run_after` its
    start time. A result's id is the errands job id, so the job can be followed over HTTP too."""

    supports_defer = True
    supports_async_task = True  # the worker runs coroutines through the task's own `call`
    supports_get_result = True
    supports_priority = True

    @property
    def errands(self) -> Errands:
        return get_app()  # which registers this backend's errands task on it

    def enqueue(self, task: Task[Any, Any], args: Any, kwargs: Any) -> TaskResult[Any]:
        self.validate_task(task)
        job_args = {"path": task.module_path, "args": as_json(list(args)), "kwargs": as_json(dict(kwargs)),
                    "backend": self.alias}
        job = self.errands.enqueue(RUNNER, job_args, queue=task.queue_name, priority=task.priority,
                                   run_at=aware(task.run_after))
        result = self.result_of(job, task, worker_ids=[])
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult[Any]:
        """The result as the store holds it now; TaskResultDoesNotExist for an id that is no
        Django task's job (unknown, pruned, or another errands task)."""
        try:
            job = self.errands.get(int(result_id))
        except (ValueError, JobNotFound):
            raise TaskResultDoesNotExist(result_id) from None
        if job.task != RUNNER:
            raise TaskResultDoesNotExist(result_id)
        task = load_task(job.args["path"]).using(priority=job.priority, queue_name=job.queue, backend=self.alias)
        return self.result_of(job, task, worker_ids=self.worker_ids(job.id))

    def result_of(self, job: Job, task: Task[Any, Any], worker_ids: list[str]) -> TaskResult[Any]:
        result: TaskResult[Any] = TaskResult(
            task=task,
            id=str(job.id),
            status=STATUS[job.state],
            enqueued_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            last_attempted_at=job.started_at,
            args=job.args["args"],
            kwargs=job.args["kwargs"],
            backend=self.alias,
            errors=errors_of(job),
            worker_ids=worker_ids,
        )
        if job.state is State.SUCCEEDED:
            # The framework's backends set this init=False field the same way.
            object.__setattr__(result, "_return_value", job.result)
        return result

    def worker_ids(self, job_id: int) -> list[str]:
        """One entry per run of the job: the worker that claimed it."""
        return [str((event.data or {}).get("worker", "")) for event in self.errands.events(job_id)
                if event.kind == "state" and event.state is State.RUNNING]

    def check(self, **kwargs: Any) -> Iterable[checks.CheckMessage]:
        try:
            self.errands  # noqa: B018 - finding the app is the check
        except ImproperlyConfigured as exc:
            yield checks.Error(str(exc), obj=f"TASKS[{self.alias!r}]", id="errands.E001")


def as_json(value: Any) -> Any:
    """What the task will receive: JSON types only (tuples become lists). Anything else raises
    TypeError (ValueError for NaN) here, before a job is stored, as the framework promises."""
    return json.loads(json.dumps(value, allow_nan=False))


def aware(moment: datetime | None) -> datetime | None:
    """errands wants aware times; with USE_TZ = False Django hands out naive local ones."""
    if moment is None or timezone.is_aware(moment):
        return moment
    return timezone.make_aware(moment)


def load_task(path: str) -> Task[Any, Any]:
    found = import_string(path)
    if not isinstance(found, Task):
        raise ImproperlyConfigured(f"{path} is not a Django task (decorate it with @task)")
    return found


def errors_of(job: Job) -> list[TaskError]:
    if job.state is State.CANCELLED:
        return [TaskError(exception_class_path="errands.errors.JobCancelled", traceback="cancelled in errands")]
    if job.error is None or job.state is not State.FAILED:
        return []
    return [TaskError(exception_class_path=exception_path(job.error.type),
                      traceback=job.error.traceback or job.error.message)]


def exception_path(error_type: str) -> str:
    """errands names builtins bare ("ValueError") and its own outcomes by class name
    ("WorkerLost"); the framework imports `exception_class_path`, so give it a path."""
    if "." in error_type:
        return error_type
    if isinstance(getattr(builtins, error_type, None), type):
        return f"builtins.{error_type}"
    if isinstance(getattr(errors, error_type, None), type):
        return f"errands.errors.{error_type}"
    return "errands.errors.ErrandsError"


def install_runner(app: Errands) -> None:
    """Register the errands task that runs Django tasks on `app`, once. The web process (which
    enqueues) and `manage.py errands_worker` (which runs) both do it."""
    if RUNNER in app.tasks:
        return
    # DjangoErrands already gives each run fresh connections; a plain Errands app does not.
    runner = run_django_task if isinstance(app, DjangoErrands) else run_inside(run_django_task, fresh_connections)
    app.task(name=RUNNER)(runner)


def run_django_task(ctx: JobContext, path: str, args: list[Any], kwargs: dict[str, Any], backend: str) -> Any:
    """Run the Django task `path` names, as the framework would: with its context if it takes
    one, sending `task_started` and `task_finished`. Its exceptions fail the job as they are."""
    tasks_backend = task_backends[backend]
    if not isinstance(tasks_backend, ErrandsBackend):
        raise ImproperlyConfigured(f"TASKS[{backend!r}] is not errands' backend on this worker")
    result = tasks_backend.get_result(str(ctx.job_id))
    task_started.send(type(tasks_backend), task_result=result)
    try:
        if result.task.takes_context:
            value = result.task.call(TaskContext(task_result=result), *args, **kwargs)
        else:
            value = result.task.call(*args, **kwargs)
    except JobInterrupt:
        raise  # shutdown, cancellation, timeout: errands settles these; the task did not finish
    except Exception as exc:
        failure = TaskError(exception_class_path=exception_path(f"{type(exc).__module__}.{type(exc).__qualname__}"),
                            traceback="".join(traceback.format_exception(exc)))
        finish(tasks_backend, result, TaskResultStatus.FAILED, failures=[failure])
        raise
    finish(tasks_backend, result, TaskResultStatus.SUCCESSFUL, value=value)
    return value


def finish(backend: ErrandsBackend, result: TaskResult[Any], status: TaskResultStatus,
           value: Any = None, failures: list[TaskError] | None = None) -> None:
    """Tell `task_finished` receivers how this run ended (the store is told by the worker)."""
    object.__setattr__(result, "status", status)
    object.__setattr__(result, "finished_at", timezone.now())
    object.__setattr__(result, "errors", result.errors + (failures or []))
    object.__setattr__(result, "_return_value", value)
    task_finished.send(type(backend), task_result=result)
