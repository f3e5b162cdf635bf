"""The PostgreSQL store: a connection pool, the server's clock, LISTEN/NOTIFY wake-ups.

Everything lives in its own schema (default `errands`), created and upgraded by
migrations under an advisory lock. Only connections, transactions, migrations and
the change watcher live here; the job logic is in `base.Store`.
"""

from __future__ import annotations

import hashlib
import logging
import select
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.rows import dict_row
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from ..errors import ConfigError, StoreBusy, StoreError
from ..job import Outcome
from .base import Activity, Store
from .postgres_listen import ListenWatcher, PollWatcher
from .postgres_url import TIMEOUTS, describe, first_line, parse_url
from .records import Row
from .sqlfiles import load_migrations, load_queries

log = logging.getLogger("errands.store")

Connection = psycopg.Connection[dict[str, Any]]

_CLOCK = "extract(epoch FROM clock_timestamp())::float8 AS now"
_NOW = f"SELECT {_CLOCK}"
# Statements reading the event log after an id; see `EventLogGate`.
_LOG_READS = frozenset({"select_all_events", "select_events", "select_last_event_id"})
RECONNECT_EVERY = 1.0  # seconds between a pool's attempts to reconnect to a server that is down


class EventLogGate:
    """Keeps the event log readable in id order, as a tail (`events(after=id)`) needs.

    PostgreSQL hands out an event id at insert but shows the row at commit, so without a
    gate a reader could see id 8 before id 7 commits, move past 7, and never see it. Every
    write transaction holds this advisory lock shared from BEGIN (no extra round trip; they
    never wait for each other); a log reader takes it exclusively, which waits only for
    the writes in flight, so everything it reads below the newest id is final. A reader
    waits at most `attempt` seconds at a time (writers queue behind it meanwhile), then
    backs off and tries again, up to `patience` seconds in all."""

    attempt = 0.05
    patience = 5.0

    def __init__(self, schema: str, timeouts: dict[str, float] | None = None) -> None:
        self.key = lock_key(f"errands event log {schema}")
        # The transaction's own timeouts (`postgres_url.TIMEOUTS`) ride in the same round trip,
        # set before the gate is waited for; local to the transaction, so they work behind
        # PgBouncer in transaction mode too, where a session setting would not stay.
        settings = "".join(
            f"set_config('{name}', '{max(round(seconds * 1000), 1) if seconds else 0}ms', true) AS {name}, "
            for name, seconds in (timeouts or {}).items()
        )
        self.begin_write = f"BEGIN; SELECT {settings}pg_advisory_xact_lock_shared({self.key}) AS gate, {_CLOCK}"
        self._begin_read = (
            f"BEGIN; SET LOCAL lock_timeout = '{int(self.attempt * 1000)}ms';"
            f" SELECT pg_advisory_xact_lock({self.key})"
        )

    def read(self, conn: Connection, query: str, params: dict[str, Any]) -> list[Row]:
        deadline = time.monotonic() + self.patience
        pause = 0.01
        while True:
            try:
                conn.execute(self._begin_read)
                break
            except pg_errors.LockNotAvailable:
                conn.execute("ROLLBACK")
            if time.monotonic() + pause > deadline:
                raise StoreBusy(
                    f"the event log stayed locked by a write that has not ended for {self.patience:g}s"
                    " (a stopped worker in the middle of a transaction?); try again"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        try:
            rows: list[Row] = list(conn.execute(query, params).fetchall())
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return rows


class _PromptRetry(AttemptWithBackoff):
    """psycopg_pool's reconnection backoff doubles without end (1, 2, 4, 8 s...): a pool would
    come back many seconds after the server, while leases run out. Capped here at a second."""

    INITIAL_DELAY = 0.2

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_EVERY)


class _Pool(ConnectionPool[Connection]):
    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        super()._add_connection(attempt or _PromptRetry(timeout=self.reconnect_timeout), growing)


def _configure(conn: Connection) -> None:
    # `json` columns come back as the text the application stored, as in SQLite, so one
    # row format serves both stores.
    conn.adapters.register_loader("json", TextLoader)


