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
