"""Email delivery over SMTP (ERRANDS_SMTP_URL), with a subject and body from templates.

smtp://user:password@host:587?starttls=1&from=jobs@example.com, or smtps:// for TLS from
the start. A failure raises, so the notification job retries with backoff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import ConfigError

if TYPE_CHECKING:  # smtplib and email are imported when a message is sent, not by every worker's start
    from email.message import EmailMessage


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    sender: str
    ssl: bool
    starttls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(f"ERRANDS_SMTP_URL {url!r}: use smtp://[user:password@]host[:port][?from=...]")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        ssl = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if ssl else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            sender=options.get("from", "errands@localhost"),
            ssl=ssl,
            starttls=options.get("starttls", "0") in ("1", "true", "yes"),
        )


def compose(payload: dict[str, Any], to: str, sender: str, subject: str, body: str) -> EmailMessage:
    """The message for one recipient; templates are str.format strings over the job payload
    plus {outcome} (result or error) and {url}."""
    if payload["state"] == "succeeded":
        outcome = "Result: " + json.dumps(payload["result"])
    elif payload["error"]:
        outcome = f"Error: {payload['error']['type']}: {payload['error']['message']}"
    else:
        outcome = "No result."
    fields = payload | {"outcome": outcome, "url": payload["url"] or "(set ERRANDS_BASE_URL for a link)"}
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = subject.format(**fields)
    message["From"] = sender
    message["To"] = to
    message.set_content(body.format(**fields))
    return message


def send(settings: SmtpSettings, message: EmailMessage, timeout: float = 30.0) -> None:
    import smtplib

    client_type = smtplib.SMTP_SSL if settings.ssl else smtplib.SMTP
    with client_type(settings.host, settings.port, timeout=timeout) as client:
        if settings.starttls:
            client.starttls()
        if settings.username:
            client.login(settings.username, settings.password or "")
        client.send_message(message)
