"""Server-Sent Events from a live server, for jobs run by a real worker."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from errands import State
from tests.web.conftest import LiveServer, hub_of


def read_events(client: httpx.Client, path: str, limit: int | None = None,
                headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Parse an SSE stream until it ends (or `limit` events)."""
    events: list[dict[str, Any]] = []
    with client.stream("GET", path, headers=headers or {}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        current: dict[str, str] = {}
        for line in response.iter_lines():
            if not line:
                if "data" in current:
                    events.append(json.loads(current["data"]) | {"sse_id": current.get("id"),
                                                                 "sse_event": current.get("event")})
                    if limit is not None and len(events) >= limit:
                        break
                current = {}
                continue
            field, _, value = line.partition(":")
            current[field] = value.strip()
    return events


def test_a_client_sees_queued_running_progress_succeeded_in_order(live: LiveServer, worker: None) -> None:
    job = live.errands.enqueue("export", {"rows": 30, "pause": 0.05})
    with live.client() as c:
        events = read_events(c, f"/api/jobs/{job.id}/events")  # returns: the stream ends with the job
    kinds = [(e["kind"], e["state"]) for e in events]
    assert kinds[0] == ("state", "queued") and kinds[1] == ("state", "running")
    assert kinds[-1] == ("state", "succeeded")
    progress = [e["data"]["current"] for e in events if e["kind"] == "progress"]
    assert progress and progress == sorted(progress)
    assert [int(e["sse_id"]) for e in events] == sorted(int(e["sse_id"]) for e in events)
    assert all(e["sse_event"] == e["kind"] and e["job_id"] == job.id for e in events)


def test_reconnecting_with_last_event_id_loses_nothing(live: LiveServer, worker: None) -> None:
    job = live.errands.enqueue("export", {"rows": 40, "pause": 0.05})
    with live.client() as c:
        first = read_events(c, f"/api/jobs/{job.id}/events", limit=3)
        time.sleep(0.6)  # events keep happening while the client is away
        rest = read_events(c, f"/api/jobs/{job.id}/events", headers={"Last-Event-ID": first[-1]["sse_id"]})
    seen = [e["id"] for e in first + rest]
    stored = [e.id for e in live.errands.events(job.id)]
    assert seen == stored  # every event once, in order, none missing
    assert rest[-1]["state"] == "succeeded"


def test_the_stream_of_a_finished_job_replays_and_ends(live: LiveServer) -> None:
    job = live.errands.enqueue("export", {"rows": 1})
    live.errands.cancel(job.id)
    with live.client() as c:
        events = read_events(c, f"/api/jobs/{job.id}/events")
        assert [e["state"] for e in events] == ["queued", "cancelled"]
        assert c.get("/api/jobs/99999/events").status_code == 404
        assert c.get(f"/api/jobs/{job.id}/events", headers={"Last-Event-ID": "x"}).status_code == 422


def test_the_all_jobs_stream_carries_every_job(live: LiveServer, worker: None) -> None:
    with live.client() as c:
        with c.stream("GET", "/api/events") as response:
            ids = {live.errands.enqueue("export", {"rows": 1}).id for _ in range(3)}
            done: set[int] = set()
            for line in response.iter_lines():
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    if event["state"] == State.SUCCEEDED.value:
                        done.add(event["job_id"])
                if done == ids:
                    break
    assert done == ids


def test_many_clients_share_one_reader_of_the_store(live: LiveServer, worker: None) -> None:
    """200 streams of one job: the hub's store reads follow the clock, not the client count."""
    job = live.errands.enqueue("export", {"rows": 20, "pause": 0.05})

    async def follow(client: httpx.AsyncClient) -> list[int]:
        seen = []
        async with client.stream("GET", f"/api/jobs/{job.id}/events") as response:
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    seen.append(json.loads(line[5:])["id"])
        return seen

    async def crowd() -> list[list[int]]:
        limits = httpx.Limits(max_connections=300)
        async with httpx.AsyncClient(base_url=live.url, timeout=60, limits=limits) as client:
            return await asyncio.gather(*(follow(client) for _ in range(200)))

    hub = hub_of(live.server)
    started, before = time.monotonic(), hub.queries
    counts = asyncio.run(crowd())
    elapsed, reads = time.monotonic() - started, hub.queries - before
    stored = [e.id for e in live.errands.events(job.id)]
    assert counts == [stored] * 200, (counts[0], [(e.id, e.kind, e.state) for e in live.errands.events(job.id)])
    assert reads <= elapsed / 0.02 + 5  # one poll per interval (0.02 s here), however many clients
