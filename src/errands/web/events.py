"""Live job events for Server-Sent Events: one reader of the store's event log per process,
fanned out to every connected stream.

However many clients listen, the store sees one query per poll interval (plus
one backlog read when a client connects or resumes with Last-Event-ID). Bounded: at most
`max_streams` streams, each with a queue of `queue_limit` events; a client that falls that far
behind gets an `overflow` event and its stream ends (it resumes with Last-Event-ID).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from ..errors import ErrandsError, StoreClosed
from ..job import FINISHED, JobEvent
from ..stores.base import Store

log = logging.getLogger("errands.web")

MAX_STREAMS = 1000
QUEUE_LIMIT = 10_000  # ten reads of the hub: a client keeping up never comes near it
# PostgreSQL hands out event ids before commit, so a lower id can become visible after a
# higher one. The hub stops at a gap in the ids and waits this long for it to fill before it
# takes it for a rolled-back insert and moves on (SQLite commits in id order: no gaps).
GAP_WAIT = 1.0
Delivery = tuple[JobEvent, dict[str, str]]  # an event and its SSE message, formatted once for every client
OVERFLOW = "overflow"  # queued in place of the rest for a client that fell too far behind


class TooManyStreams(Exception):
    """Every stream slot of this process is taken."""


class EventHub:
    def __init__(
        self, store: Store, poll_interval: float = 0.1, max_streams: int = MAX_STREAMS, queue_limit: int = QUEUE_LIMIT
    ) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.max_streams = max_streams
        self.queue_limit = queue_limit
        self.dropped = 0  # streams ended because their client fell behind
        self.gap_wait = GAP_WAIT
        self.queries = 0  # store reads made by the hub, for measuring fan-out cost
        self._subscribers: set[asyncio.Queue[Delivery | str]] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._last_id = 0
        self._gap_seen: dict[int, float] = {}  # missing id -> when the hub first saw it missing

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def pending_gaps(self) -> int:
        """Missing event ids the hub is waiting for (forgotten once filled or given up)."""
        return len(self._gap_seen)

    async def subscribe(self) -> asyncio.Queue[Delivery | str]:
        """A queue that receives every event the hub reads from now on. When this returns,
        the store holds every earlier event, so a backlog read after it leaves no gap.
        Raises TooManyStreams when `max_streams` are open."""
        if len(self._subscribers) >= self.max_streams:
            raise TooManyStreams(f"this process already serves {self.max_streams} event streams; try again later")
        # One slot more than the limit, for the OVERFLOW marker.
        queue: asyncio.Queue[Delivery | str] = asyncio.Queue(self.queue_limit + 1)
        self._subscribers.add(queue)
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())
        await self._ready.wait()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Delivery | str]) -> None:
        self._subscribers.discard(queue)

    async def _run(self) -> None:
        """Read the event log for the subscribers while there are any; a store closed under it (the
        app shutting down) ends it quietly."""
        try:
            await self._read_for_subscribers()
        except StoreClosed:
            log.info("event stream: the store is closed; the hub stops")
        finally:
            self._ready.set()  # (a subscriber waiting for the first read must not wait for ever)

    async def _read_for_subscribers(self) -> None:
        while True:
            try:
                self._last_id = await asyncio.to_thread(self.store.last_event_id)
                break
            except StoreClosed:
                raise
            except ErrandsError as exc:
                log.warning("event stream: store read failed: %s", exc)
                await asyncio.sleep(1)
        self._ready.set()
        while self._subscribers:
            try:
                events = await asyncio.to_thread(self.store.events, None, self._last_id, 1000)
                self.queries += 1
            except StoreClosed:
                raise
            except ErrandsError as exc:
                log.warning("event stream: store read failed: %s", exc)
                events = []
            ready = self._in_order(events)
            for event in ready:
                self._last_id = event.id
                delivery = (event, sse_message(event))
                for queue in list(self._subscribers):
                    self._offer(queue, delivery)
            self._forget_filled_gaps()
            if len(ready) < 1000:
                await asyncio.sleep(self.poll_interval)

    def _in_order(self, events: list[JobEvent]) -> list[JobEvent]:
        """The events up to the first gap in ids that may still fill (see GAP_WAIT)."""
        ready: list[JobEvent] = []
        expected = self._last_id + 1
        now = time.monotonic()
        for event in events:
            if event.id != expected:
                if now - self._gap_seen.setdefault(expected, now) < self.gap_wait:
                    break
                del self._gap_seen[expected]
            ready.append(event)
            expected = event.id + 1
        return ready

    def _forget_filled_gaps(self) -> None:
        """A gap the hub waited for and then read past has filled: forget it."""
        for missing in [i for i in self._gap_seen if i <= self._last_id]:
            del self._gap_seen[missing]

    def _offer(self, queue: asyncio.Queue[Delivery | str], delivery: Delivery) -> None:
        if queue.qsize() >= self.queue_limit:  # a client that stopped reading: end its stream, it can resume
            self._subscribers.discard(queue)
            self.dropped += 1
            queue.put_nowait(OVERFLOW)
            return
        queue.put_nowait(delivery)


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


async def stream(
    hub: EventHub, queue: asyncio.Queue[Delivery | str], job_id: int | None, after: int
) -> AsyncIterator[dict[str, str]]:
    """Events after `after` (all jobs, or one), in order, without gaps, from a queue the caller
    subscribed before: first the backlog from the store, then live events newer than the
    backlog. A one-job stream ends after the job's final state, or with an `overflow` event
    when the client fell too far behind (reconnect with Last-Event-ID to resume)."""
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
        while not isinstance(delivery := await queue.get(), str):
            live, message = delivery
            if live.id <= after or (job_id is not None and live.job_id != job_id):
                continue
            after = live.id
            yield message
            if job_id is not None and ends_job(live):
                return
        data = {"reason": f"the client fell {hub.queue_limit} events behind", "last_event_id": after}
        yield {"event": OVERFLOW, "data": json.dumps(data)}
    finally:
        hub.unsubscribe(queue)
