"""SQLite under faults: locked by another process, a full disk, a read-only disk."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from errands import ConfigError, Errands, State, StoreBusy, StoreError
from tests.apps import basic
from tests.conftest import spawn_worker, wait_until

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
    assert [j.args for j in app.list()] == [{"a": 1, "b": 2}]  # nothing half-written
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
        assert worker.wait(30) == 0
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
    assert [j.id for j in app.list(limit=1000)] == sorted(stored, reverse=True)  # every acknowledged job is there
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
