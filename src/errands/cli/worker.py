"""`errands worker`: run a worker in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import gc
from typing import Any

import click

from ..worker import logs
from ..worker.config import config_from_options
from ..worker.signals import stop_on_signals
from .loading import load_app, required_app_option
from .options import worker_options


@click.command()
@required_app_option
@worker_options
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True
)
def worker(app_ref: str, log_level: str, **options: Any) -> None:
    """Run jobs. SIGTERM/SIGINT stop it gracefully; a second signal releases running jobs at once."""
    logs.configure(log_level.upper())
    app = load_app(app_ref)
    try:
        config = config_from_options(**options)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    runner = app.worker(config)
    # The app and everything it imported live as long as the process: keep them out of every
    # collection, and out of the interpreter's last ones at exit (about 0.1 s here).
    gc.freeze()
    with stop_on_signals(runner):
        runner.run()


COMMANDS = [worker]
