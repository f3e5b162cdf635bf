"""How an idle PostgreSQL worker learns that a job became claimable: LISTEN on a dedicated
connection, woken by the NOTIFY the store's statements send; or, where LISTEN cannot work
(PgBouncer in transaction mode), a plain timed poll. Missed notifications cost nothing but
latency: the worker's timed fallback claim covers them.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from ..errors import StoreError

log = logging.getLogger("errands.store")

MAX_BACKOFF = 30.0


class ListenWatcher:
    """LISTENs on its own connection; `wait` returns True on a notification or a `poke`.

    A lost connection is re-opened (and LISTENed again) with backoff; the first `wait`
    after a reconnect returns True at once, since notifications sent meanwhile are lost.
    One thread waits; `poke` may be called from any thread."""

    announces_jobs = True  # the store notifies only when a job becomes claimable

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], channel: str) -> None:
        self._connect = connect
        self._channel = channel
        self._conn: psycopg.Connection[Any] | None = None
        self._backoff = 0.5
        self._retry_at = 0.0
        self._outage_logged = False
        # A socket pair, not a threading.Event, so one select() waits for both wake-ups.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._listen()

    def _listen(self) -> bool:
        try:
            conn = self._connect()
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except (StoreError, psycopg.Error) as exc:
            if not self._outage_logged:
                log.warning("cannot LISTEN for new jobs (polling until it works again): %s", exc)
                self._outage_logged = True
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)
            return False
        if self._outage_logged:
            log.info("listening for new jobs again")
        self._conn, self._backoff, self._outage_logged = conn, 0.5, False
        return True

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if self._conn is None:
            if time.monotonic() >= self._retry_at and self._listen():
                return True
            return self._sleep(deadline)
        conn = self._conn
        while True:
            try:
                if self._drain(conn):
                    return True
            except psycopg.Error:
                self._drop()
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            ready, _, _ = select.select([conn.pgconn.socket, self._wake_r.fileno()], [], [], remaining)
            if self._wake_r.fileno() in ready:
                self._clear_wake()
                return True

    @staticmethod
    def _drain(conn: psycopg.Connection[Any]) -> bool:
        """Read whatever the server sent; True if it held at least one notification."""
        conn.pgconn.consume_input()
        seen = False
        while conn.pgconn.notifies() is not None:
            seen = True
        return seen

    def _sleep(self, deadline: float) -> bool:
        remaining = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self._wake_r], [], [], remaining)
        if ready:
            self._clear_wake()
            return True
        return False

    def _clear_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        log.warning("lost the LISTEN connection; reconnecting")

    def poke(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # a wake-up is already pending (buffer full), or the watcher is closed

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._wake_r.close()
        self._wake_w.close()


class PollWatcher:
    """No LISTEN: sleeps `interval` (or until poked), then lets the worker look again."""

    announces_jobs = False

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._poked = threading.Event()

    def wait(self, timeout: float) -> bool:
        poked = self._poked.wait(min(timeout, self._interval))
        self._poked.clear()
        return poked or timeout > self._interval

    def poke(self) -> None:
        self._poked.set()

    def close(self) -> None:
        pass
