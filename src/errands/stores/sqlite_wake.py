"""How an idle worker learns that another process committed to the SQLite file, cheaply.

`PRAGMA data_version` says whether anyone else committed. On Linux, inotify on the
`-wal` file says when to look, so an idle worker sleeps in `select` instead of
polling; elsewhere (or if inotify is unavailable) it polls at `poll_interval`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import sqlite3
import threading
import time

IN_MODIFY = 0x2
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
HOT_WINDOW = 0.05  # after a write to the WAL, poll closely: the commit becomes visible just after
HOT_POLL = 0.0005
COLD_POLL = 0.25  # the longest sleep between looks, in case an event is missed


def _inotify_fd(path: str) -> int | None:
    """A non-blocking inotify descriptor watching `path` for writes, or None."""
    name = ctypes.util.find_library("c")
    if not name or not os.path.exists(path):
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        fd = int(libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC))
    except (OSError, AttributeError):
        return None
    if fd < 0:
        return None
    if libc.inotify_add_watch(fd, os.fsencode(path), IN_MODIFY) < 0:
        os.close(fd)
        return None
    return fd


class DataVersionWatcher:
    """Waits for commits by other connections. Owns its connection; one waiting thread."""

    announces_jobs = False  # any commit wakes it, a claimable job or not

    def __init__(self, conn: sqlite3.Connection, database: str, poll_interval: float) -> None:
        self._conn = conn
        self._poll_interval = poll_interval
        self._version = self._read()  # also makes sure the -wal file exists
        self._inotify = _inotify_fd(database + "-wal")
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._poked = threading.Event()

    def _read(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def poke(self) -> None:
        """Wake the waiting thread from this process."""
        self._poked.set()
        os.write(self._wake_w, b"x")

    def wait(self, timeout: float) -> bool:
        """True when another connection may have committed (or on poke); False on timeout."""
        deadline = time.monotonic() + timeout
        hot_until = 0.0
        while True:
            version = self._read()
            if version != self._version:
                self._version = version
                return True
            if self._poked.is_set():
                self._poked.clear()
                self._drain(self._wake_r)
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            if self._inotify is None:
                pause = self._poll_interval
            else:
                pause = HOT_POLL if now < hot_until else COLD_POLL
            readable, _, _ = select.select(self._watched(), [], [], min(pause, deadline - now))
            if self._inotify is not None and self._inotify in readable:
                self._drain(self._inotify)
                hot_until = time.monotonic() + HOT_WINDOW

    def _watched(self) -> list[int]:
        return [self._wake_r] if self._inotify is None else [self._wake_r, self._inotify]

    @staticmethod
    def _drain(fd: int) -> None:
        try:
            while os.read(fd, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        for fd in (self._inotify, self._wake_r, self._wake_w):
            if fd is not None:
                os.close(fd)
        self._conn.close()
