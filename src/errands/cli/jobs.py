"""Commands that produce, read and control jobs: enqueue, status, list, cancel, retry, purge, migrate."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from ..errors import BadArguments
from ..job import FINISHED, Job, State
from ..options import EnqueueOptions
from ..stores import open_store
from .loading import app_options, parse_duration, resolve

F = TypeVar("F", bound=Callable[..., Any])
STATE_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "queued": "white",
    "scheduled": "magenta",
}


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def enqueue_options(command: F) -> F:
    """--queue, --priority, --delay, --unique-key, --unique, --after: the plain-valued fields of
    EnqueueOptions (a choice for a literal), with their help; the app checks their ranges."""
    for name, field in reversed(EnqueueOptions.model_fields.items()):
        kind: Any = next((t for t in typing.get_args(field.annotation) if t in (str, int, float)), None)
        choices = [c for t in typing.get_args(field.annotation) for c in typing.get_args(t) if isinstance(c, str)]
        kind = click.Choice(choices) if choices else kind
        if kind is not None:
            flag = f"--{name.replace('_', '-')}"
            command = click.option(flag, name, type=kind, default=None, help=field.description)(command)
    return command


@click.command()
@click.argument("task")
@click.option(
    "--args", "args_json", default="{}", metavar="JSON", help="Arguments as a JSON object, e.g. '{\"n\": 5}'."
)
@enqueue_options
@app_options
def enqueue(task: str, args_json: str, app_ref: str | None, url: str | None, **options: Any) -> None:
    """Enqueue TASK; prints the new job's id alone on standard output."""
    try:
        args = json.loads(args_json)
    except json.JSONDecodeError as exc:
        raise BadArguments(f"--args is not valid JSON ({exc.msg} at position {exc.pos}): {args_json!r}") from None
    if not isinstance(args, dict):
        raise BadArguments(f"--args must be a JSON object of named arguments, not {type(args).__name__}")
    app = resolve(app_ref, url, need_tasks=True)
    job = app.enqueue(task, args, **options)
    click.echo(job.id)


def describe(job: Job, console: Console) -> None:
    style = STATE_STYLE.get(job.state.value, "")
    console.print(f"[bold]job {job.id}[/bold]  {job.task}  [{style}]{job.state.value}[/{style}]")
    rows = [
        ("queue", f"{job.queue} (priority {job.priority})"),
        ("attempt", f"{job.attempt} of {job.max_attempts}"),
        ("args", json.dumps(job.args)),
        ("created", str(job.created_at)),
        ("started", str(job.started_at or "-")),
        ("finished", str(job.finished_at or "-")),
    ]
    p = job.progress
    if p.current is not None:
        total = f" / {p.total:g}" if p.total else ""
        rows.append(("progress", f"{p.current:g}{total}  {p.message or ''}".rstrip()))
    if job.state is State.SUCCEEDED:
        rows.append(("result", json.dumps(job.result)))
    if job.cancel_requested and not job.finished:
        rows.append(("cancel", "requested; the worker will stop it"))
    for name, value in rows:
        console.print(f"  {name:<9} {value}", highlight=False, markup=False)
    if job.error:
        console.print(f"  [red]error     {job.error.type}: {job.error.message}[/red]", highlight=False)
        if job.error.traceback:
            console.print(job.error.traceback.rstrip(), highlight=False, markup=False)


@click.command()
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@app_options
def status(job_id: int, as_json: bool, app_ref: str | None, url: str | None) -> None:
    """Show a job: state, progress, result or error, and its log lines."""
    app = resolve(app_ref, url)
    job = app.get(job_id)
    logs = [e for e in app.events(job_id) if e.kind == "log"]
    waiting = None  # e.g. no live worker knows its task: it waits, it does not fail
    if job.state in (State.QUEUED, State.SCHEDULED):
        waiting = app.store.waiting_reason(job)
    if as_json:
        extra = {} if waiting is None else {"waiting_reason": waiting}
        echo_json(job.to_dict() | extra | {"logs": [{"at": e.at.isoformat(), **(e.data or {})} for e in logs]})
        return
    console = Console()
    describe(job, console)
    if waiting is not None:
        console.print(f"  waiting   {waiting}", style="yellow", highlight=False, markup=False)
    for event in logs[-20:]:
        console.print(
            f"  log       {event.at:%H:%M:%S} {(event.data or {}).get('message', '')}", highlight=False, markup=False
        )


