"""The dashboard: server-rendered pages under `/dashboard/` (overview, jobs, one job, workers),
single and bulk actions, live through the SSE streams, assets served by errands itself.

`dashboard_routes` is called by `create_app`; access follows the API's policy (guard.py).
Pages: pages.py; actions: actions.py; bulk runs: bulk.py; formatting: present.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from importlib import resources
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ...app import Errands
from ...errors import ErrandsError, JobNotFound, StoreError
from ..auth import AuthCheck, AuthPolicy, Denied
from .actions import NOTICES, Actions
from .bulk import BulkRunner
from .guard import SESSION_COOKIE, SESSION_TTL, Guard, Viewer, check_origin, check_post, read_form, secure
from .pages import MAX_ID, Pages
from .present import environment
from .queues import QueueActions
from .schedules import SchedulePages

OpenStream = Callable[[int | None, int], Awaitable[Response]]  # (job id or None for all, after id) -> SSE
Page = Callable[[Request, Viewer], Awaitable[Response]]
STATIC = resources.files("errands.web").joinpath("static")


def dashboard_routes(errands: Errands, policy: AuthPolicy, open_stream: OpenStream, *, read_only: bool = False,
                     viewer: AuthCheck | None = None) -> list[BaseRoute]:
    """The dashboard's routes, to add to the app: `/dashboard/...`. `read_only`: nobody may act;
    `viewer(request) -> bool`: people the API policy refuses who may look without acting."""
    board = Dashboard(errands, Guard(policy, read_only, viewer), open_stream)
    runner = BulkRunner(errands.store)
    pages = Pages(errands, board.render, runner)
    actions = Actions(errands, board.render, runner)
    schedules = SchedulePages(errands, board.render)
    queues = QueueActions(errands)
    page = board.page
    job = "/jobs/{job_id:int}"
    return [
        Route("/dashboard", slash),
        Mount("/dashboard", routes=[
            Route("/", page(pages.overview)),
            Route("/jobs", page(pages.jobs)),
            Route(job, page(pages.job)),
            Route(f"{job}/files/{{name}}", page(board.download)),
            Route(f"{job}/{{action}}", page(actions.job_action), methods=["POST"]),
            Route("/bulk", page(actions.bulk_start), methods=["POST"]),
            Route("/bulk/{run_id}", page(pages.bulk_run)),
            Route("/workers", page(pages.workers)),
            Route("/schedules", page(schedules.listing)),
            Route("/schedules/{name:path}/{action}", page(schedules.act), methods=["POST"]),
            Route("/queues/{queue:path}/{action}", page(queues.act), methods=["POST"]),
            Route("/login", board.sign_in, methods=["GET", "POST"]),
            Route("/logout", page(board.sign_out), methods=["POST"]),
            Route("/events", page(board.stream)),
            Route(f"{job}/events", page(board.stream)),
            Mount("/static", app=StaticFiles(directory=str(STATIC))),
        ]),
    ]


async def slash(request: Request) -> Response:
    return RedirectResponse(request.url.path + "/", status_code=308)


class Dashboard:
    """What every page shares: access checks, rendering with the security headers, error
    pages, the event streams and file downloads."""

    def __init__(self, errands: Errands, guard: Guard, open_stream: OpenStream) -> None:
        self.errands = errands
        self.guard = guard
        self.open_stream = open_stream
        self.env = environment()

    def render(self, request: Request, who: Viewer, template: str, status: int = 200, **context: Any) -> Response:
        base = request.scope.get("root_path", "")
        notice = NOTICES.get(request.query_params.get("notice", ""))
        context.setdefault("poll", 0)
        html = self.env.get_template(template).render(base=base, viewer=who, notice=notice, **context)
        return secure(HTMLResponse(html, status_code=status), who, base)

    def page(self, handler: Page) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            who = None
            try:
                who = self.guard.check(request)
                return await handler(request, who)
            except (Denied, ErrandsError) as exc:
                return error_page(request, who, exc, self.env)

        return endpoint

    async def sign_in(self, request: Request) -> Response:
        """A form for the admin token, for browsers on other hosts (they cannot send a bearer
        header): it sets a signed session cookie, never the token itself."""
        base = request.scope.get("root_path", "")
        status, message = 200, None
        try:
            if request.method == "POST":
                check_origin(request)
                form = await read_form(request)
                token = form.get("token")
                session = self.guard.new_session(time.time())
                if session is not None and isinstance(token, str) and self.guard.policy.is_admin_token(token):
                    response = RedirectResponse(f"{base}/", status_code=303)
                    response.set_cookie(SESSION_COOKIE, session, max_age=SESSION_TTL, path=base or "/", httponly=True,
                                        samesite="strict", secure=request.url.scheme == "https")
                    return secure(response, None, base)
                status, message = 401, "That is not the admin token."
        except Denied as exc:
            return error_page(request, None, exc, self.env)
        html = self.env.get_template("login.html").render(
            base=base, viewer=None, notice=None, poll=0, stream="", page="", message=message,
            enabled=self.guard.policy.token is not None)
        return secure(HTMLResponse(html, status_code=status), None, base)

    async def sign_out(self, request: Request, who: Viewer) -> Response:
        await check_post(request, replace(who, can_act=True))
        base = request.scope.get("root_path", "")
        response = RedirectResponse(f"{base}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=base or "/")
        return secure(response, None, base)

    async def stream(self, request: Request, who: Viewer) -> Response:
        """The API's event streams (all jobs, or one), for the dashboard's viewers."""
        raw = request.query_params.get("last_event_id") or request.headers.get("last-event-id") or "0"
        if not raw.isdigit() or int(raw) > MAX_ID:
            raise Denied(422, "invalid", "last_event_id must be an event id")
        job = request.path_params.get("job_id")
        if job is not None:
            await self.errands.get_async(int(job))  # a 404 before the stream starts
        return await self.open_stream(None if job is None else int(job), int(raw))

    async def download(self, request: Request, who: Viewer) -> Response:
        job_id, name = int(request.path_params["job_id"]), request.path_params["name"]
        found = await asyncio.to_thread(self.errands.store.file, job_id, name)
        if found is None:
            raise Denied(404, "not_found", f"job {job_id} has no file named {name!r}")
        meta, data = found
        # Always a download, never rendered here: a job's file could be HTML with script in it.
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(meta.name)}"}
        return secure(Response(data, media_type="application/octet-stream", headers=headers), None, "")


def error_page(request: Request, who: Viewer | None, exc: Exception, env: Any) -> Response:
    """An HTML page saying what went wrong (the message only: never a traceback)."""
    if isinstance(exc, Denied):
        status, title, message = exc.status, exc.code.replace("_", " "), exc.message
    elif isinstance(exc, JobNotFound):
        status, title, message = 404, "not found", str(exc)
    elif isinstance(exc, StoreError):
        status, title, message = 503, "store unavailable", str(exc)
    else:
        status, title, message = 422, "refused", str(exc)
    base = request.scope.get("root_path", "")
    html = env.get_template("error.html").render(base=base, viewer=who, notice=None, poll=0, stream="",
                                                 page="", status=status, title=title, message=message)
    response = HTMLResponse(html, status_code=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="errands"'
    return secure(response, who, base)


__all__ = ["dashboard_routes"]
