"""The OpenAPI 3.1 document of the HTTP API, generated from the shapes in `schemas` (the same
models that validate requests) and the argument types of each public task. Only the table of
paths is written here (schemathesis checks the document against the live server in the tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter

from ..options import MAX_JOB_ID
from ..task import Task
from . import schemas

REF = "#/components/schemas/{model}"
ERROR_TEXT = {
    400: "Bad JSON",
    401: "Not allowed without a token",
    403: "Forbidden",
    404: "Not found",
    409: "Not in a state that allows it",
    413: "Body too large",
    415: "Not JSON",
    422: "Invalid input",
    503: "Store unavailable",
}
SSE: dict[str, Any] = {
    "description": "Server-Sent Events; each `data:` is a JSON event {id, job_id, at, kind, state, data}",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}
OBJECT = {"type": "object"}
CONTROL_ERRORS = (400, 401, 403, 404, 413, 415, 422, 503)
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
STATE_PARAM = {"name": "state", "in": "query", "schema": {"$ref": REF.format(model="State")}}

# path -> method -> (summary, 2xx status, its description, its shape, error statuses); parameters apart
PATHS: dict[str, dict[str, tuple[str, int, str, Any, tuple[int, ...]]]] = {
    "/api/jobs": {
        "post": ("Enqueue a job of a public task", 202, "Stored", schemas.Enqueued,
                 (400, 401, 403, 404, 409, 413, 415, 422, 503)),
        "get": ("List jobs, newest first", 200, "A page of jobs", schemas.JobList, (401, 422, 503)),
    },
    "/api/jobs/{job_id}": {
        "get": ("One job (a follow token sees a reduced view)", 200, "The job", schemas.Job, (401, 403, 404, 503)),
    },
    "/api/jobs/{job_id}/result": {
        "get": ("The result of a succeeded job", 200, "The result", schemas.Result, (401, 403, 404, 409, 503)),
    },
    "/api/jobs/{job_id}/files": {
        "get": ("Files saved by the job", 200, "File list", schemas.Files, (401, 403, 404, 503)),
    },
    "/api/jobs/{job_id}/files/{name}": {
        "get": ("Download one file", 200, "The file", None, (401, 403, 404, 503)),
    },
    "/api/jobs/{job_id}/events": {
        "get": ("The job's events as they happen; ends when the job ends", 200, "", SSE, (401, 403, 404, 422, 503)),
    },
    "/api/jobs/{job_id}/cancel": {
        "post": ("Cancel a job", 200, "The job", schemas.Job, (401, 403, 404, 415, 503)),
    },
    "/api/jobs/{job_id}/retry": {
        "post": ("Queue a failed or cancelled job again", 200, "The job", schemas.Job, (401, 403, 404, 409, 415, 503)),
    },
    "/api/events": {"get": ("Every job's events as they happen", 200, "", SSE, (401, 422, 503))},
    "/api/stats": {"get": ("Jobs per queue and state; live workers", 200, "Stats", schemas.Stats, (401, 503))},
    "/api/schedules": {"get": ("Schedules of periodic jobs", 200, "{schedules: [...]}", OBJECT, (401, 503))},
    "/api/schedules/{name}/{action}": {
        "post": ("Pause, resume or remove a schedule", 200, "The schedule", OBJECT, CONTROL_ERRORS),
    },
    "/api/queues": {"get": ("Queues and tasks with a limit or a pause", 200, "{flows: [...]}", OBJECT, (401, 503))},
    "/api/queues/{queue}/{action}": {
        "post": ("Pause or resume a queue", 200, "The queue's flow control", OBJECT, CONTROL_ERRORS),
    },
    "/healthz": {"get": ("Whether the store answers", 200, "Healthy", OBJECT, ())},
    "/metrics": {"get": ("Prometheus metrics", 200, "Prometheus text format", str, (401, 503))},
}
PARAMETERS: dict[str, list[dict[str, Any]]] = {
    "/api/schedules/{name}/{action}": [
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "action", "in": "path", "required": True, "schema": {"enum": ["pause", "resume", "remove"]}},
    ],
    "/api/queues/{queue}/{action}": [
        {"name": "queue", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "action", "in": "path", "required": True, "schema": {"enum": ["pause", "resume"]}},
    ],
    "/api/jobs/{job_id}/files/{name}": [
        JOB_ID, {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    ],
}
QUERY: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("/api/jobs", "get"): [
        STATE_PARAM,
        {"name": "task", "in": "query", "schema": {"type": "string"}},
        {"name": "queue", "in": "query", "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
        {"name": "cursor", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": MAX_JOB_ID}},
    ],
    ("/api/jobs/{job_id}/events", "get"): [{"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}}],
}


def openapi_document(root: str = "", tasks: Mapping[str, Task] | None = None) -> dict[str, Any]:
    """The document for an API mounted at `root`; `tasks` adds each public task's arguments."""
    public = sorted((t for t in (tasks or {}).values() if t.options.public), key=lambda t: t.name)
    inputs: list[tuple[str, Any, TypeAdapter[Any]]] = [
        ("EnqueueRequest", "validation", TypeAdapter(schemas.EnqueueRequest)),
        *((shape.__name__, "serialization", TypeAdapter(shape)) for shape in schemas.RESPONSES),
        *((f"args:{t.name}", "validation", t.arguments) for t in public),
    ]
    found, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF)
    shapes = {key: schema for (key, _), schema in found.items()}
    components = definitions.get("$defs", {})
    body = enqueue_body(shapes, components, public)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "errands",
            "version": "1",
            "description": "Durable background jobs. Loopback callers need no token; others send "
            "'Authorization: Bearer <ERRANDS_TOKEN>', or a follow token (?token=) that "
            "reads one job.",
        },
        "servers": [{"url": root or "/"}],
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "follow": {"type": "apiKey", "in": "query", "name": "token"},
            },
        },
        "security": [{}, {"bearer": []}],
        "paths": {path: path_item(path, methods, shapes, body) for path, methods in PATHS.items()},
    }


