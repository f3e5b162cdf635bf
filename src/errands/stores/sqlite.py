"""The SQLite store: one file in WAL mode, one connection per thread.

Durable by default (`synchronous=FULL`). Writers take the lock up front
(`BEGIN IMMEDIATE`) so two writers never deadlock upgrading a read lock.
Only connection handling lives here; the job logic is in the modules `base.Store` calls.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from ..errors import ConfigError, StoreBusy, StoreError
from ..job import Job, NewJob
from . import produce
from .aftermath import FollowUps
from .base import Store
from .records import Row
from .sqlfiles import load_migrations, load_queries, positional
from .sqlite_wake import DataVersionWatcher
from .values import Table

_QUERIES = load_queries("sqlite")
_ENQUEUE_JOB, _ENQUEUE_VALUES = positional(_QUERIES["enqueue_job"])
T = TypeVar("T")
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def write_lock(path: str) -> threading.Lock:
    """One lock per database file in this process: threads take turns in Python instead of
    meeting in SQLite's busy handler, which sleeps 1, 2, 5, 10 ms and more between tries."""
    key = os.path.realpath(path)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())
_SYNCHRONOUS = {"full", "normal", "off", "extra"}
INCREMENTAL = 2  # PRAGMA auto_vacuum's answer for incremental
VACUUM_STEP = 2000  # pages freed per write transaction (8 MB of 4 KiB pages)
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes the WAL is cut back to after a checkpoint


