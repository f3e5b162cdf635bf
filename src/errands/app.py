"""The facade users hold: `Errands` registers tasks, enqueues jobs and reads them back.

Every method is synchronous and safe to call from any thread; each has an
`_async` twin that runs it in a thread, for ASGI apps.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, overload

from . import notify
from .backoff import Backoff, pauses
from .codec import scalar_copy, to_json
from .errors import BadArguments, ScheduleNotFound, UnknownTask, WaitTimeout
from .follow_tokens import load_secret, make_token
from .job import Job, JobEvent, JobFile, NewJob, State, UniquePolicy, build_new_job
from .notify import tasks as notify_tasks
from .schedules import NewSchedule, Schedule, Timing, check_name
from .settings import Settings
from .stores import DEFAULT_URL, Store, open_store
from .stores.flow import Flow, Limits, check_limits, default_actor
from .task import Task, TaskOptions
from .text import type_name

if TYPE_CHECKING:
    from .worker import Worker, WorkerConfig

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def check_options(**given: Any) -> None:
    """`options.check_options`, imported on first use: pydantic stays out of a worker's start."""
    from .options import check_options as check

    check(**given)


class Errands:
    """One job system: a store plus the tasks this code defines.

    `Errands()` uses `ERRANDS_URL`, or `sqlite:///errands.db` in the working folder.
    The store is opened (and migrated) on first use, not at import time."""

    def __init__(self, url: str | None = None, *, settings: Settings | None = None) -> None:
        self.url = url or os.environ.get("ERRANDS_URL") or DEFAULT_URL
        self.settings = settings or Settings.from_env()
        self.tasks: dict[str, Task] = {}
        self._store: Store | None = None
        self._secret: bytes | None = None
        self._periodic: list[NewSchedule] = []  # @app.periodic schedules, stored when the store opens
        self.queue_limits: dict[str, Limits] = {}  # app.queue(...) declarations, written by workers at start
        # Per task, the fields of a job enqueued without options, with the settings they were made from.
        self._plain: dict[str, tuple[Task, Settings, dict[str, Any]]] = {}
        notify_tasks.register(self)

    def __repr__(self) -> str:
        return f"<Errands {self.url} tasks={sorted(self.tasks)}>"

    @property
    def store(self) -> Store:
        if self._store is None:
            store = open_store(self.url, follow_ups=notify.plan)
            for new in self._periodic:
                store.save_schedule(new)
            self._store = store
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- tasks -----------------------------------------------------------------

    @overload
    def task(self, fn: F, /) -> Task: ...

    @overload
    def task(
        self,
        *,
        name: str | None = None,
        queue: str = "default",
        priority: int = 0,
        retries: int = 0,
        backoff: Backoff = 2.0,
        timeout: float | None = None,
        lease: float | None = None,
        max_worker_losses: int | None = None,
        public: bool = False,
        notify: Mapping[str, Any] | None = None,
        concurrency: int | None = None,
        rate: str | None = None,
    ) -> Callable[[F], Task]: ...

    def task(self, fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:  # type: ignore[misc]
        """Register a function as a task: `@app.task` or `@app.task(retries=3, ...)`.

        retries: extra attempts after a failure, `backoff` seconds apart, doubling
        (or a callable of the failure count). timeout: seconds before the run fails.
        lease: seconds a worker may go silent before the job is rescued.
        priority: higher runs first. public: may be started over HTTP.
        concurrency: at most this many running across all workers. rate: at most N starts
        per period across all workers ("10/s", "100/m", "5/h")."""
        if "concurrency" in options or "rate" in options:
            lim = check_limits(options.pop("concurrency", None), options.pop("rate", None))
            options |= {"concurrency": lim.concurrency, "rate": lim.rate}

        def register(func: Callable[..., Any]) -> Task:
            # The bare function name by default: the same whether the module runs as
            # __main__ (a script enqueues) or is imported by name (the worker runs).
            name = options.pop("name", None) or func.__qualname__
            if name in self.tasks:
                raise ValueError(f"a task named {name!r} is already registered")
            if options.get("notify") is not None:
                options["notify"] = notify.normalize(options["notify"])
            task = Task(func, TaskOptions(name=name, **options), self.enqueue, self.enqueue_async)
            self.tasks[name] = task
            return task

        return register(fn) if fn is not None else register

    def get_task(self, name: str) -> Task:
        try:
            return self.tasks[name]
        except KeyError:
            raise UnknownTask(name) from None

    # -- producing -------------------------------------------------------------

    def enqueue(
        self,
        task: str | Task,
        args: Mapping[str, Any] | None = None,
        *,
        delay: float | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        unique_key: str | None = None,
        unique: UniquePolicy | None = None,
        notify: Mapping[str, Any] | None = None,
        after: int | None = None,
        connection: Any = None,
    ) -> Job:
        """Store a job and return it at once; it is on disk when this returns.

        With `unique_key`, an unfinished job holding the same key is returned
        instead of a new one; `unique="replace"` cancels that job instead if it has
        not started, `unique="raise"` raises UniqueKeyTaken. `delay` counts from the
        store's clock. With `after`, the job waits for that parent job.
        With `connection` (your psycopg connection, or sqlite3 connection to the same
        file, in an open transaction), the job is written in your transaction: it
        exists if and only if you commit, and workers see it only then."""
        job, _ = self.store.enqueue(
            self._new_job(task, args, delay=delay, run_at=run_at, priority=priority, queue=queue,
                          unique_key=unique_key, unique=unique, notify=notify, after=after),
            connection,
        )
        return job

    def enqueue_many(
        self, task: str | Task, many_args: Iterable[Mapping[str, Any]], **options: Any
    ) -> list[int]:
        """Store many jobs of one task in one transaction (all or none); returns their ids.
        Options (delay, priority, queue, notify, ...) apply to every job."""
        spec = task if isinstance(task, Task) else self.get_task(task)
        shared = self._job_fields(spec, **options)
        try:
            items = many_args if isinstance(many_args, list) else list(many_args)
        except TypeError:
            raise BadArguments(f"many_args must be an iterable of argument mappings, not {type_name(many_args)}"
                               ) from None
        text = spec.encode_many(items, self.settings.max_args_bytes)
        if shared["unique_key"] is None and shared["parent_id"] is None:
            return self.store.enqueue_alike(build_new_job(args_json=text, **shared))
        # Each job meets the key or the parent on its own: stored one by one, in one transaction.
        limit = self.settings.max_args_bytes
        return self.store.enqueue_many([build_new_job(args_json=to_json(args, "arguments", limit), **shared)
                                        for args in json.loads(text)])

    def _new_job(self, task: str | Task, args: Mapping[str, Any] | None, **options: Any) -> NewJob:
        spec = task if isinstance(task, Task) else self.get_task(task)
        args = {} if args is None else args
        text = spec.encode_args(args, self.settings.max_args_bytes)
        return build_new_job(args_json=text, args=scalar_copy(args), **self._job_fields(spec, **options))

    def _job_fields(
        self,
        spec: Task,
        delay: float | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        unique_key: str | None = None,
        unique: UniquePolicy | None = None,
        notify: Mapping[str, Any] | None = None,
        after: int | None = None,
    ) -> dict[str, Any]:
        """Every field of a new job but its arguments, checked. A delay is kept as given: the
        store adds it to its own clock, so a caller's wrong clock does not move the job. Without
        options they are the task's defaults, made once per task (and settings)."""
        plain = (delay is None and run_at is None and priority is None and queue is None and unique_key is None
                 and unique is None and notify is None and after is None)
        if plain:
            made = self._plain.get(spec.name)
            if made is not None and made[0] is spec and made[1] is self.settings:
                return made[2]
        if delay is not None and run_at is not None:
            raise BadArguments("give delay or run_at, not both")
        check_options(delay=delay, priority=priority, queue=queue, unique_key=unique_key, unique=unique, after=after)
        if unique is not None and unique_key is None:
            raise BadArguments(f"unique={unique!r} needs a unique_key")
        when: float | None = None
        if run_at is not None:
            if run_at.tzinfo is None:
                raise BadArguments("run_at must be timezone-aware (e.g. datetime.now(UTC) + timedelta(...))")
            when = run_at.timestamp()
        opts = spec.options
        fields = {
            "task": spec.name,
            "queue": queue or opts.queue,
            "priority": opts.priority if priority is None else priority,
            "max_attempts": opts.retries + 1,
            "run_at": when,
            "unique_key": unique_key,
            "unique": unique or "return",
            "delay": None if delay is None else float(delay),
            "notify_json": self._notify_json(notify if notify is not None else opts.notify),
            "parent_id": after,
            "timeout": opts.timeout,
            "lease_seconds": opts.lease or self.settings.lease,
            "max_worker_losses": opts.max_worker_losses or self.settings.max_worker_losses,
        }
        if plain:
            self._plain[spec.name] = (spec, self.settings, fields)
        return fields

    def _notify_json(self, spec: Mapping[str, Any] | None) -> str | None:
        normalized = notify.normalize(spec)
        return None if normalized is None else to_json(normalized, "notify", self.settings.max_args_bytes)

    def then(self, parent_id: int, task: str | Task, args: Mapping[str, Any] | None = None, **options: Any) -> Job:
        """Enqueue a continuation: it waits in the store and is queued when the parent
        succeeds (cancelled when it fails or is cancelled). `ctx.parent_result` holds
        the parent's result."""
        return self.enqueue(task, args, after=parent_id, **options)

    # -- periodic jobs ---------------------------------------------------------------

    def periodic(self, *, cron: str | None = None, every: float | None = None, timezone: str = "UTC",
                 catch_up: bool = False, args: Mapping[str, Any] | None = None,
                 **options: Any) -> Callable[[F], Task]:
        """Register a task (same options as `@app.task`) that runs on a schedule named after it:
        `cron` in `timezone`, or `every` N seconds (at the multiples of N since the Unix epoch). Each
        fire time runs once across all workers; missed ones (all workers down) are skipped, or with
        `catch_up` the latest of them runs once. `ctx.scheduled_for` is the fire time."""
        timing = Timing(cron, every, timezone).check()

        def register(func: Callable[..., Any]) -> Task:
            task = self.task(**options)(func)
            new = NewSchedule(task.name, timing, self._new_job(task, args), catch_up, origin="code")
            self._periodic.append(new)
            if self._store is not None:
                self._store.save_schedule(new)
            return task

        return register

    def schedule(self, name: str, task: str | Task, args: Mapping[str, Any] | None = None, *,
                 cron: str | None = None, every: float | None = None, timezone: str = "UTC",
                 catch_up: bool = False, priority: int | None = None, queue: str | None = None) -> Schedule:
        """Add (or redefine) a schedule at run time: stored, so every worker fires it from now on."""
        timing = Timing(cron, every, timezone).check()
        job = self._new_job(task, args, priority=priority, queue=queue)
        return self.store.save_schedule(NewSchedule(check_name(name), timing, job, catch_up))

    def schedules(self) -> list[Schedule]:
        """Every stored schedule, by name, with its next fire time."""
        return self.store.schedules()

    def pause_schedule(self, name: str) -> Schedule:
        """Stop firing a schedule (jobs already stored still run); ScheduleNotFound when unknown."""
        return self._change_schedule(name, "pause")

    def resume_schedule(self, name: str) -> Schedule:
        """Fire a paused schedule again from its next fire time on."""
        return self._change_schedule(name, "resume")

    def remove_schedule(self, name: str) -> Schedule:
        """Forget a schedule (one from `@app.periodic` comes back when its code next opens the store)."""
        return self._change_schedule(name, "remove")

    def _change_schedule(self, name: str, action: str) -> Schedule:
        changed = self.store.change_schedule(name, action)
        if changed is None:
            raise ScheduleNotFound(name)
        return changed

    # -- reading and control -----------------------------------------------------

    def get(self, job_id: int) -> Job:
        """The job as stored now. Raises JobNotFound."""
        return self.store.get(job_id)

    def list_jobs(
        self,
        state: State | str | None = None,
        task: str | None = None,
        queue: str | None = None,
        limit: int = 50,
        cursor: int | None = None,
    ) -> list[Job]:
        """Newest first; pass the last id of a page as `cursor` for the next one."""
        return self.store.list_jobs(State(state) if state else None, task, queue, limit, cursor)

    def events(self, job_id: int, after: int = 0) -> list[JobEvent]:
        """The job's history: state changes, progress, log lines, rescues."""
        return self.store.events(job_id, after)

    def files(self, job_id: int) -> list[JobFile]:
        return self.store.files(job_id)

    def file(self, job_id: int, name: str) -> bytes | None:
        found = self.store.file(job_id, name)
        return None if found is None else found[1]

    def wait(self, job_id: int, timeout: float | None = None, poll: float = 0.05) -> Job:
        """Block until the job finishes and return it; WaitTimeout after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for delay in pauses(0.005, poll):
            job = self.store.get(job_id)
            if job.finished:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"job {job_id} is still {job.state.value} after {timeout}s")
            time.sleep(delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic())))
        raise AssertionError("unreachable: pauses() never ends")

    def cancel(self, job_id: int) -> Job:
        """Cancel a waiting job at once; a running job is asked to stop (it ends
        `cancelled` when its worker notices). A finished job is left as it is."""
        return self.store.cancel(job_id)

    def retry(self, job_id: int) -> Job:
        """Queue a failed or cancelled job again (its checkpoint is kept)."""
        return self.store.retry(job_id)

    def purge(
        self, older_than: float, states: Iterable[State] = (State.SUCCEEDED, State.FAILED, State.CANCELLED)
    ) -> int:
        """Delete finished jobs (with their events and files) older than `older_than` seconds."""
        return self.store.purge({State(s): older_than for s in states}).jobs

    def stats(self) -> dict[str, dict[str, int]]:
        """Jobs per queue per state (it counts every job kept: a scan of the jobs table)."""
        return self.store.counts()

    # -- following jobs from a browser ---------------------------------------------

    def follow_token(self, job_id: int, ttl: float = 86400) -> str:
        """A signed, expiring, read-only token for one job: its status, events, result and
        files, nothing else. Hand it (or `follow_url`) to the visitor who started the job.
        Set ERRANDS_SECRET so every process of your app signs and checks alike."""
        return make_token(self.secret, job_id, ttl)

    def follow_url(self, job_id: int, base_url: str = "", ttl: float = 86400) -> str:
        """`{base_url}/api/jobs/{id}?token=...`: where errands.js can follow the job."""
        return f"{base_url.rstrip('/')}/api/jobs/{job_id}?token={self.follow_token(job_id, ttl)}"

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = load_secret()
        return self._secret

    # -- flow control ------------------------------------------------------------------

    def queue(self, name: str, *, concurrency: int | None = None, rate: str | None = None) -> str:
        """Declare a queue's limits: at most `concurrency` of its jobs running, at most `rate` starts
        ("10/s", "100/m", "5/h"), across all workers. Workers write them to the store as they start
        (the newest declaration wins). Returns the name."""
        check_options(queue=name)
        self.queue_limits[name] = check_limits(concurrency, rate)
        return name

    def pause(self, queue: str, by: str | None = None) -> Flow:
        """Stop every worker claiming jobs of `queue` (stored: workers started later see it); jobs
        running now finish. `by` (default user@host) is shown with the pause."""
        check_options(queue=queue)
        return self.store.pause(queue, True, by or default_actor())

    def resume(self, queue: str, by: str | None = None) -> Flow:
        """Let workers claim jobs of a paused queue again."""
        check_options(queue=queue)
        return self.store.pause(queue, False, by or default_actor())

    # -- workers ------------------------------------------------------------------

    def worker(self, config: WorkerConfig | None = None) -> Worker:
        from .worker import Worker, WorkerConfig

        return Worker(self.store, self.tasks, self.settings, config or WorkerConfig(), self.queue_limits)

    def start_worker(self, config: WorkerConfig | None = None) -> Worker:
        """Run a worker in background threads of this process; call `.stop()` to end it."""
        return self.worker(config).start()

    # -- async twins ------------------------------------------------------------------

    async def _in_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        import asyncio  # here, not at the top: a worker or a command line that runs no coroutine never loads it

        return await asyncio.to_thread(partial(fn, *args, **kwargs))

    async def enqueue_async(self, task: str | Task, args: Mapping[str, Any] | None = None, **options: Any) -> Job:
        return await self._in_thread(self.enqueue, task, args, **options)

    async def enqueue_many_async(
        self, task: str | Task, many_args: Iterable[Mapping[str, Any]], **options: Any
    ) -> list[int]:
        return await self._in_thread(self.enqueue_many, task, list(many_args), **options)

    async def get_async(self, job_id: int) -> Job:
        return await self._in_thread(self.get, job_id)

    async def list_jobs_async(self, **filters: Any) -> list[Job]:
        return await self._in_thread(self.list_jobs, **filters)

    async def cancel_async(self, job_id: int) -> Job:
        return await self._in_thread(self.cancel, job_id)

    async def retry_async(self, job_id: int) -> Job:
        return await self._in_thread(self.retry, job_id)

    async def wait_async(self, job_id: int, timeout: float | None = None, poll: float = 0.05) -> Job:
        """Like `wait`, without holding a thread while it waits."""
        import asyncio

        deadline = None if timeout is None else time.monotonic() + timeout
        for delay in pauses(0.005, poll):
            job = await self.get_async(job_id)
            if job.finished:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"job {job_id} is still {job.state.value} after {timeout}s")
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: pauses() never ends")
