"""`errands serve`: the HTTP API (and optionally a worker) in one process, with uvicorn."""

from __future__ import annotations

import logging
import signal

import click
import uvicorn

from ..web import create_app
from ..worker import WorkerConfig
from .loading import load_app, required_app_option


@click.command()
@required_app_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; anything but loopback needs ERRANDS_TOKEN for admin calls.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--with-worker", is_flag=True, help="Also run a worker in this process (small deployments).")
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="The embedded worker's concurrency.",
)
def serve(app_ref: str, host: str, port: int, with_worker: bool, concurrency: int) -> None:
    """Serve the HTTP API; with --with-worker, run jobs too. Stops gracefully on SIGTERM."""
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    errands = load_app(app_ref)
    asgi = create_app(errands)
    worker = errands.start_worker(WorkerConfig(concurrency=concurrency)) if with_worker else None
    # uvicorn handles SIGTERM/SIGINT itself, then raises the signal again once it has shut
    # down; a no-op handler underneath lets this process stop its worker and exit 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: None)
    try:
        uvicorn.run(asgi, host=host, port=port, log_level="info")
    finally:
        if worker is not None:
            worker.stop()


COMMANDS = [serve]
