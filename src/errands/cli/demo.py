"""`errands demo`: a real worker process, jobs of several lengths, one failing, shown live."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from ..job import Job
from .jobs import STATE_STYLE


def _table(jobs: list[Job]) -> Table:
    table = Table("id", "task", "state", "progress", "", "detail", title="errands demo")
    for job in jobs:
        style = STATE_STYLE.get(job.state.value, "")
        fraction = job.progress.fraction
        if job.error:
            detail = f"[red]{job.error.type}: {job.error.message}[/red]"
        elif job.result is not None:
            detail = json.dumps(job.result)
        else:
            detail = job.progress.message or ""
        bar = ProgressBar(total=1.0, completed=fraction or (1.0 if job.state.value == "succeeded" else 0.0), width=24)
        table.add_row(
            str(job.id),
            job.task,
            f"[{style}]{job.state.value}[/{style}]",
            bar,
            "" if fraction is None else f"{fraction:.0%}",
            detail,
        )
    return table


@click.command()
@click.option("--db", type=click.Path(dir_okay=False), help="SQLite file to use (default: a new temporary one).")
def demo(db: str | None) -> None:
    """Start a worker process, enqueue a few jobs and watch them finish."""
    folder = Path(tempfile.mkdtemp(prefix="errands-demo-"))
    path = Path(db).resolve() if db else folder / "demo.db"
    url = f"sqlite:///{path}"
    os.environ["ERRANDS_URL"] = url
    from ..demo import app

    console = Console()
    log_path = folder / "worker.log"
    console.print(f"store: [bold]{url}[/bold]\nworker log: {log_path}")
    with open(log_path, "w") as log_file:
        worker = subprocess.Popen(
            [sys.executable, "-m", "errands", "worker", "--app", "errands.demo:app", "--concurrency", "4"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        ids = [
            app.enqueue("demo.report", {"title": "quick", "steps": 5, "pause": 0.2}).id,
            app.enqueue("demo.report", {"title": "quarterly", "steps": 20, "pause": 0.2}).id,
            app.enqueue("demo.export", {"rows": 3000}).id,
            app.enqueue("demo.report", {"title": "annual", "steps": 40, "pause": 0.15}, priority=5).id,
            app.enqueue("demo.flaky", {"service": "billing-api"}).id,
            app.enqueue("demo.report", {"title": "later", "steps": 5}, delay=3).id,
        ]
        with Live(_table([app.get(i) for i in ids]), console=console, refresh_per_second=8) as live:
            while True:
                jobs = [app.get(i) for i in ids]
                live.update(Group(_table(jobs)))
                if all(j.finished for j in jobs) or worker.poll() is not None:
                    break
                time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    command = Path(sys.executable).parent / "errands"
    cli = str(command) if command.exists() else "errands"
    console.print(f"\nTry: [bold]{cli} status {ids[4]} --url {url}[/bold]\n     [bold]{cli} list --url {url}[/bold]")


COMMANDS = [demo]