def translate_error(exc: sqlite3.Error, path: str) -> StoreError:
    """A message a user can act on, for the SQLite errors that reach them."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreBusy(
            f"the database {path} stayed locked by another process longer than the busy timeout; try again"
        )
    if ("readonly" in text or "disk I/O error" in text) and read_only_disk(path):
        return StoreError(f"the database {path} is read-only: its disk refuses writes (mounted read-only?); "
                          "nothing was written")
    if "readonly" in text:
        return StoreError(f"the database {path} is read-only: check the file's and its folder's permissions")
    if "full" in text:
        return StoreError(f"the disk holding {path} is full: free space, then try again (nothing was written)")
    return StoreError(f"SQLite error on {path}: {text}")


def read_only_disk(path: str) -> bool:
    """Whether the file's disk refuses writes now: SQLite reports only "disk I/O error"
    when a disk is remounted read-only under connections already open."""
    try:
        os.close(os.open(path, os.O_RDWR))
    except OSError as exc:
        return exc.errno == errno.EROFS
    return False


class _Connection(sqlite3.Connection):
    """A pooled connection that remembers whether SQLite's busy handler waits on it. It waits
    (busy_timeout set) for everything but our own write transactions: there `BEGIN IMMEDIATE`
    retries by itself (`_until_free`), and in WAL mode nothing after it waits for a lock.
    The pragma is changed only when a connection goes from one use to the other: a run of
    writes (enqueues) pays for it once, not twice per transaction."""

    patient = True


# `SQLiteStore._held` and `_writing` are classes, not generator context managers: every statement
# enters them, and a generator's set-up cost ~3 µs of a single enqueue's ~60.
class _Held:
    __slots__ = ("_store", "_patient", "_guard")

    def __init__(self, store: SQLiteStore, patient: bool) -> None:
        self._store, self._patient = store, patient

    def __enter__(self) -> _Connection:
        conn, guard = self._store._thread_connection()
        guard.acquire()
        try:
            if conn.patient is not self._patient:
                self._store._be_patient(conn, self._patient)
        except BaseException:
            guard.release()
            raise
        self._guard = guard
        return conn

    def __exit__(self, *exc_info: object) -> None:
        self._guard.release()


class _Writing:
    __slots__ = ("_store", "_conn")

    def __init__(self, store: SQLiteStore, conn: sqlite3.Connection) -> None:
        self._store, self._conn = store, conn

    def __enter__(self) -> None:
        store = self._store
        if not store._write_lock.acquire(timeout=store.busy_timeout):
            raise StoreBusy(f"the database {store.path} stayed busy (writers in this process) longer than the busy "
                            "timeout; try again")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        try:
            if isinstance(exc, StoreError) and getattr(exc.__cause__, "sqlite_errorname", "").startswith(
                    "SQLITE_READONLY"):
                self._store._forget(self._conn)
        finally:
            self._store._write_lock.release()


class _Tx:
    __slots__ = ("conn", "now")
    events_in_writes = False
    flow_free = False  # reading the flow rows is as cheap as asking whether there are any

    def __init__(self, conn: sqlite3.Connection, now: float) -> None:
        self.conn = conn
        self.now = now

    def rows(self, query: str, **params: Any) -> list[Row]:
        return self.conn.execute(_QUERIES[query], params).fetchall()

    def run(self, query: str, **params: Any) -> int:
        return self.conn.execute(_QUERIES[query], params).rowcount

    def table(self, query: str, **params: Any) -> Table:
        cursor = self.conn.cursor()
        cursor.row_factory = None  # plain tuples, not sqlite3.Row
        rows = cursor.execute(_QUERIES[query], params).fetchall()
        return [column[0] for column in cursor.description or ()], rows


class SQLiteStore(Store):
    """Options in the URL query: `synchronous` (full|normal|off|extra, default full),
    `busy_timeout` (milliseconds, default 5000), `poll_interval` (seconds between change
    checks where inotify is not available, default 0.002). Without `create`, a file that
    does not exist is refused instead of created. `follow_ups` gives the jobs (notifications) to
    store when a job ends."""

    def __init__(self, url: str, *, migrate: bool = True, create: bool = True,
                 follow_ups: FollowUps | None = None) -> None:
        self.url = url
        self._follow_ups = follow_ups
        parts = urlsplit(url)
        raw_path = url.split("://", 1)[1].split("?", 1)[0]
        if not raw_path or raw_path in ("/:memory:", ":memory:", "/"):
            raise ConfigError(
                f"{url!r}: give a database file, e.g. sqlite:///errands.db (workers in other "
                "processes cannot share an in-memory database)"
            )
        self.path = raw_path[1:] if raw_path.startswith("/") else raw_path
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.synchronous = options.pop("synchronous", "full").lower()
        if self.synchronous not in _SYNCHRONOUS:
            raise ConfigError(f"synchronous={self.synchronous!r} in {url!r}: use one of {sorted(_SYNCHRONOUS)}")
        try:
            self.busy_timeout = float(options.pop("busy_timeout", "5000")) / 1000
            self.poll_interval = float(options.pop("poll_interval", "0.002"))
        except ValueError as exc:
            raise ConfigError(f"{url!r}: busy_timeout and poll_interval take numbers ({exc})") from None
        if options:
            raise ConfigError(f"unknown option(s) {sorted(options)} in {url!r}")
        self._local = threading.local()
        # Each pooled connection with the lock its thread holds while using it: close() takes it
        # before closing, since closing a connection another thread is stepping crashes the process.
        self._guards: dict[sqlite3.Connection, threading.RLock] = {}
        self._lock = threading.Lock()
        if not create and not Path(self.path).is_file():
            raise ConfigError(
                f"no errands database at {Path(self.path).resolve()}: check the folder, --url or ERRANDS_URL "
                "(errands migrate creates one)"
            )
        self._check_path()
        self._write_lock = write_lock(self.path)
        if migrate:
            self._migrate_schema()

    # -- producer -------------------------------------------------------------------

    def enqueue(self, new: NewJob, connection: Any = None) -> tuple[Job, bool]:
        """`Store.enqueue`; a job alone (no unique key, no parent, no caller's transaction) is one
        INSERT in autocommit, which writes its first event too (the trigger of migration 010): one
        statement instead of four, and the job is made from what was inserted, not read back."""
        if connection is not None or not produce.alone(new):
            return super().enqueue(new, connection)
        params = produce.fields(new)

        def insert() -> tuple[float, float, int]:
            now = time.time()  # read as the write lock is taken (a busy try is made again with a new clock)
            run_at = now + new.delay if new.delay is not None else now if new.run_at is None else new.run_at
            params.update(now=now, run_at=run_at, state="scheduled" if run_at > now else "queued")
            job_id = conn.execute(_ENQUEUE_JOB, _ENQUEUE_VALUES(params)).lastrowid
            assert job_id is not None
            return now, run_at, job_id

        with self._held(patient=False) as conn:
            now, run_at, job_id = self._autocommit(conn, insert)
        return produce.new_job(new, job_id, now, run_at), True

    def _check_path(self) -> None:
        folder = Path(self.path).resolve().parent
        if not folder.is_dir():
            raise ConfigError(f"cannot create the database {self.path}: the folder {folder} does not exist")
        target = Path(self.path) if Path(self.path).exists() else folder
        if not os.access(target, os.W_OK):
            if target.is_file() and read_only_disk(str(target)):
                raise ConfigError(f"cannot write the database {self.path}: its disk is read-only, the file is not "
                                  "writable")
            raise ConfigError(f"cannot write the database {self.path}: {target} is not writable by this user")

    def _connect(self, *, pooled: bool = True) -> _Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False,
                                   factory=_Connection)
            conn.row_factory = sqlite3.Row
            self._ask_incremental_vacuum(conn)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        if pooled:
            with self._lock:
                self._guards[conn] = threading.RLock()
        return conn

    @staticmethod
    def _ask_incremental_vacuum(conn: sqlite3.Connection) -> None:
        """Set incremental vacuum in a new, empty file (it takes effect only before the first
        table; `migrate()` switches an old file). Only then: on an existing file the pragma
        needs the write lock, which another process may hold."""
        if conn.execute("PRAGMA page_count").fetchone()[0] != 0:
            return
        try:
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        except sqlite3.OperationalError:  # another process is creating the file: it sets the pragma
            pass

    def _held(self, *, patient: bool = True) -> _Held:
        """This thread's connection, held for the block (so close() cannot close it mid-use);
        `patient` False for our own write transactions (see `_Connection`)."""
        return _Held(self, patient)

    def _thread_connection(self) -> tuple[_Connection, threading.RLock]:
        """This thread's connection and its guard, opened if needed (again if close() closed it)."""
        while True:
            conn: _Connection | None = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = self._connect()
            guard = self._guards.get(conn)
            if guard is not None:
                return conn, guard
            self._local.conn = None  # closed by close() since this thread opened it: open another

    def _be_patient(self, conn: _Connection, patient: bool) -> None:
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000) if patient else 0}")
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        conn.patient = patient

    @contextmanager
    def _transaction(self) -> Iterator[_Tx]:
        with self._held(patient=False) as conn:
            yield from self._write(conn)

    def _write(self, conn: sqlite3.Connection) -> Iterator[_Tx]:
        with self._writing(conn):
            self._until_free(lambda: conn.execute("BEGIN IMMEDIATE"))
            try:
                yield _Tx(conn, time.time())
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise translate_error(exc, self.path) from exc
                raise

    def _autocommit(self, conn: sqlite3.Connection, write: Callable[[], T]) -> T:
        """`write` (one statement: its own transaction) run as `_write` runs a transaction."""
        with self._writing(conn):
            return self._until_free(write)

    def _writing(self, conn: sqlite3.Connection) -> _Writing:
        """This process's turn to write; a connection found read-only is dropped (`_forget`)."""
        return _Writing(self, conn)

    def _forget(self, conn: sqlite3.Connection) -> None:
        """Drop this thread's connection: one opened while the disk was read-only stays read-only
        for ever (SQLite falls back to reading), so the next write opens a fresh one."""
        with self._lock:
            self._guards.pop(conn, None)
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        conn.close()

    def _until_free(self, write: Callable[[], T]) -> T:
        """Run `write`, which takes SQLite's write lock first (`BEGIN IMMEDIATE`, or one write
        statement) on a connection whose busy handler does not wait, trying again every fraction of
        a millisecond while another process holds the lock. SQLite's own busy handler sleeps 1, 2,
        5, 10, 15, 20, 25 ms... between tries, which leaves the lock idle most of the time when
        workers in two processes share it."""
        deadline = time.monotonic() + self.busy_timeout
        pause = 0.0001
        while True:
            try:
                return write()
            except sqlite3.Error as exc:
                busy = isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))
                if not busy or time.monotonic() > deadline:
                    raise translate_error(exc, self.path) from exc
            time.sleep(pause)
            pause = min(pause * 2, 0.002)

    def check_health(self) -> None:
        """A read of the jobs table and the write lock taken and given back at once, on a
        connection of its own: a file made unreadable, corrupt or read-only since the store's
        connections opened fails here (and none of them is reopened read-only). A lock held
        by another writer is healthy."""
        try:
            conn = sqlite3.connect(f"{Path(self.path).resolve().as_uri()}?mode=rw", uri=True, timeout=0,
                                   isolation_level=None)
            try:
                conn.row_factory = sqlite3.Row
                _Tx(conn, time.time()).rows("select_jobs", state=None, task=None, queue=None, cursor=None, limit=1)
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
            finally:
                conn.close()
            if read_only_disk(self.path):  # in WAL mode taking the lock writes nothing: ask the disk
                raise StoreError(f"the database {self.path} is read-only: its disk refuses writes")
        except sqlite3.Error as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return
            if Path(self.path).exists() and not os.access(self.path, os.W_OK):
                raise StoreError(f"the database {self.path} is read-only (permissions or a read-only disk)") from exc
            raise translate_error(exc, self.path) from exc

    @contextmanager
    def _foreign_transaction(self, connection: Any) -> Iterator[_Tx]:
        """Write with the caller's own sqlite3 connection to this database, in their open
        transaction: what is written exists if and only if the caller commits."""
        if not isinstance(connection, sqlite3.Connection):
            raise ConfigError(f"connection= takes a sqlite3 connection, not {type(connection).__name__}")
        if connection.isolation_level is None and not connection.in_transaction:
            raise ConfigError("connection= must be in a transaction (autocommit mode and no BEGIN): "
                              "the job would not wait for your commit")
        previous = connection.row_factory
        connection.row_factory = sqlite3.Row
        try:
            yield _Tx(connection, time.time())
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        finally:
            connection.row_factory = previous

    @contextmanager
    def _read(self) -> Iterator[_Tx]:
        with self._held() as conn:
            try:
                yield _Tx(conn, time.time())
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from exc

    def watch(self) -> DataVersionWatcher:
        return DataVersionWatcher(self._connect(pooled=False), self.path, self.poll_interval)

    def migrate(self) -> list[int]:
        """Apply pending migrations; also switch a file made before errands used incremental
        vacuum to it (a one-time VACUUM: it locks writers out while it rewrites the file, and
        needs as much free disk as the file takes)."""
        applied = self._migrate_schema()
        self._use_incremental_vacuum()
        return applied

    def _use_incremental_vacuum(self) -> None:
        with self._held() as conn:
            if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == INCREMENTAL:
                return
            with self._write_lock:
                try:
                    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                    conn.execute("VACUUM")
                except sqlite3.Error as exc:
                    raise translate_error(exc, self.path) from exc

    def _reclaim_space(self) -> int:
        """Give the pages freed by purging back to the file system, a few thousand per write
        transaction so that workers wait little, then checkpoint the WAL so the file shrinks.
        Returns how many pages were freed (0 for a file `migrate()` has not switched yet)."""
        with self._held() as conn:
            if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != INCREMENTAL:
                return 0
            free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
            for start in range(0, free, VACUUM_STEP):
                with self._transaction() as tx:
                    # The pragma frees one page per step, and Python's sqlite3 steps a statement
                    # that returns no columns only once: so one execute per page.
                    for _ in range(min(free - start, VACUUM_STEP)):
                        tx.conn.execute("PRAGMA incremental_vacuum(1)")
            self._be_patient(conn, True)  # after the transactions, for the reads below
            self._checkpoint(conn)
            return free - int(conn.execute("PRAGMA freelist_count").fetchone()[0])

    def _checkpoint(self, conn: _Connection) -> None:
        """Copy the WAL into the file and empty it, waiting at most a second for readers (an
        automatic checkpoint does it later otherwise, and `journal_size_limit` caps the WAL)."""
        if not self._write_lock.acquire(timeout=self.busy_timeout):
            return
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(min(self.busy_timeout, 1.0) * 1000)}")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        finally:
            self._be_patient(conn, True)
            self._write_lock.release()

    def _migrate_schema(self) -> list[int]:
        with self._held() as conn:
            applied_now: list[int] = []
            if self._up_to_date(conn):  # a read: opening a migrated store never waits for the write lock
                return applied_now
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations"
                    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
                )
                done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
                for migration in load_migrations("sqlite"):
                    if migration.version in done:
                        continue
                    for statement in split_statements(migration.sql):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                                 (migration.version, migration.name, time.time()))
                    applied_now.append(migration.version)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise translate_error(exc, self.path) from exc
            return applied_now

    def _up_to_date(self, conn: sqlite3.Connection) -> bool:
        try:
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        except sqlite3.OperationalError:  # no table yet
            return False
        return {m.version for m in load_migrations("sqlite")} <= done

    def schema_version(self) -> int:
        with self._read() as tx:
            return int(tx.conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            held, self._guards = self._guards, {}
        self._local = threading.local()
        for conn, guard in held.items():
            with guard:  # waits for a thread in the middle of a statement or transaction
                conn.close()


def split_statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (comments kept with them)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    return statements
