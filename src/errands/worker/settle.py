"""Records how runs ended, in batches, and never gives up while the store is down.

One thread drains every outcome that is waiting into one transaction, so a
worker finishing many short jobs pays one commit for many jobs; whoever records
a batch reports it once, after the commit (the worker logs it then).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import replace

from ..backoff import pauses
from ..errors import StoreError
from ..job import JobError, Outcome, State
from ..stores.base import Store

log = logging.getLogger("errands.worker")

MAX_BATCH = 500


class Settler:
    """`on_settled(outcomes, accepted)` is called once per recorded batch, after its commit, on the
    thread that recorded it (the settler's own, or the claim loop's through `recorded`)."""

    def __init__(self, store: Store, on_settled: Callable[[list[Outcome], list[bool]], None],
                 on_idle: Callable[[], None] | None = None) -> None:
        self._store = store
        self._on_settled = on_settled
        self._on_idle = on_idle  # called when the last pending outcome is recorded
        self._queue: queue.SimpleQueue[Outcome | None] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="errands-settle", daemon=True)
        self._wake = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def submit(self, outcome: Outcome) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(outcome)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every submitted outcome is recorded (or refused)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def take(self) -> list[Outcome]:
        """Every outcome waiting now, for the claim loop to record with its next claim;
        hand them back with `recorded` (or `give_back` if that transaction failed)."""
        taken: list[Outcome] = []
        while len(taken) < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:  # closing: leave the marker for the settler thread
                self._queue.put(None)
                break
            taken.append(item)
        return taken

    def give_back(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            self._queue.put(outcome)

    def recorded(self, outcomes: list[Outcome], accepted: list[bool]) -> None:
        if outcomes:
            try:
                self._on_settled(outcomes, accepted)
            except Exception:  # a report (a log handler) that raised must not leave the batch pending
                log.exception("reporting %d recorded outcome(s) failed", len(outcomes))
        with self._idle:
            self._pending -= len(outcomes)
            self._idle.notify_all()
            idle = self._pending == 0
        if idle and outcomes and self._on_idle is not None:
            self._on_idle()

    def close(self, timeout: float | None = None) -> None:
        self._queue.put(None)
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        closing = False
        while not closing:
            first = self._queue.get()
            batch = [] if first is None else [first]
            closing = first is None
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                else:
                    batch.append(item)
            if batch:
                self._record(batch)

    def _record(self, batch: list[Outcome]) -> None:
        delays = pauses(0.05, 1.0)
        while True:
            try:
                accepted = self._store.settle(batch)
                break
            except StoreError as exc:
                # Keep the outcomes: a lease token makes a retried settle safe. Retry at least
                # every second: after an outage the outcome must land before the leader, which
                # waits one lease once the store is back, can rescue the job (5 s is common).
                delay = next(delays)
                log.warning("could not record %d outcome(s), retrying in %.2fs: %s", len(batch), delay, exc)
                self._wake.wait(delay)
            except Exception:  # a value the store refused (a bug, not an outage): the batch would fail again
                log.exception("could not record %d outcome(s); recording each alone", len(batch))
                accepted = [self._record_alone(o) for o in batch]
                break
        self.recorded(batch, accepted)

    def _record_alone(self, outcome: Outcome) -> bool:
        """One outcome on its own; if the store refuses even that, a bare failure in its place,
        so that the job ends rather than runs again. False when neither could be recorded."""
        bare = replace(outcome, state=State.FAILED, result_json=None, retry_in=None, progress=None, released=False,
                       error=JobError("OutcomeNotRecorded", "the worker could not record how this run ended; "
                                                            "its log says why"))
        for attempt in (outcome, bare):
            try:
                return self._store.settle([attempt])[0]
            except Exception:
                log.exception("job %s: outcome %s not recorded", outcome.job_id, attempt.state.value)
        return False
