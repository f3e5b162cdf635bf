"""The `errands` command: a click group whose commands live in the modules beside this one.

Every ErrandsError becomes one line on standard error and a non-zero exit code,
never a traceback.
"""

from __future__ import annotations

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


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="errands")
def main() -> None:
    """errands: durable background jobs. Point it at your app with --app module:attr
    (or ERRANDS_APP), or at a store with --url (or ERRANDS_URL)."""


def _register() -> None:
    from . import demo, jobs, queues, schedules, serve, watch, worker

    for module in (jobs, watch, worker, serve, demo, schedules, queues):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
