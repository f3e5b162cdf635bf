"""Who may call the HTTP API: loopback callers, bearer-token holders, or the user's own check;
and end users holding a follow token, read-only, for one job.

Also the CSRF guard for POST: browsers cannot send a cross-site JSON POST
without a preflight, which this API never approves.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from ..tokens import verify_token

AuthCheck = Callable[[Request], bool]


@dataclass(frozen=True, slots=True)
class Access:
    admin: bool
    job_id: int | None = None  # the one job a follow token grants


class Denied(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AuthPolicy:
    token: str | None
    secret: bytes
    check: AuthCheck | None = None
    trust_loopback: bool = True

    def access(self, request: Request) -> Access:
        """What this request may do; raises Denied when it may do nothing."""
        presented = bearer(request) or request.query_params.get("token")
        if self.trust_loopback and is_loopback(request):
            return Access(admin=True)
        if self.check is not None and self.check(request):
            return Access(admin=True)
        if presented and self.token and hmac.compare_digest(presented.encode(), self.token.encode()):
            return Access(admin=True)
        if presented:
            job_id = verify_token(self.secret, presented)
            if job_id is not None:
                return Access(admin=False, job_id=job_id)
            raise Denied(401, "unauthorized", "the token is not valid (wrong, forged or expired)")
        raise Denied(
            401,
            "unauthorized",
            "this API answers loopback callers only; send 'Authorization: Bearer "
            "<token>' (ERRANDS_TOKEN) or a follow token",
        )


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def check_csrf(request: Request) -> None:
    """POSTs must be JSON and, when a browser says where it came from, same-origin."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise Denied(415, "unsupported_media_type", "POST requests must send 'Content-Type: application/json'")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin.rstrip("/") != expected:
            raise Denied(403, "cross_origin", f"cross-origin POST from {origin} refused")
