"""`errands queues`, `errands pause QUEUE`, `errands resume QUEUE`: the flow control of queues and
tasks as stored (limits, running jobs, recent starts, pauses), and pausing a queue."""

from __future__ import annotations

import json
import time

import click
from rich.console import Console
from rich.table import Table

from ..stores.flow import Flow
from .loading import app_options, resolve


def show(flows: list[Flow], console: Console) -> None:
    if not flows:
        console.print("no limits or pauses (declare them with app.queue(...) or @app.task(concurrency=, rate=))")
        return
    table = Table("kind", "name", "running / limit", "rate (recent starts)", "paused", box=None)
    for f in flows:
        limit = "-" if f.concurrency is None else f"{f.running} / {f.concurrency}"
        rate = "-" if f.rate is None else f"{f.rate} ({f.recent})"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(f.paused_at or 0))
        paused = f"[yellow]by {f.paused_by} at {when} UTC[/yellow]" if f.paused else "no"
        table.add_row(f.kind, f.name, limit, rate, paused)
    console.print(table)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
@app_options
def queues(as_json: bool, app_ref: str | None, url: str | None) -> None:
    """List the queues and tasks with a concurrency limit, a rate limit or a pause."""
    flows = resolve(app_ref, url).store.flows()
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in flows], indent=2))
    else:
        show(flows, Console())


@click.command()
@click.argument("queue")
@click.option("--by", default=None, help="Who pauses it (default: user@host).")
@app_options
def pause(queue: str, by: str | None, app_ref: str | None, url: str | None) -> None:
    """Stop every worker claiming jobs of QUEUE (running jobs finish; stored, so workers started later see it)."""
    flow = resolve(app_ref, url).pause(queue, by)
    click.echo(f"queue {flow.name} paused by {flow.paused_by}")


@click.command()
@click.argument("queue")
@click.option("--by", default=None, help="Who resumes it (default: user@host).")
@app_options
def resume(queue: str, by: str | None, app_ref: str | None, url: str | None) -> None:
    """Let workers claim jobs of a paused QUEUE again."""
    flow = resolve(app_ref, url).resume(queue, by)
    click.echo(f"queue {flow.name} resumed")


COMMANDS = [queues, pause, resume]
