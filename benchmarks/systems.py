"""The two systems behind one small interface: enqueue, worker command lines, and a check after a drain.

Each instance owns a fresh database file in its own folder, so every workload
starts from an empty store.
"""

from __future__ import annotations

import abc
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.huey_app import DB_ENV
from benchmarks.huey_tasks import make_huey
from benchmarks.tasks import OUTPUT_ENV, TASK_NAME, make_app

BIN = Path(sys.executable).parent
ERRANDS_APP = "benchmarks.tasks:app"
HUEY_APP = "benchmarks.huey_app.huey"


@dataclass(frozen=True)
class Setting:
    """How the two worker processes are started."""

    label: str
    commands: tuple[tuple[str, ...], ...]
    exits_when_done: bool = False  # errands --burst: the processes exit once the queue is empty


class System(abc.ABC):
    name: str

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.output = folder / "lines.txt"

    @property
    def env(self) -> dict[str, str]:
        """Environment for worker processes: where the store is and where jobs write."""
        return {OUTPUT_ENV: str(self.output)}

    @abc.abstractmethod
    def enqueue_one(self, n: int, sent: float) -> None:
        """One job, one call (and one transaction)."""

    @abc.abstractmethod
    def enqueue_bulk(self, ns: Sequence[int]) -> None:
        """Many jobs with the system's closest thing to a bulk call."""

    @abc.abstractmethod
    def check_drained(self, n: int) -> list[str]:
        """Problems the store shows after `n` jobs should have run (empty when all is well)."""

    @abc.abstractmethod
    def close(self) -> None: ...


class ErrandsSystem(System):
    name = "errands"
    bulk_method = "app.enqueue_many (one transaction)"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.url = f"sqlite:///{folder / 'errands.db'}"
        self.app = make_app(self.url)
        self.task = self.app.get_task(TASK_NAME)
        self.app.store.schema_version()  # open and migrate before anything is timed

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "ERRANDS_URL": self.url}

    def enqueue_one(self, n: int, sent: float) -> None:
        self.task.enqueue(n=n, sent=sent)

    def enqueue_bulk(self, ns: Sequence[int]) -> None:
        self.app.enqueue_many(self.task, [{"n": n, "sent": 0.0} for n in ns])

    def check_drained(self, n: int) -> list[str]:
        counts = self.app.stats().get("default", {})
        if counts.get("succeeded", 0) != n or sum(counts.values()) != n:
            return [f"store holds {counts}, expected {n} succeeded"]
        return []

    def close(self) -> None:
        self.app.close()

    @staticmethod
    def setting(concurrency: int, *, burst: bool) -> Setting:
        command = (str(BIN / "errands"), "worker", "--app", ERRANDS_APP, "--concurrency", str(concurrency))
        if burst:
            command += ("--burst",)
        label = f"2 × `errands worker --concurrency {concurrency}{' --burst' if burst else ''}`"
        return Setting(label, (command, command), exits_when_done=burst)


class HueySystem(System):
    name = "huey"
    bulk_method = "task.map (no bulk API: one transaction per job)"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.db = folder / "huey.db"
        self.huey, self.task = make_huey(str(self.db))

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, DB_ENV: str(self.db)}

    def enqueue_one(self, n: int, sent: float) -> None:
        self.task(n, sent)

    def enqueue_bulk(self, ns: Sequence[int]) -> None:
        self.task.map([(n, 0.0) for n in ns])

    def check_drained(self, n: int) -> list[str]:
        left = self.huey.pending_count()
        return [f"{left} jobs still queued"] if left else []

    def close(self) -> None:
        self.huey.storage.close()

    @staticmethod
    def processes(poll: float | None = None) -> Setting:
        """One consumer with two worker processes (plus huey's scheduler/monitor parent)."""
        command = (str(BIN / "huey_consumer"), HUEY_APP, "-k", "process", "-w", "2", *_poll_options(poll))
        return Setting(f"`huey_consumer -k process -w 2{_poll_label(poll)}`", (command,))

    @staticmethod
    def two_consumers(poll: float | None = None, threads: int = 1) -> Setting:
        """Two consumer processes, each with `threads` worker threads."""
        command = (str(BIN / "huey_consumer"), HUEY_APP, "-k", "thread", "-w", str(threads), *_poll_options(poll))
        return Setting(f"2 × `huey_consumer -k thread -w {threads}{_poll_label(poll)}`", (command, command))


def _poll_options(poll: float | None) -> tuple[str, ...]:
    """None keeps huey's defaults (first poll after 0.1 s, backing off ×1.15 to 10 s); else a fixed interval."""
    return () if poll is None else ("--delay", str(poll), "--max-delay", str(poll), "--backoff", "1")


def _poll_label(poll: float | None) -> str:
    return "" if poll is None else f" -d {poll:g} -m {poll:g} -b 1"


def wait_for(predicate: object, timeout: float, interval: float = 0.002) -> bool:
    """Poll `predicate()` until it is true or `timeout` seconds pass."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True
