"""Django: add "errands.integrations.django" to INSTALLED_APPS and configure `settings.ERRANDS`.

Here: `DjangoErrands` (an errands app configured from those settings) and `get_app` (the
project's app). Beside it: `asgi.with_errands_api` (the HTTP API in asgi.py), the management
command `errands_worker`, and `backend.ErrandsBackend` for Django's Tasks framework.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import close_old_connections

from ...app import Errands
from ...cli.loading import load_app as cli_load_app
from ...errors import ConfigError
from ...settings import Settings
from ..wrapping import F, WrappingErrands, run_inside
from .conf import errands_settings


class DjangoErrands(WrappingErrands):
    """An `Errands` app configured from `settings.ERRANDS`: URL (the store), SECRET (follow tokens;
    default derived from SECRET_KEY), TOKEN (admin access to the API from other hosts), PREFIX
    (where the API is mounted, default /errands) and errands' limits (LEASE, KEEP_FAILED, ...).

    Plain (not async) tasks run as Django runs a request: stale database connections are
    closed before and after each run, so a long-lived worker thread never reuses a dead one."""

    def __init__(self, url: str | None = None, *, settings: Settings | None = None) -> None:
        conf = errands_settings()
        super().__init__(url or conf.url, settings=settings or conf.settings)
        self.conf = conf

    @property
    def secret(self) -> bytes:
        return self.conf.secret or super().secret

    def wrap(self, fn: F) -> F:
        """Plain tasks run with fresh database connections. Async tasks are left as they are:
        they run on the worker's event loop, where Django refuses synchronous connection handling."""
        return fn if inspect.iscoroutinefunction(fn) else run_inside(fn, fresh_connections)

    def follow_url(self, job_id: int, base_url: str | None = None, ttl: float = 86400) -> str:
        """As `Errands.follow_url`, under ERRANDS["PREFIX"] unless `base_url` is given."""
        return super().follow_url(job_id, self.conf.prefix if base_url is None else base_url, ttl)


@contextmanager
def fresh_connections() -> Iterator[None]:
    """What Django does around each request: drop connections that broke or outlived CONN_MAX_AGE."""
    close_old_connections()
    try:
        yield
    finally:
        close_old_connections()


class ProjectApp:
    """The project's errands app, found once per process and forgotten when ERRANDS changes
    (as `override_settings` does in tests)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # an APP module that calls get_app() gets an error, not a deadlock
        self._app: Errands | None = None
        self._made_here = False

    def get(self) -> Errands:
        with self._lock:
            if self._app is None:
                reference = errands_settings().app
                self._app = load_app(reference) if reference else DjangoErrands()
                self._made_here = not reference
                install_django_tasks(self._app)
            return self._app

    def forget(self, **kwargs: Any) -> None:
        if kwargs.get("setting") != "ERRANDS":
            return
        with self._lock:
            if self._app is not None and self._made_here:
                self._app.close()  # ours alone; a project's own app is the project's to close
            self._app = None


def load_app(reference: str) -> Errands:
    """`module:attr` or `module.attr` -> the Errands app it names, as `errands --app` finds it."""
    try:
        return cli_load_app(reference, what='settings.ERRANDS["APP"] =')
    except ConfigError as exc:
        raise ImproperlyConfigured(str(exc)) from None


def install_django_tasks(app: Errands) -> None:
    """Let `app` run Django tasks (`backend.ErrandsBackend`) when a Tasks framework is installed:
    every process holding the project's app, web or worker, then knows their errands task."""
    try:  # imported here: the backend needs django.tasks or django-tasks, which are optional
        from .backend import install_runner
    except ImportError:
        return
    install_runner(app)


project_app = ProjectApp()
setting_changed.connect(project_app.forget, dispatch_uid="errands.integrations.django")


def get_app() -> Errands:
    """The project's errands app: the one settings.ERRANDS["APP"] names ("myproject.jobs:jobs"),
    else a `DjangoErrands` made from settings.ERRANDS, shared by this process."""
    return project_app.get()


__all__ = ["DjangoErrands", "get_app"]
