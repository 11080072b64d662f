"""Apply, roll back and list the versioned SQL migrations under ``sql/`` with yoyo.

yoyo keeps its bookkeeping tables in ``public``; a DBA may equally run
``yoyo apply --database postgresql+psycopg://... sql/``: both see the same history.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import DatabaseURI
from yoyo.migrations import default_migration_table

from ._dsn import connect, resolve_conninfo
from .errors import ConnectionFailed


def migrations_dir() -> Path:
    """The SQL migrations: inside the installed package, else the source tree's ``sql/``."""
    packaged = Path(__file__).with_name("sql")
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "sql"


@dataclass(frozen=True, slots=True)
class MigrationState:
    """One migration and whether the database has it applied."""

    id: str
    applied: bool


class _ConninfoBackend(PostgresqlPsycopgBackend):  # type: ignore[misc]
    """yoyo's psycopg 3 backend, connecting with a libpq conninfo rather than a URL.

    A conninfo honours everything libpq does (PGHOST, service files, sockets); yoyo opens
    one of these per migration and closes it, and we close the first one ourselves.
    """

    def connect(self, dburi: DatabaseURI) -> psycopg.Connection[Any]:
        return connect(dburi.args["conninfo"], autocommit=True)


@contextmanager
def _backend(conninfo: str | None) -> Iterator[Any]:
    uri = DatabaseURI("postgresql+psycopg", None, None, None, None, None, {"conninfo": resolve_conninfo(conninfo)})
    backend = _ConninfoBackend(uri, default_migration_table)
    try:
        backend.init_database()
        yield backend
    finally:
        backend.connection.close()


def _all_migrations() -> Any:
    return read_migrations(str(migrations_dir()))


def _prepare_cluster(backend: Any) -> None:
    """On a Citus database, let loyalty_owner log in first (``sql/cluster/owner_login.sql``)."""
    backend.connection.execute((migrations_dir() / "cluster" / "owner_login.sql").read_text(encoding="utf-8"))


def migrate(conninfo: str | None = None) -> list[str]:
    """Apply every pending migration; returns the ids applied, in order (empty when none)."""
    migrations = _all_migrations()
    with _backend(conninfo) as backend, backend.lock():
        pending = backend.to_apply(migrations)
        if pending:
            _prepare_cluster(backend)
        backend.apply_migrations(pending)
    return [migration.id for migration in pending]


def rollback(conninfo: str | None = None, steps: int | None = 1) -> list[str]:
    """Roll back the last ``steps`` applied migrations (all when None); returns their ids."""
    if steps is not None and steps < 0:
        raise ValueError("steps must be a positive number or None")
    migrations = _all_migrations()
    with _backend(conninfo) as backend, backend.lock():
        applied = list(backend.to_rollback(migrations))  # newest first
        chosen = applied if steps is None else applied[:steps]
        backend.rollback_migrations(migrations.__class__(chosen))
    return [migration.id for migration in chosen]


def status(conninfo: str | None = None) -> list[MigrationState]:
    """Every known migration, in order, with whether it is applied."""
    migrations = _all_migrations()
    with _backend(conninfo) as backend:
        applied = set(backend.get_applied_migration_hashes())
    return [MigrationState(migration.id, migration.hash in applied) for migration in migrations]


__all__ = ["ConnectionFailed", "MigrationState", "migrate", "migrations_dir", "rollback", "status"]
