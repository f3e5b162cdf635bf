"""Shared fixtures: a store per dialect, an app on it, helpers that wait for conditions."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from errands import Errands, WorkerConfig
from errands.errors import ErrandsError
from errands.stores import Store, open_store

from .store.history import assert_legal_history

ROOT = Path(__file__).resolve().parent.parent
STORES = ["sqlite", "postgres"]
pytest_plugins = ["tests.store.pg"]  # the postgres_url fixture: a fresh database per test


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'errands.db'}"


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return sqlite_url(tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    check_history(opened)
    opened.close()


@pytest.fixture
def app(store_url: str) -> Iterator[Errands]:
    instance = Errands(store_url)
    yield instance
    check_history(instance.store)
    instance.close()


def check_history(store: Store) -> None:
    """Every state change the test made is in job.TRANSITIONS (skipped when the test left the store unreadable)."""
    try:
        store.events(limit=1)
    except ErrandsError:
        return
    assert_legal_history(store)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs of our own: for full-disk and read-only tests (needs root to mount)."""
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs for this test: {done.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs ({done.stderr.strip()}); run the tests as root to enable this")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def read_only_folder(small_fs: Path) -> Path:
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    return small_fs


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, message: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(0.01)


def drain(app: Errands, **config: Any) -> None:
    """Run an in-process worker until nothing is left to do."""
    worker = app.worker(WorkerConfig(burst=True, **{"concurrency": 4, **config}))
    worker.run()


def errands_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
                cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the real `errands` command in a child process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "errands", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd)


class WorkerProcess(subprocess.Popen[bytes]):
    """A real `errands worker` process whose output goes to a file (a pipe could fill and block it)."""

    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text()


def spawn_worker(app_ref: str, url: str, *args: str) -> WorkerProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ERRANDS_URL": url}
    log = tempfile.NamedTemporaryFile(prefix="errands-worker-", suffix=".log", delete=False)
    proc = WorkerProcess([sys.executable, "-m", "errands", "worker", "--app", app_ref, *args],
                         env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = Path(log.name)
    log.close()
    return proc
