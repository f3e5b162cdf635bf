"""The REST endpoints of the HTTP API: enqueue, read, list, results, files, cancel, retry, stats.

Every error is JSON `{"error": {"code", "message"}}` with a fitting status.
Access is decided by `auth`; a follow token reads one job and nothing else.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..app import Errands
from ..errors import (
    BadArguments,
    InvalidTransition,
    JobNotFound,
    ScheduleNotFound,
    StoreError,
    TaskError,
    UniqueKeyTaken,
)
from ..job import Job, State
from ..notify import normalize as normalize_notify
from ..notify.webhook import host_allowed
from .auth import Access, Denied, check_csrf
from .schemas import parse_enqueue

MAX_ID = 2**63 - 1  # the largest id any store holds
MAX_DEPTH = 64  # nesting of JSON bodies: deeper input is refused before anything recurses over it


def job_url(root: str, job_id: int) -> str:
    """The job's URL under wherever the API is mounted (the ASGI root_path)."""
    return f"{root}/api/jobs/{job_id}"


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def public_view(job: Job) -> dict[str, Any]:
    """What a follow-token holder sees: no arguments, checkpoint or traceback."""
    full = job.to_dict()
    view = {
        k: full[k]
        for k in (
            "id",
            "task",
            "state",
            "progress",
            "result",
            "created_at",
            "started_at",
            "finished_at",
            "attempt",
            "max_attempts",
        )
    }
    view["error"] = None if job.error is None else {"type": job.error.type, "message": job.error.message}
    return view


