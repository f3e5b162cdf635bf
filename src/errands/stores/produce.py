"""The producer's side of the store: storing new jobs (one, many, under a unique key and its
policy, after a parent, a delay after the store's clock), and the event-log and job-end helpers
every other writer shares. Each function runs inside a transaction its caller opened; no
connection handling here."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from ..errors import JobNotFound, StoreBusy, UniqueKeyTaken
from ..job import Job, NewJob, State, build_job
from .aftermath import WAITING_FOR_PARENT, FollowUps, after_finish
from .records import NO_PROGRESS, Row, job_from_row
from .values import Tx, event

UNIQUE_KEY_TRIES = 100


def insert_events(tx: Tx, events: list[dict[str, Any]]) -> None:
    """Append events to the log (one statement for many: a round trip each on PostgreSQL)."""
    if len(events) == 1:
        tx.run("insert_event", **events[0], now=tx.now)
    elif events:
        rows = [[e["job_id"], e["kind"], e["state"], e["data"]] for e in events]
        tx.run("insert_events_bulk", events=json.dumps(rows), now=tx.now)


def ended(tx: Tx, row: Row, state: State, follow_ups: FollowUps | None) -> list[dict[str, Any]]:
    """Store what follows `row` ending in `state` (continuations, notifications); returns the events."""
    return after_finish(tx, row, state, follow_ups, insert, event)


def select_job(tx: Tx, job_id: int) -> Job:
    """The job as stored; raises JobNotFound."""
    rows = tx.rows("select_job", job_id=job_id)
    if not rows:
        raise JobNotFound(job_id)
    return job_from_row(rows[0])


def alone(new: NewJob) -> bool:
    """Whether a job is stored by its insert alone: no unique key to meet, no parent to wait for
    (a dialect may then store it in a statement of its own: `Store.enqueue`)."""
    return new.unique_key is None and new.parent_id is None


def fields(new: NewJob) -> dict[str, Any]:
    """The parameters every job insert takes as the producer gave them."""
    return {"task": new.task, "queue": new.queue, "priority": new.priority, "args": new.args_json,
            "max_attempts": new.max_attempts, "notify": new.notify_json, "timeout": new.timeout,
            "lease_seconds": new.lease_seconds, "max_worker_losses": new.max_worker_losses}


@functools.lru_cache(maxsize=1024)
def first_event_data(task: str) -> str:
    """The data of a new job's first event (its state), as the event log stores it: the text SQLite's
    trigger writes (migration 010) and PostgreSQL's insert statements are given."""
    return json.dumps({"task": task}, ensure_ascii=False)


def new_job(new: NewJob, job_id: int, now: float, run_at: float) -> Job:
    """The job an insert of `new` stored with `job_id` at `now`, as `select_job` would read it back
    (the table's defaults included): a plain enqueue reads no row back."""
    return build_job(
        job_id, new.task, new.queue, new.priority, json.loads(new.args_json) if new.args is None else new.args,
        State.SCHEDULED if run_at > now else State.QUEUED, 0, new.max_attempts, run_at, now,
        progress=NO_PROGRESS, unique_key=new.unique_key,
        notify=None if new.notify_json is None else json.loads(new.notify_json), parent_id=new.parent_id,
        timeout=None if new.timeout is None else float(new.timeout), lease_seconds=float(new.lease_seconds),
        max_worker_losses=new.max_worker_losses,
    )


def due_at(tx: Tx, new: NewJob) -> float:
    """When the job may run: a delay counts from the store's clock (read when this transaction
    began), never the producer's; an absolute run_at stays as given."""
    if new.delay is not None:
        return tx.now + new.delay
    return tx.now if new.run_at is None else new.run_at


