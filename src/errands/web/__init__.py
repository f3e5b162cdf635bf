"""The HTTP side of errands: an ASGI app (Starlette) with the REST API, Server-Sent Events,
metrics, health, the OpenAPI document and the errands.js follower.

`create_app(errands)` builds it; mount it into your app or run `errands serve`.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable
from importlib import resources

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..app import Errands
from ..errors import ConfigError, JobNotFound
from .api import MAX_ID, Api, error, known_errors
from .auth import Access, AuthCheck, AuthPolicy, Denied, allowed_host_names
from .dashboard import dashboard_routes
from .events import MAX_STREAMS, QUEUE_LIMIT, EventHub, TooManyStreams, stream
from .health import Health
from .metrics import Metrics
from .openapi import openapi_document

Handler = Callable[[Request, Access], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
SCRIPT = resources.files(__package__).joinpath("static", "errands.js").read_bytes()


class JobIdConvertor(Convertor[int]):
    """Job ids of at most 19 digits (a longer one cannot name a job: 404 before any parsing)."""

    regex = "[0-9]{1,19}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("job_id", JobIdConvertor())


def create_app(
    errands: Errands,
    *,
    token: str | None = None,
    auth: AuthCheck | None = None,
    trust_loopback: bool | None = None,
    allowed_hosts: Iterable[str] | str | None = None,
    max_body: int = 1_000_000,
    poll_interval: float = 0.1,
    max_streams: int | None = None,
    stream_queue: int | None = None,
    health_timeout: float = 2.0,
    dashboard_read_only: bool | None = None,
    dashboard_viewer: AuthCheck | None = None,
) -> Starlette:
    """token: the bearer token for admin access from other hosts (default ERRANDS_TOKEN).
    auth: your own check `f(request) -> bool` granting admin access (your session, your SSO).
    trust_loopback: loopback callers are admins when they also name a loopback host (localhost,
    127.x, [::1]) or one of `allowed_hosts` in `Host`; turn it off behind a reverse proxy on this
    host (default: ERRANDS_TRUST_LOOPBACK, on unless it says 0 or false).
    allowed_hosts: more names loopback callers may use (default ERRANDS_ALLOWED_HOSTS, comma-separated).
    max_streams: open SSE streams per process, 503 past it (default ERRANDS_MAX_STREAMS or 1000).
    stream_queue: events a stream's client may fall behind before its stream ends with an
    `overflow` event (default ERRANDS_STREAM_QUEUE or 10,000).
    health_timeout: seconds /healthz waits for the store before it answers 503.
    dashboard_read_only: the dashboard (/dashboard/) shows but never acts (default
    ERRANDS_DASHBOARD_READ_ONLY). dashboard_viewer: your check `f(request) -> bool` for people who
    may look at the dashboard without acting (admins, as above, may act)."""
    if trust_loopback is None:
        trust_loopback = os.environ.get("ERRANDS_TRUST_LOOPBACK", "1").lower() not in ("0", "false", "no")
    policy = AuthPolicy(token or errands.settings.token or None, errands.secret, auth, trust_loopback,
                        allowed_host_names(allowed_hosts))
    hub = EventHub(errands.store, poll_interval, max_streams or env_int("ERRANDS_MAX_STREAMS", MAX_STREAMS),
                   stream_queue or env_int("ERRANDS_STREAM_QUEUE", QUEUE_LIMIT))
    if dashboard_read_only is None:
        dashboard_read_only = os.environ.get("ERRANDS_DASHBOARD_READ_ONLY", "0").lower() in ("1", "true", "yes")
    dashboard = dashboard_routes(errands, policy, lambda job, after: open_stream(hub, job, after),
                                 read_only=dashboard_read_only, viewer=dashboard_viewer)
    handlers = {404: not_found, 405: not_allowed, 500: internal_error}
    routes = api_routes(errands, policy, hub, Api(errands, max_body), Health(errands.store, health_timeout))
    app = Starlette(routes=[*routes, *dashboard], exception_handlers=handlers)
    app.state.hub = hub
    return app


def api_routes(errands: Errands, policy: AuthPolicy, hub: EventHub, api: Api, health: Health) -> list[Route]:
    """The API's routes, each behind the access it needs."""
    metrics = Metrics(errands.store, hub)

    def admin(handler: Handler) -> Endpoint:
        return guard(policy, handler, follow=False)

    def admin_or_follower(handler: Handler) -> Endpoint:
        return guard(policy, handler, follow=True)

    async def healthz(request: Request) -> Response:
        return await health.response()

    job = "/api/jobs/{job_id:job_id}"
    return [
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
        Route("/api/schedules", admin(lambda r, a: api.schedules())),
        Route("/api/schedules/{name:path}/{action}", admin(lambda r, a: api.change_schedule(r, r.path_params["name"],
                                                                                       r.path_params["action"])),
              methods=["POST"]),
        Route("/api/queues", admin(lambda r, a: api.queues())),
        Route("/api/queues/{queue:path}/{action}", admin(lambda r, a: api.change_queue(r, r.path_params["queue"],
                                                                                     r.path_params["action"])),
              methods=["POST"]),
        Route("/metrics", admin(lambda r, a: metrics.response())),
        Route("/healthz", healthz),
        Route("/api/openapi.json", openapi(errands)),
        Route("/errands.js", errands_js),
    ]


