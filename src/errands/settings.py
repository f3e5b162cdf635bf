"""Settings of an `Errands` app: one frozen dataclass, read from the environment by default.

Worker settings (queues, concurrency, grace) live in `worker.config`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from .errors import ConfigError

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Limits and retention. Every field can be set by `ERRANDS_<FIELD>` in the environment."""

    max_args_bytes: int = 1_000_000  # JSON arguments of one job
    max_result_bytes: int = 1_000_000  # JSON result of one job
    max_file_bytes: int = 50_000_000  # one result file saved by ctx.save_file
    max_files: int = 100  # result files one job may keep
    max_files_bytes: int = 200_000_000  # their total size
    max_text_bytes: int = 65_536  # each of an error's type, message and traceback, a log line, a progress message
    max_log_lines: int = 1_000  # log lines kept per run of a job; past it one "log truncated" line, then none
    keep_succeeded: float = 7 * DAY  # seconds a finished job stays before it is pruned
    keep_cancelled: float = 7 * DAY
    keep_failed: float = 30 * DAY
    lease: float = 30.0  # default lease of a claimed job; renewed every third of it
    max_worker_losses: int = 3  # a job whose worker died this often fails
    progress_interval: float = 0.5  # at most one progress write per job per interval
    max_wait: float = 300.0  # seconds a due job waits before maintenance raises it to its queue's top priority
    base_url: str | None = None  # where the HTTP API is reachable, for links in notifications
    smtp_url: str | None = None  # smtp://user:password@host:port?starttls=1&from=... for email notifications
    token: str | None = field(default=None, repr=False)  # bearer token of the HTTP API and dashboard admins
    webhook_secret: str | None = None  # HMAC key for webhook signatures (default: ERRANDS_SECRET)
    webhook_hosts: str | None = None  # hosts webhooks given over HTTP may call: "hooks.example.com,*.example.org"
    email_subject: str = "[errands] job {id} ({task}) {state}"
    email_body: str = "Job {id} ({task}) {state} at {finished_at}.\n\n{outcome}\n\nDetails: {url}\n"

    def __post_init__(self) -> None:
        if self.max_text_bytes < 256:
            raise ConfigError(f"max_text_bytes={self.max_text_bytes}: give at least 256 bytes")
        for name in ("max_files", "max_files_bytes", "max_log_lines"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)}: give 0 or more")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for setting in fields(cls):
            raw = env.get(f"ERRANDS_{setting.name.upper()}")
            if raw is None:
                continue
            if str(setting.type).startswith("str"):
                values[setting.name] = raw
                continue
            kind = int if setting.type == "int" else float
            try:
                values[setting.name] = kind(raw)
            except ValueError:
                raise ConfigError(f"ERRANDS_{setting.name.upper()}={raw!r} is not a number") from None
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
