"""Finding the user's app from `--app module:attr` (as uvicorn does) or a bare store URL."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..app import Errands
from ..errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def load_app(reference: str) -> Errands:
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"--app {reference!r}: use module:attribute, e.g. myproject.jobs:app")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--app {reference!r}: cannot import {module_name!r}: {exc}") from None
    app = getattr(module, attr, None)
    if not isinstance(app, Errands):
        raise ConfigError(f"--app {reference!r}: {module_name}.{attr} is not an Errands app")
    return app


def app_options(fn: F) -> F:
    """Adds --app and --url; the command receives `app`."""
    fn = click.option("--url", envvar="ERRANDS_URL", help="Store URL (default sqlite:///errands.db).")(fn)
    fn = click.option(
        "--app",
        "app_ref",
        envvar="ERRANDS_APP",
        metavar="MODULE:ATTR",
        help="Your Errands app, e.g. myproject.jobs:app.",
    )(fn)
    return fn


def required_app_option(fn: F) -> F:
    """--app for commands that run the user's tasks (worker, serve)."""
    option = click.option("--app", "app_ref", envvar="ERRANDS_APP", required=True, metavar="MODULE:ATTR",
                          help="Your Errands app, e.g. myproject.jobs:app (or ERRANDS_APP).")
    return option(fn)


def resolve(app_ref: str | None, url: str | None, *, need_tasks: bool = False) -> Errands:
    if app_ref:
        return load_app(app_ref)
    if need_tasks:
        raise ConfigError("this command needs your tasks: pass --app module:attr (or set ERRANDS_APP)")
    return Errands(url)


def parse_duration(text: str) -> float:
    """'90' or '90s', '15m', '12h', '7d', '2w' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    value, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        seconds = float(value) * units[unit]
    except ValueError:
        raise ConfigError(f"{text!r} is not a duration: use e.g. 90s, 15m, 12h, 7d") from None
    if seconds < 0:
        raise ConfigError(f"{text!r}: a duration cannot be negative")
    return seconds
