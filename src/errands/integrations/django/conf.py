"""`settings.ERRANDS`, read and checked: the store URL, where the project's errands app lives,
the follow-token secret, the API token and prefix, and errands' own limits.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ...settings import Settings
from ..config import follow_secret, settings_from
from ..starlette import DEFAULT_PREFIX

OWN_KEYS = {"URL", "APP", "SECRET", "TOKEN", "PREFIX"}
SETTING_KEYS = {field.name.upper() for field in fields(Settings)}


@dataclass(frozen=True)
class ErrandsSettings:
    url: str | None  # None: ERRANDS_URL or the default SQLite file
    app: str | None  # "myproject.jobs:jobs", the project's own Errands app
    secret: bytes | None  # None: ERRANDS_SECRET, or a per-process secret
    token: str | None
    prefix: str
    settings: Settings


def errands_settings() -> ErrandsSettings:
    """`settings.ERRANDS` (a dict, optional) as values; ImproperlyConfigured on unknown keys."""
    raw: dict[str, Any] = dict(getattr(settings, "ERRANDS", None) or {})
    unknown = set(raw) - OWN_KEYS - SETTING_KEYS
    if unknown:
        known = ", ".join(sorted(OWN_KEYS | SETTING_KEYS))
        raise ImproperlyConfigured(f"settings.ERRANDS: unknown keys {sorted(unknown)}; known keys: {known}")
    limits = {f"ERRANDS_{key}": value for key, value in raw.items() if key in SETTING_KEYS | {"TOKEN"}}
    return ErrandsSettings(
        url=raw.get("URL"),
        app=raw.get("APP"),
        secret=follow_secret(raw.get("SECRET"), getattr(settings, "SECRET_KEY", None)),
        token=raw.get("TOKEN"),
        prefix=raw.get("PREFIX", DEFAULT_PREFIX),
        settings=settings_from(limits),
    )
