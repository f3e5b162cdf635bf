"""Bounded growth per job: log lines per run, files and their total size, checkpoint
events on the timeline, and the size of each log line and progress message."""

from __future__ import annotations

import pytest

from errands import BadArguments, ConfigError, Errands, JobContext, Settings, State
from errands.text import utf8_size
from tests.helpers import drain


def test_a_run_keeps_its_first_log_lines_then_one_truncation_line(store_url: str) -> None:
    app = Errands(store_url, settings=Settings(max_log_lines=50, max_text_bytes=1_000))

    @app.task
    def chatty(ctx: JobContext) -> int:
        ctx.log("é" * 10_000)
        for i in range(5_000):
            ctx.log(f"line {i}")
        return 5_000

    job = chatty.enqueue()
    drain(app)
    assert app.get(job.id).state is State.SUCCEEDED
    lines = [e.data["message"] for e in app.events(job.id) if e.kind == "log"]  # type: ignore[index]
    assert len(lines) == 51
    assert utf8_size(lines[0]) <= 1_000 and lines[0].endswith("… [truncated, 20000 bytes in all]")
    assert lines[1:50] == [f"line {i}" for i in range(49)]
    assert lines[50].startswith("log truncated: this run logged more than 50 lines")


def test_progress_messages_are_capped(store_url: str) -> None:
    app = Errands(store_url, settings=Settings(max_text_bytes=1_000))

    @app.task
    def loud(ctx: JobContext) -> None:
        ctx.progress(1, 1, "p" * 1_000_000)

    job = loud.enqueue()
    drain(app)
    done = app.get(job.id)
    message = done.progress.message or ""
    assert done.state is State.SUCCEEDED and utf8_size(message) <= 1_000 and message.startswith("ppp")
    assert message.endswith("[truncated, 1000000 bytes in all]")


def test_files_per_job_are_capped_in_number_and_total_size_across_runs(store_url: str) -> None:
    app = Errands(store_url, settings=Settings(max_files=3, max_files_bytes=1_000))
    refused: list[str] = []

    def save(ctx: JobContext, name: str, size: int) -> None:
        try:
            ctx.save_file(name, b"x" * size)
        except BadArguments as exc:
            refused.append(str(exc))

    @app.task(retries=1, backoff=0)
    def export(ctx: JobContext) -> int:
        if ctx.attempt == 1:
            for name in ("a.csv", "b.csv", "c.csv"):
                save(ctx, name, 300)
            raise ConnectionError("upstream closed")
        save(ctx, "d.csv", 1)  # a fourth file: refused, the first run's three count
        save(ctx, "c.csv", 400)  # replacing one: 300 + 300 + 400 fits
        save(ctx, "c.csv", 401)  # 1,001 bytes in all: refused
        return len(refused)

    job = export.enqueue()
    drain(app)
    done = app.get(job.id)
    assert done.state is State.SUCCEEDED and done.attempt == 2 and done.result == 2
    assert "already has 3 files, the limit (ERRANDS_MAX_FILES) is 3" in refused[0]
    assert "would take 1,001 bytes, over the limit (ERRANDS_MAX_FILES_BYTES) of 1,000" in refused[1]
    assert {(f.name, f.size) for f in app.files(job.id)} == {("a.csv", 300), ("b.csv", 300), ("c.csv", 400)}


def test_a_file_name_too_long_or_unstorable_is_refused_clearly(store_url: str) -> None:
    app = Errands(store_url)

    @app.task
    def named(ctx: JobContext, kind: str) -> None:
        ctx.save_file({"long": "n" * 10_000, "nul": "a\x00b.csv", "surrogate": "a\ud800.csv"}[kind], b"x")

    ids = [named.enqueue(kind=kind).id for kind in ("long", "nul", "surrogate")]
    drain(app)
    for job_id in ids:
        error = app.get(job_id).error
        assert error is not None and error.type == "errands.errors.BadArguments"
        assert "at most 255 characters, no NUL" in error.message and len(error.message) < 400
        assert app.files(job_id) == []


def test_checkpoints_in_a_tight_loop_announce_once_per_progress_interval(store_url: str) -> None:
    app = Errands(store_url, settings=Settings(progress_interval=3_600))

    @app.task
    def tight(ctx: JobContext) -> int:
        for i in range(300):
            ctx.save_checkpoint({"i": i + 1})
        return 300

    job = tight.enqueue()
    drain(app)
    done = app.get(job.id)
    assert done.state is State.SUCCEEDED and done.checkpoint == {"i": 300}  # every save was written
    announced = [e.data for e in app.events(job.id) if e.kind == "checkpoint"]
    assert announced == [{"count": 1}]


def test_with_no_progress_interval_every_checkpoint_is_announced(store_url: str) -> None:
    app = Errands(store_url, settings=Settings(progress_interval=0))

    @app.task
    def steps(ctx: JobContext) -> None:
        for i in range(5):
            ctx.save_checkpoint({"i": i})

    job = steps.enqueue()
    drain(app)
    announced = [e.data for e in app.events(job.id) if e.kind == "checkpoint"]
    assert announced == [{"count": n} for n in range(1, 6)]


def test_the_caps_are_settings_read_from_the_environment() -> None:
    settings = Settings.from_env({"ERRANDS_MAX_LOG_LINES": "7", "ERRANDS_MAX_FILES": "2",
                                  "ERRANDS_MAX_FILES_BYTES": "1000", "ERRANDS_MAX_TEXT_BYTES": "4096"})
    assert (settings.max_log_lines, settings.max_files, settings.max_files_bytes, settings.max_text_bytes) == (
        7, 2, 1000, 4096)
    with pytest.raises(ConfigError, match="max_text_bytes=10: give at least 256 bytes"):
        Settings.from_env({"ERRANDS_MAX_TEXT_BYTES": "10"})
    with pytest.raises(ConfigError, match="max_files=-1: give 0 or more"):
        Settings(max_files=-1)
    with pytest.raises(ConfigError, match="ERRANDS_MAX_LOG_LINES='many' is not a number"):
        Settings.from_env({"ERRANDS_MAX_LOG_LINES": "many"})
