"""Webhook delivery: a JSON POST signed with HMAC-SHA256, retried by the job system on failure.

Receivers check `X-Errands-Signature: sha256=<hex>` against the raw body with the
shared secret (ERRANDS_WEBHOOK_SECRET); `verify_signature` does it for Python receivers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGNATURE_HEADER = "X-Errands-Signature"


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes | str, body: bytes, header: str) -> bool:
    """True when `header` is the signature of `body` under `secret` (constant-time)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.compare_digest(sign(key, body), header)


def host_allowed(url: str, allowed: str | None) -> bool:
    """Whether the URL's host is one of `allowed`: comma-separated names, `*.example.com` for
    its subdomains. Parsed as httpx parses it for delivery, so both see the same host."""
    import httpx  # here, not at import: a worker that sends no webhook never loads it

    try:
        host = httpx.URL(url).host.lower().rstrip(".")
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    for entry in (allowed or "").split(","):
        name = entry.strip().lower().rstrip(".")
        if not name or not host:
            continue
        if host == name or (name.startswith("*.") and host.endswith(name[1:])):
            return True
    return False


def deliver(url: str, payload: dict[str, Any], secret: bytes, timeout: float = 10.0) -> int:
    """POST the payload; raises on a network error or a non-2xx answer so the job retries."""
    import httpx
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, body),
        "X-Errands-Event": f"job.{payload['state']}",
        "User-Agent": "errands-webhook",
    }
    # Redirects are not followed: a receiver cannot send the delivery to another host.
    response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"webhook {url} answered {response.status_code}")
    return response.status_code
