"""The errands HTTP API in a Django project's asgi.py, beside Django itself:

    application = with_errands_api(get_asgi_application())
"""

from __future__ import annotations

from typing import Any, cast

from django.core.handlers.asgi import ASGIHandler
from starlette.applications import Starlette
from starlette.types import ASGIApp

from ...app import Errands
from ...worker import WorkerConfig
from ..starlette import serve_beside
from . import get_app
from .conf import errands_settings


def with_errands_api(
    django_app: ASGIHandler | ASGIApp,
    *,
    errands: Errands | None = None,
    worker: WorkerConfig | None = None,
    **options: Any,
) -> Starlette:
    """One ASGI app: the errands API under settings.ERRANDS["PREFIX"] (default /errands), every
    other request to Django. `errands` defaults to the project's app (`get_app`). With `worker`,
    a worker also runs in this process while it is served (small deployments; otherwise run
    `manage.py errands_worker`). Options are those of `errands.web.create_app`; the API token
    defaults to settings.ERRANDS["TOKEN"]. Call it after `get_asgi_application()`, which sets Django up."""
    conf = errands_settings()
    options.setdefault("token", conf.token)
    # Django types ASGI messages as plain dicts and mappings, Starlette as its own aliases:
    # the protocol is the same.
    app = cast(ASGIApp, django_app)
    return serve_beside(app, errands or get_app(), prefix=conf.prefix, worker=worker, **options)
