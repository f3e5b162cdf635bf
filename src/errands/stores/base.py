"""The store seam: every durable read and write errands makes, grouped by who calls it.

`Store` opens the transaction each call needs and hands it to the job logic, which lives in
modules by caller (produce, leases, upkeep, control, reads). A dialect supplies the private
hooks: transactions, reads, the caller's own transaction, its clock and health probe, the
change signal and migrations. Calls take and return records, never rows.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from ..errors import ConfigError, InvalidTransition
from ..job import Job, JobEvent, JobFile, NewJob, Outcome, State
from ..schedules import NewSchedule, Schedule
from . import control, flow, leases, produce, reads, upkeep
from . import schedules as periodic
from .aftermath import FollowUps
from .flow import Flow, Key, Limits
from .records import job_from_row
from .values import (
    Activity,
    BulkAction,
    ChangeWatcher,
    Claim,
    LeaseReport,
    Purged,
    Readiness,
    Rescue,
    Tx,
    Unserved,
    WorkerInfo,
    unserved_reason,
)

__all__ = ["Activity", "ChangeWatcher", "Claim", "Flow", "LeaseReport", "Limits", "Purged", "Readiness", "Rescue",
           "Store", "Unserved", "WorkerInfo"]


class Store(abc.ABC):
    """A durable home for jobs. Safe to call from any thread."""

    url: str
    # The jobs (notifications) to store when a job ends, in the same transaction; given at construction.
    _follow_ups: FollowUps | None = None

    # -- dialect hooks --------------------------------------------------------------

    @abc.abstractmethod
    def _transaction(self) -> AbstractContextManager[Tx]:
        """A write transaction; commits on exit, rolls back on error."""

    @abc.abstractmethod
    def _read(self) -> AbstractContextManager[Tx]:
        """A read-only view of the store."""

    def _foreign_transaction(self, connection: Any) -> AbstractContextManager[Tx]:
        """The caller's own open transaction on their connection; commit and rollback stay theirs."""
        raise ConfigError(f"{type(self).__name__} cannot write inside your transaction")

    def _reclaim_space(self) -> int:
        """Give pages freed by deletes back to the file system where the dialect must be told
        (SQLite); returns how many. PostgreSQL's autovacuum does this by itself."""
        return 0

    # -- producer -------------------------------------------------------------------

    def enqueue(self, new: NewJob, connection: Any = None) -> tuple[Job, bool]:
        """Store one job; returns (job, created), created False when an unfinished job holds its unique
        key. With `connection`, written in the caller's open transaction: it exists iff they commit."""
        with self._transaction() if connection is None else self._foreign_transaction(connection) as tx:
            row, created = produce.insert(tx, new)
        return job_from_row(row), created

    def enqueue_many(self, jobs: Sequence[NewJob]) -> list[int]:
        """Store many jobs in one transaction, all or nothing; returns their ids in order."""
        with self._transaction() as tx:
            return produce.insert_many(tx, jobs)

    def enqueue_alike(self, new: NewJob) -> list[int]:
        """Store one job per element of `new.args_json`, a JSON array of argument objects, each job
        otherwise as `new` says (it has no unique key and no parent), in one transaction, all or
        nothing; returns their ids in order."""
        if not produce.alone(new):
            raise ValueError("enqueue_alike stores jobs without a unique key or a parent")
        with self._transaction() as tx:
            return produce.insert_alike(tx, new, new.args_json)

    # -- worker ---------------------------------------------------------------------

    def claim(self, worker_id: str, queues: Sequence[str] | None, limit: int, tasks: Sequence[str] | None = None,
              *, settle: Sequence[Outcome] = ()) -> Claim:
        """Settle `settle` (as `settle` does), then lease up to `limit` due jobs (of `tasks` when given)
        with fresh lease tokens, in one commit, within the concurrency and rate limits and skipping
        paused queues (stores/flow.py)."""
        with self._transaction() as tx:
            accepted = leases.settle(tx, settle, self._follow_ups)
            jobs, opens_in = leases.claim(tx, worker_id, queues, limit, tasks)
            return Claim(jobs, accepted, opens_in)

    def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Record how runs ended, in one transaction; each is accepted only while its lease token
        still holds the job (fencing). Returns which were."""
        with self._transaction() as tx:
            return leases.settle(tx, outcomes, self._follow_ups)

    def ready(self, queues: Sequence[str] | None, tasks: Sequence[str] | None = None, *,
              retrying: bool = False) -> Readiness:
        """Whether a due job waits (a read, no lock), and with `retrying` how many failed jobs await a retry."""
        with self._read() as tx:
            return leases.ready(tx, queues, tasks, retrying)

    def extend_leases(self, worker_id: str, tokens: Sequence[str]) -> LeaseReport:
        """Renew the leases the worker knows it holds (by token); a claim that never reached it expires."""
        with self._transaction() as tx:
            return leases.extend_leases(tx, worker_id, tokens)

    def cancel_requests(self, worker_id: str) -> set[int]:
        """Ids of the worker's running jobs someone asked to cancel (a cheap read, asked every second)."""
        with self._read() as tx:
            return leases.cancel_requests(tx, worker_id)

    def save_activity(self, batch: Sequence[Activity]) -> set[int]:
        """Write buffered progress and log lines; returns the ids whose lease is lost."""
        with self._transaction() as tx:
            return leases.save_activity(tx, batch)

    def save_checkpoint(self, job_id: int, lease_token: str, checkpoint_json: str, *, announce: bool = True,
                        count: int | None = None) -> bool:
        """Record resumable state; False when the lease was lost. `announce` False skips the event."""
        with self._transaction() as tx:
            return leases.save_checkpoint(tx, job_id, lease_token, checkpoint_json, announce, count)

    def save_file(self, job_id: int, lease_token: str, name: str, content_type: str, data: bytes) -> bool:
        """Store a result file; False when the lease was lost (nothing written)."""
        with self._transaction() as tx:
            return leases.save_file(tx, job_id, lease_token, name, content_type, data)

    def register_worker(self, info: WorkerInfo, limits: Mapping[Key, Limits] | None = None) -> None:
        """Record a worker as started (or update it), with the queue and task limits its code
        declares (by ("queue" | "task", name); the newest declaration wins)."""
        with self._transaction() as tx:
            leases.register_worker(tx, info)
            flow.declare(tx, dict(limits or {}))

    def deregister_worker(self, worker_id: str) -> None:
        """Remove a worker that stops."""
        with self._transaction() as tx:
            leases.deregister_worker(tx, worker_id)

    @abc.abstractmethod
    def watch(self) -> ChangeWatcher:
        """A change signal for one waiting thread (cheap to poll, no busy work)."""

    # -- upkeep ---------------------------------------------------------------------

    def lead(self, name: str, owner: str, ttl: float) -> bool:
        """Become or stay leader of a duty for `ttl` seconds (False: another holds it); ttl 0 resigns."""
        with self._transaction() as tx:
            return upkeep.lead(tx, name, owner, ttl)

    def rescue_expired(self, since: float | None = None) -> list[Rescue]:
        """Requeue running jobs whose lease expired (checkpoint kept), or fail those whose workers died
        `max_worker_losses` times. `since` (store clock): when the caller regained the store after an
        outage; jobs then get one lease after it to be renewed."""
        with self._transaction() as tx:
            return upkeep.rescue_expired(tx, since, self._follow_ups)

    def promote_due(self, max_wait: float | None = None) -> int:
        """Move scheduled jobs whose time came to `queued`; returns how many. With `max_wait`, also
        raise each due job waiting longer than that behind higher priorities to the highest one
        due in its queue (aging, with an "aged" event), so that no priority starves."""
        with self._transaction() as tx:
            promoted = upkeep.promote_due(tx)
            if max_wait is not None:
                upkeep.age_overdue(tx, max_wait)
            return promoted

    def fire_schedules(self, ahead: float, grace: float) -> int:
        """Store the jobs of every active schedule's fire times up to `ahead` seconds from now (each
        fire time once, however many callers); times older than `grace` count as missed."""
        with self._transaction() as tx:
            return periodic.fire(tx, ahead, grace)

    def purge(self, older_than: Mapping[State, float], *, workers_older_than: float | None = None,
              reclaim: bool = False, batch: int = 1000) -> Purged:
        """Delete jobs of finished states (with events and files) that ended more than `older_than[state]`
        seconds ago, in batches to keep locks short; forget workers unseen for `workers_older_than`; with
        `reclaim`, give the space back to the disk when jobs were deleted."""
        removed = 0
        for state, age in older_than.items():
            while True:
                with self._transaction() as tx:
                    deleted = upkeep.purge_batch(tx, state, age, batch)
                removed += deleted
                if deleted < batch:
                    break
        if workers_older_than is not None:
            with self._transaction() as tx:
                upkeep.forget_workers(tx, workers_older_than)
        return Purged(removed, self._reclaim_space() if reclaim and removed else 0)

    # -- control --------------------------------------------------------------------

    def cancel(self, job_id: int) -> Job:
        """Cancel a waiting job at once; ask the worker to stop a running one. A finished job is
        returned unchanged."""
        with self._transaction() as tx:
            events: list[dict[str, Any]] = []
            control.cancel(tx, job_id, self._follow_ups, events)
            produce.insert_events(tx, events)
        return self.get(job_id)

    def retry(self, job_id: int) -> Job:
        """Put a failed or cancelled job back in the queue, keeping its checkpoint; InvalidTransition otherwise."""
        with self._transaction() as tx:
            events: list[dict[str, Any]] = []
            if not control.retry(tx, job_id, events):
                job = produce.select_job(tx, job_id)
                raise InvalidTransition(f"job {job_id} is {job.state.value}; only failed or cancelled jobs can be "
                                        "retried")
            produce.insert_events(tx, events)
        return self.get(job_id)

    def pause(self, queue: str, paused: bool = True, by: str | None = None) -> Flow:
        """Pause a queue (claims that begin after this returns skip it; running jobs finish), or resume
        it with `paused` False; records who did it and when. Returns the queue's flow row."""
        with self._transaction() as tx:
            return flow.set_paused(tx, queue, paused, by)

    def bulk(self, action: BulkAction, ids: Sequence[int]) -> list[int]:
        """Retry, cancel or delete these jobs in one transaction; returns the ids it changed. Retry
        takes failed or cancelled jobs, cancel unfinished ones, delete finished ones."""
        if not ids:
            return []
        with self._transaction() as tx:
            return control.bulk(tx, action, ids, self._follow_ups)

    def save_schedule(self, new: NewSchedule) -> Schedule:
        """Store a schedule, or redefine the one by that name (its pause and fire history kept)."""
        with self._transaction() as tx:
            return periodic.save(tx, new)

    def change_schedule(self, name: str, action: str) -> Schedule | None:
        """"pause", "resume" or "remove" a schedule; returns it as it was left, None when unknown."""
        with self._transaction() as tx:
            return periodic.change(tx, name, action)

    # -- read -----------------------------------------------------------------------

    def get(self, job_id: int) -> Job:
        """The job as stored now; raises JobNotFound."""
        with self._read() as tx:
            return produce.select_job(tx, job_id)

    def list_jobs(self, state: State | None = None, task: str | None = None, queue: str | None = None,
                  limit: int = 50, cursor: int | None = None) -> list[Job]:
        """Newest first. Pass the last id of a page as `cursor` for the next page."""
        with self._read() as tx:
            return reads.list_jobs(tx, state, task, queue, limit, cursor)

    def counts(self, finished: bool = True) -> dict[str, dict[str, int]]:
        """Jobs per queue per state: a scan of every job. With `finished` False, the waiting and
        running ones only, read through their partial indexes: the finished jobs, most of a store
        that keeps its history, are not read."""
        with self._read() as tx:
            return reads.counts(tx, finished)

    def events(self, job_id: int | None = None, after: int = 0, limit: int = 1000) -> list[JobEvent]:
        """History after an event id, in id order: of one job, or of all jobs when job_id is None."""
        with self._read() as tx:
            return reads.events(tx, job_id, after, limit)

    def last_event_id(self) -> int:
        """Where the event log ends now: a live reader starts after it."""
        with self._read() as tx:
            return reads.last_event_id(tx)

    def files(self, job_id: int) -> list[JobFile]:
        """The job's result files (without their content)."""
        with self._read() as tx:
            return reads.files(tx, job_id)

    def file(self, job_id: int, name: str) -> tuple[JobFile, bytes] | None:
        """One result file and its content; None when there is none by that name."""
        with self._read() as tx:
            return reads.file(tx, job_id, name)

    def workers(self) -> list[WorkerInfo]:
        """The registered workers, with when each was last seen (store clock)."""
        with self._read() as tx:
            return reads.workers(tx)

    def unserved(self) -> list[Unserved]:
        """Waiting jobs, by queue and task, that no live worker would claim, and why (they wait, never fail)."""
        with self._read() as tx:
            return reads.unserved(tx)

    def schedules(self) -> list[Schedule]:
        """Every schedule, by name, with its next fire time."""
        with self._read() as tx:
            return periodic.listing(tx)

    def flows(self) -> list[Flow]:
        """Queues and tasks with limits or a pause, with their running jobs and recent starts."""
        with self._read() as tx:
            return flow.flows(tx)

    def waiting_reason(self, job: Job) -> str | None:
        """Why this waiting job is not running: no live worker would claim it, or flow control holds
        it back (a paused queue, a full concurrency limit or rate); None when neither."""
        if job.state not in (State.QUEUED, State.SCHEDULED):
            return None
        with self._read() as tx:
            return (flow.why_waiting(job.queue, job.task, flow.flows(tx))
                    or unserved_reason(job.queue, job.task, reads.workers(tx), tx.now))

    def now(self) -> float:
        """The store's clock, in epoch seconds (every lease and run_at is on it)."""
        with self._read() as tx:
            return tx.now

    # -- admin ----------------------------------------------------------------------

    def check_health(self) -> None:
        """Raise StoreError unless the store answers a real read of the jobs table and would take a
        write now. Never waits for another writer: a store busy writing is healthy."""
        with self._read() as tx:
            tx.rows("select_jobs", state=None, task=None, queue=None, cursor=None, limit=1)

    @abc.abstractmethod
    def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions applied now."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close every connection; the store is not used after."""
