"""Stores: where jobs live. `open_store` picks the dialect from the URL's scheme."""

from __future__ import annotations

from ..errors import ConfigError
from .aftermath import FollowUps
from .base import Store

DEFAULT_URL = "sqlite:///errands.db"


def open_store(url: str, *, migrate: bool = True, create: bool = True, follow_ups: FollowUps | None = None) -> Store:
    """Open the store a URL names; with `migrate`, pending migrations are applied first.
    Without `create`, a SQLite file that does not exist is refused (ConfigError), not created.
    `follow_ups` gives the jobs (notifications) to store, in the same transaction, when a job ends."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore(url, migrate=migrate, create=create, follow_ups=follow_ups)
    if scheme in ("postgres", "postgresql"):
        try:
            from .postgres import PostgresStore
        except ImportError as exc:
            raise ConfigError(
                f"the PostgreSQL store needs psycopg 3 and psycopg_pool ({exc}): pip install 'errands[postgres]'"
            ) from None
        return PostgresStore(url, migrate=migrate, follow_ups=follow_ups)
    raise ConfigError(f"unknown store URL {url!r}: use sqlite:///path/to/file.db or postgresql://host/database")


def require_existing(url: str) -> None:
    """Raise ConfigError when `url` names a SQLite file that does not exist (read-only commands
    call this instead of creating an empty database). Opens no connection. A PostgreSQL
    database is never created by errands, so there is nothing to check."""
    if url.split("://", 1)[0].lower() == "sqlite":
        open_store(url, migrate=False, create=False).close()


__all__ = ["DEFAULT_URL", "Store", "open_store", "require_existing"]
