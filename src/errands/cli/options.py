"""Click options shared by `errands worker` and `flask errands worker`: made from worker.config's
COMMAND_OPTIONS, so the flags, defaults and help are written once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..worker.config import COMMAND_OPTIONS, CommandOption

F = Callable[..., Any]


def _click_option(option: CommandOption) -> Callable[[F], F]:
    if option.kind is bool:
        return click.option(*option.flags, is_flag=True, help=option.help)
    kind: Any = option.kind
    if option.minimum is not None:
        kind = click.IntRange(int(option.minimum)) if option.kind is int else click.FloatRange(option.minimum)
    return click.option(*option.flags, type=kind, default=option.default, show_default=bool(option.default),
                        help=option.help)


def worker_options(command: F) -> F:
    """Add every worker option to a click command; it receives them as keyword arguments."""
    for option in reversed(COMMAND_OPTIONS):
        command = _click_option(option)(command)
    return command
