"""The dashboard's queue actions: pause and resume a queue from the overview (a form POST each,
like the other actions); the overview shows each queue's limits and pause."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...app import Errands
from ...options import check_options
from ..auth import Denied
from .actions import with_notice
from .guard import Viewer, check_post


class QueueActions:
    def __init__(self, errands: Errands) -> None:
        self.errands = errands

    async def act(self, request: Request, viewer: Viewer) -> Response:
        await check_post(request, viewer)
        action, queue = request.path_params["action"], request.path_params["queue"]
        if action not in ("pause", "resume"):
            raise Denied(404, "not_found", f"no action {action!r}: use pause or resume")
        check_options(queue=queue)  # BadArguments: an error page naming the rule
        await asyncio.to_thread(getattr(self.errands, action), queue, "dashboard")
        base = request.scope.get("root_path", "")
        return RedirectResponse(with_notice(f"{base}/", f"queue_{action}"), status_code=303)
