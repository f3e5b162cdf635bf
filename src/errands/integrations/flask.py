"""Flask: `FlaskErrands`, an errands app configured from a Flask app's config (`init_app`), whose
tasks run inside that Flask app's context; `flask errands worker`; and `serve_with_api`, one ASGI
app serving the Flask app and the errands HTTP API beside it (run it with uvicorn).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any, cast

import click
from a2wsgi import WSGIMiddleware
from flask import Flask, current_app
from flask.cli import AppGroup
from starlette.applications import Starlette
from starlette.types import ASGIApp

from ..cli.options import worker_options
from ..settings import Settings
from ..worker import WorkerConfig
from ..worker.config import config_from_options
from .config import follow_secret, settings_from
from .foreground import run_worker
from .starlette import DEFAULT_PREFIX, serve_beside
from .wrapping import F, WrappingErrands, run_inside

EXTENSION = "errands"


class FlaskErrands(WrappingErrands):
    """An `Errands` app attached to a Flask app: `jobs = FlaskErrands(); jobs.init_app(app)`.

    `init_app` reads the app's config: ERRANDS_URL (the store), ERRANDS_SECRET (follow tokens;
    default derived from SECRET_KEY), ERRANDS_TOKEN (admin access to the API from other hosts),
    ERRANDS_PREFIX (where the API is served, default /errands), and the ERRANDS_<SETTING> limits.
    Arguments given here win over the config, the config over the environment. Tasks run inside
    the app context of the last Flask app attached, so they can use `current_app` and extensions."""

    def __init__(self, app: Flask | None = None, *, url: str | None = None, settings: Settings | None = None) -> None:
        super().__init__(url, settings=settings)
        self._explicit = (url, settings)
        self.flask_app: Flask | None = None
        self.prefix = DEFAULT_PREFIX
        self._derived_secret: bytes | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Configure from `app.config` and register the extension and `flask errands worker`.
        Call it before the first job is enqueued: the store opens with the URL known then."""
        config = app.config
        url, settings = self._explicit
        new_url = url or config.get("ERRANDS_URL") or self.url
        if new_url != self.url:
            self.close()  # a store opened early with the old URL must not be used
            self.url = new_url
        self.settings = settings or settings_from(config)
        self._derived_secret = follow_secret(config.get("ERRANDS_SECRET"), config.get("SECRET_KEY"))
        self.prefix = config.get("ERRANDS_PREFIX", DEFAULT_PREFIX)
        self.flask_app = app
        app.extensions[EXTENSION] = self
        app.cli.add_command(errands_group)

    @property
    def secret(self) -> bytes:
        return self._derived_secret or super().secret

    def wrap(self, fn: F) -> F:
        """Every run happens inside the Flask app context."""
        return run_inside(fn, self._app_context)

    def _app_context(self) -> AbstractContextManager[object]:
        # Looked up at run time: in the factory pattern tasks are defined before any app exists.
        return nullcontext() if self.flask_app is None else self.flask_app.app_context()

    def follow_url(self, job_id: int, base_url: str | None = None, ttl: float = 86400) -> str:
        """As `Errands.follow_url`, under ERRANDS_PREFIX unless `base_url` is given."""
        return super().follow_url(job_id, self.prefix if base_url is None else base_url, ttl)


def extension(app: Flask) -> FlaskErrands:
    found = app.extensions.get(EXTENSION)
    if not isinstance(found, FlaskErrands):
        raise RuntimeError(f"errands is not attached to Flask app {app.name!r}: call jobs.init_app(app) first")
    return found


def serve_with_api(app: Flask, *, worker: WorkerConfig | None = None, **options: Any) -> Starlette:
    """One ASGI app serving the Flask app and, under ERRANDS_PREFIX, the errands HTTP API (with
    its live event streams). Run it with uvicorn: `uvicorn myapp:asgi`. With `worker`, a worker
    runs in the same process. Options are those of `errands.web.create_app`."""
    jobs = extension(app)
    return serve_beside(as_asgi(app), jobs, prefix=jobs.prefix, worker=worker, **options)


def as_asgi(app: Flask) -> ASGIApp:
    """The Flask app as an ASGI app; each request runs in a2wsgi's thread pool."""
    # a2wsgi declares WSGI and ASGI with TypedDicts of its own, which the standard
    # (wsgiref, Starlette) callable types do not match although the protocols are the same.
    return cast(ASGIApp, WSGIMiddleware(cast(Any, app.wsgi_app)))


errands_group = AppGroup("errands", help="Run errands jobs for this app.")


@errands_group.command("worker")
@worker_options
def worker_command(**options: Any) -> None:
    """Run jobs with this app's config and context. SIGTERM/SIGINT stop it gracefully."""
    try:
        config = config_from_options(**options)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    run_worker(extension(current_app), config)


__all__ = ["FlaskErrands", "serve_with_api"]
