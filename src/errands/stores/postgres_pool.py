"""PostgreSQL plumbing below the store: the connection pool and its reconnection pace, the gate that
keeps the event log readable in id order, transactions running named SQL (the store's own and the
caller's), and error messages. The store itself (`postgres.PostgresStore`) opens and uses these."""

from __future__ import annotations

import hashlib
import re
import select
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.rows import tuple_row
from psycopg.types.string import TextBinaryLoader, TextLoader
from psycopg_pool import ConnectionPool
from psycopg_pool.base import AttemptWithBackoff

from ..errors import StoreBusy, StoreError
from .postgres_url import first_line
from .records import Row
from .values import Table


class Connection(psycopg.Connection[dict[str, Any]]):
    """A connection of the store's. It keeps one cursor for the statement run most often by itself
    (a single enqueue): a cursor learns how to send each type of parameter, which a new cursor per
    statement (`execute`) works out again, ~15 µs of the ~40 µs of client CPU an enqueue costs.
    Its rows are tuples: a dict per row costs the column names read again on every statement."""

    _kept: psycopg.Cursor[tuple[Any, ...]] | None = None

    def kept_cursor(self) -> psycopg.Cursor[tuple[Any, ...]]:
        if self._kept is None or self._kept.closed:
            self._kept = self.cursor(row_factory=tuple_row)
        return self._kept


CLOCK = "extract(epoch FROM clock_timestamp())::float8 AS now"
NOW = f"SELECT {CLOCK}"
# Statements reading the event log after an id; see `EventLogGate`.
# A NUL escaped in JSON text: \u0000 after an even number of backslashes (an odd one escapes it).
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
LOG_READS = frozenset({"select_all_events", "select_events", "select_last_event_id"})
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
        # No JIT: compiling a plan takes tens of milliseconds, and the planner asks for it when a
        # claim's estimate grows with a large backlog. Custom plans only: a prepared claim's generic
        # plan (made without its LIMIT and lists) may join by scanning every job. Whether any flow
        # row constrains claims rides along too: most stores have none, and their claims then lock
        # no flow rows.
        flow = (f'EXISTS (SELECT 1 FROM "{schema}".flow WHERE concurrency IS NOT NULL OR rate_count IS NOT NULL'
                " OR paused = 1) AS flow")
        self.begin_write = (f"BEGIN; SELECT {settings}set_config('jit', 'off', true) AS jit,"
                            " set_config('plan_cache_mode', 'force_custom_plan', true) AS plans,"
                            f" pg_advisory_xact_lock_shared({self.key}) AS gate, {flow}, {CLOCK}")
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


class PromptRetry(AttemptWithBackoff):
    """psycopg_pool's reconnection backoff doubles without end (1, 2, 4, 8 s...): a pool would
    come back many seconds after the server, while leases run out. Capped here at a second."""

    INITIAL_DELAY = 0.2

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_EVERY)


class Pool(ConnectionPool[Connection]):
    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        super()._add_connection(attempt or PromptRetry(timeout=self.reconnect_timeout), growing)


def configure(conn: Connection) -> None:
    # `json` columns come back as the text the application stored, as in SQLite, so one
    # row format serves both stores; in binary results (claims: `PgTx.table`) too.
    conn.adapters.register_loader("json", TextLoader)
    conn.adapters.register_loader("json", TextBinaryLoader)


def closed_while_idle(conn: Connection) -> bool:
    """Whether the server closed an idle pooled connection (a restart, pg_terminate_backend).
    No round trip: an idle connection has nothing to read, while a closed one holds the
    server's farewell message and the end of the stream."""
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    return bool(readable) or conn.pgconn.status != pq.ConnStatus.OK


class PgTx:
    """One transaction (or, for reads, one autocommit connection) running named SQL.

    `now` is the server's clock in epoch seconds: read with `BEGIN` for a write, on first
    use for a read (most reads never need it)."""

    __slots__ = ("_conn", "_queries", "_now", "_gate", "flow_free")
    events_in_writes = True

    def __init__(
        self, conn: Connection, queries: dict[str, str], now: float | None, gate: EventLogGate | None = None,
        *, flow_free: bool = False,
    ) -> None:
        self._conn = conn
        self._queries = queries
        self._now = now
        self._gate = gate  # set for reads: log reads then pass the gate
        self.flow_free = flow_free

    @property
    def now(self) -> float:
        if self._now is None:
            row = self._conn.execute(NOW).fetchone()
            assert row is not None
            self._now = float(row["now"])
        return self._now

    @now.setter
    def now(self, value: float) -> None:
        self._now = value

    def rows(self, query: str, **params: Any) -> list[Row]:
        if self._gate is not None and query in LOG_READS:
            return self._gate.read(self._conn, self._queries[query], clean(params))
        return list(self._conn.execute(self._queries[query], clean(params)).fetchall())

    def run(self, query: str, **params: Any) -> int:
        return self._conn.execute(self._queries[query], clean(params)).rowcount

    def table(self, query: str, **params: Any) -> Table:
        """Rows as tuples, in binary format: a claim's hundreds of jobs, each with its times as 8 bytes
        rather than text the server formats and the worker parses (~1.5 µs a row less, both sides)."""
        return read_table(self._conn.cursor(row_factory=tuple_row, binary=True), self._queries[query], params)


