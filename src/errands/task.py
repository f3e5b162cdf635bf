"""Task definitions: a function registered with an app, its options, and how to enqueue it.

Running a task belongs to `worker.execution`; storing a job to the store.
"""

from __future__ import annotations

import inspect
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import BadArguments

if TYPE_CHECKING:
    from .app import Errands
    from .job import Job

Backoff = float | Callable[[int], float]
MAX_BACKOFF = 3600.0


def retry_delay(backoff: Backoff, failures: int) -> float:
    """Seconds before retry number `failures` (1-based): exponential with ±25% jitter,
    capped at an hour; a callable backoff decides alone."""
    if callable(backoff):
        delay: float = backoff(failures)
        return max(0.0, float(delay))
    delay = min(MAX_BACKOFF, backoff * 2 ** (failures - 1))
    return delay * random.uniform(0.75, 1.25)


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def to_json(value: Any, what: str, limit: int) -> str:
    """Serialize strictly (no NaN, no pickling) or raise BadArguments saying why."""
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise BadArguments(f"{what} must be JSON-serializable: {exc}") from None
    if len(text) > limit:
        raise BadArguments(f"{what} is {len(text):,} bytes as JSON, over the limit of {limit:,}")
    return text


@dataclass(frozen=True, slots=True)
class TaskOptions:
    name: str
    queue: str = "default"
    priority: int = 0
    retries: int = 0
    backoff: Backoff = 2.0
    timeout: float | None = None
    lease: float | None = None
    max_worker_losses: int | None = None
    public: bool = False
    notify: dict[str, Any] | None = None


class Task:
    """A registered task. Call it like the function; `enqueue` runs it in a worker."""

    def __init__(self, app: Errands, fn: Callable[..., Any], options: TaskOptions) -> None:
        self.app = app
        self.fn = fn
        self.options = options
        self.name = options.name
        self.is_async = inspect.iscoroutinefunction(fn)
        self._signature = inspect.signature(fn)
        if not self._signature.parameters:
            raise TypeError(f"task {options.name!r} must take the job context as its first parameter")
        params = list(self._signature.parameters.values())[1:]
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        # Plain keyword parameters are checked with set arithmetic (bind() is slow in bulk).
        self._simple = all(p.kind in named for p in params)
        self._allowed = {p.name for p in params}
        self._required = {p.name for p in params if p.default is inspect.Parameter.empty}
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    def check_args(self, args: Mapping[str, Any]) -> None:
        """Raise BadArguments when `args` cannot be passed to the function."""
        if self._simple and self._required <= args.keys() <= self._allowed:
            return
        try:
            self._signature.bind(None, **args)
        except TypeError as exc:
            raise BadArguments(f"task {self.name!r}: {exc}") from None

    def enqueue(self, **kwargs: Any) -> Job:
        """Store a job running this task with `kwargs` and return it at once.

        Options mixed into kwargs: delay (seconds), run_at (datetime), priority,
        queue, unique_key, notify, after (parent job id), connection (your transaction). Use `app.enqueue(name,
        args, ...)` when a task argument shares one of those names."""
        options = {k: kwargs.pop(k) for k in _ENQUEUE_OPTIONS if k in kwargs}
        return self.app.enqueue(self.name, kwargs, **options)

    async def enqueue_async(self, **kwargs: Any) -> Job:
        options = {k: kwargs.pop(k) for k in _ENQUEUE_OPTIONS if k in kwargs}
        return await self.app.enqueue_async(self.name, kwargs, **options)


_ENQUEUE_OPTIONS = ("delay", "run_at", "priority", "queue", "unique_key", "notify", "after", "connection")
