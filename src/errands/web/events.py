"""Live job events for Server-Sent Events: one reader of the store's event log per process,
fanned out to every connected stream.

However many clients listen, the store sees one query per poll interval (plus
one backlog read when a client connects or resumes with Last-Event-ID).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from ..errors import ErrandsError
from ..job import FINISHED, JobEvent
from ..stores.base import Store

log = logging.getLogger("errands.web")

QUEUE_LIMIT = 10_000
# PostgreSQL hands out event ids before commit, so a lower id can become visible after a
# higher one. The hub stops at a gap in the ids and waits this long for it to fill before it
# takes it for a rolled-back insert and moves on (SQLite commits in id order: no gaps).
GAP_WAIT = 1.0
Delivery = tuple[JobEvent, dict[str, str]]  # an event and its SSE message, formatted once for every client


class EventHub:
    def __init__(self, store: Store, poll_interval: float = 0.1) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.queries = 0  # store reads made by the hub, for measuring fan-out cost
        self._subscribers: set[asyncio.Queue[Delivery | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._last_id = 0
        self._gap_seen: dict[int, float] = {}  # missing id -> when the hub first saw it missing

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def subscribe(self) -> asyncio.Queue[Delivery | None]:
        """A queue that receives every event the hub reads from now on. When this returns,
        the store holds every earlier event, so a backlog read after it leaves no gap."""
        queue: asyncio.Queue[Delivery | None] = asyncio.Queue(QUEUE_LIMIT)
        self._subscribers.add(queue)
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())
        await self._ready.wait()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Delivery | None]) -> None:
        self._subscribers.discard(queue)

    async def _run(self) -> None:
        while True:
            try:
                self._last_id = await asyncio.to_thread(self.store.last_event_id)
                break
            except ErrandsError as exc:
                log.warning("event stream: store read failed: %s", exc)
                await asyncio.sleep(1)
        self._ready.set()
        while self._subscribers:
            try:
                events = await asyncio.to_thread(self.store.events, None, self._last_id, 1000)
                self.queries += 1
            except ErrandsError as exc:
                log.warning("event stream: store read failed: %s", exc)
                events = []
            ready = self._in_order(events)
            for event in ready:
                self._last_id = event.id
                delivery = (event, sse_message(event))
                for queue in list(self._subscribers):
                    self._offer(queue, delivery)
            if len(ready) < 1000:
                await asyncio.sleep(self.poll_interval)

    def _in_order(self, events: list[JobEvent]) -> list[JobEvent]:
        """The events up to the first gap in ids that may still fill (see GAP_WAIT)."""
        ready: list[JobEvent] = []
        expected = self._last_id + 1
        now = time.monotonic()
        for event in events:
            if event.id != expected:
                if now - self._gap_seen.setdefault(expected, now) < GAP_WAIT:
                    break
                del self._gap_seen[expected]
            ready.append(event)
            expected = event.id + 1
        return ready

    def _offer(self, queue: asyncio.Queue[Delivery | None], delivery: Delivery) -> None:
        try:
            queue.put_nowait(delivery)
        except asyncio.QueueFull:  # a client that stopped reading: end its stream, it can resume
            self._subscribers.discard(queue)
            queue.get_nowait()
            queue.put_nowait(None)


def event_json(event: JobEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "job_id": event.job_id,
        "at": event.at.isoformat(),
        "kind": event.kind,
        "state": event.state.value if event.state else None,
        "data": event.data,
    }


def sse_message(event: JobEvent) -> dict[str, str]:
    return {"id": str(event.id), "event": event.kind, "data": json.dumps(event_json(event))}


def ends_job(event: JobEvent) -> bool:
    return event.kind == "state" and event.state in FINISHED


async def stream(hub: EventHub, job_id: int | None, after: int) -> AsyncIterator[dict[str, str]]:
    """Events after `after` (all jobs, or one), in order, without gaps: subscribe first,
    then send the backlog from the store, then live events newer than the backlog.
    A one-job stream ends after the job's final state."""
    queue = await hub.subscribe()
    try:
        while True:  # the backlog, from the store
            backlog = await asyncio.to_thread(hub.store.events, job_id, after, 1000)
            for event in backlog:
                after = event.id
                yield sse_message(event)
                if job_id is not None and ends_job(event):
                    return
            if len(backlog) == 1000:
                continue
            # A job that ended while we read has its final events in the store: read on.
            if job_id is None or not (await asyncio.to_thread(hub.store.get, job_id)).finished:
                break
            if not backlog:
                return
        while (delivery := await queue.get()) is not None:
            live, message = delivery
            if live.id <= after or (job_id is not None and live.job_id != job_id):
                continue
            after = live.id
            yield message
            if job_id is not None and ends_job(live):
                return
    finally:
        hub.unsubscribe(queue)
