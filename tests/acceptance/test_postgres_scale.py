"""PostgreSQL scaled out, with real worker processes and exact counts: exactly once without
faults, a server restart mid-run (and the lost claim it can leave), and two "hosts" (network
namespaces) sharing the jobs, one of them lost whole. Each run's side effect is a row in the
test database (tests/apps/pg_scale.py).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from errands import Errands, Settings, State
from errands.errors import StoreError
from tests.apps import pg_scale
from tests.helpers import ROOT, WorkerProcess, free_port, make_namespace, remove_namespace, spawn_worker, wait_until

APP = "tests.apps.pg_scale:app"
# One row per job: its state, attempts, and how often the event log says it was claimed,
# succeeded and rescued. The exactly-once tests compare a Counter of these rows.
JOB_HISTORY = """
SELECT j.state, j.attempt, j.worker_losses,
       count(*) FILTER (WHERE e.kind = 'state' AND e.state = 'running') AS claims,
       count(*) FILTER (WHERE e.kind = 'state' AND e.state = 'succeeded') AS successes,
       count(*) FILTER (WHERE e.kind = 'rescued') AS rescues
FROM errands.jobs j LEFT JOIN errands.job_events e ON e.job_id = j.id
GROUP BY j.id
"""
CLEAN = ("succeeded", 1, 0, 1, 1, 0)  # run once, recorded once, never rescued
# Per job: state, successes recorded, claims, and times it was queued (enqueued, released, rescued).
JOB_HISTORY_REQUEUES = """
SELECT j.state,
       count(*) FILTER (WHERE e.kind = 'state' AND e.state = 'succeeded'),
       count(*) FILTER (WHERE e.kind = 'state' AND e.state = 'running'),
       count(*) FILTER (WHERE e.kind = 'state' AND e.state = 'queued')