def guard(policy: AuthPolicy, handler: Handler, *, follow: bool) -> Endpoint:
    """Admins may call the handler; with `follow`, so may the holder of this job's follow token.
    errands' own errors become JSON answers; anything else is a 500 with no details."""

    async def endpoint(request: Request) -> Response:
        try:
            check_request(request)
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


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}={raw!r} must be a positive integer")
    return int(raw)


def check_request(request: Request) -> None:
    """A path with a NUL character (PostgreSQL text refuses them) names nothing: 404 before
    it reaches the store. (The list's query parameters are checked by `Api.list`.)"""
    if any("\x00" in str(v) for v in request.path_params.values()):
        raise Denied(404, "not_found", "no such resource: the path holds a NUL character")


def job_id(request: Request) -> int:
    """The job id in the path; an id no store can hold names no job."""
    value = int(request.path_params["job_id"])
    if value > MAX_ID:
        raise JobNotFound(value)
    return value


def last_event_id(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or "0"
    if not raw.isdigit() or len(raw) > 19 or int(raw) > MAX_ID:
        raise Denied(422, "invalid", "Last-Event-ID must be an event id (an integer below 2**63)")
    return int(raw)


async def open_stream(hub: EventHub, job: int | None, after: int) -> Response:
    try:
        queue = await hub.subscribe()
    except TooManyStreams as exc:
        raise Denied(503, "too_many_streams", str(exc)) from None
    return EventSourceResponse(stream(hub, queue, job, after), ping=15)


async def job_events(request: Request, hub: EventHub, errands: Errands) -> Response:
    job = job_id(request)
    after = last_event_id(request)
    await errands.get_async(job)  # a 404 before the stream starts
    return await open_stream(hub, job, after)


async def all_events(request: Request, hub: EventHub) -> Response:
    return await open_stream(hub, None, last_event_id(request))


def openapi(errands: Errands) -> Endpoint:
    """The OpenAPI document, with the arguments of the app's public tasks."""

    async def document(request: Request) -> Response:
        return JSONResponse(openapi_document(request.scope.get("root_path", ""), errands.tasks))

    return document


async def errands_js(request: Request) -> Response:
    return Response(SCRIPT, media_type="text/javascript", headers={"Cache-Control": "max-age=300"})


async def not_found(request: Request, exc: Exception) -> Response:
    return error(404, "not_found", f"no such resource: {request.url.path}")


async def not_allowed(request: Request, exc: Exception) -> Response:
    return error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")


async def internal_error(request: Request, exc: Exception) -> Response:
    return error(500, "internal", "internal error; see the server log")


__all__ = ["create_app"]
