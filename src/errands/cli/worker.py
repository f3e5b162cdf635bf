"""`errands worker`: run a worker in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import logging

import click

from ..worker import WorkerConfig
from ..worker.signals import stop_on_signals
from .loading import load_app, required_app_option


@click.command()
@required_app_option
@click.option("--queues", default="", help="Comma-separated queues to serve; default all.")
@click.option(
    "--concurrency", "-c", type=click.IntRange(1, 1000), default=10, show_default=True, help="Jobs running at once."
)
@click.option("--burst", is_flag=True, help="Exit when nothing is ready or running and no failed job awaits a retry.")
@click.option(
    "--grace",
    type=click.FloatRange(0),
    default=25.0,
    show_default=True,
    help="Seconds running jobs get to finish at shutdown before they are released.",
)
@click.option(
    "--maintenance-interval",
    type=click.FloatRange(0.05),
    default=5.0,
    show_default=True,
    help="Seconds between rescue/promotion rounds; a dead worker's jobs are rescued within lease + this.",
)
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True
)
def worker(
    app_ref: str,
    queues: str,
    concurrency: int,
    burst: bool,
    grace: float,
    maintenance_interval: float,
    log_level: str,
) -> None:
    """Run jobs. SIGTERM/SIGINT stop it gracefully; a second signal releases running jobs at once."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    app = load_app(app_ref)
    config = WorkerConfig(
        queues=tuple(q.strip() for q in queues.split(",") if q.strip()),
        concurrency=concurrency,
        burst=burst,
        grace=grace,
        maintenance_interval=maintenance_interval,
    )
    runner = app.worker(config)
    with stop_on_signals(runner):
        runner.run()


COMMANDS = [worker]