def _closed_while_idle(conn: Connection) -> bool:
    """Whether the server closed an idle pooled connection (a restart, pg_terminate_backend).
    No round trip: an idle connection has nothing to read, while a closed one holds the
    server's farewell message and the end of the stream."""
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    return bool(readable) or conn.pgconn.status != pq.ConnStatus.OK


class _Tx:
    """One transaction (or, for reads, one autocommit connection) running named SQL.

    `now` is the server's clock in epoch seconds: read with `BEGIN` for a write, on first
    use for a read (most reads never need it)."""

    __slots__ = ("_conn", "_queries", "_now", "_gate")

    def __init__(
        self, conn: Connection, queries: dict[str, str], now: float | None, gate: EventLogGate | None = None
    ) -> None:
        self._conn = conn
        self._queries = queries
        self._now = now
        self._gate = gate  # set for reads: log reads then pass the gate

    @property
    def now(self) -> float:
        if self._now is None:
            row = self._conn.execute(_NOW).fetchone()
            assert row is not None
            self._now = float(row["now"])
        return self._now

    @now.setter
    def now(self, value: float) -> None:
        self._now = value

    def rows(self, query: str, **params: Any) -> list[Row]:
        if self._gate is not None and query in _LOG_READS:
            return self._gate.read(self._conn, self._queries[query], _clean(params))
        return list(self._conn.execute(self._queries[query], _clean(params)).fetchall())

    def run(self, query: str, **params: Any) -> int:
        return self._conn.execute(self._queries[query], _clean(params)).rowcount

    def run_many(self, query: str, params: Sequence[dict[str, Any]]) -> None:
        if len(params) == 1:  # most calls: one plain round trip beats entering pipeline mode
            self._conn.execute(self._queries[query], _clean(params[0]))
            return
        with self._conn.cursor() as cur:
            cur.executemany(self._queries[query], [_clean(p) for p in params])


