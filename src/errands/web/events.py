"""Live job events for Server-Sent Events: one reader of the store's event log per process,
fanned out to every connected stream.

However many clients listen, the store sees one query per poll interval (plus
one backlog read when a client connects or resumes with Last-Event-ID).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from ..errors import ErrandsError
from ..job import FINISHED, JobEvent
from ..stores.base import Store

log = logging.getLogger("errands.web")

QUEUE_LIMIT = 10_000
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
            for event in events:
                self._last_id = event.id
                delivery = (event, sse_message(event))
                for queue in list(self._subscribers):
                    self._offer(queue, delivery)
            if len(events) < 1000:
                await asyncio.sleep(self.poll_interval)

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
        backlog = await asyncio.to_thread(hub.store.events, job_id, after, 1000)
        while backlog:
            for event in backlog:
                after = event.id
                yield sse_message(event)
                if job_id is not None and ends_job(event):
                    return
            backlog = await asyncio.to_thread(hub.store.events, job_id, after, 1000) if len(backlog) == 1000 else []
        if job_id is not None and (await asyncio.to_thread(hub.store.get, job_id)).finished:
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
