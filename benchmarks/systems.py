"""The two systems behind one small interface: enqueue, worker command lines, and a check after a drain.

Each instance owns a fresh database file in its own folder, so every workload
starts from an empty store.
"""

from __future__ import annotations

import abc
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.huey_tasks import DB_ENV, make_huey
from benchmarks.tasks import OUTPUT_ENV, TASK_NAME, make_app
from errands.worker.config import WorkerConfig

BIN = Path(sys.executable).parent
ERRANDS_APP = "benchmarks.tasks:app"
HUEY_APP = "benchmarks.huey_app.huey"
DEFAULT_CONCURRENCY = WorkerConfig().concurrency


@dataclass(frozen=True)
class Setting:
    """How the two worker processes are started."""

    label: str
    commands: tuple[tuple[str, ...], ...]
    shape: str  # "errands", "huey-processes" (one consumer, -k process -w 2) or "huey-consumers" (two consumers)
    concurrency: int  # errands --concurrency; 1 for huey (one job at a time per worker process)
    exits_when_done: bool = False  # errands --burst: the processes exit once the queue is empty
    quiet: bool = False  # per-job INFO log lines turned off (both systems log two lines per job by default)
    defaults: bool = False  # errands' defaults: no option but --burst (never counted as the best setting)


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
    bulk_method = "`app.enqueue_many` (one transaction)"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.url = f"sqlite:///{folder / 'errands.db'}"
        self.app = make_app(self.url)
        self.task = self.app.get_task(TASK_NAME)
        self.app.stats()  # opens and migrates the store before anything is timed

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
    def setting(concurrency: int, *, burst: bool, quiet: bool = False) -> Setting:
        command: tuple[str, ...] = (
            str(BIN / "errands"),
            "worker",
            "--app",
            ERRANDS_APP,
            "--concurrency",
            str(concurrency),
        )
        command += ("--burst",) * burst + ("--log-level", "warning") * quiet
        label = f"2 × `errands worker {' '.join(command[4:])}`"
        return Setting(label, (command, command), "errands", concurrency, exits_when_done=burst, quiet=quiet)


    @staticmethod
    def defaults_setting() -> Setting:
        """`errands worker` as a user first runs it: default concurrency and log level (INFO); only
        `--burst`, so that it exits when done."""
        command = (str(BIN / "errands"), "worker", "--app", ERRANDS_APP, "--burst")
        label = f"2 × `errands worker --burst` (defaults: concurrency {DEFAULT_CONCURRENCY}, log level INFO)"
        return Setting(label, (command, command), "errands", DEFAULT_CONCURRENCY, exits_when_done=True, defaults=True)


class HueySystem(System):
    name = "huey"
    bulk_method = "`task.map`, its closest equivalent (huey has no bulk insert: one transaction per job)"

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
    def setting(shape: str, *, poll: float | None = None, quiet: bool = False) -> Setting:
        """`huey-processes`: one consumer with two worker processes (its parent only schedules and
        monitors). `huey-consumers`: two consumer processes with one worker thread each.

        `poll` None keeps huey's polling defaults (0.1 s after an empty poll, backing off x1.15 up to
        10 s); a number polls at that fixed interval."""
        workers = ("-k", "process", "-w", "2") if shape == "huey-processes" else ("-k", "thread", "-w", "1")
        options = workers + _poll_options(poll) + ("-q",) * quiet
        command = (str(BIN / "huey_consumer"), HUEY_APP, *options)
        count = 1 if shape == "huey-processes" else 2
        label = f"{'2 × ' if count == 2 else ''}`huey_consumer {' '.join(options)}`"
        return Setting(label, (command,) * count, shape, 1, quiet=quiet)


def _poll_options(poll: float | None) -> tuple[str, ...]:
    return () if poll is None else ("--delay", f"{poll:g}", "--max-delay", f"{poll:g}", "--backoff", "1")
