"""What only the PostgreSQL store has: its schema option, migrations under a lock, the
server's clock, SKIP LOCKED claims, NOTIFY wake-ups, recovery from dead connections."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from errands import State
from errands.errors import ConfigError, StoreBusy, StoreError
from errands.job import JobError, NewJob, Outcome
from errands.stores import open_store
from errands.stores.postgres import PostgresStore
from errands.stores.postgres_listen import ListenWatcher, PollWatcher
from errands.stores.sqlfiles import load_migrations
from errands.stores.values import event
from tests.helpers import wait_until


def new(**fields: object) -> NewJob:
    return NewJob(task="t", args_json="{}", **fields)  # type: ignore[arg-type]


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresStore]:
    store = open_store(postgres_url)
    assert isinstance(store, PostgresStore)
    yield store
    store.close()


def terminate(url: str, condition: str = "true") -> int:
    """Kill the server side of the database's connections (not our own), as a restart would."""
    dbname = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = %s AND pid <> pg_backend_pid() AND {condition}",
            (dbname,),
        ).fetchall()
    return len(rows)


def test_a_schema_option_keeps_two_stores_apart_in_one_database(pg: PostgresStore, postgres_url: str) -> None:
    other = open_store(f"{postgres_url}?schema=tenant_b")
    try:
        job, _ = other.enqueue(new())
        assert other.get(job.id).state is State.QUEUED
        assert pg.list_jobs() == []
    finally:
        other.close()
    with psycopg.connect(postgres_url) as conn:
        count = "SELECT count(*) FROM pg_tables WHERE schemaname = %s"
        tables = conn.execute(count, ("tenant_b",)).fetchone()
        default = conn.execute(count, (pg.schema,)).fetchone()
    assert tables == default and tables is not None and tables[0] >= 7  # every table, and schema_migrations


def test_concurrent_migrations_apply_once_and_nobody_fails(postgres_url: str) -> None:
    stores = [open_store(f"{postgres_url}?schema=fresh", migrate=False) for _ in range(6)]
    start = threading.Barrier(len(stores))
    results: list[list[int]] = []

    def migrate(store: object) -> None:
        assert isinstance(store, PostgresStore)
        start.wait()
        results.append(store.migrate())

    threads = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    versions = [m.version for m in load_migrations("postgres")]
    assert sorted(results) == [[]] * 5 + [versions]
    assert isinstance(stores[0], PostgresStore) and stores[0].schema_version() == versions[-1]
    for store in stores:
        store.close()


def catalog(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> list[tuple[object, ...]]:
    """Tables, columns and indexes of a schema, without the schema's name."""
    columns = conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns"
        " WHERE table_schema = %s ORDER BY 1, 2",
        (schema,),
    ).fetchall()
    indexes = conn.execute(
        "SELECT indexname, replace(indexdef, %s, '') FROM pg_indexes WHERE schemaname = %s ORDER BY 1",
        (f"{schema}.", schema),
    ).fetchall()
    return [*columns, *indexes]


def test_an_upgraded_schema_matches_a_new_one_and_keeps_its_jobs(pg: PostgresStore, postgres_url: str) -> None:
    first = load_migrations("postgres")[0]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA old; CREATE TABLE old.schema_migrations"
                     " (version integer PRIMARY KEY, name text NOT NULL, applied_at double precision NOT NULL)")
        conn.execute(first.sql.replace("{schema}", '"old"'))
        conn.execute("INSERT INTO old.schema_migrations VALUES (%s, %s, 0)", (first.version, first.name))
        conn.execute("INSERT INTO old.jobs (task, queue, args, state, run_at, created_at)"
                     " VALUES ('old', 'default', '{}', 'queued', 0, 0)")
        upgraded = open_store(f"{postgres_url}?schema=old")
        try:
            assert upgraded.get(1).task == "old"
        finally:
            upgraded.close()
        assert catalog(conn, "old") == catalog(conn, "errands")