class ForeignTx:
    """Named SQL on a cursor of the caller's own transaction (transactional enqueue)."""

    __slots__ = ("_cursor", "_queries", "now")

    def __init__(self, cursor: psycopg.Cursor[Row], queries: dict[str, str], now: float) -> None:
        self._cursor = cursor
        self._queries = queries
        self.now = now

    def rows(self, query: str, **params: Any) -> list[Row]:
        return list(self._cursor.execute(self._queries[query], _clean(params)).fetchall())

    def run(self, query: str, **params: Any) -> int:
        return self._cursor.execute(self._queries[query], _clean(params)).rowcount

    def run_many(self, query: str, params: Sequence[dict[str, Any]]) -> None:
        self._cursor.executemany(self._queries[query], [_clean(p) for p in params])


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL text cannot hold NUL characters (SQLite can). A task's error message or log
    line holding one must not make its outcome impossible to record, so NUL becomes U+FFFD."""
    for key, value in params.items():
        if isinstance(value, str) and "\x00" in value:
            params[key] = value.replace("\x00", "\ufffd")
    return params


class PostgresStore(Store):
    """Options in the URL query: `schema` (default errands), `pool_min` and `pool_max`
    (connections kept and allowed, default 1 and 10), `pool_timeout` (seconds to wait for a
    connection, default 10), `listen` (on|off: off polls every `poll_interval` seconds, for
    PgBouncer in transaction mode). Any other option (sslmode, connect_timeout, ...) is
    passed to libpq. Needs PostgreSQL 13 or newer."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.conninfo, options = parse_url(url)
        self.schema = options["schema"]
        self.where = describe(self.conninfo)
        self.listen = options["listen"]
        # listen=off is for PgBouncer in transaction mode, where prepared statements (psycopg
        # prepares a statement run 5 times) break before PgBouncer 1.21: never prepare then.
        self._prepare_threshold: int | None = 5 if self.listen else None
        self.poll_interval = float(options["poll_interval"])
        quoted = f'"{self.schema}"'
        self.channel = f"{self.schema}.ready"
        self._queries = {
            name: sql.replace("{schema}", quoted).replace("{channel}", f"'{self.channel}'")
            for name, sql in load_queries("postgres").items()
        }
        if migrate:
            self.migrate()  # also the first connection: an unreachable server fails here, clearly
        else:
            self._check_reachable()
        if self.listen and self._transaction_pooler():
            log.warning(
                "PostgreSQL at %s is reached through a connection pooler that pools transactions"
                " (PgBouncer in transaction mode?): LISTEN wake-ups and prepared statements break there."
                " Add listen=off to the store URL (idle workers then poll every poll_interval seconds)",
                self.where,
            )
        self._pool: ConnectionPool[Connection] = _Pool(
            self.conninfo,
            connection_class=psycopg.Connection,
            kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": self._prepare_threshold},
            configure=_configure,
            min_size=int(options["pool_min"]),
            max_size=int(options["pool_max"]),
            timeout=float(options["pool_timeout"]),
            name=f"errands-{self.schema}",
            open=True,
        )
        self._told_polling = threading.Event()
        self._gate = EventLogGate(self.schema, {name: options[name] for name in TIMEOUTS})
        # A store dropped without close() must not keep its connections and threads.
        self._closer = weakref.finalize(self, _close_pool, self._pool)
        self._closer.atexit = False

    # -- connections --------------------------------------------------------------

    def _connect(self) -> Connection:
        """A connection of its own, outside the pool (migrations, the change watcher)."""
        try:
            conn = psycopg.connect(self.conninfo, autocommit=True, row_factory=dict_row,
                                   prepare_threshold=self._prepare_threshold)
        except psycopg.Error as exc:
            raise StoreError(f"cannot reach PostgreSQL at {self.where}: {first_line(exc)}") from exc
        _configure(conn)
        return conn

    def _transaction_pooler(self) -> bool:
        """Whether a pooler between us and the server hands each transaction whichever server
        connection is free. A pooler shows itself at connect: the backend pid it announces is its
        own, not the server's. Then two clients: while B holds a transaction, A (whose first
        server connection B may have been given, poolers reuse the latest first) asks again; a
        session pooler or a direct connection keeps A on one server connection, and never
        gives it to B. Never a false alarm; may miss on a busy pool (then it stays silent)."""
        pid = "SELECT pg_backend_pid() AS pid"
        first = self._connect()
        try:
            a_pid = _one(first, pid)
            if a_pid == first.info.backend_pid:
                return False
            second = self._connect()
            try:
                with second.transaction():
                    b_pid = _one(second, pid)
                    return bool(b_pid == a_pid or _one(first, pid) != a_pid)
            finally:
                second.close()
        except psycopg.Error as exc:
            log.debug("could not tell whether %s is behind a pooler: %s", self.where, exc)
            return False
        finally:
            first.close()

    def _check_reachable(self) -> None:
        """Fail at open with one clear line, rather than later from a pool that keeps retrying."""
        self._connect().close()

    def _getconn(self) -> Connection:
        """A pooled connection the server has not closed. (The pool's own `check` hook would
        sleep a second after each dead one; after a restart every idle one is dead.)"""
        for _ in range(self._pool.max_size + 1):
            try:
                conn = self._pool.getconn()
            except PoolTimeout as exc:
                raise StoreError(
                    f"cannot reach PostgreSQL at {self.where}: no connection within {self._pool.timeout:g}s "
                    "(server down, or every pooled connection busy: raise pool_max)"
                ) from exc
            if not _closed_while_idle(conn):
                return conn
            conn.close()
            self._pool.putconn(conn)  # a closed connection is discarded and replaced
        raise StoreError(f"lost every connection to PostgreSQL at {self.where}; try again")

    def _begin(self) -> tuple[Connection, float]:
        """Check out a connection and open a transaction on it, reading the server's clock in
        the same round trip. A pooled connection that died while idle (a server restart) is
        replaced: nothing was sent on it yet, so trying another is safe."""
        for attempt in range(self._pool.max_size + 1):
            conn = self._getconn()
            try:
                cur = conn.execute(self._gate.begin_write)
                cur.nextset()
                row = cur.fetchone()
                assert row is not None
                return conn, float(row["now"])
            except psycopg.Error as exc:
                self._pool.putconn(conn)
                if not conn.broken or attempt == self._pool.max_size:
                    raise self._translate(exc) from exc
                self._pool.check()
        raise AssertionError("unreachable")

    @contextmanager
    def transaction(self) -> Iterator[_Tx]:
        conn, now = self._begin()
        try:
            yield _Tx(conn, self._queries, now)
            conn.execute("COMMIT")
        except BaseException as exc:
            self._rollback(conn)
            if isinstance(exc, psycopg.Error):
                raise self._translate(exc) from exc
            raise
        finally:
            self._pool.putconn(conn)

    @contextmanager
    def read(self) -> Iterator[_Tx]:
        conn = self._getconn()
        try:
            yield _Tx(conn, self._queries, None, self._gate)
        except psycopg.Error as exc:
            raise self._translate(exc) from exc
        finally:
            self._pool.putconn(conn)

    @contextmanager
    def foreign_transaction(self, connection: Any) -> Iterator[ForeignTx]:
        """Write in the caller's open transaction (a psycopg connection, not in autocommit):
        what is written exists if and only if the caller commits."""
        if not isinstance(connection, psycopg.Connection):
            raise ConfigError(f"connection= takes a psycopg connection, not {type(connection).__name__}")
        if connection.autocommit and connection.info.transaction_status == pq.TransactionStatus.IDLE:
            raise ConfigError("connection= must be in a transaction (autocommit is on and no "
                              "`with conn.transaction():` is open): the job would not wait for your commit")
        try:
            with connection.cursor(row_factory=dict_row) as cursor:
                cursor.adapters.register_loader("json", TextLoader)
                row = cursor.execute(_NOW).fetchone()
                assert row is not None
                yield ForeignTx(cursor, self._queries, float(row["now"]))
        except psycopg.Error as exc:
            raise translate_error(exc, self.where, self.schema) from exc

    def check_health(self) -> None:
        """The read of `Store.check_health`, and a refusal when the server only takes reads
        (a standby, or default_transaction_read_only)."""
        super().check_health()
        conn = self._getconn()
        try:
            row = conn.execute("SELECT current_setting('transaction_read_only') AS read_only").fetchone()
        except psycopg.Error as exc:
            raise self._translate(exc) from exc
        finally:
            self._pool.putconn(conn)
        if row is not None and row["read_only"] == "on":
            raise StoreError(f"PostgreSQL at {self.where} takes no writes (a standby, or read-only by default)")

    def _rollback(self, conn: Connection) -> None:
        if conn.broken or conn.closed:
            return
        try:
            conn.execute("ROLLBACK")
        except psycopg.Error:
            conn.close()  # the pool discards a closed connection

    def _translate(self, exc: psycopg.Error) -> StoreError:
        if isinstance(exc, psycopg.OperationalError) and (exc.sqlstate is None or exc.sqlstate.startswith("08")):
            # A dead connection: drop its idle siblings too, they died with it.
            self._pool.check()
        return translate_error(exc, self.where, self.schema)

    # -- schema ---------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply pending migrations in one transaction. An advisory lock (transaction-scoped,
        so it also works behind PgBouncer) makes concurrent callers wait, then find nothing to do."""
        migrations = load_migrations("postgres")
        quoted = f'"{self.schema}"'
        conn = self._connect()
        try:
            if {m.version for m in migrations} <= self._applied(conn):
                return []  # a read: opening a migrated store never waits for the lock
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(f"errands migrate {self.schema}"),))
                conn.execute(
                    f"CREATE SCHEMA IF NOT EXISTS {quoted};"
                    f" CREATE TABLE IF NOT EXISTS {quoted}.schema_migrations"
                    " (version integer PRIMARY KEY, name text NOT NULL, applied_at double precision NOT NULL)"
                )
                done = self._applied(conn)
                applied = []
                for migration in migrations:
                    if migration.version in done:
                        continue
                    conn.execute(migration.sql.replace("{schema}", quoted))
                    conn.execute(
                        f"INSERT INTO {quoted}.schema_migrations"
                        " VALUES (%s, %s, extract(epoch FROM clock_timestamp()))",
                        (migration.version, migration.name),
                    )
                    applied.append(migration.version)
            return applied
        except psycopg.Error as exc:
            raise translate_error(exc, self.where, self.schema) from exc
        finally:
            conn.close()

    def _applied(self, conn: Connection) -> set[int]:
        """Versions of the migrations applied so far (none when the schema is new)."""
        table = f'"{self.schema}".schema_migrations'
        present = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (table,)).fetchone()
        if not present or not present["present"]:
            return set()
        return {int(r["version"]) for r in conn.execute(f"SELECT version FROM {table}")}

    def schema_version(self) -> int:
        conn = self._connect()
        try:
            return max(self._applied(conn), default=0)
        finally:
            conn.close()

    # -- change signal ------------------------------------------------------------------

    def watch(self) -> ListenWatcher | PollWatcher:
        if not self.listen:
            if not self._told_polling.is_set():
                self._told_polling.set()
                log.info(
                    "PostgreSQL store %s: listen=off, so idle workers poll every %gs instead of waiting for NOTIFY",
                    self.where,
                    self.poll_interval,
                )
            return PollWatcher(self.poll_interval)
        return ListenWatcher(self._connect, self.channel)

    def close(self) -> None:
        self._closer()

    # -- dialect-specific orderings ----------------------------------------------------

    def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """As `Store.settle`, locking rows in id order: with every multi-row write doing the
        same, two transactions (a settle and a heartbeat, say) never deadlock."""
        order = sorted(range(len(outcomes)), key=lambda i: outcomes[i].job_id)
        accepted = super().settle([outcomes[i] for i in order])
        result = [False] * len(outcomes)
        for position, ok in zip(order, accepted, strict=True):
            result[position] = ok
        return result

    def save_activity(self, batch: Sequence[Activity]) -> set[int]:
        return super().save_activity(sorted(batch, key=lambda a: a.job_id))


def _one(conn: Connection, query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return next(iter(row.values()))


def _close_pool(pool: ConnectionPool[Connection]) -> None:
    # Garbage collection may run this on one of the pool's own threads, which cannot join
    # itself: close from a thread of its own then.
    if threading.current_thread().name.startswith(f"{pool.name}-"):
        threading.Thread(target=pool.close, name=f"{pool.name}-closer", daemon=True).start()
    else:
        pool.close()


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def translate_error(exc: psycopg.Error, where: str, schema: str) -> StoreError:
    """A message a user can act on, for the PostgreSQL errors that reach them."""
    text = first_line(exc)
    if isinstance(exc, pg_errors.DeadlockDetected | pg_errors.LockNotAvailable | pg_errors.SerializationFailure):
        return StoreBusy(f"PostgreSQL at {where} aborted a transaction on a lock conflict; try again ({text})")
    if isinstance(exc, pg_errors.ReadOnlySqlTransaction):
        return StoreError(f"PostgreSQL at {where} is read-only (a standby, or a read-only default): {text}")
    if isinstance(exc, pg_errors.DiskFull):
        return StoreError(f"the disk of PostgreSQL at {where} is full: free space, then try again ({text})")
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return StoreError(f"the PostgreSQL user lacks a privilege on schema {schema!r} at {where}: {text}")
    if isinstance(exc, pg_errors.UndefinedTable):
        return StoreError(f"the errands tables are missing from schema {schema!r} at {where}: run `errands migrate`")
    if isinstance(exc, psycopg.OperationalError) and (exc.sqlstate is None or exc.sqlstate.startswith(("08", "57P"))):
        return StoreError(f"lost the connection to PostgreSQL at {where}: {text}")
    return StoreError(f"PostgreSQL error at {where}: {text}")
