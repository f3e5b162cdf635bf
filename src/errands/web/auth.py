"""Who may call the HTTP API: loopback callers, bearer-token holders, or the user's own check;
and end users holding a follow token, read-only, for one job.

Loopback trust needs a loopback `Host` too (or one the user allows): a page on a name that
resolves to 127.0.0.1 (DNS rebinding) sends its own name. Also the CSRF guard for POST:
browsers cannot send a cross-site JSON POST without a preflight, which this API never approves.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.requests import Request

from ..follow_tokens import verify_token

AuthCheck = Callable[[Request], bool]
SAFE_FETCH_SITES = frozenset({"same-origin", "none"})  # `none`: typed in the address bar, a bookmark


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


def host_name(header: str) -> str:
    """The name in a Host header, without its port or IPv6 brackets, lowercase."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def is_loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: never resolved by DNS
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_host_names(hosts: Iterable[str] | str | None) -> frozenset[str]:
    """The names given (a list, or a comma-separated string), default ERRANDS_ALLOWED_HOSTS."""
    if hosts is None:
        hosts = os.environ.get("ERRANDS_ALLOWED_HOSTS", "")
    if isinstance(hosts, str):
        hosts = hosts.split(",")
    return frozenset(host_name(h) for h in hosts if h.strip())


@dataclass(frozen=True)
class AuthPolicy:
    token: str | None
    secret: bytes
    check: AuthCheck | None = None
    trust_loopback: bool = True
    allowed_hosts: frozenset[str] = frozenset()

    def trusted_host(self, request: Request) -> bool:
        """A loopback name or address in Host, or a name the user allows. (Browsers always
        send Host; a request without one cannot come from a rebound page.)"""
        header = request.headers.get("host")
        if header is None:
            return True
        name = host_name(header)
        return is_loopback_name(name) or name in self.allowed_hosts

    def access(self, request: Request) -> Access:
        """What this request may do; raises Denied when it may do nothing."""
        presented = bearer(request)
        in_query = request.query_params.get("token")
        if self.trust_loopback and is_loopback(request) and self.trusted_host(request):
            return Access(admin=True)
        if self.check is not None and self.check(request):
            return Access(admin=True)
        if presented and self.is_admin_token(presented):
            return Access(admin=True)
        if not presented and in_query:
            if self.is_admin_token(in_query):  # it would end up in access logs and Referer headers
                raise Denied(401, "unauthorized",
                             "the admin token goes in the 'Authorization: Bearer' header, never in the URL")
            presented = in_query
        if presented:
            job_id = verify_token(self.secret, presented)
            if job_id is not None:
                return Access(admin=False, job_id=job_id)
            raise Denied(401, "unauthorized", "the token is not valid (wrong, forged or expired)")
        if self.trust_loopback and is_loopback(request):
            raise Denied(
                401,
                "unauthorized",
                f"Host {request.headers.get('host', '')!r} is not a loopback name, so loopback trust does not "
                "apply (DNS rebinding guard): add it to allowed_hosts (ERRANDS_ALLOWED_HOSTS) or send a token",
            )
        raise Denied(
            401,
            "unauthorized",
            "this API answers loopback callers only; send 'Authorization: Bearer "
            "<token>' (ERRANDS_TOKEN) or a follow token",
        )

    def is_admin_token(self, presented: str) -> bool:
        return bool(self.token) and hmac.compare_digest(presented.encode(), (self.token or "").encode())


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def check_csrf(request: Request) -> None:
    """POSTs must be JSON and, when a browser says where it came from, same-origin
    (`Sec-Fetch-Site` and `Origin` both checked when sent)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise Denied(415, "unsupported_media_type", "POST requests must send 'Content-Type: application/json'")
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in SAFE_FETCH_SITES:
        raise Denied(403, "cross_origin", f"POST from another site refused (Sec-Fetch-Site: {site})")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin.rstrip("/") != expected:
            raise Denied(403, "cross_origin", f"cross-origin POST from {origin} refused")
