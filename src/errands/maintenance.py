"""Housekeeping that keeps the store honest: rescue expired leases, promote due jobs, age jobs
that waited past `Settings.max_wait` (no priority starves), purge.

Every worker calls `tick()`; only the one holding the store's leader lease acts,
so duties run exactly once at a time across processes and hosts.
"""

from __future__ import annotations

import logging
import time

from .job import State
from .settings import Settings
from .stores.base import Store

log = logging.getLogger("errands.maintenance")

LEADER_DUTY = "maintenance"
PRUNE_EVERY = 60.0
STALE_WORKER = 300.0
SCHEDULE_GRACE = 30.0  # seconds a fire time may still run late (a leader's takeover) before it counts as missed
BLIND_SPOT = 1.0  # seconds a tick may come late before the store counts as having been out of reach


class Maintenance:
    def __init__(self, store: Store, owner: str, settings: Settings, interval: float) -> None:
        self.store = store
        self.owner = owner
        self.settings = settings
        self.interval = interval
        self.is_leader = False
        self._next_prune = 0.0
        self._last_contact: float | None = None  # monotonic time of the last tick that reached the store
        self._regained: float | None = None  # store clock when the store came back after a blind spot
        self._failed = False

    def tick(self) -> None:
        """One round of duties, if this worker is (or becomes) the leader.

        The leader lease lasts two intervals: when the leader dies, another worker
        takes over within three, so a job whose lease is at least two intervals
        (30 s against 5 s by default) is rescued within its lease plus one interval.

        A tick that failed, or came more than `BLIND_SPOT` late, means the store was out of
        reach here, so probably for the workers too: their leases then ran out unrenewed, not
        because they died. Rescue then leaves every job one lease after the store came back,
        for its worker to renew the lease or record the outcome first."""
        try:
            self.is_leader = self.store.lead(LEADER_DUTY, self.owner, ttl=self.interval * 2)
        except BaseException:
            self._failed = True
            raise
        last, self._last_contact = self._last_contact, time.monotonic()
        if self._failed or (last is not None and self._last_contact - last > self.interval + BLIND_SPOT):
            self._regained = self.store.now()
            self._failed = False
        if not self.is_leader:
            return
        for rescue in self.store.rescue_expired(since=self._regained):
            if rescue.failed:
                log.error("job %s failed: its workers kept dying while running it", rescue.job_id)
            else:
                log.warning("job %s rescued: its worker stopped renewing the lease; back in the queue", rescue.job_id)
        # Periodic jobs: every fire time up to two ticks ahead, each stored once (however many leaders),
        # due at its time; a fire time no leader reached within the grace was missed (downtime).
        self.store.fire_schedules(ahead=2 * self.interval, grace=max(SCHEDULE_GRACE, 4 * self.interval + BLIND_SPOT))
        self.store.promote_due(max_wait=self.settings.max_wait)
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY
            self.prune()

    def prune(self) -> int:
        keep = {
            State.SUCCEEDED: self.settings.keep_succeeded,
            State.CANCELLED: self.settings.keep_cancelled,
            State.FAILED: self.settings.keep_failed,
        }
        purged = self.store.purge(keep, workers_older_than=STALE_WORKER, reclaim=True)
        if purged.jobs:
            log.info("pruned %d finished job(s) past their retention (%d page(s) given back)", purged.jobs,
                     purged.pages)
        return purged.jobs

    def resign(self) -> None:
        if self.is_leader:
            self.store.lead(LEADER_DUTY, self.owner, ttl=0)
            self.is_leader = False
