"""Notifications when a job ends: email and webhooks, each delivered by a durable errands job.

`plan` turns a finished job's notify settings into notification jobs; the store
writes them in the transaction that ends the job, so a crash loses none.
Delivery itself (SMTP, HTTP) lives in `email.py` and `webhook.py`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import BadArguments
from ..job import FINISHED, Job, NewJob, State

EMAIL_TASK = "errands.notify.email"
WEBHOOK_TASK = "errands.notify.webhook"
DELIVERY_ATTEMPTS = 8  # retried with backoff: 5 s, 10 s, 20 s, ... about 10 minutes in all
KEYS = {"email", "webhook", "on"}


def normalize(spec: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Check notify settings and give them one shape: lists of addresses and URLs, and `on`."""
    if spec is None:
        return None
    unknown = set(spec) - KEYS
    if unknown:
        raise BadArguments(f"notify: unknown key(s) {sorted(unknown)}; use email, webhook and on")
    emails = _as_list(spec.get("email"), "email")
    hooks = _as_list(spec.get("webhook"), "webhook")
    on = _as_list(spec.get("on"), "on") or [s.value for s in sorted(FINISHED)]
    for address in emails:
        if "@" not in address or any(c in address for c in "\r\n"):
            raise BadArguments(f"notify: {address!r} is not an email address")
    for url in hooks:
        if not url.startswith(("http://", "https://")):
            raise BadArguments(f"notify: webhook {url!r} must be an http:// or https:// URL")
    bad = [s for s in on if s not in {f.value for f in FINISHED}]
    if bad:
        raise BadArguments(f"notify: 'on' takes succeeded, failed and cancelled, not {bad}")
    return {"email": emails, "webhook": hooks, "on": on}


def _as_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise BadArguments(f"notify: {name} takes a string or a list of strings")
    return list(items)


def plan(job: Job, state: State) -> list[NewJob]:
    """The notification jobs for a job that just ended in `state` (none for notification jobs)."""
    spec = job.notify
    if not spec or state.value not in spec.get("on", ()) or job.task in (EMAIL_TASK, WEBHOOK_TASK):
        return []
    base = {"job_id": job.id, "state": state.value}
    news = [_delivery(job, EMAIL_TASK, base | {"to": address}) for address in spec.get("email", [])]
    news += [_delivery(job, WEBHOOK_TASK, base | {"url": url}) for url in spec.get("webhook", [])]
    return news


def _delivery(job: Job, task: str, args: dict[str, Any]) -> NewJob:
    # The job's own queue: whichever workers serve it deliver its notifications too.
    return NewJob(task=task, args_json=json.dumps(args), queue=job.queue, priority=job.priority + 1,
                  max_attempts=DELIVERY_ATTEMPTS, lease_seconds=60)


def job_payload(job: Job, link: str | None) -> dict[str, Any]:
    """What a notification says about a job (no arguments, checkpoint or traceback)."""
    return {
        "id": job.id,
        "task": job.task,
        "state": job.state.value,
        "result": job.result,
        "error": None if job.error is None else {"type": job.error.type, "message": job.error.message},
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "url": link,
    }
