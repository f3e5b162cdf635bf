"""Stores: where jobs live. `open_store` picks the dialect from the URL's scheme."""

from __future__ import annotations

from ..errors import ConfigError
from .base import Store

DEFAULT_URL = "sqlite:///errands.db"


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store a URL names; with `migrate`, pending migrations are applied first."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore(url, migrate=migrate)
    if scheme in ("postgres", "postgresql"):
        try:
            from .postgres import PostgresStore
        except ImportError as exc:
            raise ConfigError(
                f"the PostgreSQL store needs psycopg 3 and psycopg_pool ({exc}): pip install 'errands[postgres]'"
            ) from None
        return PostgresStore(url, migrate=migrate)
    raise ConfigError(f"unknown store URL {url!r}: use sqlite:///path/to/file.db or postgresql://host/database")


__all__ = ["DEFAULT_URL", "Store", "open_store"]
