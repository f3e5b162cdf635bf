"""PostgreSQL for tests: one migrated template database per session, cloned per test.

A clone (`CREATE DATABASE ... TEMPLATE`) takes about 50 ms and isolates everything,
LISTEN channels included. Without a server, Postgres tests skip locally and fail under CI=true.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from errands.stores import open_store

PG_URL = os.environ.get("ERRANDS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
_PREFIX = "errands_test"
_counter = itertools.count()
_LEFT_OUT = pytest.StashKey[str]()


def url_for(database: str, url: str = PG_URL) -> str:
    """The test server's URL, pointing at another database (query options kept)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)


def _reason(exc: Exception) -> str:
    parts = urlsplit(PG_URL)
    return (
        f"PostgreSQL not reachable at {parts.hostname}:{parts.port or 5432} ({str(exc).strip().splitlines()[0]}); "
        "start it or point ERRANDS_TEST_PG_URL at a server to run the postgres tests"
    )


def _unreachable(exc: Exception) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(_reason(exc))
    pytest.skip(_reason(exc))


def _uses_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return params.get("store_url") == "postgres" or "postgres_url" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a server (and outside CI), leave the postgres tests out and say so once,
    rather than one skip line per test."""
    wanted = [item for item in items if _uses_postgres(item)]
    if not wanted or os.environ.get("CI") == "true":
        return
    try:
        admin().close()
    except psycopg.OperationalError as exc:
        items[:] = [item for item in items if not _uses_postgres(item)]
        config.hook.pytest_deselected(items=wanted)
        config.stash[_LEFT_OUT] = f"{len(wanted)} postgres tests left out: {_reason(exc)}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    note = terminalreporter.config.stash.get(_LEFT_OUT, None)
    if note:
        terminalreporter.write_line(note, yellow=True)


def _drop_leftovers(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Databases of earlier sessions that died before cleaning up (their pid is gone)."""
    for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{_PREFIX}%",)):
        pid = str(name).removeprefix(_PREFIX).strip("_").split("_")[0]
        if pid.isdigit() and not _alive(int(pid)):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database holding the migrated schema, the template of every test's database."""
    try:
        conn = admin()
    except psycopg.OperationalError as exc:
        _unreachable(exc)
        raise
    name = f"{_PREFIX}_{os.getpid()}_template"
    with conn:
        _drop_leftovers(conn)
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
        open_store(url_for(name)).close()
        yield name
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(pg_template: str) -> Iterator[str]:
    """A fresh database cloned from the template, dropped after the test (connections and all)."""
    name = f"{_PREFIX}_{os.getpid()}_{next(_counter)}"
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield url_for(name)
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