def test_now_is_the_servers_clock_read_when_the_transaction_began(pg: PostgresStore, postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        clock = "SELECT extract(epoch FROM clock_timestamp())::float8"
        before = conn.execute(clock).fetchone()
        with pg._transaction() as tx:
            began = tx.now
            time.sleep(0.05)
            assert tx.now == began  # read once per transaction
        after = conn.execute(clock).fetchone()
    assert before is not None and after is not None
    assert before[0] <= began <= after[0]


def test_claim_skips_a_job_another_transaction_holds_instead_of_waiting(pg: PostgresStore, postgres_url: str) -> None:
    held, _ = pg.enqueue(new(priority=5))
    free, _ = pg.enqueue(new())
    with psycopg.connect(postgres_url) as conn:
        conn.execute("SELECT 1 FROM errands.jobs WHERE id = %s FOR UPDATE", (held.id,))
        # Run in a thread: a claim that waited on the held row would wait until this
        # transaction ends, which it does only after the claim has returned.
        claimed: list[list[int]] = []
        claimer = threading.Thread(target=lambda: claimed.append([j.id for j in pg.claim("w", None, 2).jobs]),
                                   daemon=True)
        claimer.start()
        try:
            wait_until(lambda: claimed, timeout=30, message="the claim to return without waiting on the held row")
        finally:
            conn.rollback()  # frees the row (and a claim waiting on it)
        assert claimed == [[free.id]]
    assert [j.id for j in pg.claim("w", None, 2).jobs] == [held.id]


def test_an_idle_claim_keeps_to_a_pause_made_elsewhere_since_its_last_claim(pg: PostgresStore,
                                                                            postgres_url: str) -> None:
    """A claim with nothing to settle is one statement that claims only while no flow row exists;
    the store's memory of the last transaction (no flow rows) must not let it past a new pause."""
    assert pg.claim("w", None, 5).jobs == []  # the store last saw no flow row
    job, _ = pg.enqueue(new())
    other = open_store(postgres_url)
    try:
        other.pause("default")
        assert pg.claim("w", None, 5).jobs == []
        assert pg.get(job.id).state is State.QUEUED
        other.pause("default", paused=False)
    finally:
        other.close()
    assert [j.id for j in pg.claim("w", None, 5).jobs] == [job.id]
    assert [e.state for e in pg.events(job.id)] == [State.QUEUED, State.RUNNING]


def test_an_idle_claim_waits_for_a_log_reader_as_a_transaction_does(postgres_url: str) -> None:
    """An event-log reader holds the gate exclusively: a claim (its 'running' event) waits for it,
    here until lock_timeout."""
    pg = open_store(f"{postgres_url}?lock_timeout=0.2")
    try:
        assert isinstance(pg, PostgresStore)
        pg.enqueue(new())
        with psycopg.connect(postgres_url, autocommit=True) as reader:
            reader.execute("SELECT pg_advisory_lock(%s)", (pg._gate.key,))
            with pytest.raises(StoreBusy, match="lock conflict"):
                pg.claim("w", None, 5)
        assert len(pg.claim("w", None, 5).jobs) == 1
    finally:
        pg.close()


def analyzed_with_finished_jobs(conn: psycopg.Connection[tuple[object, ...]], count: int = 50_000) -> None:
    """`count` succeeded jobs, then ANALYZE: statistics that see no job waiting or running."""
    conn.execute(
        "INSERT INTO errands.jobs (task, queue, args, state, run_at, created_at, finished_at)"
        " SELECT 't', 'default', '{}', 'succeeded', 0, 0, 0 FROM generate_series(1, %s)", (count,)
    )
    conn.execute("ANALYZE errands.jobs")


def test_claim_reads_the_ready_index_however_many_jobs_are_finished(pg: PostgresStore, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        analyzed_with_finished_jobs(conn)
        plans = {}
        for name, params in (("claim_any_queue", {}), ("claim", {"queues": json.dumps(["default"])})):
            query = pg._queries[name]
            sql = f"EXPLAIN {query}"
            args = {"worker_id": "w", "lease_nonce": "n", "limit": 10, "now": 1e10, "skip_queues": "[]",
                    "skip_tasks": "[]", **params}
            plans[name] = "\n".join(r[0] for r in conn.execute(sql, args).fetchall())
        conn.rollback()
    for plan in plans.values():
        assert "using jobs_ready" in plan and "Seq Scan" not in plan, plan


def test_counts_and_purges_read_partial_indexes_however_many_jobs_are_finished(
    pg: PostgresStore, postgres_url: str
) -> None:
    """No full index on state is left (each took an entry at every change of every job): the
    dashboard's counts and the purge read the partial indexes (their conditions are literals in the
    statements, so a generic plan can read them too)."""
    with psycopg.connect(postgres_url) as conn:
        analyzed_with_finished_jobs(conn)
        plans = {}
        for name, params in (
            ("dash_state_counts", {"cap": 1000}),
            ("select_prunable", {"state": "failed", "before": 1e10, "limit": 100}),
            ("dash_finished_per_minute", {"since": time.time() - 3600}),  # the jobs loaded ended long before
        ):
            plans[name] = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {pg._queries[name]}", params).fetchall())
        conn.rollback()
    # Counting the succeeded jobs may read the table in order: its first `cap` rows all match.
    counts = plans.pop("dash_state_counts")
    branches = counts.split("->  Aggregate")[1:]
    assert len(branches) == 6, counts
    for branch in branches:
        assert "Seq Scan" not in branch or "(state = 'succeeded'::text)" in branch, counts
    for name, plan in plans.items():
        assert "Seq Scan" not in plan, f"{name}:\n{plan}"
    assert "jobs_finished" in plans["select_prunable"]


def rows_read_from_jobs(plan: dict[str, Any]) -> int:
    """Rows an executed plan (EXPLAIN ANALYZE, JSON) read from the jobs table, those its scans of
    the table returned and those they threw away, and rows any join threw away, in every loop
    (EXPLAIN gives each count per loop)."""
    read, nodes = 0, [plan]
    while nodes:
        node = nodes.pop()
        counts = ["Rows Removed by Join Filter"]
        if node.get("Relation Name") == "jobs" and node["Node Type"] != "ModifyTable":  # the write, not a read
            counts += ["Actual Rows", "Rows Removed by Filter", "Rows Removed by Index Recheck"]
        read += int(node["Actual Loops"]) * sum(int(node.get(count, 0)) for count in counts)
        nodes.extend(node.get("Plans", []))
    return read


def test_claim_and_settle_read_their_own_jobs_whatever_the_statistics_say(pg: PostgresStore, postgres_url: str) -> None:
    """Statistics taken when no job ran (as in any busy store between two ANALYZEs), on a table of
    10,000 jobs: a claim of 500 must not read the whole table (its join on id was planned as a hash
    join over a sequential scan), a settle of 100 must not read every running job (through the
    running jobs' partial index), nor any job once per outcome. Each reads its own jobs twice
    (finding them, then locking or writing them)."""
    pg.enqueue_alike(NewJob(task="t", args_json=json.dumps([{"n": n} for n in range(10_000)])))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("ANALYZE errands.jobs")
    assert len(pg.claim("w", None, 1000, ["t"]).jobs) == 1000  # running now; the statistics saw none
    held = pg.claim("w", None, 100, ["t"]).jobs
    outcomes = json.dumps([
        {"job_id": j.id, "lease_token": j.lease_token, "state": "succeeded", "finished": True, "worker_lost": 0,
         "released": 0, "data": {"task": "t"}} for j in held
    ])
    statements = {
        "claim_any_queue_tasks": (500, {"worker_id": "w", "lease_nonce": "n", "limit": 500, "now": time.time() + 1,
                                        "tasks": '["t"]', "skip_queues": "[]"}),
        "settle_many": (100, {"outcomes": outcomes, "now": time.time()}),
    }
    with psycopg.connect(postgres_url) as conn:
        for name, (jobs, params) in statements.items():
            explained = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {pg._queries[name]}", params).fetchone()
            assert explained is not None
            plan = explained[0][0]["Plan"]
            assert plan["Actual Rows"] == jobs, f"{name}: {plan['Actual Rows']} rows"
            read = rows_read_from_jobs(plan)
            assert read <= 2 * jobs, f"{name} read {read} rows of jobs for {jobs} jobs:\n{json.dumps(plan, indent=1)}"
        conn.rollback()


def test_an_enqueue_wakes_a_waiting_watcher_and_a_scheduled_one_does_not(pg: PostgresStore, postgres_url: str) -> None:
    watcher = pg.watch()
    producer = open_store(postgres_url)
    try:
        assert isinstance(watcher, ListenWatcher)
        producer.enqueue(new(run_at=producer.now() + 3600))
        assert watcher.wait(0.3) is False
        sending = threading.Event()

        def send() -> None:
            sending.set()
            producer.enqueue(new())

        threading.Timer(0.1, send).start()
        assert watcher.wait(10) is True  # a ListenWatcher wakes only on a notification, poke or lost connection
        assert sending.is_set()  # woken by the enqueue, not before it
    finally:
        producer.close()
        watcher.close()


def test_poke_wakes_the_watcher_from_another_thread(pg: PostgresStore) -> None:
    watcher = pg.watch()
    try:
        threading.Timer(0.05, watcher.poke).start()
        assert watcher.wait(10) is True
        assert watcher.wait(0.05) is False
    finally:
        watcher.close()


def test_the_watcher_listens_again_after_its_connection_is_killed(pg: PostgresStore, postgres_url: str) -> None:
    watcher = pg.watch()
    try:
        assert terminate(postgres_url, "query LIKE 'LISTEN%%'") == 1
        assert watcher.wait(10) is True  # lost the connection: look now
        assert watcher.wait(10) is True  # listening again: notifications may have been missed
        assert watcher.wait(0.05) is False
        threading.Timer(0.1, lambda: pg.enqueue(new())).start()
        assert watcher.wait(10) is True
    finally:
        watcher.close()


def test_listen_off_polls_and_still_wakes_on_poke(postgres_url: str) -> None:
    store = open_store(f"{postgres_url}?listen=off&poll_interval=0.05")
    watcher = store.watch()
    try:
        assert isinstance(watcher, PollWatcher)
        watcher.poke()
        assert watcher.wait(10) is True
        # Asked to wait an hour, it looks again after its 0.05 s poll interval.
        waiter = threading.Thread(target=watcher.wait, args=(3600,), daemon=True)
        waiter.start()
        wait_until(lambda: not waiter.is_alive(), timeout=30, message="the poll interval to end the wait")
    finally:
        watcher.close()
        store.close()


def test_connections_killed_while_idle_are_replaced_without_an_error(pg: PostgresStore, postgres_url: str) -> None:
    job, _ = pg.enqueue(new())
    assert terminate(postgres_url) >= 1
    time.sleep(0.1)  # let the terminations reach our sockets
    assert pg.get(job.id).state is State.QUEUED
    assert pg.enqueue(new())[1]


def test_an_idle_claim_whose_connection_was_killed_opens_another_without_an_error(
    pg: PostgresStore, postgres_url: str
) -> None:
    assert pg.claim("w", None, 1).jobs == []  # opens the idle claims' connection
    job, _ = pg.enqueue(new())
    assert terminate(postgres_url) >= 1
    time.sleep(0.1)  # let the terminations reach our sockets
    assert [j.id for j in pg.claim("w", None, 1).jobs] == [job.id]


def test_an_error_message_holding_nul_is_still_recorded(pg: PostgresStore) -> None:
    pg.enqueue(new())
    [job] = pg.claim("w", None, 1).jobs
    failure = JobError("ValueError", "bad byte \x00 here", "tb\x00")
    assert pg.settle([Outcome(job.id, job.lease_token or "", State.FAILED, error=failure)]) == [True]
    got = pg.get(job.id)
    assert got.state is State.FAILED and got.error is not None and got.error.message == "bad byte \ufffd here"


def test_an_unreachable_server_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match=r"cannot reach PostgreSQL at 127\.0\.0\.1:1: ") as raised:
        open_store("postgresql://postgres@127.0.0.1:1/nothing")
    # From one direct connection attempt at open, not from a pool that retried until its timeout
    # (psycopg_pool.PoolTimeout is a subclass of OperationalError, so the exact type is checked).
    assert type(raised.value.__cause__) is psycopg.OperationalError


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("schema=bad-name", "schema='bad-name'"),
        ("colour=blue", 'invalid URI query parameter: "colour"'),
        ("pool_max=0", "pool and poll options"),
        ("listen=maybe", "listen='maybe'"),
    ],
)
def test_bad_urls_are_clear_config_errors(query: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        open_store(f"postgresql://user:secret@127.0.0.1:1/db?{query}")


def test_a_password_never_appears_in_an_error() -> None:
    with pytest.raises(ConfigError) as caught:
        open_store("postgresql://user:secret@127.0.0.1:1/db?colour=blue")
    assert "secret" not in str(caught.value)


def test_a_log_reader_never_skips_an_event_committed_after_a_newer_one(pg: PostgresStore) -> None:
    """PostgreSQL shows rows at commit, not in id order: the reader waits for writes in flight."""
    first, _ = pg.enqueue(new())
    read: list[list[int]] = []
    with pg._transaction() as tx:  # a slow write: its event id is older than the enqueue below
        tx.run("insert_event", **event(first.id, "log", None, {"message": "slow"}), now=tx.now)
        pg.enqueue(new())  # a newer event id, committed first
        reader = threading.Thread(target=lambda: read.append([e.id for e in pg.events(None)]))
        reader.start()
        reader.join(0.3)
        assert reader.is_alive()  # it waits for the slow write rather than reading past it
    reader.join(10)
    ids = read[0]
    assert ids == sorted(ids) and len(ids) == 3


def test_a_write_that_never_ends_makes_log_readers_fail_clearly(
    pg: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg._gate, "patience", 0.3)
    with pg._transaction():
        with pytest.raises(StoreBusy, match="event log stayed locked"):
            pg.events(None)
        assert pg.list_jobs() == []  # other reads do not wait
    assert pg.events(None) == []
