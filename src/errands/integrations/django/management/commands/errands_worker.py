"""`manage.py errands_worker`: run an errands worker for the project, like `errands worker`,
with Django set up (models, settings, Django tasks). Graceful on SIGTERM and SIGINT."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ....foreground import run_worker, worker_config
from ... import get_app


class Command(BaseCommand):
    help = (
        "Run errands jobs for this project (the app settings.ERRANDS names, and Django tasks sent to "
        "errands' backend). SIGTERM/SIGINT stop it gracefully; a second signal releases running jobs at once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--queues", default="", help="Comma-separated queues to serve; default all.")
        parser.add_argument("--concurrency", "-c", type=int, default=10, help="Jobs running at once (default 10).")
        parser.add_argument("--burst", action="store_true", help="Exit when nothing is ready or running.")
        parser.add_argument("--grace", type=float, default=25.0,
                            help="Seconds running jobs get to finish at shutdown before release (default 25).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = worker_config(options["queues"], options["concurrency"], options["burst"], options["grace"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        run_worker(get_app(), config)
