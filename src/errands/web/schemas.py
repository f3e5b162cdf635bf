"""The shapes of the HTTP API: the enqueue request as a pydantic model (it validates the body) and
the responses as typed dicts (they describe what the endpoints return). The OpenAPI document is
generated from these; the enqueue options themselves are `errands.task.EnqueueOptions`.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import Field, ValidationError
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from ..errors import BadArguments
from ..job import State
from ..options import EnqueueOptions, explain_fields


class EnqueueRequest(EnqueueOptions):
    """The body of POST /api/jobs."""

    task: str = Field(description="A task declared public=True: a task name")
    args: dict[str, Any] = Field(default_factory=dict, description="The task's arguments by name: an object")


def parse_enqueue(data: Any) -> EnqueueRequest:
    """The checked body of an enqueue request, or BadArguments naming the fields that do not fit."""
    try:
        return EnqueueRequest.model_validate(data)
    except ValidationError as exc:
        raise BadArguments(explain_fields(exc, EnqueueRequest)) from None


class ErrorDetail(TypedDict):
    code: str
    message: str


class Error(TypedDict):
    """Every error answer: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


class Progress(TypedDict):
    current: float | None
    total: float | None
    message: str | None
    fraction: float | None


class JobError(TypedDict):
    type: str
    message: str
    traceback: NotRequired[str | None]  # not shown to a follow-token holder


class Job(TypedDict):
    """A job as an admin sees it; a follow-token holder sees id, task, state, progress, result,
    error (without traceback), attempts and times only."""

    id: int
    task: str
    state: State
    progress: Progress
    queue: NotRequired[str]
    priority: NotRequired[int]
    args: NotRequired[dict[str, Any]]
    attempt: NotRequired[int]
    max_attempts: NotRequired[int]
    worker_losses: NotRequired[int]
    result: NotRequired[Any]
    error: NotRequired[JobError | None]
    checkpoint: NotRequired[Any]
    cancel_requested: NotRequired[bool]
    unique_key: NotRequired[str | None]
    parent_id: NotRequired[int | None]
    run_at: NotRequired[str | None]
    created_at: NotRequired[str | None]
    started_at: NotRequired[str | None]
    finished_at: NotRequired[str | None]
    scheduled_for: NotRequired[str | None]
    url: NotRequired[str]
    waiting_reason: NotRequired[str]


class JobList(TypedDict):
    jobs: list[Job]
    next_cursor: int | None


class Enqueued(TypedDict):
    id: int
    state: State
    url: str


class Result(TypedDict):
    id: int
    state: Literal["succeeded"]
    result: Any


class FileInfo(TypedDict):
    name: str
    size: int
    content_type: str
    url: str


class Files(TypedDict):
    files: list[FileInfo]


class Worker(TypedDict, total=False):
    id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    last_seen: float
    tasks: list[str] | None


class Unserved(TypedDict):
    queue: str
    task: str
    jobs: int
    reason: str


class Stats(TypedDict):
    queues: dict[str, dict[str, int]]
    workers: list[Worker]
    unserved: NotRequired[list[Unserved]]


RESPONSES: tuple[type, ...] = (Error, Job, JobList, Enqueued, Result, Files, Stats)
