"""Notifications: email received by a real SMTP server, webhooks by a real HTTP server,
both delivered by durable errands jobs created with the job's final state."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from errands import BadArguments, Errands, JobContext, Settings, State
from errands.notify.webhook import SIGNATURE_HEADER, verify_signature
from tests.helpers import drain, free_port, wait_until

SECRET = "hook-secret"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


class Hooks:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0


@pytest.fixture
def webhook_server() -> Iterator[tuple[Hooks, str]]:
    hooks = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if hooks.fail_next:
                hooks.fail_next -= 1
                self.send_response(500)
            else:
                hooks.received.append((dict(self.headers), body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None: ...

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield hooks, f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def notify_app(store_url: str, **settings: Any) -> Errands:
    app = Errands(store_url, settings=Settings(base_url="https://jobs.example.com", webhook_secret=SECRET,
                                               **settings))

    @app.task(name="report", notify={"email": "ops@example.com", "on": ["failed"]})
    def report(ctx: JobContext, fail: bool = False) -> dict[str, int]:
        if fail:
            raise ValueError("no data for March")
        return {"pages": 12}

    return app


def test_email_is_received_by_a_real_smtp_server(store_url: str, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    app = notify_app(store_url, smtp_url=f"smtp://127.0.0.1:{port}?from=jobs@example.com")
    ok = app.enqueue("report", {}, notify={"email": ["alice@example.com", "bob@example.com"], "on": ["succeeded"]})
    bad = app.enqueue("report", {"fail": True})  # the task's own notify settings: ops, on failure
    drain(app)
    wait_until(lambda: len(inbox.messages) == 3, message="three emails")
    by_recipient = {m["To"]: m for m in inbox.messages}
    assert set(by_recipient) == {"alice@example.com", "bob@example.com", "ops@example.com"}
    alice = by_recipient["alice@example.com"]
    assert alice["Subject"] == f"[errands] job {ok.id} (report) succeeded" and alice["From"] == "jobs@example.com"
    assert '{"pages": 12}' in alice.get_payload()
    assert f"https://jobs.example.com/api/jobs/{ok.id}" in alice.get_payload()
    ops = by_recipient["ops@example.com"]
    assert ops["Subject"] == f"[errands] job {bad.id} (report) failed"
    assert "ValueError: no data for March" in ops.get_payload()
    deliveries = app.list_jobs(task="errands.notify.email")
    assert len(deliveries) == 3 and all(d.state is State.SUCCEEDED for d in deliveries)


def test_webhook_is_signed_and_retried_until_delivered(store_url: str, webhook_server: tuple[Hooks, str]) -> None:
    hooks, url = webhook_server
    hooks.fail_next = 1
    app = notify_app(store_url)
    job = app.enqueue("report", {}, notify={"webhook": url})
    drain(app)  # a burst worker stays for the delivery's retry
    [delivery] = app.list_jobs(task="errands.notify.webhook")
    assert delivery.state is State.SUCCEEDED and delivery.attempt == 2
    retries = [e.data for e in app.events(delivery.id) if e.state is State.SCHEDULED]
    assert len(retries) == 1 and "answered 500" in retries[0]["error"]  # type: ignore[index]
    [(headers, body)] = hooks.received
    assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER])
    assert not verify_signature("other-secret", body, headers[SIGNATURE_HEADER])
    payload = json.loads(body)
    assert payload == {"id": job.id, "task": "report", "state": "succeeded", "result": {"pages": 12},
                       "error": None, "finished_at": payload["finished_at"],
                       "url": f"https://jobs.example.com/api/jobs/{job.id}"}
    assert headers["X-Errands-Event"] == "job.succeeded"


def test_notification_jobs_are_written_with_the_final_state(store_url: str) -> None:
    app = notify_app(store_url)
    waiting = app.enqueue("report", {}, notify={"webhook": "http://127.0.0.1:9/never", "on": ["cancelled"]})
    assert app.list_jobs(task="errands.notify.webhook") == []
    app.cancel(waiting.id)  # one transaction: the cancel and its notification job
    [delivery] = app.list_jobs(task="errands.notify.webhook")
    assert delivery.args == {"job_id": waiting.id, "state": "cancelled", "url": "http://127.0.0.1:9/never"}
    assert delivery.state is State.QUEUED


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        ({"sms": "+123"}, "unknown key"),
        ({"email": "not-an-address"}, "not an email address"),
        ({"webhook": "ftp://example.com"}, "http:// or https://"),
        ({"email": "a@b.c", "on": ["running"]}, "'on' takes"),
        ({"email": 5}, "a string or a list of strings"),
    ],
)
def test_bad_notify_settings_are_refused_at_enqueue(store_url: str, notify: dict[str, Any], message: str) -> None:
    app = notify_app(store_url)
    with pytest.raises(BadArguments, match=message):
        app.enqueue("report", {}, notify=notify)
    assert app.list_jobs() == []
