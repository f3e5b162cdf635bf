"""The `errands` command: a click group whose commands live in the modules beside this one.

Every ErrandsError becomes one line on standard error and a non-zero exit code,
never a traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from ..errors import ConfigError, ErrandsError, JobNotFound, ScheduleNotFound


class Failure(click.ClickException):
    """An ErrandsError shown as one line; exit 1 (3: no such job, 2: bad configuration)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class NotFoundFailure(Failure):
    exit_code = 3


class ConfigFailure(Failure):
    exit_code = 2


# Each command's module, imported when the command runs: `errands worker` then loads neither the web
# stack (Starlette, uvicorn, templates) nor rich's tables and croniter (a worker process starts
# about a fifth of a second sooner). tests/cli checks this table against each module's COMMANDS.
COMMAND_MODULES = {
    "enqueue": "jobs", "status": "jobs", "list": "jobs", "cancel": "jobs", "retry": "jobs", "purge": "jobs",
    "migrate": "jobs", "watch": "watch", "worker": "worker", "serve": "serve", "demo": "demo",
    "schedules": "schedules", "queues": "queues", "pause": "queues", "resume": "queues",
}


class Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (JobNotFound, ScheduleNotFound) as exc:
            raise NotFoundFailure(str(exc)) from None
        except ConfigError as exc:
            raise ConfigFailure(str(exc)) from None
        except ErrandsError as exc:
            raise Failure(str(exc)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMAND_MODULES and cmd_name not in self.commands:
            module = importlib.import_module(f"{__name__}.{COMMAND_MODULES[cmd_name]}")
            for command in module.COMMANDS:
                self.add_command(command)
        return super().get_command(ctx, cmd_name)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="errands")
def main() -> None:
    """errands: durable background jobs. Point it at your app with --app module:attr
    (or ERRANDS_APP), or at a store with --url (or ERRANDS_URL)."""