class Api:
    def __init__(self, errands: Errands, max_body: int) -> None:
        self.errands = errands
        self.max_body = max_body

    def view(self, job: Job, access: Access, root: str) -> dict[str, Any]:
        return (job.to_dict() | {"url": job_url(root, job.id)}) if access.admin else public_view(job)

    async def read_json(self, request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and (len(declared) > 18 or int(declared) > self.max_body):
            raise Denied(413, "too_large", f"request body over {self.max_body:,} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_body:
                raise Denied(413, "too_large", f"request body over {self.max_body:,} bytes")
        try:
            data = json.loads(body or b"{}")
        except RecursionError:
            raise Denied(422, "invalid", f"the body nests deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:  # also UnicodeDecodeError, and an integer of over 4300 digits
            raise Denied(400, "bad_json", f"the body is not valid JSON: {exc}") from None
        if nesting_depth(data) > MAX_DEPTH:
            raise Denied(422, "invalid", f"the body nests deeper than {MAX_DEPTH} levels")
        if not isinstance(data, dict):
            raise Denied(422, "invalid", "the body must be a JSON object")
        return data

    async def enqueue(self, request: Request, access: Access) -> Response:
        check_csrf(request)
        body = parse_enqueue(await self.read_json(request))  # BadArguments: 422 naming the field
        task = self.errands.tasks.get(body.task)
        if task is None or not task.options.public:  # never reveal that a private task exists
            return error(404, "not_found", f"no public task named {body.task!r}")
        options = body.model_dump(exclude={"task", "args"}, exclude_none=True)
        check_webhooks(body.notify, self.errands.settings.webhook_hosts)
        try:
            job = await self.errands.enqueue_async(task, body.args, **options)
        except TaskError as exc:
            return error(422, "invalid", str(exc))
        url = job_url(request.scope.get("root_path", ""), job.id)
        return JSONResponse({"id": job.id, "state": job.state.value, "url": url}, status_code=202)

    async def get(self, request: Request, job_id: int, access: Access) -> Response:
        root = request.scope.get("root_path", "")
        job = await self.errands.get_async(job_id)
        view = self.view(job, access, root)
        if access.admin:  # why a waiting job waits (a paused queue, a full limit, no live worker knows its task)
            waiting = await asyncio.to_thread(self._waiting_reason, job)
            view |= {} if waiting is None else {"waiting_reason": waiting}
        return JSONResponse(view)

    def _waiting_reason(self, job: Job) -> str | None:
        return self.errands.store.waiting_reason(job)

    async def list(self, request: Request) -> Response:
        query = request.query_params
        state = query.get("state")
        if state is not None and state not in State.__members__.values():
            return error(422, "invalid", f"state must be one of {', '.join(s.value for s in State)}")
        try:
            limit = int(query.get("limit", "50"))
            cursor = int(query["cursor"]) if query.get("cursor") else None
        except ValueError:
            return error(422, "invalid", "limit and cursor must be integers")
        if not 1 <= limit <= 1000:
            return error(422, "invalid", "limit must be between 1 and 1000")
        if cursor is not None and not 0 <= cursor <= MAX_ID:
            return error(422, "invalid", "cursor must be a job id (0 to 2**63 - 1)")
        if any("\x00" in query.get(name, "") for name in ("task", "queue")):
            return error(422, "invalid", "task and queue cannot hold NUL characters")
        jobs = await self.errands.list_jobs_async(
            state=state, task=query.get("task"), queue=query.get("queue"), limit=limit, cursor=cursor
        )
        root = request.scope.get("root_path", "")
        return JSONResponse(
            {
                "jobs": [j.to_dict() | {"url": job_url(root, j.id)} for j in jobs],
                "next_cursor": jobs[-1].id if len(jobs) == limit else None,
            }
        )

    async def result(self, job_id: int) -> Response:
        job = await self.errands.get_async(job_id)
        if job.state is State.SUCCEEDED:
            return JSONResponse({"id": job.id, "state": job.state.value, "result": job.result})
        if not job.finished:
            return error(409, "not_finished", f"job {job_id} is {job.state.value}; no result yet")
        return error(
            409,
            "no_result",
            f"job {job_id} ended {job.state.value}" + (f": {job.error.type}: {job.error.message}" if job.error else ""),
        )

    async def files(self, request: Request, job_id: int) -> Response:
        await self.errands.get_async(job_id)
        files = await asyncio.to_thread(self.errands.files, job_id)
        base = job_url(request.scope.get("root_path", ""), job_id)
        return JSONResponse(
            {
                "files": [
                    {"name": f.name, "size": f.size, "content_type": f.content_type, "url": f"{base}/files/{f.name}"}
                    for f in files
                ]
            }
        )

    async def file(self, job_id: int, name: str) -> Response:
        found = await asyncio.to_thread(self.errands.store.file, job_id, name)
        if found is None:
            return error(404, "not_found", f"job {job_id} has no file named {name!r}")
        info, data = found
        headers = {"Content-Disposition": content_disposition(name), "X-Content-Type-Options": "nosniff",
                   "Content-Security-Policy": "sandbox"}
        return Response(data, media_type=info.content_type, headers=headers)

    async def cancel(self, request: Request, job_id: int) -> Response:
        """409 for a job finished before the request, like retry. (The Python `cancel` returns
        it unchanged instead; a cancel that races the job's end answers 200 with its state.)"""
        check_csrf(request)
        before = await self.errands.get_async(job_id)
        if before.finished:
            return error(409, "invalid_state", f"job {job_id} already {before.state.value}; nothing to cancel")
        return JSONResponse((await self.errands.cancel_async(job_id)).to_dict())

    async def retry(self, request: Request, job_id: int) -> Response:
        check_csrf(request)
        try:
            return JSONResponse((await self.errands.retry_async(job_id)).to_dict())
        except InvalidTransition as exc:
            return error(409, "invalid_state", str(exc))

    async def schedules(self) -> Response:
        found = await asyncio.to_thread(self.errands.schedules)
        return JSONResponse({"schedules": [s.to_dict() for s in found]})

    async def change_schedule(self, request: Request, name: str, action: str) -> Response:
        """POST /api/schedules/{name}/pause, /resume or /remove: the schedule as it was left."""
        check_csrf(request)
        if action not in ("pause", "resume", "remove"):
            return error(404, "not_found", f"no action {action!r} on schedules (pause, resume or remove)")
        changed = await asyncio.to_thread(getattr(self.errands, f"{action}_schedule"), name)
        return JSONResponse(changed.to_dict())

    async def queues(self) -> Response:
        """GET /api/queues: the queues and tasks with a limit or a pause (flow control as stored)."""
        flows = await asyncio.to_thread(self.errands.store.flows)
        return JSONResponse({"flows": [f.to_dict() for f in flows]})

    async def change_queue(self, request: Request, queue: str, action: str) -> Response:
        """POST /api/queues/{queue}/pause or /resume, body {} or {"by": "who"}: the queue's flow row."""
        check_csrf(request)
        if action not in ("pause", "resume"):
            return error(404, "not_found", f"no action {action!r} on queues (pause or resume)")
        by = (await self.read_json(request)).get("by") or "http api"
        if not isinstance(by, str) or len(by) > 200:
            return error(422, "invalid", "by must be text of at most 200 characters")
        changed = await asyncio.to_thread(getattr(self.errands, action), queue, by)
        return JSONResponse(changed.to_dict())

    async def stats(self) -> Response:
        counts = await asyncio.to_thread(self.errands.stats)
        workers = await asyncio.to_thread(self.errands.store.workers)
        unserved = await asyncio.to_thread(self.errands.store.unserved)
        return JSONResponse(
            {
                "queues": counts,
                # Waiting jobs no live worker would claim: they wait (never fail) for one that knows them.
                "unserved": [{"queue": u.queue, "task": u.task, "jobs": u.jobs, "reason": u.reason} for u in unserved],
                "workers": [
                    {
                        "id": w.id,
                        "host": w.host,
                        "pid": w.pid,
                        "queues": list(w.queues),
                        "concurrency": w.concurrency,
                        "last_seen": w.last_seen,
                        "tasks": None if w.tasks is None else list(w.tasks),
                    }
                    for w in workers
                ],
            }
        )


def nesting_depth(value: Any) -> int:
    """How deep lists and objects nest in parsed JSON (without recursion)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def check_webhooks(spec: Any, allowed: str | None) -> None:
    """Webhooks given over HTTP may only call the hosts the user allows (ERRANDS_WEBHOOK_HOSTS):
    otherwise any caller could make the workers request internal addresses."""
    if not isinstance(spec, dict):
        return
    for url in (normalize_notify(spec) or {}).get("webhook", []):
        if not host_allowed(url, allowed):
            raise Denied(403, "webhook_not_allowed",
                         f"webhook {url!r}: its host is not in ERRANDS_WEBHOOK_HOSTS (the hosts webhooks given over "
                         "HTTP may call)")


def content_disposition(name: str) -> str:
    """An attachment header with an ASCII fallback and, for other names, RFC 5987's UTF-8 form."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def known_errors(exc: Exception) -> Response | None:
    """The response for an errands error reaching an endpoint, or None if it is not ours."""
    if isinstance(exc, Denied):
        return error(exc.status, exc.code, exc.message)
    if isinstance(exc, JobNotFound | ScheduleNotFound):
        return error(404, "not_found", str(exc))
    if isinstance(exc, BadArguments):
        return error(422, "invalid", str(exc))
    if isinstance(exc, UniqueKeyTaken):
        return error(409, "unique_key_taken", str(exc))
    if isinstance(exc, StoreError):
        return error(503, "store_unavailable", str(exc))
    return None
