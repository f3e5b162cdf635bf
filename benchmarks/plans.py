"""Whether errands' claim statements stay on their indexes once the table is large: the query plan of
the statements a worker runs, read on a store the growth workloads loaded (`growth.py`).

A worker names the tasks it knows, so it runs `claim_any_queue_tasks` (serving every queue, the
default) or `claim_tasks` (named queues). On PostgreSQL the store prepares a statement after five
runs; its write transactions set `plan_cache_mode = force_custom_plan` (a generic plan, made without
the LIMIT and the lists, may scan every job), so the custom plan is the one read.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from benchmarks.pg_systems import ErrandsPgSystem
from benchmarks.systems import ErrandsSystem
from benchmarks.tasks import TASK_NAME
from errands.stores.sqlfiles import load_queries

STATEMENTS = ("claim_any_queue_tasks", "claim_tasks")
_PG_PARAM = re.compile(r"%\((\w+)\)s")
_SQLITE_FULL_SCAN = re.compile(r"^SCAN (jobs|j)\b(?!.*USING (COVERING )?INDEX)")
_SQLITE_INDEX = re.compile(r"USING (?:COVERING )?INDEX (\w+)")


@dataclass
class Plan:
    statement: str
    mode: str  # "" on SQLite; "custom" on PostgreSQL
    indexes: list[str] = field(default_factory=list)
    full_scans: list[str] = field(default_factory=list)  # sequential scans of jobs
    error: str = ""

    @property
    def on_index(self) -> bool:
        return not self.error and not self.full_scans and bool(self.indexes)

    def describe(self) -> str:
        name = f"`{self.statement}`{f' ({self.mode} plan)' if self.mode else ''}"
        if self.error:
            return f"{name}: could not be explained: {self.error}"
        scans = f"; FULL SCAN of {', '.join(self.full_scans)}" if self.full_scans else ""
        return f"{name}: {', '.join(self.indexes) or 'no index'}{scans}"


def values() -> dict[str, Any]:
    """The parameters a worker serving the benchmark's task passes, by name."""
    return {
        "worker_id": "bench-explain",
        "lease_nonce": "0123456789abcdef",
        "limit": 100,
        "now": time.time(),
        "tasks": json.dumps([TASK_NAME]),
        "queues": json.dumps(["default"]),
        "skip_queues": "[]",
        "skip_tasks": "[]",
    }


def explain(system: ErrandsSystem) -> list[Plan]:
    if isinstance(system, ErrandsPgSystem):
        return [plan for name in STATEMENTS for plan in explain_pg(system, name)]
    return [explain_sqlite(system.url.removeprefix("sqlite:///"), name) for name in STATEMENTS]


def explain_sqlite(path: str, name: str) -> Plan:
    plan = Plan(name, "")
    statement = load_queries("sqlite").get(name)
    if statement is None:
        plan.error = "no such statement in queries.sql"
        return plan
    conn = sqlite3.connect(path, timeout=60)
    try:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {statement}", values()).fetchall()
    except sqlite3.Error as exc:
        plan.error = str(exc)
        return plan
    finally:
        conn.close()
    for *_, detail in rows:
        plan.indexes += [i for i in _SQLITE_INDEX.findall(detail) if i not in plan.indexes]
        if _SQLITE_FULL_SCAN.match(detail):
            plan.full_scans.append(detail)
    return plan


def explain_pg(system: ErrandsPgSystem, name: str) -> list[Plan]:
    statement = load_queries("postgres").get(name)
    if statement is None:
        return [Plan(name, "", error="no such statement in queries.sql")]
    names = list(dict.fromkeys(_PG_PARAM.findall(statement)))
    text = _PG_PARAM.sub(lambda m: f"${names.index(m[1]) + 1}", statement.replace("{schema}", f'"{system.schema}"'))
    given = values()
    plans = []
    with psycopg.connect(system.url.split("?")[0], autocommit=True) as conn:
        conn.execute(sql.SQL("PREPARE bench_claim AS {}").format(sql.SQL(text)))
        try:
            row = conn.execute("SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = 'bench_claim'")
            types: list[str] = (row.fetchone() or [[]])[0]
            args = sql.SQL(", ").join(
                sql.SQL("{}::{}").format(sql.Literal(given[n]), sql.SQL(t))
                for n, t in zip(names, types, strict=True)
            )
            for mode in ("custom",):
                conn.execute(sql.SQL("SET plan_cache_mode = {}").format(sql.Literal(f"force_{mode}_plan")))
                found = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE bench_claim ({})").format(args)).fetchone()
                plans.append(_pg_plan(name, mode, found[0] if found else []))
        finally:
            conn.execute("DEALLOCATE bench_claim")
    return plans


def _pg_plan(name: str, mode: str, document: Any) -> Plan:
    plan = Plan(name, mode)
    todo = [document[0]["Plan"]] if document else []
    while todo:
        node = todo.pop()
        todo += node.get("Plans", [])
        index = node.get("Index Name")
        if index and index not in plan.indexes:
            plan.indexes.append(index)
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") == "jobs":
            plan.full_scans.append(f"Seq Scan on {node.get('Alias', 'jobs')}")
    return plan
