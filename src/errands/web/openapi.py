"""The OpenAPI 3.1 document of the HTTP API, written to match what the endpoints do
(schemathesis checks it against the live server in the tests)."""

from __future__ import annotations

from typing import Any

NULLABLE_NUMBER = {"type": ["number", "null"]}
NULLABLE_STRING = {"type": ["string", "null"]}
STATES = ["scheduled", "queued", "running", "succeeded", "failed", "cancelled"]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*statuses: int) -> dict[str, Any]:
    text = {
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
    return {str(s): json_response(text[s], ref("Error")) for s in statuses}


JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Progress": {
        "type": "object",
        "properties": {
            "current": NULLABLE_NUMBER,
            "total": NULLABLE_NUMBER,
            "message": NULLABLE_STRING,
            "fraction": NULLABLE_NUMBER,
        },
    },
    "JobError": {
        "type": ["object", "null"],
        "properties": {"type": {"type": "string"}, "message": {"type": "string"}, "traceback": NULLABLE_STRING},
    },
    "Job": {
        "type": "object",
        "required": ["id", "task", "state", "progress"],
        "properties": {
            "id": {"type": "integer"},
            "task": {"type": "string"},
            "queue": {"type": "string"},
            "priority": {"type": "integer"},
            "state": {"type": "string", "enum": STATES},
            "args": {"type": "object"},
            "attempt": {"type": "integer"},
            "max_attempts": {"type": "integer"},
            "worker_losses": {"type": "integer"},
            "progress": ref("Progress"),
            "result": {},
            "error": ref("JobError"),
            "checkpoint": {},
            "cancel_requested": {"type": "boolean"},
            "unique_key": NULLABLE_STRING,
            "parent_id": {"type": ["integer", "null"]},
            "run_at": NULLABLE_STRING,
            "created_at": NULLABLE_STRING,
            "started_at": NULLABLE_STRING,
            "finished_at": NULLABLE_STRING,
            "url": {"type": "string"},
        },
    },
    "JobList": {
        "type": "object",
        "required": ["jobs", "next_cursor"],
        "properties": {"jobs": {"type": "array", "items": ref("Job")}, "next_cursor": {"type": ["integer", "null"]}},
    },
    "EnqueueRequest": {
        "type": "object",
        "required": ["task"],
        "additionalProperties": False,
        "properties": {
            "task": {"type": "string", "description": "A task declared public=True"},
            "args": {"type": "object"},
            "queue": {"type": "string"},
            "priority": {"type": "integer"},
            "delay": {"type": "number", "minimum": 0},
            "unique_key": {"type": "string"},
            "notify": {"type": "object"},
            "after": {"type": "integer"},
        },
    },
    "Enqueued": {
        "type": "object",
        "required": ["id", "state", "url"],
        "properties": {
            "id": {"type": "integer"},
            "state": {"type": "string", "enum": STATES},
            "url": {"type": "string"},
        },
    },
    "Result": {
        "type": "object",
        "required": ["id", "state", "result"],
        "properties": {"id": {"type": "integer"}, "state": {"const": "succeeded"}, "result": {}},
    },
    "Files": {
        "type": "object",
        "required": ["files"],
        "properties": {
            "files": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "size": {"type": "integer"},
                        "content_type": {"type": "string"},
                        "url": {"type": "string"},
                    },
                },
            }
        },
    },
    "Stats": {
        "type": "object",
        "required": ["queues", "workers"],
        "properties": {
            "queues": {
                "type": "object",
                "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
            "workers": {"type": "array", "items": {"type": "object"}},
        },
    },
}

SSE = {
    "description": "Server-Sent Events; each `data:` is a JSON event {id, job_id, at, kind, state, data}",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


def openapi_document(root: str = "") -> dict[str, Any]:
    job = {"parameters": [JOB_ID]}
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
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "follow": {"type": "apiKey", "in": "query", "name": "token"},
            },
        },
        "security": [{}, {"bearer": []}],
        "paths": {
            "/api/jobs": {
                "post": {
                    "summary": "Enqueue a job of a public task",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": ref("EnqueueRequest")}},
                    },
                    "responses": {
                        "202": json_response("Stored", ref("Enqueued")),
                        **errors(400, 401, 403, 404, 413, 415, 422, 503),
                    },
                },
                "get": {
                    "summary": "List jobs, newest first",
                    "parameters": [
                        {"name": "state", "in": "query", "schema": {"type": "string", "enum": STATES}},
                        {"name": "task", "in": "query", "schema": {"type": "string"}},
                        {"name": "queue", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                        {"name": "cursor", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": {"200": json_response("A page of jobs", ref("JobList")), **errors(401, 422, 503)},
                },
            },
            "/api/jobs/{job_id}": {
                **job,
                "get": {
                    "summary": "One job (a follow token sees a reduced view)",
                    "responses": {"200": json_response("The job", ref("Job")), **errors(401, 403, 404, 503)},
                },
            },
            "/api/jobs/{job_id}/result": {
                **job,
                "get": {
                    "summary": "The result of a succeeded job",
                    "responses": {"200": json_response("The result", ref("Result")), **errors(401, 403, 404, 409, 503)},
                },
            },
            "/api/jobs/{job_id}/files": {
                **job,
                "get": {
                    "summary": "Files saved by the job",
                    "responses": {"200": json_response("File list", ref("Files")), **errors(401, 403, 404, 503)},
                },
            },
            "/api/jobs/{job_id}/files/{name}": {
                "parameters": [JOB_ID, {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": {
                    "summary": "Download one file",
                    "responses": {
                        "200": {"description": "The file", "content": {"*/*": {}}},
                        **errors(401, 403, 404, 503),
                    },
                },
            },
            "/api/jobs/{job_id}/events": {
                **job,
                "get": {
                    "summary": "The job's events as they happen; ends when the job ends",
                    "parameters": [{"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}}],
                    "responses": {"200": SSE, **errors(401, 403, 404, 422, 503)},
                },
            },
            "/api/jobs/{job_id}/cancel": {
                **job,
                "post": {
                    "summary": "Cancel a job",
                    "responses": {"200": json_response("The job", ref("Job")), **errors(401, 403, 404, 409, 415, 503)},
                },
            },
            "/api/jobs/{job_id}/retry": {
                **job,
                "post": {
                    "summary": "Queue a failed or cancelled job again",
                    "responses": {"200": json_response("The job", ref("Job")), **errors(401, 403, 404, 409, 415, 503)},
                },
            },
            "/api/events": {
                "get": {
                    "summary": "Every job's events as they happen",
                    "responses": {"200": SSE, **errors(401, 422, 503)},
                }
            },
            "/api/stats": {
                "get": {
                    "summary": "Jobs per queue and state; live workers",
                    "responses": {"200": json_response("Stats", ref("Stats")), **errors(401, 503)},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Whether the store answers",
                    "security": [{}],
                    "responses": {
                        "200": json_response("Healthy", {"type": "object"}),
                        "503": json_response("Unhealthy", {"type": "object"}),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **errors(401, 503),
                    },
                }
            },
        },
    }
