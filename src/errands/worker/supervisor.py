"""The worker's clock-driven duties, each when it falls due, on three threads: timeouts,
progress writes and cancel requests on one; lease renewal alone on another, so a heartbeat
never waits behind a slow store call of another duty; maintenance (the leader's rescue,
which may meet locked rows) on a third.

It only reads the worker's table of running executions and interrupts them;
it never runs task code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..errors import JobCancelled, JobTimeout, LeaseLost, StoreError
from ..maintenance import Maintenance
from ..stores.base import Store
from .execution import Execution, timeout_message

log = logging.getLogger("errands.worker")

TICK = 0.1
CANCEL_CHECK_EVERY = 1.0
RETRY_AFTER = 0.5  # seconds before a store duty that failed is tried again

Duty = tuple[str, Callable[[], float], Callable[[list[Execution]], None]]


class Supervisor:
    def __init__(
        self,
        store: Store,
        worker_id: str,
        running: Callable[[], list[Execution]],
        maintenance: Maintenance,
        heartbeat_interval: float | None,
        progress_interval: float,
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.running = running
        self.maintenance = maintenance
        self.heartbeat_interval = heartbeat_interval
        self.progress_interval = progress_interval
        self._stop = threading.Event()
        self._last_run: dict[str, float] = {}
        self._failed: set[str] = set()
        duties: dict[str, list[Duty]] = {
            "supervisor": [
                ("timeouts", lambda: TICK, self.enforce_timeouts),
                ("progress", lambda: self.progress_interval, self.write_progress),
                ("cancel", lambda: CANCEL_CHECK_EVERY, self.check_cancel_requests),
            ],
            "heartbeat": [("heartbeat", self._heartbeat_every, self.renew_leases)],
            "maintenance": [("maintenance", lambda: self.maintenance.interval, lambda _: self.maintenance.tick())],
        }
        self._threads = [
            threading.Thread(target=self._run, args=(group,), name=f"errands-{name}", daemon=True)
            for name, group in duties.items()
        ]

    def start(self) -> None:
        # Leases the first claims take are fresh: renewing them (and asking for cancels) can wait
        # one interval, not the first tick (a burst worker's whole run may be shorter than that).
        now = time.monotonic()
        self._last_run.update(heartbeat=now, cancel=now)
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        deadline = time.monotonic() + 5
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, duties: list[Duty]) -> None:
        while not self._stop.wait(TICK):
            now = time.monotonic()
            executions = self.running()
            for name, every, duty in duties:
                # Intervals are read every tick: a job with a short lease, just claimed,
                # shortens the heartbeat at once. A duty whose last round failed tries again
                # within RETRY_AFTER: the store is back, renew and record before anything expires.
                due = min(every(), RETRY_AFTER) if name in self._failed else every()
                if now - self._last_run.get(name, -1e9) < due:
                    continue
                self._last_run[name] = now
                try:
                    duty(executions)
                    self._failed.discard(name)
                except StoreError as exc:
                    self._failed.add(name)
                    log.warning("%s skipped this round: %s", name, exc)
                except Exception:
                    log.exception("%s failed this round", name)

    def _heartbeat_every(self) -> float:
        if self.heartbeat_interval is not None:
            return self.heartbeat_interval
        leases = [ex.job.lease_seconds for ex in self.running()]
        return min(leases, default=self.maintenance.settings.lease) / 3

    def enforce_timeouts(self, executions: list[Execution]) -> None:
        now = time.monotonic()
        for ex in executions:
            deadline = ex.deadline
            if (
                deadline is not None
                and now >= deadline
                and ex.ctx.interrupted is None
                and ex.task is not None
                and not ex.task.is_async
            ):
                log.warning("job %s timed out after %gs; stopping it", ex.job.id, ex.job.timeout)
                ex.interrupt(JobTimeout(timeout_message(ex)), force=True)

    def write_progress(self, executions: list[Execution]) -> None:
        pending = [(ex, ex.ctx.pending_activity()) for ex in executions]
        batch = [(ex, a) for ex, a in pending if a is not None]
        if not batch:
            return
        try:
            lost = self.store.save_activity([a for _, a in batch])
        except StoreError:
            for ex, activity in batch:
                ex.ctx.restore_activity(activity)
            raise
        self._interrupt_lost(executions, lost)

    def _interrupt_lost(self, executions: list[Execution], lost: set[int]) -> None:
        for ex in executions:
            if ex.job.id in lost:
                log.warning("job %s: lease lost (another worker owns it now); stopping this copy", ex.job.id)
                ex.interrupt(LeaseLost(f"job {ex.job.id}: lease lost"))

    def check_cancel_requests(self, executions: list[Execution]) -> None:
        if not executions:
            return
        for job_id in self.store.cancel_requests(self.worker_id):
            for ex in executions:
                if ex.job.id == job_id and ex.ctx.interrupted is None:
                    log.info("job %s: cancel requested; stopping it", job_id)
                    ex.interrupt(JobCancelled(f"job {job_id} was cancelled"))

    def renew_leases(self, executions: list[Execution]) -> None:
        report = self.store.extend_leases(self.worker_id, [ex.token for ex in executions])
        lost = {ex.job.id for ex in executions if report.held.get(ex.job.id) != ex.token and not ex.done}
        self._interrupt_lost(executions, lost)