FROM errands.jobs j LEFT JOIN errands.job_events e ON e.job_id = j.id
GROUP BY j.id
"""


def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """One statement on a connection of its own (a restart may have killed any older one)."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        cursor = conn.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def url(postgres_url: str) -> str:
    """A fresh database holding the tables the tasks write their runs into."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(pg_scale.RUNS_DDL)
    return postgres_url


def producer(url: str, **settings: Any) -> Errands:
    app = Errands(url, settings=Settings(**settings))
    app.tasks.update(pg_scale.app.tasks)
    return app


def succeeded(app: Errands) -> int:
    return app.stats().get("default", {}).get("succeeded", 0)


def finished(app: Errands) -> int:
    """Jobs that reached an end, good or bad: what a test waits for before it looks closer."""
    counts = app.stats().get("default", {})
    return sum(counts.get(state, 0) for state in ("succeeded", "failed", "cancelled"))


def unfinished(url: str) -> str:
    """The jobs not succeeded, for a failure message: who holds them, for how long."""
    now = "extract(epoch FROM clock_timestamp())"
    rows = query(url, f"SELECT id, state, attempt, lease_owner, round(({now} - started_at)::numeric, 1),"
                      f" round((lease_expires_at - {now})::numeric, 1)"
                      " FROM errands.jobs WHERE state <> 'succeeded' ORDER BY id LIMIT 20")
    return "; ".join(f"job {r[0]} {r[1]} attempt {r[2]} owner {r[3]} for {r[4]}s lease left {r[5]}s" for r in rows)


def stop_gracefully(workers: list[WorkerProcess]) -> list[int | None]:
    """SIGTERM every worker, then wait; returns their exit codes (any left are killed)."""
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    codes: list[int | None] = []
    for w in workers:
        try:
            codes.append(w.wait(30))
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait(10)
            codes.append(None)
    return codes


JOB_TROUBLE = re.compile(r"errands\.\w+: job \d+.* (failed|refused|discarded|rescued)|Traceback|DoubleRun")


def complaints(workers: list[WorkerProcess], trouble: re.Pattern[str] = JOB_TROUBLE) -> list[str]:
    """Worker log lines saying a job went wrong: failed, rescued, a result refused or discarded."""
    return [line for w in workers for line in w.output().splitlines() if trouble.search(line)]


def test_ten_thousand_jobs_on_six_workers_each_run_exactly_once(url: str) -> None:
    app = producer(url)
    workers = [spawn_worker(APP, url, "--concurrency", "8") for _ in range(6)]
    try:
        wait_until(lambda: len(app.store.workers()) == 6, 60, "six workers to register",
                   interval=0.2, ignore=(StoreError,))
        started = time.monotonic()
        ids = app.enqueue_many("record_once", [{}] * 10_000)
        enqueued = time.monotonic()
        wait_until(lambda: finished(app) == 10_000, 180, "10,000 jobs to finish", lambda: unfinished(url),
                   interval=0.2, ignore=(StoreError,))
        drained = time.monotonic()
    finally:
        codes = stop_gracefully(workers)
    print(f"\n10,000 jobs: enqueued in {enqueued - started:.2f}s, all succeeded {drained - started:.2f}s after "
          f"the enqueue began ({10_000 / (drained - enqueued):.0f} jobs/s by 6 processes x 8)")

    assert codes == [0] * 6
    assert app.stats() == {"default": {"succeeded": 10_000}}
    assert Counter(query(url, JOB_HISTORY)) == {CLEAN: 10_000}
    assert query(url, "SELECT count(*), count(DISTINCT job_id), min(job_id), max(job_id) FROM once_runs") == [
        (10_000, 10_000, ids[0], ids[-1])
    ]
    assert query(url, "SELECT count(*) FROM once_runs r JOIN errands.jobs j ON j.id = r.job_id"
                      " WHERE r.attempt <> j.attempt") == [(0,)]  # each row written by the run that finished
    ran_on = {worker for (worker,) in query(url, "SELECT DISTINCT worker FROM once_runs")}
    assert ran_on == {f"{socket.gethostname()}-{w.pid}" for w in workers}  # all six shared the work
    assert complaints(workers) == []
    app.close()


# -- a server restart ------------------------------------------------------------------


@dataclass
class PrivateServer:
    """A PostgreSQL server of this test's own (initdb in a temporary folder, a free port).

    Why not restart the shared server (`pg_ctlcluster ... main restart`): it also cuts the
    admin connections tests/store/pg.py holds for the whole session (the clone maker and the
    template's teardown), so every later postgres test and the session teardown fail, and it
    cuts every other test run on the machine. Restarting a private server is just as real."""

    bin: Path
    data: Path
    port: int

    def ctl(self, *args: str) -> None:
        done = subprocess.run(as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", *args]),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1"
        self.ctl("-l", str(self.data.parent / "server.log"), "-o", options, "start")

    def restart(self, down: float) -> None:
        """Stop (fast: every session is cut), stay down `down` seconds (connections refused),
        start again."""
        self.ctl("-m", "fast", "stop")
        time.sleep(down)
        self.start()

    def database(self, name: str) -> str:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


def as_postgres(command: list[str]) -> list[str]:
    """initdb and the server refuse to run as root; CI runs as root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture
def private_server() -> Iterator[PrivateServer]:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        fail_or_skip("no initdb under /usr/lib/postgresql: cannot run a private PostgreSQL server")
    folder = Path(tempfile.mkdtemp(prefix="errands-pg-"))  # not under pytest's 0700 tmp: the server reads it
    folder.chmod(0o755)
    data = folder / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(data, "postgres")
    server = PrivateServer(found[-1].parent, data, free_port())
    try:
        done = subprocess.run(as_postgres([str(server.bin / "initdb"), "-D", str(data), "-U", "postgres",
                                           "--auth=trust", "--no-sync", "-E", "UTF8"]),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        server.start()
        yield server
    finally:
        subprocess.run(as_postgres([str(server.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_server_restart_mid_run_loses_nothing_and_runs_nothing_twice(private_server: PrivateServer) -> None:
    """A real restart (fast stop, 2 s down, start) of a private server; `PrivateServer` says why
    not the shared one."""
    url = private_server.database("scale")
    query(url, pg_scale.RUNS_DDL)
    app = producer(url, lease=10)  # a job whose claim was lost is rescued in seconds, not 30
    ids = app.enqueue_many("record_once", [{"pause": 0.05}] * 3000)
    workers = [spawn_worker(APP, url, "--concurrency", "8", "--maintenance-interval", "1") for _ in range(4)]
    try:
        registered = wait_until(lambda: found if len(found := app.store.workers()) == 4 else None, 60,
                                "four workers to register", interval=0.2, ignore=(StoreError,))
        wait_until(lambda: succeeded(app) >= 500, 120, "500 jobs to succeed before the restart",
                   interval=0.2, ignore=(StoreError,))
        began = time.monotonic()
        private_server.restart(down=2.0)
        back = time.monotonic()
        (before_end,) = query(url, "SELECT count(*) FILTER (WHERE state = 'succeeded') FROM errands.jobs")
        wait_until(lambda: finished(app) == 3000, 45, "every job to finish after the restart",
                   lambda: unfinished(url), interval=0.2, ignore=(StoreError,))
        print(f"\nrestart: down {back - began:.1f}s; {before_end[0]} of 3000 jobs had succeeded when it was back;"
              f" the rest took {time.monotonic() - back:.1f}s more")
    finally:
        codes = stop_gracefully(workers)

    assert before_end[0] < 3000  # the restart came in the middle of the run
    assert codes == [0] * 4
    assert app.stats() == {"default": {"succeeded": 3000}}
    history = query(url, JOB_HISTORY_REQUEUES)
    print(f"{sum(claims > 1 for _, _, claims, _ in history)} jobs claimed again (a claim lost in the restart)")
    assert Counter((state, successes, claims == queued) for state, successes, claims, queued in history) == {
        ("succeeded", 1, True): 3000  # recorded once; claimed again only after going back to the queue
    }
    assert query(url, "SELECT count(*), count(DISTINCT job_id), min(job_id), max(job_id) FROM once_runs") == [
        (3000, 3000, ids[0], ids[-1])  # the side effect ran once per job, and never twice (UNIQUE)
    ]
    claimed_after = query(url, "SELECT DISTINCT data->>'worker' FROM errands.job_events WHERE kind = 'state'"
                               " AND state = 'running' AND at > extract(epoch FROM pg_postmaster_start_time())")
    assert sorted(w for (w,) in claimed_after) == sorted(w.id for w in registered)  # every worker came back
    # A settle retried after its COMMIT landed is refused (already recorded); a lost claim is
    # rescued. Neither is a wrong outcome; a failed job, a traceback or a double run is.
    assert complaints(workers, re.compile(r"errands\.\w+: job \d+.* failed|Traceback|DoubleRun")) == []
    app.close()


def test_a_claim_the_worker_never_heard_of_is_not_stuck(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the restart test found, without a restart: a claim committed under a live worker's
    id whose answer never reached that worker (the connection died after COMMIT) is rescued,
    not renewed by that worker's heartbeat for as long as it lives."""
    monkeypatch.setenv("ERRANDS_LEASE", "3")  # the idle worker's heartbeat: every second
    holder = spawn_worker(APP, url, "--queues", "elsewhere", "--maintenance-interval", "0.5")
    runner: WorkerProcess | None = None
    app = producer(url, lease=3)
    try:
        (info,) = wait_until(app.store.workers, 30, "the first worker to register", interval=0.2, ignore=(StoreError,))
        job = app.enqueue("record_once", {})
        assert [j.id for j in app.store.claim(info.id, None, 1).jobs] == [job.id]  # the claim its owner never saw
        runner = spawn_worker(APP, url, "--maintenance-interval", "0.5")
        wait_until(lambda: app.get(job.id).finished, 15, "the job to be freed and run", lambda: unfinished(url),
                   interval=0.2, ignore=(StoreError,))
    finally:
        stop_gracefully([holder] if runner is None else [holder, runner])
    assert app.get(job.id).state is State.SUCCEEDED
    assert query(url, "SELECT count(*) FROM once_runs") == [(1,)]
    app.close()


# -- two hosts --------------------------------------------------------------------------


@dataclass
class Host:
    """A network namespace with a veth pair to this machine; its workers reach PostgreSQL at
    `address` (this machine's end of the pair), where a socat forwarder relays to 127.0.0.1."""

    name: str  # also the hostname its workers see (a UTS namespace of their own)
    namespace: str
    address: str

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=f"{user}{self.address}:{parts.port or 5432}"))

    def spawn(self, url: str, group: int, *args: str) -> WorkerProcess:
        """A worker inside the namespace; `group` 0 starts the host's process group."""
        log = open(f"/tmp/errands-{self.name}-{time.monotonic_ns()}.log", "wb")
        command = ["ip", "netns", "exec", self.namespace, "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"',
                   self.name, sys.executable, "-m", "errands", "worker", "--app", APP, *args]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "ERRANDS_URL": self.url(url)}
        proc = WorkerProcess(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, process_group=group)
        proc.log_path = Path(log.name)
        log.close()
        return proc


def fail_or_skip(message: str) -> None:
    """Missing means failing under CI=true (CI runs as root on this machine), skipping locally."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _reachable(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def two_hosts() -> Iterator[list[Host]]:
    """Two namespaces. PostgreSQL listens on 127.0.0.1 only, and widening listen_addresses needs
    a restart, so a socat per host relays its veth address to the server."""
    if shutil.which("socat") is None:
        fail_or_skip("socat is missing: it relays each namespace's veth address to PostgreSQL")
    tag = os.getpid() % 100_000
    subnet = f"10.214.{os.getpid() % 250}"
    hosts, forwarders, links = [], [], []
    try:
        for n, name in enumerate(("scale-a", "scale-b")):
            namespace, host_side, ns_side = f"errands-{name}-{tag}", f"e{name[-1]}h{tag}", f"e{name[-1]}n{tag}"
            here, there = f"{subnet}.{4 * n + 1}", f"{subnet}.{4 * n + 2}"
            links.append((host_side, namespace))
            if problem := make_namespace(namespace, host_side, ns_side, here, there):
                fail_or_skip(f"cannot make a network namespace ({problem}); run the tests as root")
            forwarders.append(subprocess.Popen(
                ["socat", f"TCP-LISTEN:5432,bind={here},reuseaddr,fork", "TCP:127.0.0.1:5432"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            hosts.append(Host(name, namespace, here))
        for host in hosts:
            wait_until(lambda: _reachable(host.address, 5432), timeout=20,  # noqa: B023 - called at once
                       message=f"socat to listen on {host.address}:5432")
        yield hosts
    finally:
        for forwarder in forwarders:
            forwarder.kill()
            forwarder.wait(10)
        for host_side, namespace in links:
            remove_namespace(namespace, host_side)


def test_two_hosts_share_the_jobs_and_one_lost_whole_is_rescued_by_the_other(url: str,
                                                                            two_hosts: list[Host]) -> None:
    a, b = two_hosts
    app = producer(url)
    fast = ("--concurrency", "4", "--maintenance-interval", "0.5")
    first_a = a.spawn(url, 0, *fast)
    on_a = [first_a, a.spawn(url, first_a.pid, *fast)]
    first_b = b.spawn(url, 0, *fast)
    on_b = [first_b, b.spawn(url, first_b.pid, *fast)]
    try:
        registered = wait_until(lambda: found if len(found := app.store.workers()) == 4 else None, 60,
                                "four workers to register", interval=0.2, ignore=(StoreError,))
        ids = app.enqueue_many("record_run", [{"seconds": 0.3}] * 240)

        def both_busy() -> bool:
            done = Counter(w.split("-")[1] for (w,) in query(url, "SELECT worker FROM host_runs"))
            running = query(url, "SELECT count(*) FROM errands.jobs WHERE state = 'running'"
                                 " AND lease_owner LIKE 'scale-a-%'")
            return done["a"] >= 10 and done["b"] >= 10 and running[0][0] > 0

        wait_until(both_busy, 60, "both hosts to finish jobs, and host a to be running some",
                   interval=0.2, ignore=(StoreError,))
        killed = time.monotonic()
        os.killpg(first_a.pid, signal.SIGKILL)  # the whole host at once
        lost_with_a = [w.wait(10) for w in on_a]
        victims = {job_id for (job_id,) in query(url, "SELECT id FROM errands.jobs WHERE state = 'running'"
                                                      " AND lease_owner LIKE 'scale-a-%'")}
        wait_until(lambda: finished(app) == 240, 60, "every job to finish on host b", lambda: unfinished(url),
                   interval=0.2, ignore=(StoreError,))
        print(f"\nhost a was killed holding {len(victims)} running jobs; host b finished everything "
              f"{time.monotonic() - killed:.1f}s later")
    finally:
        for w in on_a:
            if w.poll() is None:
                w.kill()
                w.wait(10)
        codes_b = stop_gracefully(on_b)

    assert sorted((w.host, w.pid) for w in registered) == sorted(
        [("scale-a", w.pid) for w in on_a] + [("scale-b", w.pid) for w in on_b])
    assert lost_with_a == [-signal.SIGKILL] * 2 and codes_b == [0, 0]
    assert victims  # host a died holding jobs
    assert app.stats() == {"default": {"succeeded": 240}}
    jobs = {j: app.get(j) for j in ids}
    assert {j for j, job in jobs.items() if job.worker_losses} == victims
    for job_id in victims:
        assert jobs[job_id].worker_losses == 1 and jobs[job_id].result == "scale-b"
        kinds = [(e.kind, e.state, (e.data or {}).get("worker", "")[:8]) for e in app.events(job_id)]
        assert [k for k in kinds if k[0] == "rescued"] == [("rescued", None, "")]
        assert [k[2] for k in kinds if k[1] == "running"] == ["scale-a-", "scale-b-"]
    runs = Counter(job_id for (job_id,) in query(url, "SELECT job_id FROM host_runs"))
    assert {j for j in ids if runs[j] != 1} <= victims  # only a lost job may have run twice
    assert all(1 <= runs[j] <= 2 for j in victims)
    finished_by = dict(query(url, "SELECT r.job_id, r.worker FROM host_runs r"
                                  " JOIN errands.jobs j ON j.id = r.job_id AND r.attempt = j.attempt"))
    assert sorted(finished_by) == sorted(ids)  # every job's recorded run is the run that finished it
    assert {w.split("-")[1] for w in finished_by.values()} == {"a", "b"}  # the two hosts shared the jobs
    assert {finished_by[j].split("-")[1] for j in victims} == {"b"}
    app.close()
