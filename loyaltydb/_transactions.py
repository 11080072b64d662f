"""Who owns a call's transaction, how often a lost race is run again and how long apart, and
how often that happened (``loyaltydb.retry.retries()``), for the sync and async APIs alike."""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq

#: Attempts in all (the first run included) when the wrapper owns the transaction.
MAX_ATTEMPTS = 5
_BASE_DELAY = 0.01
_MAX_DELAY = 0.2

logger = logging.getLogger("loyaltydb")
_lock = threading.Lock()
_retries = 0


@dataclass(frozen=True, slots=True)
class TransactionPlan:
    """How a call runs on a connection: how many attempts, and as one autocommit statement or
    inside ``conn.transaction()`` (a savepoint when the caller's transaction is open)."""

    attempts: int
    one_statement: bool

    @classmethod
    def for_connection(cls, conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> TransactionPlan:
        """Inside the caller's transaction: one attempt (the caller retries). On an idle
        connection we own the transaction: retried, and a single autocommit statement when the
        caller set no isolation level, read-only or deferrable mode (then that statement is
        exactly the transaction we would have opened, in one round trip instead of three)."""
        owns_transaction = conn.info.transaction_status == pq.TransactionStatus.IDLE
        default_mode = conn.isolation_level is None and conn.read_only is None and conn.deferrable is None
        return cls(attempts=MAX_ATTEMPTS if owns_transaction else 1, one_statement=owns_transaction and default_mode)


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
