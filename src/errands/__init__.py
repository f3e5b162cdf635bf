"""errands: durable background jobs for Python web applications."""

from .app import Errands
from .context import JobContext
from .errors import (
    BadArguments,
    ConfigError,
    ErrandsError,
    InvalidTransition,
    JobCancelled,
    JobInterrupt,
    JobNotFound,
    JobTimeout,
    LeaseLost,
    ScheduleNotFound,
    StoreBusy,
    StoreClosed,
    StoreError,
    TaskError,
    UniqueKeyTaken,
    UnknownTask,
    WaitTimeout,
    WorkerShutdown,
)
from .job import Job, JobError, JobEvent, JobFile, Progress, State
from .settings import Settings
from .task import Task
from .worker import Worker, WorkerConfig

__all__ = [
    "BadArguments",
    "ConfigError",
    "Errands",
    "ErrandsError",
    "InvalidTransition",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobError",
    "JobEvent",
    "JobFile",
    "JobInterrupt",
    "JobNotFound",
    "JobTimeout",
    "LeaseLost",
    "Progress",
    "ScheduleNotFound",
    "Settings",
    "State",
    "StoreBusy",
    "StoreClosed",
    "StoreError",
    "Task",
    "TaskError",
    "UniqueKeyTaken",
    "UnknownTask",
    "WaitTimeout",
    "Worker",
    "WorkerConfig",
    "WorkerShutdown",
]