def enqueue_body(shapes: Mapping[str, Any], components: dict[str, Any], public: list[Task]) -> dict[str, Any]:
    """The POST /api/jobs body: one variant per public task (its name, its arguments), or the
    general request when no task is public."""
    general: dict[str, Any] = shapes["EnqueueRequest"]
    if not public:
        return general
    base = resolve(general, components)
    variants = []
    for task in public:
        arguments = shapes[f"args:{task.name}"]
        variant = dict(base, title=f"Enqueue {task.name}", description=f"POST /api/jobs for task {task.name!r}")
        variant["properties"] = dict(base["properties"], task={"const": task.name}, args=arguments)
        needs_args = bool(resolve(arguments, components).get("required"))
        variant["required"] = ["task", "args"] if needs_args else ["task"]
        ref = arguments.get("$ref")
        if isinstance(ref, str):  # beside its arguments: "export_arguments" -> "Enqueue_export"
            name = "Enqueue_" + ref.rsplit("/", 1)[-1].removesuffix("_arguments")
            components[name] = variant
            variant = {"$ref": REF.format(model=name)}
        variants.append(variant)
    return {"oneOf": variants}


def resolve(schema: dict[str, Any], components: Mapping[str, Any]) -> dict[str, Any]:
    """The schema itself, or the component its $ref points at."""
    ref = schema.get("$ref")
    found = components.get(ref.rsplit("/", 1)[-1]) if isinstance(ref, str) else None
    return dict(found if isinstance(found, dict) else schema)


def path_item(
    path: str, methods: Mapping[str, tuple[str, int, str, Any, tuple[int, ...]]], shapes: Mapping[str, Any],
    body: dict[str, Any],
) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if path in PARAMETERS or "{job_id}" in path:
        item["parameters"] = PARAMETERS.get(path, [JOB_ID])
    for method, (summary, status, description, shape, errors) in methods.items():
        operation: dict[str, Any] = {"summary": summary}
        if (path, method) in QUERY:
            operation["parameters"] = QUERY[path, method]
        if (path, method) == ("/api/jobs", "post"):
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        operation["responses"] = {str(status): response(description, shape, shapes)}
        operation["responses"] |= {str(s): response(ERROR_TEXT[s], schemas.Error, shapes) for s in errors}
        if path == "/healthz":
            operation["security"] = [{}]
            operation["responses"]["503"] = response("Unhealthy", OBJECT, shapes)
        item[method] = operation
    return item


def response(description: str, shape: Any, shapes: Mapping[str, Any]) -> dict[str, Any]:
    if shape is SSE:
        return dict(SSE)
    if shape is None:
        return {"description": description, "content": {"*/*": {}}}
    if shape is str:
        return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}
    schema = shape if isinstance(shape, dict) else shapes[shape.__name__]
    return {"description": description, "content": {"application/json": {"schema": schema}}}
