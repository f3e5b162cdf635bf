"""Transactional enqueue: the job is written in the caller's own transaction, so it exists
if and only if the caller's data commits."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from errands import ConfigError, Errands, JobContext, State
from tests.helpers import drain


def welcome_app(store_url: str) -> Errands:
    app = Errands(store_url)

    @app.task(name="welcome_email")
    def welcome_email(ctx: JobContext, user: str) -> str:
        return f"sent to {user}"

    return app


@pytest.fixture
def own_connection(store_url: str) -> Iterator[Any]:
    """The application's own database connection, in a transaction, with its own table
    (in the database errands already uses, as an application would have it)."""
    welcome_app(store_url).store.close()
    if store_url.startswith("sqlite"):
        conn: Any = sqlite3.connect(store_url.removeprefix("sqlite:///"))  # implicit BEGIN before writes
        conn.execute("CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY)")
        conn.commit()
    else:
        import psycopg

        conn = psycopg.connect(store_url.split("?")[0])
        conn.execute("CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY)")
        conn.commit()
    yield conn
    conn.close()


def users(conn: Any) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM users ORDER BY name").fetchall()]


def test_commit_keeps_exactly_one_job_and_workers_see_it_only_after(store_url: str, own_connection: Any) -> None:
    app = welcome_app(store_url)
    mark = "?" if store_url.startswith("sqlite") else "%s"
    own_connection.execute(f"INSERT INTO users (name) VALUES ({mark})", ("ada",))
    job = app.enqueue("welcome_email", {"user": "ada"}, connection=own_connection)
    assert app.list_jobs() == []  # not committed yet: invisible to everyone else, workers included
    own_connection.commit()
    assert [j.id for j in app.list_jobs()] == [job.id] and users(own_connection) == ["ada"]
    drain(app)
    assert app.get(job.id).state is State.SUCCEEDED and app.get(job.id).result == "sent to ada"


def test_rollback_leaves_no_job(store_url: str, own_connection: Any) -> None:
    app = welcome_app(store_url)
    mark = "?" if store_url.startswith("sqlite") else "%s"
    own_connection.execute(f"INSERT INTO users (name) VALUES ({mark})", ("bob",))
    app.tasks["welcome_email"].enqueue(user="bob", connection=own_connection)
    own_connection.rollback()
    assert app.list_jobs() == [] and users(own_connection) == []
    assert app.stats() == {}


def test_a_connection_that_cannot_hold_the_job_is_refused(store_url: str, own_connection: Any) -> None:
    app = welcome_app(store_url)
    with pytest.raises(ConfigError, match="connection= takes"):
        app.enqueue("welcome_email", {"user": "x"}, connection=object())
    if store_url.startswith("sqlite"):
        own_connection.isolation_level = None  # autocommit
    else:
        own_connection.autocommit = True
    with pytest.raises(ConfigError, match="must be in a transaction"):
        app.enqueue("welcome_email", {"user": "x"}, connection=own_connection)
    assert app.list_jobs() == []


def test_an_autocommit_connection_inside_an_explicit_transaction_is_taken(store_url: str,
                                                                          own_connection: Any) -> None:
    """psycopg's `with conn.transaction():` on an autocommit connection, or sqlite3's BEGIN."""
    app = welcome_app(store_url)
    if store_url.startswith("sqlite"):
        own_connection.isolation_level = None
        for ending in ("ROLLBACK", "COMMIT"):
            own_connection.execute("BEGIN")
            job = app.enqueue("welcome_email", {"user": "eve"}, connection=own_connection)
            own_connection.execute(ending)
    else:
        own_connection.autocommit = True
        with pytest.raises(RuntimeError, match="roll back"):
            with own_connection.transaction():
                app.enqueue("welcome_email", {"user": "eve"}, connection=own_connection)
                raise RuntimeError("roll back")
        with own_connection.transaction():
            job = app.enqueue("welcome_email", {"user": "eve"}, connection=own_connection)
    assert [j.id for j in app.list_jobs()] == [job.id]
