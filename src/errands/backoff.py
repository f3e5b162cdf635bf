"""Exponential backoff: how long a failed job waits before its next attempt (with jitter), and the
pauses between tries of a store call. Deciding whether to retry at all belongs to the callers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

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


def pauses(first: float, longest: float) -> Iterator[float]:
    """The pauses between tries of a store call: `first`, then doubling up to `longest`, for ever.
    Every retry loop in errands takes its pauses from here."""
    pause = first
    while True:
        yield pause
        pause = min(pause * 2, longest)
