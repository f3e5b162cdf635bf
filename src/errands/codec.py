"""The one JSON encoder for what errands stores (arguments, results, checkpoints, notify settings):
strict (no NaN, no pickling), compact, and bounded in size.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import BadArguments

_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def to_json(value: Any, what: str, limit: int) -> str:
    """Serialize strictly (no NaN, no pickling) or raise BadArguments saying why."""
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise BadArguments(f"{what} must be JSON-serializable: {exc}") from None
    if len(text) > limit:
        raise BadArguments(f"{what} is {len(text):,} bytes as JSON, over the limit of {limit:,}")
    return text


_SCALARS = frozenset({str, int, float, bool, type(None)})


def scalar_copy(value: Mapping[Any, Any]) -> dict[str, Any] | None:
    """A copy of a dict of str keys to JSON scalars of exactly those types (finite floats, as
    `to_json` allows), which is what its JSON decodes back to: a producer keeps it instead of
    decoding what it just encoded. None for anything else (a nested value, a subclass, another
    mapping, whose items() might not be what its encoding read)."""
    if type(value) is not dict:
        return None
    for key, item in value.items():
        if type(key) is not str or type(item) not in _SCALARS:
            return None
    return dict(value)


def encode(items: list[Any], limit: int) -> str:
    """A list as compact JSON, strictly (no NaN, no pickling), each item at most `limit` characters as
    JSON (ValueError when one is over; TypeError or ValueError when one is not JSON). Encoded in
    chunks of at most `limit` characters, so each item is encoded about once: a chunk over it is
    encoded again in quarters, down to a single item."""
    parts: list[str] = []
    start, size = 0, 1000
    while start < len(items):
        chunk = items[start:start + size]
        text = _ENCODER.encode(chunk)
        if len(text) > limit + 2:
            if len(chunk) == 1:
                raise ValueError(f"item {start} is over the limit")
            size = max(len(chunk) // 4, 1)
            continue
        parts.append(text[1:-1])
        start += len(chunk)
        size = max(len(chunk) * limit // (2 * len(text)), 1)  # chunks of about half the limit
    return f"[{','.join(parts)}]"
