"""Where the connection string comes from, and opening connections with clear errors."""

from __future__ import annotations

import os
import re
from typing import Any

import psycopg

from .errors import ConnectionFailed, one_line

#: Environment variables consulted, in order, after an explicit argument.
DSN_VARIABLES = ("LOYALTYDB_DSN", "DATABASE_URL")


def configured_conninfo(explicit: str | None = None) -> str | None:
    """The explicit DSN, else ``LOYALTYDB_DSN``, else ``DATABASE_URL``; None when none is set."""
    for candidate in (explicit, *(os.environ.get(name) for name in DSN_VARIABLES)):
        if candidate:
            # SQLAlchemy-style URLs (postgresql+psycopg://) are common in DATABASE_URL.
            return re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", candidate)
    return None


def resolve_conninfo(explicit: str | None = None) -> str:
    """The DSN to use: ``configured_conninfo()``, else "" (libpq's own defaults, PGHOST...)."""
    return configured_conninfo(explicit) or ""


def connect(conninfo: str | None = None, **kwargs: Any) -> psycopg.Connection[Any]:
    """Open a connection, raising ``ConnectionFailed`` with one clear sentence on failure.
    Statements are never prepared on the server (``prepare_threshold=None``): behind a pooler in
    transaction mode the next transaction may run on another server connection (docs/poolers.md);
    what loyaltydb sends on its own connections is a handful of calls, planned in microseconds."""
    resolved = resolve_conninfo(conninfo)
    kwargs.setdefault("prepare_threshold", None)
    try:
        return psycopg.connect(resolved, **kwargs)
    except psycopg.Error as exc:
        hint = (
            ""
            if resolved
            else " (no DSN was given: use --dsn, LOYALTYDB_DSN or DATABASE_URL; libpq's defaults were tried)"
        )
        raise ConnectionFailed(
            f"cannot connect to the database: {one_line(exc, fold_lines=True) or type(exc).__name__}{hint}"
        ) from exc
