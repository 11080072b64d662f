"""How often, and how long apart, a transaction that lost a race is run again."""

from __future__ import annotations

import random

#: Attempts in all (the first run included) when the wrapper owns the transaction.
MAX_ATTEMPTS = 5
_BASE_DELAY = 0.01
_MAX_DELAY = 0.2


def backoff_seconds(attempt: int) -> float:
    """Full-jitter exponential backoff after the given failed attempt (1-based)."""
    return random.uniform(0, min(_MAX_DELAY, _BASE_DELAY * 2 ** (attempt - 1)))  # noqa: S311 - jitter, not crypto
