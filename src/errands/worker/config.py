"""How one worker runs: which queues, how many jobs at once, how it stops."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    queues: tuple[str, ...] = ()  # empty: every queue
    concurrency: int = 10  # jobs running at once (threads for plain tasks, one event loop for async ones)
    burst: bool = False  # exit once nothing is ready, nothing runs here and no failed job awaits its retry
    grace: float = 25.0  # seconds running jobs get to finish at shutdown before they are released
    maintenance_interval: float = 5.0  # rescue, promotion and pruning; a lost job is rescued within lease + this
    heartbeat_interval: float | None = None  # lease renewal; default a third of the shortest running lease
    idle_wait: float = 1.0  # longest pause between claims when idle (bounds how late a delayed job starts)
    name: str | None = None  # worker id prefix; default host-pid

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.grace < 0 or self.maintenance_interval <= 0 or self.idle_wait <= 0:
            raise ValueError("grace must be >= 0; maintenance_interval and idle_wait must be > 0")
