"""Task definitions: a function registered with an app, its options, the arguments it accepts,
the options of one enqueue, and how to enqueue it.

Running a task belongs to `worker.execution`; storing a job to the store.
"""

from __future__ import annotations

import inspect
import json
import random
import typing
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NotRequired, Required

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

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


MAX_DELAY = 10 * 365 * 86400.0
INT32 = 2**31
MAX_JOB_ID = 2**63 - 1


class EnqueueOptions(BaseModel):
    """The options of one enqueue that every caller may give (Python, the CLI, HTTP): their names,
    types and ranges (what every store can hold) live here and nowhere else. Each description ends,
    after its last colon, with the rule an error message quotes."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    queue: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The queue it waits in (default: the task's): 1 to 200 characters",
    )
    priority: int | None = Field(
        None, ge=-INT32, le=INT32 - 1, description="Higher runs first (default: the task's): a 32-bit integer"
    )
    delay: float | None = Field(
        None,
        ge=0,
        le=MAX_DELAY,
        allow_inf_nan=False,
        description=f"Seconds to wait before it may run: between 0 and {MAX_DELAY:.0f} seconds (ten years)",
    )
    unique_key: str | None = Field(
        None,
        max_length=1000,
        description="Return the unfinished job holding this key instead of adding one: at most 1000 characters",
    )
    notify: dict[str, Any] | None = Field(None, description="Webhooks or e-mail told when it finishes: an object")
    after: int | None = Field(
        None, ge=1, le=MAX_JOB_ID, description="Wait for this job and run when it succeeds: a job id"
    )


def check_options(**given: Any) -> EnqueueOptions:
    """The enqueue options checked against `EnqueueOptions`, or BadArguments saying which and why."""
    try:
        return EnqueueOptions.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        raise BadArguments(explain_fields(exc, EnqueueOptions)) from None


def explain_fields(exc: ValidationError, model: type[BaseModel]) -> str:
    """One readable line for the errors of a flat model: the unknown fields, the missing ones, and
    each bad value with the rule its description ends with."""
    errors = exc.errors(include_url=False)
    unknown = [str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        return f"unknown field(s): {', '.join(sorted(unknown))}"
    lines = []
    for e in errors:
        name = str(e["loc"][0]) if e["loc"] else "the body"
        field = model.model_fields.get(name)
        if e["type"] == "missing":
            lines.append(f"field {name!r} is required")
        elif field is not None and field.description:
            lines.append(f"{name} must be {field.description.rsplit(': ', 1)[-1]}, not {_short(e['input'])}")
        else:
            lines.append(f"{name}: {e['msg']}")
    return "; ".join(lines)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _place(loc: tuple[int | str, ...]) -> str:
    """('items', 2, 'id') -> items[2].id"""
    text = str(loc[0]) if loc else ""
    for part in loc[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def explain_arguments(errors: list[ErrorDetails]) -> str:
    """'argument 'n': input should be a valid integer (got 'five')', for up to five errors."""
    lines = [
        f"argument {_place(e['loc'])!r}: {e['msg'][:1].lower()}{e['msg'][1:]} (got {_short(e['input'])})"
        for e in errors[:5]
    ]
    more = len(errors) - len(lines)
    return "; ".join(lines) + (f"; and {more} more" if more > 0 else "")


def type_hints(name: str, fn: Callable[..., Any]) -> dict[str, Any]:
    """The function's resolved hints; one that does not resolve (a class defined inside a function,
    under `from __future__ import annotations`) is left out with a warning, the others kept."""
    target = inspect.unwrap(fn)
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # resolve them one by one, so a single bad hint costs only its own check
        pass
    hints: dict[str, Any] = {}
    for param, annotation in getattr(target, "__annotations__", {}).items():
        holder = SimpleNamespace(__annotations__={param: annotation})
        try:
            hints |= typing.get_type_hints(holder, globalns=getattr(target, "__globals__", None), include_extras=True)
        except Exception as exc:
            _cannot_check(name, param, exc)
    return hints


def _cannot_check(task: str, param: str, exc: Exception) -> None:
    warnings.warn(f"task {task!r}: argument {param!r} has a type errands cannot check ({exc}); "
                  "any JSON is accepted for it", stacklevel=5)


def arguments_adapter(
    name: str, fn: Callable[..., Any], params: list[inspect.Parameter]
) -> tuple[TypeAdapter[Any], bool]:
    """A validator of the arguments a job names (a TypedDict typed by the function's hints) and
    whether any hint checks something. Unannotated parameters take any JSON; so does a hint errands
    cannot check (it does not resolve, or pydantic cannot build it), with a warning."""
    hints = type_hints(name, fn)
    named = [p for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    types = {p.name: hints.get(p.name, Any) for p in named}
    more = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)

    def build() -> TypeAdapter[Any]:
        fields = {
            p.name: Required[types[p.name]] if p.default is inspect.Parameter.empty else NotRequired[types[p.name]]
            for p in named
        }
        make: Any = TypedDict  # built at run time from the signature
        typed = make(f"{name} arguments", fields)
        typed.__pydantic_config__ = ConfigDict(strict=True, extra="allow" if more else "forbid")
        return TypeAdapter(typed)

    try:
        adapter = build()
    except Exception:  # find the hints pydantic cannot build, accept any JSON for them, build again
        for param, hint in types.items():
            try:
                TypeAdapter(hint)
            except Exception as exc:
                _cannot_check(name, param, exc)
                types[param] = Any
        adapter = build()
    return adapter, any(t is not Any for t in types.values())


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
        self.arguments, self._typed = arguments_adapter(options.name, fn, params)
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

    def encode_args(self, args: Mapping[str, Any], limit: int) -> str:
        """The arguments as the JSON to store, or BadArguments naming what does not fit: an unknown
        or missing name, a value that is not JSON, JSON over `limit` bytes, or a value not of its
        parameter's type. Types are checked strictly on that JSON ("5" is not an int; an ISO 8601
        string is a datetime), and the JSON is stored as the caller gave it."""
        self.check_args(args)
        text = to_json(dict(args), f"the arguments of task {self.name!r}", limit)
        if self._typed:
            try:
                self.arguments.validate_json(text)
            except ValidationError as exc:
                raise BadArguments(f"task {self.name!r}: {explain_arguments(exc.errors(include_url=False))}") from None
        return text

    def arguments_schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments (for the OpenAPI document of public tasks)."""
        return self.arguments.json_schema()

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


_ENQUEUE_OPTIONS = (*EnqueueOptions.model_fields, "run_at", "connection")
