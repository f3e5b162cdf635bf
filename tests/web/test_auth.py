"""Who may call the API: loopback, bearer token, the user's own check, follow tokens; and a
real caller from another host (a network namespace)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from errands import Errands
from errands.web import create_app
from tests.helpers import drain, serve
from tests.web.conftest import RemoteHost, define_tasks

TOKEN = "s3cret-admin-token"
JSON = {"content-type": "application/json"}


@pytest.fixture
def guarded(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Errands, str]]:
    """A server that trusts nobody for being on loopback, as behind a reverse proxy."""
    monkeypatch.setenv("ERRANDS_SECRET", "test-secret")
    app = Errands(store_url)
    define_tasks(app)
    server, url = serve(create_app(app, token=TOKEN, trust_loopback=False,
                                 auth=lambda request: request.headers.get("x-user") == "ops"))
    yield app, url
    server.should_exit = True


def test_without_credentials_nothing_but_health_and_docs(guarded: tuple[Errands, str]) -> None:
    app, url = guarded
    job = app.enqueue("export", {"rows": 1})
    with httpx.Client(base_url=url) as c:
        for method, path in [("GET", "/api/jobs"), ("GET", f"/api/jobs/{job.id}"), ("POST", "/api/jobs"),
                             ("GET", "/api/events"), ("GET", "/metrics"), ("GET", "/api/stats"),
                             ("POST", f"/api/jobs/{job.id}/cancel")]:
            answer = c.request(method, path, headers=JSON, content=b"{}")
            assert answer.status_code == 401, path
            assert answer.json()["error"]["code"] == "unauthorized"
        assert c.get("/api/jobs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/healthz").status_code == 200 and c.get("/api/openapi.json").status_code == 200
        assert c.get("/errands.js").status_code == 200


def test_trust_loopback_can_be_turned_off_from_the_environment(store_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERRANDS_TRUST_LOOPBACK", "0")
    app = Errands(store_url)
    server, url = serve(create_app(app))
    try:
        assert httpx.get(f"{url}/api/jobs").status_code == 401
    finally:
        server.should_exit = True


def test_the_bearer_token_and_the_users_own_check_give_admin_access(guarded: tuple[Errands, str]) -> None:
    app, url = guarded
    with httpx.Client(base_url=url) as c:
        made = c.post("/api/jobs", json={"task": "export", "args": {"rows": 1}},
                      headers={"Authorization": f"Bearer {TOKEN}"})
        assert made.status_code == 202
        assert c.get(f"/api/jobs/{made.json()['id']}", headers={"x-user": "ops"}).json()["args"] == {"rows": 1}
        assert c.get("/api/jobs", headers={"x-user": "intruder"}).status_code == 401


def test_a_follow_token_reads_its_own_job_only(guarded: tuple[Errands, str]) -> None:
    app, url = guarded
    mine, other = app.enqueue("export", {"rows": 2}), app.enqueue("export", {"rows": 3})
    drain(app)
    token = app.follow_token(mine.id)
    assert app.follow_url(mine.id, "https://example.com/jobs").startswith(
        f"https://example.com/jobs/api/jobs/{mine.id}?token=")
    with httpx.Client(base_url=url) as c:
        view = c.get(f"/api/jobs/{mine.id}", params={"token": token}).json()
        assert view["state"] == "succeeded" and "args" not in view and "checkpoint" not in view
        assert c.get(f"/api/jobs/{mine.id}/result", headers={"Authorization": f"Bearer {token}"}).json()[
            "result"] == {"rows": 2}
        assert c.get(f"/api/jobs/{mine.id}/files/export.csv", params={"token": token}).text == "0,0\n1,1\n"
        events = c.get(f"/api/jobs/{mine.id}/events", params={"token": token})
        assert events.status_code == 200 and '"succeeded"' in events.text
        for path in [f"/api/jobs/{other.id}", f"/api/jobs/{other.id}/result", "/api/jobs", "/api/events",
                     "/api/stats", "/metrics"]:
            answer = c.get(path, params={"token": token})
            assert answer.status_code == 403, path
        assert c.post(f"/api/jobs/{mine.id}/cancel", params={"token": token}, headers=JSON).status_code == 403
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert c.get(f"/api/jobs/{mine.id}", params={"token": forged}).status_code == 401
        expired = app.follow_token(mine.id, ttl=-10)
        assert c.get(f"/api/jobs/{mine.id}", params={"token": expired}).status_code == 401


def test_a_caller_on_another_host_needs_a_token(store_url: str, remote_host: RemoteHost,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERRANDS_TOKEN", TOKEN)
    monkeypatch.setenv("ERRANDS_SECRET", "test-secret")
    app = Errands(store_url)
    define_tasks(app)
    job = app.enqueue("export", {"rows": 1})
    server, url = serve(create_app(app), host=remote_host.address)  # the default policy: loopback is trusted
    try:
        code = f"""
import httpx, json
url = {url!r}
print(json.dumps([
    httpx.get(url + "/api/jobs").status_code,
    httpx.get(url + "/api/jobs", headers={{"Authorization": "Bearer {TOKEN}"}}).status_code,
    httpx.get(url + "/api/jobs/{job.id}", params={{"token": {app.follow_token(job.id)!r}}}).status_code,
    httpx.get(url + "/healthz").status_code,
]))
"""
        done = remote_host.run_python(code)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [401, 200, 200, 200]
    finally:
        server.should_exit = True
