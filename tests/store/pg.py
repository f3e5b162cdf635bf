"""PostgreSQL for tests: one migrated template database per session, cloned per test.

A clone (`CREATE DATABASE ... TEMPLATE`) isolates everything, LISTEN channels included.
Without a server, Postgres tests are left out locally (one line says so) and fail under CI=true.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
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


class Databases:
    """Clones of the template, made ahead and dropped behind by one background thread, so a
    test waits for neither (CREATE and DROP DATABASE cost 50-300 ms on a busy machine)."""

    AHEAD = 2

    def __init__(self, template: str) -> None:
        self.template = template
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._jobs: queue.Queue[str | None] = queue.Queue()
        for _ in range(self.AHEAD):
            self._jobs.put("")  # "" asks for a new clone
        self._thread = threading.Thread(target=self._run, name="pg-test-databases", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with admin() as conn:
            while (job := self._jobs.get()) is not None:
                try:
                    if job:
                        conn.execute(f'DROP DATABASE IF EXISTS "{job}" WITH (FORCE)')
                        continue
                    name = f"{_PREFIX}_{os.getpid()}_{next(_counter)}"
                    conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                    self._ready.put(name)
                except psycopg.Error as exc:
                    self._ready.put(exc)

    def take(self) -> str:
        self._jobs.put("")
        name = self._ready.get(timeout=60)
        if isinstance(name, BaseException):
            raise name
        return name

    def give_back(self, name: str) -> None:
        self._jobs.put(name)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(60)
        while not self._ready.empty():
            left = self._ready.get()
            if isinstance(left, str):
                with admin() as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{left}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Databases]:
    """A migrated template database, and the clones every test gets of it."""
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
        databases = Databases(name)
        yield databases
        databases.close()
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(pg_databases: Databases) -> Iterator[str]:
    """A fresh database cloned from the template, dropped after the test (connections and all)."""
    name = pg_databases.take()
    yield url_for(name)
    pg_databases.give_back(name)
