"""Migrations: a database upgraded step by step ends up the same as a new one, data kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

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
