"""`errands schedules`: list the stored schedules of periodic jobs; pause, resume or remove one."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ..schedules import Schedule
from .loading import app_options, resolve


def show(schedules: list[Schedule], console: Console) -> None:
    if not schedules:
        console.print("no schedules (add one with @app.periodic or app.schedule)")
        return
    table = Table("name", "task", "when", "next fire (UTC)", "state", "last job", box=None)
    for s in schedules:
        nxt = "-" if s.next_fire is None else s.next_fire.strftime("%Y-%m-%d %H:%M:%S")
        state = "[yellow]paused[/yellow]" if s.paused else "active"
        table.add_row(s.name, s.task, s.timing.describe(), nxt, state, str(s.last_job_id or "-"))
    console.print(table)


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the schedules as JSON.")
@app_options
@click.pass_context
def schedules(ctx: click.Context, as_json: bool, app_ref: str | None, url: str | None) -> None:
    """List the schedules of periodic jobs (with their next fire time); pause, resume or remove one."""
    ctx.obj = (app_ref, url)
    if ctx.invoked_subcommand is not None:
        return
    found = resolve(app_ref, url).schedules()
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in found], indent=2))
    else:
        show(found, Console())


def _change(action: str, help_text: str) -> click.Command:
    @click.command(action, help=help_text)
    @click.argument("name")
    @app_options
    @click.pass_context
    def command(ctx: click.Context, name: str, app_ref: str | None, url: str | None) -> None:
        outer_app, outer_url = ctx.obj or (None, None)
        app = resolve(app_ref or outer_app, url or outer_url)
        changed: Any = getattr(app, f"{action}_schedule")(name)
        click.echo(f"schedule {changed.name} {'removed' if action == 'remove' else changed.timing.describe()}"
                   f"{' (paused)' if action != 'remove' and changed.paused else ''}")

    return command


schedules.add_command(_change("pause", "Stop firing schedule NAME (jobs already stored still run)."))
schedules.add_command(_change("resume", "Fire schedule NAME again, from its next fire time on."))
schedules.add_command(_change("remove", "Forget schedule NAME (an @app.periodic one returns when its app starts)."))

COMMANDS = [schedules]
