"""Migrations: a database upgraded step by step ends up the same as a new one, data kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from errands.job import NewJob
from errands.stores import open_store
from errands.stores.sqlfiles import load_migrations
from errands.stores.sqlite import split_statements
from tests.helpers import errands_cli


def schema(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))


def apply_first_migration_only(path: Path) -> None:
    first = load_migrations("sqlite")[0]
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                     "applied_at REAL NOT NULL)")
        for statement in split_statements(first.sql):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (first.version, first.name))
        conn.execute("INSERT INTO jobs (task, queue, args, state, run_at, created_at) "
                     "VALUES ('old', 'default', '{}', 'queued', 0, 0)")


def test_an_upgraded_database_matches_a_new_one_and_keeps_its_jobs(tmp_path: Path) -> None:
    assert [m.version for m in load_migrations("sqlite")] == list(range(1, len(load_migrations("sqlite")) + 1))
    fresh, old = tmp_path / "fresh.db", tmp_path / "old.db"
    open_store(f"sqlite:///{fresh}").close()
    apply_first_migration_only(old)
    upgraded = open_store(f"sqlite:///{old}")
    assert upgraded.get(1).task == "old"
    upgraded.close()
    assert schema(old) == schema(fresh)


def test_errands_migrate_applies_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    apply_first_migration_only(path)
    done = errands_cli("migrate", "--url", f"sqlite:///{path}")
    later = [m.version for m in load_migrations("sqlite")][1:]
    assert done.returncode == 0 and done.stdout.strip() == f"applied migration(s) {later}"
    assert errands_cli("migrate", "--url", f"sqlite:///{path}").stdout.strip() == "schema is up to date"


def test_rebuilding_the_jobs_table_keeps_every_column_of_every_job(tmp_path: Path) -> None:
    """Migration 012 copies the jobs into a table made anew: every value of every column survives,
    and new ids continue after the old ones."""
    path = tmp_path / "before-012.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                     "applied_at REAL NOT NULL)")
        for migration in load_migrations("sqlite")[:11]:
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (migration.version, migration.name))
        columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
        states = ["scheduled", "queued", "running", "succeeded", "failed", "cancelled"]
        for n, state in enumerate(states, start=1):  # a distinct value in every column of every job
            values = {name: f"{name}-{n}" for name in columns} | {
                "id": n * 10, "state": state, "priority": n, "attempt": n, "max_attempts": n + 1,
                "worker_losses": n, "max_worker_losses": n + 2, "run_at": n + 0.5, "created_at": n + 0.25,
                "started_at": n + 1.5, "finished_at": n + 2.5, "progress_current": n / 3,
                "progress_total": n * 3.0, "lease_expires_at": n + 9.5, "lease_seconds": n + 0.75,
                "cancel_requested": n % 2, "parent_id": n, "timeout": n * 60.0, "has_children": n % 2,
                "scheduled_for": n + 0.125,
            }
            conn.execute(f"INSERT INTO jobs ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                         list(values.values()))
        before = conn.execute("SELECT * FROM jobs ORDER BY id").fetchall()
    store = open_store(f"sqlite:///{path}")
    job, _ = store.enqueue(NewJob(task="later", args_json="{}"))
    store.close()
    with sqlite3.connect(path) as conn:
        assert [row[1] for row in conn.execute("PRAGMA table_info(jobs)")] == columns
        assert conn.execute("SELECT * FROM jobs WHERE id < ? ORDER BY id", (job.id,)).fetchall() == before
        assert 12 in {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    assert job.id == 61
