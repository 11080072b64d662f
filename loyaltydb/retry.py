"""How often, and how long apart, a transaction that lost a race is run again; and how often
that happened (``retries()``), so load tests and operators can see the cost of contention."""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

import psycopg

#: Attempts in all (the first run included) when the wrapper owns the transaction.
MAX_ATTEMPTS = 5
_BASE_DELAY = 0.01
_MAX_DELAY = 0.2

logger = logging.getLogger("loyaltydb")
_lock = threading.Lock()
_retries = 0


def plain_transactions(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """True when the caller set no isolation level, read-only or deferrable mode: then a single
    statement in autocommit is exactly the transaction we would have opened."""
    return conn.isolation_level is None and conn.read_only is None and conn.deferrable is None


def backoff_seconds(attempt: int) -> float:
    """Full-jitter exponential backoff after the given failed attempt (1-based)."""
    return random.uniform(0, min(_MAX_DELAY, _BASE_DELAY * 2 ** (attempt - 1)))


def record_retry(attempt: int, error: Exception) -> float:
    """Count one retry, log it, and return how long to sleep before the next attempt."""
    global _retries
    with _lock:
        _retries += 1
    logger.info("retrying after %s (attempt %d of %d)", type(error).__name__, attempt + 1, MAX_ATTEMPTS)
    return backoff_seconds(attempt)


def retries() -> int:
    """Retries made by this process since it started."""
    with _lock:
        return _retries
