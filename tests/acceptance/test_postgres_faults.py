"""PostgreSQL under faults: per-transaction timeouts and TCP keepalives from the URL, a rescue
that never overrides a heartbeat, heartbeats that never wait on maintenance, and a 10 s outage
under 200 jobs with 5 s leases on real worker processes (a private server: see `PrivateServer`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from errands import Errands, JobContext, State, WorkerConfig
from errands.errors import ConfigError, StoreBusy, StoreError
from errands.job import NewJob
from errands.stores import open_store
from errands.stores.postgres import PostgresStore
from tests.acceptance import test_postgres_scale
from tests.acceptance.test_postgres_scale import PrivateServer, query, stop_gracefully, unfinished
from tests.apps import pg_faults
from tests.helpers import spawn_worker, wait_until

APP = "tests.apps.pg_faults:app"
private_server = test_postgres_scale.private_server  # the fixture: a PostgreSQL server of the test's own


def with_options(url: str, **options: object) -> str:
    parts = urlsplit(url)
    extra = "&".join(f"{k}={v}" for k, v in options.items())
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


@pytest.fixture
def pg_store(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[PostgresStore]:
    options = getattr(request, "param", {})
    store = open_store(with_options(postgres_url, **options))
    assert isinstance(store, PostgresStore)
    yield store
    store.close()


def new_job(store: PostgresStore, lease: float = 60) -> int:
    created, _ = store.enqueue(NewJob(task="t", args_json="{}", lease_seconds=lease))
    return created.id


def backends_waiting_on_a_lock(url: str) -> int:
    rows = query(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                      " AND wait_event_type = 'Lock'")
    return int(str(rows[0][0]))


# -- the connection's own settings ------------------------------------------------------


def test_keepalives_are_on_by_default_and_the_url_overrides_them(postgres_url: str) -> None:
    for url, idle in ((postgres_url, 10), (with_options(postgres_url, keepalives_idle=7), 7)):
        store = open_store(url)
        assert isinstance(store, PostgresStore)
        with psycopg.connect(store.conninfo) as conn:  # the conninfo every pooled connection uses
            sock = socket.socket(fileno=conn.pgconn.socket)
            try:
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == idle
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 5
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
            finally:
                sock.detach()
        store.close()


@pytest.mark.parametrize("option", ["lock_timeout=soon", "statement_timeout=-1",
                                    "idle_in_transaction_session_timeout=x"])
def test_a_bad_timeout_in_the_url_is_a_clear_config_error(postgres_url: str, option: str) -> None:
    name, value = option.split("=")
    with pytest.raises(ConfigError, match=f"{name}={value!r}.*give seconds"):
        open_store(with_options(postgres_url, **{name: value}))


@pytest.mark.parametrize("pg_store", [{"lock_timeout": 0.5}], indirect=True)
def test_a_lock_wait_ends_at_lock_timeout(pg_store: PostgresStore, postgres_url: str) -> None:
    """Another session holds the job's row (a frozen worker mid-transaction): a store write on
    that row gives up with StoreBusy after lock_timeout instead of waiting for ever."""
    job_id = new_job(pg_store)
    raised: list[BaseException] = []

    def cancel() -> None:
        try:
            pg_store.cancel(job_id)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            raised.append(exc)

    with psycopg.connect(postgres_url) as holder:  # a transaction, open until the block ends
        holder.execute("SELECT 1 FROM errands.jobs WHERE id = %s FOR UPDATE", (job_id,))
        thread = threading.Thread(target=cancel)
        thread.start()
        thread.join(30)
        assert not thread.is_alive(), "the cancel still waits for the row lock"
        holder.rollback()
    assert len(raised) == 1 and isinstance(raised[0], StoreBusy), raised
    assert pg_store.get(job_id).state is State.QUEUED


@pytest.mark.parametrize("pg_store", [{"idle_in_transaction_session_timeout": 0.5}], indirect=True)
def test_a_transaction_left_idle_is_ended_by_the_server(pg_store: PostgresStore, postgres_url: str) -> None:
    """A store transaction that stops mid-way (its process frozen, its network gone) loses its
    session to the server after idle_in_transaction_session_timeout: its row locks are free."""
    job_id = new_job(pg_store)

    def row_free() -> bool:
        with psycopg.connect(postgres_url, autocommit=True) as other:
            try:
                with other.transaction():
                    other.execute("SELECT 1 FROM errands.jobs WHERE id = %s FOR UPDATE NOWAIT", (job_id,))
                return True
            except psycopg.errors.LockNotAvailable:
                return False

    with pytest.raises(StoreError), pg_store._transaction() as tx:
        assert tx.rows("cancel_waiting", job_id=job_id, now=tx.now)  # the row is locked now
        assert not row_free()
        wait_until(row_free, timeout=30, message="the server to end the idle transaction")
    assert pg_store.get(job_id).state is State.QUEUED  # nothing of it was committed


# -- rescue and heartbeats --------------------------------------------------------------


def test_rescue_skips_a_row_a_heartbeat_holds_and_leaves_it_running(pg_store: PostgresStore,
                                                                      postgres_url: str) -> None:
    """The lease is expired when the rescue reads, but a heartbeat holds the row and commits a
    renewal: the rescue neither waits for it nor overrides it."""
    job_id = new_job(pg_store, lease=0.2)
    [job] = pg_store.claim("w", None, 1).jobs
    wait_until(lambda: pg_store.now() > job.lease_expires_at.timestamp() if job.lease_expires_at else False,
               message="the lease to expire")
    result: list[object] = []
    with psycopg.connect(postgres_url) as heartbeat:
        heartbeat.execute("UPDATE errands.jobs SET lease_expires_at = extract(epoch FROM clock_timestamp()) + 60"
                          " WHERE id = %s", (job_id,))
        rescuer = threading.Thread(target=lambda: result.append(pg_store.rescue_expired()))
        rescuer.start()
        wait_until(lambda: not rescuer.is_alive() or backends_waiting_on_a_lock(postgres_url), timeout=30,
                   message="the rescue to end or to wait for the row")
        heartbeat.commit()
    rescuer.join(30)
    assert result == [[]]
    got = pg_store.get(job_id)
    assert got.state is State.RUNNING and got.lease_token == job.lease_token


def test_heartbeats_keep_going_while_maintenance_waits_for_a_lock(postgres_url: str) -> None:
    """Maintenance stuck on a lock (lock_timeout off, another session holds the leader row) must
    not stop the worker's heartbeats: the running job's 1 s lease keeps being renewed."""
    app = Errands(with_options(postgres_url, lock_timeout=0))
    release = threading.Event()

    @app.task(name="hold", lease=1)
    def hold(ctx: JobContext) -> None:
        release.wait(60)

    with psycopg.connect(postgres_url) as holder:
        holder.execute("INSERT INTO errands.leader_leases VALUES ('maintenance', 'someone else', 0)")
        holder.commit()
        holder.execute("SELECT 1 FROM errands.leader_leases WHERE name = 'maintenance' FOR UPDATE")
        job = app.enqueue("hold", {})
        worker = app.worker(WorkerConfig(concurrency=1, maintenance_interval=0.2)).start()
        try:
            claimed = wait_until(lambda: (j := app.get(job.id)).state is State.RUNNING and j, message="the claim")
            wait_until(lambda: backends_waiting_on_a_lock(postgres_url), message="maintenance to wait for the lock")
            first = claimed.lease_expires_at.timestamp()
            renewed = wait_until(lambda: (app.get(job.id).lease_expires_at or claimed.lease_expires_at).timestamp()
                                 > first + 2, timeout=30, message="the lease to be renewed past two more seconds")
            assert renewed and backends_waiting_on_a_lock(postgres_url)  # maintenance still stuck meanwhile
            assert app.get(job.id).lease_token == claimed.lease_token
        finally:
            holder.rollback()
            release.set()
            worker.stop(timeout=30)
    assert app.get(job.id).state is State.SUCCEEDED
    app.close()


# -- an outage ------------------------------------------------------------------------


def test_postgres_down_ten_seconds_under_two_hundred_jobs(private_server: PrivateServer, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A private server stopped for 10 s mid-run, 5 s leases, four worker processes that stay
    alive: every job succeeds, and no job runs twice (runs counted in a file, outside the store).
    Jobs that finished during the outage get their outcome recorded, and running ones their
    lease renewed, before the leader (which waits one lease after the store is back) rescues."""
    url = private_server.database("faults")
    monkeypatch.setenv("ERRANDS_TEST_RUNS", str(tmp_path))
    runs = tmp_path / "runs.txt"
    runs.touch()
    app = Errands(url)
    app.tasks.update(pg_faults.app.tasks)
    ids = app.enqueue_many("record_in_file", [{"seconds": 0.3 + (i % 7) / 10} for i in range(200)])
    workers = [spawn_worker(APP, url, "--concurrency", "5", "--maintenance-interval", "1") for _ in range(4)]
    try:
        wait_until(lambda: len(runs.read_text().splitlines()) >= 40, 120, "40 runs before the outage",
                   interval=0.2, ignore=(StoreError,))
        began = time.time()
        private_server.restart(down=10.0)
        back = time.time()
        wait_until(lambda: app.stats().get("default", {}).get("succeeded", 0) == 200, 180,
                   "every job to succeed after the outage", lambda: unfinished(url), interval=0.2, ignore=(StoreError,))
        alive = [w.poll() is None for w in workers]
    finally:
        codes = stop_gracefully(workers)

    lines = [line.split() for line in runs.read_text().splitlines()]
    per_job = Counter(int(job) for job, *_ in lines)
    twice = sorted(job for job, n in per_job.items() if n > 1)
    during = sum(began <= float(at) <= back for *_, at in lines)
    (rescued,) = query(url, "SELECT count(*) FROM errands.job_events WHERE kind = 'rescued'")
    print(f"\noutage of {back - began:.1f}s: {during} runs ended while the server was down; "
          f"{rescued[0]} rescue(s); {len(twice)} job(s) ran twice {twice}")
    assert alive == [True] * 4 and codes == [0] * 4
    assert app.stats() == {"default": {"succeeded": 200}}
    assert set(per_job) == set(ids)
    assert twice == []
    app.close()
