"""Every exception errands raises on purpose, each with a message a user can act on.

ErrandsError
├── ConfigError            bad store URL, unwritable database path, bad settings
├── TaskError
│   ├── UnknownTask        no task registered under that name
│   └── BadArguments       args that do not fit the task, are not JSON, or are too large
├── JobNotFound            no job with that id
├── InvalidTransition      e.g. retrying a job that is still running
├── ScheduleNotFound       no schedule by that name
├── UniqueKeyTaken         unique="raise" (or "replace" of a running job) met the key's holder
├── StoreError             the store refused or failed a write
│   └── StoreBusy          the database stayed locked longer than the busy timeout
├── WaitTimeout            app.wait() gave up before the job finished
└── JobInterrupt           raised inside a task to stop it (never stored as a failure)
    ├── JobCancelled       someone cancelled the running job
    ├── JobTimeout         the job ran past its timeout
    ├── LeaseLost          another worker owns the job now; this copy must stop
    └── WorkerShutdown     the worker is stopping; the job goes back to the queue
"""

from __future__ import annotations


class ErrandsError(Exception):
    """Base class of every error errands raises on purpose."""


class ConfigError(ErrandsError):
    """The configuration cannot work: a bad URL, an unwritable path, a bad value."""


class TaskError(ErrandsError):
    """A problem with a task or its arguments, found before anything is stored."""


class UnknownTask(TaskError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown task {name!r}: no task is registered under that name "
            "(is the module that defines it imported by the app?)"
        )
        self.name = name


class BadArguments(TaskError):
    """Arguments that do not match the task, are not JSON, or are too large."""


class JobNotFound(ErrandsError):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"no job with id {job_id}")
        self.job_id = job_id


class InvalidTransition(ErrandsError):
    """The job is not in a state that allows the requested change."""


class ScheduleNotFound(ErrandsError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no schedule named {name!r} (`errands schedules` lists them)")
        self.name = name


class UniqueKeyTaken(ErrandsError):
    """An unfinished job holds the unique key: enqueued with unique="raise", or with "replace"
    while the holder runs (a running job is never replaced: its work has begun)."""

    def __init__(self, unique_key: str, job_id: int, state: str) -> None:
        if state == "running":
            why = "is running, and a running job is not replaced: wait for it, cancel it, or use another key"
        else:
            why = f"is {state}: give unique=\"return\" to get it or unique=\"replace\" to replace it"
        super().__init__(f"unique key {unique_key!r} is held by job {job_id}, which {why}")
        self.unique_key = unique_key
        self.job_id = job_id
        self.state = state


class StoreError(ErrandsError):
    """The store failed a read or write (disk full, read-only, unreachable)."""


class StoreClosed(StoreError):
    """The store was closed (`app.close()`, a framework's shutdown); make a new app to use it again."""


class StoreBusy(StoreError):
    """The database stayed locked by another process longer than the busy timeout."""


class WaitTimeout(ErrandsError, TimeoutError):
    """`wait()` ran out of time; the job itself goes on."""


class JobInterrupt(ErrandsError):
    """Raised inside a running task to stop it; the worker decides what it means."""


class JobCancelled(JobInterrupt):
    """The job was cancelled while running; it ends `cancelled`."""


class JobTimeout(JobInterrupt):
    """The job ran longer than its task's `timeout`; it fails (and may be retried)."""


class LeaseLost(JobInterrupt):
    """This worker no longer owns the job (its lease expired and another took it)."""


class WorkerShutdown(JobInterrupt):
    """The worker is shutting down; the job is released to the queue with its checkpoint."""
