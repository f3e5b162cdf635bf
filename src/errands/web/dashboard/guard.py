"""Who may see the dashboard and who may act on it, and the headers every page carries.

Access follows the API's policy as it is (loopback with a loopback Host, the user's check, or
credentials); a `viewer` check or `read_only` lets people look without acting. POSTs need a
same-site browser (`Sec-Fetch-Site`, `Origin`) and the CSRF token of the page's cookie.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from ..auth import SAFE_FETCH_SITES, AuthCheck, AuthPolicy, Denied

CSRF_COOKIE = "errands_csrf"
SESSION_COOKIE = "errands_session"
SESSION_TTL = 12 * 3600  # seconds a sign-in with the admin token lasts
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM = 65_536  # bytes: a filter and a token, never more


@dataclass(frozen=True, slots=True)
class Viewer:
    can_act: bool  # False: read-only (a viewer, or the dashboard is read-only)
    csrf: str  # this browser's CSRF token (from its cookie, or new)
    new_csrf: bool  # the token must be set in a cookie with this response
    signed_in: bool = False  # admitted by a session cookie (from the sign-in form)


@dataclass(frozen=True)
class Guard:
    policy: AuthPolicy
    read_only: bool = False
    viewer: AuthCheck | None = None

    def check(self, request: Request) -> Viewer:
        """Who is asking; raises Denied when they may not even look."""
        try:
            access = self.policy.access(request)
        except Denied:
            return self._other(request)
        if not access.admin:
            return self._other(request, Denied(403, "forbidden",
                                               "a follow token opens its own job through the API, not the dashboard"))
        return self._viewer(request, can_act=not self.read_only)

    def _other(self, request: Request, refusal: Denied | None = None) -> Viewer:
        """Someone the API policy does not admit: signed in with the admin token, a viewer, or refused."""
        if self.session_valid(request.cookies.get(SESSION_COOKIE, ""), time.time()):
            return self._viewer(request, can_act=not self.read_only, signed_in=True)
        if self.viewer is not None and self.viewer(request):
            return self._viewer(request, can_act=False)
        if refusal is not None:
            raise refusal
        self.policy.access(request)  # raises the policy's own reason
        raise AssertionError("unreachable")

    def _session_key(self) -> bytes | None:
        """Sessions are signed with a key made from the admin token: a new token ends every session."""
        if not self.policy.token:
            return None
        return hmac.new(self.policy.secret, b"dashboard session:" + self.policy.token.encode(), "sha256").digest()

    def new_session(self, now: float) -> str | None:
        key = self._session_key()
        if key is None:
            return None
        expiry = str(int(now + SESSION_TTL))
        return f"{expiry}.{hmac.new(key, expiry.encode(), 'sha256').hexdigest()}"

    def session_valid(self, value: str, now: float) -> bool:
        key = self._session_key()
        expiry, _, mac = value.partition(".")
        if key is None or not expiry.isdigit() or int(expiry) < now:
            return False
        return hmac.compare_digest(mac, hmac.new(key, expiry.encode(), "sha256").hexdigest())

    def _viewer(self, request: Request, *, can_act: bool, signed_in: bool = False) -> Viewer:
        token = request.cookies.get(CSRF_COOKIE, "")
        if len(token) >= 32:
            return Viewer(can_act, token, False, signed_in)
        return Viewer(can_act, secrets.token_urlsafe(32), True, signed_in)


async def check_post(request: Request, viewer: Viewer) -> FormData:
    """The form of a POST a person made on a dashboard page, or Denied: read-only viewers,
    other sites (`Sec-Fetch-Site`, `Origin`), and forms without this browser's CSRF token."""
    if not viewer.can_act:
        raise Denied(403, "read_only", "this dashboard is read-only for you: you may look but not act")
    check_origin(request)
    form = await read_form(request)
    sent = form.get("csrf")
    sent = sent if isinstance(sent, str) else ""
    if viewer.new_csrf or not hmac.compare_digest(sent.encode(), viewer.csrf.encode()):
        raise Denied(403, "csrf", "the form's CSRF token does not match this browser's: reload the page and try again")
    return form


def check_origin(request: Request) -> None:
    """Refuse a POST a browser says came from another site (`Sec-Fetch-Site`, `Origin`)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in SAFE_FETCH_SITES:
        raise Denied(403, "cross_origin", f"a form posted from another site was refused (Sec-Fetch-Site: {site})")
    origin = request.headers.get("origin")
    if origin and (origin == "null" or urlsplit(origin).netloc != request.headers.get("host", "")):
        raise Denied(403, "cross_origin", f"a form posted from {origin} was refused (not this dashboard's origin)")


async def read_form(request: Request) -> FormData:
    """A small urlencoded form (the dashboard sends nothing else)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM_TYPE:
        raise Denied(415, "unsupported_media_type", f"dashboard actions take a form ({FORM_TYPE})")
    raw = await request.body()
    if len(raw) > MAX_FORM:
        raise Denied(413, "too_large", f"a dashboard form is at most {MAX_FORM:,} bytes")
    try:
        pairs: list[tuple[str, str | UploadFile]] = []
        pairs.extend(parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=200))
    except (UnicodeDecodeError, ValueError):
        raise Denied(422, "invalid", "the form is not valid UTF-8 urlencoded data") from None
    return FormData(pairs)


def secure(response: Response, viewer: Viewer | None, path: str) -> Response:
    """The headers every dashboard answer carries, and the CSRF cookie when it is new."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    if viewer is not None and viewer.new_csrf:
        response.set_cookie(CSRF_COOKIE, viewer.csrf, path=path or "/", httponly=True, samesite="strict")
    return response
