"""How long a failed job waits before its next attempt: exponential backoff with jitter.

Deciding whether to retry at all belongs to `worker.execution`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

Backoff = float | Callable[[int], float]
MAX_BACKOFF = 3600.0


def retry_delay(backoff: Backoff, failures: int) -> float:
    """Seconds before retry number `failures` (1-based): exponential with ±25% jitter,
    capped at an hour; a callable backoff decides alone."""
    if callable(backoff):
        delay: float = backoff(failures)
        return max(0.0, float(delay))
    delay = min(MAX_BACKOFF, backoff * 2 ** (failures - 1))
    return delay * random.uniform(0.75, 1.25)
