"""SQLite's disk made read-only while workers run (a FUSE passthrough whose writes fail with EROFS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from errands import State, StoreError
from tests.acceptance.test_store_faults import (
    FAULTS_APP,
    assert_each_ran_once,
    enqueue_slow,
    faults_app,
    lines,
    running,
    succeeded,
)
from tests.faults.fuse_readonly import FuseUnavailable, ReadOnlySwitch, read_only_switch
from tests.helpers import ROOT, errands_cli, free_port, spawn_worker, wait_until

LEASE = 6  # seconds: slow_append's lease in tests/apps/faults.py


@pytest.fixture
def fuse_folder(tmp_path: Path) -> Iterator[ReadOnlySwitch]:
    try:
        with read_only_switch(tmp_path / "fuse") as fs:
            yield fs
            return
    except FuseUnavailable as exc:
        reason = str(exc)
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(f"{reason} (needs /dev/fuse, root and Debian's libfuse3-3)")


def serve_health(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ERRANDS_URL": url}
    server = subprocess.Popen([sys.executable, "-m", "errands", "serve", "--app", FAULTS_APP, "--port", str(port)],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, f"http://127.0.0.1:{port}/healthz"


def health(url: str) -> int:
    try:
        return httpx.get(url, timeout=30).status_code
    except httpx.TransportError:
        return 0


def test_a_disk_turned_read_only_mid_run_refuses_enqueues_pauses_claims_and_every_job_completes_once(
    fuse_folder: ReadOnlySwitch, tmp_path: Path,
) -> None:
    path, out = fuse_folder.folder / "ro.db", tmp_path / "runs.txt"
    url = f"sqlite:///{path}?busy_timeout=1000"
    app = faults_app(url)
    ids = enqueue_slow(app, out, 12, 1.5)
    server, healthz = serve_health(url)
    worker = spawn_worker(FAULTS_APP, url, "--concurrency", "4")  # leases of 6 s: they run out while read-only
    try:
        wait_until(lambda: health(healthz) == 200, timeout=60, message="/healthz to answer 200")
        wait_until(lambda: running(app) == 4, timeout=60, message="four jobs running")
        fuse_folder.read_only()
        with pytest.raises(StoreError, match="is read-only"):
            app.enqueue("slow_append", {"path": str(out), "line": "late", "seconds": 0})
        assert health(healthz) == 503
        refused = errands_cli("enqueue", "slow_append", "--app", FAULTS_APP, "--args",
                              json.dumps({"path": str(out), "line": "cli", "seconds": 0}), env={"ERRANDS_URL": url})
        assert refused.returncode != 0 and "is read-only" in refused.stderr and "Traceback" not in refused.stderr
        wait_until(lambda: len(lines(out)) >= 4, timeout=30, message="the running jobs to finish their work")
        wait_until(lambda: "is read-only" in worker.output(), timeout=30,
                   message="the worker to meet the read-only disk")
        assert running(app) == 4 and succeeded(app) == 0  # nothing claimed, nothing recorded: reads still work
        assert len(lines(out)) == 4  # and no fifth job started
        assert worker.poll() is None, worker.output()
        time.sleep(LEASE + 2)  # read-only longer than a lease: heartbeats failed, leases lapsed
        assert succeeded(app) == 0 and len(lines(out)) == 4 and worker.poll() is None, worker.output()
        assert health(healthz) == 503
        fuse_folder.writable()
        wait_until(lambda: health(healthz) == 200, timeout=30, message="/healthz to answer 200 again")
        wait_until(lambda: succeeded(app) == 12, timeout=120, message="every job to succeed")
        assert app.enqueue("slow_append", {"path": str(tmp_path / "after.txt"), "line": "x", "seconds": 0}).id
    finally:
        fuse_folder.writable()
        server.terminate()
        server.wait(30)
        worker.terminate()
        assert worker.wait(60) == 0, worker.output()
    assert len(app.list_jobs(limit=100)) == 13  # the refused enqueue left nothing behind
    assert_each_ran_once(app, out, ids)
    app.close()


def test_a_connection_first_opened_while_the_disk_was_read_only_writes_once_it_is_writable_again(
    fuse_folder: ReadOnlySwitch,
) -> None:
    app = faults_app(f"sqlite:///{fuse_folder.folder / 'ro.db'}")
    app.enqueue("slow_append", {"path": "a", "line": "1", "seconds": 0})

    def enqueue() -> int:
        return app.enqueue("slow_append", {"path": "b", "line": "2", "seconds": 0}).id

    with ThreadPoolExecutor(1) as thread:  # one thread: its connection is opened now, read-only
        fuse_folder.read_only()
        with pytest.raises(StoreError, match="is read-only: its disk refuses writes"):
            thread.submit(enqueue).result()
        assert [j.id for j in app.list_jobs()] == [1]  # reads still work
        fuse_folder.writable()
        assert thread.submit(enqueue).result() == 2  # SQLite opened it read-only: errands opened another
    assert [j.state for j in app.list_jobs()] == [State.QUEUED, State.QUEUED]
    app.close()
