"""Shared fixtures: a store per dialect, an app on it, helpers that wait for conditions."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from errands import Errands
from errands.errors import ErrandsError
from errands.stores import Store, open_store

from .helpers import sqlite_url
from .store.history import assert_legal_history

STORES = ["sqlite", "postgres"]
pytest_plugins = ["tests.store.pg"]  # the postgres_url fixture: a fresh database per test


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
