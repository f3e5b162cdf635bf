"""Bounded event streams: a limit on open streams (503 past it), a bounded queue per client (a
client too far behind gets an `overflow` event and its stream ends), and gaps in event ids
forgotten once they fill."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import httpx

from errands import Errands
from errands.stores import open_store
from errands.web import create_app
from errands.web.events import EventHub, stream
from tests.helpers import serve, sqlite_url, wait_until
from tests.web.conftest import define_tasks, hub_of


def test_streams_past_the_limit_get_a_503_and_a_closed_one_frees_its_slot(store_url: str) -> None:
    app = Errands(store_url)
    define_tasks(app)
    job = app.enqueue("export", {"rows": 1})
    server, url = serve(create_app(app, max_streams=2, poll_interval=0.02))
    hub = hub_of(server)
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            with c.stream("GET", "/api/events") as first, c.stream("GET", f"/api/jobs/{job.id}/events") as second:
                assert first.status_code == second.status_code == 200
                assert hub.subscribers == 2
                for path in ("/api/events", f"/api/jobs/{job.id}/events"):
                    refused = c.get(path)
                    assert refused.status_code == 503 and refused.json()["error"]["code"] == "too_many_streams"
            wait_until(lambda: hub.subscribers == 0)
            with c.stream("GET", "/api/events") as again:
                assert again.status_code == 200
    finally:
        server.should_exit = True
        app.close()


async def follow_without_reading(app: Errands, queue_limit: int, events: int) -> tuple[EventHub, list[dict[str, str]]]:
    hub = EventHub(app.store, poll_interval=0.01, queue_limit=queue_limit)
    after = app.store.last_event_id()
    queue = await hub.subscribe()
    for rows in range(events):  # one `queued` event each
        await app.enqueue_async("export", {"rows": rows})
    while hub.subscribers:  # the hub drops the client that does not read
        await asyncio.sleep(0.01)
    assert queue.qsize() == queue_limit + 1  # never more than the limit, plus the marker
    sent = [message async for message in stream(hub, queue, None, after)]
    return hub, sent


def test_a_client_that_falls_too_far_behind_gets_an_overflow_event_and_its_stream_ends(tmp_path: Path) -> None:
    app = Errands(sqlite_url(tmp_path))
    define_tasks(app)
    hub, sent = asyncio.run(follow_without_reading(app, queue_limit=5, events=20))
    assert hub.dropped == 1 and hub.subscribers == 0
    *events, last = sent
    assert [m["event"] for m in events] == ["state"] * 20  # the backlog from the store, in order
    assert last["event"] == "overflow"
    assert json.loads(last["data"])["last_event_id"] == int(events[-1]["id"])
    app.close()


async def fill_a_gap(path: Path, job_id: int) -> tuple[EventHub, list[int], int]:
    store = open_store(sqlite_url(path.parent))
    hub = EventHub(store, poll_interval=0.01)
    hub.gap_wait = 600.0  # the gap fills long before the hub would give up on it
    queue = await hub.subscribe()
    last = store.last_event_id()
    writer = sqlite3.connect(path, isolation_level=None)
    insert = "INSERT INTO job_events (id, job_id, at, kind, state, data) VALUES (?, ?, 0, 'log', NULL, '{}')"
    writer.execute(insert, (last + 2, job_id))  # as if the insert of last + 1 had not committed yet
    while hub.pending_gaps != 1:
        await asyncio.sleep(0.01)
    writer.execute(insert, (last + 1, job_id))
    delivered: list[int] = []
    while len(delivered) < 2:
        delivery = await asyncio.wait_for(queue.get(), 30)
        assert not isinstance(delivery, str)
        delivered.append(delivery[0].id - last)
    pending = hub.pending_gaps
    hub.unsubscribe(queue)
    writer.close()
    store.close()
    return hub, delivered, pending


def test_the_hub_forgets_a_gap_once_it_fills(tmp_path: Path) -> None:
    app = Errands(sqlite_url(tmp_path))
    define_tasks(app)
    job = app.enqueue("export", {"rows": 1})
    _, delivered, pending = asyncio.run(fill_a_gap(tmp_path / "errands.db", job.id))
    assert delivered == [1, 2] and pending == 0
    app.close()
