"""Task definitions: a function registered with an app, its options, the arguments it accepts, and
`enqueue`, which hands a job to the app that registered the task.

Running a task belongs to `worker.execution`; storing a job to the store.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .arguments import Arguments
from .backoff import Backoff
from .codec import encode, to_json
from .errors import BadArguments
from .job import Job
from .stores.flow import Rate
from .text import type_name

if TYPE_CHECKING:
    from pydantic import TypeAdapter

# How a task hands a job to the app that registered it (`Errands.enqueue` and its async twin:
# the app layer sits above this one): (task name, args, **enqueue options) -> Job.
Submit = Callable[..., Job]
SubmitAsync = Callable[..., Awaitable[Job]]


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
    concurrency: int | None = None  # at most this many running across all workers
    rate: Rate | None = None  # at most rate.count starts in any rate.period seconds


class Task:
    """A registered task. Call it like the function; `enqueue` runs it in a worker."""

    def __init__(self, fn: Callable[..., Any], options: TaskOptions, submit: Submit, submit_async: SubmitAsync) -> None:
        self._submit, self._submit_async = submit, submit_async
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
        self._arguments = Arguments(options.name, fn, params)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    @property
    def arguments(self) -> TypeAdapter[Any]:
        """The validator of a job's arguments (built on first use)."""
        return self._arguments.one

    def check_args(self, args: Mapping[str, Any]) -> None:
        """Raise BadArguments when `args` cannot be passed to the function."""
        try:
            names = args.keys()
        except AttributeError:
            raise BadArguments(f"task {self.name!r}: the arguments must be a mapping of parameter names to values "
                               f"(a dict), not {type_name(args)}") from None
        if self._simple and self._required <= names <= self._allowed:
            return
        try:
            self._signature.bind(None, **args)
        except TypeError as exc:
            raise BadArguments(f"task {self.name!r}: {exc}") from None

    def encode_args(self, args: Mapping[str, Any], limit: int) -> str:
        """The arguments as the JSON to store, or BadArguments naming what does not fit: an unknown
        or missing name, a value that is not JSON, JSON over `limit` bytes, or a value not of its
        parameter's type. Types are checked strictly on that JSON ("5" is not an int; an ISO 8601
        string is a datetime), and the JSON is stored as the caller gave it."""
        self.check_args(args)
        text = to_json(dict(args), f"the arguments of task {self.name!r}", limit)
        if self._arguments.typed and (problems := self._arguments.problems(text)):
            raise BadArguments(f"task {self.name!r}: {problems}")
        return text

    def encode_many(self, many: Sequence[Mapping[str, Any]], limit: int) -> str:
        """The arguments of many jobs as one JSON array whose elements are what `encode_args` gives
        for each, or BadArguments as `encode_args` says for the first item that does not fit, with
        its number. Encoded and type-checked all at once; item by item only to name a bad one."""
        try:
            for args in many:
                if not (self._simple and self._required <= args.keys() <= self._allowed):
                    break
            else:
                text = encode([args if type(args) is dict else dict(args) for args in many], limit)
                if self._arguments.typed:
                    self._arguments.many.validate_json(text)
                return text
        except (AttributeError, TypeError, ValueError):  # an item not a mapping, not JSON, over the limit, a type
            pass
        texts = []
        for number, args in enumerate(many):
            try:
                texts.append(self.encode_args(args, limit))
            except BadArguments as exc:
                raise BadArguments(f"{exc} (item {number} of many_args)") from None
        return f"[{','.join(texts)}]"

    def arguments_schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments (for the OpenAPI document of public tasks)."""
        return self.arguments.json_schema()

    def enqueue(self, **kwargs: Any) -> Job:
        """Store a job running this task with `kwargs` and return it at once.

        Options mixed into kwargs: delay (seconds), run_at (datetime), priority,
        queue, unique_key, notify, after (parent job id), connection (your transaction). Use `app.enqueue(name,
        args, ...)` when a task argument shares one of those names."""
        options = {k: kwargs.pop(k) for k in _enqueue_options() if k in kwargs}
        return self._submit(self.name, kwargs, **options)

    async def enqueue_async(self, **kwargs: Any) -> Job:
        options = {k: kwargs.pop(k) for k in _enqueue_options() if k in kwargs}
        return await self._submit_async(self.name, kwargs, **options)


@functools.cache
def _enqueue_options() -> tuple[str, ...]:
    from .options import EnqueueOptions  # pydantic: imported by the first enqueue, not by a worker's start

    return (*EnqueueOptions.model_fields, "run_at", "connection")
