"""Finding the user's app from `--app module:attr` (as uvicorn does) or a bare store URL."""

from __future__ import annotations

import importlib
import math
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..app import Errands
from ..errors import ConfigError
from ..stores import require_existing

F = TypeVar("F", bound=Callable[..., Any])


def load_app(reference: str, what: str = "--app") -> Errands:
    """`module:attr` (or `module.attr`) -> the Errands app it names, imported from the working
    folder too; ConfigError in one line, prefixed with `what`, when it cannot be had."""
    module_name, sep, attr = reference.partition(":")
    if not sep:
        module_name, _, attr = reference.rpartition(".")
    if not module_name or not attr:
        raise ConfigError(f"{what} {reference!r}: use module:attribute, e.g. myproject.jobs:app")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{what} {reference!r}: cannot import {module_name!r}: {exc}") from None
    except Exception as exc:  # the user's module failed while it ran: say where, in one line
        raise ConfigError(f"{what} {reference!r}: importing {module_name!r} failed: {describe_failure(exc)}") from None
    app = getattr(module, attr, None)
    if not isinstance(app, Errands):
        raise ConfigError(f"{what} {reference!r}: {module_name}.{attr} is not an Errands app")
    return app


def describe_failure(exc: Exception) -> str:
    """`SyntaxError: invalid syntax (jobs.py, line 3)` or `ValueError: bad at jobs.py:7`."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


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


def resolve(app_ref: str | None, url: str | None, *, need_tasks: bool = False, create: bool | None = None) -> Errands:
    """The app a command works on. Only commands that write jobs (those needing tasks, by
    default) or `create` may create a store; the others refuse one that does not exist,
    so `errands status 6` in the wrong folder does not leave an empty database behind."""
    if app_ref:
        app = load_app(app_ref)
        if url and url != app.url:  # the app was built for its own store: never write elsewhere silently
            raise ConfigError(f"--url {url!r} differs from the store of --app {app_ref!r} ({app.url!r}); "
                              "pass one of them, or build the app with Errands(url)")
    elif need_tasks:
        raise ConfigError("this command needs your tasks: pass --app module:attr (or set ERRANDS_APP)")
    else:
        app = Errands(url)
    if not (need_tasks if create is None else create):
        require_existing(app.url)
    return app


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
    if not math.isfinite(seconds):
        raise ConfigError(f"{text!r} is not a duration: use a finite number, e.g. 90s, 15m, 12h, 7d")
    return seconds
