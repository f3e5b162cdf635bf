"""Follow tokens: signed, expiring, read-only access to one job, for a web app's visitors.

A token is `<job id>.<expiry>.<signature>`, the signature an HMAC-SHA256 of
the first two parts under the app's secret. Nothing is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time

log = logging.getLogger("errands")


def load_secret(explicit: str | None = None) -> bytes:
    """ERRANDS_SECRET (or the given one); without it, a per-process secret with a warning,
    since tokens then only verify in the process that made them."""
    value = explicit or os.environ.get("ERRANDS_SECRET")
    if value:
        return value.encode()
    log.warning("ERRANDS_SECRET is not set: follow tokens will only be valid in this process")
    return secrets.token_bytes(32)


def _sign(secret: bytes, message: str) -> str:
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_token(secret: bytes, job_id: int, ttl: float, now: float | None = None) -> str:
    expiry = int((now if now is not None else time.time()) + ttl)
    message = f"{job_id}.{expiry}"
    return f"{message}.{_sign(secret, message)}"


def verify_token(secret: bytes, token: str, now: float | None = None) -> int | None:
    """The job id the token grants, or None when it is malformed, forged or expired."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    message = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(secret, message), parts[2]):
        return None
    if int(parts[1]) < (now if now is not None else time.time()):
        return None
    return int(parts[0])
