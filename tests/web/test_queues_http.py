"""Flow control over HTTP: GET /api/queues lists limits and pauses; POST /api/queues/{q}/pause
and /resume (admin, JSON only, same origin); the dashboard overview's pause/resume buttons and
a job page saying why a waiting job does not run."""

from __future__ import annotations

import re

from errands import State
from tests.web.conftest import LiveServer

JSON = {"content-type": "application/json"}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def test_the_api_pauses_and_resumes_a_queue_and_lists_it(live: LiveServer) -> None:
    with live.client() as c:
        assert c.get("/api/queues").json() == {"flows": []}
        assert c.post("/api/queues/exports/pause").status_code == 415  # a form post: refused
        assert c.post("/api/queues/exports/pause", headers={**JSON, "Origin": "http://evil.example"}).status_code == 403
        paused = c.post("/api/queues/exports/pause", headers=JSON, json={"by": "ops"})
        assert paused.status_code == 200
        assert (paused.json()["name"], paused.json()["paused"], paused.json()["paused_by"]) == ("exports", True, "ops")
        (listed,) = c.get("/api/queues").json()["flows"]
        assert (listed["kind"], listed["name"], listed["paused"]) == ("queue", "exports", True)
        job = live.errands.enqueue("export", {"rows": 1}, queue="exports")
        assert c.get(f"/api/jobs/{job.id}").json()["waiting_reason"].startswith("queue 'exports' is paused by ops at ")
        resumed = c.post("/api/queues/exports/resume", headers=JSON)
        assert resumed.json()["paused"] is False and resumed.json()["paused_by"] == "http api"
        assert c.post("/api/queues/exports/explode", headers=JSON).status_code == 404
        assert c.post("/api/queues/exports/pause", headers=JSON, json={"by": 7}).status_code == 422
        long_name = c.post(f"/api/queues/{'q' * 201}/pause", headers=JSON)
        assert long_name.status_code == 422
        assert "queue must be 1 to 200 characters" in long_name.json()["error"]["message"]


def test_the_dashboard_pauses_a_queue_and_a_job_page_says_why_it_waits(live: LiveServer) -> None:
    job = live.errands.enqueue("export", {"rows": 1}, queue="exports")
    with live.client() as c:
        page = c.get("/dashboard/")
        found = CSRF.search(page.text)
        assert page.status_code == 200 and found and 'action="/dashboard/queues/exports/pause"' in page.text
        token = found.group(1)
        assert c.post("/dashboard/queues/exports/pause", data={"csrf": "x" * 43}).status_code == 403
        paused = c.post("/dashboard/queues/exports/pause", data={"csrf": token})
        assert paused.status_code == 303 and paused.headers["location"].endswith("notice=queue_pause")
        overview = c.get("/dashboard/")
        assert 'action="/dashboard/queues/exports/resume"' in overview.text and "by dashboard" in overview.text
        assert live.errands.get(job.id).state is State.QUEUED
        assert "Queue &#39;exports&#39; is paused by dashboard at " in c.get(f"/dashboard/jobs/{job.id}").text
        resumed = c.post("/dashboard/queues/exports/resume", data={"csrf": token})
        assert resumed.status_code == 303 and not live.errands.store.flows()
        assert c.post("/dashboard/queues/exports/halt", data={"csrf": token}).status_code == 404
