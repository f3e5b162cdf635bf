"""Flow control at claim time: global concurrency limits, rate limits and paused queues, per queue
and per task, kept in the `flow` table. Limits are declared in code and written by each starting
worker (the newest declaration wins); pauses are written by control calls.

Why a limit cannot be overshot: every claim that may take jobs of a limited key first locks the
key's flow row (PostgreSQL: FOR UPDATE, in key order; SQLite: the claim is the only writer), then
counts the key's running jobs and reads its recent starts, and takes at most the room left. The
next claimer of that key waits for the lock and, under READ COMMITTED, its count (a later
statement) sees every job the previous one claimed. The count is of jobs in state `running`, so a
slot is freed by the very transaction that settles, releases or rescues the job: nothing can drift.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..job import Job
from .records import Row
from .values import Tx

Key = tuple[str, str]  # ("queue" | "task", name)
UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `count` starts in any `period` seconds."""

    count: int
    period: float

    def __str__(self) -> str:
        for unit, seconds in reversed(UNITS.items()):
            if self.period % seconds == 0:
                n = int(self.period // seconds)
                return f"{self.count}/{'' if n == 1 else n}{unit}"
        return f"{self.count}/{self.period:g}s"


def parse_rate(text: str) -> Rate:
    """`"10/s"`, `"100/m"`, `"5/h"` or `"3/10s"`; ValueError saying what is accepted otherwise."""
    match = _RATE.match(text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ValueError(f"rate must look like '10/s', '100/m', '5/h' or '3/10s' (a count of at least 1), "
                         f"not {text!r}")
    period = int(match.group(2) or 1) * UNITS[match.group(3)]
    return Rate(int(match.group(1)), period)


@dataclass(frozen=True, slots=True)
class Limits:
    """A queue's or task's declared limits (None: unlimited)."""

    concurrency: int | None = None
    rate: Rate | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    """A queue's or task's flow row as stored: its limits and, for a queue, whether it is paused."""

    kind: str  # "queue" or "task"
    name: str
    concurrency: int | None = None
    rate: Rate | None = None
    paused: bool = False
    paused_by: str | None = None
    paused_at: float | None = None
    running: int = 0  # running jobs of the key, when it has a concurrency limit
    recent: int = 0  # starts within the rate's period, when it has a rate limit

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the CLI and the HTTP API show."""
        return {"kind": self.kind, "name": self.name, "concurrency": self.concurrency, "running": self.running,
                "rate": None if self.rate is None else str(self.rate), "recent_starts": self.recent,
                "paused": self.paused, "paused_by": self.paused_by, "paused_at": self.paused_at}


def flow_from_row(row: Row, running: int, now: float) -> Flow:
    rate = None
    recent = 0
    if row["rate_count"] is not None:
        rate = Rate(int(row["rate_count"]), float(row["rate_period"]))
        recent = sum(1 for t in json.loads(row["starts"]) if t > now - rate.period)
    return Flow(row["kind"], row["name"], row["concurrency"], rate, bool(row["paused"]), row["paused_by"],
                row["paused_at"], running, recent)


def check_limits(concurrency: int | None, rate: str | Rate | None) -> Limits:
    """Declared limits, checked: ValueError with what is wrong."""
    if concurrency is not None and (isinstance(concurrency, bool) or not isinstance(concurrency, int)
                                    or concurrency < 1):
        raise ValueError(f"concurrency must be a whole number of at least 1, not {concurrency!r}")
    return Limits(concurrency, parse_rate(rate) if isinstance(rate, str) else rate)


def declare(tx: Tx, limits: dict[Key, Limits]) -> None:
    """Write declared limits (the newest declaration wins); in key order, as every multi-row write."""
    for (kind, name), lim in sorted(limits.items()):
        tx.run("declare_flow", kind=kind, name=name, concurrency=lim.concurrency,
               rate_count=None if lim.rate is None else lim.rate.count,
               rate_period=None if lim.rate is None else lim.rate.period)


def set_paused(tx: Tx, queue: str, paused: bool, by: str | None) -> Flow:
    tx.run("set_paused", name=queue, paused=int(paused), by=by, now=tx.now)
    row = next(r for r in tx.rows("select_flow") if r["kind"] == "queue" and r["name"] == queue)
    return flow_from_row(row, _running(tx, [row]).get(("queue", queue), 0), tx.now)


def flows(tx: Tx) -> list[Flow]:
    """Every queue and task with a limit or a pause, with the running jobs of each limited key."""
    rows = [r for r in tx.rows("select_flow") if r["concurrency"] is not None or r["rate_count"] is not None
            or r["paused"]]
    running = _running(tx, rows)
    return [flow_from_row(r, running.get((r["kind"], r["name"]), 0), tx.now) for r in rows]


def _running(tx: Tx, rows: Iterable[Row]) -> dict[Key, int]:
    counts: dict[Key, int] = {}
    for kind in ("task", "queue"):
        names = sorted({r["name"] for r in rows if r["kind"] == kind and r["concurrency"] is not None})
        if names:
            for r in tx.rows(f"count_running_{kind}s", names=json.dumps(names)):
                counts[(kind, r["name"])] = int(r["n"])
    return counts


def default_actor() -> str:
    """Who pauses a queue when the caller does not say: user@host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def _dump(names: Iterable[str] | None) -> str | None:
    return None if names is None else json.dumps(list(names))


@dataclass
class Gate:
    """What a claim may take now: the keys it must skip and the room left under each limit."""

    now: float
    paused: set[str] = field(default_factory=set)
    room: dict[Key, int] = field(default_factory=dict)
    held: dict[Key, int] = field(default_factory=dict)  # room under the concurrency limits alone
    starts: dict[Key, list[float]] = field(default_factory=dict)  # rate-limited keys' recent starts
    rates: dict[Key, Rate] = field(default_factory=dict)
    taken: set[Key] = field(default_factory=set)

    def blocked(self, kind: str) -> set[str]:
        full = {name for (k, name), n in self.room.items() if k == kind and n <= 0}
        return full | (self.paused if kind == "queue" else set())

    def batch(self, remaining: int) -> int:
        """The most one claim statement may take without overshooting any open limit."""
        return min([remaining, *(n for n in self.room.values() if n > 0)])

    def took(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            for key in (("task", job.task), ("queue", job.queue)):
                if key in self.room:
                    self.room[key] -= 1
                if key in self.starts:
                    self.starts[key].append(self.now)
                    self.taken.add(key)

    def retry_in(self) -> float | None:
        """Seconds until the soonest full rate window lets a start through (None: none is full)."""
        waits = [min(s) + self.rates[key].period - self.now for key, s in self.starts.items()
                 if s and len(s) >= self.rates[key].count]
        return max(0.0, min(waits)) if waits else None

    def save(self, tx: Tx) -> None:
        for kind, name in sorted(self.taken):
            tx.run("save_starts", kind=kind, name=name, starts=json.dumps(self.starts[(kind, name)]))


def open_gate(tx: Tx, queues: Sequence[str] | None, tasks: Sequence[str] | None, *, lock: bool) -> Gate | None:
    """The gate for a claim of these queues (empty or None: every queue) and tasks (None: every task);
    None when no flow row constrains it. With `lock`, the rows stay locked until the claim commits."""
    if tx.flow_free:
        return None
    rows = tx.rows("lock_flow" if lock else "read_flow", queues=_dump(queues or None), tasks=_dump(tasks))
    if not rows:
        return None
    running = _running(tx, rows)
    # A claimer that waited for the lock may have read its clock before the previous holder's:
    # its starts are never recorded before theirs.
    now = max([tx.now, *(max(json.loads(r["starts"]), default=0.0) for r in rows)])
    gate = Gate(now)
    for r in rows:
        key = (r["kind"], r["name"])
        if r["kind"] == "queue" and r["paused"]:
            gate.paused.add(r["name"])
        if r["concurrency"] is not None:
            gate.room[key] = gate.held[key] = int(r["concurrency"]) - running.get(key, 0)
        if r["rate_count"] is not None:
            rate = Rate(int(r["rate_count"]), float(r["rate_period"]))
            recent = sorted(t for t in json.loads(r["starts"]) if t > now - rate.period)
            gate.rates[key], gate.starts[key] = rate, recent
            gate.room[key] = min(gate.room.get(key, rate.count), rate.count - len(recent))
            gate.taken.add(key)  # the trimmed window is saved even when nothing starts
    return gate


def narrowed(gate: Gate | None, queues: Sequence[str] | None,
             tasks: Sequence[str] | None) -> tuple[list[str] | None, list[str] | None, dict[str, Any]] | None:
    """The queues and tasks a claim may still take, and the skip lists for "every queue" or "every
    task"; None when nothing is left to take."""
    skip_q = set() if gate is None else gate.blocked("queue")
    skip_t = set() if gate is None else gate.blocked("task")
    q = [x for x in queues if x not in skip_q] if queues else None
    t = None if tasks is None else [x for x in tasks if x not in skip_t]
    if (queues and not q) or t == []:
        return None
    return q, t, {"skip_queues": json.dumps(sorted(skip_q)), "skip_tasks": json.dumps(sorted(skip_t))}


def why_waiting(queue: str, task: str, flows: Sequence[Flow]) -> str | None:
    """Why flow control holds back a waiting job of `task` in `queue` now (None: it does not)."""
    by_key = {(f.kind, f.name): f for f in flows}
    q = by_key.get(("queue", queue))
    if q is not None and q.paused:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(q.paused_at or 0))
        return f"queue {queue!r} is paused by {q.paused_by or 'someone'} at {when}"
    for kind, name in (("task", task), ("queue", queue)):
        f = by_key.get((kind, name))
        if f is not None and f.concurrency is not None and f.running >= f.concurrency:
            return f"the {kind}'s concurrency limit ({f.concurrency}) is full"
        if f is not None and f.rate is not None and f.recent >= f.rate.count:
            return f"the {kind}'s rate limit {f.rate} reached"
    return None
