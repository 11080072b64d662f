"""Forward the server's RAISE NOTICE / WARNING messages to ``logging.getLogger("loyaltydb")``."""

from __future__ import annotations

import logging
import weakref
from typing import Any

import psycopg
from psycopg.errors import Diagnostic

from .errors import one_line

logger = logging.getLogger("loyaltydb")

_LEVELS = {"DEBUG": logging.DEBUG, "WARNING": logging.WARNING}
_hooked: weakref.WeakSet[psycopg.Connection[Any] | psycopg.AsyncConnection[Any]] = weakref.WeakSet()


def _log_notice(diag: Diagnostic) -> None:
    level = _LEVELS.get(diag.severity_nonlocalized or "", logging.INFO)
    if logger.isEnabledFor(level):
        # The message names people: a name with a newline must not forge a second log line.
        logger.log(level, "%s", one_line(diag.message_primary or ""))


def forward_notices(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """Install the forwarding handler on ``conn``, once per connection."""
    if conn not in _hooked:
        conn.add_notice_handler(_log_notice)
        _hooked.add(conn)
