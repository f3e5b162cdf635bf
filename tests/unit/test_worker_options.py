"""The worker options are defined once (worker.config.COMMAND_OPTIONS) and every worker command offers them."""

from __future__ import annotations

from argparse import ArgumentParser

import pytest

from errands.cli.worker import worker as errands_worker
from errands.integrations.flask import worker_command as flask_worker
from errands.worker.config import COMMAND_OPTIONS, WorkerConfig, config_from_options

FLAGS = {option.flag for option in COMMAND_OPTIONS}


def click_flags(command: object) -> set[str]:
    return {flag for param in command.params for flag in param.opts}  # type: ignore[attr-defined]


def test_errands_worker_and_flask_worker_offer_every_option() -> None:
    assert FLAGS <= click_flags(errands_worker)
    assert FLAGS <= click_flags(flask_worker)


def test_django_command_offers_every_option() -> None:
    pytest.importorskip("django")
    from errands.integrations.django.management.commands.errands_worker import Command

    parser = ArgumentParser()
    Command().add_arguments(parser)
    flags = {flag for action in parser._actions for flag in action.option_strings}
    assert FLAGS <= flags
    defaults = vars(parser.parse_args([]))
    assert config_from_options(**{o.name: defaults[o.name] for o in COMMAND_OPTIONS}) == WorkerConfig()


def test_options_become_a_config() -> None:
    config = config_from_options(queues=" a, b ,", concurrency=3, burst=True, grace=1.5, maintenance_interval=0.5)
    assert config == WorkerConfig(queues=("a", "b"), concurrency=3, burst=True, grace=1.5, maintenance_interval=0.5)


def test_a_value_below_its_minimum_names_the_flag() -> None:
    with pytest.raises(ValueError, match="--concurrency must be at least 1"):
        config_from_options(queues="", concurrency=0, burst=False, grace=1.0, maintenance_interval=1.0)
