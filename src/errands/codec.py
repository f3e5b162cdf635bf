"""The one JSON encoder for what errands stores (arguments, results, checkpoints, notify settings):
strict (no NaN, no pickling), compact, and bounded in size.
"""

from __future__ import annotations

import json
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


def encode(items: list[Any], limit: int) -> str:
    """A list as compact JSON, strictly (no NaN, no pickling), each item at most `limit` characters as
    JSON: encoded at once, then in halves while a part is over the limit, down to one item (raises
    ValueError when one is over, TypeError or ValueError when one is not JSON)."""
    text = _ENCODER.encode(items)
    if len(text) <= limit + 2:  # no item can be longer than the whole
        return text
    if len(items) == 1:
        raise ValueError("over the limit")
    half = len(items) // 2
    head, tail = encode(items[:half], limit), encode(items[half:], limit)
    return f"{head[:-1]},{tail[1:]}"
