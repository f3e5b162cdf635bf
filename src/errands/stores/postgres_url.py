"""Reading a PostgreSQL store URL: errands' own options out of the query, the rest handed to
libpq as it is, every mistake a ConfigError that names the option and never the password.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from ..errors import ConfigError

# Server settings every store transaction sets for itself (seconds; 0 turns one off): a lock
# waited for, one statement, and a transaction left idle (a frozen or cut-off worker holding
# row locks and the event log's gate) each end with an error rather than never.
TIMEOUTS = {"lock_timeout": "5", "statement_timeout": "30", "idle_in_transaction_session_timeout": "10"}
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Options errands reads from the URL's query; every other one goes to libpq as it is.
_OPTIONS = {"schema", "pool_min", "pool_max", "pool_timeout", "listen", "poll_interval", *TIMEOUTS}
# libpq waits for an unreachable host forever by default, and a connection cut off half-open
# (the peer gone without a word) hangs until the kernel gives up, many minutes later: keepalives
# and tcp_user_timeout bound both, so a worker hears about it within half a minute.
_DEFAULTS = {
    "connect_timeout": "10",
    "application_name": "errands",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "30000",
}


def parse_url(url: str) -> tuple[str, dict[str, Any]]:
    """Split a store URL into a libpq conninfo and errands' own options; ConfigError if bad."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in query if k in _OPTIONS}
    theirs = [(k, v) for k, v in query if k not in _OPTIONS]
    for key, value in _DEFAULTS.items():
        if key not in dict(theirs):
            theirs.append((key, value))
    scheme = "postgresql" if parts.scheme.lower() in ("postgres", "postgresql") else parts.scheme
    conninfo = urlunsplit((scheme, parts.netloc, parts.path, urlencode(theirs), ""))
    try:
        psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"bad PostgreSQL URL {redact(url)!r}: {first_line(exc)}") from None
    options: dict[str, Any] = {
        "schema": ours.get("schema", "errands"),
        "pool_min": ours.get("pool_min", "1"),
        "pool_max": ours.get("pool_max", "10"),
        "pool_timeout": ours.get("pool_timeout", "10"),
        "poll_interval": ours.get("poll_interval", "1.0"),
    }
    if not _SCHEMA_NAME.match(options["schema"]):
        raise ConfigError(
            f"schema={options['schema']!r} in {redact(url)!r}: use letters, digits and underscores (at most 63)"
        )
    try:
        low, high = int(options["pool_min"]), int(options["pool_max"])
        if not 0 <= low <= high or high < 1 or float(options["pool_timeout"]) <= 0:
            raise ValueError("need 0 <= pool_min <= pool_max, pool_max >= 1, pool_timeout > 0")
        if float(options["poll_interval"]) <= 0:
            raise ValueError("poll_interval must be > 0")
    except ValueError as exc:
        raise ConfigError(f"{redact(url)!r}: pool and poll options take positive numbers ({exc})") from None
    options.update(_timeouts(url, ours))
    listen = ours.get("listen", "on").lower()
    if listen not in ("on", "off", "true", "false", "1", "0"):
        raise ConfigError(f"listen={listen!r} in {redact(url)!r}: use on or off")
    options["listen"] = listen in ("on", "true", "1")
    return conninfo, options


def _timeouts(url: str, ours: dict[str, str]) -> dict[str, float]:
    timeouts = {}
    for name, default in TIMEOUTS.items():
        try:
            seconds = float(ours.get(name, default))
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < 86400 * 24:
            raise ConfigError(f"{name}={ours[name]!r} in {redact(url)!r}: give seconds (0 turns it off)")
        timeouts[name] = seconds
    return timeouts


def describe(conninfo: str) -> str:
    """host:port of a conninfo, for messages."""
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    host = str(params.get("host") or params.get("hostaddr") or "the local socket")
    return f"{host}:{params.get('port') or 5432}"


def redact(url: str) -> str:
    """The URL without its password, fit for an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
