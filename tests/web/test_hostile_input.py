"""Hostile input gets a JSON 4xx, never a 500 (on both stores): deep nesting, ids and numbers
no store can hold, NUL characters; and webhooks given over HTTP only to hosts the user allows."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from errands import Errands, Settings
from errands.web import create_app
from tests.helpers import serve
from tests.web.conftest import LiveServer, define_tasks

JSON = {"content-type": "application/json"}
HUGE = "1" + "0" * 22  # a 23-digit number


def assert_json_4xx(answer: httpx.Response, *statuses: int) -> None:
    assert answer.status_code in statuses, (answer.status_code, answer.text[:300])
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["message"]


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,  # RecursionError in the JSON parser
    b'{"task": "export", "args": {"rows": 1, "x": ' + b"[" * 65 + b"]" * 65 + b"}}",  # parses, too deep
    b'{"task": "export", "args": {"rows": ' + b"9" * 5000 + b"}}",  # an integer Python refuses to parse
    b'{"task": "export", "args": {"rows": 1}, "after": ' + HUGE.encode() + b"}",
    b'{"task": "export", "args": {"rows": 1}, "priority": ' + HUGE.encode() + b"}",
    b'{"task": "export", "args": {"rows": 1e999}}',  # Infinity
    b'{"task": "export", "args": {"rows": NaN}}',
    b'{"task": "export", "args": {"rows": 1}, "delay": 1e999}',
    b'{"task": "export\\u0000", "args": {"rows": 1}}',
])
def test_hostile_bodies_get_a_json_4xx_and_store_nothing(live: LiveServer, body: bytes) -> None:
    with live.client() as c:
        assert_json_4xx(c.post("/api/jobs", content=body, headers=JSON), 400, 404, 413, 422)
    assert live.errands.list_jobs() == []


def test_ids_and_numbers_no_store_can_hold_get_a_json_4xx(live: LiveServer) -> None:
    job = live.errands.enqueue("export", {"rows": 1})
    with live.client() as c:
        for path in ["", "/result", "/files", "/files/x.csv", "/events"]:
            for job_id in (HUGE, str(2**63), "9" * 5000):  # 5000 digits: more than Python's int() takes
                assert_json_4xx(c.get(f"/api/jobs/{job_id}{path}"), 404)
        for action in ("cancel", "retry"):
            assert_json_4xx(c.post(f"/api/jobs/{HUGE}/{action}", json={}), 404)
        for params in ({"cursor": HUGE}, {"cursor": "-" + HUGE}, {"limit": HUGE}, {"limit": "9" * 5000},
                       {"task": "a\x00b"}, {"queue": "\x00"}, {"state": "\x00"}):
            assert_json_4xx(c.get("/api/jobs", params=params), 422)
        assert_json_4xx(c.get(f"/api/jobs/{job.id}/files/a%00b"), 404)
        assert c.get(f"/api/jobs/{job.id}", params={"token": "\x00"}).status_code == 200
        assert_json_4xx(c.get("/api/events", headers={"Last-Event-ID": HUGE}), 422)
        assert_json_4xx(c.get("/api/events", headers={"Last-Event-ID": "9" * 5000}), 422)
        assert_json_4xx(c.get(f"/api/jobs/{job.id}/events", params={"last_event_id": HUGE}), 422)
        assert c.get(f"/api/jobs/{job.id}").status_code == 200  # the server is fine


@pytest.fixture
def hooks_allowed(store_url: str) -> Iterator[tuple[Errands, str]]:
    app = Errands(store_url, settings=Settings.from_env(webhook_hosts="hooks.example.com, *.example.org"))
    define_tasks(app)
    server, url = serve(create_app(app))
    yield app, url
    server.should_exit = True
    app.close()


def test_webhooks_given_over_http_go_only_to_hosts_the_user_allows(live: LiveServer,
                                                                   hooks_allowed: tuple[Errands, str]) -> None:
    def enqueue(url: str, webhook: str | list[str]) -> httpx.Response:
        return httpx.post(f"{url}/api/jobs", json={"task": "export", "args": {"rows": 1},
                                                   "notify": {"webhook": webhook}})

    # By default no host is allowed: not the cloud metadata address, not this host.
    for hook in ("http://169.254.169.254/latest/meta-data", "http://127.0.0.1:5432/", "https://hooks.example.com/x"):
        answer = enqueue(live.url, hook)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "webhook_not_allowed"
        assert "ERRANDS_WEBHOOK_HOSTS" in answer.json()["error"]["message"]
    assert live.errands.list_jobs() == []
    app, url = hooks_allowed
    for hook in ("https://hooks.example.com/x", "http://HOOKS.example.com:8080/y", "https://a.b.example.org/"):
        assert enqueue(url, hook).status_code == 202, hook
    refused: list[str | list[str]] = [
        "http://hooks.example.com@169.254.169.254/", "http://hooks.example.com.evil.net/",
        "http://example.org.evil.net/", "http://169.254.169.254/?hooks.example.com",
        ["https://hooks.example.com/x", "http://10.0.0.1/"]]
    for bad in refused:
        assert enqueue(url, bad).status_code == 403, bad
    assert len(app.list_jobs()) == 3
    # Python callers are the app's own code: unaffected.
    assert live.errands.enqueue("export", {"rows": 1}, notify={"webhook": "http://127.0.0.1:9/"}).id
