"""The PostgreSQL server the benchmark runs on: one fresh database per run, one schema per measurement.

Every system keeps everything in a schema of its own inside the run's database, so each
measurement starts on empty tables and the schema is dropped when it is done.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Database:
    """A database created for one run: `url` reaches it, `name` is what to drop."""

    name: str
    url: str

    def execute(self, statement: str | sql.Composable, params: tuple[object, ...] = ()) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(statement, params)  # type: ignore[arg-type]

    def scalar(self, query: str | sql.Composable, params: tuple[object, ...] = ()) -> object:
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
        return None if row is None else row[0]

    def started_at(self, patience: float = 120.0) -> str:
        """When the server last started, waiting for it while it restarts: a change means a restart."""
        deadline = time.monotonic() + patience
        while True:
            try:
                return str(self.scalar("SELECT pg_postmaster_start_time()"))
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def create_schema(self, schema: str) -> None:
        self.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))

    def drop_schema(self, schema: str) -> None:
        self.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def with_database(server_url: str, name: str) -> str:
    """The server's URL with its database path replaced by `name`."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def fresh_database(server_url: str = DEFAULT_SERVER, keep: bool = False) -> Iterator[Database]:
    """Create `errands_bench_<pid>` on the server, yield it, then drop it (unless `keep`)."""
    name = f"errands_bench_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield Database(name, with_database(server_url, name))
    finally:
        if not keep:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def describe_server(db: Database) -> str:
    """Version and the settings that decide commit cost, for the report."""
    with psycopg.connect(db.url, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        settings = conn.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level', 'max_connections')"
            " ORDER BY name"
        ).fetchall()
    shown = ", ".join(f"{name}={value}{'' if unit in (None, '') else ' × ' + unit}" for name, value, unit in settings)
    return f"PostgreSQL {version[0] if version else '?'} ({shown})"
