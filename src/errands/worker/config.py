"""How one worker runs: which queues, how many jobs at once, how it stops."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    queues: tuple[str, ...] = ()  # empty: every queue
    concurrency: int = 10  # most jobs running at once (threads for plain tasks, one event loop for async ones)
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


@dataclass(frozen=True, slots=True)
class CommandOption:
    """A worker setting that every worker command offers alike (`errands worker`,
    `flask errands worker`, `manage.py errands_worker`); its default is WorkerConfig's."""

    name: str  # the WorkerConfig field; the command-line flag is --name-with-dashes
    kind: type[int] | type[float] | type[str] | type[bool]  # bool: a flag
    help: str
    minimum: float | None = None
    short: str | None = None  # e.g. "-c"

    @property
    def flags(self) -> tuple[str, ...]:
        return (self.flag,) if self.short is None else (self.flag, self.short)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def default(self) -> object:
        value = WorkerConfig.__dataclass_fields__[self.name].default
        return ",".join(value) if isinstance(value, tuple) else value


COMMAND_OPTIONS = (
    CommandOption("queues", str, "Comma-separated queues to serve; default all."),
    CommandOption("concurrency", int, "Most jobs running at once (threads are woken as the work needs them).",
                  minimum=1, short="-c"),
    CommandOption("burst", bool, "Exit when nothing is ready or running and no failed job awaits a retry."),
    CommandOption("grace", float, "Seconds running jobs get to finish at shutdown before they are released.",
                  minimum=0),
    CommandOption("maintenance_interval", float,
                  "Seconds between rescue/promotion rounds; a dead worker's jobs are rescued within lease + this.",
                  minimum=0.05),
)


def config_from_options(**values: object) -> WorkerConfig:
    """A WorkerConfig from the values of COMMAND_OPTIONS as a command line gives them.
    Raises ValueError, with the option's flag, for a value below its minimum."""
    for option in COMMAND_OPTIONS:
        value = values.get(option.name)
        if option.minimum is not None and isinstance(value, int | float) and value < option.minimum:
            raise ValueError(f"{option.flag} must be at least {option.minimum:g}, not {value}")
    queues = str(values.pop("queues", "") or "")
    names = tuple(name.strip() for name in queues.split(",") if name.strip())
    return WorkerConfig(queues=names, **values)  # type: ignore[arg-type]
