"""PostgreSQL behind PgBouncer (Debian's `pgbouncer`, started by each test in front of the shared
server: a temporary ini and userlist, a free port, auth_type=trust): real workers with listen=off
run every job once in transaction mode, and the store warns at open, once, when it finds a
transaction pooler while LISTEN and prepared statements are on.

Without pgbouncer these tests are skipped with one line, and fail under CI=true.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from errands import Errands
from errands.errors import StoreError
from errands.stores import open_store
from tests.acceptance.test_postgres_scale import as_postgres, stop_gracefully, unfinished
from tests.apps import pg_faults
from tests.helpers import free_port, spawn_worker, wait_until

APP = "tests.apps.pg_faults:app"
POOLER_WARNING = "connection pooler that pools transactions"


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")
    if found is None:
        reason = "pgbouncer is not installed (apt-get install pgbouncer): the PgBouncer tests are left out"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def through(url: str, port: int, **options: str) -> str:
    """The same database and user, reached through the pooler at `port`."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    query = "&".join([parts.query, *(f"{k}={v}" for k, v in options.items())]).strip("&")
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}", query=query))


@pytest.fixture(params=["transaction"])
def pool_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def pgbouncer(postgres_url: str, pool_mode: str) -> Iterator[int]:
    """A PgBouncer of the test's own in front of the shared server; yields its port."""
    binary = pgbouncer_binary()
    server = urlsplit(postgres_url)
    folder = Path(tempfile.mkdtemp(prefix="errands-pgbouncer-"))  # readable by the postgres user
    folder.chmod(0o755)
    port = free_port()
    (folder / "userlist.txt").write_text(f'"{server.username or "postgres"}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={server.hostname or '127.0.0.1'} port={server.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
        f"pool_mode = {pool_mode}\ndefault_pool_size = 20\nmax_client_conn = 500\n"
        "ignore_startup_parameters = extra_float_digits\n"
        f"logfile = {folder / 'pgbouncer.log'}\n"
    )
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        for path in folder.iterdir():
            shutil.chown(path, "postgres")
        shutil.chown(folder, "postgres")
    process = subprocess.Popen(as_postgres([binary, str(folder / "pgbouncer.ini")]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def ready() -> bool:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"pgbouncer exited with {process.returncode}: {stderr.strip()}")
        try:
            psycopg.connect(through(postgres_url, port), connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    try:
        wait_until(ready, timeout=30, message="pgbouncer to accept connections")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def test_workers_behind_pgbouncer_in_transaction_mode_run_every_job_once(
    postgres_url: str, pgbouncer: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = through(postgres_url, pgbouncer, listen="off", poll_interval="0.2")
    monkeypatch.setenv("ERRANDS_TEST_RUNS", str(tmp_path))
    (tmp_path / "runs.txt").touch()
    app = Errands(url)
    app.tasks.update(pg_faults.app.tasks)
    ids = app.enqueue_many("record_in_file", [{"seconds": 0.01}] * 300)
    workers = [spawn_worker(APP, url, "--concurrency", "4", "--maintenance-interval", "1") for _ in range(3)]
    try:
        wait_until(lambda: app.stats().get("default", {}).get("succeeded", 0) == 300, 120,
                   "every job to succeed through pgbouncer", lambda: unfinished(postgres_url),
                   interval=0.2, ignore=(StoreError,))
        later = app.enqueue("record_in_file", {"seconds": 0})  # idle workers poll: a late job runs too
        wait_until(lambda: app.get(later.id).finished, 60, "a job enqueued while the workers were idle",
                   interval=0.2, ignore=(StoreError,))
    finally:
        codes = stop_gracefully(workers)
    runs = Counter(int(line.split()[0]) for line in (tmp_path / "runs.txt").read_text().splitlines())
    assert codes == [0] * 3
    assert app.stats() == {"default": {"succeeded": 301}}
    assert runs == {job_id: 1 for job_id in [*ids, later.id]}
    logs = "\n".join(w.output() for w in workers)
    assert "Traceback" not in logs and POOLER_WARNING not in logs  # listen=off: nothing to warn about
    app.close()


@pytest.mark.parametrize("pool_mode", ["transaction", "session"], indirect=True)
def test_a_transaction_pooler_with_listen_on_gets_one_startup_warning(
    postgres_url: str, pgbouncer: int, pool_mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="errands.store")
    for url in (postgres_url, through(postgres_url, pgbouncer), through(postgres_url, pgbouncer, listen="off")):
        open_store(url).close()
    warnings = [r.getMessage() for r in caplog.records if POOLER_WARNING in r.getMessage()]
    if pool_mode == "session":  # LISTEN works through a session pooler: nothing to say
        assert warnings == []
    else:  # only the store reached through the pooler with listen on
        assert len(warnings) == 1, warnings
        assert "listen=off" in warnings[0] and f"127.0.0.1:{pgbouncer}" in warnings[0]
