"""The store: the only durable state, and the one seam every dialect implements.

`Store` holds the logic shared by all dialects (which statements to run, in
which transaction, with which events). A dialect supplies connections,
transactions, its named SQL and a change signal. Methods are grouped by who
calls them: producer, worker, maintenance, control, read.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from ..errors import ConfigError, InvalidTransition, JobNotFound, StoreBusy
from ..job import FINISHED, Job, JobEvent, JobFile, NewJob, Outcome, Progress, State
from .aftermath import WAITING_FOR_PARENT, FollowUps, after_finish
from .records import Row, event_from_row, file_from_row, job_from_row
from .values import Activity, ChangeWatcher, LeaseReport, Rescue, Tx, Unserved, WorkerInfo, event, unserved_reason

__all__ = ["Activity", "ChangeWatcher", "LeaseReport", "Rescue", "Store", "Tx", "Unserved", "WorkerInfo", "event"]

UNIQUE_KEY_TRIES = 100


class Store(abc.ABC):
    """A durable home for jobs. Safe to call from any thread."""

    url: str
    # Set by the app: the jobs (notifications) to store when a job ends, in the same transaction.
    follow_ups: FollowUps | None = None

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Tx]:
        """A write transaction; commits on exit, rolls back on error."""

    @abc.abstractmethod
    def read(self) -> AbstractContextManager[Tx]:
        """A read-only view of the store."""

    @abc.abstractmethod
    def watch(self) -> ChangeWatcher:
        """A change signal for one waiting thread (cheap to poll, no busy work)."""

    @abc.abstractmethod
    def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions applied now."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def _insert_events(self, tx: Tx, events: list[dict[str, Any]]) -> None:
        if len(events) == 1:
            tx.run("insert_event", **events[0], now=tx.now)
        elif events:  # one statement, not one per event: a round trip each on PostgreSQL
            rows = [[e["job_id"], e["kind"], e["state"], e["data"]] for e in events]
            tx.run("insert_events_bulk", events=json.dumps(rows), now=tx.now)

    def _ended(self, tx: Tx, row: Row, state: State) -> list[dict[str, Any]]:
        return after_finish(tx, row, state, self.follow_ups, self._insert, event)

    # -- producer -----------------------------------------------------------

    def enqueue(self, new: NewJob, connection: Any = None) -> tuple[Job, bool]:
        """Store one job; returns (job, created). An unfinished job holding the same
        unique key is returned instead of a new one (created False). With `connection`,
        the job is written in the caller's open transaction and exists if and only if
        the caller commits."""
        scope = self.transaction() if connection is None else self.foreign_transaction(connection)
        with scope as tx:
            row, created = self._insert(tx, new)
        return job_from_row(row), created

    def foreign_transaction(self, connection: Any) -> AbstractContextManager[Tx]:
        """The caller's own open transaction on their connection; commit and rollback stay
        theirs. Dialects that can join one override this."""
        raise ConfigError(f"{type(self).__name__} cannot write inside your transaction")

    def enqueue_many(self, jobs: Sequence[NewJob]) -> list[int]:
        """Store many jobs in one transaction; all or nothing. Returns their ids in order."""
        with self.transaction() as tx:
            if any(new.unique_key is not None or new.parent_id is not None for new in jobs):
                return [self._insert(tx, new)[0]["id"] for new in jobs]  # each may meet a key or parent
            states = [State.SCHEDULED if new.run_at is not None and new.run_at > tx.now else State.QUEUED
                      for new in jobs]
            rows = [
                [new.task, new.queue, new.priority, new.args_json, state.value, new.max_attempts,
                 tx.now if new.run_at is None else new.run_at, new.notify_json, new.timeout, new.lease_seconds,
                 new.max_worker_losses]
                for new, state in zip(jobs, states, strict=True)
            ]
            ids = sorted(r["id"] for r in tx.rows("insert_jobs_bulk", jobs=json.dumps(rows), now=tx.now))
            self._insert_events(tx, [event(i, "state", state, {"task": new.task})
                                     for i, new, state in zip(ids, jobs, states, strict=True)])
        return ids

    def _insert(self, tx: Tx, new: NewJob) -> tuple[Row, bool]:
        run_at = tx.now if new.run_at is None else new.run_at
        if new.parent_id is not None:
            parent = self._get(tx, new.parent_id)
            tx.run("mark_parent", job_id=parent.id)
            run_at = WAITING_FOR_PARENT
        state = State.SCHEDULED if run_at > tx.now else State.QUEUED
        # The key's holder may finish between the conflict and the read (PostgreSQL reads
        # committed rows per statement): then the key is free and the insert is tried again.
        for _ in range(UNIQUE_KEY_TRIES):
            rows = tx.rows(
                "insert_job",
                task=new.task,
                queue=new.queue,
                priority=new.priority,
                args=new.args_json,
                state=state.value,
                max_attempts=new.max_attempts,
                run_at=run_at,
                now=tx.now,
                unique_key=new.unique_key,
                notify=new.notify_json,
                parent_id=new.parent_id,
                timeout=new.timeout,
                lease_seconds=new.lease_seconds,
                max_worker_losses=new.max_worker_losses,
            )
            if rows:
                break
            holder = tx.rows("find_unfinished_by_key", unique_key=new.unique_key)
            if holder:
                return holder[0], False
        else:
            raise StoreBusy(f"unique key {new.unique_key!r}: its holders kept finishing while this job was "
                            f"enqueued ({UNIQUE_KEY_TRIES} tries); try again")
        self._insert_events(tx, [event(rows[0]["id"], "state", state, {"task": new.task})])
        if new.parent_id is not None and parent.finished:  # too late to wait: follow the parent's end now
            parent_row = tx.rows("select_job", job_id=parent.id)[0]
            self._insert_events(tx, self._ended_children_only(tx, parent_row, parent.state))
            return tx.rows("select_job", job_id=rows[0]["id"])[0], True
        return rows[0], True

    def _ended_children_only(self, tx: Tx, row: Row, state: State) -> list[dict[str, Any]]:
        return after_finish(tx, row, state, None, self._insert, event)

    # -- worker ---------------------------------------------------------------

    def claim(
        self, worker_id: str, queues: Sequence[str] | None, limit: int, tasks: Sequence[str] | None = None
    ) -> list[Job]:
        """Lease up to `limit` due jobs to a worker, each with a fresh lease token. With
        `tasks`, only jobs of those tasks (a worker claims the tasks it knows)."""
        return self.settle_and_claim((), worker_id, queues, limit, tasks)[1]

    def settle_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker_id: str,
        queues: Sequence[str] | None,
        limit: int,
        tasks: Sequence[str] | None = None,
    ) -> tuple[list[bool], list[Job]]:
        """`settle` then `claim` in one transaction: one commit where a busy worker would
        pay two. Returns which outcomes were accepted, and the claimed jobs."""
        with self.transaction() as tx:
            accepted = self._settle_in(tx, outcomes)
            by_task = {} if tasks is None else {"tasks": json.dumps(list(tasks))}
            suffix = "" if tasks is None else "_tasks"
            if queues:
                rows = tx.rows("claim" + suffix, worker_id=worker_id, queues=json.dumps(list(queues)), limit=limit,
                               now=tx.now, **by_task)
            else:
                rows = tx.rows("claim_any_queue" + suffix, worker_id=worker_id, limit=limit, now=tx.now, **by_task)
            claimed = {"worker": worker_id}
            self._insert_events(
                tx,
                [event(r["id"], "state", State.RUNNING, claimed | {"attempt": r["attempt"], "task": r["task"]})
                 for r in rows],
            )
        jobs = [job_from_row(r) for r in rows]
        jobs.sort(key=lambda j: (-j.priority, j.run_at, j.id))
        return accepted, jobs

    def has_ready(self, queues: Sequence[str] | None, tasks: Sequence[str] | None = None) -> bool:
        """Whether a due job waits (a read, no lock), of `tasks` when given: idle workers ask
        before they claim."""
        by_task = {} if tasks is None else {"tasks": json.dumps(list(tasks))}
        suffix = "" if tasks is None else "_tasks"
        with self.read() as tx:
            if queues:
                rows = tx.rows("has_ready" + suffix, queues=json.dumps(list(queues)), now=tx.now, **by_task)
            else:
                rows = tx.rows("has_ready_any_queue" + suffix, now=tx.now, **by_task)
        return bool(rows[0]["ready"])

    def count_retrying(self, queues: Sequence[str] | None, tasks: Sequence[str] | None = None) -> int:
        """How many failed jobs wait for a retry, of `tasks` when given (a burst worker stays
        for them)."""
        with self.read() as tx:
            rows = tx.rows("count_retrying", queues=json.dumps(list(queues)) if queues else None,
                           tasks=None if tasks is None else json.dumps(list(tasks)))
        return int(rows[0]["n"])

    def extend_leases(self, worker_id: str, tokens: Sequence[str]) -> LeaseReport:
        """Renew, in one statement, the leases the worker knows it holds (by lease token).
        A job claimed for it whose claim never reached it is left to expire and be rescued."""
        with self.transaction() as tx:
            rows = tx.rows("extend_leases", worker_id=worker_id, tokens=json.dumps(list(tokens)), now=tx.now)
            tx.run("touch_worker", id=worker_id, now=tx.now)
        return LeaseReport(
            held={r["id"]: r["lease_token"] for r in rows},
            cancel_requested=frozenset(r["id"] for r in rows if r["cancel_requested"]),
        )

    def cancel_requests(self, worker_id: str) -> set[int]:
        """Ids of the worker's running jobs that someone asked to cancel (a cheap read)."""
        with self.read() as tx:
            return {r["id"] for r in tx.rows("cancel_requests", worker_id=worker_id)}

    def save_activity(self, batch: Sequence[Activity]) -> set[int]:
        """Write buffered progress and log lines; returns ids whose lease is lost."""
        lost: set[int] = set()
        with self.transaction() as tx:
            events = []
            for item in batch:
                p = item.progress
                # The fenced progress UPDATE answers whether the lease holds; only a batch of
                # bare log lines needs to ask separately.
                if p is not None:
                    held = tx.run("save_progress", job_id=item.job_id, lease_token=item.lease_token, now=tx.now,
                                  current=p.current, total=p.total, message=p.message)
                else:
                    held = len(tx.rows("holds_lease", job_id=item.job_id, lease_token=item.lease_token))
                if not held:
                    lost.add(item.job_id)
                    continue
                if p is not None:
                    data = {"current": p.current, "total": p.total, "message": p.message}
                    events.append(event(item.job_id, "progress", None, data))
                events.extend(event(item.job_id, "log", None, {"message": line}) for line in item.logs)
            self._insert_events(tx, events)
        return lost

    def save_checkpoint(self, job_id: int, lease_token: str, checkpoint_json: str, *, announce: bool = True,
                        count: int | None = None) -> bool:
        """Record resumable state; False when the lease was lost (nothing written). `announce`
        False skips the timeline's `checkpoint` event (a task checkpointing in a tight loop)."""
        with self.transaction() as tx:
            changed = tx.run(
                "save_checkpoint", job_id=job_id, lease_token=lease_token, checkpoint=checkpoint_json, now=tx.now
            )
            if changed and announce:
                data = None if count is None else {"count": count}
                self._insert_events(tx, [event(job_id, "checkpoint", None, data)])
        return bool(changed)

    def save_file(self, job_id: int, lease_token: str, name: str, content_type: str, data: bytes) -> bool:
        """Store a result file; False when the lease was lost (nothing written)."""
        with self.transaction() as tx:
            if not tx.rows("holds_lease", job_id=job_id, lease_token=lease_token):
                return False
            tx.run(
                "upsert_file",
                job_id=job_id,
                name=name,
                content_type=content_type,
                size=len(data),
                data=data,
                now=tx.now,
            )
            self._insert_events(tx, [event(job_id, "file", None, {"name": name, "size": len(data)})])
        return True

    def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Record how runs ended, in one transaction. Each outcome is accepted only
        while its lease token still holds the job (fencing); returns which were."""
        with self.transaction() as tx:
            return self._settle_in(tx, outcomes)

    def _settle_in(self, tx: Tx, outcomes: Sequence[Outcome]) -> list[bool]:
        # Rows are written in id order, as every multi-row write does: no two transactions
        # then wait for each other's rows in opposite orders (PostgreSQL deadlocks).
        accepted = [False] * len(outcomes)
        events = []
        for index in sorted(range(len(outcomes)), key=lambda i: outcomes[i].job_id):
            o = outcomes[index]
            finished = o.state in FINISHED
            p = o.progress or Progress()
            err = o.error
            settled = tx.rows(
                "settle",
                job_id=o.job_id,
                lease_token=o.lease_token,
                state=o.state.value,
                result=o.result_json,
                finished_at=tx.now if finished else None,
                run_at=None if o.retry_in is None else tx.now + o.retry_in,
                error_type=err.type if err else None,
                error_message=err.message if err else None,
                error_traceback=err.traceback if err else None,
                current=p.current,
                total=p.total,
                message=p.message,
                worker_lost=int(o.worker_lost),
                released=int(o.released),
                now=tx.now,
            )
            accepted[index] = bool(settled)
            if settled:
                data: dict[str, Any] = {"task": o.task, "runtime": o.runtime}
                if err:
                    data |= {"error": err.message, "type": err.type}
                if o.released:
                    data["reason"] = f"released: {err.message}" if err else "released at shutdown"
                events.append(event(o.job_id, "state", o.state, data))
                if finished:
                    events.extend(self._ended(tx, settled[0], o.state))
        self._insert_events(tx, events)
        return accepted

    def register_worker(self, info: WorkerInfo) -> None:
        with self.transaction() as tx:
            tx.run(
                "upsert_worker",
                id=info.id,
                host=info.host,
                pid=info.pid,
                queues=json.dumps(list(info.queues)),
                concurrency=info.concurrency,
                tasks=None if info.tasks is None else json.dumps(list(info.tasks)),
                now=tx.now,
            )

    def deregister_worker(self, worker_id: str) -> None:
        with self.transaction() as tx:
            tx.run("delete_worker", id=worker_id)

    def forget_workers(self, older_than: float) -> None:
        """Drop workers not seen for `older_than` seconds (killed without deregistering)."""
        with self.transaction() as tx:
            tx.run("delete_stale_workers", before=tx.now - older_than)

    def workers(self) -> list[WorkerInfo]:
        with self.read() as tx:
            rows = tx.rows("select_workers")
        return [
            WorkerInfo(
                r["id"],
                r["host"],
                r["pid"],
                tuple(json.loads(r["queues"])),
                r["concurrency"],
                r["started_at"],
                r["last_seen"],
                None if r["tasks"] is None else tuple(json.loads(r["tasks"])),
            )
            for r in rows
        ]

    def unserved(self) -> list[Unserved]:
        """Waiting jobs, by queue and task, that no live worker would claim, and why. They are
        never failed for it: they wait for a worker that knows their task."""
        with self.read() as tx:
            rows = tx.rows("count_waiting_by_task")
            now = tx.now
        workers = self.workers()
        found = []
        for r in sorted(rows, key=lambda r: (r["queue"], r["task"])):
            reason = unserved_reason(r["queue"], r["task"], workers, now)
            if reason is not None:
                found.append(Unserved(r["queue"], r["task"], int(r["n"]), reason))
        return found

    def waiting_reason(self, job: Job) -> str | None:
        """Why no live worker would claim this waiting job; None when one would, or when the
        job is not waiting (queued or scheduled)."""
        if job.state not in (State.QUEUED, State.SCHEDULED):
            return None
        return unserved_reason(job.queue, job.task, self.workers(), self.now())

    # -- maintenance ------------------------------------------------------------

    def take_leadership(self, name: str, owner: str, ttl: float) -> bool:
        """Become or stay leader of a duty for `ttl` seconds; False if another holds it."""
        with self.transaction() as tx:
            return bool(tx.rows("take_leadership", name=name, owner=owner, ttl=ttl, now=tx.now))

    def release_leadership(self, name: str, owner: str) -> None:
        with self.transaction() as tx:
            tx.run("release_leadership", name=name, owner=owner)

    def rescue_expired(self, since: float | None = None) -> list[Rescue]:
        """Requeue running jobs whose lease expired (checkpoint kept), or fail those
        whose workers died `max_worker_losses` times. Each update re-checks the expiry, so a
        heartbeat committed after the read wins. `since` (store clock): when the caller
        regained the store after an outage; jobs then get one lease after it to be renewed."""
        rescued = []
        with self.transaction() as tx:
            events = []
            for r in tx.rows("expired_leases", now=tx.now, since=since):
                losses = r["worker_losses"] + 1
                if losses >= r["max_worker_losses"]:
                    message = (
                        f"its worker died {losses} times while running it (max_worker_losses={r['max_worker_losses']})"
                    )
                    failed = tx.rows("fail_lost", job_id=r["id"], lease_token=r["lease_token"], message=message,
                                     now=tx.now)
                    if failed:
                        events.append(event(r["id"], "state", State.FAILED, {"error": message, "type": "WorkerLost"}))
                        events.extend(self._ended(tx, failed[0], State.FAILED))
                        rescued.append(Rescue(r["id"], True))
                elif tx.run("rescue", job_id=r["id"], lease_token=r["lease_token"], now=tx.now):
                    events.append(event(r["id"], "rescued", None, {"worker_losses": losses}))
                    events.append(event(r["id"], "state", State.QUEUED, {"reason": "lease expired"}))
                    rescued.append(Rescue(r["id"], False))
            self._insert_events(tx, events)
        return rescued

    def promote_due(self) -> int:
        """Move scheduled jobs whose time came to `queued`; returns how many."""
        with self.transaction() as tx:
            rows = tx.rows("promote_due", now=tx.now)
            self._insert_events(tx, [event(r["id"], "state", State.QUEUED) for r in rows])
        return len(rows)

    def prune(self, state: State, older_than: float, batch: int = 1000) -> int:
        """Delete jobs of a finished state (with events and files) that ended more than
        `older_than` seconds ago; returns how many. Works in batches to keep locks short."""
        total = 0
        while True:
            with self.transaction() as tx:
                ids = [
                    r["id"]
                    for r in tx.rows("select_prunable", state=state.value, before=tx.now - older_than, limit=batch)
                ]
                if ids:
                    encoded = json.dumps(ids)
                    for query in ("delete_job_events", "delete_job_files", "delete_jobs"):
                        tx.run(query, ids=encoded)
            total += len(ids)
            if len(ids) < batch:
                return total

    def reclaim_space(self) -> int:
        """Return space freed by pruning to the file system where the dialect needs to be
        told (SQLite); returns how many pages. PostgreSQL's autovacuum does this by itself."""
        return 0

    # -- control ------------------------------------------------------------------

    def cancel(self, job_id: int) -> Job:
        """Cancel a waiting job at once; ask the worker to stop a running one.
        A finished job is returned unchanged."""
        with self.transaction() as tx:
            cancelled = tx.rows("cancel_waiting", job_id=job_id, now=tx.now)
            if cancelled:
                events = [event(job_id, "state", State.CANCELLED), *self._ended(tx, cancelled[0], State.CANCELLED)]
                self._insert_events(tx, events)
            elif tx.run("request_cancel", job_id=job_id):
                self._insert_events(tx, [event(job_id, "cancel_requested")])
        return self.get(job_id)

    def retry(self, job_id: int) -> Job:
        """Put a failed or cancelled job back in the queue, keeping its checkpoint."""
        with self.transaction() as tx:
            if tx.run("requeue_finished", job_id=job_id, now=tx.now):
                self._insert_events(tx, [event(job_id, "state", State.QUEUED, {"reason": "retried"})])
            else:
                job = self._get(tx, job_id)
                raise InvalidTransition(
                    f"job {job_id} is {job.state.value}; only failed or cancelled jobs can be retried"
                )
        return self.get(job_id)

    # -- read -------------------------------------------------------------------------

    def now(self) -> float:
        with self.read() as tx:
            return tx.now

    def check_health(self) -> None:
        """Raise StoreError unless the store answers a real read of the jobs table and would take
        a write now. Never waits for another writer: a store busy writing is healthy."""
        with self.read() as tx:
            tx.rows("select_jobs", state=None, task=None, queue=None, cursor=None, limit=1)

    def get(self, job_id: int) -> Job:
        with self.read() as tx:
            return self._get(tx, job_id)

    def _get(self, tx: Tx, job_id: int) -> Job:
        rows = tx.rows("select_job", job_id=job_id)
        if not rows:
            raise JobNotFound(job_id)
        return job_from_row(rows[0])

    def list_jobs(
        self,
        state: State | None = None,
        task: str | None = None,
        queue: str | None = None,
        limit: int = 50,
        cursor: int | None = None,
    ) -> list[Job]:
        """Newest first. Pass the last id of a page as `cursor` for the next page."""
        with self.read() as tx:
            rows = tx.rows(
                "select_jobs", state=state.value if state else None, task=task, queue=queue, cursor=cursor, limit=limit
            )
        return [job_from_row(r) for r in rows]

    def counts(self) -> dict[str, dict[str, int]]:
        """Jobs per queue per state."""
        out: dict[str, dict[str, int]] = {}
        with self.read() as tx:
            for r in tx.rows("count_by_queue_state"):
                out.setdefault(r["queue"], {})[r["state"]] = r["n"]
        return out

    def events(self, job_id: int | None = None, after: int = 0, limit: int = 1000) -> list[JobEvent]:
        """History after an event id: of one job, or of all jobs when job_id is None."""
        with self.read() as tx:
            if job_id is None:
                rows = tx.rows("select_all_events", after=after, limit=limit)
            else:
                rows = tx.rows("select_events", job_id=job_id, after=after, limit=limit)
        return [event_from_row(r) for r in rows]

    def last_event_id(self) -> int:
        """Where the event log ends now: a live reader starts after it."""
        with self.read() as tx:
            return int(tx.rows("select_last_event_id")[0]["id"])

    def files(self, job_id: int) -> list[JobFile]:
        with self.read() as tx:
            return [file_from_row(r) for r in tx.rows("select_files", job_id=job_id)]

    def file(self, job_id: int, name: str) -> tuple[JobFile, bytes] | None:
        with self.read() as tx:
            rows = tx.rows("select_file", job_id=job_id, name=name)
        return (file_from_row(rows[0]), bytes(rows[0]["data"])) if rows else None


