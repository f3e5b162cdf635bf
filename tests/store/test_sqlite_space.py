"""SQLite gives space back: pruned jobs shrink the file, and an old file is switched over once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from errands import Errands
from errands.errors import ErrandsError
from errands.job import NewJob
from errands.stores import open_store
from tests.apps import basic
from tests.helpers import errands_cli, spawn_worker, wait_until


def pragma(path: Path, name: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])


def test_pruning_shrinks_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, out = tmp_path / "space.db", tmp_path / "out.txt"
    url = f"sqlite:///{path}"
    app = Errands(url)
    app.tasks.update(basic.app.tasks)
    app.enqueue_many("append", [{"path": str(out), "line": f"{i} " + "x" * 4000} for i in range(1500)])
    app.close()
    burst = spawn_worker("tests.apps.basic:app", url, "--burst", "--concurrency", "4")
    assert burst.wait(300) == 0, burst.output()
    full = path.stat().st_size
    assert full > 6_000_000 and len(out.read_text().splitlines()) == 1500
    assert pragma(path, "auto_vacuum") == 2  # incremental, set when the file was created
    monkeypatch.setenv("ERRANDS_KEEP_SUCCEEDED", "0")
    pruner = spawn_worker("tests.apps.basic:app", url)  # its maintenance prunes at once
    try:
        wal = Path(f"{path}-wal")
        wait_until(lambda: path.stat().st_size < full / 10 and (not wal.exists() or wal.stat().st_size < full / 10),
                   timeout=120, message="the file and its WAL to shrink")
        assert pragma(path, "freelist_count") == 0
    finally:
        pruner.terminate()
        assert pruner.wait(60) == 0, pruner.output()
    assert "pruned 1500 finished job(s)" in pruner.output()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


def test_errands_migrate_switches_an_old_file_to_incremental_vacuum_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # a file whose first table came before errands set the pragma
        conn.execute("CREATE TABLE older (x)")
    app = Errands(f"sqlite:///{path}")
    app.tasks.update(basic.app.tasks)
    job = app.enqueue("add", {"a": 1, "b": 2})
    app.close()
    assert pragma(path, "auto_vacuum") == 0  # opening a store never rewrites the file
    done = errands_cli("migrate", "--url", f"sqlite:///{path}")
    assert done.returncode == 0 and done.stdout.strip() == "schema is up to date", done.stderr
    assert pragma(path, "auto_vacuum") == 2
    reopened = Errands(f"sqlite:///{path}")
    assert reopened.get(job.id).args == {"a": 1, "b": 2}
    reopened.close()


def test_closing_the_store_while_threads_read_never_crashes(tmp_path: Path) -> None:
    """close() waits for a thread in the middle of a statement instead of closing its connection under it
    (that crashed the process: a segfault in sqlite3, seen when a web test stopped while its SSE hub read)."""
    url = f"sqlite:///{tmp_path / 'errands.db'}"
    store = open_store(url)
    store.enqueue_many([NewJob("t", "{}") for _ in range(2000)])
    stop = threading.Event()
    errors: list[BaseException] = []

    def read_forever() -> None:
        while not stop.is_set():
            try:
                store.events(after=0, limit=2000)
            except ErrandsError:
                pass  # a read after close may fail cleanly; it must never crash
            except BaseException as exc:  # noqa: B036 - anything else is the bug
                errors.append(exc)
                return

    readers = [threading.Thread(target=read_forever) for _ in range(4)]
    for reader in readers:
        reader.start()
    for _ in range(200):
        store.close()
    stop.set()
    for reader in readers:
        reader.join()
    store.close()
    assert errors == []
