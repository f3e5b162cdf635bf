"""`errands watch ID`: a live progress bar until the job ends; the exit code tells how it ended."""

from __future__ import annotations

import time

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from ..job import Job, State
from .jobs import describe
from .loading import app_options, resolve

EXIT_CODES = {State.SUCCEEDED: 0, State.FAILED: 1, State.CANCELLED: 4}


def _label(job: Job) -> str:
    message = f" {job.progress.message}" if job.progress.message else ""
    return f"job {job.id} {job.task} [{job.state.value}]{message}"


@click.command()
@click.argument("job_id", type=int)
@click.option("--interval", type=float, default=0.2, show_default=True, help="Seconds between reads.")
@app_options
def watch(job_id: int, interval: float, app_ref: str | None, url: str | None) -> None:
    """Follow a job with a live progress bar until it ends (exit 0 succeeded, 1 failed, 4 cancelled)."""
    app = resolve(app_ref, url)
    console = Console(stderr=True)
    job = app.get(job_id)
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        row = bar.add_task(_label(job), total=None)
        while not job.finished:
            p = job.progress
            bar.update(row, description=_label(job), completed=p.current or 0, total=p.total or None)
            time.sleep(interval)
            job = app.get(job_id)
    describe(job, Console())
    raise SystemExit(EXIT_CODES[job.state])


COMMANDS = [watch]
