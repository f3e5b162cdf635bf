"""The dashboard's actions: cancel, retry and delete one job, and start a bulk action on every
job matching a filter. Each is a form POST (see guard.check_post); cancel and delete, and every
bulk action, ask for confirmation first (a page, or the script's dialog).

After acting, the browser is sent back (303) to the page it came from, with a notice.
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...app import Errands
from ...errors import InvalidTransition
from ...stores import dashboard as reads
from ..auth import Denied
from .bulk import BulkRunner
from .guard import Viewer, check_post
from .pages import Render, parse_filter
from .present import describe, query

NOTICES = {
    "cancelled": "The job was cancelled.",
    "cancel_requested": "The job's worker was asked to stop it; it ends cancelled when the task notices.",
    "not_cancellable": "The job had already finished: nothing to cancel.",
    "retried": "The job is back in its queue.",
    "not_retryable": "Only failed or cancelled jobs can be retried.",
    "deleted": "The job was deleted, with its events and files.",
    "not_deletable": "Only finished jobs can be deleted: cancel it first.",
    "schedule_pause": "The schedule is paused: it fires nothing until resumed.",
    "schedule_resume": "The schedule fires again from its next fire time.",
    "schedule_remove": "The schedule was removed.",
    "queue_pause": "The queue is paused: no worker claims its jobs until it is resumed (running ones finish).",
    "queue_resume": "The queue is resumed: workers claim its jobs again.",
}
CONFIRM = {"cancel", "delete"}  # single-job actions that ask first; every bulk action does
VERBS = {"cancel": "Cancel", "retry": "Retry", "delete": "Delete"}


def back_to(form: FormData, base: str, fallback: str) -> str:
    """Where to return: a path inside the dashboard only (never another site)."""
    target = form.get("next")
    if isinstance(target, str) and target.startswith(base + "/") and not target.startswith("//") \
            and "\\" not in target and "\n" not in target:
        return target
    return fallback


def with_notice(url: str, notice: str) -> str:
    path, _, _ = url.partition("#")
    return f"{path}{'&' if '?' in path else '?'}notice={notice}"


class Actions:
    def __init__(self, errands: Errands, render: Render, bulk: BulkRunner) -> None:
        self.errands = errands
        self.render = render
        self.bulk = bulk

    async def job_action(self, request: Request, viewer: Viewer) -> Response:
        form = await check_post(request, viewer)
        action = request.path_params["action"]
        if action not in VERBS:
            raise Denied(404, "not_found", f"no action {action!r}: use cancel, retry or delete")
        job_id = int(request.path_params["job_id"])
        job = await asyncio.to_thread(self.errands.store.get, job_id)
        base = request.scope.get("root_path", "")
        if action in CONFIRM and form.get("confirm") != "yes":
            return self.render(request, viewer, "confirm.html", page="jobs", stream="", action=action,
                               verb=VERBS[action], job=job, fields=list(form.multi_items()), target=request.url.path,
                               what=f"job #{job.id} ({job.task})")
        notice = await asyncio.to_thread(self._act, action, job_id)
        fallback = f"{base}/jobs" if notice == "deleted" else f"{base}/jobs/{job_id}"
        return RedirectResponse(with_notice(back_to(form, base, fallback), notice), status_code=303)

    def _act(self, action: str, job_id: int) -> str:
        if action == "cancel":
            job = self.errands.cancel(job_id)
            if job.state.value == "cancelled":
                return "cancelled"
            return "cancel_requested" if job.cancel_requested else "not_cancellable"
        if action == "retry":
            try:
                self.errands.retry(job_id)
            except InvalidTransition:
                return "not_retryable"
            return "retried"
        deleted = self.errands.store.bulk(reads.BulkAction.DELETE, [job_id])
        return "deleted" if deleted else "not_deletable"

    async def bulk_start(self, request: Request, viewer: Viewer) -> Response:
        form = await check_post(request, viewer)
        raw = form.get("action")
        if raw not in VERBS:
            raise Denied(422, "invalid", "a bulk action is cancel, retry or delete")
        action = reads.BulkAction(raw)
        now = await asyncio.to_thread(self.errands.store.now)
        f, params = parse_filter(form, now)
        base = request.scope.get("root_path", "")
        if form.get("confirm") != "yes":
            return self.render(request, viewer, "confirm.html", page="jobs", stream="", action=raw, verb=VERBS[raw],
                               job=None, fields=list(form.multi_items()), target=request.url.path,
                               what=describe(params), jobs_url=f"{base}/jobs{query(params)}")
        top = await asyncio.to_thread(reads.top_id, self.errands.store)
        run = self.bulk.start(action, f, params, top)
        return RedirectResponse(f"{base}/bulk/{run.id}", status_code=303)
