"""Prometheus metrics, read at scrape time: job counts and live workers from the store, and
counters and run-time histograms from the event log written since this process started
(since the app was created, not since the first scrape).

Waiting and running jobs are counted at every scrape, through their partial indexes. Finished jobs
are counted at most once every `finished_every` seconds: counting them reads them all (half a second
for a million on SQLite), and a store that keeps history holds mostly them."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from starlette.responses import Response

from ..job import FINISHED, State
from ..stores.base import Store
from .events import EventHub

BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, float("inf"))
ALIVE_WITHIN = 60.0
FINISHED_EVERY = 60.0  # seconds between two counts of the finished jobs


class Metrics(Collector):
    def __init__(self, store: Store, hub: EventHub | None = None, finished_every: float = FINISHED_EVERY) -> None:
        self.store = store
        self.hub = hub
        self.finished_every = finished_every
        self._finished_counts: dict[tuple[str, str], int] = {}  # (queue, state) as last counted
        self._finished_read: float | None = None  # time.monotonic() of that count
        self._lock = threading.Lock()
        self._after = store.last_event_id()  # counters count from here
        self._enqueued: Counter[str] = Counter()
        self._started: Counter[str] = Counter()
        self._finished: Counter[tuple[str, str]] = Counter()
        self._runtimes: dict[str, list[int]] = {}
        self._runtime_sums: dict[str, float] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    async def response(self) -> Response:
        body = await asyncio.to_thread(generate_latest, self.registry)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    def _tail_events(self) -> None:
        while events := self.store.events(None, self._after, 5000):
            for e in events:
                self._after = e.id
                if e.kind != "state" or not e.data or not e.data.get("task"):
                    continue
                task = str(e.data["task"])
                if e.state in (State.QUEUED, State.SCHEDULED) and set(e.data) == {"task"}:  # as stored
                    self._enqueued[task] += 1
                elif e.state is State.RUNNING:
                    self._started[task] += 1
                elif e.state in FINISHED:
                    self._finished[(task, e.state.value)] += 1
                    if e.data.get("runtime") is not None:
                        self._observe(task, float(e.data["runtime"]))

    def _observe(self, task: str, seconds: float) -> None:
        counts = self._runtimes.setdefault(task, [0] * len(BUCKETS))
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
        self._runtime_sums[task] = self._runtime_sums.get(task, 0.0) + seconds

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        with self._lock:
            self._tail_events()
            jobs = GaugeMetricFamily("errands_jobs", "Jobs in the store by queue and state", labels=["queue", "state"])
            depth = GaugeMetricFamily("errands_queue_depth", "Jobs waiting to run, by queue", labels=["queue"])
            for queue, states in self._job_counts().items():
                for state, n in states.items():
                    jobs.add_metric([queue, state], n)
                depth.add_metric([queue], states.get("queued", 0) + states.get("scheduled", 0))
            now = self.store.now()
            alive = sum(1 for w in self.store.workers() if now - w.last_seen < ALIVE_WITHIN)
            yield jobs
            yield depth
            yield GaugeMetricFamily("errands_workers_alive", "Workers seen in the last minute", value=alive)
            yield self._counter("errands_jobs_enqueued", "Jobs enqueued", self._enqueued)
            yield self._counter("errands_jobs_started", "Runs started (attempts)", self._started)
            finished = CounterMetricFamily(
                "errands_jobs_finished", "Jobs finished, by final state", labels=["task", "state"]
            )
            for (task, state), n in self._finished.items():
                finished.add_metric([task, state], n)
            yield finished
            runtime = HistogramMetricFamily("errands_job_runtime_seconds", "Run time of finished jobs", labels=["task"])
            for task, counts in self._runtimes.items():
                buckets = [(("+Inf" if b == float("inf") else str(b)), c) for b, c in zip(BUCKETS, counts, strict=True)]
                runtime.add_metric([task], buckets, self._runtime_sums[task])
            yield runtime
            if self.hub is not None:
                yield GaugeMetricFamily("errands_event_streams", "Open SSE streams in this process",
                                        value=self.hub.subscribers)
                yield CounterMetricFamily("errands_event_hub_reads", "Event-log reads made by this process's hub",
                                          value=self.hub.queries)

    def _job_counts(self) -> dict[str, dict[str, int]]:
        """Jobs per queue and state: the unfinished counted now, the finished as last counted."""
        due = self._finished_read is None or time.monotonic() - self._finished_read >= self.finished_every
        counts = self.store.counts(finished=due)
        if due:
            self._finished_read = time.monotonic()
            self._finished_counts = {(queue, state): n for queue, states in counts.items()
                                     for state, n in states.items() if state in FINISHED}
            return counts
        for (queue, state), n in self._finished_counts.items():
            counts.setdefault(queue, {})[state] = n
        return counts

    @staticmethod
    def _counter(name: str, documentation: str, values: Counter[str]) -> CounterMetricFamily:
        family = CounterMetricFamily(name, documentation, labels=["task"])
        for task, n in values.items():
            family.add_metric([task], n)
        return family
