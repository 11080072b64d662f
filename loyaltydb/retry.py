"""Retries of transactions that lost a race (SQLSTATE 40001 or 40P01): how many attempts a
call that owns its transaction makes, and how many retries this process has made, so load
tests and operators can see the cost of contention."""

from __future__ import annotations

from ._transactions import MAX_ATTEMPTS, retries

__all__ = ["MAX_ATTEMPTS", "retries"]
