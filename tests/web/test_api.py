"""Every endpoint through a live server, including the error cases."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import wait_until
from tests.web.conftest import LiveServer

JSON = {"content-type": "application/json"}


def finished(live: LiveServer, job_id: int) -> dict[str, Any]:
    with live.client() as c:
        done: dict[str, Any] = wait_until(lambda: (job := c.get(f"/api/jobs/{job_id}").json())["state"] in
                                          ("succeeded", "failed", "cancelled") and job)
    return done


def test_enqueue_run_read_result_and_files(live: LiveServer, worker: None) -> None:
    with live.client() as c:
        created = c.post("/api/jobs", json={"task": "export", "args": {"rows": 3}, "priority": 2})
        assert created.status_code == 202
        body = created.json()
        assert body["state"] == "queued" and body["url"] == f"/api/jobs/{body['id']}"
        job = finished(live, body["id"])
        assert job["state"] == "succeeded" and job["priority"] == 2 and job["args"] == {"rows": 3}
        assert job["progress"] == {"current": 3, "total": 3, "message": "row 3", "fraction": 1.0}
        assert c.get(f"/api/jobs/{body['id']}/result").json() == {"id": body["id"], "state": "succeeded",
                                                                    "result": {"rows": 3}}
        files = c.get(f"/api/jobs/{body['id']}/files").json()["files"]
        assert {f["name"] for f in files} == {"export.csv", 'we"ird.txt'}
        download = c.get(f"/api/jobs/{body['id']}/files/export.csv")
        assert download.status_code == 200 and download.text == "0,0\n1,1\n2,4\n"
        assert download.headers["content-type"].startswith("text/csv")
        assert download.headers["content-disposition"] == 'attachment; filename="export.csv"'
        assert c.get(f"/api/jobs/{body['id']}/files/nope.csv").status_code == 404


def test_result_of_unfinished_and_failed_jobs_is_a_409(live: LiveServer) -> None:
    with live.client() as c:
        queued = c.post("/api/jobs", json={"task": "export", "args": {"rows": 1}}).json()
        answer = c.get(f"/api/jobs/{queued['id']}/result")
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "not_finished"
    failing = live.errands.enqueue("explode", {})
    live.errands.start_worker().stop()  # nothing to see here: run it in a worker below
    from tests.helpers import drain

    drain(live.errands)
    with live.client() as c:
        answer = c.get(f"/api/jobs/{failing.id}/result")
        assert answer.status_code == 409 and "RuntimeError: kaboom" in answer.json()["error"]["message"]


def test_list_filters_and_paginates(live: LiveServer) -> None:
    ids = [live.errands.enqueue("export", {"rows": i}).id for i in range(5)]
    live.errands.cancel(ids[0])
    with live.client() as c:
        page = c.get("/api/jobs", params={"limit": 2}).json()
        assert [j["id"] for j in page["jobs"]] == [ids[4], ids[3]] and page["next_cursor"] == ids[3]
        rest = c.get("/api/jobs", params={"limit": 10, "cursor": page["next_cursor"]}).json()
        assert [j["id"] for j in rest["jobs"]] == [ids[2], ids[1], ids[0]] and rest["next_cursor"] is None
        cancelled = c.get("/api/jobs", params={"state": "cancelled"}).json()["jobs"]
        assert [j["id"] for j in cancelled] == [ids[0]]
        assert c.get("/api/jobs", params={"task": "explode"}).json()["jobs"] == []
        for bad in ({"limit": 0}, {"limit": "x"}, {"state": "sleeping"}, {"cursor": "z"}):
            answer = c.get("/api/jobs", params=bad)
            assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid"


def test_cancel_and_retry(live: LiveServer) -> None:
    job = live.errands.enqueue("export", {"rows": 1})
    with live.client() as c:
        assert c.post(f"/api/jobs/{job.id}/cancel", headers=JSON).json()["state"] == "cancelled"
        assert c.post(f"/api/jobs/{job.id}/retry", headers=JSON).json()["state"] == "queued"
        again = c.post(f"/api/jobs/{job.id}/retry", headers=JSON)
        assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"
        assert c.post("/api/jobs/999999/cancel", headers=JSON).status_code == 404


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b'{"task": "internal"}', JSON, 404, "not_found"),
        (b'{"task": "no-such-task"}', JSON, 404, "not_found"),
        (b"{not json", JSON, 400, "bad_json"),
        (b"[1, 2]", JSON, 422, "invalid"),
        (b'{"task": "export", "args": {"rows": 1}, "colour": "red"}', JSON, 422, "invalid"),
        (b'{"task": "export", "args": {"rows": 1}, "priority": "high"}', JSON, 422, "invalid"),
        (b'{"task": "export", "args": {"rows": 1}, "delay": true}', JSON, 422, "invalid"),
        (b'{"args": {}}', JSON, 422, "invalid"),
        (b'{"task": "export", "args": {"lines": 1}}', JSON, 422, "invalid"),
        (b'{"task": "export", "args": {"rows": 1}}', {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        (b'{"task": "export", "args": {"rows": 1}}', {**JSON, "origin": "http://evil.example"}, 403, "cross_origin"),
        (b'{"task": "export", "args": {"blob": "' + b"x" * 1_100_000 + b'"}}', JSON, 413, "too_large"),
    ],
)
def test_bad_enqueue_requests_get_clear_json_errors_and_store_nothing(live: LiveServer, body: bytes,
                                                                    headers: dict[str, str], status: int,
                                                                    code: str) -> None:
    with live.client() as c:
        answer = c.post("/api/jobs", content=body, headers=headers)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code and answer.json()["error"]["message"]
    assert live.errands.list_jobs() == []


def test_private_and_missing_tasks_look_the_same(live: LiveServer) -> None:
    with live.client() as c:
        private = c.post("/api/jobs", json={"task": "internal"}).json()["error"]["message"]
        missing = c.post("/api/jobs", json={"task": "nothing"}).json()["error"]["message"]
    assert private.replace("internal", "X") == missing.replace("nothing", "X")


def test_stats_health_metrics_openapi_and_script(live: LiveServer, worker: None) -> None:
    with live.client() as c:
        c.get("/metrics")  # an early scrape changes nothing: counters count from the start of the app
        job = c.post("/api/jobs", json={"task": "export", "args": {"rows": 2}}).json()
        finished(live, job["id"])
        stats = c.get("/api/stats").json()
        assert stats["queues"] == {"default": {"succeeded": 1}} and len(stats["workers"]) == 1
        assert c.get("/healthz").json() == {"status": "ok"}
        metrics = c.get("/metrics").text
        assert 'errands_jobs_finished_total{state="succeeded",task="export"} 1.0' in metrics
        assert 'errands_jobs_enqueued_total{task="export"} 1.0' in metrics
        assert 'errands_job_runtime_seconds_count{task="export"} 1.0' in metrics
        assert "errands_workers_alive 1.0" in metrics
        document = c.get("/api/openapi.json").json()
        assert document["openapi"] == "3.1.0" and "/api/jobs/{job_id}/events" in document["paths"]
        script = c.get("/errands.js")
        assert script.headers["content-type"].startswith("text/javascript") and "follow" in script.text
        assert c.get("/api/jobs/424242").json()["error"]["code"] == "not_found"