class ForeignTx:
    """Named SQL on a cursor of the caller's own transaction (transactional enqueue)."""

    __slots__ = ("_cursor", "_queries", "now")
    events_in_writes = True
    flow_free = False

    def __init__(self, cursor: psycopg.Cursor[Row], queries: dict[str, str], now: float) -> None:
        self._cursor = cursor
        self._queries = queries
        self.now = now

    def rows(self, query: str, **params: Any) -> list[Row]:
        return list(self._cursor.execute(self._queries[query], clean(params)).fetchall())

    def run(self, query: str, **params: Any) -> int:
        return self._cursor.execute(self._queries[query], clean(params)).rowcount

    def table(self, query: str, **params: Any) -> Table:
        return read_table(self._cursor.connection.cursor(row_factory=tuple_row), self._queries[query], params)


def read_table(cursor: psycopg.Cursor[tuple[Any, ...]], query: str, params: dict[str, Any]) -> Table:
    rows = cursor.execute(query, clean(params)).fetchall()
    # The names alone: `cursor.description` makes a Column per column, ~30 µs for a job's 34.
    result = cursor.pgresult
    names = [] if result is None else [(result.fname(i) or b"").decode() for i in range(result.nfields)]
    return names, rows


def clean(params: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL text cannot hold NUL characters (SQLite can). A task's error message or log
    line holding one must not make its outcome impossible to record, so NUL becomes U+FFFD,
    also where a JSON parameter (a batch of outcomes) carries it escaped as \\u0000."""
    for key, value in params.items():
        if isinstance(value, str):
            if "\x00" in value:
                value = params[key] = value.replace("\x00", "\ufffd")
            if "\\u0000" in value:
                params[key] = _JSON_NUL.sub(r"\1\\ufffd", value)
    return params


def one_value(conn: Connection, query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return next(iter(row.values()))


class Claimer:
    """The connection an idle worker's claims run on, one statement each (`claim_alone`), outside the
    pool: a statement run alone is planned before it could set what a claim transaction sets at BEGIN
    (`EventLogGate`), so they are set for this connection's session; the pooled connections keep the
    server's defaults (custom plans on every run would cost an enqueue a quarter of its speed).
    Opened on first use and again after it died; one thread at a time (`take` returns None meanwhile)."""

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def take(self) -> Connection | None:
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._conn is not None and closed_while_idle(self._conn):
                self._drop()
            if self._conn is None:
                conn = self._connect()
                conn.execute("SET jit = off; SET plan_cache_mode = force_custom_plan")
                self._conn = conn
            return self._conn
        except BaseException:
            self._lock.release()
            raise

    def give_back(self) -> None:
        if self._conn is not None and self._conn.broken:
            self._drop()
        self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def close_pool(pool: ConnectionPool[Connection], claimer: Claimer) -> None:
    claimer.close()
    # Garbage collection may run this on one of the pool's own threads, which cannot join
    # itself: close from a thread of its own then.
    if threading.current_thread().name.startswith(f"{pool.name}-"):
        threading.Thread(target=pool.close, name=f"{pool.name}-closer", daemon=True).start()
    else:
        pool.close()


def claim_alone(claim: str, began: str) -> str:
    """A claim statement (batch.sql) as a transaction of its own, after `part_claim_began`: its clock
    read in `began`, nothing leased when a flow row exists. Its rows: `flow`, then the columns of a
    job leased, one row per job; one row with no job (its columns NULL) when none was."""
    lease = "WHERE j.id = ANY(ARRAY(SELECT id FROM picked))"
    assert claim.startswith("WITH picked AS") and lease in claim and claim.endswith("SELECT * FROM claimed"), claim
    body = claim.removeprefix("WITH ").replace("%(now)s", "(SELECT now FROM began)")
    body = body.replace(lease, f"{lease} AND NOT (SELECT flow FROM began)")
    body = body.removesuffix("SELECT * FROM claimed")
    body += "SELECT began.flow, claimed.* FROM began LEFT JOIN claimed ON true"
    return f"{began}, {body}"


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
