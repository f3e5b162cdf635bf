"""Who counts as a trusted loopback caller: the Host must be a loopback name or address, or one
the user allows (DNS rebinding); POSTs from other sites are refused by Sec-Fetch-Site and Origin;
the admin token is taken from the Authorization header only."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from errands import Errands
from errands.web import create_app
from tests.helpers import serve
from tests.web.conftest import LiveServer, define_tasks

TOKEN = "s3cret-admin-token"


def calls(url: str, job_id: int, host: str, **headers: str) -> dict[str, int]:
    """The status of a read, a list, an enqueue and a cancel sent with this Host header."""
    sent = {"Host": host, "Origin": f"http://{host}", **headers}
    with httpx.Client(base_url=url, headers=sent) as c:
        return {
            "read": c.get(f"/api/jobs/{job_id}").status_code,
            "list": c.get("/api/jobs").status_code,
            "enqueue": c.post("/api/jobs", json={"task": "export", "args": {"rows": 1}}).status_code,
            "cancel": c.post(f"/api/jobs/{job_id}/cancel", json={}).status_code,
        }


def test_a_rebound_name_on_loopback_is_refused_for_reads_and_writes(live: LiveServer) -> None:
    port = live.url.rsplit(":", 1)[1]
    job = live.errands.enqueue("export", {"rows": 1})
    before = len(live.errands.list_jobs(limit=100))
    assert calls(live.url, job.id, f"rebind.example:{port}") == {"read": 401, "list": 401, "enqueue": 401,
                                                                  "cancel": 401}
    with httpx.Client(base_url=live.url, headers={"Host": "rebind.example"}) as c:
        answer = c.get("/api/jobs")
        assert "rebind.example" in answer.json()["error"]["message"] and "ERRANDS_ALLOWED_HOSTS" in answer.text
    assert len(live.errands.list_jobs(limit=100)) == before and live.errands.get(job.id).state.value == "queued"
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.2", f"[::1]:{port}", "LOCALHOST",
                 f"app.localhost:{port}"):
        assert calls(live.url, job.id, host)["read"] == 200, host
    assert calls(live.url, job.id, f"localhost:{port}")["enqueue"] == 202


@pytest.fixture
def allowing(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Errands, str]]:
    monkeypatch.setenv("ERRANDS_SECRET", "test-secret")
    monkeypatch.setenv("ERRANDS_TOKEN", TOKEN)
    monkeypatch.setenv("ERRANDS_ALLOWED_HOSTS", "dev.example, Other.Example:9000")
    app = Errands(store_url)
    define_tasks(app)
    server, url = serve(create_app(app))
    yield app, url
    server.should_exit = True
    app.close()


def test_hosts_the_user_allows_are_trusted_and_others_need_the_token(allowing: tuple[Errands, str]) -> None:
    app, url = allowing
    job = app.enqueue("export", {"rows": 1})
    assert calls(url, job.id, "dev.example:8000") == {"read": 200, "list": 200, "enqueue": 202, "cancel": 200}
    assert calls(url, job.id, "other.example")["read"] == 200  # names compare without port, any case
    assert calls(url, job.id, "evil.example")["read"] == 401
    with_token = calls(url, job.id, "evil.example", Authorization=f"Bearer {TOKEN}")
    assert with_token["read"] == 200 and with_token["enqueue"] == 202


def test_the_allowed_hosts_argument_of_the_app(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ERRANDS_ALLOWED_HOSTS", raising=False)
    app = Errands(store_url)
    define_tasks(app)
    server, url = serve(create_app(app, allowed_hosts=["myapp.internal"]))
    try:
        job = app.enqueue("export", {"rows": 1})
        assert calls(url, job.id, "myapp.internal:8000")["read"] == 200
        assert calls(url, job.id, "dev.example")["read"] == 401
    finally:
        server.should_exit = True
        app.close()


@pytest.mark.parametrize(("site", "status"), [("cross-site", 403), ("same-site", 403), ("same-origin", 202),
                                              ("none", 202)])
def test_posts_check_sec_fetch_site(live: LiveServer, site: str, status: int) -> None:
    with live.client(headers={"Sec-Fetch-Site": site}) as c:
        answer = c.post("/api/jobs", json={"task": "export", "args": {"rows": 1}})
        assert answer.status_code == status
        if status == 403:
            assert answer.json()["error"]["code"] == "cross_origin" and site in answer.json()["error"]["message"]
            assert live.errands.list_jobs() == []
        job = live.errands.enqueue("export", {"rows": 1})
        assert c.post(f"/api/jobs/{job.id}/cancel", json={}).status_code == (403 if status == 403 else 200)


def test_the_admin_token_is_refused_in_the_query_string(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERRANDS_SECRET", "test-secret")
    app = Errands(store_url)
    define_tasks(app)
    server, url = serve(create_app(app, token=TOKEN, trust_loopback=False))
    try:
        job = app.enqueue("export", {"rows": 1})
        with httpx.Client(base_url=url) as c:
            in_url = c.get("/api/jobs", params={"token": TOKEN})
            assert in_url.status_code == 401 and "Authorization" in in_url.json()["error"]["message"]
            assert c.get(f"/api/jobs/{job.id}", params={"token": TOKEN}).status_code == 401
            assert c.get("/api/jobs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
            follow = c.get(f"/api/jobs/{job.id}", params={"token": app.follow_token(job.id)})
            assert follow.status_code == 200 and "args" not in follow.json()
    finally:
        server.should_exit = True
        app.close()
