"""SQLite under faults: locked by another process, a full disk, a read-only disk."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from errands import ConfigError, Errands, State, StoreBusy, StoreError
from tests.apps import basic, faults
from tests.helpers import spawn_worker, wait_until

HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
for _ in range(int(sys.argv[3])):
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("COMMIT")
    time.sleep(0.3)
"""


def hold_lock(path: Path, seconds: float, times: int = 1) -> subprocess.Popen[str]:
    locker = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path), str(seconds), str(times)],
                              stdout=subprocess.PIPE, text=True)
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    return locker


def app_at(url: str) -> Errands:
    app = Errands(url)
    app.tasks.update(basic.app.tasks)
    return app


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_enqueue_while_another_process_holds_the_lock_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    app = app_at(f"sqlite:///{path}?busy_timeout=200")
    app.enqueue("add", {"a": 1, "b": 2})
    locker = hold_lock(path, 1.5)
    with pytest.raises(StoreBusy, match="stayed locked by another process"):
        app.enqueue("add", {"a": 3, "b": 4})
    locker.wait(10)
    assert [j.args for j in app.list_jobs()] == [{"a": 1, "b": 2}]  # nothing half-written
    assert app.enqueue("add", {"a": 3, "b": 4}).state is State.QUEUED


def test_a_worker_rides_out_locks_longer_than_its_busy_timeout_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    url = f"sqlite:///{path}?busy_timeout=100"
    app = app_at(url)
    out = tmp_path / "runs.txt"
    app.enqueue_many("append", [{"path": str(out), "line": f"j{i}"} for i in range(300)])
    worker = spawn_worker("tests.apps.basic:app", url, "--concurrency", "4")
    try:
        locker = hold_lock(path, 1.0, times=3)
        locker.wait(30)
        wait_until(lambda: app.stats()["default"].get("succeeded") == 300, timeout=60, message="all 300 jobs")
    finally:
        worker.terminate()
        assert worker.wait(30) == 0, worker.output()
    assert app.stats() == {"default": {"succeeded": 300}}
    assert sorted(out.read_text().splitlines()) == sorted(f"j{i}" for i in range(300))  # each ran once
    assert "retrying" in worker.output()  # it did meet the lock


def test_a_full_disk_is_a_clear_error_and_the_database_stays_intact(small_fs: Path) -> None:
    path = small_fs / "full.db"
    app = app_at(f"sqlite:///{path}")
    ballast = small_fs / "ballast"
    ballast.write_bytes(b"\0" * 256_000)
    stored = []
    with pytest.raises(StoreError, match="is full"):
        for i in range(1000):
            stored.append(app.enqueue("append", {"path": "x" * 20_000, "line": str(i)}).id)
    assert integrity(path) == "ok"
    assert [j.id for j in app.list_jobs(limit=1000)] == sorted(stored, reverse=True)  # every acknowledged job is there
    ballast.unlink()  # free space: errands carries on
    assert app.enqueue("add", {"a": 1, "b": 1}).state is State.QUEUED
    app.close()
    assert integrity(path) == "ok"


def test_a_read_only_disk_is_a_clear_error_and_the_database_stays_intact(small_fs: Path) -> None:
    path = small_fs / "ro.db"
    app = app_at(f"sqlite:///{path}")
    job = app.enqueue("add", {"a": 1, "b": 2})
    app.close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            app_at(f"sqlite:///{path}").enqueue("add", {"a": 1, "b": 2})
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    assert integrity(path) == "ok"
    assert app_at(f"sqlite:///{path}").get(job.id).state is State.QUEUED


# -- faults while real workers run ---------------------------------------------------------

FAULTS_APP = "tests.apps.faults:app"


def faults_app(url: str) -> Errands:
    app = Errands(url)
    app.tasks.update(faults.app.tasks)
    return app


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def assert_each_ran_once(app: Errands, out: Path, ids: list[int]) -> None:
    jobs = [app.get(i) for i in ids]
    assert [j.state for j in jobs] == [State.SUCCEEDED] * len(ids)
    assert [j.attempt for j in jobs] == [1] * len(ids)  # none rescued and run again
    assert sorted(lines(out)) == sorted(str(i) for i in range(len(ids)))  # each side effect once
    assert not [e for e in app.store.events(limit=100_000) if e.kind == "rescued"]


def enqueue_slow(app: Errands, out: Path, count: int, seconds: float) -> list[int]:
    return app.enqueue_many("slow_append", [{"path": str(out), "line": str(i), "seconds": seconds}
                                            for i in range(count)])


def running(app: Errands) -> int:
    return app.stats().get("default", {}).get("running", 0)


def succeeded(app: Errands) -> int:
    return app.stats().get("default", {}).get("succeeded", 0)


def test_a_writer_in_another_process_holding_the_lock_30s_stalls_work_but_loses_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    path, out = tmp_path / "held.db", tmp_path / "runs.txt"
    url = f"sqlite:///{path}?busy_timeout=1000"
    app = faults_app(url)
    ids = enqueue_slow(app, out, 12, 1.5)
    worker = spawn_worker(FAULTS_APP, url, "--concurrency", "4")  # leases of 6 s: they run out during the hold
    try:
        wait_until(lambda: running(app) == 4, timeout=60, message="four jobs running")
        locker = hold_lock(path, 30)
        with pytest.raises(StoreBusy, match="stayed locked by another process longer than the busy timeout"):
            app.enqueue("slow_append", {"path": str(out), "line": "late", "seconds": 0})
        before_release = len(lines(out))
        assert locker.wait(60) == 0
        wait_until(lambda: succeeded(app) > 0 and len(lines(out)) > before_release, timeout=30,
                   message="work to resume after the release")
        wait_until(lambda: succeeded(app) == 12, timeout=120, message="every job to succeed")
        assert worker.poll() is None, worker.output()
    finally:
        worker.terminate()
        assert worker.wait(60) == 0, worker.output()
    assert len(app.list_jobs(limit=100)) == 12  # the refused enqueue left nothing behind
    assert_each_ran_once(app, out, ids)


def test_a_disk_filling_while_jobs_complete_delays_their_outcomes_and_loses_none(small_fs: Path,
                                                                                 tmp_path: Path) -> None:
    path, out = small_fs / "full.db", tmp_path / "runs.txt"
    url = f"sqlite:///{path}?busy_timeout=1000"
    app = faults_app(url)
    ids = enqueue_slow(app, out, 12, 1.0)
    worker = spawn_worker(FAULTS_APP, url, "--concurrency", "4")
    ballast = small_fs / "ballast"
    try:
        wait_until(lambda: running(app) == 4, timeout=60, message="four jobs running")
        fd = os.open(ballast, os.O_WRONLY | os.O_CREAT)
        try:  # fill the disk to the last byte
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        wait_until(lambda: len(lines(out)) >= 4, timeout=30, message="the running jobs to finish their work")
        wait_until(lambda: "is full" in worker.output(), timeout=30, message="the worker to meet the full disk")
        assert worker.poll() is None, worker.output()
        ballast.unlink()
        wait_until(lambda: succeeded(app) == 12, timeout=120, message="every job to succeed")
    finally:
        worker.terminate()
        assert worker.wait(60) == 0, worker.output()
    assert integrity(path) == "ok"
    assert_each_ran_once(app, out, ids)
