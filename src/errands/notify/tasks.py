"""The built-in delivery tasks every app registers: `errands.notify.email` and `errands.notify.webhook`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..context import JobContext
from ..errors import ConfigError
from ..job import Job
from ..settings import Settings
from . import EMAIL_TASK, WEBHOOK_TASK, job_payload
from .email import SmtpSettings, compose, send
from .webhook import deliver

BACKOFF = 5.0


class Registry(Protocol):
    """What the delivery tasks need of the app that registers them (the app layer sits above this one)."""

    settings: Settings

    @property
    def secret(self) -> bytes: ...

    def task(self, *, name: str, backoff: float) -> Callable[[Callable[..., Any]], Any]: ...

    def get(self, job_id: int) -> Job: ...


def register(app: Registry) -> None:
    def link(job_id: int) -> str | None:
        base = app.settings.base_url
        return f"{base.rstrip('/')}/api/jobs/{job_id}" if base else None

    @app.task(name=EMAIL_TASK, backoff=BACKOFF)
    def send_email(ctx: JobContext, job_id: int, state: str, to: str) -> dict[str, str]:
        if not app.settings.smtp_url:
            raise ConfigError("cannot send email: set ERRANDS_SMTP_URL (e.g. smtp://mail.example.com:587?starttls=1)")
        smtp = SmtpSettings.from_url(app.settings.smtp_url)
        payload = job_payload(app.get(job_id), link(job_id))
        send(smtp, compose(payload, to, smtp.sender, app.settings.email_subject, app.settings.email_body))
        return {"sent_to": to}

    @app.task(name=WEBHOOK_TASK, backoff=BACKOFF)
    def call_webhook(ctx: JobContext, job_id: int, state: str, url: str) -> dict[str, int]:
        secret = (app.settings.webhook_secret or "").encode() or app.secret
        status = deliver(url, job_payload(app.get(job_id), link(job_id)), secret)
        return {"status": status}
