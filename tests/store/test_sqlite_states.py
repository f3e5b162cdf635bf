"""SQLite's conditions on a job's state: written without lists of three or more values (SQLite builds a
temporary b-tree for each such list and probes it for every row written), yet still read through the
partial indexes that hold finished and unfinished jobs."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from errands.stores import open_store
from errands.stores.sqlite import _QUERIES

# A literal list of three or more values after IN: "IN ('a', 'b', 'c')".
LONG_LIST = re.compile(r"\bIN\s*\(\s*'[^']*'(\s*,\s*'[^']*'){2,}\s*\)", re.IGNORECASE)


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    path = tmp_path / "states.db"
    open_store(f"sqlite:///{path}").close()
    return sqlite3.connect(path)


def explain(conn: sqlite3.Connection, query: str, verb: str = "EXPLAIN") -> list[tuple[object, ...]]:
    names = set(re.findall(r":(\w+)", _QUERIES[query]))
    return conn.execute(f"{verb} {_QUERIES[query]}", dict.fromkeys(names)).fetchall()


def test_the_schema_lists_no_three_states(conn: sqlite3.Connection) -> None:
    schema = [sql for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")]
    assert any("state = 'cancelled'" in sql for sql in schema)
    assert [sql for sql in schema if LONG_LIST.search(sql)] == []


def test_a_single_enqueue_builds_no_temporary_btree(conn: sqlite3.Connection) -> None:
    opcodes = [row[1] for row in explain(conn, "enqueue_job")]
    assert "Insert" in opcodes and "OpenEphemeral" not in opcodes


@pytest.mark.parametrize(("query", "index"), [
    ("select_prunable", "jobs_finished"),
    ("dash_finished_per_minute", "jobs_finished"),
    ("find_unfinished_by_key", "jobs_unique_key"),
    ("count_unfinished_by_queue_state", "jobs_ready_task"),
    ("count_unfinished_by_queue_state", "jobs_leases"),
])
def test_queries_of_finished_or_unfinished_jobs_read_their_index(
    conn: sqlite3.Connection, query: str, index: str
) -> None:
    details = " ".join(str(row[3]) for row in explain(conn, query, "EXPLAIN QUERY PLAN"))
    assert f"INDEX {index} " in details, details


def test_counting_finished_jobs_reads_their_index(conn: sqlite3.Connection) -> None:
    details = [str(row[3]) for row in explain(conn, "dash_state_counts", "EXPLAIN QUERY PLAN")]
    assert sum("INDEX jobs_finished " in d for d in details) == 3, details