@click.command("list")
@click.option("--state", type=click.Choice([s.value for s in State]))
@click.option("--task")
@click.option("--queue")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--cursor", type=int, help="Show jobs older than this id (the last id of the previous page).")
@click.option("--json", "as_json", is_flag=True)
@app_options
def list_jobs(
    state: str | None,
    task: str | None,
    queue: str | None,
    limit: int,
    cursor: int | None,
    as_json: bool,
    app_ref: str | None,
    url: str | None,
) -> None:
    """List jobs, newest first."""
    app = resolve(app_ref, url)
    jobs = app.list_jobs(state=state, task=task, queue=queue, limit=limit, cursor=cursor)
    if as_json:
        echo_json({"jobs": [j.to_dict() for j in jobs], "next_cursor": jobs[-1].id if len(jobs) == limit else None})
        return
    table = Table("id", "task", "queue", "state", "attempt", "progress", "created")
    for j in jobs:
        fraction = j.progress.fraction
        style = STATE_STYLE.get(j.state.value, "")
        table.add_row(
            str(j.id),
            j.task,
            j.queue,
            f"[{style}]{j.state.value}[/{style}]",
            f"{j.attempt}/{j.max_attempts}",
            "" if fraction is None else f"{fraction:.0%}",
            f"{j.created_at:%Y-%m-%d %H:%M:%S}",
        )
    Console().print(table)


@click.command()
@click.argument("job_id", type=int)
@app_options
def cancel(job_id: int, app_ref: str | None, url: str | None) -> None:
    """Cancel a job: at once if it waits, at its worker's next check if it runs."""
    app = resolve(app_ref, url)
    before = app.get(job_id)
    if before.finished:
        click.echo(f"job {job_id} already {before.state.value}; nothing to cancel")
        return
    job = app.cancel(job_id)
    if job.state is State.CANCELLED:
        click.echo(f"job {job_id} cancelled")
    elif job.cancel_requested:
        click.echo(f"job {job_id} is running; cancel requested, its worker will stop it")
    else:
        click.echo(f"job {job_id} is {job.state.value}; it finished before the cancel arrived")


@click.command()
@click.argument("job_id", type=int)
@app_options
def retry(job_id: int, app_ref: str | None, url: str | None) -> None:
    """Queue a failed or cancelled job again (it resumes from its checkpoint)."""
    resolve(app_ref, url).retry(job_id)
    click.echo(f"job {job_id} queued again")


@click.command()
@click.option("--older-than", required=True, metavar="AGE", help="e.g. 7d, 12h, 30m.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["succeeded", "failed", "cancelled"]),
    help="Only these states (repeatable); default all finished states.",
)
@app_options
def purge(older_than: str, states: tuple[str, ...], app_ref: str | None, url: str | None) -> None:
    """Delete finished jobs (with their history and files) older than AGE."""
    app = resolve(app_ref, url)
    chosen = [State(s) for s in states] or sorted(FINISHED)
    removed = app.purge(parse_duration(older_than), chosen)
    click.echo(f"purged {removed} job(s)")


@click.command()
@app_options
def migrate(app_ref: str | None, url: str | None) -> None:
    """Create or upgrade the store's tables."""
    store = open_store(resolve(app_ref, url, create=True).url, migrate=False)
    applied = store.migrate()
    store.close()
    click.echo(f"applied migration(s) {applied}" if applied else "schema is up to date")


COMMANDS = [enqueue, status, list_jobs, cancel, retry, purge, migrate]
