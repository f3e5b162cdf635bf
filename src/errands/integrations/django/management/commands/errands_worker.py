"""`manage.py errands_worker`: run an errands worker for the project, like `errands worker`,
with Django set up (models, settings, Django tasks). Graceful on SIGTERM and SIGINT."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from .....worker.config import COMMAND_OPTIONS, config_from_options
from ....foreground import run_worker
from ... import get_app


class Command(BaseCommand):
    help = (
        "Run errands jobs for this project (the app settings.ERRANDS names, and Django tasks sent to "
        "errands' backend). SIGTERM/SIGINT stop it gracefully; a second signal releases running jobs at once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        for option in COMMAND_OPTIONS:
            if option.kind is bool:
                parser.add_argument(*option.flags, action="store_true", help=option.help)
            else:
                parser.add_argument(*option.flags, type=option.kind, default=option.default,
                                    help=f"{option.help} (default {option.default})")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = config_from_options(**{option.name: options[option.name] for option in COMMAND_OPTIONS})
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        run_worker(get_app(), config)
