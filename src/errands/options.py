"""The options of one enqueue (queue, priority, delay, ...): their names, types and ranges, defined once
for Python, the CLI, HTTP and the OpenAPI document; and readable messages for what they refuse.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import BadArguments
from .job import UniquePolicy
from .text import short

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
        description="At most one unfinished job holds this key (see unique): at most 1000 characters",
    )
    unique: UniquePolicy | None = Field(
        None,
        description='When an unfinished job holds unique_key: "return" it (default), "replace" it if it has not '
        'started, or "raise" UniqueKeyTaken: return, replace or raise',
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
            lines.append(f"{name} must be {field.description.rsplit(': ', 1)[-1]}, not {short(e['input'])}")
        else:
            lines.append(f"{name}: {e['msg']}")
    return "; ".join(lines)
