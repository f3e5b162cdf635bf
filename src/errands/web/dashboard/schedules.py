"""The dashboard's Schedules page: every schedule of periodic jobs with its next fire time, and
the form actions that pause, resume or remove one (remove asks for confirmation first)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...app import Errands
from ...errors import ScheduleNotFound
from ..auth import Denied
from .actions import with_notice
from .guard import Viewer, check_post
from .pages import Render

VERBS = {"pause": "Pause", "resume": "Resume", "remove": "Remove"}


class SchedulePages:
    def __init__(self, errands: Errands, render: Render) -> None:
        self.errands = errands
        self.render = render

    async def listing(self, request: Request, viewer: Viewer) -> Response:
        schedules = await asyncio.to_thread(self.errands.schedules)
        now = await asyncio.to_thread(self.errands.store.now)
        return self.render(request, viewer, "schedules.html", page="schedules", schedules=schedules, now=now,
                           stream="")

    async def act(self, request: Request, viewer: Viewer) -> Response:
        form = await check_post(request, viewer)
        action, name = request.path_params["action"], request.path_params["name"]
        if action not in VERBS:
            raise Denied(404, "not_found", f"no action {action!r}: use pause, resume or remove")
        base = request.scope.get("root_path", "")
        if action == "remove" and form.get("confirm") != "yes":
            return self.render(request, viewer, "confirm.html", page="schedules", stream="", action=action,
                               verb=VERBS[action], job=None, fields=list(form.multi_items()),
                               target=request.url.path, what=f"schedule {name!r}",
                               back=f"{base}/schedules")
        try:
            await asyncio.to_thread(getattr(self.errands, f"{action}_schedule"), name)
        except ScheduleNotFound as exc:
            raise Denied(404, "not_found", str(exc)) from None
        return RedirectResponse(with_notice(f"{base}/schedules", f"schedule_{action}"), status_code=303)
