"""The PostgreSQL store: a connection pool, the server's clock, LISTEN/NOTIFY wake-ups.

Everything lives in its own schema (default `errands`), created and upgraded by
migrations under an advisory lock. Only connections, transactions, migrations and
the change watcher live here (pool and gate helpers in `postgres_pool`); the job logic
is in the modules `base.Store` calls.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq
from psycopg.rows import dict_row, tuple_row
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from ..errors import ConfigError, StoreClosed, StoreError
from ..job import Job, NewJob, Outcome
from . import flow, leases, produce
from .aftermath import FollowUps
from .base import Store
from .postgres_listen import ListenWatcher, PollWatcher
from .postgres_pool import (
    NOW,
    Claimer,
    Connection,
    EventLogGate,
    ForeignTx,
    PgTx,
    Pool,
    claim_alone,
    clean,
    close_pool,
    closed_while_idle,
    configure,
    lock_key,
    one_value,
    read_table,
    translate_error,
)
from .postgres_url import TIMEOUTS, describe, first_line, parse_url
from .records import jobs_from_table
from .sqlfiles import load_migrations, load_queries
from .values import Claim

log = logging.getLogger("errands.store")


class PostgresStore(Store):
    """Options in the URL query: `schema` (default errands), `pool_min` and `pool_max`
    (connections kept and allowed, default 1 and 10), `pool_timeout` (seconds to wait for a
    connection, default 10), `listen` (on|off: off polls every `poll_interval` seconds, for
    PgBouncer in transaction mode). Any other option (sslmode, connect_timeout, ...) is
    passed to libpq. Needs PostgreSQL 13 or newer. `follow_ups` gives the jobs (notifications)
    to store when a job ends."""

    def __init__(self, url: str, *, migrate: bool = True, follow_ups: FollowUps | None = None) -> None:
        self.url = url
        self._follow_ups = follow_ups
        self.conninfo, options = parse_url(url)
        self.schema = options["schema"]
        self.where = describe(self.conninfo)
        self.listen = options["listen"]
        # A statement is prepared on its second run (psycopg learns from the first whether it can
        # be: one command): the same few dozen run all the time, and parsing the claim and settle
        # statements costs the server ~0.35 ms each. listen=off is for PgBouncer in transaction
        # mode, where prepared statements break before PgBouncer 1.21: never prepare then.
        self._prepare_threshold: int | None = 1 if self.listen else None
        self.poll_interval = float(options["poll_interval"])
        quoted = f'"{self.schema}"'
        self.channel = f"{self.schema}.ready"
        self._queries = {
            name: sql.replace("{schema}", quoted).replace("{channel}", f"'{self.channel}'")
            for name, sql in load_queries("postgres").items()
        }
        began = self._queries["part_claim_began"]
        self._claims_alone = {name: claim_alone(sql, began) for name, sql in self._queries.items()
                              if name.startswith("claim")}
        self._flow_free = True  # whether the last transaction saw no flow row (claims alone are tried then)
        first = self._connect()  # an unreachable server fails here, with one clear line
        try:
            if migrate:
                self._migrate(first)
            pooled = self.listen and self._transaction_pooler(first)
        finally:
            first.close()
        if pooled:
            log.warning(
                "PostgreSQL at %s is reached through a connection pooler that pools transactions"
                " (PgBouncer in transaction mode?): LISTEN wake-ups and prepared statements break there."
                " Add listen=off to the store URL (idle workers then poll every poll_interval seconds)",
                self.where,
            )
        self._pool: ConnectionPool[Connection] = Pool(
            self.conninfo,
            connection_class=Connection,
            kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": self._prepare_threshold},
            configure=configure,
            min_size=int(options["pool_min"]),
            max_size=int(options["pool_max"]),
            timeout=float(options["pool_timeout"]),
            name=f"errands-{self.schema}",
            open=True,
        )
        self._told_polling = threading.Event()
        self._gate = EventLogGate(self.schema, {name: options[name] for name in TIMEOUTS})
        waits = float(options["lock_timeout"])  # what `enqueue` waits for the gate, as a transaction does
        self._lock_timeout = f"{max(round(waits * 1000), 1) if waits else 0}ms"
        # A store dropped without close() must not keep its connections and threads.
        self._claimer = Claimer(self._connect)
        self._closer = weakref.finalize(self, close_pool, self._pool, self._claimer)
        self._closer.atexit = False

    # -- producer -------------------------------------------------------------------

    def enqueue(self, new: NewJob, connection: Any = None) -> tuple[Job, bool]:
        """`Store.enqueue`; a job alone (no unique key, no parent, no caller's transaction) is one
        statement in autocommit, its clock and the event-log gate taken inside it: one round trip
        instead of four."""
        if connection is not None or not produce.alone(new):
            return super().enqueue(new, connection)
        job_id, run_at, created_at, _ = self._enqueue_alone("enqueue_job", new)[0]
        return produce.new_job(new, job_id, created_at, run_at), True

    def enqueue_alike(self, new: NewJob) -> list[int]:
        """`Store.enqueue_alike` as one statement in autocommit, its clock and the event-log gate
        taken inside it (as `enqueue`): one round trip instead of three."""
        if not produce.alone(new):
            return super().enqueue_alike(new)
        return sorted(job_id for job_id, _ in self._enqueue_alone("enqueue_jobs", new))

    def _enqueue_alone(self, query: str, new: NewJob) -> list[tuple[Any, ...]]:
        """Run an enqueue statement that is a transaction of its own (see part_began); its rows as tuples."""
        params = {**produce.fields(new), "run_at": new.run_at, "delay": new.delay,
                  "data": produce.first_event_data(new.task), "gate": self._gate.key,
                  "lock_timeout": self._lock_timeout}
        conn = self._getconn()
        try:
            return conn.kept_cursor().execute(self._queries[query], clean(params)).fetchall()
        except psycopg.Error as exc:
            raise self._translate(exc) from exc
        finally:
            self._pool.putconn(conn)

    # -- worker ---------------------------------------------------------------------

    def claim(self, worker_id: str, queues: Sequence[str] | None, limit: int, tasks: Sequence[str] | None = None,
              *, settle: Sequence[Outcome] = ()) -> Claim:
        """`Store.claim`; with nothing to settle and no flow row (as last seen), one statement in
        autocommit (`part_claim_began`) on the claimer's connection: what an idle worker woken by a new
        job does, so that it starts the job sooner. Not behind a pooler of transactions (listen=off):
        the claimer's session settings would not stay."""
        allowed = flow.narrowed(None, queues, tasks)
        if settle or not self._flow_free or not self.listen or allowed is None:
            return super().claim(worker_id, queues, limit, tasks, settle=settle)
        queues_left, tasks_left, skips = allowed
        suffix, params = leases.claim_filters(queues_left, tasks_left)
        params |= skips | {"worker_id": worker_id, "lease_nonce": leases.lease_nonce(), "limit": limit,
                           "gate": self._gate.key, "lock_timeout": self._lock_timeout}
        conn = self._claimer.take()
        if conn is None:  # another thread's idle claim runs on it
            return super().claim(worker_id, queues, limit, tasks)
        try:
            claim = self._claims_alone["claim" + suffix]
            columns, rows = read_table(conn.cursor(row_factory=tuple_row, binary=True), claim, params)
        except psycopg.Error as exc:
            raise self._translate(exc) from exc
        finally:
            self._claimer.give_back()
        if rows[0][0]:  # a flow row exists: claim within its limits
            self._flow_free = False
            return super().claim(worker_id, queues, limit, tasks)
        return Claim(leases.in_claim_order(jobs_from_table(columns, (row for row in rows if row[1] is not None))), [])

    # -- connections --------------------------------------------------------------

    def _connect(self) -> Connection:
        """A connection of its own, outside the pool (migrations, the change watcher)."""
        try:
            conn = Connection.connect(self.conninfo, autocommit=True, row_factory=dict_row,
                                   prepare_threshold=self._prepare_threshold)
        except psycopg.Error as exc:
            raise StoreError(f"cannot reach PostgreSQL at {self.where}: {first_line(exc)}") from exc
        configure(conn)
        return conn

    def _transaction_pooler(self, first: Connection) -> bool:
        """Whether a pooler between us and the server hands each transaction whichever server
        connection is free. A pooler shows itself at connect: the backend pid it announces is its
        own, not the server's. Then two clients: while B holds a transaction, A (whose first
        server connection B may have been given, poolers reuse the latest first) asks again; a
        session pooler or a direct connection keeps A on one server connection, and never
        gives it to B. Never a false alarm; may miss on a busy pool (then it stays silent)."""
        pid = "SELECT pg_backend_pid() AS pid"
        try:
            a_pid = one_value(first, pid)
            if a_pid == first.info.backend_pid:
                return False
            second = self._connect()
            try:
                with second.transaction():
                    b_pid = one_value(second, pid)
                    return bool(b_pid == a_pid or one_value(first, pid) != a_pid)
            finally:
                second.close()
        except psycopg.Error as exc:
            log.debug("could not tell whether %s is behind a pooler: %s", self.where, exc)
            return False

    def _getconn(self) -> Connection:
        """A pooled connection the server has not closed. (The pool's own `check` hook would
        sleep a second after each dead one; after a restart every idle one is dead.)"""
        for _ in range(self._pool.max_size + 1):
            try:
                conn = self._pool.getconn()
            except PoolClosed as exc:
                raise StoreClosed(f"the store of PostgreSQL at {self.where} is closed (app.close() was called)"
                                  ) from exc
            except PoolTimeout as exc:
                raise StoreError(
                    f"cannot reach PostgreSQL at {self.where}: no connection within {self._pool.timeout:g}s "
                    "(server down, or every pooled connection busy: raise pool_max)"
                ) from exc
            if not closed_while_idle(conn):
                return conn
            conn.close()
            self._pool.putconn(conn)  # a closed connection is discarded and replaced
        raise StoreError(f"lost every connection to PostgreSQL at {self.where}; try again")

    def _begin(self) -> tuple[Connection, float, bool]:
        """Check out a connection and open a transaction on it, reading the server's clock (and
        whether any flow row constrains claims) in the same round trip. A pooled connection that
        died while idle (a server restart) is replaced: nothing was sent on it yet, so trying
        another is safe."""
        for attempt in range(self._pool.max_size + 1):
            conn = self._getconn()
            try:
                cur = conn.execute(self._gate.begin_write)
                cur.nextset()
                row = cur.fetchone()
                assert row is not None
                self._flow_free = not row["flow"]
                return conn, float(row["now"]), self._flow_free
            except psycopg.Error as exc:
                self._pool.putconn(conn)
                if not conn.broken or attempt == self._pool.max_size:
                    raise self._translate(exc) from exc
                self._pool.check()
        raise AssertionError("unreachable")

    @contextmanager
    def _transaction(self) -> Iterator[PgTx]:
        conn, now, flow_free = self._begin()
        try:
            yield PgTx(conn, self._queries, now, flow_free=flow_free)
            conn.execute("COMMIT")
        except BaseException as exc:
            self._rollback(conn)
            if isinstance(exc, psycopg.Error):
                raise self._translate(exc) from exc
            raise
        finally:
            self._pool.putconn(conn)

    @contextmanager
    def _read(self) -> Iterator[PgTx]:
        conn = self._getconn()
        try:
            yield PgTx(conn, self._queries, None, self._gate)
        except psycopg.Error as exc:
            raise self._translate(exc) from exc
        finally:
            self._pool.putconn(conn)

    @contextmanager
    def _foreign_transaction(self, connection: Any) -> Iterator[ForeignTx]:
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
                row = cursor.execute(NOW).fetchone()
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
        conn = self._connect()
        try:
            return self._migrate(conn)
        finally:
            conn.close()

    def _migrate(self, conn: Connection) -> list[int]:
        migrations = load_migrations("postgres")
        quoted = f'"{self.schema}"'
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
