"""The worker's side of the store: claiming with a lease, renewing leases, writing progress,
checkpoints and files under the lease (fencing), recording outcomes, and the worker registry.
Each function runs inside a transaction (or read) its caller opened.

Rows are always written in id order, as every multi-row write does: no two transactions then
wait for each other's rows in opposite orders (PostgreSQL deadlocks)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

from ..job import FINISHED, Job, Outcome
from . import flow
from .aftermath import FollowUps
from .produce import ended, insert_events
from .records import jobs_from_table
from .values import Activity, LeaseReport, Readiness, Tx, WorkerInfo, event


def lease_nonce() -> str:
    """The random part of the lease tokens one claim statement hands out: each token is this nonce
    followed by the job's id, so unique to that claim of that job, unguessable, and made without a
    random value per row (PostgreSQL's gen_random_uuid() cost 2.4 µs a job)."""
    return secrets.token_hex(8)


def claim_filters(queues: Sequence[str] | None, tasks: Sequence[str] | None) -> tuple[str, dict[str, Any]]:
    """The named statement's suffix and parameters for a worker's queues and tasks."""
    params = {} if tasks is None else {"tasks": json.dumps(list(tasks))}
    suffix = "" if tasks is None else "_tasks"
    if queues:
        return suffix, params | {"queues": json.dumps(list(queues))}
    return "_any_queue" + suffix, params


def claim(tx: Tx, worker_id: str, queues: Sequence[str] | None, limit: int,
          tasks: Sequence[str] | None) -> tuple[list[Job], float | None]:
    """Lease up to `limit` due jobs to the worker, highest priority first, within the flow limits
    (stores/flow.py); also returns in how many seconds a full rate window opens (None: none is full)."""
    gate = flow.open_gate(tx, queues, tasks, lock=True)
    jobs: list[Job] = []
    while len(jobs) < limit:
        allowed = flow.narrowed(gate, queues, tasks)
        if allowed is None:
            break
        batch = limit - len(jobs) if gate is None else gate.batch(limit - len(jobs))
        suffix, params = claim_filters(*allowed[:2])
        got = jobs_from_table(*tx.table("claim" + suffix, worker_id=worker_id, lease_nonce=lease_nonce(), limit=batch,
                                        now=tx.now, **params, **allowed[2]))
        jobs += got
        if gate is not None:
            gate.took(got)
        if len(got) < batch:
            break
    if gate is not None:
        gate.save(tx)
    if jobs and not tx.events_in_writes:
        tx.run("log_claimed", ids=json.dumps([job.id for job in jobs]), now=tx.now)
    return in_claim_order(jobs), None if gate is None else gate.retry_in()


def in_claim_order(jobs: list[Job]) -> list[Job]:
    """Highest priority first, then oldest (one claim may read several queues or tasks)."""
    jobs.sort(key=lambda job: (-job.priority, job._run_at, job.id))  # epoch seconds: run_at makes a datetime
    return jobs


def ready(tx: Tx, queues: Sequence[str] | None, tasks: Sequence[str] | None, retrying: bool) -> Readiness:
    """Whether a due job waits that flow control lets through (a full rate window counts as open: the
    claim says when it opens); with `retrying`, also how many failed jobs wait for a retry."""
    waiting = 0
    if retrying:
        waiting = int(tx.rows("count_retrying", queues=json.dumps(list(queues)) if queues else None,
                              tasks=None if tasks is None else json.dumps(list(tasks)))[0]["n"])
    gate = flow.open_gate(tx, queues, tasks, lock=False)
    if gate is not None:
        gate.room = gate.held
    allowed = flow.narrowed(gate, queues, tasks)
    if allowed is None:
        return Readiness(False, waiting)
    suffix, params = claim_filters(*allowed[:2])
    return Readiness(bool(tx.rows("has_ready" + suffix, now=tx.now, **params, **allowed[2])[0]["ready"]), waiting)


def extend_leases(tx: Tx, worker_id: str, tokens: Sequence[str]) -> LeaseReport:
    rows = tx.rows("extend_leases", worker_id=worker_id, tokens=json.dumps(list(tokens)), now=tx.now)
    tx.run("touch_worker", id=worker_id, now=tx.now)
    return LeaseReport(held={r["id"]: r["lease_token"] for r in rows})


def cancel_requests(tx: Tx, worker_id: str) -> set[int]:
    return {r["id"] for r in tx.rows("cancel_requests", worker_id=worker_id)}


def save_activity(tx: Tx, batch: Sequence[Activity]) -> set[int]:
    """Write progress and log lines of jobs whose lease holds; returns the ids whose lease is lost."""
    lost: set[int] = set()
    events = []
    for item in sorted(batch, key=lambda a: a.job_id):
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
            events.append(event(item.job_id, "progress", None,
                                {"current": p.current, "total": p.total, "message": p.message}))
        events.extend(event(item.job_id, "log", None, {"message": line}) for line in item.logs)
    insert_events(tx, events)
    return lost


def save_checkpoint(tx: Tx, job_id: int, lease_token: str, checkpoint_json: str, announce: bool,
                    count: int | None) -> bool:
    changed = tx.run("save_checkpoint", job_id=job_id, lease_token=lease_token, checkpoint=checkpoint_json,
                     now=tx.now)
    if changed and announce:
        insert_events(tx, [event(job_id, "checkpoint", None, None if count is None else {"count": count})])
    return bool(changed)


def save_file(tx: Tx, job_id: int, lease_token: str, name: str, content_type: str, data: bytes) -> bool:
    if not tx.rows("holds_lease", job_id=job_id, lease_token=lease_token):
        return False
    tx.run("upsert_file", job_id=job_id, name=name, content_type=content_type, size=len(data), data=data,
           now=tx.now)
    insert_events(tx, [event(job_id, "file", None, {"name": name, "size": len(data)})])
    return True


def settle(tx: Tx, outcomes: Sequence[Outcome], follow_ups: FollowUps | None) -> list[bool]:
    """Record outcomes whose lease token still holds the job, in one statement for the batch;
    returns which were (in the order given)."""
    if len({o.job_id for o in outcomes}) < len(outcomes):  # a job released, then claimed again: in turn
        return [settle(tx, [o], follow_ups)[0] for o in outcomes]
    if not outcomes:
        return []
    # Not ASCII-escaped: text the store cannot hold (a lone surrogate) is refused here, as a plain
    # parameter would be, rather than stored escaped and unreadable.
    items = json.dumps([_settle_item(o) for o in outcomes], ensure_ascii=False)
    rows = tx.rows("settle_many", outcomes=items, now=tx.now)
    settled = {r["id"]: r for r in rows}
    by_id = {o.job_id: o for o in outcomes}
    if settled and not tx.events_in_writes:
        tx.run("log_settled", outcomes=items, ids=json.dumps(sorted(settled)), now=tx.now)
    events: list[dict[str, Any]] = []
    for job_id in sorted(settled):  # what follows a job's end: rare, so read its row only then
        r = settled[job_id]
        if by_id[job_id].state in FINISHED and (r["notifies"] or r["has_children"]):
            events.extend(ended(tx, tx.rows("select_job", job_id=job_id)[0], by_id[job_id].state, follow_ups))
    insert_events(tx, events)
    return [o.job_id in settled for o in outcomes]


def _settle_item(o: Outcome) -> dict[str, Any]:
    """An outcome as settle_many reads it. A field left out reads as NULL: most runs succeed with no
    error and no progress, and their item is half the size (encoded by the worker, parsed by the store)."""
    item = {"job_id": o.job_id, "lease_token": o.lease_token, "state": o.state.value, "finished": o.state in FINISHED,
            "worker_lost": int(o.worker_lost), "released": int(o.released), "data": _event_data(o)}
    if o.result_json is not None:
        item["result"] = o.result_json
    if o.retry_in is not None:
        item["retry_in"] = o.retry_in
    if o.error is not None:
        item |= {"error_type": o.error.type, "error_message": o.error.message, "error_traceback": o.error.traceback}
    if o.progress is not None:
        p = o.progress
        item |= {"progress_current": p.current, "progress_total": p.total, "progress_message": p.message}
    return item


def _event_data(o: Outcome) -> dict[str, Any]:
    """The data of the 'state' event an outcome writes."""
    data: dict[str, Any] = {"task": o.task, "runtime": o.runtime}
    if o.error:
        data |= {"error": o.error.message, "type": o.error.type}
    if o.released:
        data["reason"] = f"released: {o.error.message}" if o.error else "released at shutdown"
    return data


def register_worker(tx: Tx, info: WorkerInfo) -> None:
    tx.run("upsert_worker", id=info.id, host=info.host, pid=info.pid, queues=json.dumps(list(info.queues)),
           concurrency=info.concurrency, tasks=None if info.tasks is None else json.dumps(list(info.tasks)),
           now=tx.now)


def deregister_worker(tx: Tx, worker_id: str) -> None:
    tx.run("delete_worker", id=worker_id)
