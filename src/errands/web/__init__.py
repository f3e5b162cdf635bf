"""The HTTP side of errands: an ASGI app (Starlette) with the REST API, Server-Sent Events,
metrics, health, the OpenAPI document and the errands.js follower.

`create_app(errands)` builds it; mount it into your app or run `errands serve`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from importlib import resources

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..app import Errands
from .api import Api, error, known_errors
from .auth import Access, AuthCheck, AuthPolicy, Denied
from .events import EventHub, stream
from .metrics import Metrics
from .openapi import openapi_document

Handler = Callable[[Request, Access], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
SCRIPT = resources.files(__package__).joinpath("static", "errands.js").read_bytes()


def create_app(
    errands: Errands,
    *,
    token: str | None = None,
    auth: AuthCheck | None = None,
    trust_loopback: bool | None = None,
    max_body: int = 1_000_000,
    poll_interval: float = 0.1,
) -> Starlette:
    """token: the bearer token for admin access from other hosts (default ERRANDS_TOKEN).
    auth: your own check `f(request) -> bool` granting admin access (your session, your SSO).
    trust_loopback: loopback callers are admins; turn it off behind a reverse proxy on this host
    (default: ERRANDS_TRUST_LOOPBACK, on unless it says 0 or false)."""
    if trust_loopback is None:
        trust_loopback = os.environ.get("ERRANDS_TRUST_LOOPBACK", "1").lower() not in ("0", "false", "no")
    policy = AuthPolicy(token or os.environ.get("ERRANDS_TOKEN") or None, errands.secret, auth, trust_loopback)
    api = Api(errands, max_body)
    hub = EventHub(errands.store, poll_interval)
    metrics = Metrics(errands.store, hub)

    def admin(handler: Handler) -> Endpoint:
        return guard(policy, handler, follow=False)

    def admin_or_follower(handler: Handler) -> Endpoint:
        return guard(policy, handler, follow=True)

    def job_id(request: Request) -> int:
        return int(request.path_params["job_id"])

    async def health(request: Request) -> Response:
        return await healthz(errands)

    job = "/api/jobs/{job_id:int}"
    routes = [
        Route("/api/jobs", admin(api.enqueue), methods=["POST"]),
        Route("/api/jobs", admin(lambda r, a: api.list(r)), methods=["GET"]),
        Route(job, admin_or_follower(lambda r, a: api.get(r, job_id(r), a))),
        Route(f"{job}/result", admin_or_follower(lambda r, a: api.result(job_id(r)))),
        Route(f"{job}/files", admin_or_follower(lambda r, a: api.files(r, job_id(r)))),
        Route(f"{job}/files/{{name}}", admin_or_follower(lambda r, a: api.file(job_id(r), r.path_params["name"]))),
        Route(f"{job}/events", admin_or_follower(lambda r, a: job_events(r, hub, errands))),
        Route(f"{job}/cancel", admin(lambda r, a: api.cancel(r, job_id(r))), methods=["POST"]),
        Route(f"{job}/retry", admin(lambda r, a: api.retry(r, job_id(r))), methods=["POST"]),
        Route("/api/events", admin(lambda r, a: all_events(r, hub))),
        Route("/api/stats", admin(lambda r, a: api.stats())),
        Route("/metrics", admin(lambda r, a: metrics.response())),
        Route("/healthz", health),
        Route("/api/openapi.json", openapi),
        Route("/errands.js", errands_js),
    ]
    handlers = {404: not_found, 405: not_allowed, 500: internal_error}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.hub = hub
    return app


def guard(policy: AuthPolicy, handler: Handler, *, follow: bool) -> Endpoint:
    """Admins may call the handler; with `follow`, so may the holder of this job's follow token.
    errands' own errors become JSON answers; anything else is a 500 with no details."""

    async def endpoint(request: Request) -> Response:
        try:
            access = policy.access(request)
            if not access.admin and not (follow and request.path_params.get("job_id") == access.job_id):
                raise Denied(403, "forbidden", "a follow token reads its own job only")
            return await handler(request, access)
        except Exception as exc:
            response = known_errors(exc)
            if response is None:
                raise
            return response

    return endpoint


def last_event_id(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or "0"
    if not raw.isdigit():
        raise Denied(422, "invalid", "Last-Event-ID must be an event id (an integer)")
    return int(raw)


async def job_events(request: Request, hub: EventHub, errands: Errands) -> Response:
    job_id = int(request.path_params["job_id"])
    after = last_event_id(request)
    await errands.get_async(job_id)  # a 404 before the stream starts
    return EventSourceResponse(stream(hub, job_id, after), ping=15)


async def all_events(request: Request, hub: EventHub) -> Response:
    return EventSourceResponse(stream(hub, None, last_event_id(request)), ping=15)


async def healthz(errands: Errands) -> Response:
    try:
        await asyncio.to_thread(errands.store.now)
    except Exception as exc:  # any failure means unhealthy
        return JSONResponse({"status": "unavailable", "store": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok"})


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(request.scope.get("root_path", "")))


async def errands_js(request: Request) -> Response:
    return Response(SCRIPT, media_type="text/javascript", headers={"Cache-Control": "max-age=300"})


async def not_found(request: Request, exc: Exception) -> Response:
    return error(404, "not_found", f"no such resource: {request.url.path}")


async def not_allowed(request: Request, exc: Exception) -> Response:
    return error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")


async def internal_error(request: Request, exc: Exception) -> Response:
    return error(500, "internal", "internal error; see the server log")


__all__ = ["create_app"]