def insert(tx: Tx, new: NewJob) -> tuple[Row, bool]:
    """Store one job; an unfinished job holding its unique key is returned instead (False), or
    replaced, or UniqueKeyTaken raised, as `new.unique` says."""
    run_at = due_at(tx, new)
    if new.parent_id is not None:
        parent = select_job(tx, new.parent_id)
        tx.run("mark_parent", job_id=parent.id)
        run_at = WAITING_FOR_PARENT
    state = State.SCHEDULED if run_at > tx.now else State.QUEUED
    row, created, replaced = _insert_row(tx, new, state, run_at)
    if not created:
        return row, False
    events = []  # the job's first event is written by its insert statement
    for old in replaced:
        events.append(event(old["id"], "state", State.CANCELLED, {"reason": "replaced", "replaced_by": row["id"]}))
        events.extend(ended(tx, old, State.CANCELLED, None))
    insert_events(tx, events)
    if new.parent_id is not None and parent.finished:  # too late to wait: follow the parent's end now
        parent_row = tx.rows("select_job", job_id=parent.id)[0]
        insert_events(tx, ended(tx, parent_row, parent.state, None))
        return tx.rows("select_job", job_id=row["id"])[0], True
    return row, True


def _insert_row(tx: Tx, new: NewJob, state: State, run_at: float) -> tuple[Row, bool, list[Row]]:
    """The inserted row (True) with the waiting holders it replaced, or the unfinished job holding
    the unique key (False). The key's holder may finish (or be replaced by another enqueuer)
    between the conflict and the read (PostgreSQL reads committed rows per statement): then the
    key is free and the insert is tried again. Replacing cancels the holder with a conditional
    update: of two enqueuers replacing the same holder one cancels it, the other waits for that
    commit, then meets (and replaces) the first one's job."""
    replaced: list[Row] = []
    for _ in range(UNIQUE_KEY_TRIES):
        rows = tx.rows("insert_job", **fields(new), state=state.value, run_at=run_at, now=tx.now,
                       unique_key=new.unique_key, parent_id=new.parent_id, data=first_event_data(new.task))
        if rows:
            return rows[0], True, replaced
        holder = tx.rows("find_unfinished_by_key", unique_key=new.unique_key)
        if not holder:
            continue
        if new.unique == "return":
            return holder[0], False, replaced
        if new.unique == "raise" or holder[0]["state"] == State.RUNNING.value:
            raise UniqueKeyTaken(str(new.unique_key), holder[0]["id"], holder[0]["state"])
        replaced.extend(tx.rows("cancel_waiting", job_id=holder[0]["id"], now=tx.now))
    raise StoreBusy(f"unique key {new.unique_key!r}: its holders kept finishing while this job was "
                    f"enqueued ({UNIQUE_KEY_TRIES} tries); try again")


def insert_many(tx: Tx, jobs: Sequence[NewJob]) -> list[int]:
    """Store many jobs; returns their ids in order. Plain jobs go in one statement per run of jobs
    alike but for their arguments (`insert_alike`)."""
    if any(new.unique_key is not None or new.parent_id is not None for new in jobs):
        return [insert(tx, new)[0]["id"] for new in jobs]  # each may meet a key or parent
    ids: list[int] = []
    for first, args in _runs(jobs):
        ids.extend(insert_alike(tx, first, json.dumps(args)))
    return ids


def insert_alike(tx: Tx, new: NewJob, args: str) -> list[int]:
    """Store one job per element of `args` (a JSON array of the jobs' arguments, as objects or as
    strings), each otherwise as `new` says (no unique key, no parent), in one statement that writes
    their first events too; returns their ids in order."""
    run_at = due_at(tx, new)
    params = fields(new)
    params.update(args=args, state="scheduled" if run_at > tx.now else "queued", run_at=run_at, now=tx.now,
                  data=first_event_data(new.task))
    return sorted(r["id"] for r in tx.rows("insert_jobs_bulk", **params))


def _runs(jobs: Sequence[NewJob]) -> list[tuple[NewJob, list[str]]]:
    """The jobs as runs alike but for their arguments: (the run's first job, every job's arguments)."""
    runs: list[tuple[NewJob, list[str]]] = []
    shape: tuple[Any, ...] = ()
    for new in jobs:
        key = (new.task, new.queue, new.priority, new.max_attempts, new.run_at, new.delay, new.notify_json,
               new.timeout, new.lease_seconds, new.max_worker_losses)
        if key != shape:
            runs.append((new, []))
            shape = key
        runs[-1][1].append(new.args_json)
    return runs
