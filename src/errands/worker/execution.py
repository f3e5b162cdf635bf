"""Runs one job's task and turns how it ended into an `Outcome` for the store.

Policy for the end of a run lives here: success, retry with backoff,
failure, cancellation, release at shutdown. Claiming and threads do not.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..backoff import retry_delay
from ..codec import to_json
from ..context import JobContext
from ..errors import BadArguments, JobCancelled, JobInterrupt, JobTimeout, LeaseLost, WorkerShutdown
from ..job import Job, JobError, Outcome, State
from ..task import Task
from ..text import capped, describe, format_error, type_name
from .interrupt import raise_in_thread

if TYPE_CHECKING:
    import asyncio


@dataclass(eq=False, slots=True)
class Execution:
    """A job this worker holds, from its claim (it may wait its turn in the work queue) until its
    outcome is handed to the settler: its context and the means to interrupt it."""

    job: Job
    task: Task | None
    ctx: JobContext
    started: float = field(default_factory=time.monotonic)  # the claim, then the start of the run
    running: bool = False  # the task was called: a timeout counts from then, not while the job waits
    thread_id: int | None = None
    async_task: asyncio.Task[Any] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    done: bool = False
    abandoned: bool = False  # released or timed out by the worker; a late outcome is dropped
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token(self) -> str:
        return self.job.lease_token or ""

    @property
    def deadline(self) -> float | None:
        """When a running job times out; None while it waits for a slot or has no timeout."""
        return None if self.job.timeout is None or not self.running else self.started + self.job.timeout

    def interrupt(self, reason: JobInterrupt, *, force: bool = False) -> None:
        """Tell the task to stop: its next progress or checkpoint call raises `reason`.
        An async task is also cancelled when cancelled or its lease is lost; `force`
        cancels it, or raises `reason` inside a plain task's thread (timeouts, end of grace)."""
        self.ctx.interrupt(reason)
        with self.lock:
            if self.done:
                return
            if self.async_task is not None and self.loop is not None:
                if force or isinstance(reason, JobCancelled | LeaseLost):
                    self.loop.call_soon_threadsafe(self.async_task.cancel)
            elif force and self.thread_id is not None:
                raise_in_thread(self.thread_id, type(reason))


def run_sync(ex: Execution) -> Outcome | None:
    """Run a plain task in this thread; None when there is nothing to record."""
    assert ex.task is not None
    ex.thread_id = threading.get_ident()
    ex.started = time.monotonic()  # the timeout counts from here, not from the claim
    if ex.ctx.interrupted is not None:  # cancelled or lost while it waited for a slot: never started
        with ex.lock:
            ex.done = True
        return ended_with_error(ex, ex.ctx.interrupted)
    ex.running = True
    try:
        try:
            value = ex.task.fn(ex.ctx, **ex.job.args)
        finally:
            with ex.lock:
                ex.done = True
    except BaseException as exc:  # noqa: B036 - the task's own errors, timeouts injected by the worker
        return ended_with_error(ex, exc)
    return ended_with_value(ex, value)


def timeout_message(ex: Execution) -> str:
    return f"job {ex.job.id} ran longer than its timeout of {ex.job.timeout:g}s"


def ended_with_value(ex: Execution, value: Any) -> Outcome | None:
    """The outcome of a task that returned; never raises (a result's own code may)."""
    try:
        return _ended_with_value(ex, value)
    except BaseException as exc:  # noqa: B036 - e.g. a dict subclass whose items() raises
        limit = ex.ctx.settings.max_text_bytes
        error = error_record(exc, limit)
        message = capped(f"the result could not be serialized: {error.type}: {error.message}", limit)
        return _outcome(ex, State.FAILED, error=JobError("ResultNotSerializable", message, error.traceback))


def _ended_with_value(ex: Execution, value: Any) -> Outcome | None:
    reason = ex.ctx.interrupted
    if isinstance(reason, JobCancelled):
        return _outcome(ex, State.CANCELLED)  # the result of a cancelled job is discarded
    if isinstance(reason, LeaseLost):
        return None
    if value is None:  # most tasks return nothing
        return _outcome(ex, State.SUCCEEDED, result_json="null")
    name = ex.task.name if ex.task else ex.job.task
    try:
        text = to_json(value, f"the result of task {name!r}", ex.ctx.settings.max_result_bytes)
    except BadArguments as exc:
        return _outcome(ex, State.FAILED, error=JobError("ResultNotSerializable", str(exc)))
    return _outcome(ex, State.SUCCEEDED, result_json=text)


def ended_with_error(ex: Execution, exc: BaseException) -> Outcome | None:
    """The outcome of a task that raised; never raises, whatever the exception's own code does."""
    try:
        return _ended_with_error(ex, exc)
    except BaseException:  # noqa: B036 - looking at the exception ran its code, and that raised
        kind = capped(type_name(exc), ex.ctx.settings.max_text_bytes)
        return failure(ex, JobError(kind, f"<unprintable {kind}>"))


def _ended_with_error(ex: Execution, exc: BaseException) -> Outcome | None:
    reason = ex.ctx.interrupted
    if isinstance(exc, JobInterrupt) and reason is not None:
        exc = reason
    if isinstance(exc, LeaseLost):
        return None
    if isinstance(exc, JobCancelled) or isinstance(reason, JobCancelled):
        return _outcome(ex, State.CANCELLED)
    if isinstance(exc, WorkerShutdown):
        return _outcome(ex, State.QUEUED, released=True)
    if isinstance(exc, JobTimeout) and not str(exc):
        exc = JobTimeout(timeout_message(ex))
    return failure(ex, error_record(exc, ex.ctx.settings.max_text_bytes))


def failure(ex: Execution, error: JobError) -> Outcome:
    """Retry with backoff while attempts remain (worker losses do not use them up)."""
    failures = ex.job.attempt - ex.job.worker_losses
    if failures < ex.job.max_attempts:
        backoff = ex.task.options.backoff if ex.task else 2.0
        return _outcome(ex, State.SCHEDULED, error=error, retry_in=retry_delay(backoff, failures))
    return _outcome(ex, State.FAILED, error=error)


def _outcome(ex: Execution, state: State, **fields: Any) -> Outcome:
    runtime = time.monotonic() - ex.started
    return Outcome(ex.job.id, ex.token, state, progress=ex.ctx.last_progress, task=ex.job.task, runtime=runtime,
                   attempt=ex.job.attempt, **fields)


def error_record(exc: BaseException, limit: int) -> JobError:
    """Type, message and traceback of an exception, each rendered safely and capped at `limit`
    bytes: a message that cannot be printed gets a placeholder naming its type."""
    kind = type_name(exc)
    message = describe(exc) or kind.rsplit(".", 1)[-1]
    return JobError(capped(kind, limit), capped(message, limit), capped(format_error(exc), limit, keep_end=True))
