"""Configuration shared by the framework integrations: errands settings read from a framework's
config, and the follow-token secret derived from the framework's SECRET_KEY.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

from ..settings import Settings


def settings_from(values: Mapping[str, Any]) -> Settings:
    """Settings from `ERRANDS_<FIELD>` keys (ERRANDS_LEASE, ERRANDS_KEEP_FAILED, ...) of a
    framework's config, over the same variables in the environment."""
    env = dict(os.environ)
    env.update({key: str(value) for key, value in values.items() if key.startswith("ERRANDS_")})
    return Settings.from_env(env)


def follow_secret(explicit: str | None, secret_key: str | bytes | None) -> bytes | None:
    """The secret follow tokens are signed with: the one configured, else ERRANDS_SECRET (None
    here: the app reads it itself), else one derived from the framework's SECRET_KEY, so that
    every process of the site signs alike with no extra setting."""
    if explicit:
        return explicit.encode()
    if os.environ.get("ERRANDS_SECRET") or not secret_key:
        return None
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    # A key of its own: a leaked follow token must tell nothing about the session key.
    return hmac.new(key, b"errands follow tokens", hashlib.sha256).hexdigest().encode()
